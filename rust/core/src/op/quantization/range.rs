//! Range arithmetic shared by the quantized operators. MXNet quantizes symmetrically: a range
//! (min, max) maps `max(|min|, |max|)` to the type's smaller magnitude limit (127 for int8, 255
//! for uint8, 2^31-1 for int32), and products of quantized values carry the product of the
//! per-level steps of their factors.

/// An integer type quantized values are stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QType {
    I8,
    U8,
    I32,
}

impl QType {
    pub fn lowest(self) -> i64 {
        match self {
            QType::I8 => i8::MIN as i64,
            QType::U8 => 0,
            QType::I32 => i32::MIN as i64,
        }
    }

    pub fn highest(self) -> i64 {
        match self {
            QType::I8 => i8::MAX as i64,
            QType::U8 => u8::MAX as i64,
            QType::I32 => i32::MAX as i64,
        }
    }

    /// The level that the range's larger magnitude maps to: `min(|lowest|, |highest|)` for the
    /// signed types; 255 for uint8, whose ranges (non-negative data) start at 0.
    pub fn level_range(self) -> f32 {
        match self {
            QType::I8 => 127.0,
            QType::U8 => 255.0,
            QType::I32 => i32::MAX as f32,
        }
    }
}

/// The magnitude a range stands for.
pub fn real_range(min: f32, max: f32) -> f32 {
    min.abs().max(max.abs())
}

/// A float to its quantized level: round half away from zero, saturated at the level range
/// (and at 0 for uint8). Returned as f32 (an exact integer) for the caller to store.
pub fn to_quantized(x: f32, min: f32, max: f32, q: QType) -> f32 {
    let levels = q.level_range();
    let scale = levels / real_range(min, max);
    let mag = (x.abs() * scale + 0.5).min(levels);
    // MXNet converts `Sign(x) * mag` to the integer type, which truncates toward zero.
    let v = (x.signum() * mag).trunc();
    if q == QType::U8 {
        v.max(0.0)
    } else {
        v
    }
}

/// A quantized level back to the float it stands for.
pub fn to_float(v: f32, min: f32, max: f32, q: QType) -> f32 {
    v * (real_range(min, max) / q.level_range())
}

/// The float size of one level when a range is spread over all of the type's levels
/// (`(max - min) / (highest - lowest)`), as MXNet computes for products.
pub fn float_per_level(min: f32, max: f32, q: QType) -> f32 {
    (max - min) / (q.highest() - q.lowest()) as f32
}

/// The int32 range of a product of two quantized factors: each int32 level is the product of the
/// factors' per-level floats.
pub fn product_range(a: (f32, f32), qa: QType, b: (f32, f32), qb: QType) -> (f32, f32) {
    let step = float_per_level(a.0, a.1, qa) * float_per_level(b.0, b.1, qb);
    (
        step * QType::I32.lowest() as f32,
        step * QType::I32.highest() as f32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero_and_saturates() {
        // range ±1 over int8: one level is 1/127.
        assert_eq!(to_quantized(0.5 / 127.0, -1.0, 1.0, QType::I8), 1.0);
        assert_eq!(to_quantized(-0.5 / 127.0, -1.0, 1.0, QType::I8), -1.0);
        assert_eq!(to_quantized(0.49 / 127.0, -1.0, 1.0, QType::I8), 0.0);
        assert_eq!(to_quantized(3.0, -1.0, 1.0, QType::I8), 127.0);
        assert_eq!(to_quantized(-3.0, -1.0, 1.0, QType::I8), -127.0);
        assert_eq!(to_quantized(0.0, -1.0, 1.0, QType::I8), 0.0);
        assert_eq!(to_quantized(2.0, 0.0, 2.0, QType::U8), 255.0);
        assert_eq!(to_quantized(-2.0, 0.0, 2.0, QType::U8), 0.0);
    }

    #[test]
    fn round_trip_is_within_half_a_level() {
        let (lo, hi) = (-0.7f32, 2.3f32);
        for i in 0..200 {
            let x = lo + (hi - lo) * i as f32 / 199.0;
            let back = to_float(to_quantized(x, lo, hi, QType::I8), lo, hi, QType::I8);
            assert!(
                (back - x).abs() <= 0.5 * 2.3 / 127.0 + 1e-6,
                "{x} -> {back}"
            );
        }
    }

    #[test]
    fn product_range_is_the_product_of_steps() {
        let (lo, hi) = product_range((-1.0, 1.0), QType::I8, (-2.0, 2.0), QType::I8);
        let step = (2.0f32 / 255.0) * (4.0 / 255.0);
        assert!((hi - step * i32::MAX as f32).abs() <= hi.abs() * 1e-6);
        assert!((lo - step * i32::MIN as f32).abs() <= lo.abs() * 1e-6);
    }
}
