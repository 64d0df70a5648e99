//! The backtest configuration file (TOML) and the strategies it builds.
//!
//! ```toml
//! run = ["complete_set", "random"]   # strategies to run, in order (default: all registered)
//! seed = 1                            # seed of the random baselines and of seeded strategies
//! baseline = true                     # run a random twin beside each strategy
//!
//! [engine]                            # polyedge_engine::EngineConfig (every field optional)
//! start_cash = "1000"
//! [engine.risk]
//! max_order_notional = "20"
//!
//! [strategies.complete_set]           # parameters of one strategy (every field optional)
//! shares = 10
//! ```
//!
//! Every table rejects unknown keys with an error naming the key, its line and the file; a
//! `[strategies.<name>]` table for a strategy the registry does not know is an error too.
//! Command-line flags override `run` and `seed`. The annotated example is
//! `config/backtest.example.toml`.

use std::collections::BTreeMap;
use std::path::Path;

use polyedge_engine::EngineConfig;
use polyedge_strategies::Strategy;
use polyedge_strategies::registry::{self, RegistryError};
use serde::{Deserialize, Serialize};

/// Default seed when neither the file nor the command line gives one.
pub const DEFAULT_SEED: u64 = 1;

/// A configuration error: the file (or `<defaults>`), and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    /// The file the error is in (`<command line>` or `<defaults>` when not from a file).
    pub origin: String,
    /// What was wrong (for TOML errors: line, column and the offending key).
    pub message: String,
}

