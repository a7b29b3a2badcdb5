//! Complex DFT of any length in O(n log n), computed in f64: an iterative radix-2 transform for
//! powers of two, and Bluestein's chirp-z algorithm (a circular convolution done with a
//! power-of-two transform of length >= 2n - 1) for every other length. Both directions are
//! unnormalised, as cuFFT's are: `inverse(forward(x)) = n * x`.

use std::f64::consts::PI;

/// One complex value.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct C {
    pub re: f64,
    pub im: f64,
}

impl C {
    pub const ZERO: C = C { re: 0.0, im: 0.0 };

    pub fn new(re: f64, im: f64) -> C {
        C { re, im }
    }
    /// e^{i theta}.
    fn cis(theta: f64) -> C {
        let (s, c) = theta.sin_cos();
        C { re: c, im: s }
    }
    #[inline(always)]
    fn mul(self, o: C) -> C {
        C {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }
    #[inline(always)]
    fn add(self, o: C) -> C {
        C {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }
    #[inline(always)]
    fn sub(self, o: C) -> C {
        C {
            re: self.re - o.re,
            im: self.im - o.im,
        }
    }
    #[inline(always)]
    fn conj(self) -> C {
        C {
            re: self.re,
            im: -self.im,
        }
    }
}

/// Radix-2 transform of a power-of-two length: bit-reversal permutation, then log2(n)
/// butterfly passes with precomputed twiddles.
struct Pow2 {
    n: usize,
    /// e^{-2 pi i k / n}, k < n / 2.
    twiddle: Vec<C>,
    rev: Vec<usize>,
}

impl Pow2 {
    fn new(n: usize) -> Pow2 {
        debug_assert!(n.is_power_of_two());
        let bits = n.trailing_zeros();
        let rev = (0..n)
            .map(|i| {
                if bits == 0 {
                    0
                } else {
                    i.reverse_bits() >> (usize::BITS - bits)
                }
            })
            .collect();
        let twiddle = (0..n / 2)
            .map(|k| C::cis(-2.0 * PI * k as f64 / n as f64))
            .collect();
        Pow2 { n, twiddle, rev }
    }

    /// Forward transform of `a` (length n) in place.
    fn run(&self, a: &mut [C]) {
        let n = self.n;
        for i in 0..n {
            let j = self.rev[i];
            if i < j {
                a.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= n {
            let half = len / 2;
            let step = n / len;
            for block in a.chunks_exact_mut(len) {
                let (lo, hi) = block.split_at_mut(half);
                for (k, (u, v)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
                    let t = v.mul(self.twiddle[k * step]);
                    (*u, *v) = (u.add(t), u.sub(t));
                }
            }
            len <<= 1;
        }
    }
}

enum Algo {
    Pow2(Pow2),
    /// X_k = c_k * sum_j (x_j c_j) conj(c_{k-j}) with the chirp c_j = e^{-pi i j^2 / n}
    /// (from jk = (j^2 + k^2 - (k-j)^2) / 2): a convolution of length m = 2^p >= 2n - 1.
    Bluestein {
        inner: Pow2,
        chirp: Vec<C>,
        /// Forward transform of the zero-padded, wrapped conj(chirp), scaled by 1/m so the
        /// inverse transform of the product needs no further scaling.
        filter: Vec<C>,
    },
}

/// A DFT of one length, reusable across rows (and threads).
pub struct Plan {
    n: usize,
    algo: Algo,
}

impl Plan {
    pub fn new(n: usize) -> Plan {
        if n.is_power_of_two() || n == 0 {
            return Plan {
                n,
                algo: Algo::Pow2(Pow2::new(n.max(1))),
            };
        }
        let m = (2 * n - 1).next_power_of_two();
        let inner = Pow2::new(m);
        // j^2 mod 2n keeps the angle small, so the chirp stays accurate for large j.
        let two_n = 2 * n as u128;
        let chirp: Vec<C> = (0..n)
            .map(|j| {
                let q = (j as u128 * j as u128) % two_n;
                C::cis(-PI * q as f64 / n as f64)
            })
            .collect();
        let mut filter = vec![C::ZERO; m];
        filter[0] = chirp[0].conj();
        for j in 1..n {
            filter[j] = chirp[j].conj();
            filter[m - j] = chirp[j].conj();
        }
        inner.run(&mut filter);
        let scale = 1.0 / m as f64;
        for f in &mut filter {
            *f = C::new(f.re * scale, f.im * scale);
        }
        Plan {
            n,
            algo: Algo::Bluestein {
                inner,
                chirp,
                filter,
            },
        }
    }

    /// Length of the scratch buffer `forward`/`inverse` need.
    pub fn scratch_len(&self) -> usize {
        match &self.algo {
            Algo::Pow2(_) => 0,
            Algo::Bluestein { inner, .. } => inner.n,
        }
    }

    /// X_k = sum_j x_j e^{-2 pi i jk / n}, in place; `scratch` has `scratch_len()` elements.
    pub fn forward(&self, x: &mut [C], scratch: &mut [C]) {
        if self.n == 0 {
            return;
        }
        match &self.algo {
            Algo::Pow2(p) => p.run(x),
            Algo::Bluestein {
                inner,
                chirp,
                filter,
            } => {
                let a = &mut scratch[..inner.n];
                for (i, s) in a.iter_mut().enumerate() {
                    *s = if i < self.n {
                        x[i].mul(chirp[i])
                    } else {
                        C::ZERO
                    };
                }
                inner.run(a);
                // Inverse transform of the product through conj(forward(conj(.))).
                for (s, f) in a.iter_mut().zip(filter) {
                    *s = s.mul(*f).conj();
                }
                inner.run(a);
                for ((xk, s), c) in x.iter_mut().zip(a.iter()).zip(chirp) {
                    *xk = s.conj().mul(*c);
                }
            }
        }
    }

    /// x_j = sum_k X_k e^{+2 pi i jk / n} (unnormalised), in place.
    pub fn inverse(&self, x: &mut [C], scratch: &mut [C]) {
        for v in x.iter_mut() {
            *v = v.conj();
        }
        self.forward(x, scratch);
        for v in x.iter_mut() {
            *v = v.conj();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[C], sign: f64) -> Vec<C> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter().enumerate().fold(C::ZERO, |acc, (j, v)| {
                    let q = (j * k) % n;
                    acc.add(v.mul(C::cis(sign * 2.0 * PI * q as f64 / n as f64)))
                })
            })
            .collect()
    }

    fn signal(n: usize) -> Vec<C> {
        (0..n)
            .map(|i| {
                C::new(
                    (i as f64 * 0.37).sin() + 0.1 * i as f64,
                    (i as f64 * 1.3).cos(),
                )
            })
            .collect()
    }

    #[test]
    fn matches_the_naive_dft_for_every_length_up_to_70() {
        for n in 0..=70 {
            let plan = Plan::new(n);
            let mut scratch = vec![C::ZERO; plan.scratch_len()];
            let x = signal(n);
            for (sign, inverse) in [(-1.0, false), (1.0, true)] {
                let mut got = x.clone();
                if inverse {
                    plan.inverse(&mut got, &mut scratch);
                } else {
                    plan.forward(&mut got, &mut scratch);
                }
                let want = naive(&x, sign);
                for (g, w) in got.iter().zip(&want) {
                    let tol = 1e-10 * (n as f64 + 1.0);
                    assert!(
                        (g.re - w.re).abs() < tol && (g.im - w.im).abs() < tol,
                        "n={n} inverse={inverse}: {g:?} vs {w:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn large_lengths_round_trip() {
        for n in [1000, 1024, 4099] {
            let plan = Plan::new(n);
            let mut scratch = vec![C::ZERO; plan.scratch_len()];
            let x = signal(n);
            let mut y = x.clone();
            plan.forward(&mut y, &mut scratch);
            plan.inverse(&mut y, &mut scratch);
            for (a, b) in x.iter().zip(&y) {
                assert!((a.re - b.re / n as f64).abs() < 1e-9);
                assert!((a.im - b.im / n as f64).abs() < 1e-9);
            }
        }
    }
}
