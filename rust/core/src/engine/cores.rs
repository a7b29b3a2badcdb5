//! Accounting of the cores: op bodies the engine runs, and intra-op pool threads helping one
//! of them with a chunk. A helper starts a chunk only while the two together leave a core
//! free; otherwise it sleeps until an op or another chunk ends. Deciding once, when an op
//! starts, was wrong whenever a long op began beside a short one: it ran on one thread long
//! after the short one had left its core idle (FullyConnected's backward beside its forward).

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

static RUNNING: AtomicUsize = AtomicUsize::new(0);
static HELPING: AtomicUsize = AtomicUsize::new(0);
/// Helpers handed to the pool that have not started: each is about to claim a core.
static STARTING: AtomicUsize = AtomicUsize::new(0);
/// Helpers asleep in [`enter_helper`]; the mutex only orders sleeping against waking.
static WAITERS: AtomicUsize = AtomicUsize::new(0);
static SLEEP: Mutex<()> = Mutex::new(());
static FREED: Condvar = Condvar::new();

thread_local! {
    /// The count this thread is included in while it holds a core.
    static HELD: Cell<Option<&'static AtomicUsize>> = const { Cell::new(None) };
}

/// A lost wake-up can only delay a helper by this much; it never blocks the op it helps.
const NAP: Duration = Duration::from_millis(1);

/// Counts an op body as running until the guard drops.
pub fn op_running() -> impl Drop {
    hold(&RUNNING)
}

/// Frees this thread's core until the guard drops: a thread that blocks (waiting for the
/// helpers of its own op) must not keep them, or their nested work could not be split.
pub fn lend_core() -> impl Drop {
    let held = HELD.with(|h| h.take());
    if let Some(count) = held {
        count.fetch_sub(1, SeqCst);
        wake_helpers();
    }
    Lent(held)
}

/// Waits until a core is free for one more helper and claims it, or returns `None` as soon
/// as `wanted()` turns false. `capacity` is the number of threads meant to be busy at once.
pub fn enter_helper(capacity: usize, wanted: impl Fn() -> bool) -> Option<impl Drop> {
    loop {
        if !wanted() {
            return None;
        }
        if claim(capacity) {
            return Some(Held::new(&HELPING));
        }
        let guard = SLEEP.lock().unwrap_or_else(PoisonError::into_inner);
        WAITERS.fetch_add(1, SeqCst);
        // Checked again after announcing the wait: whoever frees a core after this point
        // sees the waiter and takes the lock to wake it.
        if wanted() && !free_core(capacity) {
            let _ = FREED.wait_timeout(guard, NAP);
        }
        WAITERS.fetch_sub(1, SeqCst);
    }
}

/// Counts `n` helpers handed to the pool until each calls [`helper_started`], so that threads
/// spinning for work leave them the cores (they are not running yet, and a spinner on the
/// core the helper was woken for delays it by the whole spin).
pub fn helpers_sent(n: usize) {
    STARTING.fetch_add(n, SeqCst);
}

pub fn helper_started() {
    STARTING.fetch_sub(1, SeqCst);
}

/// In a forked child, whose copy of the pool has no threads.
pub fn forget_starting_helpers() {
    STARTING.store(0, SeqCst);
}

/// Wakes sleeping helpers so they can see a change (a job closed, a core freed).
pub fn wake_helpers() {
    if WAITERS.load(SeqCst) > 0 {
        let _g = SLEEP.lock().unwrap_or_else(PoisonError::into_inner);
        FREED.notify_all();
    }
}

/// Whether engine ops and helpers, running or starting, leave one of `capacity` cores idle.
pub fn free_core(capacity: usize) -> bool {
    RUNNING.load(SeqCst) + HELPING.load(SeqCst) + STARTING.load(SeqCst) < capacity
}

fn claim(capacity: usize) -> bool {
    let helping = HELPING.fetch_add(1, SeqCst) + 1;
    if RUNNING.load(SeqCst) + helping <= capacity {
        return true;
    }
    HELPING.fetch_sub(1, SeqCst);
    false
}

fn hold(count: &'static AtomicUsize) -> Held {
    count.fetch_add(1, SeqCst);
    Held::new(count)
}

/// This thread's place in `count` (already taken), given back on drop.
struct Held {
    count: &'static AtomicUsize,
    outer: Option<&'static AtomicUsize>,
}

impl Held {
    fn new(count: &'static AtomicUsize) -> Held {
        let outer = HELD.with(|h| h.replace(Some(count)));
        Held { count, outer }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        HELD.with(|h| h.set(self.outer));
        self.count.fetch_sub(1, SeqCst);
        wake_helpers();
    }
}

struct Lent(Option<&'static AtomicUsize>);

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(count) = self.0 {
            // Taken back without waiting for room: the thread's own work goes on.
            count.fetch_add(1, SeqCst);
            HELD.with(|h| h.set(Some(count)));
        }
    }
}
