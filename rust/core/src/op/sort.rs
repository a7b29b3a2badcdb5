//! `sort`, `argsort` and `topk` along one axis, or over the flattened array when `axis` is
//! None. All three are one selection: order each row by (value, position), keep the first k.
//! Equal values keep their input order in both directions; NaN orders as the largest value.
//! Where only values are returned, positions are not needed: each row becomes exact keys that
//! rebuild the values (see `SortKey::Exact`), sorted without them.

use super::params::{param, ParamSpec};
use super::{expect_inputs, Desc, FnOp, Inputs, Operator, Params, Registry, SimpleDef};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::{keysort, par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::shape::{norm_axis, Shape};
use crate::with_dtype;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ret {
    Value,
    Indices,
    Mask,
    Both,
}

#[derive(Clone, Copy, Debug)]
struct Spec {
    name: &'static str,
    axis: Option<i64>,
    /// Elements kept per row; 0 or less keeps all (a full sort).
    k: i64,
    ret: Ret,
    ascend: bool,
    index_dtype: DType,
}

/// One selection problem: `outer * inner` rows of `n` elements `inner` apart, keeping `k`.
#[derive(Clone, Copy, Debug)]
struct Plan {
    outer: usize,
    n: usize,
    inner: usize,
    k: usize,
}

/// The layout and output descriptions for an input shape (MXNet `ParseTopKParam`).
fn plan(s: &Spec, shape: &Shape, dtype: DType) -> Result<(Plan, Vec<Desc>)> {
    let op = s.name;
    let (outer, n, inner, ax) = match s.axis {
        None => (1, shape.size(), 1, None),
        Some(_) if shape.ndim() == 0 => {
            return Err(Error::shape(
                op,
                "expects an input with at least one dimension, got shape []",
            ))
        }
        Some(a) => {
            let ax = norm_axis(a, shape.ndim(), op)?;
            let d = shape.dims();
            (
                d[..ax].iter().product(),
                d[ax],
                d[ax + 1..].iter().product(),
                Some(ax),
            )
        }
    };
    let k = if s.k <= 0 {
        n
    } else {
        usize::try_from(s.k).unwrap_or(usize::MAX)
    };
    if s.name == "topk" && (k < 1 || k > n) {
        return Err(Error::shape(
            op,
            format!("k must be between 1 and {n} (the axis size of shape {shape}), got k = {k}"),
        ));
    }
    let limit = match s.index_dtype {
        DType::U8 => 255,
        DType::F16 => 2048,
        DType::BF16 => 256,
        DType::F32 => 1 << 24,
        DType::I32 => i32::MAX as usize,
        _ => usize::MAX,
    };
    if matches!(s.ret, Ret::Indices | Ret::Both) && n.saturating_sub(1) > limit {
        return Err(Error::param(
            op,
            format!(
                "dtype {} cannot precisely represent the indices of an axis of size {n}",
                s.index_dtype
            ),
        ));
    }
    let target = match ax {
        _ if s.ret == Ret::Mask => shape.clone(),
        None => Shape(vec![k]),
        Some(ax) => {
            let mut d = shape.dims().to_vec();
            d[ax] = k;
            Shape(d)
        }
    };
    let descs = match s.ret {
        Ret::Value | Ret::Mask => vec![Desc::new(target, dtype)],
        Ret::Indices => vec![Desc::new(target, s.index_dtype)],
        Ret::Both => vec![
            Desc::new(target.clone(), dtype),
            Desc::new(target, s.index_dtype),
        ],
    };
    Ok((Plan { outer, n, inner, k }, descs))
}

/// An unsigned key that orders values as this module sorts them: -0 equal to 0, every NaN
/// equal and above all numbers. Keys of at most 32 bits (`NARROW`) pack with a position into
/// one u64 that orders by (value, position).
trait SortKey: Element {
    const NARROW: bool;
    fn key(self) -> u64;
    /// A key that orders as `key` does except that -0 sits just below 0 and NaN's sign is
    /// dropped, and its inverse: a sort of values alone sorts these and rebuilds the values,
    /// no positions needed.
    type Exact: ExactKey;
    fn exact(self) -> Self::Exact;
    fn from_exact(k: Self::Exact) -> Self;
}

/// Exact keys: 32-bit ones go to the AVX2 key sort, 64-bit ones to the library sort.
trait ExactKey: Copy + Ord + std::ops::BitXor<Output = Self> {
    const ZERO: Self;
    const ONES: Self;
    fn sort(v: &mut [Self], tmp: &mut Vec<Self>);
}

impl ExactKey for u32 {
    const ZERO: u32 = 0;
    const ONES: u32 = u32::MAX;
    fn sort(v: &mut [u32], tmp: &mut Vec<u32>) {
        keysort::sort_u32(v, tmp)
    }
}

impl ExactKey for u64 {
    const ZERO: u64 = 0;
    const ONES: u64 = u64::MAX;
    fn sort(v: &mut [u64], _: &mut Vec<u64>) {
        v.sort_unstable()
    }
}

/// A float's exact key (see `SortKey::Exact`) and back: the bits with the sign flipped for
/// positive values and all flipped for negative ones, NaN's sign cleared first; and its `key`,
/// the exact key of the value with -0 made 0 and every NaN made one, the greatest.
macro_rules! float_exact {
    ($key:ident, $to:ident, $from:ident, $f:ty, $u:ty) => {
        #[inline(always)]
        fn $key(v: $f) -> $u {
            $to(if v.is_nan() {
                <$f>::from_bits(<$u>::MAX >> 1)
            } else {
                v + 0.0
            })
        }

        #[inline(always)]
        fn $to(v: $f) -> $u {
            const SIGN: $u = 1 << (<$u>::BITS - 1);
            let b = if v.is_nan() {
                v.to_bits() & !SIGN
            } else {
                v.to_bits()
            };
            if b & SIGN != 0 {
                !b
            } else {
                b | SIGN
            }
        }

        #[inline(always)]
        fn $from(k: $u) -> $f {
            const SIGN: $u = 1 << (<$u>::BITS - 1);
            <$f>::from_bits(if k & SIGN != 0 { k & !SIGN } else { !k })
        }
    };
}
float_exact!(f32_key, f32_exact, f32_from_exact, f32, u32);
float_exact!(f64_key, f64_exact, f64_from_exact, f64, u64);

/// `key` is the exact key unless given: only floats tell -0 from 0 and NaNs apart there.
macro_rules! sort_key {
    ($t:ty, $narrow:expr, $k:ty, |$x:ident| $to:expr, |$y:ident| $from:expr) => {
        sort_key!($t, $narrow, $k, |$x| $to, |$y| $from, |v| v.exact() as u64);
    };
    ($t:ty, $narrow:expr, $k:ty, |$x:ident| $to:expr, |$y:ident| $from:expr, |$v:ident| $key:expr) => {
        impl SortKey for $t {
            const NARROW: bool = $narrow;
            #[inline(always)]
            fn key(self) -> u64 {
                let $v = self;
                $key
            }
            type Exact = $k;
            #[inline(always)]
            fn exact(self) -> $k {
                let $x = self;
                $to
            }
            #[inline(always)]
            fn from_exact($y: $k) -> Self {
                $from
            }
        }
    };
}
sort_key!(
    f32,
    true,
    u32,
    |v| f32_exact(v),
    |k| f32_from_exact(k),
    |v| f32_key(v) as u64
);
sort_key!(
    f64,
    false,
    u64,
    |v| f64_exact(v),
    |k| f64_from_exact(k),
    |v| f64_key(v)
);
sort_key!(
    half::f16,
    true,
    u32,
    |v| f32_exact(v.to_f32()),
    |k| half::f16::from_f32(f32_from_exact(k)),
    |v| f32_key(v.to_f32()) as u64
);
sort_key!(
    half::bf16,
    true,
    u32,
    |v| f32_exact(v.to_f32()),
    |k| half::bf16::from_f32(f32_from_exact(k)),
    |v| f32_key(v.to_f32()) as u64
);
sort_key!(u8, true, u32, |v| v as u32, |k| k as u8);
sort_key!(
    i8,
    true,
    u32,
    |v| (v as u8 ^ 0x80) as u32,
    |k| (k as u8 ^ 0x80) as i8
);
sort_key!(i32, true, u32, |v| v as u32 ^ 1 << 31, |k| (k ^ 1 << 31)
    as i32);
sort_key!(i64, false, u64, |v| v as u64 ^ 1 << 63, |k| (k ^ 1 << 63)
    as i64);

/// Rows at least this long are fully sorted by radix passes instead of comparisons.
const RADIX_MIN: usize = 256;

/// Stable LSD radix sort of packed (key << 32 | position) words by their key, a byte per
/// pass; a pass whose byte is the same in every word is skipped. Each pass walks the four
/// quarters of the words side by side with their own bucket offsets: values that share a
/// bucket (the top byte of similar floats) would otherwise make every step wait for the
/// previous one's offset increment.
fn radix_by_key(a: &mut [u64], tmp: &mut Vec<u64>) {
    let len = a.len();
    let q = len / 4;
    let starts = [0, q, 2 * q, 3 * q];
    tmp.resize(len, 0);
    let mut in_tmp = false;
    for shift in [32, 40, 48, 56] {
        let byte = |x: u64| (x >> shift) as usize & 255;
        let (from, to): (&[u64], &mut [u64]) = if in_tmp { (tmp, a) } else { (a, tmp) };
        // Each quarter's bucket sizes in the current order (the last quarter takes the tail).
        let mut counts = [[0u32; 256]; 4];
        for i in 0..q {
            for k in 0..4 {
                counts[k][byte(from[starts[k] + i])] += 1;
            }
        }
        for &x in &from[4 * q..] {
            counts[3][byte(x)] += 1;
        }
        if (0..256).any(|b| counts.iter().map(|c| c[b] as usize).sum::<usize>() == len) {
            continue;
        }
        // Bucket b of quarter k starts after every smaller bucket and after bucket b of the
        // quarters before k.
        let mut off = [[0usize; 256]; 4];
        let mut sum = 0;
        for b in 0..256 {
            for k in 0..4 {
                off[k][b] = sum;
                sum += counts[k][b] as usize;
            }
        }
        for i in 0..q {
            for k in 0..4 {
                let x = from[starts[k] + i];
                let b = byte(x);
                to[off[k][b]] = x;
                off[k][b] += 1;
            }
        }
        for &x in &from[4 * q..] {
            let b = byte(x);
            to[off[3][b]] = x;
            off[3][b] += 1;
        }
        in_tmp = !in_tmp;
    }
    if in_tmp {
        a.copy_from_slice(tmp);
    }
}

/// Puts the first k of `v` in order by `sort`, after a selection when k is short of all.
fn first_k<E: Ord>(v: &mut [E], k: usize, sort: impl FnOnce(&mut [E])) {
    if k < v.len() {
        v.select_nth_unstable(k - 1);
    }
    sort(&mut v[..k]);
}

/// Output buffers of one call; each is written only at positions of the task's own rows.
struct Outs<T> {
    values: Option<Ptr<T>>,
    indices: Option<(Ptr<u8>, DType)>,
    mask: Option<Ptr<T>>,
}

/// Writes one row's first k positions `order` (of the row at `base`, `inner` apart in `src`).
fn write_row<T: Element>(
    src: &[T],
    out: &Outs<T>,
    order: impl Iterator<Item = usize> + Clone,
    (base, obase, inner): (usize, usize, usize),
    n: usize,
) {
    if let Some(v) = out.values {
        for (p, j) in order.clone().enumerate() {
            // SAFETY: obase + p * inner indexes this row of the (outer, k, inner) output.
            unsafe { *v.get().add(obase + p * inner) = src[base + j * inner] }
        }
    }
    if let Some((ip, dt)) = out.indices {
        with_dtype!(dt, I, {
            let ip = ip.get() as *mut I;
            for (p, j) in order.clone().enumerate() {
                // SAFETY: as above, in the index output.
                unsafe { *ip.add(obase + p * inner) = I::from_f64(j as f64) }
            }
        })
    }
    if let Some(m) = out.mask {
        for j in 0..n {
            // SAFETY: the mask has the input's shape; these are this row's positions.
            unsafe { *m.get().add(base + j * inner) = T::from_f64(0.0) }
        }
        for j in order {
            // SAFETY: as above.
            unsafe { *m.get().add(base + j * inner) = T::from_f64(1.0) }
        }
    }
}

fn select<T: SortKey>(src: &[T], p: Plan, ascend: bool, out: &Outs<T>) {
    let Plan { outer, n, inner, k } = p;
    if k == 0 {
        return;
    }
    let work = n * (usize::BITS - n.leading_zeros()) as usize + 1;
    // Descending order sorts the complemented keys; positions still ascend within ties.
    let packed = T::NARROW && n <= u32::MAX as usize;
    let flip = match (ascend, packed) {
        (true, _) => 0,
        (false, true) => u32::MAX as u64,
        (false, false) => u64::MAX,
    };
    let values_only = out
        .values
        .filter(|_| out.indices.is_none() && out.mask.is_none());
    par_ranges(outer * inner, work, |b, e| {
        let (mut words, mut tmp, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
        let (mut keys, mut ktmp) = (Vec::new(), Vec::new());
        for t in b..e {
            let (o, i) = (t / inner, t % inner);
            let at = (o * n * inner + i, o * k * inner + i, inner);
            if let Some(v) = values_only {
                let flip = if ascend {
                    T::Exact::ZERO
                } else {
                    T::Exact::ONES
                };
                keys.clear();
                // Contiguous rows get loops over slices, which vectorise.
                if inner == 1 {
                    keys.extend(src[at.0..at.0 + n].iter().map(|&x| x.exact() ^ flip));
                } else {
                    keys.extend((0..n).map(|j| src[at.0 + j * inner].exact() ^ flip));
                }
                first_k(&mut keys, k, |w| ExactKey::sort(w, &mut ktmp));
                if inner == 1 {
                    // SAFETY: the k outputs from at.1 are this row of the (outer, k) output.
                    let row = unsafe { std::slice::from_raw_parts_mut(v.get().add(at.1), k) };
                    for (y, &key) in row.iter_mut().zip(&keys) {
                        *y = T::from_exact(key ^ flip);
                    }
                    continue;
                }
                for (p, &key) in keys[..k].iter().enumerate() {
                    // SAFETY: at.1 + p * inner indexes this row of the (outer, k, inner) output.
                    unsafe { *v.get().add(at.1 + p * inner) = T::from_exact(key ^ flip) }
                }
                continue;
            }
            let row = (0..n).map(|j| src[at.0 + j * inner].key() ^ flip);
            if packed {
                words.clear();
                words.extend(row.zip(0u64..).map(|(key, j)| key << 32 | j));
                first_k(&mut words, k, |w| {
                    if w.len() >= RADIX_MIN {
                        radix_by_key(w, &mut tmp)
                    } else {
                        w.sort_unstable()
                    }
                });
                let order = words[..k].iter().map(|&w| w as u32 as usize);
                write_row(src, out, order, at, n);
            } else {
                pairs.clear();
                pairs.extend(row.zip(0usize..));
                first_k(&mut pairs, k, |w| w.sort_unstable());
                write_row(src, out, pairs[..k].iter().map(|&(_, j)| j), at, n);
            }
        }
    });
}

fn topk_op(s: Spec) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        s.name,
        move |inputs| {
            expect_inputs(s.name, inputs, 1)?;
            Ok(plan(&s, &inputs[0].shape, inputs[0].dtype)?.1)
        },
        move |_, ins, outs| {
            let a = &ins[0];
            let (p, _) = plan(&s, a.shape(), a.dtype())?;
            if a.size() == 0 {
                return Ok(());
            }
            // SAFETY (for the raw pointers below): inside the op writing every output.
            let raw = |o: &NDArray| unsafe { Ptr(o.raw()) };
            with_dtype!(a.dtype(), T, {
                let typed = |o: &NDArray| Ptr(raw(o).get() as *mut T);
                let out = match s.ret {
                    Ret::Value => Outs {
                        values: Some(typed(&outs[0])),
                        indices: None,
                        mask: None,
                    },
                    Ret::Indices => Outs {
                        values: None,
                        indices: Some((raw(&outs[0]), s.index_dtype)),
                        mask: None,
                    },
                    Ret::Mask => Outs {
                        values: None,
                        indices: None,
                        mask: Some(typed(&outs[0])),
                    },
                    Ret::Both => Outs {
                        values: Some(typed(&outs[0])),
                        indices: Some((raw(&outs[1]), s.index_dtype)),
                        mask: None,
                    },
                };
                // SAFETY: inside the op reading a; T matches its dtype.
                select::<T>(unsafe { a.data::<T>() }, p, s.ascend, &out);
            });
            Ok(())
        },
    );
    op.num_outputs = if s.ret == Ret::Both { 2 } else { 1 };
    if s.ret == Ret::Value {
        // MXNet computes the indices beside the values and hides them: its symbols name the
        // values `output0` and its files count two outputs
        op.mxnet_outputs = Some(2);
        op.output_names = Some(vec!["output0".into()]);
    }
    op.with_type_partial(super::types_from_data(move |t| match s.ret {
        Ret::Value | Ret::Mask => vec![t],
        Ret::Indices => vec![s.index_dtype],
        Ret::Both => vec![t, s.index_dtype],
    }))
    .with_grad(move |g, a| {
        let x = &a.inputs[0];
        let idx = match s.ret {
            // Indices and masks are piecewise constant in the data.
            Ret::Indices | Ret::Mask => return Ok(vec![Some(g.zeros_like(x)?)]),
            Ret::Both => a.outputs[1].clone(),
            Ret::Value => {
                let spec = Spec {
                    ret: Ret::Indices,
                    index_dtype: DType::I64,
                    ..s
                };
                g.apply(topk_op(spec), std::slice::from_ref(x))[0].clone()
            }
        };
        let r = g.apply(backward_op(s), &[a.out_grads[0].clone(), idx, x.clone()]);
        Ok(vec![Some(r[0].clone())])
    })
    .arc()
}

