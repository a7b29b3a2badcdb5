//! `cumsum` (along an axis, or over the flattened array) and `_histogram` (equal bins over
//! `range`, or the bin edges given as the second input; the last bin includes its right edge,
//! as numpy's).

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::op::{read_f64, write_f64};
use crate::shape::{norm_axis, Shape};
use crate::with_dtype;
use std::sync::Arc;

/// (outer, n, inner) of the scan: the flattened array when `axis` is None.
fn scan_dims(op: &str, axis: Option<i64>, s: &Shape) -> Result<(usize, usize, usize)> {
    match axis {
        None => Ok((1, s.size(), 1)),
        Some(a) => {
            let k = norm_axis(a, s.ndim(), op)?;
            let d = s.dims();
            Ok((d[..k].iter().product(), d[k], d[k + 1..].iter().product()))
        }
    }
}

/// Running sums of `x` along the scan axis into `y`, accumulated in f64; `reverse` sums
/// from the end (the gradient). Parallel over rows.
fn scan<I: Element, O: Element>(x: &[I], y: Ptr<O>, dims: (usize, usize, usize), reverse: bool) {
    const COLS: usize = 1024;
    let (outer, n, inner) = dims;
    let step = |t: usize| if reverse { n - 1 - t } else { t };
    if inner == 1 {
        par_ranges(outer, n, |b, e| {
            for o in b..e {
                let row = &x[o * n..(o + 1) * n];
                // SAFETY: row o belongs to this task only; y does not alias x.
                let out = unsafe { std::slice::from_raw_parts_mut(y.get().add(o * n), n) };
                let mut acc = 0f64;
                let add = |(w, &v): (&mut O, &I)| {
                    acc += v.to_f64();
                    *w = O::from_f64(acc);
                };
                let pairs = out.iter_mut().zip(row);
                if reverse {
                    pairs.rev().for_each(add)
                } else {
                    pairs.for_each(add)
                }
            }
        });
        return;
    }
    let blk = COLS.min(inner);
    let nblk = inner.div_ceil(blk);
    par_ranges(outer * nblk, n * blk, |b, e| {
        let mut acc = vec![0f64; blk];
        for task in b..e {
            let (o, i0) = (task / nblk, (task % nblk) * blk);
            let acc = &mut acc[..blk.min(inner - i0)];
            acc.fill(0.0);
            for t in 0..n {
                let at = (o * n + step(t)) * inner + i0;
                // SAFETY: these columns of row (o, t) belong to this task only.
                let out = unsafe { std::slice::from_raw_parts_mut(y.get().add(at), acc.len()) };
                for ((a, &v), w) in acc.iter_mut().zip(&x[at..at + out.len()]).zip(out) {
                    *a += v.to_f64();
                    *w = O::from_f64(*a);
                }
            }
        }
    });
}

/// `scan` of `a` into `out`: directly when their dtypes agree, through f64 when they differ.
fn scan_arrays(a: &NDArray, out: &NDArray, dims: (usize, usize, usize), reverse: bool) {
    if a.size() == 0 {
        return;
    }
    if a.dtype() == out.dtype() {
        with_dtype!(a.dtype(), T, {
            // SAFETY: inside the op reading a and writing out, which do not alias.
            let (x, y) = unsafe { (a.data::<T>(), Ptr(out.raw() as *mut T)) };
            scan(x, y, dims, reverse);
        });
    } else {
        // Each element takes the output's dtype before it is summed, as in numpy and MXNet:
        // cumsum([0.6, 0.6], dtype=int64) is [0, 0], not [0, 1].
        let mut x = read_f64(a);
        with_dtype!(out.dtype(), O, {
            x.iter_mut().for_each(|v| *v = O::from_f64(*v).to_f64());
        });
        let mut y = vec![0f64; a.size()];
        scan(&x, Ptr(y.as_mut_ptr()), dims, reverse);
        write_f64(out, &y);
    }
}

