//! The in-process store (MXNet `KVStoreLocal`, types `local` and `device`): key → stored array,
//! plus a merge buffer per key for pushes that go through an updater.
//!
//! Invariants: every call validates all of its keys and arrays before pushing any engine op, so
//! a rejected call leaves the store unchanged; the stored arrays are private copies (never the
//! caller's arrays); every data movement is an engine op, so `push` and `pull` return at once
//! and a pull is waited on only where its outputs are read.

use super::comm;
use crate::context::Context;
use crate::engine::Origin;
use crate::error::Error;
use crate::ndarray::NDArray;
use crate::op;
use crate::shape::Shape;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

/// A store key: MXNet takes ints and strings (one kind per store, checked by the caller).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Int(i64),
    Str(String),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Int(k) => write!(f, "{k}"),
            Key::Str(k) => f.write_str(k),
        }
    }
}

/// What a store call can reject; the binding raises all of them as `MXNetError`, except
/// `Core`, which keeps the core error's own class.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KVStoreError {
    #[error("{what}: key {key} doesn't exist. Did you init?")]
    Uninitialized { what: &'static str, key: Key },
    #[error(
        "duplicate init of key {0}. Please double check if you called kv.init or kv.broadcast \
         with this key multiple times"
    )]
    DuplicateInit(Key),
    #[error("push: key {key}: value of shape {got} does not match the stored shape {stored}")]
    PushShape {
        key: Key,
        got: String,
        stored: String,
    },
    #[error(
        "push: key {key}: values of dtypes {first} and {other} cannot be summed; push values \
         of one dtype"
    )]
    PushDType {
        key: Key,
        first: &'static str,
        other: &'static str,
    },
    #[error("pull: key {key}: operands shape mismatch from.shape = {from} to.shape={to}")]
    PullShape { key: Key, from: String, to: String },
    #[error("{what}: no value given for key {key}")]
    Empty { what: &'static str, key: Key },
    #[error(transparent)]
    Core(#[from] Error),
}

pub type Result<T> = std::result::Result<T, KVStoreError>;

/// A shape as Python prints the tuple, `(3, 3)` or `(4,)`, as users see it in MXNet messages.
fn py_shape(s: &Shape) -> String {
    let dims: Vec<String> = s.0.iter().map(|d| d.to_string()).collect();
    match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    }
}

struct Entry {
    stored: NDArray,
    /// Reused across pushes that go through an updater (MXNet's merge buffer).
    merge: Option<NDArray>,
}

