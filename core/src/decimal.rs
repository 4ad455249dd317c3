//! Exact decimal numbers for money and quantities: an integer and a scale, never a float.

use std::cmp::Ordering;
use std::fmt;

/// `units × 10^-scale`, exact. Enough digits for any amount on a receipt or an invoice.
#[derive(Clone, Copy)]
pub struct Decimal {
    units: i128,
    scale: u32,
}

/// How [`Decimal::rounded`] drops digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rounding {
    /// Half away from zero (3.315 → 3.32, -3.315 → -3.32): what "rounded half up" means on a
    /// receipt.
    HalfUp,
    /// Cut toward zero (3.319 → 3.31), as some scales print.
    Down,
    /// Toward minus infinity (12.58 → 12.5 at one decimal): 抹零.
    Floor,
}

const MAX_SCALE: u32 = 18;
const MAX_DIGITS: usize = 30;

impl Decimal {
    /// Zero.
    pub const ZERO: Decimal = Decimal { units: 0, scale: 0 };

    /// `units × 10^-scale`. Panics if `scale` exceeds 36 (every Decimal piaoju makes has a
    /// scale of at most 36: 18 parsed digits, doubled by a product).
    pub fn new(units: i128, scale: u32) -> Decimal {
        assert!(scale <= 2 * MAX_SCALE, "Decimal scale {scale} exceeds 36");
        Decimal { units, scale }
    }

