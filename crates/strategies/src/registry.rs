//! Strategies by name, with parameters from a TOML table: how the backtest (and later the live
//! runner) builds the strategies a user names on the command line or in a config file.
//!
//! Every strategy's parameters deserialize with all fields optional (the documented defaults)
//! and unknown fields rejected, so a typo in a config file is an error, not a silent default.

use crate::{
    CompleteSet, CompleteSetParams, FairValue, FairValueParams, MarketMaker, MarketMakerParams,
    MlDirectional, MlDirectionalParams, Momentum, MomentumParams, RandomBaseline, RandomParams,
    Strategy,
};

/// The strategies `polyedge backtest` runs by default, in that order: every one that needs no
/// file to be built.
pub const NAMES: &[&str] = &[
    "complete_set",
    "fair_value",
    "momentum",
    "market_maker",
    "random",
];

/// Strategies [`build`] knows that run only when named, because they need a parameter with no
/// default (`ml_directional`: its model file).
pub const ON_REQUEST: &[&str] = &["ml_directional"];

/// Whether [`build`] knows `name` ([`NAMES`] or [`ON_REQUEST`]).
pub fn is_known(name: &str) -> bool {
    NAMES.contains(&name) || ON_REQUEST.contains(&name)
}

/// Every name [`build`] knows, comma-separated (for error messages).
pub fn known_names() -> String {
    NAMES
        .iter()
        .chain(ON_REQUEST)
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why [`build`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No strategy of that name.
    #[error("unknown strategy {name:?} (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// The parameter table did not deserialize (wrong type, unknown field …).
    #[error("parameters of strategy {name:?}: {source}")]
    Params {
        /// The strategy.
        name: String,
        /// What was wrong.
        source: toml::de::Error,
    },
    /// The parameters deserialized but the model refused them (e.g. a negative jump volatility).
    #[error("parameters of strategy {name:?}: {source}")]
    Model {
        /// The strategy.
        name: String,
        /// What was wrong.
        source: polyedge_model::ModelError,
    },
    /// The directional model strategy could not be set up (no or a bad model file, a
    /// parameter out of range).
    #[error("strategy {name:?}: {source}")]
    Directional {
        /// The strategy.
        name: String,
        /// What was wrong.
        source: crate::MlDirectionalError,
    },
}

fn model<T>(name: &str, r: Result<T, polyedge_model::ModelError>) -> Result<T, RegistryError> {
    r.map_err(|source| RegistryError::Model {
        name: name.to_string(),
        source,
    })
}

fn params<T: serde::de::DeserializeOwned + Default>(
    name: &str,
    table: Option<&toml::Table>,
) -> Result<T, RegistryError> {
    match table {
        None => Ok(T::default()),
        Some(t) => {
            T::deserialize(toml::Value::Table(t.clone())).map_err(|source| RegistryError::Params {
                name: name.to_string(),
                source,
            })
        }
    }
}

/// Builds the strategy `name` with parameters from `table` (`None`: all defaults).
///
/// # Errors
/// [`RegistryError::Unknown`] for a name not known ([`is_known`]); [`RegistryError::Params`] when the
/// table has a wrong type or an unknown field; [`RegistryError::Model`] when the fair-value
/// model refuses its parameters.
pub fn build(name: &str, table: Option<&toml::Table>) -> Result<Box<dyn Strategy>, RegistryError> {
    Ok(match name {
        "complete_set" => Box::new(CompleteSet::new(params::<CompleteSetParams>(name, table)?)),
        "fair_value" => Box::new(model(
            name,
            FairValue::new(params::<FairValueParams>(name, table)?),
        )?),
        "momentum" => Box::new(model(
            name,
            Momentum::new(params::<MomentumParams>(name, table)?),
        )?),
        "market_maker" => Box::new(model(
            name,
            MarketMaker::new(params::<MarketMakerParams>(name, table)?),
        )?),
        "random" => Box::new(RandomBaseline::new(params::<RandomParams>(name, table)?)),
        "ml_directional" => Box::new(
            MlDirectional::new(params::<MlDirectionalParams>(name, table)?).map_err(|source| {
                RegistryError::Directional {
                    name: name.to_string(),
                    source,
                }
            })?,
        ),
        _ => {
            return Err(RegistryError::Unknown {
                name: name.to_string(),
                known: known_names(),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_known_names_and_rejects_bad_input() {
        for n in NAMES {
            assert_eq!(build(n, None).unwrap().name(), *n);
        }
        assert!(matches!(
            build("nope", None),
            Err(RegistryError::Unknown { .. })
        ));
        let t: toml::Table = toml::from_str("shares = 20").unwrap();
        assert!(build("complete_set", Some(&t)).is_ok());
        let bad: toml::Table = toml::from_str("sharez = 20").unwrap();
        let err = build("complete_set", Some(&bad)).err().unwrap().to_string();
        assert!(err.contains("sharez"), "{err}");
        // Nested tables and decimal-string money/prices.
        let t: toml::Table = toml::from_str(
            "threshold_bps = 300\n[fair]\nmodel = \"merton\"\n[sizing]\nmax_trade = \"5\"",
        )
        .unwrap();
        assert!(build("fair_value", Some(&t)).is_ok());
        let bad: toml::Table = toml::from_str("[fair]\nmodle = \"bs\"").unwrap();
        let err = build("momentum", Some(&bad)).err().unwrap().to_string();
        assert!(err.contains("modle"), "{err}");
        let t: toml::Table = toml::from_str("spread = \"0.06\"").unwrap();
        assert!(build("market_maker", Some(&t)).is_ok());
        let bad: toml::Table = toml::from_str("spread = \"1.5\"").unwrap();
        assert!(build("market_maker", Some(&bad)).is_err());
        let bad: toml::Table =
            toml::from_str("[fair]\nmodel = \"merton\"\njump_vol = -1.0").unwrap();
        assert!(matches!(
            build("market_maker", Some(&bad)),
            Err(RegistryError::Model { .. })
        ));
    }
}
