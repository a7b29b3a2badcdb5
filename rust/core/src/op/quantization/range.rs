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
/// (`(max - min) / (highest - lowest)`), as MXNet 1.x before 1.6 computed for products.
pub fn float_per_level(min: f32, max: f32, q: QType) -> f32 {
    (max - min) / (q.highest() - q.lowest()) as f32
}

/// The int32 range of a product of two quantized factors, as MXNet 1.9.1 computes it
/// (`QuantizationRangeForMultiplication`): each factor's level is its range's magnitude over
/// the type's highest value (127 for int8, 255 for uint8) and the product's range is
/// symmetric, ± the product of the levels times `2^31 - 1` (which is 2^31 in f32).
pub fn product_range(a: (f32, f32), qa: QType, b: (f32, f32), qb: QType) -> (f32, f32) {
    let level = |r: (f32, f32), q: QType| real_range(r.0, r.1) / q.highest() as f32;
    let max = level(a, qa) * level(b, qb) * QType::I32.highest() as f32;
    (-max, max)
}

/// MXNet 1.9.1's `kInt8Range` / `kUint8Range` / `kInt32Range`: the level count oneDNN-backed
/// kernels (quantize_v2, dequantize, elementwise add, concat, batch norm) map a range's
/// magnitude to. Half a level more than the type's highest value, so that after rounding the
/// extreme levels are as wide as the others.
pub fn onednn_levels(q: QType) -> f32 {
    match q {
        QType::I8 => 127.5,
        QType::U8 => 255.5,
        QType::I32 => i32::MAX as f32,
    }
}

/// oneDNN's float-to-integer conversion: round half to even, then saturate to the type. A NaN
/// (0 * inf, from a zero range) becomes what MXNet 1.9.1 prints for it: 127 for int8, 0 for
/// uint8, `i32::MIN` for int32 (x86's integer indefinite).
pub fn round_saturate(v: f32, q: QType) -> f32 {
    if v.is_nan() {
        return match q {
            QType::I8 => 127.0,
            QType::U8 => 0.0,
            QType::I32 => i32::MIN as f32,
        };
    }
    v.round_ties_even()
        .clamp(q.lowest() as f32, q.highest() as f32)
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
    fn product_range_is_symmetric_product_of_levels() {
        // MXNet 1.9.1 prints ±266288.5 for int8 factors of ranges ±1 and ±2.
        let (lo, hi) = product_range((-1.0, 1.0), QType::I8, (-2.0, 2.0), QType::I8);
        assert_eq!((lo, hi), (-266288.5, 266288.5));
        let (_, hu) = product_range((-1.0, 0.5), QType::I8, (0.0, 2.0), QType::U8);
        let want = (1.0f32 / 127.0) * (2.0 / 255.0) * 2147483648.0;
        assert_eq!(hu, want);
    }

    #[test]
    fn round_saturate_is_half_even() {
        let r = |v| round_saturate(v, QType::I8);
        assert_eq!(
            [r(0.5), r(1.5), r(2.5), r(-0.5), r(-2.5)],
            [0.0, 2.0, 2.0, 0.0, -2.0]
        );
        assert_eq!(
            [r(127.4), r(200.0), r(-128.6), r(f32::NAN)],
            [127.0, 127.0, -128.0, 127.0]
        );
        let u = |v| round_saturate(v, QType::U8);
        assert_eq!(
            [u(-3.0), u(254.5), u(255.7), u(f32::NAN)],
            [0.0, 254.0, 255.0, 0.0]
        );
    }
}
