//! CPU kernels: plain loops the compiler vectorises, split over the intra-op pool when large.

pub mod blas;
pub mod cast;
pub mod conv;
pub mod crop_normalize;
pub mod cv_resize;
pub mod depthwise;
pub mod elemwise;
pub mod fft;
pub mod gemm;
pub mod halves;
pub mod igemm;
pub mod keysort;
pub mod norm;
pub mod pool;
pub mod pow;
pub mod qconv;
pub mod reduce;
pub mod skinny;
pub mod special;
pub mod stream;
pub mod strided;
pub mod trig;

use crate::engine::cores;
use crate::runtime::rt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

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

/// A vector instruction set a loop can be compiled for, picked at run time: the wheel targets
/// baseline x86-64 (four f32 lanes), and compute-bound loops gain about 2x per doubling of
/// lanes. No build contracts `a * b + c` into a fused multiply-add (Rust never does), so all
/// round alike and give bit-identical results. The variants are ordered by width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    Base,
    Avx2,
    /// AVX-512 with the byte/word, double/quad and 256-bit-encoding extensions that every
    /// AVX-512 server core since Skylake-SP and Zen 4 has.
    Avx512,
}

impl Simd {
    /// The widest this CPU runs.
    #[inline(always)]
    pub fn best() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512bw") && has!("avx512dq") && has!("avx512vl") {
                return Simd::Avx512;
            }
            if has!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::Base
    }

    /// Runs `f` compiled for this instruction set: `f` and what it inlines are built again
    /// inside a function that enables it. Mark the closure `#[inline(always)]`: left a call,
    /// it is built once, for the baseline, and the loop inside runs at baseline width.
    ///
    /// # Safety
    /// The CPU supports `self` (it is `Simd::best()` or narrower).
    #[inline(always)]
    pub unsafe fn run<R>(self, f: impl FnOnce() -> R) -> R {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
            unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            match self {
                Simd::Base => f(),
                Simd::Avx2 => avx2(f),
                Simd::Avx512 => avx512(f),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        f()
    }
}

/// `f` in the widest build this CPU runs (see [`Simd::run`]).
#[inline(always)]
pub fn widest<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: `best` is supported by definition.
    unsafe { Simd::best().run(f) }
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
    par_for(n.div_ceil(step), |c| {
        let b = c * step;
        let e = ((c + 1) * step).min(n);
        if b < e {
            f(b, e);
        }
    });
}

/// Runs `f(0) .. f(chunks - 1)`, each once, on the calling thread and on pool threads that
/// join in. The caller never waits for a pool thread to wake: it works through the chunks
/// itself, and only waits for helpers that have already taken one. Waking a sleeping thread
/// costs tens of microseconds on a virtual machine, longer than a medium-sized op takes, so
/// handing the whole op to the pool (and blocking until it is done) made such ops slower
/// than running them on one thread. A helper takes a chunk only while a core is free of
/// other ops and helpers ([`crate::engine::cores`]): independent ops side by side already
/// fill the cores, and splitting them as well only makes threads contend for the same ones.
pub fn par_for(chunks: usize, f: impl Fn(usize) + Sync) {
    let threads = rt().pool.current_num_threads();
    let helpers = threads.min(chunks).saturating_sub(1);
    if helpers == 0 {
        (0..chunks).for_each(f);
        return;
    }
    let f: &(dyn Fn(usize) + Sync) = &f;
    // SAFETY: helpers dereference `body` only between joining (under the lock, while the
    // job is open) and leaving; the caller closes the job and waits for every joined helper
    // to leave before returning, so `f` outlives every use.
    let body: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(f) };
    let job = Arc::new(Job {
        next: AtomicUsize::new(0),
        chunks,
        capacity: threads,
        state: Mutex::new(JobState {
            open: true,
            active: 0,
            panic: None,
        }),
        left: Condvar::new(),
        body,
    });
    cores::helpers_sent(helpers);
    for _ in 0..helpers {
        let job = Arc::clone(&job);
        rt().pool.spawn(move || {
            cores::helper_started();
            job.help()
        });
    }
    // Closes the job and waits for joined helpers even if a chunk here panics.
    struct Close<'a>(&'a Job);
    impl Drop for Close<'_> {
        fn drop(&mut self) {
            lock(&self.0.state).open = false;
            // Helpers still waiting for a core should leave now, not at their next nap (and
            // without this lock held: a sleeping helper checks the job under the sleep lock).
            cores::wake_helpers();
            // A joined helper is inside a chunk that ends soon: blocking now would add this
            // thread's wake-up (tens of microseconds on a VM) to the op.
            let spin = std::time::Instant::now();
            while lock(&self.0.state).active > 0 && spin.elapsed() < CLOSE_SPIN {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
            }
            // Blocked, this thread lends its core to the helpers' own nested work (taken
            // outside the job's lock, like every wake-up).
            let helped = lock(&self.0.state).active > 0;
            let _lent = helped.then(cores::lend_core);
            let mut st = lock(&self.0.state);
            while st.active > 0 {
                st = self.0.left.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
        }
    }
    let close = Close(&job);
    while let Some(c) = job.take() {
        (job.body)(c);
    }
    drop(close);
    let panic = lock(&job.state).panic.take();
    if let Some(p) = panic {
        std::panic::resume_unwind(p);
    }
}

