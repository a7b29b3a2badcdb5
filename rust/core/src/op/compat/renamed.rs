//! An existing operator under another registered name: everything but the name (and,
//! optionally, the backward shape rule) is the wrapped op's, so graphs, autograd records and
//! error messages name the op the user wrote.

use crate::dtype::DType;
use crate::error::Result;
use crate::graph::{Entry, GradBuilder};
use crate::ndarray::NDArray;
use crate::op::{Desc, GradArgs, Inputs, OpCtx, OpDef, Operator, ParamSpec, ShapePartialFn};
use crate::shape::Shape;
use std::sync::Arc;

/// The definition of an op MXNet registered separately under `name` with `target`'s
/// parameters and kernels: graphs keep `name` (an alias would write `target` into JSON).
pub struct RenamedDef {
    pub name: &'static str,
    pub target: Arc<dyn OpDef>,
}

impl OpDef for RenamedDef {
    fn name(&self) -> &'static str {
        self.name
    }
    fn doc(&self) -> &str {
        self.target.doc()
    }
    fn params(&self) -> &[ParamSpec] {
        self.target.params()
    }
    fn inputs(&self) -> Inputs {
        self.target.inputs()
    }
    fn create(&self, attrs: &[(String, String)]) -> Result<Arc<dyn Operator>> {
        Ok(Renamed::wrap(self.name, self.target.create(attrs)?))
    }
}

pub struct Renamed {
    name: &'static str,
    inner: Arc<dyn Operator>,
    shape_partial: Option<ShapePartialFn>,
}

impl Renamed {
    pub fn wrap(name: &'static str, inner: Arc<dyn Operator>) -> Arc<dyn Operator> {
        Arc::new(Renamed {
            name,
            inner,
            shape_partial: None,
        })
    }

    /// A renamed op whose backward shape rule `f` runs before the wrapped op's.
    pub fn with_shapes(
        name: &'static str,
        inner: Arc<dyn Operator>,
        f: impl Fn(&mut [Option<Shape>], &mut [Option<Shape>]) -> Result<()> + Send + Sync + 'static,
    ) -> Arc<dyn Operator> {
        Arc::new(Renamed {
            name,
            inner,
            shape_partial: Some(Box::new(f)),
        })
    }
}

impl Operator for Renamed {
    fn name(&self) -> &'static str {
        self.name
    }
    fn num_outputs(&self) -> usize {
        self.inner.num_outputs()
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        self.inner.infer(inputs)
    }
    fn infer_values(&self, inputs: &[NDArray]) -> Option<Result<Vec<Desc>>> {
        self.inner.infer_values(inputs)
    }
    fn shape_needs_values(&self) -> bool {
        self.inner.shape_needs_values()
    }
    fn context(&self) -> Option<crate::context::Context> {
        self.inner.context()
    }
    fn inplace(&self) -> bool {
        self.inner.inplace()
    }
    fn uses_rng(&self) -> bool {
        self.inner.uses_rng()
    }
    fn mutate_inputs(&self) -> &[usize] {
        self.inner.mutate_inputs()
    }
    fn aux_inputs(&self) -> &[usize] {
        self.inner.aux_inputs()
    }
    fn forward(&self, cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        self.inner.forward(cx, inputs, outputs)
    }
    #[cfg(feature = "cuda")]
    fn forward_cuda(
        &self,
        dev: &crate::kernels::cuda::device::Device,
        cx: &OpCtx,
        inputs: &[NDArray],
        outputs: &[NDArray],
    ) -> Result<bool> {
        self.inner.forward_cuda(dev, cx, inputs, outputs)
    }
    fn num_visible_outputs(&self) -> usize {
        self.inner.num_visible_outputs()
    }
    fn mxnet_num_outputs(&self) -> usize {
        self.inner.mxnet_num_outputs()
    }
    fn output_names(&self) -> Vec<String> {
        self.inner.output_names()
    }
    fn input_names(&self) -> Vec<String> {
        self.inner.input_names()
    }
    fn runs_at_push(&self) -> bool {
        self.inner.runs_at_push()
    }
    fn num_inputs(&self) -> Option<usize> {
        self.inner.num_inputs()
    }
    fn infer_shape_partial(
        &self,
        inputs: &mut [Option<Shape>],
        outputs: &mut [Option<Shape>],
    ) -> Result<()> {
        if let Some(f) = &self.shape_partial {
            f(inputs, outputs)?;
        }
        self.inner.infer_shape_partial(inputs, outputs)
    }
    fn infer_type_partial(
        &self,
        inputs: &mut [Option<DType>],
        outputs: &mut [Option<DType>],
    ) -> Result<()> {
        self.inner.infer_type_partial(inputs, outputs)
    }
    fn is_loss(&self) -> bool {
        self.inner.is_loss()
    }
    fn gradient(&self, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
        self.inner.gradient(g, a)
    }
}
