"""hftbacktest 2.4.4 and polyedge on the same book frames, timed alternately in one run.

Started by run.sh (which creates the virtual environment, builds polyedge, imports the recording
and converts it); see bench/anchors/README.md. Steps:

1. Loads the events that `polyedge-bench hbt-convert` wrote (one clear plus the levels per book
   frame) and its report (frames, tick, polyedge's best bid/ask checksum).
2. Replays them once in hftbacktest with the `feed` strategy (reads best bid/ask after every
   feed update) and checks that hftbacktest's best bid/ask sequence gives polyedge's checksum.
3. For each repetition, in turn: hftbacktest replay (each variant), `polyedge backtest`, and
   `polyedge inspect`; prints every run, then medians, min-max and the ratios.

What is timed:
- hftbacktest: the strategy call only (replay), as in the anchor measurements; building the
  backtester from the in-memory array ("build") is timed separately and the load from disk
  once. Two variants: `local` (events flagged LOCAL_EVENT only: the local processor's depth,
  the least work hftbacktest can do for this strategy) and `exch+local` (also EXCH_EVENT: the
  exchange processor keeps its own depth as it would for a strategy that trades).
- polyedge: the whole process, wall clock: opening the recording, decompression, JSON parsing,
  books, engine, strategy, reports.
"""

import argparse
import atexit
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from numba import njit, uint64

from hftbacktest import BacktestAsset, ROIVectorMarketDepthBacktest

EXCH_EVENT = 1 << 31
BASIS = 0xCBF29CE484222325
PRIME = 0x00000100000001B3
INVALID_MIN = -(2**63)
INVALID_MAX = 2**63 - 1


@njit
def feed(hbt):
    """Reads best bid/ask after every feed update; returns (frames, hash, bid sum, ask sum)."""
    h = uint64(BASIS)
    p = uint64(PRIME)
    n = 0
    bid_sum = 0
    ask_sum = 0
    while True:
        r = hbt.wait_next_feed(False, 1 << 60)
        if r == 1:
            break
        if r == 0:
            continue
        if r != 2:
            return -r, uint64(0), 0, 0  # an error (the converter's end marker ends with r == 1)
        depth = hbt.depth(0)
        b = depth.best_bid_tick
        a = depth.best_ask_tick
        if b == INVALID_MIN:
            b = 0
        if a == INVALID_MAX:
            a = 0
        h = (h ^ uint64(b)) * p
        h = (h ^ uint64(a)) * p
        bid_sum += b
        ask_sum += a
        n += 1
    return n, h, bid_sum, ask_sum


def build(data, tick):
    asset = (
        BacktestAsset()
        .data(data)
        .linear_asset(1.0)
        .constant_order_latency(0, 0)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(0.0, 0.0)
        .tick_size(tick)
        .lot_size(0.000001)
        .roi_lb(0.0)
        .roi_ub(1.0)
        .last_trades_capacity(0)
    )
    return ROIVectorMarketDepthBacktest([asset])


def hbt_run(data, tick):
    t0 = time.perf_counter()
    hbt = build(data, tick)
    t1 = time.perf_counter()
    res = feed(hbt)
    t2 = time.perf_counter()
    hbt.close()
    return t1 - t0, t2 - t1, res