    /// Parse `[-+]digits[.digits]` (ASCII only, nothing else). `None` if it is not that.
    pub fn parse(s: &str) -> Option<Decimal> {
        let (neg, body) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
            || int.len() + frac.len() > MAX_DIGITS
            || frac.len() as u32 > MAX_SCALE
            || (body.contains('.') && frac.is_empty())
        {
            return None;
        }
        let mut units: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            units = units * 10 + i128::from(b - b'0');
        }
        Some(Decimal {
            units: if neg { -units } else { units },
            scale: frac.len() as u32,
        })
    }

    /// The digits after the point (`12.50` has 2).
    pub fn scale(self) -> u32 {
        self.scale
    }

    /// Whether it is below zero.
    pub fn is_negative(self) -> bool {
        self.units < 0
    }

    fn rescaled(self, scale: u32) -> Option<i128> {
        self.units
            .checked_mul(10i128.checked_pow(scale.checked_sub(self.scale)?)?)
    }

    /// The same value with at least `scale` decimal places ("12.5" → "12.50").
    pub fn with_min_scale(self, scale: u32) -> Decimal {
        if self.scale >= scale {
            return self;
        }
        match self.rescaled(scale) {
            Some(units) => Decimal { units, scale },
            None => self,
        }
    }

    /// The exact sum; `None` on overflow.
    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        Some(Decimal {
            units: self.rescaled(scale)?.checked_add(other.rescaled(scale)?)?,
            scale,
        })
    }

    /// The exact difference; `None` on overflow.
    pub fn checked_sub(self, other: Decimal) -> Option<Decimal> {
        self.checked_add(Decimal {
            units: other.units.checked_neg()?,
            scale: other.scale,
        })
    }

    /// The exact product; `None` on overflow.
    pub fn checked_mul(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale + other.scale;
        if scale > 2 * MAX_SCALE {
            return None;
        }
        Some(Decimal {
            units: self.units.checked_mul(other.units)?,
            scale,
        })
    }

    /// `-self`.
    pub(crate) fn checked_neg(self) -> Option<Decimal> {
        Some(Decimal {
            units: self.units.checked_neg()?,
            scale: self.scale,
        })
    }

    /// The value with at most `scale` decimals, rounded as `mode` says. A value with no more
    /// decimals than that is returned as it is.
    pub(crate) fn rounded(self, scale: u32, mode: Rounding) -> Decimal {
        if self.scale <= scale {
            return self;
        }
        // At most 10^36, which fits in an i128.
        let div = 10i128.pow(self.scale - scale);
        let (q, r) = (self.units / div, self.units % div);
        let units = match mode {
            Rounding::Down => q,
            Rounding::HalfUp if r.unsigned_abs() * 2 >= div.unsigned_abs() => {
                q + self.units.signum()
            }
            Rounding::HalfUp => q,
            Rounding::Floor if r < 0 => q - 1,
            Rounding::Floor => q,
        };
        Decimal { units, scale }
    }

    /// The same value without trailing zero decimals beyond `min_scale` ("5.56160" → "5.5616").
    pub(crate) fn trimmed(self, min_scale: u32) -> Decimal {
        let mut d = self;
        while d.scale > min_scale && d.units % 10 == 0 {
            d = Decimal {
                units: d.units / 10,
                scale: d.scale - 1,
            };
        }
        d
    }

    /// Whole fen (hundredths), if the value has no finer part.
    pub fn to_fen(self) -> Option<i128> {
        if self.scale <= 2 {
            self.rescaled(2)
        } else {
            let div = 10i128.pow(self.scale - 2);
            (self.units % div == 0).then(|| self.units / div)
        }
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |d: &Decimal| d.units.signum();
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        let magnitude = cmp_magnitude(
            (self.units.unsigned_abs(), self.scale),
            (other.units.unsigned_abs(), other.scale),
        );
        if self.units < 0 {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

/// Compare `a.0 × 10^-a.1` with `b.0 × 10^-b.1` exactly, without overflow: integer parts
/// first, then the fractional parts at a common scale (at most 36 digits, which fits in u128).
fn cmp_magnitude(a: (u128, u32), b: (u128, u32)) -> Ordering {
    let pow = |s: u32| 10u128.pow(s);
    let (a_int, a_frac) = (a.0 / pow(a.1), a.0 % pow(a.1));
    let (b_int, b_frac) = (b.0 / pow(b.1), b.0 % pow(b.1));
    let scale = a.1.max(b.1);
    a_int
        .cmp(&b_int)
        .then_with(|| (a_frac * pow(scale - a.1)).cmp(&(b_frac * pow(scale - b.1))))
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.units.unsigned_abs().to_string();
        let sign = if self.units < 0 { "-" } else { "" };
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

/// `Decimal(12.50)`: the exact text, as in the JSON.
impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({self})")
    }
}

/// Serializes as its exact decimal text (`"12.50"`), never as a float.
impl serde::Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn parse_and_print() {
        for (input, out) in [
            ("12.50", "12.50"),
            ("0.05", "0.05"),
            (".5", "0.5"),
            ("-3", "-3"),
            ("+7.0", "7.0"),
            ("007", "7"),
        ] {
            assert_eq!(d(input).to_string(), out);
        }
        for bad in [
            "", "-", ".", "1.", "1.2.3", "1,000", "１２", "1e3", " 1", "abc",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn arithmetic_is_exact() {
        // 0.1 + 0.2 == 0.3, which floats get wrong.
        assert_eq!(d("0.1").checked_add(d("0.2")).unwrap(), d("0.3"));
        assert_eq!(d("4.50").checked_mul(d("2")).unwrap(), d("9.00"));
        assert_eq!(d("12.50").checked_sub(d("12.5")).unwrap(), Decimal::ZERO);
        assert_eq!(d("12.5").with_min_scale(2).to_string(), "12.50");
        assert_eq!(d("1.234").with_min_scale(2).to_string(), "1.234");
        assert_eq!(d("10000.00").to_fen(), Some(1_000_000));
        assert_eq!(d("1.234").to_fen(), None);
        assert!(d("9.99") < d("10"));
        assert!(d("-10") < d("-9.99"));
        assert!(d("-0.01") < Decimal::ZERO);
        // Magnitudes whose rescaling would overflow still compare exactly.
        let big = Decimal::new(99_999_999_999_999_999_999_999_999_999, 0);
        let tiny = Decimal::new(1, 36);
        assert!(big > tiny);
        assert_eq!(tiny.cmp(&big), Ordering::Less);
        assert_ne!(Decimal::new(1, 36), Decimal::new(2, 36));
        assert_eq!(Decimal::new(10, 36), Decimal::new(1, 35));
        assert!(Decimal::new(123, 0) > Decimal::new(122_999_999, 6));
    }

    #[test]
    fn rounding() {
        let r = |s: &str, scale, mode| d(s).rounded(scale, mode).to_string();
        assert_eq!(r("3.315", 2, Rounding::HalfUp), "3.32");
        assert_eq!(r("3.3149", 2, Rounding::HalfUp), "3.31");
        assert_eq!(r("3.315", 2, Rounding::Down), "3.31");
        assert_eq!(r("3.3199", 2, Rounding::Down), "3.31");
        assert_eq!(r("-3.315", 2, Rounding::HalfUp), "-3.32");
        assert_eq!(r("-3.315", 2, Rounding::Down), "-3.31");
        assert_eq!(r("12.58", 1, Rounding::Floor), "12.5");
        assert_eq!(r("12.58", 0, Rounding::Floor), "12");
        assert_eq!(r("-0.01", 0, Rounding::Floor), "-1");
        assert_eq!(r("12.5", 2, Rounding::HalfUp), "12.5");
        assert_eq!(r("0.005", 2, Rounding::HalfUp), "0.01");
        assert_eq!(r("0.0049999", 2, Rounding::HalfUp), "0.00");
        assert_eq!(d("2.5").checked_neg().unwrap().to_string(), "-2.5");
        assert_eq!(d("5.56160").trimmed(2).to_string(), "5.5616");
        assert_eq!(d("9.0000").trimmed(2).to_string(), "9.00");
        assert_eq!(d("9").trimmed(2).to_string(), "9");
    }
}
