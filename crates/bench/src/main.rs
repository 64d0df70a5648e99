//! `polyedge-bench`: converters and checks for the side-by-side benchmarks in `bench/anchors/`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Parser, Subcommand};
use polyedge_bench::hbt::{self, TokenChoice};

/// polyedge-bench — tools for measuring polyedge beside other backtesters.
#[derive(Parser, Debug)]
#[command(name = "polyedge-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Convert a recording's `book` frames into hftbacktest events (`.npy`, one clear plus the
    /// levels per frame) and print, as JSON, what was written and the best bid/ask checksum of
    /// polyedge's books after each frame (the checksum hftbacktest must reproduce).
    HbtConvert {
        /// Recording directory (e.g. from `polyedge import cronos`).
        #[arg(long)]
        recording: PathBuf,
        /// Output `.npy` file (replaced).
        #[arg(long)]
        out: PathBuf,
        /// Which tokens' frames to convert.
        #[arg(long, value_enum, default_value = "most-recorded")]
        tokens: TokenChoice,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::HbtConvert {
            recording,
            out,
            tokens,
        } => {
            let t = Instant::now();
            let conv = hbt::convert(&recording, &out, tokens)?;
            let mut v = serde_json::to_value(&conv)?;
            v["seconds"] = serde_json::json!(t.elapsed().as_secs_f64());
            v["out"] = serde_json::json!(out.display().to_string());
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(())
}
