//! Op timings for `mx.profiler`: while it runs, the engine times the body of every op it
//! executes (each op of a bulk segment on its own) and keeps one record per op. Off, the cost
//! is one relaxed atomic load per op.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

static RUNNING: AtomicBool = AtomicBool::new(false);
static RECORDS: Mutex<Vec<Record>> = Mutex::new(Vec::new());
static NEXT_THREAD: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// Small per-thread numbers read better in a trace viewer than OS thread ids.
    static THREAD: u32 = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
}

/// One executed op: its name, when it started and how long it ran (microseconds since the
/// profiler's clock started), and which thread ran it.
#[derive(Debug, Clone)]
pub struct Record {
    pub name: Cow<'static, str>,
    pub start_us: f64,
    pub dur_us: f64,
    pub thread: u32,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Microseconds on the clock the records use (for events timed outside the engine).
pub fn now_us() -> f64 {
    epoch().elapsed().as_secs_f64() * 1e6
}

pub fn set_running(on: bool) {
    epoch();
    RUNNING.store(on, Ordering::Relaxed);
}

pub fn is_running() -> bool {
    RUNNING.load(Ordering::Relaxed)
}

/// The records kept so far, oldest first; the profiler keeps none of them afterwards.
pub fn take() -> Vec<Record> {
    RECORDS
        .lock()
        .map(|mut r| std::mem::take(&mut *r))
        .unwrap_or_default()
}

/// Runs `f`, keeping a record of it under `name` when the profiler runs.
// A `&Cow` because cloning a borrowed name keeps it borrowed; a `&str` would copy every name.
#[allow(clippy::ptr_arg)]
pub(super) fn timed<R>(name: &Cow<'static, str>, f: impl FnOnce() -> R) -> R {
    if !is_running() {
        return f();
    }
    let start = Instant::now();
    let out = f();
    let dur_us = start.elapsed().as_secs_f64() * 1e6;
    let record = Record {
        name: name.clone(),
        start_us: start.duration_since(epoch()).as_secs_f64() * 1e6,
        dur_us,
        thread: THREAD.with(|t| *t),
    };
    if let Ok(mut r) = RECORDS.lock() {
        r.push(record);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_while_running_and_in_order() {
        let name: Cow<'static, str> = Cow::Borrowed("profiler_test_op");
        take();
        timed(&name, || ());
        set_running(true);
        let a = now_us();
        timed(&name, || {
            std::thread::sleep(std::time::Duration::from_millis(2))
        });
        timed(&name, || ());
        set_running(false);
        timed(&name, || ());
        let mine: Vec<Record> = take()
            .into_iter()
            .filter(|r| r.name == "profiler_test_op")
            .collect();
        assert_eq!(mine.len(), 2);
        assert!(mine[0].start_us >= a);
        assert!(mine[0].dur_us >= 2000.0, "{:?}", mine[0]);
        assert!(mine[1].start_us >= mine[0].start_us + mine[0].dur_us);
    }
}
