//! Element types with MXNet's type flags (mshadow `TypeFlag`), so files and JSON agree.

use half::{bf16, f16};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum DType {
    F32 = 0,
    F64 = 1,
    F16 = 2,
    U8 = 3,
    I32 = 4,
    I8 = 5,
    I64 = 6,
    Bool = 7,
    BF16 = 12,
}

impl DType {
    pub const ALL: [DType; 9] = [
        DType::F32,
        DType::F64,
        DType::F16,
        DType::U8,
        DType::I32,
        DType::I8,
        DType::I64,
        DType::Bool,
        DType::BF16,
    ];

    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::F16 | DType::BF16 => 2,
            DType::U8 | DType::I8 | DType::Bool => 1,
        }
    }

    /// numpy's name for the type (`float32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::F16 => "float16",
            DType::U8 => "uint8",
            DType::I32 => "int32",
            DType::I8 => "int8",
            DType::I64 => "int64",
            DType::Bool => "bool",
            DType::BF16 => "bfloat16",
        }
    }

    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .or(match name {
                "bool_" => Some(DType::Bool),
                _ => None,
            })
    }

    /// MXNet's type flag as stored in `.params` files and `__dtype__` attributes.
    pub fn flag(self) -> i32 {
        self as i32
    }

    pub fn from_flag(flag: i32) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.flag() == flag)
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A Rust type that can live in an NDArray. `bool` arrays are stored as `u8` 0/1.
pub trait Element:
    bytemuck::Pod + Copy + Send + Sync + PartialOrd + Default + std::fmt::Debug + 'static
{
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    /// `v` converted as MXNet's C++ casts convert it: integers wrap instead of saturating.
    fn from_f64_c(v: f64) -> Self {
        Self::from_f64(v)
    }
    /// The value as an integer (exact for integer types; floats truncate).
    fn to_i64(self) -> i64 {
        self.to_f64() as i64
    }
    /// An integer converted as C converts it (wrapping into narrower integer types).
    fn from_i64_c(v: i64) -> Self {
        Self::from_f64(v as f64)
    }
    fn to_f32(self) -> f32 {
        self.to_f64() as f32
    }
    fn from_f32(v: f32) -> Self {
        Self::from_f64(v as f64)
    }
    /// A value already rounded into this type's range (a quantized level): the same result
    /// as `from_f32`, by a conversion that vectorises where the saturating one does not.
    fn from_level(v: f32) -> Self {
        Self::from_f32(v)
    }
}

macro_rules! int_element {
    ($t:ty, $d:expr) => {
        impl Element for $t {
            const DTYPE: DType = $d;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                // `as` saturates and maps NaN to 0: never UB, matches C casts on sane values.
                v as $t
            }
            #[inline(always)]
            fn from_f64_c(v: f64) -> Self {
                // What MXNet's `static_cast` compiles to on x86: a truncating conversion to a
                // 32-bit (64-bit for int64) integer, whose out-of-range and NaN result is the
                // lowest one, then its low bytes.
                const R64: std::ops::Range<f64> =
                    -9.223_372_036_854_776e18..9.223_372_036_854_776e18;
                const R32: std::ops::Range<f64> = -2_147_483_648.0..2_147_483_648.0;
                // The unchecked conversions (a bare cvtt* where `as` adds saturation fix-ups
                // that keep the loop from vectorising) are in range by the tests before them.
                if std::mem::size_of::<$t>() == 8 {
                    if R64.contains(&v) {
                        // SAFETY: v is in i64's range, so its truncation is too.
                        unsafe { v.to_int_unchecked::<i64>() as $t }
                    } else {
                        i64::MIN as $t
                    }
                } else if R32.contains(&v) {
                    // SAFETY: v is in i32's range, so its truncation is too.
                    unsafe { v.to_int_unchecked::<i32>() as $t }
                } else {
                    i32::MIN as $t
                }
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn to_f32(self) -> f32 {
                // Through f64 for 64-bit integers: rounding once more could differ there.
                if std::mem::size_of::<$t>() <= 4 {
                    self as f32
                } else {
                    self as f64 as f32
                }
            }
            #[inline(always)]
            fn from_f32(v: f32) -> Self {
                // The same saturating cast as through f64, without the widening (which kept
                // the quantized stores from vectorising).
                v as $t
            }
            #[inline(always)]
            fn from_level(v: f32) -> Self {
                if std::mem::size_of::<$t>() <= 2 {
                    // |v| < 2^22: v + 1.5·2^23 lands where a float's mantissa counts units, so
                    // its bits less those of 1.5·2^23 are v. AVX2 has no vector form of the
                    // saturating `as i32`, so that cast kept the quantized stores scalar.
                    ((v + 12582912.0).to_bits() as i32).wrapping_sub(0x4B40_0000) as $t
                } else if std::mem::size_of::<$t>() == 4 {
                    // In range, `as i32` then the wrapping narrowing is exact.
                    v as i32 as $t
                } else {
                    v as $t
                }
            }
            #[inline(always)]
            fn from_i64_c(v: i64) -> Self {
                v as $t // wraps, as C's integer conversions do
            }
        }
    };
}
int_element!(u8, DType::U8);
int_element!(i8, DType::I8);
int_element!(i32, DType::I32);
int_element!(i64, DType::I64);

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
}

