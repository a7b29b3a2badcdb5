//! Indexing by arrays: `take`, `pick`, `one_hot`, `where`. Index arrays may have any dtype;
//! float indices are truncated toward zero as MXNet does.

use super::params::param;
use super::shape_ops::def;
use super::{expect_inputs, Desc, FnOp, Inputs, Operator, Params, Registry};
use crate::context::Context;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::elemwise::map_slice;
use crate::kernels::cpu::strided::{gather_rows, pick_elems};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::shape::{split_at_axis, Shape};
use crate::with_dtype;
use std::sync::Arc;

/// Checks a row write `data[indices] = value` along axis 0: `indices` 1-D, `value` one row of
/// `data` per index, in `data`'s dtype. `names` are the op's names for its three inputs.
pub(crate) fn check_row_write(op: &str, names: [&str; 3], ins: &[Desc]) -> Result<()> {
    let [dn, iname, vn] = names;
    let (d, i, v) = (&ins[0], &ins[1], &ins[2]);
    if i.shape.ndim() != 1 {
        return Err(Error::shape(
            op,
            format!("{iname} must be 1-D, got {}", i.shape),
        ));
    }
    let dims = d.shape.dims();
    if dims.is_empty()
        || v.shape.ndim() != dims.len()
        || v.shape.dims()[0] != i.shape.size()
        || v.shape.dims()[1..] != dims[1..]
    {
        return Err(Error::shape(
            op,
            format!(
                "{vn} must have shape (len({iname}),) + {dn}.shape[1:], got {dn} {}, {iname} {}, {vn} {}",
                d.shape, i.shape, v.shape
            ),
        ));
    }
    if v.dtype != d.dtype {
        return Err(Error::dtype(
            op,
            format!(
                "{dn} and {vn} must have one dtype, got {} and {}",
                d.dtype, v.dtype
            ),
        ));
    }
    Ok(())
}

/// Index values as integers (floats truncate toward zero, NaN reads as 0).
pub(crate) fn read_indices(a: &NDArray) -> Vec<i64> {
    read_indices_nan_as(a, 0)
}