/// `_backward_topk(ograd, indices, data)`: zeros shaped like `data` with each selected
/// element's gradient written back at its source position.
fn backward_op(s: Spec) -> Arc<dyn Operator> {
    const NAME: &str = "_backward_topk";
    FnOp::new(
        NAME,
        move |inputs| {
            expect_inputs(NAME, inputs, 3)?;
            let (p, descs) = plan(&s, &inputs[2].shape, inputs[2].dtype)?;
            let want = &descs[0].shape;
            if &inputs[0].shape != want || inputs[1].shape.size() != want.size() || p.k > p.n {
                return Err(Error::shape(
                    NAME,
                    format!(
                        "gradient {} and indices {} do not match the selection {want} of {}",
                        inputs[0].shape, inputs[1].shape, inputs[2].shape
                    ),
                ));
            }
            Ok(vec![Desc::new(inputs[2].shape.clone(), inputs[0].dtype)])
        },
        move |_, ins, outs| {
            let (og, o) = (&ins[0], &outs[0]);
            let (p, _) = plan(&s, o.shape(), o.dtype())?;
            let Plan { outer, n, inner, k } = p;
            let idx = read_positions(NAME, &ins[1], n)?;
            with_dtype!(o.dtype(), T, {
                crate::kernels::cpu::elemwise::fill::<T>(o, T::default());
                if og.size() == 0 {
                    return Ok(());
                }
                // SAFETY: inside the op reading og and writing o; indices checked < n.
                let (src, dst) = unsafe { (og.data::<T>(), Ptr(o.raw() as *mut T)) };
                par_ranges(outer, k * inner, |b, e| {
                    for ob in b..e {
                        for t in 0..k {
                            for i in 0..inner {
                                let at = (ob * k + t) * inner + i;
                                // SAFETY: slab ob of o belongs to this task only.
                                unsafe { *dst.get().add((ob * n + idx[at]) * inner + i) = src[at] };
                            }
                        }
                    }
                });
            });
            Ok(())
        },
    )
    .with_shape_partial(|ins, outs| {
        if outs[0].is_none() {
            outs[0] = ins[2].clone();
        }
        Ok(())
    })
    .with_type_partial(|ins, outs| {
        if outs[0].is_none() {
            outs[0] = ins[0];
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let r = g.apply(gather_op(s), &[a.out_grads[0].clone(), a.inputs[1].clone()]);
        Ok(vec![Some(r[0].clone()), None, None])
    })
    .arc()
}

/// Selection positions as read from an index array, checked against the axis size `n`.
fn read_positions(op: &str, a: &NDArray, n: usize) -> Result<Vec<usize>> {
    let idx: Vec<usize> = with_dtype!(a.dtype(), I, {
        if a.size() == 0 {
            vec![]
        } else {
            // SAFETY: called inside the op reading `a`.
            unsafe { a.data::<I>() }
                .iter()
                .map(|v| v.to_f64() as usize)
                .collect()
        }
    });
    if idx.iter().any(|&j| j >= n) {
        return Err(Error::Index(format!(
            "{op}: an index is out of range for an axis of size {n}"
        )));
    }
    Ok(idx)
}

/// `_gather_topk(data, indices)`: the elements of `data` at the selected positions (the
/// selection's shape); the adjoint of `_backward_topk`.
fn gather_op(s: Spec) -> Arc<dyn Operator> {
    const NAME: &str = "_gather_topk";
    FnOp::new(
        NAME,
        move |inputs| {
            expect_inputs(NAME, inputs, 2)?;
            let (_, descs) = plan(&s, &inputs[0].shape, inputs[0].dtype)?;
            let want = descs[0].shape.clone();
            if inputs[1].shape.size() != want.size() {
                return Err(Error::shape(
                    NAME,
                    format!(
                        "indices {} do not match the selection {want} of {}",
                        inputs[1].shape, inputs[0].shape
                    ),
                ));
            }
            Ok(vec![Desc::new(want, inputs[0].dtype)])
        },
        move |_, ins, outs| {
            let (d, o) = (&ins[0], &outs[0]);
            let (p, _) = plan(&s, d.shape(), d.dtype())?;
            let Plan { outer, n, inner, k } = p;
            let idx = read_positions(NAME, &ins[1], n)?;
            if o.size() == 0 {
                return Ok(());
            }
            with_dtype!(o.dtype(), T, {
                // SAFETY: inside the op reading d and writing o; indices checked < n.
                let (src, dst) = unsafe { (d.data::<T>(), Ptr(o.raw() as *mut T)) };
                par_ranges(outer, k * inner, |b, e| {
                    for ob in b..e {
                        for t in 0..k {
                            for i in 0..inner {
                                let at = (ob * k + t) * inner + i;
                                // SAFETY: slab ob of o belongs to this task only.
                                unsafe { *dst.get().add(at) = src[(ob * n + idx[at]) * inner + i] };
                            }
                        }
                    }
                });
            });
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let r = g.apply(
            backward_op(s),
            &[
                a.out_grads[0].clone(),
                a.inputs[1].clone(),
                a.inputs[0].clone(),
            ],
        );
        Ok(vec![Some(r[0].clone()), None])
    })
    .arc()
}

const INDEX_TYPES: &str = "{'float16', 'float32', 'float64', 'int32', 'int64', 'uint8'}";

/// `axis`, then `between`, `is_ascend` and `after`: MXNet's positional order (topk takes k
/// and ret_typ before is_ascend).
fn common(
    is_ascend: &'static str,
    between: Vec<ParamSpec>,
    after: Vec<ParamSpec>,
) -> Vec<ParamSpec> {
    let mut v = vec![param(
        "axis",
        "int or None",
        Some("-1"),
        "Axis along which to sort the input tensor. If not given, the flattened array is used.",
    )];
    v.extend(between);
    v.extend([param(
        "is_ascend",
        "boolean",
        Some(is_ascend),
        "Whether to sort in ascending or descending order.",
    )]);
    v.extend(after);
    v
}

fn spec(name: &'static str, p: &Params, k: i64, ret: Ret) -> Result<Spec> {
    let index_dtype = match p.is_set("dtype") {
        true => p.dtype("dtype")?.unwrap_or(DType::F32),
        false => DType::F32,
    };
    if matches!(index_dtype, DType::Bool | DType::I8) {
        return Err(Error::param(
            name,
            format!("dtype must be one of {INDEX_TYPES}, got {index_dtype}"),
        ));
    }
    Ok(Spec {
        name,
        axis: p.opt_int("axis")?,
        k,
        ret,
        ascend: p.bool("is_ascend")?,
        index_dtype,
    })
}

pub fn register(r: &mut Registry) {
    let dtype = || {
        param(
            "dtype",
            INDEX_TYPES,
            Some("'float32'"),
            "DType of the output indices.",
        )
    };
    r.add(SimpleDef {
        name: "sort",
        doc: "Returns a sorted copy of an input array along the given axis.".into(),
        params: common("True", vec![], vec![]),
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| Ok(topk_op(spec("sort", p, 0, Ret::Value)?))),
    });
    r.add(SimpleDef {
        name: "argsort",
        doc: "Returns the indices that would sort an input array along the given axis.".into(),
        params: common("True", vec![], vec![dtype()]),
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| Ok(topk_op(spec("argsort", p, 0, Ret::Indices)?))),
    });
    r.add(SimpleDef {
        name: "topk",
        doc: "Returns the indices (or values, a mask, or both) of the top k elements along the given axis.".into(),
        params: common(
            "False",
            vec![
                param("k", "int", Some("1"), "Number of top elements to select; a global sort is performed if k < 1."),
                param("ret_typ", "{'both', 'indices', 'mask', 'value'}", Some("'indices'"), "The return type: values, indices, a 0/1 mask of the top k, or both values and indices."),
            ],
            vec![dtype()],
        ),
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let ret = match p.choice("ret_typ", &["value", "indices", "mask", "both"])? {
                "value" => Ret::Value,
                "mask" => Ret::Mask,
                "both" => Ret::Both,
                _ => Ret::Indices,
            };
            Ok(topk_op(spec("topk", p, p.int("k")?, ret)?))
        }),
    });
}

