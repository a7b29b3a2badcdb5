//! Seeded random streams per context (`mx.random.seed`). An op draws one 64-bit sub-seed at
//! push time, in program order, so results do not depend on how the engine schedules it.

use crate::context::Context;
use std::collections::HashMap;
use std::sync::Mutex;

pub struct Generators {
    state: Mutex<(u64, HashMap<Context, u64>)>,
}

pub fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Generators {
    pub fn new() -> Self {
        Generators {
            state: Mutex::new((0, HashMap::new())),
        }
    }

    /// Seeds every context (`ctx=None`) or one.
    pub fn seed(&self, seed: u64, ctx: Option<Context>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match ctx {
            None => {
                st.0 = seed;
                st.1.clear();
            }
            Some(c) => {
                st.1.insert(c, seed ^ 0x5851_F42D_4C95_7F2D);
            }
        }
    }

    /// Next sub-seed for an op on `ctx`.
    pub fn next(&self, ctx: Context) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let base = st.0;
        let s = st.1.entry(ctx).or_insert_with(|| {
            let mut x = base ^ ((ctx.dev_type.code() as u64) << 32 | ctx.dev_id as u64);
            splitmix64(&mut x)
        });
        splitmix64(s)
    }
}

impl Default for Generators {
    fn default() -> Self {
        Self::new()
    }
}

/// xoshiro256++: the per-block generator kernels use (fast, good statistical quality).
pub struct Xoshiro([u64; 4]);

impl Xoshiro {
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut x = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Xoshiro([
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ])
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let r = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        r
    }

    /// Uniform in [0, 1) with 53 bits.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        unit_f64(self.next_u64())
    }
}

/// The uniform in [0, 1) of one 64-bit draw: its top 53 bits times 2^-53, exactly. Built
/// from bits, as the top 52 over 1.0's exponent (minus 1) plus the 53rd times 2^-53, since
/// x86 has no vector conversion from 64-bit integers below AVX-512.
#[inline(always)]
pub fn unit_f64(r: u64) -> f64 {
    const ONE: u64 = 0x3FF0_0000_0000_0000;
    const HALF_ULP: u64 = (1023 - 53) << 52; // 2^-53
    let top = f64::from_bits(ONE | r >> 12) - 1.0;
    top + f64::from_bits((r >> 11 & 1).wrapping_neg() & HALF_ULP)
}

/// Four xoshiro256++ generators stepped together: lane `l` yields exactly the numbers of
/// `Xoshiro::new(seed, first + l)`. One generator is a serial chain of dependent shifts and
/// xors; four side by side fill one AVX2 register per state word.
pub struct Xoshiro4([[u64; 4]; 4]);

impl Xoshiro4 {
    pub const LANES: usize = 4;

    pub fn new(seed: u64, first: u64) -> Self {
        let mut s = [[0u64; 4]; 4];
        for l in 0..Self::LANES {
            let g = Xoshiro::new(seed, first + l as u64);
            for (k, row) in s.iter_mut().enumerate() {
                row[l] = g.0[k];
            }
        }
        Xoshiro4(s)
    }

    #[inline(always)]
    pub fn next_u64(&mut self) -> [u64; 4] {
        let [s0, s1, s2, s3] = &mut self.0;
        let mut r = [0u64; 4];
        for l in 0..4 {
            r[l] = s0[l]
                .wrapping_add(s3[l])
                .rotate_left(23)
                .wrapping_add(s0[l]);
            let t = s1[l] << 17;
            s2[l] ^= s0[l];
            s3[l] ^= s1[l];
            s1[l] ^= s2[l];
            s0[l] ^= s3[l];
            s2[l] ^= t;
            s3[l] = s3[l].rotate_left(45);
        }
        r
    }

