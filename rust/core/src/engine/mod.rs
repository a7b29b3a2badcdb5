//! The dependency engine (MXNet `Engine`). Every NDArray operation is pushed here with the
//! variables it reads and writes and runs when those are ready; see `var.rs` for the ordering
//! invariants. Invariants of the engine itself:
//! - an op runs exactly once, after every earlier conflicting op; a failing op stores its error
//!   on the variables it writes and never aborts the process (panics are caught);
//! - an op whose inputs or outputs carry an unraised error skips its body and forwards that same
//!   error (poisoning), unless it is a wait op;
//! - errors are raised at waits: `wait_var` (asnumpy, wait_to_read) or `wait_all`, each once.
//!
//! `MXNET_ENGINE_TYPE=NaiveEngine` runs every op synchronously on the pushing thread.

mod bulk;
pub mod cores;
pub mod profiler;
mod threaded;
mod var;

pub use var::Var;

use crate::error::{Error, Result};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use threaded::Workers;

/// Where Python issued an op (`file.py:12`), kept cheap until an error needs it.
#[derive(Clone, Debug)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: u32,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A failure shared by the failed op and every op it poisoned; raised once.
pub struct ErrorSlot(Mutex<Option<Error>>);

impl ErrorSlot {
    fn new(e: Error) -> Arc<Self> {
        Arc::new(ErrorSlot(Mutex::new(Some(e))))
    }

    fn is_pending(&self) -> bool {
        self.0.lock().map(|g| g.is_some()).unwrap_or(false)
    }