#[cfg(test)]
mod tests {
    use crate::dtype::DType;
    use crate::op::call_str;
    use crate::op::reduce::tests::{arr, vals, Lcg};

    /// (values, indices) of the first k of each row by a stable sort: the oracle.
    fn naive(
        x: &[f64],
        shape: &[usize],
        ax: Option<usize>,
        k: usize,
        asc: bool,
    ) -> (Vec<f64>, Vec<f64>) {
        let (outer, n, inner) = match ax {
            None => (1, x.len(), 1),
            Some(a) => (
                shape[..a].iter().product(),
                shape[a],
                shape[a + 1..].iter().product::<usize>(),
            ),
        };
        let (mut v, mut ix) = (vec![0.0; outer * k * inner], vec![0.0; outer * k * inner]);
        for o in 0..outer {
            for i in 0..inner {
                let mut idx: Vec<usize> = (0..n).collect();
                let at = |j: usize| x[(o * n + j) * inner + i];
                idx.sort_by(|&a, &b| {
                    if asc {
                        at(a).total_cmp(&at(b))
                    } else {
                        at(b).total_cmp(&at(a))
                    }
                });
                for p in 0..k {
                    v[(o * k + p) * inner + i] = at(idx[p]);
                    ix[(o * k + p) * inner + i] = idx[p] as f64;
                }
            }
        }
        (v, ix)
    }

