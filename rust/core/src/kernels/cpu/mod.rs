//! CPU kernels: plain loops the compiler vectorises, split over the intra-op pool when large.

pub mod blas;
pub mod cast;
pub mod conv;
pub mod elemwise;
pub mod gemm;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod strided;

use crate::runtime::rt;
use rayon::prelude::*;

/// Below this many elements a loop runs on one thread.
pub const PAR_MIN: usize = 1 << 16;

/// A raw pointer that may cross threads; kernels split disjoint ranges between tasks.
#[derive(Clone, Copy)]
pub struct Ptr<T>(pub *mut T);
// SAFETY: each parallel task touches a disjoint range (or only reads), which kernels ensure.
unsafe impl<T> Send for Ptr<T> {}
unsafe impl<T> Sync for Ptr<T> {}

impl<T> Ptr<T> {
    #[inline(always)]
    pub fn get(self) -> *mut T {
        self.0
    }
}

/// Calls `f(begin, end)` over `[0, n)` in chunks, in parallel when `n * work` is large.
pub fn par_ranges(n: usize, work_per_item: usize, f: impl Fn(usize, usize) + Sync + Send) {
    let total = n.saturating_mul(work_per_item.max(1));
    let threads = rt().pool.current_num_threads();
    if total < PAR_MIN || threads <= 1 || n < 2 {
        f(0, n);
        return;
    }
    let chunks = (threads * 4).min(n).min(total / (PAR_MIN / 4)).max(2);
    let step = n.div_ceil(chunks);
    rt().pool.install(|| {
        (0..chunks).into_par_iter().for_each(|c| {
            let b = c * step;
            let e = ((c + 1) * step).min(n);
            if b < e {
                f(b, e);
            }
        })
    });
}
