//! `sort`, `argsort` and `topk` along one axis, or over the flattened array when `axis` is
//! None. All three are one selection: order each row by (value, position), keep the first k.
//! Equal values keep their input order in both directions; NaN orders as the largest value.

use super::params::{param, ParamSpec};
use super::{expect_inputs, Desc, FnOp, Inputs, Operator, Params, Registry, SimpleDef};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::shape::{norm_axis, Shape};
use crate::with_dtype;
use std::cmp::Ordering;
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

/// A total order for PartialOrd elements: NaN after every number, NaNs equal.
#[inline]
#[allow(clippy::eq_op)]
fn total<T: PartialOrd>(a: T, b: T) -> Ordering {
    a.partial_cmp(&b).unwrap_or_else(|| (a != a).cmp(&(b != b)))
}

/// Output buffers of one call; each is written only at positions of the task's own rows.
struct Outs<T> {
    values: Option<Ptr<T>>,
    indices: Option<(Ptr<u8>, DType)>,
    mask: Option<Ptr<T>>,
}

#[inline]
fn put_index(p: Ptr<u8>, dtype: DType, pos: usize, v: usize) {
    with_dtype!(dtype, I, {
        // SAFETY: pos is inside the index output, in a row owned by the calling task.
        unsafe { *(p.get() as *mut I).add(pos) = I::from_f64(v as f64) }
    })
}

fn select<T: Element>(src: &[T], p: Plan, ascend: bool, out: &Outs<T>) {
    let Plan { outer, n, inner, k } = p;
    let work = n * (usize::BITS - n.leading_zeros()) as usize + 1;
    par_ranges(outer * inner, work, |b, e| {
        let (mut row, mut order): (Vec<T>, Vec<usize>) =
            (Vec::with_capacity(n), Vec::with_capacity(n));
        for t in b..e {
            let (o, i) = (t / inner, t % inner);
            let base = o * n * inner + i;
            row.clear();
            row.extend((0..n).map(|j| src[base + j * inner]));
            order.clear();
            order.extend(0..n);
            let cmp = |a: &usize, b: &usize| {
                let c = total(row[*a], row[*b]);
                (if ascend { c } else { c.reverse() }).then(a.cmp(b))
            };
            if k == 0 {
                continue;
            } else if k < n {
                order.select_nth_unstable_by(k - 1, cmp);
                order[..k].sort_unstable_by(cmp);
            } else {
                order.sort_unstable_by(cmp);
            }
            let obase = o * k * inner + i;
            for (p, &j) in order[..k].iter().enumerate() {
                if let Some(v) = out.values {
                    // SAFETY: obase + p * inner indexes this row of the (outer, k, inner) output.
                    unsafe { *v.get().add(obase + p * inner) = row[j] }
                }
                if let Some((ip, dt)) = out.indices {
                    put_index(ip, dt, obase + p * inner, j);
                }
            }
            if let Some(m) = out.mask {
                for j in 0..n {
                    // SAFETY: the mask has the input's shape; these are this row's positions.
                    unsafe { *m.get().add(base + j * inner) = T::from_f64(0.0) }
                }
                for &j in &order[..k] {
                    // SAFETY: as above.
                    unsafe { *m.get().add(base + j * inner) = T::from_f64(1.0) }
                }
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
            for dt in [DType::F32, DType::I32, DType::F16, DType::I64] {
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
                                (v, ix.clone()),
                                "topk {k} {ctx}"
                            );
                            assert_eq!((both[0].dtype(), both[1].dtype()), (dt, DType::F32));
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