impl Element for f64 {
    const DTYPE: DType = DType::F64;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
}

// The half-precision types convert through f32, which holds every value of both exactly.
macro_rules! half_element {
    ($t:ty, $d:expr, $to_f32:expr, $from_f32:expr) => {
        impl Element for $t {
            const DTYPE: DType = $d;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                f64::from($to_f32(self))
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                $from_f32(f64_to_f32_odd(v))
            }
            #[inline(always)]
            fn to_f32(self) -> f32 {
                $to_f32(self)
            }
            #[inline(always)]
            fn from_f32(v: f32) -> Self {
                $from_f32(v)
            }
        }
    };
}
half_element!(f16, DType::F16, f16_to_f32, f32_to_f16);
half_element!(bf16, DType::BF16, bf16_to_f32, f32_to_bf16);

/// `v` rounded to f32 *to odd*: an inexact value takes the neighbour whose last bit is set.
/// Rounding that once more, to nearest, into a type of at most 11 significant bits gives
/// what rounding `v` directly would; through a plain f32 a second rounding can meet a tie
/// the first one made (`half`'s `from_f64` rounds f16 so, and drops bf16's sticky bits).
#[inline(always)]
fn f64_to_f32_odd(v: f64) -> f32 {
    let r = v as f32;
    if v.is_nan() || f64::from(r) == v || r.to_bits() & 1 == 1 {
        return r;
    }
    let bits = if f64::from(r).abs() > v.abs() {
        r.to_bits() - 1
    } else {
        r.to_bits() + 1
    };
    f32::from_bits(bits)
}

// `half`'s own f16 conversions test for F16C at every call and convert one value, which
// keeps every loop over f16 scalar (ten times slower than the same loop in f32). These give
// the same bits, branch-free, so the loops around them vectorise; the whole-tile kernels of
// `kernels::cpu::halves` use F16C itself.

/// The f32 of an f16 (exact; NaNs come back quiet, as F16C gives them).
#[inline(always)]
pub fn f16_to_f32(h: f16) -> f32 {
    let h = h.to_bits();
    let body = u32::from(h & 0x7fff) << 13;
    let exp = body & (0x7c00 << 13);
    let normal = body + ((127 - 15) << 23);
    let quiet = if h & 0x3ff != 0 { 0x0040_0000 } else { 0 };
    let special = (normal + ((128 - 16) << 23)) | quiet;
    // A subnormal's bits, read with the smallest normal exponent, are 2^-14 too large.
    let subnormal = (f32::from_bits(normal + (1 << 23)) - f32::from_bits(113 << 23)).to_bits();
    let bits = if exp == 0x7c00 << 13 {
        special
    } else if exp == 0 {
        subnormal
    } else {
        normal
    };
    f32::from_bits(bits | (u32::from(h & 0x8000) << 16))
}

