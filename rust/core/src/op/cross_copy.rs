//! A recorded copy between contexts (`as_in_context`, `copyto` inside `autograd.record()`;
//! MXNet records it as `_copyto` too): the one op whose output lives on another context than
//! its input, so that a gradient can flow back to where the input was.

use super::{copy_into, Desc, GradArgs, OpCtx, Operator};
use crate::context::Context;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::ndarray::NDArray;
use std::sync::Arc;

/// Copies from (context, dtype) `from` to `to`; its gradient is the copy back.
pub struct CrossCopy {
    pub from: (Context, DType),
    pub to: (Context, DType),
}

impl CrossCopy {
    pub fn op(from: (Context, DType), to: (Context, DType)) -> Arc<dyn Operator> {
        Arc::new(CrossCopy { from, to })
    }
}

impl Operator for CrossCopy {
    fn name(&self) -> &'static str {
        "_copyto"
    }

    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        match inputs {
            [x] if x.dtype == self.from.1 => Ok(vec![Desc::new(x.shape.clone(), self.to.1)]),
            _ => Err(Error::Value(format!(
                "_copyto: expects one {} input, got {} input(s) of dtypes {:?}",
                self.from.1.name(),
                inputs.len(),
                inputs.iter().map(|d| d.dtype.name()).collect::<Vec<_>>()
            ))),
        }
    }

    fn output_context(&self) -> Option<Context> {
        Some(self.to.0)
    }

    // `copy_into` pushes its own engine op, which already knows every pair of devices.
    fn runs_at_push(&self) -> bool {
        true
    }

    fn forward(&self, _cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        match (inputs, outputs) {
            ([x], [y]) => copy_into(x, y, None),
            _ => Err(Error::Internal("_copyto: one input, one output".into())),
        }
    }

    fn gradient(&self, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
        let back = CrossCopy::op(self.to, self.from);
        Ok(g.apply(back, &a.out_grads[..1])
            .into_iter()
            .take(1)
            .map(Some)
            .collect())
    }
}
