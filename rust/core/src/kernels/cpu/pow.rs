//! `x ** s` for the exponents programs use most (2, 0.5, -1, 3, ...): a multiply, a division
//! or a square root where libm's `pow` (what MXNet calls) is a scalar call per element, 15
//! times slower than numpy's `x ** 2`. Each form keeps `pow`'s special values (`-0 ** 0.5`
//! is +0, `-inf ** 0.5` is +inf), and rounds at least as closely: the integer powers and
//! roots of f32 are computed in f64 within an f64 ulp and rounded once, 2, -1 and 0.5 are
//! correctly rounded operations (glibc's `powf` misses the nearest f32 for about 4e-4 of
//! all inputs).

use super::elemwise::unary_wide;
use crate::dtype::DType;
use crate::ndarray::NDArray;

/// Binds `$f` to the `$t` element function of `x ** $s` where one correctly rounded
/// operation gives it, and evaluates `$body` (a function item, so that the loop it is
/// handed to inlines and vectorises it); `$none` for other exponents.
macro_rules! with_exact_form {
    ($t:ty, $s:expr, |$f:ident| $body:expr, $none:expr) => {{
        match $s {
            0.0 => {
                let $f = |_: $t| 1.0 as $t;
                $body
            }
            1.0 => {
                let $f = |x: $t| x;
                $body
            }
            2.0 => {
                let $f = |x: $t| x * x;
                $body
            }
            -1.0 => {
                let $f = |x: $t| 1.0 / x;
                $body
            }
            // `+ 0.0` turns -0 into +0 (sqrt keeps the sign of zero, pow does not).
            0.5 => {
                let $f = |x: $t| {
                    if x == <$t>::NEG_INFINITY {
                        <$t>::INFINITY
                    } else {
                        (x + 0.0).sqrt()
                    }
                };
                $body
            }
            _ => $none,
        }
    }};
}

/// `with_exact_form` for f32, plus the exponents an f64 chain gives within an f64 ulp,
/// rounded once.
macro_rules! with_f32_form {
    ($s:expr, |$f:ident| $body:expr, $none:expr) => {{
        match $s {
            3.0 => {
                let $f = |x: f32| {
                    let d = f64::from(x);
                    (d * d * d) as f32
                };
                $body
            }
            4.0 => {
                let $f = |x: f32| {
                    let q = f64::from(x) * f64::from(x);
                    (q * q) as f32
                };
                $body
            }
            -2.0 => {
                let $f = |x: f32| (1.0 / (f64::from(x) * f64::from(x))) as f32;
                $body
            }
            -0.5 => {
                let $f = |x: f32| {
                    if x == f32::NEG_INFINITY {
                        0.0
                    } else {
                        (1.0 / (f64::from(x) + 0.0).sqrt()) as f32
                    }
                };
                $body
            }
            s => with_exact_form!(f32, s, |$f| $body, $none),
        }
    }};
}

/// Writes `a ** s` into `out` when `s` (rounded to `a`'s dtype, as for `pow`) has a form for
/// that dtype; false otherwise (the caller then goes through `pow`). Must run inside the op
/// holding both variables.
pub fn pow_scalar(a: &NDArray, out: &NDArray, s: f64) -> bool {
    match a.dtype() {
        DType::F32 => with_f32_form!(
            f64::from(s as f32),
            |f| {
                unary_wide::<f32, f32>(a, out, f);
                true
            },
            false
        ),
        DType::F64 => with_exact_form!(
            f64,
            s,
            |f| {
                unary_wide::<f64, f64>(a, out, f);
                true
            },
            false
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    fn same32(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Against f64 `pow` rounded to f32 (glibc's pow is within 0.52 f64 ulp, so that is the
    /// nearest f32 but for values within 2^-28 ulp of a tie) on every 251st f32, and against
    /// f32 `powf` itself on the special values.
    #[test]
    fn f32_forms_round_to_nearest_and_keep_special_values() {
        let specials = [
            0.0f32,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1.0,
            -1.0,
            -2.5,
            f32::MIN_POSITIVE,
            -f32::MAX,
            1e-45,
        ];
        for s in [0.0, 1.0, 2.0, 3.0, 4.0, -1.0, -2.0, 0.5, -0.5] {
            let f: fn(f32) -> f32 = with_f32_form!(s, |f| f, panic!("no form for {s}"));
            let mut missed = 0usize;
            let mut n = 0usize;
            for b in (0..u32::MAX).step_by(251) {
                let x = f32::from_bits(b);
                let want = f64::from(x).powf(s) as f32;
                n += 1;
                if !same32(f(x), want) {
                    missed += 1;
                }
            }
            // Exact operations (0, 1, 2, -1, 0.5) never miss; the f64 chains (two roundings
            // there) only at ties.
            let allowed = if [0.0, 1.0, 2.0, -1.0, 0.5].contains(&s) {
                0
            } else {
                n / 1_000_000
            };
            assert!(missed <= allowed, "x ** {s}: {missed} of {n} not nearest");
            for x in specials {
                assert!(
                    same32(f(x), x.powf(s as f32)),
                    "{x} ** {s}: {} against powf's {}",
                    f(x),
                    x.powf(s as f32)
                );
            }
        }
        assert!(with_f32_form!(2.5, |_f| false, true) && with_f32_form!(-3.0, |_f| false, true));
    }

    #[test]
    fn f64_forms_keep_special_values() {
        let xs = [
            0.0f64,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -3.0,
            7.25,
            1e-310,
        ];
        for s in [0.0, 1.0, 2.0, -1.0, 0.5] {
            let f: fn(f64) -> f64 = with_exact_form!(f64, s, |f| f, panic!("no form for {s}"));
            for x in xs {
                let (got, want) = (f(x), x.powf(s));
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "{x} ** {s}: {got} against {want}"
                );
            }
        }
        assert!(with_exact_form!(f64, 3.0, |_f| false, true));
    }
}
