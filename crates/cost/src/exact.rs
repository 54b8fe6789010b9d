//! Exact decimal arithmetic: every operation either gives the exact result or fails.
//!
//! `rust_decimal` rounds silently when a result does not fit its 96-bit mantissa
//! (it drops decimal places to make room). Money here must never be rounded, so
//! these helpers work on the mantissa and scale directly in `i128` and refuse
//! anything that would need rounding. With prices limited to
//! [`MAX_PRICE_SCALE`] decimal places, every cost has at most
//! `MAX_PRICE_SCALE + 6` places, well inside the 28 that a `Decimal` holds.

use rust_decimal::Decimal;

/// Most decimal places a price may carry.
pub const MAX_PRICE_SCALE: u32 = 12;

/// `10^n` for small `n`, or `None` past what `i128` holds.
fn pow10(n: u32) -> Option<i128> {
    10_i128.checked_pow(n)
}

/// Builds a decimal from a mantissa and scale, normalised (no trailing zeros).
/// Trailing zeros are stripped in `i128` first, so a value whose raw mantissa
/// is too wide for a `Decimal` but whose normal form fits is still built.
fn build(mut mantissa: i128, mut scale: u32) -> Option<Decimal> {
    if mantissa == 0 {
        return Some(Decimal::ZERO);
    }
    // Most amounts fit an i64, whose division is one instruction; an i128's is
    // a call into the compiler's runtime.
    if let Ok(mut small) = i64::try_from(mantissa) {
        while scale > 0 && small % 10 == 0 {
            small /= 10;
            scale -= 1;
        }
        return Decimal::try_new(small, scale).ok();
    }
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    Decimal::try_from_i128_with_scale(mantissa, scale).ok()
}

/// `a + b`, exactly.
pub fn add(a: Decimal, b: Decimal) -> Option<Decimal> {
    let scale = a.scale().max(b.scale());
    let ma = a.mantissa().checked_mul(pow10(scale - a.scale())?)?;
    let mb = b.mantissa().checked_mul(pow10(scale - b.scale())?)?;
    build(ma.checked_add(mb)?, scale)
}

/// `a - b`, exactly.
pub fn sub(a: Decimal, b: Decimal) -> Option<Decimal> {
    add(a, -b)
}

/// `count × price / 10^places`, exactly: the price of `count` units when `price`
/// is quoted per `10^places` units (6 for per million, 3 for per thousand).
#[cfg(test)]
pub fn per_units(count: u64, price: Decimal, places: u32) -> Option<Decimal> {
    let mantissa = i128::from(count).checked_mul(price.mantissa())?;
    build(mantissa, price.scale().checked_add(places)?)
}

/// An exact running sum of `count × price / 10^places` terms, kept as one
/// `i128` mantissa and built into a `Decimal` once at the end (faster than a
/// `Decimal` per term, and just as exact).
#[derive(Clone, Copy, Debug, Default)]
pub struct Terms {
    mantissa: i128,
    scale: u32,
}

impl Terms {
    /// Adds `count × price / 10^places`; `None` if it would not stay exact.
    pub fn add(&mut self, count: u64, price: Decimal, places: u32) -> Option<()> {
        let scale = price.scale().checked_add(places)?;
        let mut term = i128::from(count).checked_mul(price.mantissa())?;
        if scale > self.scale {
            self.mantissa = self.mantissa.checked_mul(pow10(scale - self.scale)?)?;
            self.scale = scale;
        } else {
            term = term.checked_mul(pow10(self.scale - scale)?)?;
        }
        self.mantissa = self.mantissa.checked_add(term)?;
        Some(())
    }

    /// The sum, normalised; `None` if it does not fit a `Decimal`.
    pub fn total(self) -> Option<Decimal> {
        build(self.mantissa, self.scale)
    }
}

/// Appends `d` as its `Display` writes it (every place of its scale, and a `-`
/// when its sign is negative, zero included), without `core::fmt`: the ledger
/// writes seven amounts a row, and the gateway a cost header a call.
pub fn write_text(d: Decimal, out: &mut String) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(d.mantissa().unsigned_abs());
    let scale = d.scale() as usize;
    if d.is_sign_negative() {
        out.push('-');
    }
    match digits.len().checked_sub(scale) {
        Some(whole) if whole > 0 => {
            out.push_str(&digits[..whole]);
            if scale > 0 {
                out.push('.');
                out.push_str(&digits[whole..]);
            }
        }
        // as many digits as places or fewer: zeros lead them (scale > 0 here,
        // since there is always a digit)
        _ => {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', scale - digits.len()));
            out.push_str(digits);
        }
    }
}

