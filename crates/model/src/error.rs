//! The one error type of the crate.

/// Why a model, estimator or score could not be computed.
///
/// Every public fallible function of the crate returns this. Inputs are checked up front, so
/// a `NaN` never leaks out of a successful call: a non-finite input is reported as
/// [`ModelError::NonFinite`] rather than propagated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// An input was `NaN` or ±∞.
    #[error("{name} must be finite, got {value}")]
    NonFinite {
        /// Name of the argument or field (e.g. `"spot"`, `"tau_s"`).
        name: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A finite input lies outside the domain the formula accepts (e.g. a negative price).
    #[error("{name} = {value} is out of domain: expected {expected}")]
    OutOfDomain {
        /// Name of the argument or field.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// The accepted domain, in words (e.g. `"> 0"`).
        expected: &'static str,
    },
    /// Fewer observations than the estimator needs.
    #[error("not enough data: need at least {needed} observations, got {got}")]
    InsufficientData {
        /// Minimum number of observations (prices, returns, bars or forecasts) required.
        needed: usize,
        /// Number supplied.
        got: usize,
    },
    /// Timestamps of a price series are not strictly increasing.
    #[error("timestamps must be strictly increasing: point {index} is not after its predecessor")]
    NonIncreasingTime {
        /// Index of the first point whose time is ≤ its predecessor's (always ≥ 1).
        index: usize,
    },
    /// An OHLC bar is inconsistent (`low > min(open, close)`, `high < max(open, close)`, a
    /// non-positive price or a non-positive duration).
    #[error("bar {index} is inconsistent: {reason}")]
    InvalidBar {
        /// Index of the bar in the input slice.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two inputs that must have the same length do not.
    #[error("length mismatch: {name} has {got} elements, expected {expected}")]
    LengthMismatch {
        /// Name of the argument whose length is wrong.
        name: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A series that must converge (the Merton Poisson sum) needed more terms than allowed.
    #[error("{what} did not converge within {max_terms} terms")]
    NoConvergence {
        /// What was being summed or iterated.
        what: &'static str,
        /// The cap that was hit.
        max_terms: usize,
    },
    /// A [`Scorecard`](crate::calibration::Scorecard) was asked about a forecaster it does not have.
    #[error("unknown forecaster {name:?}")]
    UnknownForecaster {
        /// The name asked for.
        name: String,
    },
    /// A maximum-likelihood fit found no finite likelihood (e.g. all returns zero).
    #[error("fit failed: {reason}")]
    FitFailed {
        /// Why.
        reason: &'static str,
    },
}

/// Checks that `value` is finite.
pub(crate) fn finite(name: &'static str, value: f64) -> Result<f64, ModelError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ModelError::NonFinite { name, value })
    }
}

/// Checks that `value` is finite and `> 0`.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64, ModelError> {
    finite(name, value)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(ModelError::OutOfDomain {
            name,
            value,
            expected: "> 0",
        })
    }
}

/// Checks that `value` is finite and `≥ 0`.
pub(crate) fn non_negative(name: &'static str, value: f64) -> Result<f64, ModelError> {
    finite(name, value)?;
    if value >= 0.0 {
        Ok(value)
    } else {
        Err(ModelError::OutOfDomain {
            name,
            value,
            expected: ">= 0",
        })
    }
}

/// Checks that `value` is a probability: finite and in `[0, 1]`.
pub(crate) fn probability(name: &'static str, value: f64) -> Result<f64, ModelError> {
    finite(name, value)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(ModelError::OutOfDomain {
            name,
            value,
            expected: "a probability in [0, 1]",
        })
    }
}
