//! Work-stealing workers: a global injector per priority level, a deque per worker, stealing
//! between workers, and parking when there is nothing to do. An op made ready by a finishing op
//! goes to that worker's own deque (its inputs are warm in that core's cache).

use super::{cores, Engine, Opr};
use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

struct Shared {
    high: Injector<Arc<Opr>>,
    normal: Injector<Arc<Opr>>,
    stealers: Vec<Stealer<Arc<Opr>>>,
    sleepers: Mutex<usize>,
    wake: Condvar,
    /// Workers spinning before they park (at most one).
    spinning: AtomicUsize,
    /// The number of workers: as many cores as ops may keep busy.
    capacity: usize,
}

/// How long an idle worker keeps looking for work before parking. Python pushes the ops of a
/// forward pass a few microseconds apart; waking a parked thread costs tens of microseconds,
/// which would otherwise be paid between every two ops.
const SPIN: Duration = Duration::from_micros(50);

pub struct Workers {
    shared: Arc<Shared>,
    engine: &'static Engine,
}

thread_local! {
    /// The deque of the worker running on this thread, and the engine it belongs to.
    static LOCAL: RefCell<Option<(usize, Worker<Arc<Opr>>)>> = const { RefCell::new(None) };
}

impl Workers {
    pub fn start(n: usize, engine: &'static Engine) -> Workers {
        let locals: Vec<Worker<Arc<Opr>>> = (0..n).map(|_| Worker::new_fifo()).collect();
        let shared = Arc::new(Shared {
            high: Injector::new(),
            normal: Injector::new(),
            stealers: locals.iter().map(|w| w.stealer()).collect(),
            sleepers: Mutex::new(0),
            wake: Condvar::new(),
            spinning: AtomicUsize::new(0),
            capacity: n,
        });
        for (i, local) in locals.into_iter().enumerate() {
            let sh = shared.clone();
            // A worker that cannot be spawned leaves its deque to be stolen by the others.
            let _ = std::thread::Builder::new()
                .name(format!("oxnet-engine-{i}"))
                .spawn(move || run_worker(sh, local, i, engine));
        }
        Workers { shared, engine }
    }

    pub fn submit(&self, op: Arc<Opr>) {
        let op = match LOCAL.with(|l| match &*l.borrow() {
            Some((id, w)) if *id == self.engine as *const Engine as usize && op.priority <= 0 => {
                w.push(op);
                None
            }
            _ => Some(op),
        }) {
            None => {
                self.wake_one();
                return;
            }
            Some(op) => op,
        };
        if op.priority > 0 {
            self.shared.high.push(op);
        } else {
            self.shared.normal.push(op);
        }
        self.wake_one();
    }

    /// Takes an op no worker has claimed yet, for a thread that would otherwise wait idle.
    /// Only the global queues: an op in a worker's own deque runs there next anyway.
    pub fn take_queued(&self) -> Option<Arc<Opr>> {
        for inj in [&self.shared.high, &self.shared.normal] {
            loop {
                match inj.steal() {
                    Steal::Success(op) => return Some(op),
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            }
        }
        None
    }

    fn wake_one(&self) {
        // A spinning worker takes the op: waking another only to find nothing put it on the
        // core the running op had (the other one runs Python), a context switch into the
        // middle of every op pushed from a loop that waits for each (a 100x128x64 dot took
        // 31 us so, 20 on its own). The spinner re-checks the queues after it stops
        // spinning and before it parks, and the fence orders this read after the push.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.shared.spinning.load(Ordering::SeqCst) > 0 {
            return;
        }
        let g = self
            .shared
            .sleepers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if *g > 0 {
            self.shared.wake.notify_one();
        }
    }
}

fn find_work(sh: &Shared, local: &Worker<Arc<Opr>>, me: usize) -> Option<Arc<Opr>> {
    if let Some(op) = local.pop() {
        return Some(op);
    }
    loop {
        let mut retry = false;
        for inj in [&sh.high, &sh.normal] {
            match inj.steal_batch_and_pop(local) {
                Steal::Success(op) => return Some(op),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
        }
        for (i, s) in sh.stealers.iter().enumerate() {
            if i == me {
                continue;
            }
            match s.steal() {
                Steal::Success(op) => return Some(op),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
        }
        if !retry {
            return None;
        }
    }
}

fn has_work(sh: &Shared) -> bool {
    !sh.high.is_empty() || !sh.normal.is_empty() || sh.stealers.iter().any(|s| !s.is_empty())
}

/// Spins up to `SPIN` while work may be about to arrive; true when some did. One worker spins
/// at a time, and only while a core is idle: spinning beside ops and their helpers that
/// claim every core would take one of them away (a split GEMM then ran at one core's speed).
fn spin_for_work(sh: &Shared) -> bool {
    if sh.spinning.fetch_add(1, Ordering::AcqRel) > 0 {
        sh.spinning.fetch_sub(1, Ordering::AcqRel);
        return false;
    }
    let start = Instant::now();
    let mut found = false;
    // One core is left to the thread pushing the ops (Python), which the core count does not
    // see: a worker spinning beside a running op took the core Python needed to push the next
    // ones (Module.fit of an MLP ran 101-137k samples/s so, 144-156k with a single worker).
    while start.elapsed() < SPIN && cores::free_core(sh.capacity.saturating_sub(1).max(1)) {
        if has_work(sh) {
            found = true;
            break;
        }
        for _ in 0..32 {
            std::hint::spin_loop();
        }
    }
    sh.spinning.fetch_sub(1, Ordering::AcqRel);
    // Pairs with the fence in `wake_one`: a push that saw this thread spinning (and woke no
    // one) is visible to the queue check made before parking.
    std::sync::atomic::fence(Ordering::SeqCst);
    found
}

fn run_worker(sh: Arc<Shared>, local: Worker<Arc<Opr>>, me: usize, engine: &'static Engine) {
    LOCAL.with(|l| *l.borrow_mut() = Some((engine as *const Engine as usize, local)));
    loop {
        let op = LOCAL.with(|l| l.borrow().as_ref().and_then(|(_, w)| find_work(&sh, w, me)));
        match op {
            Some(op) => engine.execute(op),
            None => {
                if spin_for_work(&sh) {
                    continue;
                }
                let mut g = sh.sleepers.lock().unwrap_or_else(|e| e.into_inner());
                if has_work(&sh) {
                    continue;
                }
                *g += 1;
                g = sh.wake.wait(g).unwrap_or_else(|e| e.into_inner());
                *g -= 1;
            }
        }
    }
}