/// `mx.kv.create('local' | 'device')`.
pub struct KVStore {
    merge_on_device: bool,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl KVStore {
    /// A store whose values live on `cpu(0)` (`local`), or on the context of each key's initial
    /// value, merging where the values were pushed (`device`).
    pub fn new(merge_on_device: bool) -> KVStore {
        KVStore {
            merge_on_device,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        // No code panics while holding the lock; recover the map regardless.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.lock().contains_key(key)
    }

    /// Number of keys initialised.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored array of `key` (the `stored` argument of a Python updater; writes to it
    /// change the store).
    pub fn stored(&self, key: &Key, what: &'static str) -> Result<NDArray> {
        self.lock()
            .get(key)
            .map(|e| e.stored.clone())
            .ok_or_else(|| KVStoreError::Uninitialized {
                what,
                key: key.clone(),
            })
    }

    /// `kv.init(keys, values)`: stores a copy of each value (a duplicate key is rejected before
    /// anything is stored).
    pub fn init(&self, items: &[(Key, NDArray)], origin: Option<Origin>) -> Result<()> {
        let mut map = self.lock();
        let mut seen = HashSet::new();
        for (k, _) in items {
            if map.contains_key(k) || !seen.insert(k) {
                return Err(KVStoreError::DuplicateInit(k.clone()));
            }
        }
        for (k, v) in items {
            let ctx = if self.merge_on_device {
                v.ctx()
            } else {
                Context::cpu(0)
            };
            let stored = NDArray::empty(v.shape().clone(), v.dtype(), ctx)?;
            op::copy_into(v, &stored, origin.clone())?;
            map.insert(
                k.clone(),
                Entry {
                    stored,
                    merge: None,
                },
            );
        }
        Ok(())
    }

    /// Checks the values pushed for one key against its stored array.
    fn check_push(key: &Key, values: &[NDArray], stored: &NDArray) -> Result<()> {
        let first = values.first().ok_or_else(|| KVStoreError::Empty {
            what: "push",
            key: key.clone(),
        })?;
        for v in values {
            if v.shape() != stored.shape() {
                return Err(KVStoreError::PushShape {
                    key: key.clone(),
                    got: py_shape(v.shape()),
                    stored: py_shape(stored.shape()),
                });
            }
            if v.dtype() != first.dtype() {
                return Err(KVStoreError::PushDType {
                    key: key.clone(),
                    first: first.dtype().name(),
                    other: v.dtype().name(),
                });
            }
        }
        Ok(())
    }

    /// Checks a whole push (every key initialised, values of the stored shape and of one dtype)
    /// without changing anything: lets a caller with an updater reject the call up front.
    pub fn check_push_all(&self, items: &[(Key, Vec<NDArray>)]) -> Result<()> {
        self.checked_push(items).map(|_| ())
    }

    /// The stored array of each key of a push, once the whole push is checked.
    fn checked_push<'a>(
        &self,
        items: &'a [(Key, Vec<NDArray>)],
    ) -> Result<Vec<(&'a [NDArray], NDArray)>> {
        let map = self.lock();
        let mut plan = Vec::with_capacity(items.len());
        for (k, values) in items {
            let stored = &map
                .get(k)
                .ok_or_else(|| KVStoreError::Uninitialized {
                    what: "push",
                    key: k.clone(),
                })?
                .stored;
            Self::check_push(k, values, stored)?;
            plan.push((values.as_slice(), stored.clone()));
        }
        Ok(plan)
    }

    /// `kv.push` without an updater: each key's stored value becomes the sum of the values
    /// pushed for it (MXNet assigns, it does not accumulate across pushes).
    pub fn push(
        &self,
        items: &[(Key, Vec<NDArray>)],
        priority: i32,
        origin: Option<Origin>,
    ) -> Result<()> {
        for (values, stored) in self.checked_push(items)? {
            let direct = values[0].dtype() == stored.dtype()
                && !values
                    .iter()
                    .any(|v| v.overlaps(&stored) && v.offset() != stored.offset());
            if direct {
                comm::reduce_into(values, &stored, priority, origin.clone())?;
            } else {
                // Another dtype (MXNet casts on the way into the store) or a value that
                // partially overlaps the store: sum into a fresh array, then copy.
                let tmp = NDArray::empty(stored.shape().clone(), values[0].dtype(), stored.ctx())?;
                comm::reduce_into(values, &tmp, priority, origin.clone())?;
                op::copy_into(&tmp, &stored, origin.clone())?;
            }
        }
        Ok(())
    }

    /// `kv.pushpull` without an updater: each key's stored value becomes the sum of its values
    /// and is written to its outputs, in one pass per key where every array has the stored
    /// dtype and no two partially overlap (else as `push` then `pull`). The whole call is
    /// checked before anything is pushed.
    pub fn pushpull(
        &self,
        values: &[(Key, Vec<NDArray>)],
        outs: &[(Key, Vec<NDArray>)],
        priority: i32,
        origin: Option<Origin>,
    ) -> Result<()> {
        let plan = self.checked_push(values)?;
        self.checked_pull(outs)?;
        let fusable = values.len() == outs.len()
            && values.iter().zip(outs).all(|((kv, _), (ko, _))| kv == ko)
            && plan.iter().zip(outs).all(|((vals, stored), (_, os))| {
                let all: Vec<&NDArray> = vals.iter().chain(os.iter()).collect();
                all.iter().all(|a| a.dtype() == stored.dtype())
                    && all.iter().enumerate().all(|(i, a)| {
                        !a.overlaps(stored)
                            && all[i + 1..].iter().all(|b| {
                                !a.overlaps(b) || (a.same_chunk(b) && a.offset() == b.offset())
                            })
                    })
            });
        if !fusable {
            self.push(values, priority, origin.clone())?;
            return self.pull(outs, priority, origin);
        }
        for ((vals, stored), (_, os)) in plan.into_iter().zip(outs) {
            comm::reduce_broadcast(vals, &stored, os, priority, origin.clone())?;
        }
        Ok(())
    }

    /// The sum of the values pushed for `key`, in the key's merge buffer (on the stored
    /// array's context), for an updater to apply. Returns the buffer and the stored array.
    pub fn reduce(
        &self,
        key: &Key,
        values: &[NDArray],
        priority: i32,
        origin: Option<Origin>,
    ) -> Result<(NDArray, NDArray)> {
        let mut map = self.lock();
        let entry = map
            .get_mut(key)
            .ok_or_else(|| KVStoreError::Uninitialized {
                what: "push",
                key: key.clone(),
            })?;
        Self::check_push(key, values, &entry.stored)?;
        let dtype = values[0].dtype();
        let ctx = if self.merge_on_device {
            values[0].ctx()
        } else {
            entry.stored.ctx()
        };
        let reusable = entry.merge.as_ref().filter(|m| {
            m.dtype() == dtype
                && m.ctx() == ctx
                && m.shape() == entry.stored.shape()
                && !values.iter().any(|v| v.overlaps(m))
        });
        let merge = match reusable {
            Some(m) => m.clone(),
            None => {
                let m = NDArray::empty(entry.stored.shape().clone(), dtype, ctx)?;
                entry.merge = Some(m.clone());
                m
            }
        };
        let stored = entry.stored.clone();
        drop(map);
        comm::reduce_into(values, &merge, priority, origin)?;
        Ok((merge, stored))
    }

    /// The stored array of each key of a pull, once the whole pull is checked.
    fn checked_pull<'a>(
        &self,
        items: &'a [(Key, Vec<NDArray>)],
    ) -> Result<Vec<(&'a [NDArray], NDArray)>> {
        let map = self.lock();
        let mut plan = Vec::with_capacity(items.len());
        for (k, outs) in items {
            let stored = &map
                .get(k)
                .ok_or_else(|| KVStoreError::Uninitialized {
                    what: "pull",
                    key: k.clone(),
                })?
                .stored;
            if outs.is_empty() {
                return Err(KVStoreError::Empty {
                    what: "pull",
                    key: k.clone(),
                });
            }
            for o in outs {
                if o.shape() != stored.shape() {
                    return Err(KVStoreError::PullShape {
                        key: k.clone(),
                        from: py_shape(stored.shape()),
                        to: py_shape(o.shape()),
                    });
                }
                o.ctx().check_usable("pull")?;
            }
            plan.push((outs.as_slice(), stored.clone()));
        }
        Ok(plan)
    }

    /// `kv.pull`: copies each key's stored value into every output given for it (outputs of
    /// another dtype are cast).
    pub fn pull(
        &self,
        items: &[(Key, Vec<NDArray>)],
        priority: i32,
        origin: Option<Origin>,
    ) -> Result<()> {
        for (outs, stored) in self.checked_pull(items)? {
            let mut fast: Vec<NDArray> = Vec::with_capacity(outs.len());
            let mut slow: Vec<&NDArray> = Vec::new();
            for o in outs {
                let clash = (o.overlaps(&stored) && o.offset() != stored.offset())
                    || fast
                        .iter()
                        .any(|f| f.overlaps(o) && !(f.same_chunk(o) && f.offset() == o.offset()));
                if o.dtype() == stored.dtype() && !clash {
                    fast.push(o.clone());
                } else {
                    slow.push(o);
                }
            }
            comm::broadcast(&stored, &fast, priority, origin.clone())?;
            for o in slow {
                op::copy_into(&stored, o, origin.clone())?;
            }
        }
        Ok(())
    }
}
