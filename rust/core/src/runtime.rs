//! Process-wide state: the engine, the memory pools, the intra-op thread pool and the random
//! generators. Everything lives in one `Runtime` so a forked child can get a fresh one
//! (threads do not survive `fork`) without touching locks another thread might have held.

use crate::engine::Engine;
use crate::random::Generators;
use crate::storage::CpuPool;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Mutex;

pub struct Runtime {
    pub engine: Engine,
    pub cpu_pool: CpuPool,
    /// Intra-op parallelism; sized with the engine workers so the two never oversubscribe.
    pub pool: rayon::ThreadPool,
    pub rng: Generators,
    pub num_cores: usize,
}

static RUNTIME: AtomicPtr<Runtime> = AtomicPtr::new(std::ptr::null_mut());
static INIT: Mutex<()> = Mutex::new(());

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n| n > 0)
}

fn build() -> Runtime {
    let num_cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let intra = env_usize("OMP_NUM_THREADS").unwrap_or(num_cores);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(intra)
        .thread_name(|i| format!("oxnet-intra-{i}"))
        .build()
        .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
        .unwrap_or_else(|e| panic!("cannot start any thread: {e}"));
    Runtime {
        engine: Engine::from_env(num_cores),
        cpu_pool: CpuPool::new(),
        pool,
        rng: Generators::new(),
        num_cores,
    }
}

/// The process runtime, started on first use.
pub fn rt() -> &'static Runtime {
    let p = RUNTIME.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: runtimes are leaked, never freed, so the pointer stays valid forever.
        return unsafe { &*p };
    }
    let _g = INIT.lock().unwrap_or_else(|e| e.into_inner());
    let p = RUNTIME.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: as above.
        return unsafe { &*p };
    }
    let fresh = Box::into_raw(Box::new(build()));
    RUNTIME.store(fresh, Ordering::Release);
    // SAFETY: just leaked.
    unsafe { &*fresh }
}

/// Whether the runtime has been started (used to skip work in fork handlers).
pub fn started() -> bool {
    !RUNTIME.load(Ordering::Acquire).is_null()
}

/// In a forked child: abandon the parent's runtime (its threads are gone) and start anew on
/// next use. The parent drained its engine before forking, so no lock was held.
pub fn reset_after_fork() {
    let old = RUNTIME.swap(std::ptr::null_mut(), Ordering::AcqRel);
    // The old runtime is deliberately leaked: its thread handles refer to threads that do not
    // exist in this process, so dropping it could block.
    let _ = old;
    // Helpers the parent had sent to its pool will never start here.
    crate::engine::cores::forget_starting_helpers();
}
