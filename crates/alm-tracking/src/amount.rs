//! Exact decimal amounts as IB writes them (`-1500`, `80048.64`), for sums and comparisons
//! that must not drift: a NAV's change components, and the continuity checks.

use std::cmp::Ordering;
use std::fmt;

/// A decimal number: `mantissa × 10^-scale`.
#[derive(Debug, Clone, Copy)]
pub struct Amount {
    mantissa: i128,
    scale: u32,
}

/// More places than this are not an amount (IB writes at most 10).
const MAX_SCALE: u32 = 18;

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount { mantissa: 0, scale: 0 };

    /// Parses `[-]digits[.digits]` (the form the validator stores amounts in).
    pub fn parse(text: &str) -> Option<Amount> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || digits.ends_with('.') {
            return None;
        }
        let scale = u32::try_from(fraction.len()).ok().filter(|&s| s <= MAX_SCALE)?;
        let mut mantissa: i128 = 0;
        for b in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        Some(Amount { mantissa: if negative { -mantissa } else { mantissa }, scale })
    }

    fn rescaled(self, scale: u32) -> Option<i128> {
        self.mantissa.checked_mul(10_i128.checked_pow(scale - self.scale)?)
    }

    /// `self + other`, exactly; `None` past ±10^20 (no IB amount comes near).
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        let scale = self.scale.max(other.scale);
        let mantissa = self.rescaled(scale)?.checked_add(other.rescaled(scale)?)?;
        Some(Amount { mantissa, scale })
    }

    /// `self - other`, exactly.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.checked_add(Amount { mantissa: -other.mantissa, scale: other.scale })
    }

    /// The absolute value.
    pub fn abs(self) -> Amount {
        Amount { mantissa: self.mantissa.abs(), scale: self.scale }
    }
}

impl PartialEq for Amount {
    fn eq(&self, other: &Amount) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Amount {}

impl PartialOrd for Amount {
    fn partial_cmp(&self, other: &Amount) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Amount {
    fn cmp(&self, other: &Amount) -> Ordering {
        let scale = self.scale.max(other.scale);
        match (self.rescaled(scale), other.rescaled(scale)) {
            (Some(a), Some(b)) => a.cmp(&b),
            // Only past 10^20: compare by sign, then magnitude as floats.
            _ => (self.mantissa as f64 / 10f64.powi(self.scale as i32))
                .total_cmp(&(other.mantissa as f64 / 10f64.powi(other.scale as i32))),
        }
    }
}

/// The shortest exact form: `80048.64`, `-1500`, `0.5`.
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mut mantissa, mut scale) = (self.mantissa.unsigned_abs(), self.scale);
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        let sign = if self.mantissa < 0 && mantissa != 0 { "-" } else { "" };
        let digits = mantissa.to_string();
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let scale = scale as usize;
        let digits = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        write!(f, "{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(text: &str) -> Amount {
        Amount::parse(text).unwrap()
    }

    #[test]
    fn sums_are_exact_and_print_shortest() {
        let sum = [a("141.27"), a("0"), a("-1500"), a("-7.69"), a("-11.83")]
            .into_iter()
            .try_fold(a("81426.89"), Amount::checked_add)
            .unwrap();
        assert_eq!(sum, a("80048.64"));
        assert_eq!(sum.to_string(), "80048.64");
        assert_eq!(a("-0.50").to_string(), "-0.5");
        assert_eq!(a("0.05").to_string(), "0.05");
        assert_eq!(a("-0.00").to_string(), "0");
        assert_eq!(a("80048.64").checked_sub(a("80048.65")).unwrap().abs(), a("0.01"));
        assert!(a("0.011") > a("0.01"));
        for bad in ["", "-", "1.", ".5", "1e5", "1,000", "--1"] {
            assert!(Amount::parse(bad).is_none(), "{bad}");
        }
    }
}
