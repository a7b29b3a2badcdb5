//! sin, cos and tan of f32 that vectorise (libm's are a chain of branches and calls, slower
//! than numpy's SIMD loops). The argument is reduced by pi/2 in f64, exactly for
//! |x| <= [`FAR`]; the callers recompute the rare larger arguments with libm ([`far`]).

/// The largest |x| the fast forms take: the quadrant count j stays below 2^20, so
/// j times the 33-bit head of pi/2 is exact in f64.
pub const FAR: f32 = 1.6e6;

/// True where the fast forms do not hold: beyond [`FAR`], infinities and NaN.
#[inline(always)]
pub fn far(x: f32) -> bool {
    x.abs() > FAR || x.is_nan()
}

/// (sin r, cos r, j) with x = j pi/2 + r, |r| <= pi/4, for |x| <= FAR. Taylor polynomials
/// in f64: the first terms left out are below 3e-9 of the result, a twentieth of an f32 ulp.
#[inline(always)]
fn quadrant(x: f32) -> (f64, f64, i64) {
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: adding it rounds to an integer.
    const PIO2_HI: f64 = 1.570_796_326_734_125_6; // pi/2 to 33 bits
    const PIO2_LO: f64 = 6.077_100_506_506_192e-11; // pi/2 - PIO2_HI
    let x = x as f64;
    let t = x * std::f64::consts::FRAC_2_PI + MAGIC;
    let j = t - MAGIC;
    // x - j PIO2_HI is exact: the product is, and x lies within a factor 2 of it.
    let r = (x - j * PIO2_HI) - j * PIO2_LO;
    let z = r * r;
    // A factor of r, not a sum with it, so sin(-0) stays -0.
    let s = r
        * (1.0
            + z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (1.0 / 362_880.0)))));
    let c = 1.0
        + z * (-0.5
            + z * (1.0 / 24.0
                + z * (-1.0 / 720.0 + z * (1.0 / 40_320.0 + z * (-1.0 / 3_628_800.0)))));
    // j sits in t's low mantissa bits, offset by 2^51 (a multiple of 4).
    (s, c, t.to_bits() as i64)
}

/// sin x for |x| <= [`FAR`].
#[inline(always)]
pub fn sin_f32(x: f32) -> f32 {
    let (s, c, j) = quadrant(x);
    let v = if j & 1 == 0 { s } else { c };
    (if j & 2 == 0 { v } else { -v }) as f32
}

/// cos x for |x| <= [`FAR`].
#[inline(always)]
pub fn cos_f32(x: f32) -> f32 {
    let (s, c, j) = quadrant(x);
    let v = if j & 1 == 0 { c } else { s };
    (if (j + 1) & 2 == 0 { v } else { -v }) as f32
}

/// tan x for |x| <= [`FAR`].
#[inline(always)]
pub fn tan_f32(x: f32) -> f32 {
    let (s, c, j) = quadrant(x);
    (if j & 1 == 0 { s / c } else { -c / s }) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_cos_tan_are_within_one_ulp_up_to_far() {
        // Dense near 0 and the first quadrants, then every 977th f32 bit pattern up to FAR,
        // and the f32 values nearest multiples of pi/2 (where the reduction cancels most).
        let dense = (-200_000..=200_000).map(|i| i as f32 * 1e-4);
        let spread = (1..FAR.to_bits()).step_by(977).map(f32::from_bits);
        let near_multiples = (1..2_000_000i64)
            .step_by(1013)
            .map(|j| (j as f64 * std::f64::consts::FRAC_PI_2) as f32);
        type Pair = (fn(f32) -> f32, fn(f64) -> f64);
        let fns: [(&str, Pair); 3] = [
            ("sin", (sin_f32, f64::sin)),
            ("cos", (cos_f32, f64::cos)),
            ("tan", (tan_f32, f64::tan)),
        ];
        for x in dense.chain(spread).chain(near_multiples).chain([FAR, -FAR]) {
            for (name, (ours, exact)) in fns {
                for x in [x, -x] {
                    let want = exact(x as f64);
                    let ulp = f32::EPSILON as f64 * want.abs().max(f32::MIN_POSITIVE as f64);
                    let got = ours(x) as f64;
                    assert!(
                        (got - want).abs() <= ulp,
                        "{name}({x}) = {got}, want {want}"
                    );
                }
            }
        }
        assert!(sin_f32(-0.0).is_sign_negative() && sin_f32(0.0) == 0.0);
        assert_eq!(cos_f32(0.0), 1.0);
        assert!(far(FAR * 1.001) && far(f32::INFINITY) && far(f32::NAN) && !far(-FAR));
    }
}