/// The contents of a backtest configuration file. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BacktestConfig {
    /// Strategies to run, in order; `None`: every strategy of [`registry::NAMES`].
    pub run: Option<Vec<String>>,
    /// Seed of the random baselines and of every strategy that has a `seed` parameter not set
    /// in its own table; `None`: [`DEFAULT_SEED`].
    pub seed: Option<u64>,
    /// Whether to run the random twin of each strategy (default `true`; see `baseline`).
    pub baseline: bool,
    /// Engine parameters: start cash, risk limits, simulated venue.
    pub engine: EngineConfig,
    /// Parameters per strategy name (the table is passed to [`registry::build`]).
    pub strategies: BTreeMap<String, toml::Spanned<toml::Table>>,
    /// `polyedge run`'s recorder sections (`[collect]`, `[endpoints]`, `[feeds.*]`,
    /// `[tables]`): accepted, so that one `polyedge.toml` serves a run and the backtest of its
    /// recording; a backtest does not use them (`polyedge run` checks them).
    #[serde(default, skip_serializing)]
    pub collect: Option<toml::Table>,
    /// See [`BacktestConfig::collect`].
    #[serde(default, skip_serializing)]
    pub endpoints: Option<toml::Table>,
    /// See [`BacktestConfig::collect`].
    #[serde(default, skip_serializing)]
    pub feeds: Option<toml::Table>,
    /// See [`BacktestConfig::collect`].
    #[serde(default, skip_serializing)]
    pub tables: Option<toml::Table>,
    /// Where this configuration came from (not a key of the file).
    #[serde(skip)]
    pub origin: String,
    /// The file's text, for line numbers in later errors (not a key of the file).
    #[serde(skip)]
    source_text: String,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        BacktestConfig {
            run: None,
            seed: None,
            baseline: true,
            engine: EngineConfig::default(),
            strategies: BTreeMap::new(),
            collect: None,
            endpoints: None,
            feeds: None,
            tables: None,
            origin: "<defaults>".to_string(),
            source_text: String::new(),
        }
    }
}

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(at)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl BacktestConfig {
    /// Reads and checks `path`.
    ///
    /// # Errors
    /// The file cannot be read, is not valid TOML, has an unknown key or a value of the wrong
    /// type, or names an unknown strategy; the error names the file and, where TOML knows it,
    /// the line and column.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, &origin)
    }

    /// Parses `text` (from `origin`, used in errors) and checks it as [`BacktestConfig::load`].
    ///
    /// # Errors
    /// As [`BacktestConfig::load`].
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let c: BacktestConfig = toml::from_str(text).map_err(|e| ConfigError {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        Self::assemble(
            c.run,
            c.seed,
            c.baseline,
            c.engine,
            c.strategies,
            text,
            origin,
        )
    }

    /// A configuration from its parts, parsed by another file format that embeds the same keys
    /// (`polyedge run`'s `polyedge.toml`), checked as [`BacktestConfig::load`]. `text` is the
    /// file's text (for line numbers of later errors) and `origin` its name.
    ///
    /// # Errors
    /// An unknown strategy name in `strategies` or `run`.
    pub fn assemble(
        run: Option<Vec<String>>,
        seed: Option<u64>,
        baseline: bool,
        engine: EngineConfig,
        strategies: BTreeMap<String, toml::Spanned<toml::Table>>,
        text: &str,
        origin: &str,
    ) -> Result<Self, ConfigError> {
        let c = BacktestConfig {
            run,
            seed,
            baseline,
            engine,
            strategies,
            collect: None,
            endpoints: None,
            feeds: None,
            tables: None,
            origin: origin.to_string(),
            source_text: text.to_string(),
        };
        for (name, table) in &c.strategies {
            if !registry::is_known(name) {
                return Err(ConfigError {
                    origin: origin.to_string(),
                    message: format!(
                        "line {}: [strategies.{name}]: unknown strategy {name:?} (known: {})",
                        line_of(text, table.span().start),
                        registry::known_names()
                    ),
                });
            }
        }
        if let Some(run) = &c.run {
            check_names(run, origin)?;
        }
        Ok(c)
    }

    /// The strategies to run: `over` (command line) if given, else `run`, else every
    /// registered strategy.
    ///
    /// # Errors
    /// An unknown or repeated name.
    pub fn strategy_names(&self, over: Option<&[String]>) -> Result<Vec<String>, ConfigError> {
        let names: Vec<String> = match (over, &self.run) {
            (Some(o), _) if !o.is_empty() => o.to_vec(),
            (_, Some(r)) => r.clone(),
            _ => registry::NAMES.iter().map(|s| (*s).to_string()).collect(),
        };
        let origin = if over.is_some_and(|o| !o.is_empty()) {
            "<command line>"
        } else {
            &self.origin
        };
        check_names(&names, origin)?;
        if names.is_empty() {
            return Err(ConfigError {
                origin: origin.to_string(),
                message: "no strategies to run (`run` is empty)".to_string(),
            });
        }
        Ok(names)
    }

    /// The seed: `over` (command line) if given, else `seed`, else [`DEFAULT_SEED`].
    pub fn effective_seed(&self, over: Option<u64>) -> u64 {
        over.or(self.seed).unwrap_or(DEFAULT_SEED)
    }

    /// The parameter table of `name` in the file (empty when it has none). [`BacktestConfig::build`]
    /// adds the run's seed to it.
    pub fn params(&self, name: &str) -> toml::Table {
        self.strategies
            .get(name)
            .map(|t| t.get_ref().clone())
            .unwrap_or_default()
    }

    /// Builds the strategy `name` with its parameters and the run's `seed`.
    ///
    /// The seed goes into the parameter table as `seed` unless the table sets one; if the
    /// strategy has no `seed` parameter (its parameters reject the key), it is built from its
    /// table alone. Returns the strategy and the table it was built with.
    ///
    /// # Errors
    /// The registry's error (unknown name, unknown or mistyped parameter), naming the file and
    /// the line of `[strategies.<name>]`.
    pub fn build(
        &self,
        name: &str,
        seed: u64,
    ) -> Result<(Box<dyn Strategy>, toml::Table), ConfigError> {
        let table = self.params(name);
        let err = |e: RegistryError| {
            let at = self
                .strategies
                .get(name)
                .map(|t| format!("line {}: ", line_of(&self.source_text, t.span().start)))
                .unwrap_or_default();
            ConfigError {
                origin: self.origin.clone(),
                message: format!("{at}{}", e.to_string().trim_end()),
            }
        };
        if !table.contains_key("seed") {
            let mut seeded = table.clone();
            seeded.insert(
                "seed".to_string(),
                toml::Value::Integer(i64::try_from(seed).unwrap_or(i64::MAX)),
            );
            match registry::build(name, Some(&seeded)) {
                Ok(s) => return Ok((s, seeded)),
                Err(RegistryError::Params { source, .. })
                    if source.to_string().contains("unknown field `seed`") => {}
                Err(e) => return Err(err(e)),
            }
        }
        let s = registry::build(name, Some(&table)).map_err(err)?;
        Ok((s, table))
    }
}