def child_run(cmd):
    """Runs cmd under /usr/bin/time; returns (wall seconds, peak RSS in KiB of cmd itself).

    (The rusage of a child forked from this process would count the pages it shares with this
    process's multi-GiB event array before exec; /usr/bin/time measures only the command.)
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        t0 = time.perf_counter()
        p = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr.decode(errors='replace')}")
        return wall, int(rss.read().split()[-1])


def summary(xs):
    return f"{statistics.median(xs):.2f} s ({min(xs):.2f}-{max(xs):.2f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", required=True, help=".npy written by polyedge-bench hbt-convert")
    ap.add_argument("--conversion", required=True, help="its JSON report")
    ap.add_argument("--polyedge", required=True, help="polyedge release binary")
    ap.add_argument("--recording", required=True, help="the recording the events came from")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--variants", default="local,exch+local")
    ap.add_argument(
        "--baseline",
        help="another polyedge binary (e.g. an earlier commit's) whose backtest is timed in the same run",
    )
    ap.add_argument("--baseline-label", default="baseline")
    args = ap.parse_args()
    variants = args.variants.split(",")

    conv = json.load(open(args.conversion))
    tick = conv["tick_micros"] / 1e6
    want = conv["checksum"]
    print(f"load: {os.uname().nodename}, loadavg {os.getloadavg()}")
    print(
        f"events: {conv['events']:,} ({conv['frames']:,} book frames of {conv['tokens_selected']} tokens, "
        f"{conv['levels']:,} levels; tick {tick}); polyedge's recording has "
        f"{conv['book_frames_total']:,} book frames"
    )

    t0 = time.perf_counter()
    data = np.load(args.events)
    load_s = time.perf_counter() - t0
    print(f"hftbacktest load (np.load of {os.path.getsize(args.events) / 2**30:.2f} GiB): {load_s:.2f} s")
    has_exch = True  # as written by the converter

    def set_variant(v):
        nonlocal has_exch
        need = v == "exch+local"
        if need != has_exch:
            data["ev"] ^= EXCH_EVENT
            has_exch = need

    # JIT-compile the strategy on a small slice (not timed), then check the full checksum.
    hbt_run(data[:1000], tick)
    for v in variants:
        set_variant(v)
        _, replay_s, (n, h, bs, asum) = hbt_run(data, tick)
        got = {"frames": n, "hash": int(h), "bid_tick_sum": bs, "ask_tick_sum": asum}
        ok = all(got[k] == want[k] for k in got)
        print(f"checksum [{v}]: hftbacktest {got} vs polyedge {want}: {'OK' if ok else 'MISMATCH'} ({replay_s:.2f} s)")
        if not ok:
            sys.exit("best bid/ask sequences differ: the comparison would be meaningless")

    out = tempfile.mkdtemp(prefix="anchors-bt-")
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    cfg = os.path.join(out, "backtest.toml")
    with open(cfg, "w") as f:
        f.write('run = ["complete_set"]\nbaseline = false\n')
    backtest_cmd = [args.polyedge, "backtest", "--recording", args.recording, "--config", cfg, "--out", os.path.join(out, "report")]
    inspect_cmd = [args.polyedge, "inspect", args.recording]

    times = {f"hftbacktest [{v}]": [] for v in variants}
    builds = {v: [] for v in variants}
    polyedge_runs = [("polyedge backtest", backtest_cmd), ("polyedge inspect", inspect_cmd)]
    if args.baseline:
        name = f"polyedge backtest [{args.baseline_label}]"
        polyedge_runs.append((name, [args.baseline, *backtest_cmd[1:]]))
    for name, _ in polyedge_runs:
        times[name] = []
    rss = {name: 0 for name, _ in polyedge_runs}
    for rep in range(1, args.reps + 1):
        for v in variants:
            set_variant(v)
            b, r, res = hbt_run(data, tick)
            assert res[0] == want["frames"], res
            times[f"hftbacktest [{v}]"].append(r)
            builds[v].append(b)
            print(f"rep {rep}: hftbacktest [{v}] replay {r:.2f} s (build {b:.2f} s)", flush=True)
        for name, cmd in polyedge_runs:
            w, m = child_run(cmd)
            times[name].append(w)
            rss[name] = max(rss[name], m)
            print(f"rep {rep}: {name} {w:.2f} s (peak RSS {m / 1024:.0f} MiB)", flush=True)

    hbt_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print()
    print(f"Results ({args.reps} repetitions, alternating; loadavg now {os.getloadavg()}):")
    print("| | what is timed | median (min-max) | peak RSS |")
    print("|---|---|---|---|")
    for v in variants:
        print(
            f"| hftbacktest 2.4.4 [{v}] | replay of {conv['frames']:,} frames (load {load_s:.2f} s and "
            f"build {summary(builds[v])} not counted) | {summary(times[f'hftbacktest [{v}]'])} | {hbt_rss / 2**20:.2f} GiB |"
        )
    print(
        f"| polyedge backtest (complete_set, no twins) | whole process, {conv['book_frames_total']:,} book frames "
        f"+ the rest of the recording | {summary(times['polyedge backtest'])} | {rss['polyedge backtest'] / 1024:.0f} MiB |"
    )
    print(
        f"| polyedge inspect | whole process | {summary(times['polyedge inspect'])} | {rss['polyedge inspect'] / 1024:.0f} MiB |"
    )
    if args.baseline:
        name = f"polyedge backtest [{args.baseline_label}]"
        print(f"| {name} | whole process, as above | {summary(times[name])} | {rss[name] / 1024:.0f} MiB |")
    pb = statistics.median(times["polyedge backtest"])
    pi = statistics.median(times["polyedge inspect"])
    for v in variants:
        hm = statistics.median(times[f"hftbacktest [{v}]"])
        line = f"ratio hftbacktest [{v}] replay / polyedge backtest: {hm / pb:.2f}; / polyedge inspect: {hm / pi:.2f}"
        if args.baseline:
            hb = statistics.median(times[f"polyedge backtest [{args.baseline_label}]"])
            line += f"; / polyedge backtest [{args.baseline_label}]: {hm / hb:.2f}"
        print(line)


if __name__ == "__main__":
    main()
