//! Sorting of 32-bit unsigned keys with AVX2: a quicksort whose partition step moves eight
//! keys at a time (compare, then one lane permutation from a table), and whose pieces of at
//! most 64 keys are finished by a sorting network held in registers. Keys only: equal keys
//! are interchangeable, so stability does not arise.

/// Sorts `v` ascending; `tmp` is scratch space.
pub fn sort_u32(v: &mut [u32], tmp: &mut Vec<u32>) {
    #[cfg(target_arch = "x86_64")]
    if v.len() > SMALL
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("popcnt")
    {
        tmp.resize(v.len(), 0);
        let depth = 2 * (usize::BITS - v.len().leading_zeros());
        // SAFETY: the CPU has AVX2; tmp is as long as v.
        unsafe { avx2::quicksort(v, tmp, false, depth) };
        return;
    }
    v.sort_unstable();
}

/// Below this many keys the library sort is as fast.
const SMALL: usize = 16;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Pieces at most this long are sorted by the register network.
    const NET: usize = 64;

    /// For each 8-bit mask of lanes that hold keys at or above the pivot, the lane order
    /// that puts the other lanes first and those last, each group in its original order.
    static COMPRESS: [[u32; 8]; 256] = {
        let mut t = [[0u32; 8]; 256];
        let mut m = 0;
        while m < 256 {
            let mut k = 0;
            let mut i = 0;
            while i < 8 {
                if m >> i & 1 == 0 {
                    t[m][k] = i as u32;
                    k += 1;
                }
                i += 1;
            }
            i = 0;
            while i < 8 {
                if m >> i & 1 == 1 {
                    t[m][k] = i as u32;
                    k += 1;
                }
                i += 1;
            }
            m += 1;
        }
        t
    };

    /// Sorts the keys of `a` into `a` (`into_b` false) or into `b` (true); the other
    /// slice, as long, is scratch. Each partition moves the keys from one slice to the
    /// other, so the pieces alternate between them and no pass copies back.
    #[target_feature(enable = "avx2,popcnt")]
    pub unsafe fn quicksort(a: &mut [u32], b: &mut [u32], into_b: bool, depth: u32) {
        let n = a.len();
        if n <= NET {
            if into_b {
                network64(a.as_ptr(), b.as_mut_ptr(), n);
            } else if n > 1 {
                network64(a.as_ptr(), a.as_mut_ptr(), n);
            }
            return;
        }
        if depth == 0 {
            a.sort_unstable();
            if into_b {
                b.copy_from_slice(a);
            }
            return;
        }
        let p = pivot(a);
        let mut lt = partition(a, b, p);
        let mut done = 0;
        if lt == 0 {
            // The pivot is the least key: split off the keys equal to it instead, which
            // need no sorting.
            if p == u32::MAX {
                if !into_b {
                    return;
                }
                b.copy_from_slice(a);
                return;
            }
            lt = partition(a, b, p + 1);
            done = lt;
            if !into_b {
                a[..lt].copy_from_slice(&b[..lt]);
            }
        }
        // The pieces are in b now: sorting them into a puts them where `into_b` false
        // wants them.
        let (al, ar) = a.split_at_mut(lt);
        let (bl, br) = b.split_at_mut(lt);
        if done == 0 {
            quicksort(bl, al, !into_b, depth - 1);
        }
        quicksort(br, ar, !into_b, depth - 1);
    }

    /// The median of three medians of three keys spread over `v` (at least 64 long).
    fn pivot(v: &[u32]) -> u32 {
        let step = v.len() / 9;
        let at = |i: usize| v[step / 2 + i * step];
        let med = |a: u32, b: u32, c: u32| a.max(b).min(a.min(b).max(c));
        med(
            med(at(0), at(1), at(2)),
            med(at(3), at(4), at(5)),
            med(at(6), at(7), at(8)),
        )
    }

    /// Moves the keys of `v` into `tmp`, those below `p` first and the rest after them;
    /// returns how many are below.
    #[target_feature(enable = "avx2,popcnt")]
    unsafe fn partition(v: &[u32], tmp: &mut [u32], p: u32) -> usize {
        let n = v.len();
        let (src, dst) = (v.as_ptr(), tmp.as_mut_ptr());
        let flip = _mm256_set1_epi32(i32::MIN);
        // Signed comparison of keys with their top bit flipped orders them as unsigned.
        let pv = _mm256_set1_epi32((p ^ 1 << 31) as i32);
        let (mut lo, mut hi, mut i) = (0usize, n, 0usize);
        // hi - lo, the free slots, is n - i; while at least 16 are free the two 8-lane
        // stores cannot meet.
        while i + 16 <= n {
            let x = _mm256_loadu_si256(src.add(i) as *const __m256i);
            let below = _mm256_cmpgt_epi32(pv, _mm256_xor_si256(x, flip));
            let ge = !_mm256_movemask_ps(_mm256_castsi256_ps(below)) as usize & 255;
            let order = _mm256_loadu_si256(COMPRESS[ge].as_ptr() as *const __m256i);
            let y = _mm256_permutevar8x32_epi32(x, order);
            let high = ge.count_ones() as usize;
            _mm256_storeu_si256(dst.add(lo) as *mut __m256i, y);
            _mm256_storeu_si256(dst.add(hi - 8) as *mut __m256i, y);
            lo += 8 - high;
            hi -= high;
            i += 8;
        }
        for &x in &v[i..] {
            // Both slots are free (or the same one); no branch to mispredict.
            *dst.add(lo) = x;
            *dst.add(hi - 1) = x;
            let below = (x < p) as usize;
            lo += below;
            hi -= 1 - below;
        }
        lo
    }

    /// Sorts the eight lanes of a vector whose lanes rise then fall (or fall then rise).
    #[inline(always)]
    unsafe fn clean1(v: __m256i) -> __m256i {
        let p = _mm256_permute2x128_si256(v, v, 1);
        let v = _mm256_blend_epi32(_mm256_min_epu32(v, p), _mm256_max_epu32(v, p), 0xF0);
        let p = _mm256_shuffle_epi32(v, 0x4E);
        let v = _mm256_blend_epi32(_mm256_min_epu32(v, p), _mm256_max_epu32(v, p), 0xCC);
        let p = _mm256_shuffle_epi32(v, 0xB1);
        _mm256_blend_epi32(_mm256_min_epu32(v, p), _mm256_max_epu32(v, p), 0xAA)
    }

    /// Sorts the bitonic run r[at..at + h] (h vectors, h a power of two).
    #[inline(always)]
    unsafe fn clean(r: &mut [__m256i; 8], at: usize, h: usize) {
        let mut d = h / 2;
        while d > 0 {
            for i in at..at + h {
                if ((i - at) / d).is_multiple_of(2) {
                    let (a, b) = (r[i], r[i + d]);
                    r[i] = _mm256_min_epu32(a, b);
                    r[i + d] = _mm256_max_epu32(a, b);
                }
            }
            d /= 2;
        }
        for x in &mut r[at..at + h] {
            *x = clean1(*x);
        }
    }

    /// Merges the sorted runs r[at..at + h] and r[at + h..at + 2h] into one.
    #[inline(always)]
    unsafe fn merge(r: &mut [__m256i; 8], at: usize, h: usize) {
        let rev = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
        // The first run against the second read backwards: the lesser of each pair form one
        // bitonic run, the greater another wholly above it.
        let mut high = [_mm256_setzero_si256(); 4];
        for j in 0..h {
            let b = _mm256_permutevar8x32_epi32(r[at + 2 * h - 1 - j], rev);
            high[j] = _mm256_max_epu32(r[at + j], b);
            r[at + j] = _mm256_min_epu32(r[at + j], b);
        }
        r[at + h..at + 2 * h].copy_from_slice(&high[..h]);
        clean(r, at, h);
        clean(r, at + h, h);
    }

    /// Sorts the n <= 64 keys at `src` into `out` (the same place or a disjoint one): eight
    /// vectors, padded with the greatest key, are sorted lane by lane by a 19-comparator
    /// network, transposed into eight sorted runs, and merged.
    #[target_feature(enable = "avx2,popcnt")]
    unsafe fn network64(src: *const u32, out: *mut u32, n: usize) {
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let ones = _mm256_set1_epi32(-1);
        let mut r = [_mm256_setzero_si256(); 8];
        for (i, x) in r.iter_mut().enumerate() {
            // Lanes past the n keys are not read, and hold the greatest key instead.
            let live = _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32 - 8 * i as i32), lane);
            let at = src.wrapping_add(8 * i) as *const i32;
            *x = _mm256_or_si256(
                _mm256_maskload_epi32(at, live),
                _mm256_andnot_si256(live, ones),
            );
        }
        const PAIRS: [(usize, usize); 19] = [
            (0, 2),
            (1, 3),
            (4, 6),
            (5, 7),
            (0, 4),
            (1, 5),
            (2, 6),
            (3, 7),
            (0, 1),
            (2, 3),
            (4, 5),
            (6, 7),
            (2, 4),
            (3, 5),
            (1, 4),
            (3, 6),
            (1, 2),
            (3, 4),
            (5, 6),
        ];
        for (a, b) in PAIRS {
            let (x, y) = (r[a], r[b]);
            r[a] = _mm256_min_epu32(x, y);
            r[b] = _mm256_max_epu32(x, y);
        }
        transpose(&mut r);
        for at in [0, 2, 4, 6] {
            merge(&mut r, at, 1);
        }
        merge(&mut r, 0, 2);
        merge(&mut r, 4, 2);
        merge(&mut r, 0, 4);
        let (full, rest) = (n / 8, n % 8);
        for (i, x) in r[..full].iter().enumerate() {
            _mm256_storeu_si256(out.add(8 * i) as *mut __m256i, *x);
        }
        if rest > 0 {
            let mut last = [0u32; 8];
            _mm256_storeu_si256(last.as_mut_ptr() as *mut __m256i, r[full]);
            std::ptr::copy_nonoverlapping(last.as_ptr(), out.add(8 * full), rest);
        }
    }

    /// Transposes the 8x8 matrix of lanes: row i becomes column i.
    #[inline(always)]
    unsafe fn transpose(r: &mut [__m256i; 8]) {
        let t = [
            _mm256_unpacklo_epi32(r[0], r[1]),
            _mm256_unpackhi_epi32(r[0], r[1]),
            _mm256_unpacklo_epi32(r[2], r[3]),
            _mm256_unpackhi_epi32(r[2], r[3]),
            _mm256_unpacklo_epi32(r[4], r[5]),
            _mm256_unpackhi_epi32(r[4], r[5]),
            _mm256_unpacklo_epi32(r[6], r[7]),
            _mm256_unpackhi_epi32(r[6], r[7]),
        ];
        let u = [
            _mm256_unpacklo_epi64(t[0], t[2]),
            _mm256_unpackhi_epi64(t[0], t[2]),
            _mm256_unpacklo_epi64(t[1], t[3]),
            _mm256_unpackhi_epi64(t[1], t[3]),
            _mm256_unpacklo_epi64(t[4], t[6]),
            _mm256_unpackhi_epi64(t[4], t[6]),
            _mm256_unpacklo_epi64(t[5], t[7]),
            _mm256_unpackhi_epi64(t[5], t[7]),
        ];
        for i in 0..4 {
            r[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
            r[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sort_u32;

    /// Against the library sort: every length up to a few networks and partitions deep, and
    /// inputs that trouble quicksorts (runs, reversals, few distinct keys, the extreme keys).
    #[test]
    fn matches_library_sort() {
        let mut seed = 99u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut tmp = Vec::new();
        for trial in 0..6000 {
            let n = if trial % 50 == 0 {
                5000 + trial
            } else {
                trial % 700
            };
            let kind = trial % 7;
            let mut v: Vec<u32> = (0..n)
                .map(|i| match kind {
                    0 => rnd() as u32,
                    1 => (rnd() % 5) as u32,
                    2 => i as u32,
                    3 => (n - i) as u32,
                    4 => [0, u32::MAX][(rnd() % 2) as usize],
                    5 => u32::MAX - (rnd() % 3) as u32,
                    _ => (i % 37) as u32 * 1000 + (rnd() % 2) as u32,
                })
                .collect();
            let mut want = v.clone();
            want.sort_unstable();
            sort_u32(&mut v, &mut tmp);
            assert_eq!(v, want, "trial {trial}, length {n}, kind {kind}");
        }
    }
}