    #[test]
    fn matches_stable_sort() {
        let mut rng = Lcg(9);
        let shapes: [&[usize]; 6] = [
            &[4, 6],
            &[3, 5, 2],
            &[9],
            &[2, 0, 3],
            &[1, 40, 1],
            &[3, 300],
        ];
        for shape in shapes {
            let n: usize = shape.iter().product();
            let x: Vec<f64> = (0..n).map(|_| (rng.next() * 5.0).floor() - 2.0).collect(); // many ties
            for dt in [
                DType::F32,
                DType::I32,
                DType::F16,
                DType::I64,
                DType::I8,
                DType::BF16,
            ] {
                let a = arr(shape, &x, dt);
                let nd = shape.len() as i64;
                for axis in [None, Some(-1), Some(0), Some(nd - 1)] {
                    let ax = axis.map(|v| ((v + nd) % nd) as usize);
                    let axs = axis.map_or("None".into(), |v| v.to_string());
                    let len = ax.map_or(n, |a| shape[a]);
                    for asc in [true, false] {
                        let ascs = if asc { "True" } else { "False" };
                        let ctx = format!("{shape:?} {dt} axis={axs} asc={asc}");
                        let (v, ix) = naive(&x, shape, ax, len, asc);
                        let s = &call_str(
                            "sort",
                            std::slice::from_ref(&a),
                            &[("axis", &axs), ("is_ascend", ascs)],
                        )
                        .unwrap()[0];
                        assert_eq!((vals(s), s.dtype()), (v, dt), "sort {ctx}");
                        let at = &call_str(
                            "argsort",
                            std::slice::from_ref(&a),
                            &[("axis", &axs), ("is_ascend", ascs), ("dtype", "int64")],
                        );
                        let at = &at.as_ref().unwrap()[0];
                        assert_eq!((vals(at), at.dtype()), (ix, DType::I64), "argsort {ctx}");
                        if len == 0 {
                            assert!(
                                call_str("topk", std::slice::from_ref(&a), &[("axis", &axs)])
                                    .is_err()
                            );
                            continue;
                        }
                        for k in [1, 2.min(len), len] {
                            let ks = k.to_string();
                            let (v, ix) = naive(&x, shape, ax, k, asc);
                            let attrs = [
                                ("axis", axs.as_str()),
                                ("is_ascend", ascs),
                                ("k", &ks),
                                ("ret_typ", "both"),
                            ];
                            let both = call_str("topk", std::slice::from_ref(&a), &attrs).unwrap();
                            assert_eq!(both.len(), 2);
                            assert_eq!(
                                (vals(&both[0]), vals(&both[1])),
                                (v.clone(), ix.clone()),
                                "topk {k} {ctx}"
                            );
                            assert_eq!((both[0].dtype(), both[1].dtype()), (dt, DType::F32));
                            let attrs = [
                                ("axis", axs.as_str()),
                                ("is_ascend", ascs),
                                ("k", &ks),
                                ("ret_typ", "value"),
                            ];
                            let value =
                                &call_str("topk", std::slice::from_ref(&a), &attrs).unwrap();
                            assert_eq!(vals(&value[0]), v, "topk {k} values {ctx}");
                            let attrs = [
                                ("axis", axs.as_str()),
                                ("is_ascend", ascs),
                                ("k", &ks),
                                ("ret_typ", "mask"),
                            ];
                            let m = &call_str("topk", std::slice::from_ref(&a), &attrs).unwrap()[0];
                            assert_eq!((m.shape().dims(), m.dtype()), (shape, dt));
                            let ones: f64 = vals(m).iter().sum();
                            assert_eq!(ones as usize, n / len * k, "mask {k} {ctx}");
                        }
                    }
                }
            }
        }
    }