fn check_names(names: &[String], origin: &str) -> Result<(), ConfigError> {
    for (i, n) in names.iter().enumerate() {
        if !registry::is_known(n) {
            return Err(ConfigError {
                origin: origin.to_string(),
                message: format!(
                    "unknown strategy {n:?} (known: {})",
                    registry::known_names()
                ),
            });
        }
        if names[..i].contains(n) {
            return Err(ConfigError {
                origin: origin.to_string(),
                message: format!("strategy {n:?} is listed twice"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unknown_keys_are_errors_naming_key_and_line() {
        let e = BacktestConfig::parse("seed = 3\nbogus = 1\n", "x.toml").unwrap_err();
        assert!(e.to_string().starts_with("x.toml: "), "{e}");
        assert!(e.message.contains("bogus"), "{e}");
        assert!(e.message.contains("line 2"), "{e}");
        let e = BacktestConfig::parse("[engine.risk]\nmax_order_notionl = \"5\"\n", "x.toml")
            .unwrap_err();
        assert!(e.message.contains("max_order_notionl"), "{e}");
        let e = BacktestConfig::parse("\n\n[strategies.nope]\nx = 1\n", "x.toml").unwrap_err();
        assert!(e.message.contains("line 3"), "{e}");
        assert!(e.message.contains("\"nope\""), "{e}");
        let e = BacktestConfig::parse("run = [\"complete_set\", \"zzz\"]", "x.toml").unwrap_err();
        assert!(e.message.contains("zzz"), "{e}");
    }

    #[test]
    fn strategy_parameter_errors_name_the_line() {
        let c = BacktestConfig::parse(
            "seed = 1\n[strategies.complete_set]\nsharez = 3\n",
            "c.toml",
        )
        .unwrap();
        let e = c.build("complete_set", 1).err().unwrap();
        assert!(e.message.contains("sharez"), "{e}");
        assert!(e.message.contains("line 2"), "{e}");
    }

    #[test]
    fn seed_goes_to_seeded_strategies_only() {
        let c = BacktestConfig::default();
        let (_, t) = c.build("random", 9).unwrap();
        assert_eq!(t.get("seed"), Some(&toml::Value::Integer(9)));
        let (_, t) = c.build("complete_set", 9).unwrap();
        assert!(!t.contains_key("seed"));
        let c = BacktestConfig::parse("[strategies.random]\nseed = 4\n", "c.toml").unwrap();
        let (_, t) = c.build("random", 9).unwrap();
        assert_eq!(t.get("seed"), Some(&toml::Value::Integer(4)));
    }

    #[test]
    fn names_and_overrides() {
        let c = BacktestConfig::parse("run = [\"random\"]\nseed = 5", "c.toml").unwrap();
        assert_eq!(c.strategy_names(None).unwrap(), vec!["random".to_string()]);
        let over = vec!["complete_set".to_string()];
        assert_eq!(c.strategy_names(Some(&over)).unwrap(), over);
        assert_eq!(c.effective_seed(None), 5);
        assert_eq!(c.effective_seed(Some(8)), 8);
        let twice = vec!["random".to_string(), "random".to_string()];
        assert!(c.strategy_names(Some(&twice)).is_err());
        let all = BacktestConfig::default().strategy_names(None).unwrap();
        assert_eq!(all.len(), registry::NAMES.len());
    }
}
