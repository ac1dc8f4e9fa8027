//! Risk weights: how much more often a risky candidate is drawn.
//!
//! These numbers are **policy, not law**: no regulation fixes them. The policy
//! documents ask for risk-based sampling (past failures, clearly-low prices,
//! key-list shops drawn more often; shops clean for three years drawn less
//! often) without numbers. Change them here, and only here; every draw records
//! each drawn item's weight, and the candidates digest covers every weight, so
//! a draw made under other numbers does not verify.

use serde::{Deserialize, Serialize};

use super::candidate::RiskFactors;

/// Every candidate starts at this weight.
pub const BASE: f64 = 1.0;
/// Added per past failed spot check (不合格) of the shop's operator …
pub const PER_PAST_FAILURE: f64 = 2.0;
/// … counting at most this many failures.
pub const PAST_FAILURES_CAP: u32 = 3;
/// Multiplier for a price clearly below the class's price level.
pub const CLEARLY_LOW_PRICE: f64 = 2.0;
/// Multiplier for a shop on the key list (failures in 2 of the last 3 years).
pub const KEY_LIST: f64 = 2.0;
/// A shop with no failure for at least this many years …
pub const CLEAN_YEARS: u32 = 3;
/// … is drawn with its weight multiplied by this.
pub const CLEAN: f64 = 0.5;

/// Whether risk changes the draw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weighting {
    /// Every candidate weighs 1: simple random sampling within each stratum.
    #[default]
    Off,
    /// Weights from [`RiskFactors`] by the constants of this module.
    Risk,
}

impl Weighting {
    /// The name in plans and on the command line: `off` or `risk`.
    pub fn as_str(self) -> &'static str {
        match self {
            Weighting::Off => "off",
            Weighting::Risk => "risk",
        }
    }

    /// The weight of a candidate: finite and positive for any input
    /// (between `CLEAN` and `(BASE + PER_PAST_FAILURE × PAST_FAILURES_CAP) × 4`).
    /// All the constants are multiples of 1/2, so weights are exact in `f64`.
    pub fn weight(self, risk: &RiskFactors) -> f64 {
        match self {
            Weighting::Off => 1.0,
            Weighting::Risk => {
                let failures = f64::from(risk.past_failures.min(PAST_FAILURES_CAP));
                let mut w = BASE + PER_PAST_FAILURE * failures;
                if risk.clearly_low_price {
                    w *= CLEARLY_LOW_PRICE;
                }
                if risk.key_list {
                    w *= KEY_LIST;
                }
                if risk.years_clean.is_some_and(|y| y >= CLEAN_YEARS) {
                    w *= CLEAN;
                }
                w
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_the_policy_table() {
        let r = |past_failures, clearly_low_price, key_list, years_clean| RiskFactors {
            past_failures,
            clearly_low_price,
            key_list,
            years_clean,
        };
        let w = |risk: RiskFactors| Weighting::Risk.weight(&risk);
        assert_eq!(w(r(0, false, false, None)), 1.0);
        assert_eq!(w(r(1, false, false, None)), 3.0);
        assert_eq!(w(r(9, false, false, None)), 7.0, "failures are capped");
        assert_eq!(w(r(0, true, false, None)), 2.0);
        assert_eq!(w(r(2, true, true, None)), 20.0);
        assert_eq!(w(r(0, false, false, Some(3))), 0.5);
        assert_eq!(w(r(0, false, false, Some(2))), 1.0);
        assert_eq!(Weighting::Off.weight(&r(3, true, true, Some(9))), 1.0);
        let max = w(r(u32::MAX, true, true, None));
        assert!(max.is_finite() && max == 28.0);
    }
}