    /// Long rows (radix-sorted) of spread magnitudes, signed zeros, infinities and NaNs: -0
    /// ties with 0 and NaNs tie above +inf, both kept in input order either way.
    #[test]
    fn long_rows_order_zeros_and_nans_as_ties() {
        let mut rng = Lcg(4);
        let specials = [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.5,
            -1.5,
        ];
        let x: Vec<f64> = (0..2 * 1500)
            .map(|i| {
                if i % 5 == 0 {
                    specials[(rng.next() * 7.0) as usize % 7]
                } else {
                    (rng.next() - 0.5) * 10f64.powi((rng.next() * 60.0) as i32 - 30)
                }
            })
            .collect();
        for dt in [DType::F32, DType::F64, DType::BF16] {
            let a = arr(&[2, 1500], &x, dt);
            let xs = vals(&a); // rounded to dt
            for asc in [true, false] {
                let mut want = Vec::new();
                for row in 0..2 {
                    let mut idx: Vec<usize> = (0..1500).collect();
                    let at = |j: usize| xs[row * 1500 + j];
                    idx.sort_by(|&p, &q| {
                        let (a, b) = (at(p), at(q));
                        let c = match (a.is_nan(), b.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ => a.partial_cmp(&b).unwrap(),
                        };
                        if asc {
                            c
                        } else {
                            c.reverse()
                        }
                    });
                    want.extend(idx.iter().map(|&j| j as f64));
                }
                let ascs = if asc { "True" } else { "False" };
                let got = &call_str("argsort", std::slice::from_ref(&a), &[("is_ascend", ascs)])
                    .unwrap()[0];
                assert_eq!(vals(got), want, "{dt} asc={asc}");
            }
        }
    }

