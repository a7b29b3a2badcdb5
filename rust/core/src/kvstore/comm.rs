//! Reduce and broadcast across contexts (MXNet `CommCPU` / `CommDevice`). Every `cpu(i)`
//! context is host memory, so one engine op reads all pushed buffers directly and sums them into
//! the destination in a single pass, and one op writes every pull output from the stored value:
//! no intermediate copies to a merge context.
//!
//! Invariants: the ops declare every array they touch (values read, destination written), so
//! the engine orders them against all other work on those arrays; the kernels split the element
//! range into disjoint parts for the intra-op pool and never read an element of the destination
//! after another part could have written it.

use crate::engine::{Origin, Task};
use crate::error::{Error, Result};
use crate::kernels::cpu::elemwise::Arith;
use crate::kernels::cpu::stream::{copy_bytes, store_fence};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::runtime::rt;
use crate::with_dtype;
use std::borrow::Cow;

/// Elements summed per tile: the tile stays in L1 while every value is added into it.
const TILE: usize = 2048;
/// Bytes copied per step of a broadcast: the source piece stays in L1/L2 for every output.
const PIECE: usize = 64 << 10;
/// Arrays at least this large are written with streaming (non-temporal) stores: they do not
/// fit the caches anyway, and streaming skips reading each destination line before writing it.
const STREAM_MIN_BYTES: usize = 1 << 20;

/// Pushes one op that writes `values[0] + values[1] + ...` (left to right) into `dst`.
///
/// Every value must have `dst`'s dtype and size (the caller checks and reports); `dst` may be
/// one of the values (same memory), but must not partially overlap any of them.
pub fn reduce_into(
    values: &[NDArray],
    dst: &NDArray,
    priority: i32,
    origin: Option<Origin>,
) -> Result<()> {
    check_host(values.iter().chain(std::iter::once(dst)), "_kvstore_reduce")?;
    if !on_host(values.iter().chain(std::iter::once(dst))) {
        return device::reduce_into(values, dst, origin);
    }
    if values.is_empty() {
        return Err(Error::Value("_kvstore_reduce: no values to sum".into()));
    }
    for v in values {
        if v.dtype() != dst.dtype() || v.size() != dst.size() {
            return Err(Error::Internal(format!(
                "_kvstore_reduce: value {v:?} does not fit the destination {dst:?}"
            )));
        }
        if v.overlaps(dst) && v.offset() != dst.offset() {
            return Err(Error::Internal(
                "_kvstore_reduce: a value partially overlaps the destination".into(),
            ));
        }
    }
    let (vals, out) = (values.to_vec(), dst.clone());
    rt().engine.push(Task {
        name: Cow::Borrowed("_kvstore_reduce"),
        reads: values.iter().map(|v| v.var().clone()).collect(),
        writes: vec![dst.var().clone()],
        body: Box::new(move || {
            sum_arrays(&vals, std::slice::from_ref(&out));
            Ok(())
        }),
        origin,
        cost: dst.size() * (values.len() + 1),
        priority,
    });
    Ok(())
}

/// Pushes one op that copies `src` into every array of `outs` (same dtype and size as `src`,
/// none overlapping `src` or another output unless it is exactly the same memory).
pub fn broadcast(
    src: &NDArray,
    outs: &[NDArray],
    priority: i32,
    origin: Option<Origin>,
) -> Result<()> {
    check_host(
        outs.iter().chain(std::iter::once(src)),
        "_kvstore_broadcast",
    )?;
    if !on_host(outs.iter().chain(std::iter::once(src))) {
        return device::broadcast(src, outs, origin);
    }
    let mut targets: Vec<NDArray> = Vec::with_capacity(outs.len());
    for o in outs {
        if o.dtype() != src.dtype() || o.size() != src.size() {
            return Err(Error::Internal(format!(
                "_kvstore_broadcast: output {o:?} does not fit the source {src:?}"
            )));
        }
        let same = |a: &NDArray, b: &NDArray| a.same_chunk(b) && a.offset() == b.offset();
        if same(o, src) || targets.iter().any(|t| same(t, o)) {
            continue; // already holds (or will hold) exactly these bytes
        }
        if o.overlaps(src) || targets.iter().any(|t| t.overlaps(o)) {
            return Err(Error::Internal(
                "_kvstore_broadcast: outputs partially overlap".into(),
            ));
        }
        targets.push(o.clone());
    }
    if targets.is_empty() {
        return Ok(());
    }
    let s = src.clone();
    let cost = src.size() * (targets.len() + 1);
    rt().engine.push(Task {
        name: Cow::Borrowed("_kvstore_broadcast"),
        reads: vec![src.var().clone()],
        writes: targets.iter().map(|t| t.var().clone()).collect(),
        body: Box::new(move || {
            copy_to_all(&s, &targets);
            Ok(())
        }),
        origin,
        cost,
        priority,
    });
    Ok(())
}

