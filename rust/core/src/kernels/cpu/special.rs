//! Special functions for `erfinv`, `gamma`, `gammaln` and their gradients, in f64 (float32
//! and float16 round the f64 result). Near machine precision over the finite range; poles
//! and domain edges give the IEEE values MXNet gives (inf, -inf, NaN).

use libm::erf;
use std::f64::consts::PI;

/// Lanczos approximation, g = 7, n = 9 (Numerical Recipes / Boost coefficients): relative
/// error below 1e-15 for x >= 0.5.
const LANCZOS_G: f64 = 7.0;
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// The Lanczos series A(x) for gamma(x + 1) = sqrt(2 pi) t^(x+1/2) e^-t A(x), t = x + g + 1/2.
fn lanczos_sum(x: f64) -> f64 {
    let mut a = LANCZOS[0];
    for (k, c) in LANCZOS.iter().enumerate().skip(1) {
        a += c / (x + k as f64);
    }
    a
}

/// Whether x is 0, -1, -2, ... (a pole of gamma).
fn is_pole(x: f64) -> bool {
    x <= 0.0 && x == x.floor()
}

/// The gamma function; +-inf at 0 (sign of zero), NaN at the negative integers, like C's
/// `tgamma` that MXNet calls.
pub fn gamma(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x == 0.0 {
        return f64::INFINITY.copysign(x);
    }
    if is_pole(x) {
        return f64::NAN;
    }
    if x < 0.5 {
        // Reflection: gamma(x) gamma(1 - x) = pi / sin(pi x).
        return PI / ((PI * x).sin() * gamma(1.0 - x));
    }
    if x > 171.7 {
        return f64::INFINITY;
    }
    if x == x.floor() && x <= 30.0 {
        // Exact factorials (the Lanczos sum is off by an ulp or two, which integer outputs
        // would truncate: gamma(1) must be 1, not 0.99999999999999).
        return (2..x as u32).fold(1.0, |p, k| p * k as f64);
    }
    let z = x - 1.0;
    let t = z + LANCZOS_G + 0.5;
    // t^(z+1/2) is split in two halves so it cannot overflow before e^-t scales it down.
    let p = t.powf((z + 0.5) / 2.0);
    (2.0 * PI).sqrt() * p * ((-t).exp() * p) * lanczos_sum(z)
}

/// log |gamma(x)|; +inf at the poles (as C's `lgamma`).
pub fn gammaln(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if is_pole(x) {
        return f64::INFINITY;
    }
    if x < 0.5 {
        // log|gamma(x)| = log(pi / |sin(pi x)|) - log|gamma(1 - x)|.
        return (PI / (PI * x).sin().abs()).ln() - gammaln(1.0 - x);
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    if x == 1.0 || x == 2.0 {
        // Exact, as C's lgamma: the Lanczos sum is off by an ulp here.
        return 0.0;
    }
    let z = x - 1.0;
    let t = z + LANCZOS_G + 0.5;
    0.5 * (2.0 * PI).ln() + (z + 0.5) * t.ln() - t + lanczos_sum(z).ln()
}

/// The digamma function psi = gamma'/gamma: recurrence up to x >= 10, then the asymptotic
/// series; reflection for negative x. NaN at the poles.
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || is_pole(x) {
        return f64::NAN;
    }
    if x < 0.0 {
        // psi(1 - x) - psi(x) = pi cot(pi x).
        return digamma(1.0 - x) - PI / (PI * x).tan();
    }
    let (mut x, mut acc) = (x, 0.0);
    // At x >= 10 the first omitted series term, 1/(12 x^14), is below 1e-15.
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let r = 1.0 / (x * x);
    // psi(x) ~ ln x - 1/(2x) - sum B_2k / (2k x^2k)
    let series = r
        * (1.0 / 12.0
            - r * (1.0 / 120.0
                - r * (1.0 / 252.0 - r * (1.0 / 240.0 - r * (1.0 / 132.0 - r * 691.0 / 32760.0)))));
    acc + x.ln() - 0.5 / x - series
}

/// Digamma as MXNet's gradients of gamma and gammaln use it: its (Cephes) psi returns its
/// largest value at the poles, so those gradients are infinite there, not NaN.
pub fn psi_at_poles_infinite(x: f64) -> f64 {
    if is_pole(x) {
        f64::INFINITY
    } else {
        digamma(x)
    }
}

/// The trigamma function psi' (the derivative of digamma): recurrence up to x >= 10, then the
/// asymptotic series; reflection for negative x. NaN at the poles.
pub fn trigamma(x: f64) -> f64 {
    if x.is_nan() || is_pole(x) {
        return f64::NAN;
    }
    if x < 0.0 {
        // psi'(1 - x) + psi'(x) = pi^2 / sin^2(pi x).
        let s = (PI * x).sin();
        return PI * PI / (s * s) - trigamma(1.0 - x);
    }
    let (mut x, mut acc) = (x, 0.0);
    while x < 10.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let r = 1.0 / (x * x);
    // psi'(x) ~ 1/x + 1/(2x^2) + sum B_2k / x^(2k+1)
    let series = (1.0 / x)
        * (1.0
            + 0.5 / x
            + r * (1.0 / 6.0
                - r * (1.0 / 30.0 - r * (1.0 / 42.0 - r * (1.0 / 30.0 - r * 5.0 / 66.0)))));
    acc + series
}

