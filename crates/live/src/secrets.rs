//! Secrets for live trading: the wallet's private key and, optionally, existing API credentials.
//! They come only from the environment or a `.env` file in the working directory (the
//! environment wins), never from a config file, and are never printed: [`LiveSecrets`]'s
//! `Debug` shows only which ones are set.
//!
//! | variable | what |
//! |---|---|
//! | `POLYMARKET_PRIVATE_KEY` | hex private key of the signing wallet (required) |
//! | `POLYMARKET_API_KEY`, `POLYMARKET_API_SECRET`, `POLYMARKET_API_PASSPHRASE` | existing L2 credentials (optional; without them they are created or derived with the key, L1) |
//! | `POLYMARKET_FUNDER` | the proxy/Safe/deposit wallet holding the funds, for signature types 1–3 (optional) |

use std::fmt;

/// The environment variable of the private key (the SDK's own name).
pub const PRIVATE_KEY_VAR: &str = polymarket_client_sdk_v2::PRIVATE_KEY_VAR;
/// API key variable.
pub const API_KEY_VAR: &str = "POLYMARKET_API_KEY";
/// API secret variable.
pub const API_SECRET_VAR: &str = "POLYMARKET_API_SECRET";
/// API passphrase variable.
pub const API_PASSPHRASE_VAR: &str = "POLYMARKET_API_PASSPHRASE";
/// Funder variable.
pub const FUNDER_VAR: &str = "POLYMARKET_FUNDER";

/// Existing L2 API credentials.
#[derive(Clone)]
pub struct ApiCreds {
    /// API key (UUID).
    pub key: String,
    /// Secret (base64url).
    pub secret: String,
    /// Passphrase.
    pub passphrase: String,
}

/// What live trading needs to sign and authenticate.
#[derive(Clone)]
pub struct LiveSecrets {
    /// Hex private key (with or without `0x`).
    pub private_key: String,
    /// Existing API credentials, if given.
    pub api: Option<ApiCreds>,
    /// Funder address text, if given.
    pub funder: Option<String>,
}

impl fmt::Debug for LiveSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveSecrets")
            .field("private_key", &"<set>")
            .field("api", &self.api.as_ref().map(|_| "<set>"))
            .field("funder", &self.funder)
            .finish()
    }
}

/// Why the secrets could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The private key is missing.
    #[error(
        "live trading needs the wallet's private key in the environment variable {PRIVATE_KEY_VAR} \
         (or in a .env file in the working directory); it is never read from a config file"
    )]
    MissingKey,
    /// Only some of the API credential variables are set.
    #[error(
        "set all three of {API_KEY_VAR}, {API_SECRET_VAR}, {API_PASSPHRASE_VAR}, or none (they are \
         then created or derived from the private key)"
    )]
    PartialApi,
    /// The `.env` file exists but cannot be read.
    #[error(".env: {0}")]
    DotEnv(String),
}

impl LiveSecrets {
    /// Reads the secrets through `get` (a variable lookup), for tests and [`Self::from_env`].
    ///
    /// # Errors
    /// [`SecretsError::MissingKey`], [`SecretsError::PartialApi`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SecretsError> {
        let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let private_key = nonempty(PRIVATE_KEY_VAR).ok_or(SecretsError::MissingKey)?;
        let api = match (
            nonempty(API_KEY_VAR),
            nonempty(API_SECRET_VAR),
            nonempty(API_PASSPHRASE_VAR),
        ) {
            (Some(key), Some(secret), Some(passphrase)) => Some(ApiCreds {
                key,
                secret,
                passphrase,
            }),
            (None, None, None) => None,
            _ => return Err(SecretsError::PartialApi),
        };
        Ok(LiveSecrets {
            private_key: private_key.trim().to_string(),
            api,
            funder: nonempty(FUNDER_VAR),
        })
    }

    /// Loads `.env` from the working directory if there is one (variables already set win),
    /// then reads the environment.
    ///
    /// # Errors
    /// [`SecretsError`].
    pub fn from_env() -> Result<Self, SecretsError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(SecretsError::DotEnv(e.to_string())),
        }
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Every secret value, for tests that scan outputs for leaks.
    pub fn values(&self) -> Vec<&str> {
        let mut v = vec![self.private_key.as_str()];
        if let Some(a) = &self.api {
            v.push(&a.secret);
            v.push(&a.passphrase);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret_and_partial_credentials_are_refused() {
        let env = |k: &str| match k {
            PRIVATE_KEY_VAR => Some("0xdeadbeefcafe".to_string()),
            API_KEY_VAR => Some("k".into()),
            API_SECRET_VAR => Some("s3cr3t".into()),
            API_PASSPHRASE_VAR => Some("p4ss".into()),
            _ => None,
        };
        let s = LiveSecrets::from_lookup(env).unwrap();
        let d = format!("{s:?}");
        for v in s.values() {
            assert!(!d.contains(v), "{d} shows {v}");
        }
        assert!(matches!(
            LiveSecrets::from_lookup(|k| (k == PRIVATE_KEY_VAR)
                .then(|| "0x1".to_string())
                .or_else(|| (k == API_KEY_VAR).then(|| "k".to_string()))),
            Err(SecretsError::PartialApi)
        ));
        assert!(matches!(
            LiveSecrets::from_lookup(|_| None),
            Err(SecretsError::MissingKey)
        ));
    }
}
