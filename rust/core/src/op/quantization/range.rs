//! Range arithmetic shared by the quantized operators. MXNet quantizes symmetrically: a range
//! (min, max) maps `max(|min|, |max|)` to a level count (127 / 255 / 2^31-1 in its own
//! formulas, 127.5 / 255.5 in its oneDNN kernels), products of quantized values carry the
//! product of their factors' level steps, and oneDNN rounds half to even and saturates.

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

/// The float size of one level of a factor in a product: the range's magnitude over the type's
/// level range (MXNet 1.9.1's `FloatForOneQuantizedLevel`; 127 for int8 whether or not it is
/// "all signed", 255 for uint8).
pub fn level_step(min: f32, max: f32, q: QType) -> f32 {
    real_range(min, max) / q.level_range()
}

/// The int32 range of a product of two quantized factors: each int32 level is the product of the
/// factors' level steps, and the range is symmetric (MXNet 1.9.1's
/// `QuantizationRangeForMultiplication`). The quantized operators pass `QType::I8` for a factor
/// MXNet treats as signed whatever its dtype (`_contrib_quantized_conv`'s uint8 data).
pub fn product_range(a: (f32, f32), qa: QType, b: (f32, f32), qb: QType) -> (f32, f32) {
    let step = level_step(a.0, a.1, qa) * level_step(b.0, b.1, qb);
    // MinAbs(int32 min, int32 max) = 2^31 - 1, which rounds to 2^31 in f32.
    let max = step * i32::MAX as f32;
    (-max, max)
}

/// Levels per unit of a range as MXNet's oneDNN operators compute it
/// (`onednn_levels / real_range`).
pub fn quantize_scale(min: f32, max: f32, q: QType) -> f32 {
    onednn_levels(q) / real_range(min, max)
}

/// The factor `_contrib_quantized_fully_connected` multiplies its int8 bias by to bring it into
/// the int32 levels of the product (MXNet 1.9.1's oneDNN `bias_int32_rescale`, evaluated in the
/// same f32 order). It uses the 127.5/255.5 scales, not the level steps of `product_range`, so
/// the bias lands slightly (half a level in 127) off the output's levels, as MXNet's does.
pub fn fc_bias_rescale(data: (f32, f32), qd: QType, weight: (f32, f32), bias: (f32, f32)) -> f32 {
    quantize_scale(data.0, data.1, qd)
        * quantize_scale(weight.0, weight.1, QType::I8)
        * real_range(bias.0, bias.1)
        / onednn_levels(QType::I8)
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
#[inline(always)]
pub fn round_saturate(v: f32, q: QType) -> f32 {
    round_saturate_for(q)(v)
}

/// `round_saturate` for one type with its constants fixed once, in arithmetic alone so that
/// loops over it vectorise (a NaN select on a captured constant became a branch around its
/// load, and the loop stayed scalar).
#[inline(always)]
pub fn round_saturate_for(q: QType) -> impl Fn(f32) -> f32 + Copy {
    // `max` then `min` sends a NaN to the lower bound: `lo` for uint8 and int32. int8's NaN
    // goes to `hi`, so it clamps the negated value (NaN to -hi), and negates back.
    let (lo, hi) = (q.lowest() as f32, q.highest() as f32);
    let (s, a, b) = if q == QType::I8 {
        (-1.0f32, -hi, -lo)
    } else {
        (1.0, lo, hi)
    };
    move |v: f32| s * (s * round_half_even(v)).max(a).min(b)
}

/// `v.round_ties_even()` without a call: the baseline x86-64 build has no rounding
/// instruction, so that is a libm `rintf` call per element. For |v| < 2^23, |v| + 2^23 lies
/// where floats are the integers, so the addition rounds it to the nearest one, ties to even
/// (IEEE's default; 2^23 is even), and taking 2^23 off again is exact; larger floats are
/// integers already.
#[inline(always)]
pub fn round_half_even(v: f32) -> f32 {
    const TWO_23: f32 = 8_388_608.0;
    let a = v.abs();
    // Both sides computed, then selected: no branch, so loops over it vectorise.
    let r = ((a + TWO_23) - TWO_23).copysign(v);
    if a < TWO_23 {
        r
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_range_is_the_product_of_steps() {
        // mxref (MXNet 1.9.1) prints ±133144.25 for int8 data in ±1 times int8 weights in ±1
        // (quantized_fully_connected), and ±66311.06 for uint8 data in [0, 1].
        let (lo, hi) = product_range((-1.0, 1.0), QType::I8, (-1.0, 1.0), QType::I8);
        assert_eq!((lo, hi), (-133144.25, 133144.25));
        let (lo, hi) = product_range((0.0, 1.0), QType::U8, (-1.0, 1.0), QType::I8);
        assert_eq!((lo, hi), (-66311.06, 66311.06));
        let (_, hi) = product_range((-1.5, 1.5), QType::I8, (-0.25, 0.25), QType::I8);
        assert_eq!(hi, 49929.094);
        // quantized_elemwise_mul of int8 factors in ±1 and ±2: ±266288.5.
        let (lo, hi) = product_range((-1.0, 1.0), QType::I8, (-2.0, 2.0), QType::I8);
        assert_eq!((lo, hi), (-266288.5, 266288.5));
    }

    #[test]
    fn fc_bias_rescale_matches_mxnet() {
        // mxref: a bias level of 1 adds 127.5 int32 levels for int8 data (all ranges ±1),
        // 255.5 for uint8 data in [0, 1], and 1020 for data ±1.5, weight ±0.25, bias ±3.
        assert_eq!(
            fc_bias_rescale((-1.0, 1.0), QType::I8, (-1.0, 1.0), (-1.0, 1.0)),
            127.5
        );
        assert_eq!(
            fc_bias_rescale((0.0, 1.0), QType::U8, (-1.0, 1.0), (-1.0, 1.0)),
            255.5
        );
        assert_eq!(
            fc_bias_rescale((-1.5, 1.5), QType::I8, (-0.25, 0.25), (-3.0, 3.0)),
            1020.0
        );
    }

    #[test]
    fn round_half_even_matches_round_ties_even() {
        let mut v = -5_000_000.0f32;
        while v < 5_000_000.0 {
            for x in [v, v + 0.5, v + 0.25, v - 0.5, v + 1.5, -(v + 0.5)] {
                assert_eq!(round_half_even(x), x.round_ties_even(), "{x}");
            }
            v += 1234.567;
        }
        for x in [
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -0.3,
            4_194_303.5,
            -4_194_302.5,
            8_388_607.5,
            -8_388_606.5,
            1e30,
        ] {
            let (got, want) = (round_half_even(x), x.round_ties_even());
            assert_eq!(
                (got, got.is_sign_negative()),
                (want, want.is_sign_negative()),
                "{x}"
            );
        }
        assert!(round_half_even(f32::NAN).is_nan());
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
        let w = |v| round_saturate(v, QType::I32);
        let (lo, hi) = (i32::MIN as f32, i32::MAX as f32);
        assert_eq!(
            [
                w(f32::NAN),
                w(f32::INFINITY),
                w(f32::NEG_INFINITY),
                w(-2.5),
                w(1e12)
            ],
            [lo, hi, lo, -2.0, hi]
        );
        assert_eq!(r(f32::NEG_INFINITY), -128.0);
    }
}
