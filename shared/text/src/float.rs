//! A float written as serde_json writes it, without zmij (about 20 KB of Wasm): the textbook
//! free-format algorithm (Steele & White, Burger & Dybvig) on small big integers. Slower than
//! zmij, but it only runs for a float; its digits are the same (the shortest that read back as
//! the same number, the closest of those; checked against serde_json in the tests).

use std::cmp::Ordering;
use std::fmt::Write;

/// Appends a finite `f64` as serde_json writes it: the shortest digits that read back as
/// `value`, in fixed notation with a fraction (`3.0`, `0.001`) when the decimal exponent is
/// -5 to 15, else as `1.5e-7`, `1e+16`. Not finite (no JSON value holds one): `null`.
#[cold]
#[inline(never)]
pub fn write_f64(out: &mut String, value: f64) {
    if !value.is_finite() {
        out.push_str("null");
        return;
    }
    if value.is_sign_negative() {
        out.push('-');
    }
    if value == 0.0 {
        out.push_str("0.0");
        return;
    }
    let (digits, exp) = shortest_digits(value.abs());
    let n = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let digits = std::str::from_utf8(&digits).unwrap_or("0");
    if (-5..=15).contains(&exp) {
        if n - 1 <= exp {
            out.push_str(digits);
            for _ in 0..(exp + 1 - n) {
                out.push('0');
            }
            out.push_str(".0");
        } else if exp >= 0 {
            let (whole, fraction) = digits.split_at(usize::try_from(exp + 1).unwrap_or(0));
            out.push_str(whole);
            out.push('.');
            out.push_str(fraction);
        } else {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(digits);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let _ = write!(out, "e{}{}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
}

/// The shortest decimal digits of a finite `value > 0` that read back as it (the closest of
/// them), and the decimal exponent of the first: `value ≈ d.ddd × 10^exp`.
#[inline(never)]
fn shortest_digits(value: f64) -> (Vec<u8>, i32) {
    let bits = value.to_bits();
    let biased = i32::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, e) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    // Round-half-even reading: the interval's ends belong to it when the mantissa is even.
    let even = mantissa % 2 == 0;
    // At a power of two the next smaller float is half as far as the next larger one.
    let closer_below = fraction == 0 && biased > 1;
    // value = r / s; the interval of texts that read back as it is (r - m_minus, r + m_plus) / s.
    let mut r = Big::from(mantissa);
    let mut s = Big::from(1);
    let mut m_plus = Big::from(1);
    let mut m_minus = Big::from(1);
    let shift = if closer_below { 2 } else { 1 };
    r.shl(shift);
    s.shl(shift);
    if closer_below {
        m_plus.shl(1);
    }
    if e >= 0 {
        let e = e.unsigned_abs();
        r.shl(e);
        m_plus.shl(e);
        m_minus.shl(e);
    } else {
        s.shl(e.unsigned_abs());
    }
    // The first digit's place: an estimate from the binary exponent, then corrected.
    let bit_length = 64 - i32::try_from(mantissa.leading_zeros()).unwrap_or(0);
    let mut k = ((e + bit_length - 1) * 78_913) >> 18; // ⌊log10(2^(e + len - 1))⌋
    if k >= 0 {
        s.mul_pow10(k.unsigned_abs());
    } else {
        let up = (-k).unsigned_abs();
        r.mul_pow10(up);
        m_plus.mul_pow10(up);
        m_minus.mul_pow10(up);
    }
    let high_reaches = |r: &Big, m_plus: &Big, s: &Big| {
        let high = r.sum(m_plus);
        match high.cmp(s) {
            Ordering::Greater => true,
            Ordering::Equal => even,
            Ordering::Less => false,
        }
    };
    // Now value < 10^(k+1) is all the estimate guarantees: make (r + m_plus) / s < 1.
    while high_reaches(&r, &m_plus, &s) {
        s.mul_small(10);
        k += 1;
    }
    let mut digits = Vec::with_capacity(17);
    loop {
        r.mul_small(10);
        m_plus.mul_small(10);
        m_minus.mul_small(10);
        let mut digit = 0u8;
        while r.cmp(&s) != Ordering::Less && digit < 10 {
            r.sub(&s);
            digit += 1;
        }
        let low_ok = match r.cmp(&m_minus) {
            Ordering::Less => true,
            Ordering::Equal => even,
            Ordering::Greater => false,
        };
        let high_ok = high_reaches(&r, &m_plus, &s);
        match (low_ok, high_ok) {
            (false, false) => {
                digits.push(b'0' + digit);
                continue;
            }
            (true, false) => digits.push(b'0' + digit),
            (false, true) => digits.push(b'0' + digit + 1),
            (true, true) => {
                // Both last digits read back: the closer one, an even one on a tie.
                let mut twice = r.clone();
                twice.shl(1);
                let up = match twice.cmp(&s) {
                    Ordering::Less => false,
                    Ordering::Greater => true,
                    Ordering::Equal => digit % 2 == 1,
                };
                digits.push(b'0' + digit + u8::from(up));
            }
        }
        break;
    }
    // A last digit rounded up to 10 carries (not expected, but never a wrong digit).
    let mut i = digits.len();
    while i > 0 && digits.get(i - 1) == Some(&(b'0' + 10)) {
        digits.truncate(i - 1);
        i -= 1;
        match digits.last_mut() {
            Some(d) => *d += 1,
            None => {
                digits.push(b'1');
                k += 1;
            }
        }
    }
    // The digits are those of 0.ddd × 10^k.
    (digits, k - 1)
}

/// A non-negative integer as 32-bit limbs, least significant first.
#[derive(Clone)]
struct Big(Vec<u32>);

impl From<u64> for Big {
    fn from(v: u64) -> Self {
        // Truncations intended: the two halves of `v`.
        let limbs = vec![v as u32, (v >> 32) as u32];
        let mut big = Big(limbs);
        big.trim();
        big
    }
}

impl Big {
    #[inline(never)]
    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    #[inline(never)]
    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    #[inline(never)]
    fn mul_pow10(&mut self, mut k: u32) {
        while k >= 9 {
            self.mul_small(1_000_000_000);
            k -= 9;
        }
        self.mul_small(10u32.pow(k));
    }

    /// Multiplies by `2^bits`.
    #[inline(never)]
    fn shl(&mut self, bits: u32) {
        let limbs = (bits / 32) as usize;
        let bits = bits % 32;
        if bits > 0 {
            self.mul_small(1 << bits);
        }
        if limbs > 0 && !self.0.is_empty() {
            self.0.splice(0..0, std::iter::repeat_n(0, limbs));
        }
    }

    #[inline(never)]
    fn sum(&self, other: &Big) -> Big {
        let len = self.0.len().max(other.0.len());
        let mut out = Vec::with_capacity(len + 1);
        let mut carry = 0u64;
        for i in 0..len {
            let a = u64::from(self.0.get(i).copied().unwrap_or(0));
            let b = u64::from(other.0.get(i).copied().unwrap_or(0));
            let v = a + b + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        if carry > 0 {
            out.push(carry as u32);
        }
        Big(out)
    }

    /// Subtracts `other`, which is not larger.
    #[inline(never)]
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let b = i64::from(other.0.get(i).copied().unwrap_or(0));
            let mut v = i64::from(*limb) - b - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            *limb = v as u32;
        }
        self.trim();
    }

    #[inline(never)]
    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn ours(f: f64) -> String {
        let mut out = String::new();
        write_f64(&mut out, f);
        out
    }

    #[test]
    #[wasm_bindgen_test]
    fn floats_are_written_as_serde_json_writes_them() {
        let mut samples = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.2,
            0.3,
            1.5,
            3.0,
            12.99,
            100.0,
            1e15,
            1e16,
            1.5e16,
            123_456_789_012_345_680.0,
            1e-5,
            1e-6,
            1.5e-7,
            0.000_123,
            1e21,
            1e22,
            1e23,
            5e-324,
            1e-323,
            2.225_073_858_507_201e-308,
            2.225_073_858_507_201_4e-308,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            9_007_199_254_740_993.0,
            4_503_599_627_370_496.5,
            2f64.powi(60),
            2f64.powi(-60),
            2f64.powi(1000),
            2f64.powi(-1000),
            1.0 / 3.0,
            2.0 / 3.0,
        ];
        // A deterministic spread over every exponent and many mantissas (xorshift).
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..if cfg!(target_arch = "wasm32") {
            2_000
        } else {
            50_000
        } {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if f.is_finite() {
                samples.push(f);
            }
            // Short decimals too, where ties and the shortest form matter most.
            samples.push((x % 100_000) as f64 / 1000.0);
        }
        for f in samples {
            let theirs = serde_json::to_string(&f).unwrap();
            assert_eq!(ours(f), theirs, "{:?}", f.to_bits());
            assert_eq!(theirs.parse::<f64>().unwrap().to_bits(), f.to_bits());
        }
        assert_eq!(ours(f64::NAN), "null");
        assert_eq!(ours(f64::INFINITY), "null");
    }
}
