//! Scalar samplers shared by the `_random_*` and `_sample_*` ops. Every sampler draws only from
//! the stream it is handed, so a block's values depend on its seed and nothing else.

use crate::kernels::cpu::norm::ln_f32;
use crate::kernels::cpu::special::gammaln;
use crate::random::{unit_f64, Xoshiro};

/// Below this rate Poisson draws use inversion; above it, transformed rejection (PTRS), whose
/// constants are fitted for rates of 10 and more.
const POISSON_INVERSION_MAX: f64 = 10.0;

/// A distribution with its parameters, already validated.
#[derive(Clone, Copy, Debug)]
pub enum Dist {
    Uniform(f64, f64),
    Normal(f64, f64),
    RandInt(i64, i64),
    Exponential(f64),
    /// Shape alpha, scale beta.
    Gamma(f64, f64),
    Poisson(f64),
    /// Failure limit k, failure probability p.
    NegBinomial(f64, f64),
    /// Mean mu, dispersion alpha.
    GenNegBinomial(f64, f64),
}

/// Uniform in (0, 1]: safe under `ln`.
#[inline]
fn open_unit(rng: &mut Xoshiro) -> f64 {
    1.0 - rng.next_f64()
}

/// Standard normal by Box-Muller (one of the pair; keeping the other would tie draws to order).
#[inline]
pub fn std_normal(rng: &mut Xoshiro) -> f64 {
    let u1 = open_unit(rng);
    let u2 = rng.next_f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A standard normal for outputs of at most f32 precision, from one raw number: Box-Muller
/// in f32 with branch-free ln, sqrt and cos, so a fill vectorises (the f64 libm calls of
/// `std_normal` cost ~40 ns a draw). The high 31 bits give the radius' uniform in (0, 1],
/// down to 2^-32 (draws reach 6.66 sigma); the low 32's top 24 give the angle.
#[inline(always)]
pub fn std_normal_f32(r: u64) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer.
    let u1 = (r >> 33) as i32 as f32 * (1.0 / 2_147_483_648.0) + 1.0 / 4_294_967_296.0;
    let radius = (-2.0 * ln_f32(u1)).sqrt();
    // cos(2 pi a) = cos(q pi/2 + theta), q the nearest quarter turn, |theta| <= pi/4.
    let a4 = ((r as u32) >> 8) as i32 as f32 * (4.0 / 16_777_216.0);
    let t = a4 + MAGIC;
    let th = (a4 - (t - MAGIC)) * std::f32::consts::FRAC_PI_2;
    // The quarter turn sits in t's low mantissa bits (`as i32` would saturate lane by lane).
    let qi = t.to_bits() as i32;
    let t2 = th * th;
    let sin = th
        * (1.0
            + t2 * (-1.0 / 6.0
                + t2 * (1.0 / 120.0 + t2 * (-1.0 / 5040.0 + t2 * (1.0 / 362_880.0)))));
    let cos = 1.0
        + t2 * (-0.5
            + t2 * (1.0 / 24.0
                + t2 * (-1.0 / 720.0 + t2 * (1.0 / 40_320.0 - t2 * (1.0 / 3_628_800.0)))));
    let v = if qi & 1 != 0 { sin } else { cos };
    // Quarter turns 1 and 2 (cos = -sin theta, -cos theta) are negative.
    radius * if (qi + 1) & 2 != 0 { -v } else { v }
}

/// Gamma(alpha, 1) by Marsaglia-Tsang; alpha < 1 draws Gamma(alpha + 1) and scales it by
/// U^(1/alpha), since the squeeze needs alpha >= 1.
pub fn std_gamma(alpha: f64, rng: &mut Xoshiro) -> f64 {
    if alpha < 1.0 {
        let g = std_gamma(alpha + 1.0, rng);
        return g * open_unit(rng).powf(1.0 / alpha);
    }
    let d = alpha - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = std_normal(rng);
        let t = 1.0 + c * x;
        if t <= 0.0 {
            continue;
        }
        let v = t * t * t;
        let u = open_unit(rng);
        let x2 = x * x;
        if u < 1.0 - 0.0331 * x2 * x2 || u.ln() < 0.5 * x2 + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}

