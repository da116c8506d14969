//! Prices as the seed's API gives them: a double in the database, exactly 4 decimals out.
//!
//! The bound: a DECIMAL(12,4) value has at most 12 significant digits (8 before the point, 4
//! after). A double carries 15 to 17 significant decimal digits, so the double nearest to such
//! a value is within half a unit of its 15th digit, far inside half a unit of the 4th
//! decimal (5·10⁻⁵): rounding the double to 4 decimals gives the original back, for every value
//! of the domain. [`to_text`] is that rounding; the proptest in this module checks it over the
//! domain and its edges.

/// The largest DECIMAL(12,4) value, 99 999 999.9999.
pub const MAX: f64 = 99_999_999.999_9;

/// `value` with exactly 4 decimals (`21012.25` → `"21012.2500"`), as the seed's API writes
/// prices; `None` for NaN, an infinity, or a value outside DECIMAL(12,4) once rounded.
pub fn to_text(value: f64) -> Option<String> {
    if !value.is_finite() {
        return None;
    }
    let text = format!("{value:.4}");
    let digits_before_point = text.trim_start_matches('-').split('.').next().map_or(0, str::len);
    (digits_before_point <= 8).then(|| if text == "-0.0000" { "0.0000".to_owned() } else { text })
}

/// Parses a DECIMAL(12,4) text (`-12345678.1234`, `5`, `0.5`) into the double the database
/// stores; `None` for anything else.
pub fn from_text(text: &str) -> Option<f64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let valid = !whole.is_empty()
        && whole.len() <= 8
        && fraction.len() <= 4
        && !digits.ends_with('.')
        && all_digits(whole)
        && all_digits(fraction);
    valid.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// `units` ten-thousandths as DECIMAL(12,4) text.
    fn decimal(units: i64) -> String {
        let sign = if units < 0 { "-" } else { "" };
        let units = units.unsigned_abs();
        format!("{sign}{}.{:04}", units / 10_000, units % 10_000)
    }

    const LIMIT: i64 = 999_999_999_999;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Any sign, up to 8 integer digits and 4 decimals: DECIMAL → double → 4-decimal text
        /// is the identity.
        #[test]
        fn every_decimal_12_4_survives_the_double(units in -LIMIT..=LIMIT) {
            let text = decimal(units);
            let stored = from_text(&text).unwrap();
            let back = to_text(stored).unwrap();
            prop_assert_eq!(back, if units == 0 { "0.0000".to_owned() } else { text });
        }
    }

    #[test]
    fn the_edges_survive_too() {
        let edges = [0, 1, -1, 9_999, 10_000, 5_000, 4_999, 5_001, LIMIT, -LIMIT, LIMIT - 1, 123_456_789_012];
        for units in edges {
            let text = decimal(units);
            assert_eq!(to_text(from_text(&text).unwrap()).unwrap(), text, "{text}");
        }
        assert_eq!(to_text(MAX).as_deref(), Some("99999999.9999"));
        assert_eq!(to_text(-0.0).as_deref(), Some("0.0000"));
        assert_eq!(to_text(21012.25).as_deref(), Some("21012.2500"));
        assert_eq!(to_text(100_000_000.0), None, "past DECIMAL(12,4)");
        assert_eq!(to_text(f64::NAN), None);
        for bad in ["", "-", "1.", "1.23456", "123456789", "1e5", "+1", "1,5"] {
            assert_eq!(from_text(bad), None, "{bad}");
        }
    }
}