    /// Fills `cols[l]` with lane l's next `N` draws (N a multiple of 4).
    pub fn fill<const N: usize>(&mut self, cols: &mut [[u64; N]; 4]) {
        #[cfg(target_arch = "x86_64")]
        if N.is_multiple_of(4) && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2.
            unsafe { self.fill_avx2(cols) };
            return;
        }
        for j in 0..N {
            let r = self.next_u64();
            for (c, v) in cols.iter_mut().zip(r) {
                c[j] = v;
            }
        }
    }

    /// `fill` in AVX2 registers, written out (left to the autovectoriser, the lanes'
    /// rotations went through scalar registers and back): four steps, one register each,
    /// then a 4x4 transpose into the lanes' columns.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn fill_avx2<const N: usize>(&mut self, cols: &mut [[u64; N]; 4]) {
        use std::arch::x86_64::*;
        let load = |a: &[u64; 4]| _mm256_loadu_si256(a.as_ptr() as *const __m256i);
        let [mut s0, mut s1, mut s2, mut s3] = self.0.each_ref().map(load);
        let mut step = || {
            let sum = _mm256_add_epi64(s0, s3);
            let rot = _mm256_or_si256(_mm256_slli_epi64::<23>(sum), _mm256_srli_epi64::<41>(sum));
            let r = _mm256_add_epi64(rot, s0);
            let t = _mm256_slli_epi64::<17>(s1);
            s2 = _mm256_xor_si256(s2, s0);
            s3 = _mm256_xor_si256(s3, s1);
            s1 = _mm256_xor_si256(s1, s2);
            s0 = _mm256_xor_si256(s0, s3);
            s2 = _mm256_xor_si256(s2, t);
            s3 = _mm256_or_si256(_mm256_slli_epi64::<45>(s3), _mm256_srli_epi64::<19>(s3));
            r
        };
        for j in (0..N).step_by(4) {
            let (r0, r1, r2, r3) = (step(), step(), step(), step());
            let (t0, t1) = (_mm256_unpacklo_epi64(r0, r1), _mm256_unpackhi_epi64(r0, r1));
            let (t2, t3) = (_mm256_unpacklo_epi64(r2, r3), _mm256_unpackhi_epi64(r2, r3));
            let lanes = [
                _mm256_permute2x128_si256::<0x20>(t0, t2),
                _mm256_permute2x128_si256::<0x20>(t1, t3),
                _mm256_permute2x128_si256::<0x31>(t0, t2),
                _mm256_permute2x128_si256::<0x31>(t1, t3),
            ];
            for (c, v) in cols.iter_mut().zip(lanes) {
                _mm256_storeu_si256(c[j..j + 4].as_mut_ptr() as *mut __m256i, v);
            }
        }
        for (row, v) in self.0.iter_mut().zip([s0, s1, s2, s3]) {
            _mm256_storeu_si256(row.as_mut_ptr() as *mut __m256i, v);
        }
    }
}

/// `(r >> 11) < below_threshold(p)` exactly when `Xoshiro::next_f64`'s uniform from `r` is
/// below `p`, for p in [0, 1]: the 53-bit integer compared with `p`·2^53 (exact) rounded up.
pub fn below_threshold(p: f64) -> u64 {
    (p.clamp(0.0, 1.0) * (1u64 << 53) as f64).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::{below_threshold, Xoshiro, Xoshiro4};

    #[test]
    fn lanes_draw_the_streams_of_single_generators() {
        let mut lanes = Xoshiro4::new(99, 12);
        let mut singles: Vec<Xoshiro> = (12..16).map(|s| Xoshiro::new(99, s)).collect();
        for _ in 0..1000 {
            let r = lanes.next_u64();
            for (l, g) in singles.iter_mut().enumerate() {
                assert_eq!(r[l], g.next_u64());
            }
        }
        // `fill` (vectorised where the CPU allows) continues the same streams.
        let mut cols = [[0u64; 300]; 4];
        lanes.fill(&mut cols);
        for (c, g) in cols.iter().zip(&mut singles) {
            assert!(c.iter().all(|&v| v == g.next_u64()));
        }
    }

    #[test]
    fn unit_f64_is_the_top_53_bits_over_2_to_53() {
        let mut g = Xoshiro::new(1, 2);
        let edges = [
            0,
            1 << 11,
            1 << 12,
            3 << 11,
            u64::MAX,
            u64::MAX - (1 << 11),
            1 << 63,
        ];
        for r in edges.into_iter().chain((0..100_000).map(|_| g.next_u64())) {
            let want = (r >> 11) as f64 / (1u64 << 53) as f64;
            assert_eq!(super::unit_f64(r).to_bits(), want.to_bits(), "{r:#x}");
        }
    }

    #[test]
    fn threshold_agrees_with_the_float_comparison() {
        let mut g = Xoshiro::new(5, 0);
        let ps = [0.0, 1e-17, 0.1, 0.3, 0.5, 2.0 / 3.0, 0.9, 1.0 - 1e-16, 1.0];
        for &p in &ps {
            let t = below_threshold(p);
            // Draws at and next to the threshold, and random ones.
            let mut xs: Vec<u64> = vec![t.saturating_sub(1), t, t + 1, 0, (1 << 53) - 1];
            xs.extend((0..2000).map(|_| g.next_u64() >> 11));
            for x in xs.into_iter().filter(|&x| x < 1 << 53) {
                let u = x as f64 * (1.0 / (1u64 << 53) as f64);
                assert_eq!(x < t, u < p, "p={p} x={x}");
            }
        }
    }
}