fn cumsum_op(axis: Option<i64>, dtype: Option<DType>) -> Arc<dyn Operator> {
    const OP: &str = "cumsum";
    let out_shape = move |s: &Shape| {
        if axis.is_none() {
            Shape::new(vec![s.size()])
        } else {
            s.clone()
        }
    };
    FnOp::new(
        OP,
        move |ins| {
            expect_inputs(OP, ins, 1)?;
            scan_dims(OP, axis, &ins[0].shape)?;
            Ok(vec![Desc::new(
                out_shape(&ins[0].shape),
                dtype.unwrap_or(ins[0].dtype),
            )])
        },
        move |_, ins, outs| {
            let d = scan_dims(OP, axis, ins[0].shape())?;
            scan_arrays(&ins[0], &outs[0], d, false);
            Ok(())
        },
    )
    .with_type_partial(move |ins, outs| {
        match (ins[0], dtype) {
            (Some(d), None) => outs[0] = Some(d),
            (Some(_), Some(t)) => outs[0] = Some(t),
            (None, None) => ins[0] = outs[0],
            _ => {}
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let r = g.apply(
            backward_cumsum(axis),
            &[a.out_grads[0].clone(), a.inputs[0].clone()],
        );
        Ok(vec![Some(r[0].clone())])
    })
    .arc()
}

/// `(og, a)` -> reverse running sums of og, shaped and typed like a.
fn backward_cumsum(axis: Option<i64>) -> Arc<dyn Operator> {
    const OP: &str = "_backward_cumsum";
    FnOp::new(
        OP,
        move |ins| {
            expect_inputs(OP, ins, 2)?;
            Ok(vec![ins[1].clone()])
        },
        move |_, ins, outs| {
            let d = scan_dims(OP, axis, ins[1].shape())?;
            scan_arrays(&ins[0], &outs[0], d, true);
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        // Linear in og: its gradient is the forward scan of the incoming gradient.
        let c = g.apply(cumsum_op(axis, None), &[a.out_grads[0].clone()]);
        let c = g.op1("reshape_like", &[], &[c[0].clone(), a.inputs[0].clone()])?;
        let c = g.apply(
            crate::op::elemwise_unary::cast_like_op(),
            &[c, a.inputs[0].clone()],
        );
        Ok(vec![Some(c[0].clone()), None])
    })
    .arc()
}

fn histogram_op(bins: Option<(usize, f64, f64)>) -> Arc<dyn Operator> {
    const OP: &str = "_histogram";
    let n_in = if bins.is_some() { 1 } else { 2 };
    let mut op = FnOp::new(
        OP,
        move |ins| {
            expect_inputs(OP, ins, n_in)?;
            let nb = match bins {
                Some((n, _, _)) => n,
                None => {
                    let e = &ins[1].shape;
                    if e.ndim() != 1 || e[0] < 2 {
                        return Err(Error::shape(
                            OP,
                            format!("bins must be a 1-D array of at least 2 bin edges, got {e}"),
                        ));
                    }
                    e[0] - 1
                }
            };
            let edge_dt = if bins.is_some() {
                ins[0].dtype
            } else {
                ins[1].dtype
            };
            Ok(vec![
                Desc::new(Shape::new(vec![nb]), DType::I64),
                Desc::new(Shape::new(vec![nb + 1]), edge_dt),
            ])
        },
        move |_, ins, outs| {
            let x = read_f64(&ins[0]);
            let edges: Vec<f64> = match bins {
                Some((n, lo, hi)) => (0..=n)
                    .map(|i| lo + (hi - lo) * i as f64 / n as f64)
                    .collect(),
                None => read_f64(&ins[1]),
            };
            // As numpy's: unordered edges would count values into the wrong bins silently.
            if let Some(w) = edges
                .windows(2)
                .find(|w| w[0].partial_cmp(&w[1]).is_none_or(|o| o.is_gt()))
            {
                return Err(Error::Value(format!(
                    "operator {OP}: bins must increase monotonically, got {} before {}",
                    w[0], w[1]
                )));
            }
            let nb = edges.len() - 1;
            let (lo, hi) = (edges[0], edges[nb]);
            let mut counts = vec![0.0; nb];
            for &v in &x {
                if !(v >= lo && v <= hi) {
                    continue;
                }
                // The first edge above v, minus one; v == hi falls in the last bin.
                let b = edges
                    .partition_point(|&e| e <= v)
                    .saturating_sub(1)
                    .min(nb - 1);
                counts[b] += 1.0;
            }
            write_f64(&outs[0], &counts);
            write_f64(&outs[1], &edges);
            Ok(())
        },
    );
    op.num_outputs = 2;
    op.num_inputs = Some(n_in);
    op.type_partial = Some(Box::new(move |ins, outs| {
        outs[0] = Some(DType::I64);
        let src = if n_in == 1 { ins[0] } else { ins[1] };
        if let Some(d) = src {
            outs[1] = Some(d);
        }
        Ok(())
    }));
    op.arc()
}

pub fn register(r: &mut Registry) {
    // MXNet 1.9.1 registers cumsum as `_np_cumsum` and writes that name into its JSON
    r.add(SimpleDef {
        name: "_np_cumsum",
        doc: "Returns the cumulative sum of the elements along a given axis (over the flattened array when axis is None).".into(),
        params: vec![
            param("axis", "int or None", Some("None"), "Axis along which the cumulative sum is computed. The default (None) is to compute the cumsum over the flattened array."),
            param("dtype", "{None, 'float16', 'float32', 'float64', 'int32', 'int64', 'int8'}", Some("None"), "Type of the returned array and of the accumulator in which the elements are summed. If dtype is not specified, it defaults to the dtype of a, unless a has an integer dtype of a precision less than that of the default platform integer. In that case, the default platform integer is used."),
        ],
        inputs: Inputs::Fixed(&["a"]),
        create: Box::new(|p| Ok(cumsum_op(p.opt_int("axis")?, p.dtype("dtype")?))),
    });
    r.alias("cumsum", "_np_cumsum");
    r.add(SimpleDef {
        name: "_histogram",
        doc: "Counts the data in bins: `bin_cnt` equal bins over `range`, or the bin edges given as `bins`. Returns (counts as int64, bin edges). Values outside the bins are not counted; the last bin includes its right edge.".into(),
        params: vec![
            param("bin_cnt", "int or None", Some("None"), "Number of bins for uniform case"),
            param("range", "", Some("None"), "The lower and upper range of the bins. if not provided, range is simply (a.min(), a.max()). values outside the range are ignored. the first element of the range must be less than or equal to the second. range affects the automatic bin computation as well. while bin width is computed to be optimal based on the actual data within range, the bin count will fill the entire range including portions containing no data."),
        ],
        inputs: Inputs::Fixed(&["data", "bins"]),
        create: Box::new(|p| {
            const OP: &str = "_histogram";
            let cnt = p.opt_int("bin_cnt")?;
            let range = if p.is_set("range") && p.str("range")?.trim() != "None" { Some(p.floats("range")?) } else { None };
            let bins = match (cnt, range) {
                (None, None) => None,
                (Some(n), Some(r)) => {
                    let n = usize::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(|| Error::param(OP, format!("bin_cnt must be positive, got {n}")))?;
                    if r.len() != 2 || !matches!(r[0].partial_cmp(&r[1]), Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)) {
                        return Err(Error::param(OP, format!("range must be (low, high) with low <= high, got {r:?}")));
                    }
                    Some((n, r[0], r[1]))
                }
                _ => return Err(Error::param(OP, "cnt and range should both or neither specified")),
            };
            Ok(histogram_op(bins))
        }),
    });
}