/// Pushes one op that writes the sum of `values` (left to right) into `dst` and into every
/// array of `outs`: a push and a pull in one pass, without reading `dst` back.
///
/// Values, `dst` and outputs must share dtype and size; an output may be exactly a value or
/// `dst` (same memory, e.g. `pushpull` in place), but no two arrays may partially overlap.
pub fn reduce_broadcast(
    values: &[NDArray],
    dst: &NDArray,
    outs: &[NDArray],
    priority: i32,
    origin: Option<Origin>,
) -> Result<()> {
    check_host(
        values.iter().chain(outs).chain(std::iter::once(dst)),
        "_kvstore_reduce_broadcast",
    )?;
    if !on_host(values.iter().chain(outs).chain(std::iter::once(dst))) {
        device::reduce_into(values, dst, origin.clone())?;
        return device::broadcast(dst, outs, origin);
    }
    if values.is_empty() {
        return Err(Error::Value(
            "_kvstore_reduce_broadcast: no values to sum".into(),
        ));
    }
    let same = |a: &NDArray, b: &NDArray| a.same_chunk(b) && a.offset() == b.offset();
    let mut targets = vec![dst.clone()];
    for o in outs {
        if !targets.iter().any(|t| same(t, o)) {
            targets.push(o.clone());
        }
    }
    let all = values.iter().chain(targets.iter());
    for (i, a) in all.clone().enumerate() {
        if a.dtype() != dst.dtype() || a.size() != dst.size() {
            return Err(Error::Internal(format!(
                "_kvstore_reduce_broadcast: {a:?} does not fit {dst:?}"
            )));
        }
        if all
            .clone()
            .skip(i + 1)
            .any(|b| a.overlaps(b) && !same(a, b))
        {
            return Err(Error::Internal(
                "_kvstore_reduce_broadcast: arrays partially overlap".into(),
            ));
        }
    }
    let vals = values.to_vec();
    let cost = dst.size() * (values.len() + targets.len());
    rt().engine.push(Task {
        name: Cow::Borrowed("_kvstore_reduce_broadcast"),
        reads: values.iter().map(|v| v.var().clone()).collect(),
        writes: targets.iter().map(|t| t.var().clone()).collect(),
        body: Box::new(move || {
            sum_arrays(&vals, &targets);
            Ok(())
        }),
        origin,
        cost,
        priority,
    });
    Ok(())
}

fn on_host<'a>(mut arrays: impl Iterator<Item = &'a NDArray>) -> bool {
    arrays.all(|a| a.ctx().is_host())
}

/// GPU arrays: the host kernels below cannot read them, so the sum and the copies are
/// registry ops and copies on the devices (values first copied to the destination's device).
mod device {
    use crate::engine::Origin;
    use crate::error::Result;
    use crate::ndarray::NDArray;
    use crate::op::{copy_into, invoke, registry};

    pub fn reduce_into(values: &[NDArray], dst: &NDArray, origin: Option<Origin>) -> Result<()> {
        let add = registry().get("elemwise_add")?.create(&[])?;
        let local = |v: &NDArray| -> Result<NDArray> {
            let v = v.reshape_view(dst.shape().clone())?;
            if v.ctx() == dst.ctx() {
                return Ok(v);
            }
            let t = NDArray::empty(dst.shape().clone(), dst.dtype(), dst.ctx())?;
            copy_into(&v, &t, origin.clone())?;
            Ok(t)
        };
        let mut it = values.iter();
        let Some(first) = it.next() else {
            return Ok(());
        };
        copy_into(&local(first)?, dst, origin.clone())?;
        for v in it {
            invoke(
                &add,
                &[dst.clone(), local(v)?],
                Some(std::slice::from_ref(dst)),
                origin.clone(),
            )?;
        }
        Ok(())
    }

    pub fn broadcast(src: &NDArray, outs: &[NDArray], origin: Option<Origin>) -> Result<()> {
        for o in outs {
            copy_into(&src.reshape_view(o.shape().clone())?, o, origin.clone())?;
        }
        Ok(())
    }
}

fn check_host<'a>(arrays: impl Iterator<Item = &'a NDArray>, op: &str) -> Result<()> {
    for a in arrays {
        a.ctx().check_usable(op)?;
    }
    Ok(())
}