/// Poisson(lam): inversion for small rates, Hörmann's PTRS for large ones.
pub fn poisson(lam: f64, rng: &mut Xoshiro) -> f64 {
    if lam <= 0.0 {
        return 0.0;
    }
    if lam < POISSON_INVERSION_MAX {
        // Sequential search of the CDF: expected lam + 1 steps.
        let u = rng.next_f64();
        let mut k = 0.0;
        let mut p = (-lam).exp();
        let mut cdf = p;
        while u >= cdf {
            k += 1.0;
            p *= lam / k;
            let next = cdf + p;
            // Rounding can stall the CDF just below 1; the tail there is negligible.
            if next <= cdf {
                break;
            }
            cdf = next;
        }
        return k;
    }
    let slam = lam.sqrt();
    let loglam = lam.ln();
    let b = 0.931 + 2.53 * slam;
    let a = -0.059 + 0.02483 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    loop {
        let u = rng.next_f64() - 0.5;
        let v = rng.next_f64();
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + lam + 0.43).floor();
        if us >= 0.07 && v <= vr {
            return k;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        if v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln()
            <= -lam + k * loglam - gammaln(k + 1.0)
        {
            return k;
        }
    }
}

/// A uniform draw in [lo, hi) made from one raw number.
#[inline(always)]
pub fn uniform(lo: f64, hi: f64, r: u64) -> f64 {
    lo + (hi - lo) * unit_f64(r)
}

/// A randint draw in [lo, hi) made from one raw number.
#[inline(always)]
pub fn randint(lo: i64, hi: i64, r: u64) -> f64 {
    (lo + (r % (hi - lo) as u64) as i64) as f64
}

/// One draw of `d` from `rng`.
pub fn sample(d: Dist, rng: &mut Xoshiro) -> f64 {
    match d {
        Dist::Uniform(lo, hi) => uniform(lo, hi, rng.next_u64()),
        Dist::Normal(mu, sigma) => mu + sigma * std_normal(rng),
        Dist::RandInt(lo, hi) => randint(lo, hi, rng.next_u64()),
        Dist::Exponential(lam) => -open_unit(rng).ln() / lam,
        Dist::Gamma(alpha, beta) => beta * std_gamma(alpha, rng),
        Dist::Poisson(lam) => poisson(lam, rng),
        Dist::NegBinomial(k, p) => {
            if p >= 1.0 {
                return 0.0;
            }
            poisson(std_gamma(k, rng) * (1.0 - p) / p, rng)
        }
        Dist::GenNegBinomial(mu, alpha) => {
            if alpha == 0.0 {
                return poisson(mu, rng);
            }
            poisson(alpha * mu * std_gamma(1.0 / alpha, rng), rng)
        }
    }
}

/// Checks a distribution's parameters; the message names the parameter as MXNet does.
/// [`check`] for the per-element parameters of the `sample_*` ops, where MXNet also draws
/// from the degenerate distributions at zero: a gamma with alpha or beta 0, a gaussian with
/// sigma 0 (a point mass at 0, or at mu).
pub fn check_sample(d: Dist) -> std::result::Result<(), String> {
    let zero_to_one = |v: f64| if v == 0.0 { 1.0 } else { v };
    check(match d {
        Dist::Gamma(a, b) => Dist::Gamma(zero_to_one(a), zero_to_one(b)),
        Dist::Normal(m, s) => Dist::Normal(m, zero_to_one(s)),
        d => d,
    })
}