    #[test]
    fn defaults_shapes_and_errors() {
        let a = arr(&[2, 3], &[3.0, 1.0, 2.0, 0.0, 5.0, 5.0], DType::F32);
        let t = &call_str("topk", std::slice::from_ref(&a), &[]).unwrap()[0];
        assert_eq!((t.shape().dims(), vals(t)), (&[2, 1][..], vec![0.0, 1.0]));
        let t = &call_str(
            "topk",
            std::slice::from_ref(&a),
            &[("axis", "None"), ("k", "2"), ("ret_typ", "value")],
        )
        .unwrap()[0];
        assert_eq!((t.shape().dims(), vals(t)), (&[2][..], vec![5.0, 5.0]));
        let t = &call_str(
            "topk",
            std::slice::from_ref(&a),
            &[("k", "0"), ("ret_typ", "'indices'")],
        )
        .unwrap()[0];
        assert_eq!(vals(t), [0.0, 2.0, 1.0, 1.0, 2.0, 0.0]);
        assert!(call_str("topk", std::slice::from_ref(&a), &[("k", "4")]).is_err());
        assert!(call_str("topk", std::slice::from_ref(&a), &[("axis", "2")]).is_err());
        assert!(call_str("topk", std::slice::from_ref(&a), &[("ret_typ", "bogus")]).is_err());
        let long = arr(&[300], &[0.0; 300], DType::F32);
        assert!(call_str(
            "argsort",
            std::slice::from_ref(&long),
            &[("dtype", "uint8")]
        )
        .is_err());
        assert!(call_str("argsort", &[long], &[("dtype", "int32")]).is_ok());
        let nan = arr(&[4], &[1.0, f64::NAN, -1.0, 0.0], DType::F32);
        assert_eq!(
            vals(&call_str("argsort", &[nan], &[]).unwrap()[0]),
            [2.0, 3.0, 0.0, 1.0]
        );
    }
}