/// [`read_indices`] with a NaN read as `nan` (Rust's cast makes it 0).
fn read_indices_nan_as(a: &NDArray, nan: i64) -> Vec<i64> {
    if a.size() == 0 {
        return vec![]; // storage of an empty array may be a null pointer
    }
    with_dtype!(a.dtype(), I, {
        // SAFETY: called inside the op that reads `a`.
        let v = unsafe { a.data::<I>() };
        v.iter()
            .map(|&x| {
                let f = x.to_f64();
                if f.is_nan() {
                    nan
                } else {
                    f as i64
                }
            })
            .collect()
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Clip,
    Wrap,
    Raise,
}

impl Mode {
    fn parse(p: &Params, choices: &[&str]) -> Result<Mode> {
        Ok(match p.choice("mode", choices)? {
            "wrap" => Mode::Wrap,
            "raise" => Mode::Raise,
            _ => Mode::Clip,
        })
    }

    /// An index into an axis of length `n` (> 0).
    fn resolve(self, op: &str, i: i64, n: usize) -> Result<usize> {
        let n = n as i64;
        Ok(match self {
            Mode::Clip => i.clamp(0, n - 1) as usize,
            Mode::Wrap => i.rem_euclid(n) as usize,
            // MXNet's raise mode takes 0..n only: a negative index is out of bounds too.
            Mode::Raise => {
                if i < 0 || i >= n {
                    return Err(Error::Index(format!(
                        "{op}: index {i} is out of bounds for axis with size {n}"
                    )));
                }
                i as usize
            }
        })
    }
}

fn take_op(axis: i64, mode: Mode) -> Arc<dyn Operator> {
    let op = "take";
    let split = move |s: &Shape| split_at_axis(s, axis, op);
    FnOp::new(
        op,
        move |inputs| {
            expect_inputs(op, inputs, 2)?;
            let (a, idx) = (&inputs[0].shape, &inputs[1].shape);
            let (ax, _, n, _) = split(a)?;
            let mut out = a.0[..ax].to_vec();
            out.extend_from_slice(&idx.0);
            out.extend_from_slice(&a.0[ax + 1..]);
            let out = Shape(out);
            if n == 0 && out.size() > 0 {
                return Err(Error::shape(
                    op,
                    format!("cannot take indices {idx} from empty axis {axis} of shape {a}"),
                ));
            }
            Ok(vec![Desc::new(out, inputs[0].dtype)])
        },
        move |_, ins, outs| {
            let (a, o) = (&ins[0], &outs[0]);
            if o.size() == 0 {
                return Ok(());
            }
            let (_, outer, n, inner) = split(a.shape())?;
            let idx = read_indices(&ins[1])
                .into_iter()
                .map(|i| mode.resolve(op, i, n))
                .collect::<Result<Vec<_>>>()?;
            gather_rows(a, o, outer, n, inner, &idx)
        },
    )
    .with_grad(move |g, a| {
        let r = g.apply(
            scatter_op(false, axis, false, mode),
            &[
                a.out_grads[0].clone(),
                a.inputs[1].clone(),
                a.inputs[0].clone(),
            ],
        );
        Ok(vec![Some(r[0].clone()), None])
    })
    .with_type_partial(super::data_type_only)
    .arc()
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Clip => "clip",
        Mode::Wrap => "wrap",
        Mode::Raise => "raise",
    }
}

/// `_backward_take(ograd, indices, data)` (rows of `ograd` added into zeros shaped like
/// `data` at the taken positions; repeated indices accumulate) or `_backward_pick` (one
/// element per position). Linear in `ograd`, whose gradient is the forward op again.
fn scatter_op(pick: bool, axis: i64, keepdims: bool, mode: Mode) -> Arc<dyn Operator> {
    let op = if pick {
        "_backward_pick"
    } else {
        "_backward_take"
    };
    FnOp::new(
        op,
        move |inputs| {
            expect_inputs(op, inputs, 3)?;
            let (og, idx, d) = (&inputs[0].shape, &inputs[1].shape, &inputs[2].shape);
            let (_, outer, _, inner) = split_at_axis(d, axis, op)?;
            let want = if pick { outer * inner } else { outer * idx.size() * inner };
            if og.size() != want || (pick && idx.size() != want) {
                return Err(Error::shape(
                    op,
                    format!("gradient of shape {og} and indices of shape {idx} do not match data of shape {d}"),
                ));
            }
            Ok(vec![Desc::new(d.clone(), inputs[0].dtype)])
        },
        move |_, ins, outs| {
            let (og, o) = (&ins[0], &outs[0]);
            let (_, outer, n, inner) = split_at_axis(o.shape(), axis, op)?;
            let idx = read_indices(&ins[1])
                .into_iter()
                .map(|i| mode.resolve(op, i, n.max(1)))
                .collect::<Result<Vec<_>>>()?;
            let k = idx.len();
            with_dtype!(o.dtype(), T, {
                crate::kernels::cpu::elemwise::fill::<T>(o, T::default());
                if og.size() == 0 {
                    return Ok(());
                }
                // SAFETY: inside the op reading og and writing o (fresh, not aliased);
                // indices were resolved into 0..n, so every write is inside o.
                let (src, dst) = unsafe { (og.data::<T>(), Ptr(o.raw() as *mut T)) };
                // Each task owns whole outer slabs of the output.
                par_ranges(outer, n.max(1) * inner, |b, e| {
                    for ob in b..e {
                        let slab = |j: usize, c: usize| (ob * n + j) * inner + c;
                        if pick {
                            for c in 0..inner {
                                let j = idx[ob * inner + c];
                                // SAFETY: see above; slab ob belongs to this task.
                                unsafe { *dst.get().add(slab(j, c)) = src[ob * inner + c] };
                            }
                        } else {
                            for (i, &j) in idx.iter().enumerate() {
                                let row = &src[(ob * k + i) * inner..(ob * k + i + 1) * inner];
                                for (c, &v) in row.iter().enumerate() {
                                    // SAFETY: as above.
                                    unsafe {
                                        let p = dst.get().add(slab(j, c));
                                        *p = crate::kernels::cpu::elemwise::Arith::add(*p, v);
                                    }
                                }
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
        let ax = axis.to_string();
        let m = mode_name(mode);
        let kd = if keepdims { "True" } else { "False" };
        let ins = [a.out_grads[0].clone(), a.inputs[1].clone()];
        let r = if pick {
            g.op1("pick", &[("axis", &ax), ("keepdims", kd), ("mode", m)], &ins)?
        } else {
            g.op1("take", &[("axis", &ax), ("mode", m)], &ins)?
        };
        Ok(vec![Some(r), None, None])
    })
    .arc()
}

fn pick_op(axis: i64, keepdims: bool, mode: Mode) -> Arc<dyn Operator> {
    let op = "pick";
    let split = move |s: &Shape| split_at_axis(s, axis, op);
    FnOp::new(
        op,
        move |inputs| {
            expect_inputs(op, inputs, 2)?;
            let (d, idx) = (&inputs[0].shape, &inputs[1].shape);
            let (ax, _, n, _) = split(d)?;
            let mut kept = d.0.clone();
            kept[ax] = 1;
            let mut reduced = d.0.clone();
            reduced.remove(ax);
            if idx.0 != reduced && idx.0 != kept {
                return Err(Error::shape(
                    op,
                    format!("index of shape {idx} does not match data of shape {d} without axis {axis}: expected {} or {}", Shape(reduced), Shape(kept)),
                ));
            }
            // MXNet 1.x has no 0-d arrays: picking along the only axis gives shape (1,).
            let out = Shape(if keepdims || reduced.is_empty() { kept } else { reduced });
            if n == 0 && out.size() > 0 {
                return Err(Error::shape(op, format!("cannot pick from empty axis {axis} of shape {d}")));
            }
            Ok(vec![Desc::new(out, inputs[0].dtype)])
        },
        move |_, ins, outs| {
            let (d, o) = (&ins[0], &outs[0]);
            if o.size() == 0 {
                return Ok(());
            }
            let (_, outer, n, inner) = split(d.shape())?;
            let idx = read_indices(&ins[1]).into_iter().map(|i| mode.resolve(op, i, n)).collect::<Result<Vec<_>>>()?;
            pick_elems(d, o, outer, n, inner, &idx)
        },
    )
    .with_grad(move |g, a| {
        let r = g.apply(
            scatter_op(true, axis, keepdims, mode),
            &[a.out_grads[0].clone(), a.inputs[1].clone(), a.inputs[0].clone()],
        );
        Ok(vec![Some(r[0].clone()), None])
    })
    .with_shape_partial(move |ins, outs| {
        // the index has the output's shape: the data's without (or with 1 at) the axis
        let Some(d) = ins[0].as_ref().filter(|d| d.ndim() > 0) else {
            return Ok(());
        };
        let Ok((ax, ..)) = split(d) else {
            return Ok(());
        };
        let mut out = d.0.clone();
        if keepdims || out.len() == 1 {
            out[ax] = 1;
        } else {
            out.remove(ax);
        }
        crate::graph::infer::refine(&mut ins[1], Shape(out.clone()));
        crate::graph::infer::refine(&mut outs[0], Shape(out));
        Ok(())
    })
    .with_type_partial(super::data_type_only)
    .arc()
}

fn one_hot_op(depth: usize, on: f64, off: f64, dtype: DType) -> Arc<dyn Operator> {
    let op = "one_hot";
    FnOp::new(
        op,
        move |inputs| {
            expect_inputs(op, inputs, 1)?;
            let mut out = inputs[0].shape.0.clone();
            out.push(depth);
            Ok(vec![Desc::new(out, dtype)])
        },
        move |_, ins, outs| {
            let o = &outs[0];
            if o.size() == 0 {
                return Ok(());
            }
            // A NaN index is out of range (an all-`off` row, as MXNet's), not position 0.
            let idx = read_indices_nan_as(&ins[0], -1);
            with_dtype!(o.dtype(), T, {
                let (on, off) = (T::from_f64_c(on), T::from_f64_c(off));
                // SAFETY: inside the op writing o, which holds idx.len() * depth elements.
                let po = unsafe { Ptr(o.raw() as *mut T) };
                par_ranges(idx.len(), depth, |b, e| {
                    for (r, &k) in idx.iter().enumerate().take(e).skip(b) {
                        // SAFETY: row r of o has depth elements; k checked against depth.
                        unsafe {
                            let row =
                                std::slice::from_raw_parts_mut(po.get().add(r * depth), depth);
                            row.fill(off);
                            if k >= 0 && (k as usize) < depth {
                                row[k as usize] = on;
                            }
                        }
                    }
                });
            });
            Ok(())
        },
    )
    .with_type_partial(move |_, outs| {
        outs[0] = Some(dtype);
        Ok(())
    })
    // Piecewise constant in the indices: a zero gradient, as MXNet registers.
    .with_grad(|g, a| Ok(vec![Some(g.zeros_like(&a.inputs[0])?)]))
    .arc()
}

/// `o = x` where the row's mask is set, else `y`, for rows of `per` elements.
///
/// # Safety
/// All three hold `mask.len() * per` elements; `o` is `x`, `y` or disjoint from both.
unsafe fn select_rows<T: Copy>(mask: &[u8], x: *const T, y: *const T, o: *mut T, per: usize) {
    let n = mask.len() * per;
    if x == y {
        if !std::ptr::eq(o, x) {
            std::ptr::copy_nonoverlapping(x, o, n);
        }
        return;
    }
    if per > 1 {
        for (r, &m) in mask.iter().enumerate() {
            let src = if m != 0 { x } else { y };
            std::ptr::copy(src.add(r * per), o.add(r * per), per);
        }
        return;
    }
    // Masks on the elements' bits, over slices that do not alias: a select of values
    // compiled to a branch (that a random condition mispredicts half the time), bit logic
    // vectorises.
    match std::mem::size_of::<T>() {
        1 => select_bits(mask, x.cast::<u8>(), y.cast(), o.cast(), n),
        2 => select_bits(mask, x.cast::<u16>(), y.cast(), o.cast(), n),
        4 => select_bits(mask, x.cast::<u32>(), y.cast(), o.cast(), n),
        _ => select_bits(mask, x.cast::<u64>(), y.cast(), o.cast(), n),
    }
}

/// An unsigned integer as wide as an element.
trait Bits: Copy + std::ops::BitAnd<Output = Self> + std::ops::BitOr<Output = Self> {
    /// All ones when `set`, else zero.
    fn all(set: bool) -> Self;
    fn not(self) -> Self;
}

macro_rules! bits {
    ($($u:ty),*) => {$(
        impl Bits for $u {
            #[inline(always)]
            fn all(set: bool) -> Self {
                (0 as $u).wrapping_sub(set as $u)
            }
            #[inline(always)]
            fn not(self) -> Self {
                !self
            }
        }
    )*};
}
bits!(u8, u16, u32, u64);

/// `select_rows` for one mask value per element, on the elements' bits.
///
/// # Safety
/// As `select_rows`, with `x != y`.
unsafe fn select_bits<U: Bits>(mask: &[u8], x: *const U, y: *const U, o: *mut U, n: usize) {
    use std::slice::{from_raw_parts, from_raw_parts_mut};
    let os = from_raw_parts_mut(o, n);
    let pick = |m: u8, a: U, b: U| {
        let k = U::all(m != 0);
        (a & k) | (b & k.not())
    };
    if std::ptr::eq(o, x) {
        let ys = from_raw_parts(y, n);
        for ((o, &m), &b) in os.iter_mut().zip(mask).zip(ys) {
            *o = pick(m, *o, b);
        }
    } else if std::ptr::eq(o, y) {
        let xs = from_raw_parts(x, n);
        for ((o, &m), &a) in os.iter_mut().zip(mask).zip(xs) {
            *o = pick(m, a, *o);
        }
    } else {
        let (xs, ys) = (from_raw_parts(x, n), from_raw_parts(y, n));
        for ((o, &m), (&a, &b)) in os.iter_mut().zip(mask).zip(xs.iter().zip(ys)) {
            *o = pick(m, a, b);
        }
    }
}

fn where_op() -> Arc<dyn Operator> {
    let op = "where";
    let mut f = FnOp::new(
        op,
        |inputs| {
            expect_inputs(op, inputs, 3)?;
            let (c, x, y) = (&inputs[0], &inputs[1], &inputs[2]);
            if x.shape != y.shape {
                return Err(Error::shape(
                    op,
                    format!(
                        "x and y must have one shape, got {} and {}",
                        x.shape, y.shape
                    ),
                ));
            }
            if x.dtype != y.dtype {
                return Err(Error::dtype(
                    op,
                    format!(
                        "x and y must have one dtype, got {} and {}",
                        x.dtype, y.dtype
                    ),
                ));
            }
            let rows = c.shape.ndim() == 1 && x.shape.ndim() >= 1 && c.shape[0] == x.shape[0];
            if c.shape != x.shape && !rows {
                return Err(Error::shape(
                    op,
                    format!("condition of shape {} must have the shape of x ({}) or be 1-D of length x.shape[0]", c.shape, x.shape),
                ));
            }
            Ok(vec![x.clone()])
        },
        |_, ins, outs| {
            let (c, x, y, o) = (&ins[0], &ins[1], &ins[2], &outs[0]);
            let n = o.size();
            if n == 0 {
                return Ok(());
            }
            // Truth values first: the condition may share memory with the output (in place).
            // From the pool (warm pages): a fresh Vec of this size was mmapped and page-faulted
            // on every call, a third of the op's time.
            let buf = NDArray::empty(Shape::new(vec![c.size()]), DType::U8, Context::cpu(0))?;
            // SAFETY: a new array no one else holds.
            let mask = unsafe { buf.data_mut::<u8>() };
            let m = Ptr(mask.as_mut_ptr());
            with_dtype!(c.dtype(), C, {
                // SAFETY: inside the op reading c.
                let cs = unsafe { c.data::<C>() };
                par_ranges(cs.len(), 1, |b, e| {
                    // SAFETY: b..e < mask.len(); the tasks' ranges are disjoint.
                    let dst = unsafe { std::slice::from_raw_parts_mut(m.get().add(b), e - b) };
                    map_slice(&cs[b..e], dst, |v| (v.to_f32() != 0.0) as u8)
                });
            });
            let per = n / mask.len().max(1);
            with_dtype!(o.dtype(), T, {
                // SAFETY: inside the op; x, y and o hold n = mask.len() * per elements, and o
                // is x, y or disjoint from both.
                let (px, py, po) = unsafe {
                    (
                        Ptr(x.raw() as *mut T),
                        Ptr(y.raw() as *mut T),
                        Ptr(o.raw() as *mut T),
                    )
                };
                par_ranges(mask.len(), per, |b, e| {
                    let at = b * per;
                    // SAFETY: rows b..e of `per` elements lie inside all three arrays.
                    unsafe {
                        select_rows(
                            &mask[b..e],
                            px.get().add(at),
                            py.get().add(at),
                            po.get().add(at),
                            per,
                        )
                    }
                });
            });
            Ok(())
        },
    );
    f.inplace = true;
    // x, y and the output share a dtype; the condition keeps its own.
    f.with_type_partial(|ins, outs| super::unify_types(op, &mut ins[1..], outs))
        // x, y and the output share a shape too (the condition may be one per row)
        .with_shape_partial(|ins, outs| {
            crate::graph::infer::same_shape_partial(&mut ins[1..], outs)
        })
        .with_grad(|g, a| {
            let (c, og) = (&a.inputs[0], &a.out_grads[0]);
            let z = g.zeros_like(og)?;
            let dx = g.op1("where", &[], &[c.clone(), og.clone(), z.clone()])?;
            let dy = g.op1("where", &[], &[c.clone(), z, og.clone()])?;
            Ok(vec![Some(g.zeros_like(c)?), Some(dx), Some(dy)])
        })
        .arc()
}

pub fn register(r: &mut Registry) {
    r.add(def(
        "take",
        "Takes elements from `a` along `axis` at `indices`; out-of-range indices clip, wrap, or raise per `mode`.",
        vec![
            param("axis", "int", Some("0"), "The axis of input array to be taken."),
            param("mode", "{'clip', 'raise', 'wrap'}", Some("'clip'"), "Specify how out-of-bound indices behave."),
        ],
        Inputs::Fixed(&["a", "indices"]),
        |p| Ok(take_op(p.int("axis")?, Mode::parse(p, &["clip", "raise", "wrap"])?)),
    ));
    r.add(def(
        "pick",
        "Picks one element per position along `axis` at the positions given by `index`.",
        vec![
            param("axis", "int or None", Some("-1"), "The axis to picking the elements."),
            param("keepdims", "boolean", Some("False"), "If true, the axis where we pick the elements is left in the result as dimension with size one."),
            param("mode", "{'clip', 'wrap'}", Some("'clip'"), "Specify how out-of-bound indices behave."),
        ],
        Inputs::Fixed(&["data", "index"]),
        |p| {
            let axis = p
                .opt_int("axis")?
                .ok_or_else(|| Error::param("pick", "axis=None is not supported by pick yet. Must specify an axis."))?;
            Ok(pick_op(axis, p.bool("keepdims")?, Mode::parse(p, &["clip", "wrap"])?))
        },
    ));
    r.add(def(
        "one_hot",
        "One-hot encoding: an array of shape indices.shape + (depth,) with `on_value` at each index and `off_value` elsewhere.",
        vec![
            param("depth", "int", None, "Depth of the one hot dimension."),
            param("on_value", "double", Some("1"), "The value assigned to the locations represented by indices."),
            param("off_value", "double", Some("0"), "The value assigned to the locations not represented by indices."),
            param("dtype", "{'bfloat16', 'float16', 'float32', 'float64', 'int32', 'int64', 'int8', 'uint8'}", Some("'float32'"), "DType of the output"),
        ],
        Inputs::Fixed(&["indices"]),
        |p| {
            let depth = p.int("depth")?;
            let depth = usize::try_from(depth)
                .map_err(|_| Error::param("one_hot", format!("depth must be non-negative, got {depth}")))?;
            let dtype = p.choice("dtype", &["bfloat16", "float16", "float32", "float64", "int32", "int64", "int8", "uint8"])?;
            let dtype = DType::from_name(dtype)
                .ok_or_else(|| Error::NotImplemented(format!("one_hot: dtype {dtype} is not supported")))?;
            Ok(one_hot_op(depth, p.float("on_value")?, p.float("off_value")?, dtype))
        },
    ));
    r.add(def(
        "where",
        "Takes elements from `x` where `condition` is non-zero and from `y` elsewhere; `condition` has x's shape or is 1-D over x's first axis.",
        vec![],
        Inputs::Fixed(&["condition", "x", "y"]),
        |_| Ok(where_op()),
    ));
}

#[cfg(test)]
// Array handles are cheap clones; `&[x.clone()]` reads better than `from_ref` in op calls.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use crate::error::Error;
    use crate::op::test_util::{arr, err, f32s, iota, ravel, run};
    use crate::op::{invoke, registry};

    #[test]
    fn take_modes() {
        let b = iota(&[2, 3]);
        let idx = arr(&[4], &[2.0f32, 0.0, 5.0, -1.0]);
        let o = run("take", &[b.clone(), idx.clone()], &[("axis", "1")]);
        assert_eq!(
            (o.shape().dims(), f32s(&o)),
            (
                &[2usize, 4][..],
                vec![2.0, 0.0, 2.0, 0.0, 5.0, 3.0, 5.0, 3.0]
            )
        );
        let o = run(
            "take",
            &[b.clone(), idx.clone()],
            &[("axis", "1"), ("mode", "wrap")],
        );
        assert_eq!(f32s(&o), vec![2.0, 0.0, 2.0, 2.0, 5.0, 3.0, 5.0, 5.0]);
        let o = run("take", &[b.clone(), arr(&[2], &[1.7f32, -0.5])], &[]);
        assert_eq!(f32s(&o), vec![3.0, 4.0, 5.0, 0.0, 1.0, 2.0]);
        let o = run(
            "take",
            &[b.clone(), arr(&[1, 2], &[1.0f32, 0.0])],
            &[("axis", "-1")],
        );
        assert_eq!(
            (o.shape().dims(), f32s(&o)),
            (&[2usize, 1, 2][..], vec![1.0, 0.0, 4.0, 3.0])
        );
        let o = run("take", &[b.clone(), arr(&[1], &[1i32])], &[]);
        assert_eq!(f32s(&o), vec![3.0, 4.0, 5.0]);
        // MXNet's raise mode refuses negative indices too.
        let e = err(
            "take",
            &[b.clone(), arr(&[1], &[-1i64])],
            &[("mode", "raise")],
        );
        assert!(
            e.to_string().contains("take: index -1 is out of bounds"),
            "{e}"
        );
        // Raised at the wait, as MXNet does; the message names the op and the index.
        let e = err(
            "take",
            &[b.clone(), arr(&[1], &[3.0f32])],
            &[("mode", "raise")],
        );
        assert!(
            e.to_string().contains("take: index 3 is out of bounds"),
            "{e}"
        );
        assert!(matches!(
            err("take", &[b.clone(), idx.clone()], &[("mode", "bogus")]),
            Error::Param { .. }
        ));
        assert_eq!(
            run("take", &[b.clone(), arr::<f32>(&[0], &[])], &[])
                .shape()
                .dims(),
            &[0, 3]
        );
        assert!(matches!(
            err("take", &[iota(&[0, 3]), arr(&[1], &[0.0f32])], &[]),
            Error::Shape { .. }
        ));
        let i8s = arr(&[3], &[1i8, 2, 3]);
        assert_eq!(
            run("take", &[i8s, arr(&[2], &[2.0f32, 0.0])], &[])
                .to_vec::<i8>()
                .expect("i8"),
            vec![3, 1]
        );
    }

    #[test]
    fn pick_one_hot_where() {
        let b = iota(&[2, 3]);
        assert_eq!(
            f32s(&run("pick", &[b.clone(), arr(&[2], &[0.0f32, 2.0])], &[])),
            vec![0.0, 5.0]
        );
        let o = run(
            "pick",
            &[b.clone(), arr(&[2], &[0.0f32, 5.0])],
            &[("keepdims", "True")],
        );
        assert_eq!(
            (o.shape().dims(), f32s(&o)),
            (&[2usize, 1][..], vec![0.0, 5.0])
        );
        assert_eq!(
            f32s(&run(
                "pick",
                &[b.clone(), arr(&[2], &[-1.0f32, 5.0])],
                &[("mode", "wrap")]
            )),
            vec![2.0, 5.0]
        );
        assert_eq!(
            f32s(&run(
                "pick",
                &[b.clone(), arr(&[3], &[1.0f32, 0.0, 1.0])],
                &[("axis", "0")]
            )),
            vec![3.0, 1.0, 5.0]
        );
        assert_eq!(
            f32s(&run(
                "pick",
                &[b.clone(), arr(&[2, 1], &[1.9f32, 0.2])],
                &[]
            )),
            vec![1.0, 3.0]
        );
        assert!(matches!(
            err("pick", &[b.clone(), arr(&[3], &[0.0f32; 3])], &[]),
            Error::Shape { .. }
        ));
        assert!(matches!(
            err(
                "pick",
                &[b.clone(), arr(&[2], &[0.0f32; 2])],
                &[("axis", "None")]
            ),
            Error::Param { .. }
        ));
        let x = iota(&[2, 3, 4]);
        let idx: Vec<f32> = (0..8).map(|i| (i % 3) as f32).collect();
        let o = run("pick", &[x.clone(), arr(&[2, 4], &idx)], &[("axis", "1")]);
        let xs = f32s(&x);
        let want: Vec<f32> = (0..8)
            .map(|q| xs[ravel(&[q / 4, q % 3, q % 4], &[2, 3, 4])])
            .collect();
        assert_eq!(f32s(&o), want);

        let o = run(
            "one_hot",
            &[arr(&[4], &[1.0f32, 0.0, 5.0, -1.0])],
            &[("depth", "3")],
        );
        assert_eq!(
            f32s(&o),
            vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        let o = run(
            "one_hot",
            &[arr(&[1, 2], &[1.0f32, 2.0])],
            &[
                ("depth", "3"),
                ("on_value", "5"),
                ("off_value", "-1"),
                ("dtype", "int32"),
            ],
        );
        assert_eq!(o.shape().dims(), &[1, 2, 3]);
        assert_eq!(o.to_vec::<i32>().expect("i32"), vec![-1, 5, -1, -1, -1, 5]);
        assert_eq!(
            run("one_hot", &[arr(&[2], &[1.0f32, 2.0])], &[("depth", "0")])
                .shape()
                .dims(),
            &[2, 0]
        );
        assert!(matches!(
            err(
                "one_hot",
                &[iota(&[2])],
                &[("depth", "3"), ("dtype", "bool")]
            ),
            Error::Param { .. }
        ));
        let o = run(
            "one_hot",
            &[arr(&[2], &[2.0f32, 0.0])],
            &[("depth", "3"), ("dtype", "bfloat16")],
        );
        assert_eq!(o.dtype(), crate::DType::BF16);
        let v: Vec<f32> = o
            .to_vec::<half::bf16>()
            .expect("bf16")
            .iter()
            .map(|x| x.to_f32())
            .collect();
        assert_eq!(v, [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);

        let y = arr(&[2, 3], &[10.0f32, 20.0, 30.0, 40.0, 50.0, 60.0]);
        let o = run(
            "where",
            &[arr(&[2], &[1.0f32, 0.0]), b.clone(), y.clone()],
            &[],
        );
        assert_eq!(f32s(&o), vec![0.0, 1.0, 2.0, 40.0, 50.0, 60.0]);
        let o = run(
            "where",
            &[arr(&[2, 3], &[1i32, 0, 1, 0, 1, 0]), b.clone(), y.clone()],
            &[],
        );
        assert_eq!(f32s(&o), vec![0.0, 20.0, 2.0, 40.0, 4.0, 60.0]);
        assert!(matches!(
            err(
                "where",
                &[arr(&[3], &[1.0f32; 3]), b.clone(), y.clone()],
                &[]
            ),
            Error::Shape { .. }
        ));
        assert!(matches!(
            err(
                "where",
                &[arr(&[2], &[1.0f32; 2]), b.clone(), iota(&[3, 2])],
                &[]
            ),
            Error::Shape { .. }
        ));
        let y64 = arr(&[2, 3], &[0.0f64; 6]);
        assert!(matches!(
            err("where", &[arr(&[2], &[1.0f32; 2]), b.clone(), y64], &[]),
            Error::DType { .. }
        ));
        // In place over the condition (same bytes, another dtype).
        let c = arr(&[2, 2], &[1i32, 0, 0, 1]);
        let xi = arr(&[2, 2], &[1i32, 2, 3, 4]);
        let yi = arr(&[2, 2], &[-1i32, -2, -3, -4]);
        let op = registry()
            .get("where")
            .expect("op")
            .create(&[])
            .expect("create");
        invoke(&op, &[c.clone(), xi, yi], Some(&[c.clone()]), None).expect("invoke");
        assert_eq!(c.to_vec::<i32>().expect("i32"), vec![1, -2, -3, 4]);
    }
}