/// The inverse error function on [-1, 1]: Giles' single-precision approximation refined by
/// Newton steps on erf (each roughly doubles the correct digits), so it inverts `erf` to the
/// accuracy of `erf` itself (about 1e-14 near |x| = 2.5). +-inf at +-1, NaN outside.
pub fn erfinv(y: f64) -> f64 {
    if y.is_nan() || !(-1.0..=1.0).contains(&y) {
        return f64::NAN;
    }
    if y == 1.0 || y == -1.0 {
        return f64::INFINITY.copysign(y);
    }
    let w = -((1.0 - y) * (1.0 + y)).ln();
    let mut x = if w < 5.0 {
        let w = w - 2.5;
        let mut p = 2.810_226_36e-08;
        for c in [
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ] {
            p = c + p * w;
        }
        p * y
    } else {
        let w = w.sqrt() - 3.0;
        let mut p = -0.000_200_214_257;
        for c in [
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ] {
            p = c + p * w;
        }
        p * y
    };
    // Newton on erf(x) - y; erf' = 2/sqrt(pi) e^{-x^2}. Near |y| = 1 the step is tiny but
    // still well defined, since e^{-x^2} stays normal for |x| < 26.
    for _ in 0..3 {
        let d = std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp();
        if d == 0.0 {
            break;
        }
        x -= (erf(x) - y) / d;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    #[test]
    fn gamma_family_matches_known_values() {
        // Exact factorials and half-integers.
        let mut f = 1.0;
        for n in 1..30 {
            assert!(rel(gamma(n as f64), f) < 1e-13, "gamma({n})");
            assert!((gammaln(n as f64) - f.ln()).abs() < 1e-12, "gammaln({n})");
            f *= n as f64;
        }
        assert!(rel(gamma(0.5), PI.sqrt()) < 1e-14);
        assert!(rel(gamma(-0.5), -2.0 * PI.sqrt()) < 1e-14);
        assert!(rel(gamma(-2.5), -0.945_308_720_482_941_9) < 1e-13);
        assert!(rel(gamma(171.0), 7.257_415_615_307_994e306) < 1e-12);
        assert_eq!(gamma(172.0), f64::INFINITY);
        assert_eq!(gamma(0.0), f64::INFINITY);
        assert!(gamma(-1.0).is_nan() && gamma(-3.0).is_nan());
        assert_eq!(gammaln(0.0), f64::INFINITY);
        assert_eq!(gammaln(-2.0), f64::INFINITY);
        assert!((gammaln(-0.5) - 1.265_512_123_484_645_4).abs() < 1e-13);
        assert!(rel(gammaln(1e5), 1_051_287.708_973_656_6) < 1e-14);
        // Euler-Mascheroni and psi(1/2) = -gamma - 2 ln 2.
        let em = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + em).abs() < 1e-14);
        assert!((digamma(0.5) + em + 2.0 * 2f64.ln()).abs() < 1e-14);
        assert!((digamma(-0.5) - 0.036_489_973_978_576_52).abs() < 1e-13);
        assert!(digamma(-2.0).is_nan());
        assert_eq!(psi_at_poles_infinite(0.0), f64::INFINITY);
        assert_eq!(psi_at_poles_infinite(-3.0), f64::INFINITY);
        assert_eq!(psi_at_poles_infinite(1.0), digamma(1.0));
        assert_eq!((gammaln(1.0), gammaln(2.0)), (0.0, 0.0));
        // psi(x + 1) = psi(x) + 1/x across the recurrence/series switch.
        for x in [0.3, 2.7, 5.5, 9.2, 10.5, 40.0] {
            assert!(
                (digamma(x + 1.0) - digamma(x) - 1.0 / x).abs() < 1e-13,
                "{x}"
            );
        }
    }

    #[test]
    fn erfinv_inverts_erf() {
        for i in -999..=999 {
            let y = i as f64 / 1000.0;
            let x = erfinv(y);
            assert!((erf(x) - y).abs() < 2e-14, "{y}: {x}");
        }
        for y in [1e-10, 0.999_999, -0.999_999_999] {
            assert!(rel(erf(erfinv(y)), y) < 1e-14, "{y}");
        }
        assert!(rel(erfinv(0.5), 0.476_936_276_204_469_9) < 1e-14);
        assert!(rel(erfinv(-0.999), -2.326_753_765_513_524_6) < 1e-12);
        assert_eq!(erfinv(1.0), f64::INFINITY);
        assert_eq!(erfinv(-1.0), f64::NEG_INFINITY);
        assert!(erfinv(1.5).is_nan() && erfinv(f64::NAN).is_nan());
        assert_eq!(erfinv(0.0), 0.0);
    }
}
