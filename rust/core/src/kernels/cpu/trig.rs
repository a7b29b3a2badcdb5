//! sin, cos and tan of f32 that vectorise (libm's are a chain of branches and calls, slower
//! than numpy's SIMD loops). The argument is reduced in f64, exactly for |x| <= [`FAR`]; the
//! callers recompute the rare larger arguments with libm ([`far`]). Everything is plain f64
//! multiplies and adds (no FMA), so every SIMD build rounds alike.

/// The largest |x| the fast forms take: the quadrant count j stays below 2^20, so
/// j times the 33-bit head of pi/2 is exact in f64.
pub const FAR: f32 = 1.6e6;

/// True where the fast forms do not hold: beyond [`FAR`], infinities and NaN.
#[inline(always)]
pub fn far(x: f32) -> bool {
    x.abs() > FAR || x.is_nan()
}

const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: adding it rounds to an integer.
const PIO2_HI: f64 = 1.570_796_326_734_125_6; // pi/2 to 33 bits
const PIO2_LO: f64 = 6.077_100_506_506_192e-11; // pi/2 - PIO2_HI

/// sin r for |r| <= pi/2 as r (1 + z Q(z)), z = r^2: Q is the degree-4 polynomial that
/// minimises the largest relative error over that range (Lawson-weighted least squares in
/// 40-digit arithmetic), 2.4e-11, four ten-thousandths of an f32 ulp. A factor of r, not a
/// sum with it, so sin(-0) stays -0.
#[inline(always)]
fn sin_half_turn(r: f64) -> f64 {
    const C3: f64 = -0.166_666_666_261_080_23;
    const C5: f64 = 0.008_333_331_106_776_561;
    const C7: f64 = -0.000_198_408_679_631_876_4;
    const C9: f64 = 2.752_537_140_151_345e-6;
    const C11: f64 = -2.388_867_399_194_444e-8;
    let z = r * r;
    r * (1.0 + z * (C3 + z * (C5 + z * (C7 + z * (C9 + z * C11)))))
}

/// sin x for |x| <= FAR when `odd` is 0, cos x when it is 1: x = (k + odd/2) pi + r with
/// |r| <= pi/2, and the result is (-1)^(k + odd) sin r. One polynomial serves both quadrant
/// parities (a pi/2 reduction needs a sine and a cosine polynomial and a select per lane).
#[inline(always)]
fn sin_shifted(x: f32, odd: u64) -> f32 {
    let x = x as f64;
    let half = odd as f64 * 0.5;
    let t = (x * std::f64::consts::FRAC_1_PI - half) + MAGIC;
    let k = t - MAGIC;
    // m pi/2 with m = 2k + odd < 2^20: m PIO2_HI is exact, and x - m PIO2_HI too (x lies
    // within a factor 2 of it whenever the difference is small).
    let m = (k + k) + 2.0 * half;
    let r = (x - m * PIO2_HI) - m * PIO2_LO;
    // k sits in t's low mantissa bits, offset by 2^51 (even).
    let sign = (t.to_bits().wrapping_add(odd) & 1) << 63;
    f64::from_bits(sin_half_turn(r).to_bits() ^ sign) as f32
}

/// (sin r, cos r, j) with x = j pi/2 + r, |r| <= pi/4, for |x| <= FAR. Taylor polynomials
/// in f64: the first terms left out are below 3e-9 of the result, a twentieth of an f32 ulp.
#[inline(always)]
fn quadrant(x: f32) -> (f64, f64, i64) {
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
    sin_shifted(x, 0)
}

/// cos x for |x| <= [`FAR`].
#[inline(always)]
pub fn cos_f32(x: f32) -> f32 {
    sin_shifted(x, 1)
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

    #[test]
    fn sin_and_cos_round_to_nearest_nearly_always() {
        // The nearest f32 of the exact value (f64's, rounded once more: wrong only for the
        // rare value within 2^-29 ulp of a tie). The Taylor forms reduced by pi/2 missed it
        // for 4.6e-4 of these arguments; the minimax half-turn form for 6.6e-5.
        let xs: Vec<f32> = (-400_000..=400_000)
            .map(|i| i as f32 * 5e-5)
            .chain((1..FAR.to_bits()).step_by(389).map(f32::from_bits))
            .collect();
        type Pair = (fn(f32) -> f32, fn(f64) -> f64);
        let fns: [(&str, Pair); 2] = [("sin", (sin_f32, f64::sin)), ("cos", (cos_f32, f64::cos))];
        for (name, (ours, exact)) in fns {
            let missed = xs
                .iter()
                .filter(|&&x| ours(x) != exact(x as f64) as f32)
                .count();
            assert!(
                missed * 10_000 <= xs.len(),
                "{name}: {missed} of {} not the nearest f32",
                xs.len()
            );
        }
    }
}
