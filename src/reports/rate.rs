//! Failure rates as exact decimals.

use rust_decimal::{Decimal, RoundingStrategy};

/// `part / whole` in percent, rounded half away from zero to one decimal;
/// `None` when `whole` is zero.
pub fn percent(part: u64, whole: u64) -> Option<Decimal> {
    if whole == 0 {
        return None;
    }
    let exact = Decimal::from(part).checked_mul(Decimal::ONE_HUNDRED)?.checked_div(Decimal::from(whole))?;
    let mut rounded = exact.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(1);
    Some(rounded)
}

/// A rate as shown: `12.5%`, or `—` when there is none.
pub fn percent_text(rate: Option<Decimal>) -> String {
    match rate {
        Some(r) => format!("{:.1}%", r),
        None => "—".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_one_decimal_and_handles_zero() {
        assert_eq!(percent_text(percent(1, 3)), "33.3%");
        assert_eq!(percent_text(percent(2, 3)), "66.7%");
        assert_eq!(percent_text(percent(1, 16)), "6.3%");
        assert_eq!(percent_text(percent(0, 5)), "0.0%");
        assert_eq!(percent_text(percent(5, 5)), "100.0%");
        assert_eq!(percent_text(percent(3, 0)), "—");
        assert_eq!(percent(1, 20).map(|d| d.to_string()).as_deref(), Some("5.0"));
        assert_eq!(percent(u64::MAX, 1).map(|d| d > Decimal::ZERO), Some(true));
    }
}
