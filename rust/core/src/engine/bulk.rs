//! Bulk execution (MXNet's `MXNET_EXEC_BULK_EXEC_*`): while an executor runs its plan, the ops
//! it pushes on this thread are gathered into segments, each pushed as one engine op that runs
//! its ops in order. A chain of small dependent ops otherwise pays a hand-over between threads
//! per op (tens of microseconds on a virtual machine), more than a small layer's kernel takes.
//! Ops inside a segment still split large kernels over the intra-op pool.

use super::{profiler, run_body, Engine, EngineKind, Task};
use crate::error::Result;
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::OnceLock;

/// The name of a segment's engine op (its ops are profiled one by one instead).
pub(super) const SEGMENT: &str = "bulk";

thread_local! {
    /// Tasks gathered on this thread inside `Engine::bulk`, and the segment size; `None`
    /// outside.
    static GATHERED: RefCell<Option<(Vec<Task>, usize)>> = const { RefCell::new(None) };
}

/// Ops per segment: `MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN` (MXNet's default, 15); bulking is off
/// when it is 0 or 1, or when `MXNET_EXEC_BULK_EXEC_TRAIN` / `_INFERENCE` is 0 for that mode.
fn segment_size(is_train: bool) -> usize {
    static SIZES: OnceLock<(usize, usize)> = OnceLock::new();
    let (train, infer) = *SIZES.get_or_init(|| {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
        };
        let size = var("MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN").unwrap_or(15);
        let on = |k: &str| var(k) != Some(0);
        (
            if on("MXNET_EXEC_BULK_EXEC_TRAIN") {
                size
            } else {
                0
            },
            if on("MXNET_EXEC_BULK_EXEC_INFERENCE") {
                size
            } else {
                0
            },
        )
    });
    if is_train {
        train
    } else {
        infer
    }
}

/// True while this thread gathers its ops into segments.
pub(super) fn gathering() -> bool {
    GATHERED.with(|g| g.borrow().is_some())
}

