//! Operator plumbing shared by the region ops that map `(data, rois)` to one pooled output
//! (`ROIPooling`, `_contrib_ROIAlign`, `_contrib_PSROIPooling`, `_contrib_RROIAlign`): each op
//! supplies its geometry and kernels, this module the inference, dtype dispatch and gradient.
//! MXNet gives these ops a data gradient from a `_backward_*` op and zeros for the rois.

use super::detection::same_float;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::norm::{with_real, Real};
use crate::ndarray::NDArray;
use crate::op::{expect_inputs, Desc, FnOp, Operator};
use crate::shape::Shape;
use std::sync::Arc;

/// A region op's configuration: its output shape and forward kernel.
pub(crate) trait RoiForward: Copy + Send + Sync + 'static {
    const OP: &'static str;
    /// MXNet's output count, hidden outputs included (ROIPooling keeps its argmax).
    const MXNET_OUTPUTS: usize = 1;
    /// Output shape for `data` and `rois`; `op` names the op reporting an error.
    fn out_shape(self, op: &str, data: &Shape, rois: &Shape) -> Result<Shape>;
    /// Writes `out` from `ins` = [data, rois].
    fn forward<T: Element, C: Real>(self, ins: &[NDArray], out: &NDArray) -> Result<()>;
}

/// A region op with a data gradient.
pub(crate) trait RoiBackward: RoiForward {
    const BACKWARD: &'static str;
    /// Writes the data gradient `gx` from `ins` = [out_grad, data, rois].
    fn backward<T: Element, C: Real>(self, ins: &[NDArray], gx: &NDArray) -> Result<()>;
}

fn dtype(op: &str, ins: &[Desc]) -> Result<crate::dtype::DType> {
    same_float(op, ins, &["data", "rois"])
}

fn forward_fn<K: RoiForward>(k: K) -> FnOp {
    FnOp::new(
        K::OP,
        move |ins| {
            expect_inputs(K::OP, ins, 2)?;
            let dt = dtype(K::OP, ins)?;
            let os = k.out_shape(K::OP, &ins[0].shape, &ins[1].shape)?;
            Ok(vec![Desc::new(os, dt)])
        },
        move |_, ins, outs| {
            with_real!(K::OP, ins[0].dtype(), T, C, {
                k.forward::<T, C>(ins, &outs[0])
            })
        },
    )
    .with_mxnet_outputs(K::MXNET_OUTPUTS)
}

/// The operator of a region op without a gradient.
pub(crate) fn roi_forward_op<K: RoiForward>(k: K) -> Arc<dyn Operator> {
    forward_fn(k).arc()
}

fn backward_op<K: RoiBackward>(k: K) -> Arc<dyn Operator> {
    FnOp::new(
        K::BACKWARD,
        move |ins| {
            expect_inputs(K::BACKWARD, ins, 3)?;
            let dt = dtype(K::BACKWARD, ins)?;
            let os = k.out_shape(K::BACKWARD, &ins[1].shape, &ins[2].shape)?;
            if ins[0].shape != os {
                return Err(Error::shape(
                    K::BACKWARD,
                    format!("output gradient {} must have shape {os}", ins[0].shape),
                ));
            }
            Ok(vec![Desc::new(ins[1].shape.clone(), dt)])
        },
        move |_, ins, outs| {
            with_real!(K::BACKWARD, ins[0].dtype(), T, C, {
                k.backward::<T, C>(ins, &outs[0])
            })
        },
    )
    .arc()
}

/// The operator of a differentiable region op.
pub(crate) fn roi_op<K: RoiBackward>(k: K) -> Arc<dyn Operator> {
    forward_fn(k)
        .with_grad(move |g, a| {
            let dy =
                a.out_grads.first().cloned().ok_or_else(|| {
                    Error::Internal(format!("{} gradient without out_grad", K::OP))
                })?;
            let gx = g
                .apply(
                    backward_op(k),
                    &[dy, a.inputs[0].clone(), a.inputs[1].clone()],
                )
                .swap_remove(0);
            let gr = g.zeros_like(&a.inputs[1])?;
            Ok(vec![Some(gx), Some(gr)])
        })
        .arc()
}