pub fn check(d: Dist) -> std::result::Result<(), String> {
    let bad = |ok: bool, what: &str, v: f64| {
        if ok {
            Ok(())
        } else {
            Err(format!("{what}, got {v}"))
        }
    };
    match d {
        Dist::Uniform(lo, hi) => {
            if lo <= hi {
                Ok(())
            } else {
                Err(format!("low ({lo}) must be <= high ({hi})"))
            }
        }
        Dist::Normal(_, s) => bad(s > 0.0, "scale parameter in gaussian has to be positive", s),
        Dist::RandInt(lo, hi) => {
            if lo < hi {
                Ok(())
            } else {
                Err(format!("low ({lo}) must be < high ({hi})"))
            }
        }
        Dist::Exponential(l) => bad(
            l > 0.0 && l.is_finite(),
            "lambda parameter in exponential distribution has to be positive",
            l,
        ),
        Dist::Gamma(a, b) => {
            bad(
                a > 0.0 && a.is_finite(),
                "alpha parameter in gamma distribution has to be positive",
                a,
            )?;
            bad(
                b > 0.0 && b.is_finite(),
                "beta parameter in gamma distribution has to be positive",
                b,
            )
        }
        Dist::Poisson(l) => bad(
            l >= 0.0 && l.is_finite(),
            "lambda parameter in poisson distribution has to be non-negative",
            l,
        ),
        Dist::NegBinomial(k, p) => {
            // k = 0 (no failures to wait for) is a point mass at 0, which MXNet draws too.
            bad(
                k >= 0.0 && k.is_finite(),
                "k parameter in negative binomial distribution has to be non-negative",
                k,
            )?;
            bad(
                p > 0.0 && p <= 1.0,
                "p parameter in negative binomial distribution has to be in (0, 1]",
                p,
            )
        }
        Dist::GenNegBinomial(mu, a) => {
            bad(
                mu >= 0.0 && mu.is_finite(),
                "mu parameter in generalized negative binomial distribution has to be non-negative",
                mu,
            )?;
            bad(
                a >= 0.0 && a.is_finite(),
                "alpha parameter in generalized negative binomial distribution has to be non-negative",
                a,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sample mean and variance of `n` draws from one stream.
    fn moments(d: Dist, n: usize) -> (f64, f64) {
        let mut rng = Xoshiro::new(7, 0);
        let xs: Vec<f64> = (0..n).map(|_| sample(d, &mut rng)).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
        (m, v)
    }

    #[test]
    fn sampler_moments() {
        let n = 200_000;
        for (d, mean, var) in [
            (Dist::Gamma(0.3, 2.0), 0.6, 1.2),
            (Dist::Gamma(5.0, 0.5), 2.5, 1.25),
            (Dist::Poisson(3.0), 3.0, 3.0),
            (Dist::Poisson(250.0), 250.0, 250.0),
            (Dist::Exponential(4.0), 0.25, 0.0625),
        ] {
            let (m, v) = moments(d, n);
            assert!(
                (m - mean).abs() < 5.0 * (var / n as f64).sqrt(),
                "{d:?}: mean {m}"
            );
            assert!((v - var).abs() < 0.05 * var, "{d:?}: var {v}");
        }
    }

    /// Each f32 draw against Box-Muller in f64 from the same bits, and the draws' empirical
    /// CDF against the normal's (Kolmogorov-Smirnov at the 0.1% level).
    #[test]
    fn std_normal_f32_matches_box_muller_and_the_normal_cdf() {
        let mut rng = Xoshiro::new(11, 3);
        let n = 400_000;
        let mut zs = Vec::with_capacity(n);
        for _ in 0..n {
            let r = rng.next_u64();
            // The radius' uniform as the f32 code rounds it (near 1 its steps are 2^-24).
            let u1 = ((r >> 33) as f32 / 2f32.powi(31) + 2f32.powi(-32)) as f64;
            let a = ((r as u32) >> 8) as f64 / 2f64.powi(24);
            let want = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * a).cos();
            let z = std_normal_f32(r) as f64;
            assert!(
                (z - want).abs() <= 2e-6 * (1.0 + want.abs()),
                "{z} vs {want} (bits {r:#x})"
            );
            zs.push(z);
        }
        zs.sort_by(f64::total_cmp);
        let cdf = |z: f64| 0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2));
        let d = zs.iter().enumerate().fold(0f64, |d, (i, &z)| {
            let c = cdf(z);
            d.max((c - i as f64 / n as f64).abs())
                .max(((i + 1) as f64 / n as f64 - c).abs())
        });
        assert!(d < 1.95 / (n as f64).sqrt(), "KS distance {d}");
        // Extremes: the smallest and largest radius uniforms.
        assert!(std_normal_f32(0).abs() > 6.6 && std_normal_f32(u64::MAX) == 0.0);
    }
}