/// The f16 nearest to an f32, ties to even (overflow to infinity; NaNs quiet, keeping the
/// top of their payload, as F16C does).
#[inline(always)]
pub fn f32_to_f16(v: f32) -> f16 {
    let bits = v.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let mag = bits & 0x7fff_ffff;
    let nan = 0x7e00 | ((mag >> 13) & 0x3ff) as u16;
    let huge = if mag > 0x7f80_0000 { nan } else { 0x7c00 };
    // Below f16's normal range, adding 0.5 rounds at the subnormals' last bit in hardware.
    const HALF: u32 = ((127 - 15) + (23 - 10) + 1) << 23;
    let subnormal = (f32::from_bits(mag) + f32::from_bits(HALF))
        .to_bits()
        .wrapping_sub(HALF) as u16;
    // Rebias, add just under half an f16 step plus the kept bit's parity, truncate.
    let odd = (mag >> 13) & 1;
    let normal = (mag
        .wrapping_sub((127 - 15) << 23)
        .wrapping_add(0xfff)
        .wrapping_add(odd)
        >> 13) as u16;
    let h = if mag >= (127 + 16) << 23 {
        huge
    } else if mag < 113 << 23 {
        subnormal
    } else {
        normal
    };
    f16::from_bits(h | sign)
}

/// The f32 of a bf16 (exact; NaNs come back quiet, as `half` gives them).
#[inline(always)]
pub fn bf16_to_f32(h: bf16) -> f32 {
    let h = u32::from(h.to_bits());
    let quiet = if h & 0x7fff > 0x7f80 { 0x40 } else { 0 };
    f32::from_bits((h | quiet) << 16)
}

/// The bf16 nearest to an f32, ties to even (overflow to infinity; NaNs quiet, keeping the
/// top of their payload).
#[inline(always)]
pub fn f32_to_bf16(v: f32) -> bf16 {
    let x = v.to_bits();
    // Add just under half a bf16 step plus the kept bit's parity, truncate. Only a NaN's
    // sum wraps (it is not used): from -f32::MAX it is 0xff80_7fff.
    let rounded = x.wrapping_add(0x7fff + ((x >> 16) & 1)) >> 16;
    let nan = (x >> 16) | 0x40;
    bf16::from_bits(if x & 0x7fff_ffff > 0x7f80_0000 {
        nan
    } else {
        rounded
    } as u16)
}

