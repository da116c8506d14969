//! Parsing single cells: dates, counts and decimals, strictly.

use chrono::NaiveDate;

/// `YYYY-MM-DD`, a real calendar date.
pub fn iso_date(cell: &str) -> Option<NaiveDate> {
    let b = cell.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    NaiveDate::from_ymd_opt(year as i32, month, day)
}

/// A whole number ≥ 0 (no sign, no decimals, no separators), up to `u64::MAX`.
pub fn non_negative_integer(cell: &str) -> Option<u64> {
    if cell.is_empty() || cell.len() > 19 {
        return None;
    }
    cell.bytes().try_fold(0u64, |n, b| b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0')))
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, &b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
}

/// An exact decimal, kept as its canonical text (`-1234.50` → `-1234.50`, `7200,75` with a
/// decimal comma → `7200.75`), so money never passes through a float.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Decimal(String);

impl Decimal {
    /// Parses `[-]digits[<separator>digits]`; `separator` is `.` or `,`.
    pub fn parse(cell: &str, separator: u8) -> Option<Decimal> {
        let (negative, rest) = match cell.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, cell),
        };
        let (whole, fraction) = match rest.split_once(char::from(separator)) {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (rest, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
            return None;
        }
        let mut text = String::with_capacity(cell.len());
        if negative {
            text.push('-');
        }
        text.push_str(whole);
        if let Some(fraction) = fraction {
            text.push('.');
            text.push_str(fraction);
        }
        Some(Decimal(text))
    }

    /// The canonical text, `.` as decimal separator.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value in units of 10^-8 (`21012.25` → `2_101_225_000_000`), exact: the integer
    /// form the trades table stores. Fails on more than [`Decimal::E8_PLACES`] decimal places
    /// or a value beyond ±92 billion.
    pub fn e8(&self) -> Result<i64, ScaleError> {
        let (negative, digits) = match self.0.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, self.0.as_str()),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > Self::E8_PLACES {
            return Err(ScaleError::TooPrecise);
        }
        let mut units: i64 = 0;
        let padded = fraction.bytes().chain(std::iter::repeat(b'0')).take(Self::E8_PLACES);
        for digit in whole.bytes().chain(padded) {
            units = units
                .checked_mul(10)
                .and_then(|u| u.checked_add(i64::from(digit - b'0')))
                .ok_or(ScaleError::TooLarge)?;
        }
        Ok(if negative { -units } else { units })
    }

    /// Decimal places [`Decimal::e8`] keeps.
    pub const E8_PLACES: usize = 8;

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.0.starts_with('-') && self.0.bytes().any(|b| (b'1'..=b'9').contains(&b))
    }
}

/// Why a [`Decimal`] has no exact 10^-8 integer form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleError {
    /// More than eight decimal places.
    TooPrecise,
    /// Beyond ±92 233 720 368.
    TooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_must_be_real_and_zero_padded() {
        assert_eq!(iso_date("2025-03-01"), NaiveDate::from_ymd_opt(2025, 3, 1));
        for bad in ["2025-3-01", "2025-02-30", "01/03/2025", "2025-03-01 ", "", "abcd-ef-gh"] {
            assert_eq!(iso_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn counts_are_plain_digits() {
        assert_eq!(non_negative_integer("0"), Some(0));
        assert_eq!(non_negative_integer("350"), Some(350));
        for bad in ["-1", "1.5", "1,000", "", " 1", "+1", "99999999999999999999"] {
            assert_eq!(non_negative_integer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn decimals_keep_their_exact_digits() {
        assert_eq!(Decimal::parse("21012.25", b'.').unwrap().as_str(), "21012.25");
        assert_eq!(Decimal::parse("7200,75", b',').unwrap().as_str(), "7200.75");
        assert_eq!(Decimal::parse("22092", b'.').unwrap().as_str(), "22092");
        assert!(Decimal::parse("-200.00", b'.').unwrap().is_negative());
        assert!(!Decimal::parse("-0.00", b'.').unwrap().is_negative());
        for bad in ["", "1.", ".5", "1.2.3", "1,5", "abc", "--1"] {
            assert_eq!(Decimal::parse(bad, b'.'), None, "{bad:?}");
        }
    }

    #[test]
    fn e8_is_exact_and_refuses_what_it_cannot_hold() {
        let e8 = |text: &str| Decimal::parse(text, b'.').unwrap().e8();
        assert_eq!(e8("21012.25"), Ok(2_101_225_000_000));
        assert_eq!(e8("-200.00"), Ok(-20_000_000_000));
        assert_eq!(e8("0.00000001"), Ok(1));
        assert_eq!(e8("1.100000000"), Ok(110_000_000), "trailing zeros are not precision");
        assert_eq!(e8("92233720368.54775807"), Ok(i64::MAX));
        assert_eq!(e8("0.000000001"), Err(ScaleError::TooPrecise));
        assert_eq!(e8("92233720368.54775808"), Err(ScaleError::TooLarge));
    }
}
