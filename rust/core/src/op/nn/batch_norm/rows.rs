//! LayerNorm, InstanceNorm and GroupNorm: normalisation over rows of each instance.

use super::{check_vectors, float_data, split};
use crate::error::{Error, Result};
use crate::kernels::cpu::norm::{
    row_normalize, row_normalize_grad, row_stats, with_real, AffineIndex,
};
use crate::kernels::cpu::Ptr;
use crate::op::{expect_inputs, read_f64, write_f64, Desc, FnOp, Operator};
use crate::shape::{norm_axis, Shape};
use std::sync::Arc;

/// Row normalisation shared by LayerNorm (`axis`) and InstanceNorm (spatial of each (n, c)).
#[derive(Clone, Copy)]
pub(super) enum RowKind {
    Layer(i64),
    Instance,
    /// GroupNorm: each (n, group) of `num_groups` channel groups; gamma/beta per group, as in
    /// MXNet 1.9.1.
    Group(usize),
}

/// (outer, n, inner) of the rows, the affine indexing, and the stats shape.
fn row_geom(
    op: &str,
    kind: RowKind,
    s: &Shape,
) -> Result<(usize, usize, usize, AffineIndex, Shape, usize)> {
    match kind {
        RowKind::Layer(axis) => {
            if s.ndim() == 0 {
                return Err(Error::shape(
                    op,
                    "expects data with at least one dimension, got shape []",
                ));
            }
            let ax = norm_axis(axis, s.ndim(), op)?;
            let (o, n, i) = split(s, ax);
            let mut st = s.dims().to_vec();
            st[ax] = 1;
            Ok((o, n, i, AffineIndex::Axis, Shape::new(st), n))
        }
        RowKind::Instance => {
            if s.ndim() < 3 {
                return Err(Error::shape(
                    op,
                    format!("expects data of shape (batch, channel, spatial...) with at least 3 dimensions, got {s}"),
                ));
            }
            let d = s.dims();
            let c = d[1];
            let sp: usize = d[2..].iter().product();
            Ok((
                d[0] * c,
                sp,
                1,
                AffineIndex::Outer(c),
                Shape::new(vec![d[0], c]),
                c,
            ))
        }
        RowKind::Group(g) => {
            if s.ndim() < 3 {
                return Err(Error::shape(
                    op,
                    format!("expects data of shape (batch, channel, spatial...) with at least 3 dimensions, got {s}"),
                ));
            }
            let d = s.dims();
            if g == 0 || !d[1].is_multiple_of(g) {
                return Err(Error::shape(
                    op,
                    format!("# of channels must be divisible by # of groups: num_groups={g} does not divide the {} channels of data of shape {s}", d[1]),
                ));
            }
            let per: usize = d[1] / g * d[2..].iter().product::<usize>();
            Ok((
                d[0] * g,
                per,
                1,
                AffineIndex::Outer(g),
                Shape::new(vec![d[0], g]),
                g,
            ))
        }
    }
}

pub(super) fn row_norm(
    name: &'static str,
    kind: RowKind,
    eps: f64,
    visible: usize,
) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 3)?;
            let d = &ins[0];
            float_data(name, d)?;
            let (.., st, p) = row_geom(name, kind, &d.shape)?;
            check_vectors(name, &ins[1..], &["gamma", "beta"], p, &d.shape)?;
            for (x, n) in ins[1..].iter().zip(["gamma", "beta"]) {
                if x.dtype != d.dtype {
                    return Err(Error::dtype(
                        name,
                        format!("{n} is {}, data is {}", x.dtype, d.dtype),
                    ));
                }
            }
            Ok(vec![
                d.clone(),
                Desc::new(st.clone(), d.dtype),
                Desc::new(st, d.dtype),
            ])
        },
        move |_, ins, outs| {
            let x = &ins[0];
            let (outer, n, inner, aff, ..) = row_geom(name, kind, x.shape())?;
            with_real!(name, x.dtype(), T, C, {
                // SAFETY: inside the op reading x, gamma, beta; the output is fresh.
                let (xs, gs, bs, y) = unsafe {
                    (
                        x.data::<T>(),
                        crate::kernels::cpu::norm::load::<T, C>(ins[1].data::<T>()),
                        crate::kernels::cpu::norm::load::<T, C>(ins[2].data::<T>()),
                        Ptr(outs[0].raw() as *mut T),
                    )
                };
                let st = row_stats(xs, outer, n, inner, eps);
                row_normalize::<T, C>(xs, y, &st, &gs, &bs, aff, outer, n, inner);
                let means: Vec<f64> = st.iter().map(|s| s.0).collect();
                let stds: Vec<f64> = st.iter().map(|s| 1.0 / s.1).collect();
                write_f64(&outs[1], &means);
                write_f64(&outs[2], &stds);
            });
            Ok(())
        },
    )
    .with_shape_partial(move |ins, _| {
        if let Some(d) = ins[0].clone() {
            if let Ok((.., p)) = row_geom(name, kind, &d) {
                for s in ins[1..].iter_mut() {
                    if s.is_none() {
                        *s = Some(Shape::new(vec![p]));
                    }
                }
            }
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let bname = "_backward_norm";
        let bwd = FnOp::new(
            bname,
            |ins| Ok(vec![ins[1].clone(), ins[2].clone(), ins[2].clone()]),
            move |_, ins, outs| {
                let (dy, x) = (&ins[0], &ins[1]);
                let (outer, n, inner, aff, ..) = row_geom(name, kind, x.shape())?;
                let st: Vec<(f64, f64)> = read_f64(&ins[3])
                    .into_iter()
                    .zip(read_f64(&ins[4]))
                    .map(|(m, s)| (m, 1.0 / s))
                    .collect();
                with_real!(name, x.dtype(), T, C, {
                    // SAFETY: inside the op; dx is fresh.
                    let (dys, xs, gs, dx) = unsafe {
                        (
                            dy.data::<T>(),
                            x.data::<T>(),
                            crate::kernels::cpu::norm::load::<T, C>(ins[2].data::<T>()),
                            Ptr(outs[0].raw() as *mut T),
                        )
                    };
                    let (dg, db) =
                        row_normalize_grad::<T, C>(dys, xs, &st, &gs, aff, dx, outer, n, inner);
                    write_f64(&outs[1], &dg);
                    write_f64(&outs[2], &db);
                });
                Ok(())
            },
        );
        let mut bwd = bwd;
        bwd.num_outputs = 3;
        let ins = vec![
            a.out_grads[0].clone(),
            a.inputs[0].clone(),
            a.inputs[1].clone(),
            a.outputs[1].clone(),
            a.outputs[2].clone(),
        ];
        Ok(g.apply(bwd.arc(), &ins).into_iter().map(Some).collect())
    });
    op.num_outputs = 3;
    op.visible_outputs = Some(visible);
    if visible == 3 {
        op.output_names = Some(vec!["output".into(), "mean".into(), "std".into()]);
    }
    op.arc()
}
