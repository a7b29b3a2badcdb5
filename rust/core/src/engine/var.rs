//! Engine variables. Invariants, per variable, in push order:
//! - consecutive reads run concurrently; a write waits for every earlier read and write;
//!   reads after a write wait for it;
//! - `queue` only ever holds ops that are blocked on this variable; its front is a write
//!   whenever reads are running or a write is running;
//! - `error` is the failure of the last op that wrote here (shared with every op it poisoned);
//!   it is raised once, then emptied.

use super::{ErrorSlot, Opr};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct VarState {
    queue: VecDeque<(Arc<Opr>, bool)>,
    active_reads: usize,
    writing: bool,
    error: Option<Arc<ErrorSlot>>,
}

#[derive(Default)]
struct VarInner {
    state: Mutex<VarState>,
    /// Set once an error was ever recorded here: lets the common case skip the lock.
    ever_failed: AtomicBool,
}

/// The dependency token of one array chunk (MXNet `Engine::VarHandle`).
#[derive(Clone, Default)]
pub struct Var(Arc<VarInner>);

impl Var {
    pub fn new() -> Self {
        Var::default()
    }

    fn lock(&self) -> MutexGuard<'_, VarState> {
        // A panic never happens while this lock is held; recover the state regardless.
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn same(&self, other: &Var) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Registers a read by `op`; true when it may proceed at once.
    pub(super) fn append_read(&self, op: &Arc<Opr>) -> bool {
        let mut s = self.lock();
        if !s.writing && s.queue.is_empty() {
            s.active_reads += 1;
            true
        } else {
            s.queue.push_back((op.clone(), false));
            false
        }
    }

    /// Registers a write by `op`; true when it may proceed at once.
    pub(super) fn append_write(&self, op: &Arc<Opr>) -> bool {
        let mut s = self.lock();
        if !s.writing && s.active_reads == 0 && s.queue.is_empty() {
            s.writing = true;
            true
        } else {
            s.queue.push_back((op.clone(), true));
            false
        }
    }

    /// True when a read (or with `write`, a write) could start now: what a wait needs.
    pub fn is_free(&self, write: bool) -> bool {
        let s = self.lock();
        !s.writing && s.queue.is_empty() && (!write || s.active_reads == 0)
    }

    /// Starts a read at once when nothing is pending here (nothing is queued otherwise).
    pub(super) fn try_read(&self) -> bool {
        let mut s = self.lock();
        let free = !s.writing && s.queue.is_empty();
        s.active_reads += free as usize;
        free
    }

    /// Starts a write at once when nothing is pending or running here.
    pub(super) fn try_write(&self) -> bool {
        let mut s = self.lock();
        let free = !s.writing && s.active_reads == 0 && s.queue.is_empty();
        s.writing |= free;
        free
    }

    /// A read finished; returns the ops that became unblocked on this variable.
    pub(super) fn complete_read(&self, ready: &mut Vec<Arc<Opr>>) {
        let mut s = self.lock();
        s.active_reads -= 1;
        if s.active_reads == 0 {
            if let Some((_, true)) = s.queue.front() {
                s.writing = true;
                if let Some((op, _)) = s.queue.pop_front() {
                    ready.push(op);
                }
            }
        }
    }

    /// A write finished; records its error (if any) and unblocks what follows.
    pub(super) fn complete_write(&self, error: Option<&Arc<ErrorSlot>>, ready: &mut Vec<Arc<Opr>>) {
        let mut s = self.lock();
        if let Some(e) = error {
            s.error = Some(e.clone());
            self.0.ever_failed.store(true, Ordering::Release);
        }
        s.writing = false;
        while let Some((_, false)) = s.queue.front() {
            if let Some((op, _)) = s.queue.pop_front() {
                s.active_reads += 1;
                ready.push(op);
            }
        }
        if s.active_reads == 0 {
            if let Some((_, true)) = s.queue.front() {
                s.writing = true;
                if let Some((op, _)) = s.queue.pop_front() {
                    ready.push(op);
                }
            }
        }
    }

    /// The failure recorded here that has not been raised yet.
    pub(super) fn pending_error(&self) -> Option<Arc<ErrorSlot>> {
        if !self.0.ever_failed.load(Ordering::Acquire) {
            return None;
        }
        let s = self.lock();
        s.error.as_ref().filter(|e| e.is_pending()).cloned()
    }
}