/// How long a caller that has finished its share spins for joined helpers before blocking.
const CLOSE_SPIN: std::time::Duration = std::time::Duration::from_micros(100);

struct Job {
    next: AtomicUsize,
    chunks: usize,
    /// Threads meant to be busy at once (the pool's size).
    capacity: usize,
    state: Mutex<JobState>,
    left: Condvar,
    body: &'static (dyn Fn(usize) + Sync),
}

struct JobState {
    /// False once the caller has finished its share: late helpers must not start.
    open: bool,
    /// Helpers that joined and have not left.
    active: usize,
    /// A helper's panic, re-raised on the calling thread (where the engine reports it).
    panic: Option<Box<dyn std::any::Any + Send>>,
}

impl Job {
    fn take(&self) -> Option<usize> {
        let c = self.next.fetch_add(1, Ordering::Relaxed);
        (c < self.chunks).then_some(c)
    }

    fn wanted(&self) -> bool {
        self.next.load(Ordering::Relaxed) < self.chunks && lock(&self.state).open
    }

    /// One chunk at a time, each on a core claimed for it.
    fn help(&self) {
        while let Some(_core) = cores::enter_helper(self.capacity, || self.wanted()) {
            {
                let mut st = lock(&self.state);
                if !st.open {
                    return;
                }
                st.active += 1;
            }
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if let Some(c) = self.take() {
                    (self.body)(c);
                }
            }));
            let mut st = lock(&self.state);
            st.active -= 1;
            if let Err(p) = res {
                st.panic.get_or_insert(p);
            }
            if st.active == 0 {
                self.left.notify_all();
            }
        }
    }
}

/// A kernel panicking inside a chunk poisons nothing this code relies on.
fn lock(m: &Mutex<JobState>) -> MutexGuard<'_, JobState> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_for_runs_every_chunk_once() {
        for chunks in [0, 1, 2, 3, 17, 1000] {
            let seen: Vec<AtomicUsize> = (0..chunks).map(|_| AtomicUsize::new(0)).collect();
            par_for(chunks, |c| {
                seen[c].fetch_add(1, Ordering::Relaxed);
            });
            assert!(
                seen.iter().all(|s| s.load(Ordering::Relaxed) == 1),
                "{chunks} chunks"
            );
        }
    }

    #[test]
    fn par_for_back_to_back_from_several_threads_runs_every_chunk_once() {
        // Three callers close their jobs back to back (spinning for, then blocking on, the
        // helpers that joined): no chunk may be run twice or skipped, and no close may hang.
        std::thread::scope(|s| {
            for t in 0..3 {
                s.spawn(move || {
                    for round in 0..300 {
                        let chunks = 1 + (round * 7 + t) % 23;
                        let seen: Vec<AtomicUsize> =
                            (0..chunks).map(|_| AtomicUsize::new(0)).collect();
                        par_for(chunks, |c| {
                            if round % 50 == 0 {
                                std::thread::sleep(std::time::Duration::from_micros(300));
                            }
                            seen[c].fetch_add(1, Ordering::Relaxed);
                        });
                        assert!(seen.iter().all(|x| x.load(Ordering::Relaxed) == 1));
                    }
                });
            }
        });
    }

    #[test]
    fn par_for_nested_in_the_pool_completes() {
        let total = AtomicUsize::new(0);
        rt().pool.install(|| {
            par_for(8, |_| {
                par_for(8, |_| {
                    total.fetch_add(1, Ordering::Relaxed);
                })
            })
        });
        assert_eq!(total.load(Ordering::Relaxed), 64);
    }

    #[test]
    fn par_for_reraises_a_chunk_panic_on_the_caller() {
        let r = std::panic::catch_unwind(|| {
            par_for(64, |c| {
                if c % 7 == 3 {
                    panic!("chunk {c}");
                }
            })
        });
        assert!(r.is_err());
        // The pool still works afterwards.
        let n = AtomicUsize::new(0);
        par_for(16, |_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 16);
    }

    #[test]
    fn par_for_stays_on_the_caller_while_ops_fill_the_cores() {
        let busy: Vec<_> = (0..rt().pool.current_num_threads())
            .map(|_| cores::op_running())
            .collect();
        let me = std::thread::current().id();
        let others = AtomicUsize::new(0);
        par_for(64, |_| {
            if std::thread::current().id() != me {
                others.fetch_add(1, Ordering::Relaxed);
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        });
        busy.into_iter().rev().for_each(drop);
        assert_eq!(others.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn par_ranges_covers_the_range_in_order_per_chunk() {
        let n = 1 << 20;
        let hit: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
        par_ranges(n, 1, |b, e| {
            for h in &hit[b..e] {
                h.fetch_add(1, Ordering::Relaxed);
            }
        });
        assert!(hit.iter().all(|h| h.load(Ordering::Relaxed) == 1));
    }
}