/// Kernel of `reduce_into` and `reduce_broadcast`; runs inside the op.
fn sum_arrays(values: &[NDArray], outs: &[NDArray]) {
    let Some(first) = outs.first() else {
        return;
    };
    let n = first.size();
    let stream = first.nbytes() >= STREAM_MIN_BYTES;
    with_dtype!(first.dtype(), T, {
        // SAFETY: inside the op that reads every value and writes every output.
        let srcs: Vec<Ptr<T>> = values
            .iter()
            .map(|v| Ptr(unsafe { v.raw() } as *mut T))
            .collect();
        let dsts: Vec<Ptr<T>> = outs
            .iter()
            .map(|o| Ptr(unsafe { o.raw() } as *mut T))
            .collect();
        par_ranges(n, values.len() + outs.len(), |b, e| {
            // SAFETY: b..e lies inside every array; ranges of parallel parts are disjoint; an
            // output that is a value itself is read tile by tile before that tile is written.
            unsafe { sum_range(&srcs, &dsts, b, e, stream) }
        });
    });
}

/// `acc[i] = a[i] + b[i] (+ c[i] (+ d[i]))`, left to right; with `keep`, `acc[i]` itself is
/// the first term. Every stream is read in the same pass (the prefetchers follow them all).
///
/// # Safety
/// Valid ranges of `n` elements; `acc` disjoint from the sources.
#[inline(always)]
unsafe fn add_group<T: Arith>(s: &[*const T], acc: *mut T, n: usize, keep: bool) {
    match (keep, s) {
        (false, [a]) => std::ptr::copy_nonoverlapping(*a, acc, n),
        (false, [a, b]) => {
            for i in 0..n {
                *acc.add(i) = (*a.add(i)).add(*b.add(i));
            }
        }
        (false, [a, b, c]) => {
            for i in 0..n {
                *acc.add(i) = (*a.add(i)).add(*b.add(i)).add(*c.add(i));
            }
        }
        (false, [a, b, c, d]) => {
            for i in 0..n {
                *acc.add(i) = (*a.add(i)).add(*b.add(i)).add(*c.add(i)).add(*d.add(i));
            }
        }
        (true, [a]) => {
            for i in 0..n {
                *acc.add(i) = (*acc.add(i)).add(*a.add(i));
            }
        }
        (true, [a, b]) => {
            for i in 0..n {
                *acc.add(i) = (*acc.add(i)).add(*a.add(i)).add(*b.add(i));
            }
        }
        (true, [a, b, c]) => {
            for i in 0..n {
                *acc.add(i) = (*acc.add(i)).add(*a.add(i)).add(*b.add(i)).add(*c.add(i));
            }
        }
        _ => {}
    }
}

/// Sums elements `b..e` of every source into every array of `outs`, a tile at a time: four
/// sources in the first pass over the tile, then three more per pass, so the sum is formed left
/// to right; the tile is complete before it is written anywhere.
///
/// # Safety
/// As `sum_arrays`: valid ranges; each output is disjoint from every source and every other
/// output, or identical to it.
unsafe fn sum_range<T: Arith>(srcs: &[Ptr<T>], outs: &[Ptr<T>], b: usize, e: usize, stream: bool) {
    let mut tile = [T::default(); TILE];
    let acc = tile.as_mut_ptr();
    let mut ptrs: Vec<*const T> = Vec::with_capacity(4);
    let mut i = b;
    while i < e {
        let m = TILE.min(e - i);
        let (first, rest) = srcs.split_at(srcs.len().min(4));
        ptrs.clear();
        ptrs.extend(first.iter().map(|p| p.get().add(i) as *const T));
        add_group(&ptrs, acc, m, false);
        for group in rest.chunks(3) {
            ptrs.clear();
            ptrs.extend(group.iter().map(|p| p.get().add(i) as *const T));
            add_group(&ptrs, acc, m, true);
        }
        let bytes = m * std::mem::size_of::<T>();
        for out in outs {
            copy_bytes(acc as *const u8, out.get().add(i) as *mut u8, bytes, stream);
        }
        i += m;
    }
    if stream {
        store_fence();
    }
}

/// Kernel of `broadcast`; runs inside the op.
fn copy_to_all(src: &NDArray, outs: &[NDArray]) {
    let bytes = src.nbytes();
    let stream = bytes >= STREAM_MIN_BYTES;
    // SAFETY: inside the op that reads src and writes every output.
    let s = Ptr(unsafe { src.raw() });
    let dsts: Vec<Ptr<u8>> = outs.iter().map(|o| Ptr(unsafe { o.raw() })).collect();
    par_ranges(bytes, outs.len() + 1, |b, e| {
        let mut i = b;
        while i < e {
            let m = PIECE.min(e - i);
            for d in &dsts {
                // SAFETY: disjoint byte ranges of non-overlapping buffers (checked at push).
                unsafe { copy_bytes(s.get().add(i), d.get().add(i), m, stream) };
            }
            i += m;
        }
        if stream {
            store_fence();
        }
    });
}