/// Ends gathering, also on an early error or a panic of the caller: what was gathered is
/// still pushed.
struct Gathering(&'static Engine);

impl Drop for Gathering {
    fn drop(&mut self) {
        self.0.flush_bulk();
        GATHERED.with(|g| *g.borrow_mut() = None);
    }
}

impl Engine {
    /// Runs `f`, pushing the ops it pushes on this thread in segments (see the module doc).
    /// A nested call joins the outer one.
    pub fn bulk<R>(&'static self, is_train: bool, f: impl FnOnce() -> R) -> R {
        let size = segment_size(is_train);
        if gathering() || size <= 1 || self.kind == EngineKind::Naive {
            return f();
        }
        GATHERED.with(|g| *g.borrow_mut() = Some((Vec::with_capacity(size), size)));
        let _gathering = Gathering(self);
        f()
    }

    /// Imperative bulking on this thread (`mx.engine.set_bulk_size`): from now on the ops it
    /// pushes are gathered into segments of `size` ops (0 or 1: off), flushed when full and
    /// before any wait. Returns the previous size.
    pub fn set_bulk_size(&'static self, size: usize) -> usize {
        self.flush_bulk();
        let on = size > 1 && self.kind != EngineKind::Naive;
        GATHERED.with(|g| {
            let mut g = g.borrow_mut();
            let prev = g.as_ref().map_or(0, |(_, s)| *s);
            *g = on.then(|| (Vec::with_capacity(size), size));
            prev
        })
    }

    /// Keeps `task` for the current segment when this thread is gathering; gives it back
    /// otherwise.
    pub(super) fn gather(&'static self, task: Task) -> Option<Task> {
        let mut task = Some(task);
        let full = GATHERED.with(|g| match (g.borrow_mut().as_mut(), task.take()) {
            (Some((list, size)), Some(t)) => {
                list.push(t);
                list.len() >= *size
            }
            (_, t) => {
                task = t;
                false
            }
        });
        if full {
            self.flush_bulk();
        }
        task
    }

    /// Pushes what this thread has gathered (before a wait, which must see it).
    pub(super) fn flush_bulk(&'static self) {
        let tasks = GATHERED.with(|g| g.borrow_mut().as_mut().map(|(l, _)| std::mem::take(l)));
        if let Some(tasks) = tasks.filter(|t| !t.is_empty()) {
            self.push_opr(segment(tasks), false);
        }
    }
}

/// One task running `tasks` in order; it reads and writes what they do. A failing op's error
/// names that op and where it was issued; the ops after it are skipped, as they would be
/// poisoned by it when they depend on it.
fn segment(mut tasks: Vec<Task>) -> Task {
    if tasks.len() == 1 {
        if let Some(t) = tasks.pop() {
            return t;
        }
    }
    let (mut reads, mut writes) = (Vec::new(), Vec::new());
    let (mut cost, mut priority) = (0usize, i32::MIN);
    let mut parts = Vec::with_capacity(tasks.len());
    for t in tasks {
        reads.extend(t.reads);
        writes.extend(t.writes);
        cost = cost.saturating_add(t.cost);
        priority = priority.max(t.priority);
        parts.push((t.name, t.origin, t.body));
    }
    let body = Box::new(move || -> Result<()> {
        for (name, origin, body) in parts {
            profiler::timed(&name, || run_body(body, &name, origin.as_ref()))?;
        }
        Ok(())
    });
    Task {
        name: Cow::Borrowed(SEGMENT),
        reads,
        writes,
        body,
        origin: None,
        cost,
        priority,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{threaded::Workers, Var};
    use super::*;
    use crate::error::Error;
    use std::sync::{Arc, Mutex};

    fn engine() -> &'static Engine {
        let e: &'static Engine = Box::leak(Box::new(Engine::new(EngineKind::Threaded, 2)));
        assert!(e.workers.set(Workers::start(2, e)).is_ok());
        e
    }

    fn task(
        name: &'static str,
        reads: Vec<Var>,
        writes: Vec<Var>,
        log: &Arc<Mutex<Vec<String>>>,
    ) -> Task {
        let log = log.clone();
        Task {
            name: Cow::Borrowed(name),
            reads,
            writes,
            body: Box::new(move || {
                if name.starts_with("fail") {
                    return Err(Error::Value("bad value".into()));
                }
                log.lock()
                    .map_err(|_| Error::Internal("lock".into()))?
                    .push(name.into());
                Ok(())
            }),
            origin: None,
            cost: usize::MAX / 2,
            priority: 0,
        }
    }

    #[test]
    fn gathered_ops_run_in_push_order_across_segments() {
        let e = engine();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (a, b) = (Var::new(), Var::new());
        let names: Vec<&'static str> = (0..40)
            .map(|i| &*Box::leak(format!("op{i}").into_boxed_str()))
            .collect();
        e.bulk(true, || {
            for (i, name) in names.iter().enumerate() {
                // Alternate the variables so that ordering comes from the segments themselves.
                let (r, w) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
                e.push(task(name, vec![r.clone()], vec![w.clone()], &log));
            }
            // A wait inside the bulk sees everything gathered so far.
            assert!(e.wait_var(&a).is_ok());
            assert_eq!(log.lock().expect("log").len(), 40);
        });
        assert!(e.wait_all().is_ok());
        let got = log.lock().expect("log").clone();
        assert_eq!(got, names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn imperative_bulk_size_gathers_until_full_or_waited() {
        let e = engine();
        let log = Arc::new(Mutex::new(Vec::new()));
        let a = Var::new();
        assert_eq!(e.set_bulk_size(3), 0);
        e.push(task("b0", vec![], vec![a.clone()], &log));
        e.push(task("b1", vec![], vec![a.clone()], &log));
        // Gathered, not pushed: nothing ran yet.
        assert!(log.lock().expect("log").is_empty());
        e.push(task("b2", vec![], vec![a.clone()], &log));
        e.push(task("b3", vec![], vec![a.clone()], &log));
        assert!(e.wait_var(&a).is_ok());
        assert_eq!(log.lock().expect("log").len(), 4);
        assert_eq!(e.set_bulk_size(0), 3);
        e.push(task("b4", vec![], vec![a.clone()], &log));
        assert!(e.wait_var(&a).is_ok());
        assert_eq!(log.lock().expect("log").len(), 5);
    }

    #[test]
    fn a_failing_op_in_a_segment_is_named_and_poisons_its_segment() {
        let e = engine();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (a, b, c) = (Var::new(), Var::new(), Var::new());
        e.bulk(true, || {
            e.push(task("first", vec![], vec![a.clone()], &log));
            e.push(task("fail_second", vec![a.clone()], vec![b.clone()], &log));
            e.push(task("third", vec![b.clone()], vec![c.clone()], &log));
        });
        let err = e.wait_var(&c).expect_err("the segment failed");
        let msg = err.to_string();
        assert!(
            msg.contains("fail_second") && msg.contains("bad value"),
            "{msg}"
        );
        assert_eq!(*log.lock().expect("log"), vec!["first".to_string()]);
        let _ = e.wait_all();
    }
}
