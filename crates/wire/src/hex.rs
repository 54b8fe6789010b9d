//! Lower-case hex for the ids and digests written on every request (request ids,
//! completion fingerprints, the books' digests): `format!("{v:0w$x}")` goes through
//! `core::fmt`, several times the cost of writing the digits.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `value` in lower-case hex, zero-padded to at least `width` digits (at most
/// 16 are ever needed), to `out`: what `write!(out, "{value:0width$x}")` writes.
pub fn push(out: &mut String, value: u64, width: usize) {
    let significant = (64 - value.leading_zeros() as usize).div_ceil(4).max(1);
    for _ in significant..width {
        out.push('0');
    }
    for i in (0..significant).rev() {
        out.push(char::from(DIGITS[((value >> (4 * i)) & 0xf) as usize]));
    }
}

/// `prefix` then `value` as [`push`] writes it, in one allocation.
pub fn with_prefix(prefix: &str, value: u64, width: usize) -> String {
    let mut out = String::with_capacity(prefix.len() + width.max(16));
    out.push_str(prefix);
    push(&mut out, value, width);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_format_writes() {
        let values = [
            0,
            1,
            0xf,
            0x10,
            0xabc,
            0xff_ffff,
            0x100_0000,
            0xff_ffff_ffff,
            0x0123_4567_89ab_cdef,
            u64::MAX,
        ];
        for value in values {
            for width in [0, 1, 6, 10, 16, 20] {
                let mut out = String::from("x");
                push(&mut out, value, width);
                assert_eq!(out, format!("x{value:0width$x}"), "{value} {width}");
            }
        }
        assert_eq!(with_prefix("req_", 0xbeef, 8), "req_0000beef");
    }
}