    fn take(&self) -> Option<Error> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

pub type Body = Box<dyn FnOnce() -> Result<()> + Send>;

/// Ops with at most this much work (elements touched) run inline on the pushing thread when
/// their variables are ready: cheaper than waking a worker.
pub const INLINE_COST: usize = 1 << 14;

/// Up to eight variables in an array on the stack, for [`Engine::run_small_now`] (building
/// its lists must not allocate either); `None` when there are more.
fn stack_vars<'a>(vars: impl Iterator<Item = &'a Var>) -> Option<([&'a Var; 8], usize)> {
    static FILLER: std::sync::OnceLock<Var> = std::sync::OnceLock::new();
    let mut list = [FILLER.get_or_init(Var::new); 8];
    let mut n = 0;
    for v in vars {
        *list.get_mut(n)? = v;
        n += 1;
    }
    Some((list, n))
}

/// How long a waiting thread spins, once it finds no queued op to run, before blocking.
const WAIT_SPIN_US: u64 = 50;

/// One pushed operation.
pub struct Opr {
    wait: AtomicUsize,
    reads: Vec<Var>,
    writes: Vec<Var>,
    body: Mutex<Option<Body>>,
    name: Cow<'static, str>,
    origin: Option<Origin>,
    cost: usize,
    priority: i32,
    /// Wait ops: run as soon as ready wherever that happens, and never skipped.
    is_wait: bool,
}

/// What to push: the body and its dependencies.
pub struct Task {
    pub name: Cow<'static, str>,
    pub reads: Vec<Var>,
    pub writes: Vec<Var>,
    pub body: Body,
    pub origin: Option<Origin>,
    /// Rough number of elements touched; small ops may run inline.
    pub cost: usize,
    pub priority: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Naive,
    Threaded,
}

pub struct Engine {
    kind: EngineKind,
    workers: std::sync::OnceLock<Workers>,
    nthreads: usize,
    pending: AtomicUsize,
    idle: (Mutex<()>, Condvar),
    /// Threads blocked in `wait_below`; finishing ops only take the idle lock when nonzero.
    waiters: AtomicUsize,
    errors: Mutex<Vec<Arc<ErrorSlot>>>,
    max_inflight: usize,
}

impl Engine {
    /// Reads `MXNET_ENGINE_TYPE` and `MXNET_CPU_WORKER_NTHREADS` (default: one per core).
    pub fn from_env(num_cores: usize) -> Engine {
        let kind = match std::env::var("MXNET_ENGINE_TYPE").as_deref() {
            Ok("NaiveEngine") => EngineKind::Naive,
            _ => EngineKind::Threaded,
        };
        let n = std::env::var("MXNET_CPU_WORKER_NTHREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(num_cores.max(2));
        Engine::new(kind, n)
    }

    pub fn new(kind: EngineKind, nthreads: usize) -> Engine {
        Engine {
            kind,
            workers: std::sync::OnceLock::new(),
            nthreads,
            pending: AtomicUsize::new(0),
            idle: (Mutex::new(()), Condvar::new()),
            waiters: AtomicUsize::new(0),
            errors: Mutex::new(Vec::new()),
            max_inflight: 1 << 16,
        }
    }

    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    /// Ops pushed and not finished.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Pushes `task`; returns once it is queued (or, when small and ready, done).
    pub fn push(&'static self, task: Task) {
        if let Some(task) = self.gather(task) {
            self.push_opr(task, false);
        }
    }

    fn push_opr(&'static self, task: Task, is_wait: bool) -> Arc<Opr> {
        if self.pending() >= self.max_inflight {
            self.wait_below(self.max_inflight / 2);
        }
        let Task {
            name,
            mut reads,
            mut writes,
            body,
            origin,
            cost,
            priority,
        } = task;
        dedup_vars(&mut reads, &mut writes);
        let opr = Arc::new(Opr {
            wait: AtomicUsize::new(reads.len() + writes.len() + 1),
            reads,
            writes,
            body: Mutex::new(Some(body)),
            name,
            origin,
            cost,
            priority,
            is_wait,
        });
        self.pending.fetch_add(1, Ordering::AcqRel);
        let mut ready_now = 0;
        for v in &opr.reads {
            ready_now += v.append_read(&opr) as usize;
        }
        for v in &opr.writes {
            ready_now += v.append_write(&opr) as usize;
        }
        if opr.wait.fetch_sub(ready_now + 1, Ordering::AcqRel) == ready_now + 1 {
            if self.kind == EngineKind::Naive || opr.is_wait || opr.cost <= INLINE_COST {
                self.execute(opr.clone());
            } else {
                self.schedule(opr.clone());
            }
        }
        opr
    }

    /// Called when `op` stopped waiting on one variable.
    fn signal(&'static self, op: Arc<Opr>) {
        if op.wait.fetch_sub(1, Ordering::AcqRel) == 1 {
            if op.is_wait || self.kind == EngineKind::Naive {
                self.execute(op);
            } else {
                self.schedule(op);
            }
        }
    }

    fn schedule(&'static self, op: Arc<Opr>) {
        self.workers
            .get_or_init(|| Workers::start(self.nthreads, self))
            .submit(op);
    }

    /// Runs the op's body (or forwards a poisoning error) and releases its variables.
    fn execute(&'static self, op: Arc<Opr>) {
        let body = op.body.lock().ok().and_then(|mut b| b.take());
        let poison = if op.is_wait {
            None
        } else {
            op.reads
                .iter()
                .chain(op.writes.iter())
                .find_map(|v| v.pending_error())
        };
        let failure = match (poison, body) {
            (Some(slot), _) => Some(slot),
            (None, Some(body)) => {
                let running = cores::op_running();
                let res = if op.is_wait || op.name == bulk::SEGMENT {
                    run_body(body, &op.name, op.origin.as_ref())
                } else {
                    profiler::timed(&op.name, || run_body(body, &op.name, op.origin.as_ref()))
                };
                drop(running);
                res.err().map(|e| self.record_failure(e))
            }
            (None, None) => None,
        };
        let mut ready = Vec::new();
        for v in &op.reads {
            v.complete_read(&mut ready);
        }
        for v in &op.writes {
            v.complete_write(failure.as_ref(), &mut ready);
        }
        for r in ready {
            self.signal(r);
        }
        self.pending.fetch_sub(1, Ordering::AcqRel);
        if self.waiters.load(Ordering::Acquire) > 0 {
            let _g = self.idle.0.lock();
            self.idle.1.notify_all();
        }
    }

    /// Keeps a failure for `wait_all` and returns the slot its variables share.
    fn record_failure(&self, e: Error) -> Arc<ErrorSlot> {
        let slot = ErrorSlot::new(e);
        if let Ok(mut list) = self.errors.lock() {
            list.retain(|s| s.is_pending());
            list.push(slot.clone());
        }
        slot
    }

    /// Runs a small op now, on this thread, when every variable it uses is free: what `push`
    /// does with such an op, without the op record, queue entries and boxed body it builds
    /// (together as costly as the rest of a tiny op's dispatch). Gives `body` back, to be
    /// pushed, when something is pending on a variable, an error waits there to poison the
    /// op, or this thread is gathering a bulk segment (which must keep push order).
    // A `&Cow` for the profiler's records, as `profiler::timed`.
    #[allow(clippy::ptr_arg)]
    pub fn run_now<F: FnOnce() -> Result<()>>(
        &'static self,
        name: &Cow<'static, str>,
        reads: &[&Var],
        writes: &[&Var],
        origin: Option<&Origin>,
        body: F,
    ) -> std::result::Result<(), F> {
        if bulk::gathering() {
            return Err(body);
        }
        // As `dedup_vars`: a variable read twice, or read and written, is claimed once.
        let own_read = |i: usize| {
            let v = reads[i];
            !writes.iter().any(|w| w.same(v)) && !reads[..i].iter().any(|r| r.same(v))
        };
        let release = |failure: Option<&Arc<ErrorSlot>>, n_writes: usize, n_reads: usize| {
            let mut ready = Vec::new();
            for i in (0..n_reads).filter(|&i| own_read(i)) {
                reads[i].complete_read(&mut ready);
            }
            for w in &writes[..n_writes] {
                w.complete_write(failure, &mut ready);
            }
            for r in ready {
                self.signal(r);
            }
        };
        let (mut n_writes, mut n_reads) = (0, 0);
        let claimed = writes.iter().all(|w| {
            let ok = w.try_write();
            n_writes += ok as usize;
            ok
        }) && (0..reads.len()).all(|i| {
            let ok = !own_read(i) || reads[i].try_read();
            n_reads += ok as usize;
            ok
        });
        // Checked once claimed: a writer that failed just before must poison this op.
        if !claimed
            || reads
                .iter()
                .chain(writes)
                .any(|v| v.pending_error().is_some())
        {
            release(None, n_writes, n_reads);
            return Err(body);
        }
        let running = cores::op_running();
        let res = profiler::timed(name, || run_body(body, name, origin));
        drop(running);
        let failure = res.err().map(|e| self.record_failure(e));
        release(failure.as_ref(), n_writes, n_reads);
        Ok(())
    }

    /// [`Engine::run_now`] for an op of `cost` that `push` would run inline, with its
    /// variables given as iterators (kept on the stack); gives `body` back otherwise.
    #[allow(clippy::ptr_arg)]
    pub fn run_small_now<'a, F: FnOnce() -> Result<()>>(
        &'static self,
        name: &Cow<'static, str>,
        reads: impl Iterator<Item = &'a Var>,
        writes: impl Iterator<Item = &'a Var>,
        cost: usize,
        origin: Option<&Origin>,
        body: F,
    ) -> std::result::Result<(), F> {
        if cost > INLINE_COST && self.kind != EngineKind::Naive {
            return Err(body);
        }
        match (stack_vars(reads), stack_vars(writes)) {
            (Some((r, nr)), Some((w, nw))) => self.run_now(name, &r[..nr], &w[..nw], origin, body),
            _ => Err(body),
        }
    }

    fn wait_below(&'static self, n: usize) {
        self.flush_bulk();
        if self.pending() <= n {
            return;
        }
        self.help_while(|| self.pending() > n);
        self.waiters.fetch_add(1, Ordering::AcqRel);
        let mut g = self.idle.0.lock().unwrap_or_else(|e| e.into_inner());
        while self.pending() > n {
            g = self
                .idle
                .1
                .wait_timeout(g, std::time::Duration::from_millis(50))
                .map(|r| r.0)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        drop(g);
        self.waiters.fetch_sub(1, Ordering::AcqRel);
    }

    /// Before a waiting thread blocks: while `waiting()`, it runs queued ops that no worker
    /// has taken yet (often the very op it waits for), and spins a little when there are
    /// none. Waking a parked worker and then the waiter costs tens of microseconds each on
    /// a VM, far more than the small ops of a training step take to run.
    fn help_while(&'static self, waiting: impl Fn() -> bool) {
        let spin = std::time::Duration::from_micros(WAIT_SPIN_US);
        let mut idle_since = std::time::Instant::now();
        while waiting() {
            if let Some(op) = self.take_queued() {
                self.execute(op);
                idle_since = std::time::Instant::now();
                continue;
            }
            // No spinning while ops and their helpers claim every core: it would slow them.
            if idle_since.elapsed() >= spin || !cores::free_core(self.nthreads) {
                return;
            }
            for _ in 0..32 {
                std::hint::spin_loop();
            }
        }
    }

    /// A queued op for a waiting thread, when a core is free to run it.
    fn take_queued(&self) -> Option<Arc<Opr>> {
        let workers = self.workers.get()?;
        if !cores::free_core(self.nthreads) {
            return None;
        }
        workers.take_queued()
    }

    /// Blocks until every op that writes `var` pushed so far is done; raises its error once.
    pub fn wait_var(&'static self, var: &Var) -> Result<()> {
        self.wait_on(var, false)
    }

    /// Blocks until every op that reads or writes `var` pushed so far is done (memory handed
    /// to a writer outside the engine); raises its error once.
    pub fn wait_var_write(&'static self, var: &Var) -> Result<()> {
        self.wait_on(var, true)
    }

    fn wait_on(&'static self, var: &Var, write: bool) -> Result<()> {
        self.flush_bulk();
        // Nothing to wait for: the wait op would run at once (an `asnumpy` of a finished array).
        if var.is_free(write) {
            return var
                .pending_error()
                .and_then(|s| s.take())
                .map_or(Ok(()), Err);
        }
        let done = Arc::new((Mutex::new(false), Condvar::new(), AtomicBool::new(false)));
        let d2 = done.clone();
        let body: Body = Box::new(move || {
            d2.2.store(true, Ordering::Release);
            let mut g = d2.0.lock().unwrap_or_else(|e| e.into_inner());
            *g = true;
            d2.1.notify_all();
            Ok(())
        });
        let task = Task {
            name: Cow::Borrowed("WaitForVar"),
            reads: if write { vec![] } else { vec![var.clone()] },
            writes: if write { vec![var.clone()] } else { vec![] },
            body,
            origin: None,
            cost: 0,
            priority: 0,
        };
        self.push_opr(task, true);
        self.help_while(|| !done.2.load(Ordering::Acquire));
        let mut g = done.0.lock().unwrap_or_else(|e| e.into_inner());
        while !*g {
            g = done.1.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        drop(g);
        match var.pending_error().and_then(|s| s.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Blocks until the engine is idle; raises the first error not raised yet, clears the rest.
    pub fn wait_all(&'static self) -> Result<()> {
        self.wait_below(0);
        let slots = self
            .errors
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        let mut first = None;
        for s in slots {
            if let Some(e) = s.take() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Drains the engine without raising (before `fork`).
    pub fn drain(&'static self) {
        self.wait_below(0);
    }
}

/// Runs an op's body; a panic or an error comes back as an `Error::Engine` naming the op and
/// where it was issued (an error already naming its op is kept).
fn run_body(body: impl FnOnce() -> Result<()>, name: &str, origin: Option<&Origin>) -> Result<()> {
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
        .unwrap_or_else(|p| Err(Error::Internal(panic_message(p))));
    res.map_err(|e| match e {
        e @ Error::Engine { .. } => e,
        e => Error::Engine {
            op: name.to_string(),
            origin: origin.map(|o| o.to_string()),
            msg: e.to_string(),
        },
    })
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    let s = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error (a kernel panicked): {s}")
}

/// Removes duplicate variables and reads of variables the op also writes.
fn dedup_vars(reads: &mut Vec<Var>, writes: &mut Vec<Var>) {
    let mut i = 0;
    while i < writes.len() {
        if writes[..i].iter().any(|w| w.same(&writes[i])) {
            writes.remove(i);
        } else {
            i += 1;
        }
    }
    let mut i = 0;
    while i < reads.len() {
        let dup = reads[..i].iter().any(|r| r.same(&reads[i]))
            || writes.iter().any(|w| w.same(&reads[i]));
        if dup {
            reads.remove(i);
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_thread_runs_queued_ops_itself() {
        // No worker threads at all: every op must be run by the thread that waits for it.
        let e: &'static Engine = Box::leak(Box::new(Engine::new(EngineKind::Threaded, 64)));
        assert!(e.workers.set(Workers::start(0, e)).is_ok());
        let (a, b) = (Var::new(), Var::new());
        let ran = Arc::new(Mutex::new(Vec::new()));
        for (name, reads, writes) in [
            ("first", vec![], vec![a.clone()]),
            ("second", vec![a], vec![b.clone()]),
        ] {
            let ran = ran.clone();
            e.push(Task {
                name: Cow::Borrowed(name),
                reads,
                writes,
                body: Box::new(move || {
                    let me = std::thread::current().id();
                    ran.lock()
                        .map_err(|_| Error::Internal("lock".into()))?
                        .push((name, me));
                    Ok(())
                }),
                origin: None,
                cost: usize::MAX / 2,
                priority: 0,
            });
        }
        // Waited for on another thread, so that an engine that leaves the ops queued fails
        // this test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let waited = e.wait_var(&b).and_then(|_| e.wait_all());
            let _ = tx.send((waited, std::thread::current().id()));
        });
        let (waited, waiter) = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the waiting thread ran the queued ops");
        assert!(waited.is_ok());
        let ran = ran.lock().expect("not poisoned").clone();
        assert_eq!(ran, vec![("first", waiter), ("second", waiter)]);
    }

    fn log_task(
        name: &'static str,
        r: &[&Var],
        w: &[&Var],
        log: &Arc<Mutex<Vec<&'static str>>>,
    ) -> Task {
        let log = log.clone();
        Task {
            name: Cow::Borrowed(name),
            reads: r.iter().map(|&v| v.clone()).collect(),
            writes: w.iter().map(|&v| v.clone()).collect(),
            body: Box::new(move || {
                log.lock()
                    .map_err(|_| Error::Internal("lock".into()))?
                    .push(name);
                Ok(())
            }),
            origin: None,
            cost: usize::MAX / 2,
            priority: 0,
        }
    }

    #[test]
    fn run_now_runs_only_on_free_variables_and_keeps_order() {
        // No workers: a pushed op stays queued until a wait runs it.
        let e: &'static Engine = Box::leak(Box::new(Engine::new(EngineKind::Threaded, 64)));
        assert!(e.workers.set(Workers::start(0, e)).is_ok());
        let (a, b, c) = (Var::new(), Var::new(), Var::new());
        let log = Arc::new(Mutex::new(Vec::new()));
        let name = Cow::Borrowed("now");
        let now = |tag: &'static str| {
            let log = log.clone();
            move || {
                log.lock()
                    .map_err(|_| Error::Internal("lock".into()))?
                    .push(tag);
                Ok(())
            }
        };
        // Free: runs at once; a variable both read and written (and read twice) is claimed once.
        assert!(e
            .run_now(&name, &[&a, &a, &b], &[&a], None, now("n1"))
            .is_ok());
        assert_eq!(*log.lock().expect("log"), vec!["n1"]);
        // `a` is written by a queued op: a reader of `a` and `c` is refused, `c` released.
        e.push(log_task("queued", &[], &[&a], &log));
        assert!(e.run_now(&name, &[&c, &a], &[&b], None, now("no")).is_err());
        assert!(e.run_now(&name, &[], &[&c, &a], None, now("no")).is_err());
        assert!(e.run_now(&name, &[&c], &[&b], None, now("n2")).is_ok());
        // What was refused goes through `push`, after the queued writer.
        e.push(log_task("after", &[&a], &[&c], &log));
        assert!(e.wait_var(&c).is_ok());
        assert_eq!(
            *log.lock().expect("log"),
            vec!["n1", "n2", "queued", "after"]
        );
        assert_eq!(e.pending(), 0);
    }

    #[test]
    fn run_now_failures_poison_like_pushed_ops() {
        let e: &'static Engine = Box::leak(Box::new(Engine::new(EngineKind::Threaded, 2)));
        let (a, b) = (Var::new(), Var::new());
        let name = Cow::Borrowed("bad");
        let failed = e.run_now(&name, &[], &[&a], None, || Err(Error::Value("boom".into())));
        assert!(failed.is_ok(), "ran (and failed) at once");
        // A reader of the failed array is not run now: pushed, it forwards the error.
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let reader = move || {
            r2.store(true, Ordering::SeqCst);
            Ok(())
        };
        let Err(reader) = e.run_now(&name, &[&a], &[&b], None, reader) else {
            panic!("a poisoned op must not run now");
        };
        e.push(Task {
            name: Cow::Borrowed("reader"),
            reads: vec![a.clone()],
            writes: vec![b.clone()],
            body: Box::new(reader),
            origin: None,
            cost: 0,
            priority: 0,
        });
        let err = e.wait_var(&b).expect_err("poisoned");
        assert!(err.to_string().contains("boom"), "{err}");
        assert!(!ran.load(Ordering::SeqCst));
        // Raised once: the store is usable again.
        assert!(e.wait_var(&a).is_ok());
        assert!(e.run_now(&name, &[&a], &[&b], None, || Ok(())).is_ok());
    }
}
