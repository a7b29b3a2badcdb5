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
                if std::mem::size_of::<$t>() == 8 {
                    if R64.contains(&v) {
                        v as i64 as $t
                    } else {
                        i64::MIN as $t
                    }
                } else if R32.contains(&v) {
                    v as i32 as $t
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
                // In range, `as i32` then the wrapping narrowing is exact, and both vectorise.
                if std::mem::size_of::<$t>() <= 4 {
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
    ($t:ty, $d:expr) => {
        impl Element for $t {
            const DTYPE: DType = $d;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                <$t>::to_f64(self)
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                <$t>::from_f64(v)
            }
            #[inline(always)]
            fn to_f32(self) -> f32 {
                <$t>::to_f32(self)
            }
            #[inline(always)]
            fn from_f32(v: f32) -> Self {
                <$t>::from_f32(v)
            }
        }
    };
}
half_element!(f16, DType::F16);
half_element!(bf16, DType::BF16);

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
