//! Copies through non-temporal (streaming) stores: they skip reading each destination cache
//! line before overwriting it, which a copy larger than the caches pays for in full.

use super::{par_ranges, Ptr};

/// A whole-array copy at least this large streams its stores. Streaming leaves the copy out of
/// the cache, so the next reader pays: copying 8 MB and reading it back measured 0.97 ms
/// streamed against 0.86 plain, 16 MB 2.40 against 2.64 (plain copies that large evict
/// themselves from the 32 MB L3 anyway). Two 16 MB copies side by side: 1.69 ms against 2.32.
pub const COPY_STREAM_MIN_BYTES: usize = 16 << 20;

/// Copies `bytes` from `src` to `dst` in parallel chunks, streaming when the copy is large.
///
/// # Safety
/// Valid, non-overlapping ranges, not touched by anyone else during the call (inside an op
/// that reads `src` and writes `dst`).
pub unsafe fn copy_par(src: *const u8, dst: *mut u8, bytes: usize) {
    let stream = bytes >= COPY_STREAM_MIN_BYTES;
    let (s, d) = (Ptr(src as *mut u8), Ptr(dst));
    par_ranges(bytes, 1, |b, e| {
        // SAFETY: disjoint byte ranges of the caller's non-overlapping buffers.
        unsafe { copy_bytes(s.get().add(b), d.get().add(b), e - b, stream) };
        if stream {
            store_fence();
        }
    });
}

/// Copies `n` bytes; with `stream`, through non-temporal stores where the CPU has them (the
/// caller then runs [`store_fence`] on this thread before its op finishes).
///
/// # Safety
/// Valid, non-overlapping ranges.
#[inline]
pub unsafe fn copy_bytes(src: *const u8, dst: *mut u8, n: usize, stream: bool) {
    #[cfg(target_arch = "x86_64")]
    if stream {
        if std::arch::is_x86_feature_detected!("avx") {
            stream_copy_avx(src, dst, n);
        } else {
            stream_copy_sse2(src, dst, n);
        }
        return;
    }
    let _ = stream;
    std::ptr::copy_nonoverlapping(src, dst, n);
}

/// Plain copy up to a 32-byte aligned destination, 32-byte streaming stores for the body
/// (10-15 % faster than 16-byte ones here), plain copy of the tail.
///
/// # Safety
/// Valid, non-overlapping ranges; the CPU has AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn stream_copy_avx(src: *const u8, dst: *mut u8, n: usize) {
    use std::arch::x86_64::{__m256i, _mm256_loadu_si256, _mm256_stream_si256};
    let head = dst.align_offset(32).min(n);
    std::ptr::copy_nonoverlapping(src, dst, head);
    let (mut s, mut d) = (src.add(head), dst.add(head));
    let mut left = n - head;
    while left >= 64 {
        let a = _mm256_loadu_si256(s as *const __m256i);
        let b = _mm256_loadu_si256(s.add(32) as *const __m256i);
        _mm256_stream_si256(d as *mut __m256i, a);
        _mm256_stream_si256(d.add(32) as *mut __m256i, b);
        s = s.add(64);
        d = d.add(64);
        left -= 64;
    }
    std::ptr::copy_nonoverlapping(s, d, left);
}

/// As [`stream_copy_avx`] with 16-byte stores (SSE2, part of every x86_64 CPU).
///
/// # Safety
/// Valid, non-overlapping ranges.
#[cfg(target_arch = "x86_64")]
unsafe fn stream_copy_sse2(src: *const u8, dst: *mut u8, n: usize) {
    use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
    let head = dst.align_offset(16).min(n);
    std::ptr::copy_nonoverlapping(src, dst, head);
    let (mut s, mut d) = (src.add(head), dst.add(head));
    let mut left = n - head;
    while left >= 64 {
        for k in (0..64).step_by(16) {
            let v = _mm_loadu_si128(s.add(k) as *const __m128i);
            _mm_stream_si128(d.add(k) as *mut __m128i, v);
        }
        s = s.add(64);
        d = d.add(64);
        left -= 64;
    }
    std::ptr::copy_nonoverlapping(s, d, left);
}

/// Orders this thread's streaming stores before the op is seen as finished by other threads.
#[inline]
pub fn store_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: sfence has no preconditions (SSE, part of every x86_64 CPU).
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_copies_match_plain_ones_at_any_alignment() {
        let src: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
        for off in [0usize, 1, 15, 16, 31, 33] {
            for n in [0usize, 1, 63, 64, 65, 200, 4000] {
                let mut dst = vec![0u8; n + 64];
                // SAFETY: both ranges are inside their buffers and distinct allocations.
                unsafe { copy_bytes(src.as_ptr().add(off), dst.as_mut_ptr().add(off), n, true) };
                store_fence();
                assert_eq!(
                    &dst[off..off + n],
                    &src[off..off + n],
                    "offset {off}, {n} bytes"
                );
                assert!(dst[..off].iter().chain(&dst[off + n..]).all(|&b| b == 0));
            }
        }
    }
}