/// Sum of a sequence, exactly.
#[cfg(test)]
pub fn sum(values: impl IntoIterator<Item = Decimal>) -> Option<Decimal> {
    values.into_iter().try_fold(Decimal::ZERO, add)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn per_units_shifts_the_scale_without_rounding() {
        assert_eq!(
            per_units(1, d("0.15"), 6).unwrap().to_string(),
            "0.00000015"
        );
        assert_eq!(
            per_units(567, d("0.60"), 6).unwrap().to_string(),
            "0.0003402"
        );
        assert_eq!(per_units(0, d("0.60"), 6).unwrap().to_string(), "0");
        assert_eq!(per_units(1500, d("0.10"), 3).unwrap().to_string(), "0.15");
    }

    #[test]
    fn refuses_what_would_need_rounding() {
        // 28 places already: one more would have to round.
        let tiny = Decimal::from_i128_with_scale(1, 28);
        assert_eq!(per_units(1, tiny, 1), None);
        // A mantissa past 96 bits does not fit.
        assert_eq!(per_units(u64::MAX, Decimal::MAX, 0), None);
        assert_eq!(add(Decimal::MAX, Decimal::ONE), None);
    }

    #[test]
    fn terms_sum_exactly_across_scales() {
        let mut t = Terms::default();
        t.add(210, d("0.15"), 6).unwrap();
        t.add(1024, d("0.075"), 6).unwrap();
        t.add(567, d("0.6"), 6).unwrap();
        t.add(3, d("0.0004"), 0).unwrap();
        assert_eq!(t.total().unwrap().to_string(), "0.0016485");
        assert_eq!(Terms::default().total().unwrap().to_string(), "0");
    }

    #[test]
    fn add_aligns_scales() {
        assert_eq!(add(d("0.1"), d("0.0002")).unwrap().to_string(), "0.1002");
        assert_eq!(sub(d("1"), d("0.25")).unwrap().to_string(), "0.75");
        assert_eq!(add(d("0.50"), d("0.50")).unwrap().to_string(), "1");
    }

    fn text(d: Decimal) -> String {
        let mut out = String::new();
        write_text(d, &mut out);
        out
    }

    #[test]
    fn text_keeps_every_place_and_the_sign() {
        for s in [
            "0", "0.000", "0.005", "123.45", "1.500", "-0.25", "100", "-7",
        ] {
            assert_eq!(text(d(s)), s);
        }
        assert_eq!(text(Decimal::MAX), Decimal::MAX.to_string());
        assert_eq!(
            text(Decimal::from_i128_with_scale(1, 28)),
            "0.0000000000000000000000000001"
        );
    }

    proptest! {
        /// `write_text` writes what `Display` writes, for any mantissa, scale and
        /// sign a `Decimal` holds (negative zero included).
        #[test]
        fn text_is_what_display_writes(
            lo: u32, mid: u32, hi: u32, negative: bool, scale in 0_u32..=28,
            width in 0_u32..=96,
        ) {
            // narrower mantissas too, so that short values and zero come up
            let mask = |bits: u32, from: u32| -> u32 {
                match width.saturating_sub(from) {
                    0 => 0,
                    w if w >= 32 => bits,
                    w => bits & ((1_u32 << w) - 1),
                }
            };
            let value = Decimal::from_parts(
                mask(lo, 0),
                mask(mid, 32),
                mask(hi, 64),
                negative,
                scale,
            );
            prop_assert_eq!(text(value), value.to_string());
        }

        /// Where plain `Decimal` arithmetic is exact, the helpers agree with it.
        #[test]
        fn agrees_with_decimal_on_small_values(
            a in 0_i64..1_000_000_000_000, sa in 0_u32..12,
            b in 0_i64..1_000_000_000_000, sb in 0_u32..12,
            n in 0_u64..10_000_000,
        ) {
            let x = Decimal::new(a, sa);
            let y = Decimal::new(b, sb);
            prop_assert_eq!(add(x, y).unwrap(), x + y);
            prop_assert_eq!(sub(x, y).unwrap(), x - y);
            prop_assert_eq!(
                per_units(n, x, 6).unwrap(),
                Decimal::from(n) * x / Decimal::from(1_000_000)
            );
            // Where the exact sum does not fit a Decimal, both refuse it.
            let mut t = Terms::default();
            t.add(n, x, 6).unwrap();
            t.add(n, y, 3).unwrap();
            let pairwise = per_units(n, x, 6)
                .zip(per_units(n, y, 3))
                .and_then(|(p, q)| add(p, q));
            prop_assert_eq!(t.total(), pairwise);
        }
    }
}