/// Runs `$body` with `$T` bound to the Rust element type of `$dtype` (bool as u8).
#[macro_export]
macro_rules! with_dtype {
    ($dtype:expr, $T:ident, $body:block) => {
        match $dtype {
            $crate::dtype::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::dtype::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::dtype::DType::F16 => {
                type $T = half::f16;
                $body
            }
            $crate::dtype::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            $crate::dtype::DType::U8 | $crate::dtype::DType::Bool => {
                type $T = u8;
                $body
            }
            $crate::dtype::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::dtype::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::dtype::DType::I64 => {
                type $T = i64;
                $body
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16, Element};
    use half::{bf16, f16};

    /// `half`'s conversions (F16C where the CPU has it) are the reference.
    fn same_as_half(v: f32) {
        let (got, want) = (f32_to_f16(v).to_bits(), f16::from_f32(v).to_bits());
        assert_eq!(got, want, "f32 {v:e} ({:#010x})", v.to_bits());
    }

    #[test]
    fn f16_to_f32_matches_half_for_every_value() {
        for h in 0..=u16::MAX {
            let (got, want) = (f16_to_f32(f16::from_bits(h)), f16::from_bits(h).to_f32());
            assert_eq!(got.to_bits(), want.to_bits(), "f16 {h:#06x}");
        }
    }

    #[test]
    fn f32_to_f16_rounds_like_half() {
        // Every f16, the midpoints to its neighbour (the ties) and one f32 step around both.
        for h in 0..0x7c00u16 {
            for sign in [0, 0x8000] {
                let lo = f16::from_bits(h | sign).to_f32();
                let hi = f16::from_bits((h + 1) | sign).to_f32();
                let mid = ((f64::from(lo) + f64::from(hi)) / 2.0) as f32;
                for x in [lo, mid] {
                    for d in [-1i32, 0, 1] {
                        same_as_half(f32::from_bits(x.to_bits().wrapping_add_signed(d)));
                    }
                }
            }
        }
        // A spread over all bit patterns: f32 subnormals, huge values, infinities, NaNs with
        // all kinds of payloads.
        for bits in (0..=u32::MAX).step_by(4099) {
            same_as_half(f32::from_bits(bits));
        }
        for v in [
            65504.0,
            65519.996,
            65520.0,
            f32::MAX,
            f32::INFINITY,
            f32::MIN_POSITIVE,
        ] {
            same_as_half(v);
            same_as_half(-v);
        }
        for bits in [
            0x7f80_0001,
            0x7fc0_0000,
            0x7fbf_ffff,
            0xffc0_2000,
            0x7f80_2000,
        ] {
            same_as_half(f32::from_bits(bits));
        }
    }

    #[test]
    fn bf16_conversions_match_half() {
        for h in 0..=u16::MAX {
            let (got, want) = (bf16_to_f32(bf16::from_bits(h)), bf16::from_bits(h).to_f32());
            assert_eq!(got.to_bits(), want.to_bits(), "bf16 {h:#06x}");
            // Every bf16 bit pattern above, with the low halves that decide a rounding: zero,
            // the tie, one unit either side of it and both ends.
            for low in [0, 1, 0x7fff, 0x8000, 0x8001, 0xffff, 0x1234, 0xc000] {
                let v = f32::from_bits(u32::from(h) << 16 | low);
                let (got, want) = (f32_to_bf16(v).to_bits(), bf16::from_f32(v).to_bits());
                assert_eq!(got, want, "f32 {v:e} ({:#010x})", v.to_bits());
            }
        }
    }

    /// Just above, at and just below every tie between neighbours of `H` (and the halfway
    /// point to infinity past the largest value), f64 values round as if directly.
    fn ties_round_once<H: Element>(bits: impl Iterator<Item = u16>, from_bits: fn(u16) -> H) {
        for b in bits {
            let (lo, hi) = (from_bits(b).to_f64(), from_bits(b + 1).to_f64());
            let step = if hi.is_finite() {
                hi - lo
            } else {
                lo - from_bits(b - 1).to_f64()
            };
            let mid = lo + step / 2.0;
            let nudge = step * 2f64.powi(-30);
            let even = if b & 1 == 0 { lo } else { hi };
            for (v, want) in [(mid + nudge, hi), (mid, even), (mid - nudge, lo)] {
                assert_eq!(
                    H::from_f64(v).to_f64(),
                    want,
                    "{v:e} between {lo:e} and {hi:e}"
                );
                assert_eq!(H::from_f64(-v).to_f64(), -want, "{:e}", -v);
            }
        }
    }

    #[test]
    fn f64_to_half_rounds_once() {
        ties_round_once(0..0x7c00, f16::from_bits);
        ties_round_once(0..0x7f80, bf16::from_bits);
        assert!(<f16 as Element>::from_f64(f64::NAN).is_nan());
        assert!(<bf16 as Element>::from_f64(f64::NAN).is_nan());
        assert_eq!(<f16 as Element>::from_f64(1e300), f16::INFINITY);
        assert_eq!(<bf16 as Element>::from_f64(-1e300), bf16::NEG_INFINITY);
        assert_eq!(<f16 as Element>::from_f64(1e-300).to_bits(), 0);
        assert_eq!(<bf16 as Element>::from_f64(-1e-300).to_bits(), 0x8000);
    }
}
