//! The error type of every fallible function in this crate.

use std::fmt;

use serde::Serialize;

/// Which sample of a two-sample comparison an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// The control (baseline) sample, the second sample of every two-sample call.
    Control,
    /// The treatment sample, the first sample of every two-sample call.
    Treatment,
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Group::Control => "control",
            Group::Treatment => "treatment",
        })
    }
}

/// Why a statistic could not be computed.
///
/// Degenerate inputs never produce a silent NaN: either the function documents a defined
/// result for them (for example statistic 0 and p-value 1 when both groups are the same
/// constant), or it returns one of these variants.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A group has fewer observations than the statistic needs (for example a variance
    /// needs two).
    #[error("the {group} group has {n} observation(s), this needs at least {needed}")]
    TooFewObservations {
        /// The group that is too small.
        group: Group,
        /// Its number of observations.
        n: u64,
        /// The minimum this statistic needs.
        needed: u64,
    },
    /// A value is NaN (or ±∞ where only finite values make sense).
    #[error("the {group} group has a non-finite value at index {index}")]
    NonFinite {
        /// The group holding the value.
        group: Group,
        /// Its index in the slice that was passed.
        index: usize,
    },
    /// Both groups have zero variance and their difference is not the null value, so the
    /// test statistic is infinite (scipy returns ±inf and p = 0).
    #[error(
        "both groups have zero variance and differ, so the test statistic is infinite; \
         look at the estimate instead"
    )]
    ZeroVariance,
    /// The control mean (the denominator of a relative lift) is zero.
    #[error("the control mean is zero, so a relative lift is undefined")]
    ZeroControlMean,
    /// The mean of the denominator of a ratio metric is zero in a group.
    #[error("the mean of the ratio's denominator is zero in the {group} group")]
    ZeroDenominatorMean {
        /// The group whose denominator mean is zero.
        group: Group,
    },
    /// A parameter is outside its domain.
    #[error("invalid {name} = {value}: {expected}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value that was passed.
        value: f64,
        /// What is expected instead.
        expected: &'static str,
    },
    /// Two inputs that must have the same length do not.
    #[error("{what}: lengths differ ({left} vs {right})")]
    LengthMismatch {
        /// What was compared.
        what: &'static str,
        /// The first length.
        left: usize,
        /// The second length.
        right: usize,
    },
    /// The input is not valid for this method (the reason says why).
    #[error("{0}")]
    InvalidInput(String),
    /// A sum of squares or a product overflowed `f64` (values near `f64::MAX`).
    #[error("overflow: the values are too large to summarise in f64")]
    Overflow,
    /// A quantile sits on an atom of its group's values: the order statistics that bracket
    /// it in the order-statistic standard error (see [`crate::quantile_test`]) are equal, so
    /// the density there, and with it the standard error and the z test, are undefined.
    #[error(
        "the {p} quantile of the {group} group sits on an atom: the order statistics that \
         bracket it are both {value}, so its density and standard error cannot be estimated; \
         use the bootstrap (quantile_bootstrap) or compare the shares at or below {value}"
    )]
    QuantileOnAtom {
        /// The group whose quantile sits on the atom.
        group: Group,
        /// The probability of the quantile.
        p: f64,
        /// The value of the atom.
        value: f64,
    },
    /// A root finder found no solution (for example a sample size for a power the test
    /// cannot reach).
    #[error("no solution: {0}")]
    NoSolution(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that `value` is finite and strictly inside `(low, high)`.
pub(crate) fn check_open(name: &'static str, value: f64, low: f64, high: f64) -> Result<f64> {
    if value.is_finite() && value > low && value < high {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            name,
            value,
            expected: if low == 0.0 && high == 1.0 {
                "expected a number strictly between 0 and 1"
            } else if low == 0.0 && high == f64::INFINITY {
                "expected a finite number > 0"
            } else {
                "out of range"
            },
        })
    }
}

/// Checks that `value` is finite.
pub(crate) fn check_finite(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            name,
            value,
            expected: "expected a finite number",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_group_and_the_need() {
        let e = Error::TooFewObservations {
            group: Group::Control,
            n: 1,
            needed: 2,
        };
        assert_eq!(
            e.to_string(),
            "the control group has 1 observation(s), this needs at least 2"
        );
        let e = Error::NonFinite {
            group: Group::Treatment,
            index: 7,
        };
        assert!(e.to_string().contains("treatment") && e.to_string().contains('7'));
    }

    #[test]
    fn range_checks() {
        assert!(check_open("alpha", 0.05, 0.0, 1.0).is_ok());
        assert!(check_open("alpha", 1.0, 0.0, 1.0).is_err());
        assert!(check_open("alpha", f64::NAN, 0.0, 1.0).is_err());
        assert!(check_open("n", 3.0, 0.0, f64::INFINITY).is_ok());
        assert!(check_finite("x", f64::INFINITY).is_err());
    }
}
