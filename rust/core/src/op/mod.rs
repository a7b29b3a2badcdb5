//! The one-definition operator registry. An op family file declares, per op: its MXNet name,
//! documentation, typed parameters, input names, shape/type inference and CPU kernel; the
//! Python `mx.nd.<op>` functions are generated from `registry()` at import.

pub mod broadcast;
pub mod compat;
pub mod concat;
pub mod contrib;
pub mod control_flow;
pub mod cross_copy;
pub mod custom;
pub mod elemwise_binary;
pub mod elemwise_unary;
pub mod gather;
pub mod image;
pub mod indexing;
mod infer_cache;
pub mod init;
pub mod linalg;
pub mod matrix;
pub mod moments;
pub mod nn;
pub mod optimizer;
pub mod params;
pub mod quantization;
pub mod random;
pub mod ravel;
pub mod reduce;
pub mod region;
pub mod registry;
pub mod sequence;
pub mod sg_mkldnn;
pub mod shape_ops;
pub mod slice;
pub mod softmax;
mod softmax_length;
pub mod sort;
pub mod special;
#[cfg(test)]
pub(crate) mod test_util;
pub mod transpose;
pub mod utility;

pub use params::{ParamSpec, Params};
pub use registry::{registry, Registry};

use crate::context::Context;
use crate::dtype::DType;
use crate::engine::{Origin, Task};
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder, Node};
use crate::ndarray::NDArray;
use crate::runtime::rt;
use crate::shape::Shape;
use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

/// Shape and dtype of one input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desc {
    pub shape: Shape,
    pub dtype: DType,
}

impl Desc {
    pub fn new(shape: impl Into<Shape>, dtype: DType) -> Self {
        Desc {
            shape: shape.into(),
            dtype,
        }
    }

    /// The shape and dtype of `a`.
    pub fn of(a: &NDArray) -> Self {
        Desc::new(a.shape().clone(), a.dtype())
    }

    /// The shape and dtype of each array.
    pub fn of_all(arrays: &[NDArray]) -> Vec<Desc> {
        arrays.iter().map(Desc::of).collect()
    }
}

/// Input names of an op: a fixed list, a variable count set by a parameter (`num_args`), or
/// a parameter's count of groups (`num_weights` of `weight_i, grad_i, mom_i`).
#[derive(Debug, Clone, Copy)]
pub enum Inputs {
    Fixed(&'static [&'static str]),
    Variadic {
        name: &'static str,
        count_param: &'static str,
    },
    Grouped {
        names: &'static [&'static str],
        count_param: &'static str,
    },
    /// Named by the configured operator (`Operator::input_names`): `Custom`.
    Dynamic,
}

/// What the registry knows of an op before it is configured.
pub trait OpDef: Send + Sync {
    fn name(&self) -> &'static str;
    fn doc(&self) -> &str;
    fn params(&self) -> &[ParamSpec];
    fn inputs(&self) -> Inputs;
    /// Parses attributes into a configured operator.
    fn create(&self, attrs: &[(String, String)]) -> Result<Arc<dyn Operator>>;
}

/// Per-call state the engine hands to a kernel.
pub struct OpCtx {
    /// Sub-seed drawn at push time for ops that use randomness.
    pub seed: u64,
    /// Training mode (`is_train=True`, `autograd.train_mode()`): Dropout drops, BatchNorm
    /// uses batch statistics.
    pub is_train: bool,
}

/// What a gradient rule sees of the node it differentiates.
pub struct GradArgs<'a> {
    pub node: &'a Arc<Node>,
    /// The node's input entries (forward values, readable by gradient nodes).
    pub inputs: &'a [Entry],
    /// The node's output entries, hidden outputs included.
    pub outputs: Vec<Entry>,
    /// Gradient of each output (zeros where only some outputs receive one); empty for loss
    /// ops, whose gradient never reads a head gradient.
    pub out_grads: &'a [Entry],
    /// Whether each input's gradient is wanted (it lies on a path to a `wrt` entry); an op may
    /// skip computing the others and return `None` for them.
    pub needs: &'a [bool],
}

/// A configured op: inference and kernels.
pub trait Operator: Send + Sync {
    fn name(&self) -> &'static str;
    fn num_outputs(&self) -> usize {
        1
    }
    /// Output shapes and dtypes from input ones; errors are raised at the call.
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>>;
    /// Output shapes and dtypes when the caller passes `out=` arrays (`out` holds theirs).
    /// An op that fills an existing array and has no inputs to infer from (`_set_value`)
    /// takes its outputs from `out`; the default ignores it, and `invoke` then checks `out`
    /// against what `infer` gives.
    fn infer_with_out(&self, inputs: &[Desc], _out: Option<&[Desc]>) -> Result<Vec<Desc>> {
        self.infer(inputs)
    }
    /// Output shapes that depend on input values (`_contrib_boolean_mask`): `invoke` calls it
    /// instead of `infer`, on the pushing thread, and it waits for the inputs it reads (as
    /// MXNet does for such ops). `None` = the shapes follow from `infer`, as for most ops.
    fn infer_values(&self, _inputs: &[NDArray]) -> Option<Result<Vec<Desc>>> {
        None
    }
    /// True for ops whose output shapes only `infer_values` knows: a bound graph learns
    /// them (and those of everything downstream) when it runs, as MXNet's dynamic-shape
    /// executor does.
    fn shape_needs_values(&self) -> bool {
        false
    }
    /// Where an op without inputs creates its outputs (`ctx` parameter).
    fn context(&self) -> Option<Context> {
        None
    }
    /// Where the outputs go when not where the inputs are (a copy between contexts).
    fn output_context(&self) -> Option<Context> {
        None
    }
    /// Output element i depends only on input element i: out may alias an input.
    fn inplace(&self) -> bool {
        false
    }
    /// `Some(g)`: the inputs form groups of `g` (MXNet's multi-tensor updates), output k
    /// belongs to group k, and the kernel runs the groups one after another, so an output may
    /// overlap other groups' arrays (they see the groups before them done, as in MXNet).
    /// Inputs after the last group belong to every group.
    fn input_groups(&self) -> Option<usize> {
        None
    }
    /// The output is the first input's elements in another shape (its kernel is a byte
    /// copy): a graph plan may hand out a view of the input instead of running it.
    fn reshapes_input(&self) -> bool {
        false
    }
    fn uses_rng(&self) -> bool {
        false
    }
    /// Indices of inputs the kernel updates in place (optimizer states such as `mom`, `mean`):
    /// `invoke` schedules them as written so later readers wait for the update and earlier
    /// readers finish before it. Empty for ordinary ops.
    fn mutate_inputs(&self) -> &[usize] {
        &[]
    }
    /// Mutated inputs that a symbol lists as auxiliary states (BatchNorm's moving statistics,
    /// not the gamma it resets under `fix_gamma`).
    fn aux_inputs(&self) -> &[usize] {
        self.mutate_inputs()
    }
    /// This op for a bound graph where nothing reads the outputs marked `true` (MXNet gives
    /// them the request `null`, and some kernels act on that: BatchNorm resets a fixed gamma
    /// only when its mean output is read). `None` = the same op.
    fn for_unread_outputs(&self, _unread: &[bool]) -> Option<Arc<dyn Operator>> {
        None
    }
    fn forward(&self, cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()>;
    /// The native GPU kernel: `Ok(false)` (the default) runs `forward` on host copies.
    #[cfg(feature = "cuda")]
    fn forward_cuda(
        &self,
        _dev: &crate::kernels::cuda::device::Device,
        _cx: &OpCtx,
        _inputs: &[NDArray],
        _outputs: &[NDArray],
    ) -> Result<bool> {
        Ok(false)
    }

    /// Outputs a symbol lists (BatchNorm computes 3, shows 1).
    fn num_visible_outputs(&self) -> usize {
        self.num_outputs()
    }
    /// The outputs MXNet 1.9.1 gives this node, hidden ones included, as its symbol files
    /// count them (`node_row_ptr`): MXNet keeps workspaces that oxnet does not compute
    /// (LRN's norm, ROIPooling's argmax).
    fn mxnet_num_outputs(&self) -> usize {
        self.num_outputs()
    }
    /// Output names without the node prefix (`output`, `loss`, `state_output`); default
    /// `output` for one output, `output0..` for several.
    fn output_names(&self) -> Vec<String> {
        match self.num_visible_outputs() {
            1 => vec!["output".to_string()],
            n => (0..n).map(|i| format!("output{i}")).collect(),
        }
    }
    /// Input names of an op whose definition cannot list them (`Inputs::Dynamic`).
    fn input_names(&self) -> Vec<String> {
        Vec::new()
    }
    /// The op's `forward` is called on the pushing thread, in push order, instead of inside an
    /// engine op: its arrays may still have pending writes, so it must reach their data only
    /// through engine ops of its own (Python custom operators do, through `mx.nd`).
    fn runs_at_push(&self) -> bool {
        false
    }
    /// Graphs the op runs (control flow: `_foreach`'s body), written under the node's
    /// `subgraphs` in JSON.
    fn subgraphs(&self) -> &[crate::graph::symbol::Symbol] {
        &[]
    }
    /// How many of the op's declared inputs this configuration takes (FullyConnected with
    /// `no_bias` takes 2 of data/weight/bias); `None` = all.
    fn num_inputs(&self) -> Option<usize> {
        None
    }
    /// Bidirectional shape inference for graphs: fill unknown (`None`) input and output shapes
    /// that follow from known ones (weights from data and params, labels from data). A shape
    /// may hold 0 for an unknown dimension. The forward `infer` fills outputs once every input
    /// is known, so ops only implement what `infer` cannot deduce.
    fn infer_shape_partial(
        &self,
        _inputs: &mut [Option<Shape>],
        _outputs: &mut [Option<Shape>],
    ) -> Result<()> {
        Ok(())
    }
    /// Type inference for graphs; default: inputs and outputs share one dtype.
    fn infer_type_partial(
        &self,
        inputs: &mut [Option<DType>],
        outputs: &mut [Option<DType>],
    ) -> Result<()> {
        unify_types(self.name(), inputs, outputs)
    }
    /// Loss heads (SoftmaxOutput, MakeLoss...) make their own head gradient.
    fn is_loss(&self) -> bool {
        false
    }
    /// The gradient of each input as graph nodes built with `g` (None = no gradient flows).
    fn gradient(&self, _g: &mut GradBuilder, _a: &GradArgs) -> Result<Vec<Option<Entry>>> {
        Err(Error::NotImplemented(format!(
            "Operator {} is non-differentiable because it didn't register FGradient attribute",
            self.name()
        )))
    }
}

/// The default type rule: every input and output has the same dtype.
pub fn unify_types(
    op: &str,
    inputs: &mut [Option<DType>],
    outputs: &mut [Option<DType>],
) -> Result<()> {
    let known = inputs
        .iter()
        .chain(outputs.iter())
        .flatten()
        .next()
        .copied();
    let Some(t) = known else { return Ok(()) };
    for (i, d) in inputs.iter_mut().enumerate() {
        match d {
            Some(x) if *x != t => {
                return Err(Error::dtype(
                    op,
                    format!(
                        "Incompatible attr in node {op} at {i}-th input: expected {t}, got {x}"
                    ),
                ))
            }
            _ => *d = Some(t),
        }
    }
    for (i, d) in outputs.iter_mut().enumerate() {
        match d {
            Some(x) if *x != t => {
                return Err(Error::dtype(
                    op,
                    format!(
                        "Incompatible attr in node {op} at {i}-th output: expected {t}, got {x}"
                    ),
                ))
            }
            _ => *d = Some(t),
        }
    }
    Ok(())
}

/// Type rule of ops whose output has the data's dtype while the other inputs keep their own
/// (indices beside float data, `rhs` that only lends its shape).
pub fn data_type_only(ins: &mut [Option<DType>], outs: &mut [Option<DType>]) -> Result<()> {
    if outs[0].is_none() {
        outs[0] = ins[0];
    }
    if ins[0].is_none() {
        ins[0] = outs[0];
    }
    Ok(())
}

/// Type rule of ops that take data of any dtype and whose outputs' dtypes follow from it and
/// from parameters (`dtype=`, `out_dtype=`, `is_int=False`): `rule(data dtype)`.
pub fn types_from_data(
    rule: impl Fn(DType) -> Vec<DType> + Send + Sync + 'static,
) -> impl Fn(&mut [Option<DType>], &mut [Option<DType>]) -> Result<()> + Send + Sync + 'static {
    move |ins, outs| {
        if let Some(t) = ins.first().copied().flatten() {
            for (o, t) in outs.iter_mut().zip(rule(t)) {
                o.get_or_insert(t);
            }
        }
        Ok(())
    }
}

/// Zero gradients for every input: MXNet's `MakeZeroGradNodes` (most quantized ops, the
/// samplers), so that graphs holding such ops still run backward.
pub fn zero_grads(g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
    a.inputs.iter().map(|i| g.zeros_like(i).map(Some)).collect()
}

/// Type rule of ops with an optional output dtype parameter (`softmax(dtype=)`,
/// `norm(out_dtype=)`): that dtype for any input when given, else the input's.
pub fn dtype_param_or_same(
    op: &'static str,
    dtype: Option<DType>,
) -> impl Fn(&mut [Option<DType>], &mut [Option<DType>]) -> Result<()> + Send + Sync + 'static {
    move |ins, outs| match dtype {
        Some(d) => {
            outs[0].get_or_insert(d);
            Ok(())
        }
        None => unify_types(op, ins, outs),
    }
}

/// Looks up `name`, configures it with `attrs` and runs it on `inputs`.
pub fn call(name: &str, inputs: &[NDArray], attrs: &[(String, String)]) -> Result<Vec<NDArray>> {
    let def = registry().get(name)?;
    let op = def.create(attrs)?;
    invoke(&op, inputs, None, None)
}

/// `call` with `&str` attributes, for Rust callers and tests.
pub fn call_str(name: &str, inputs: &[NDArray], attrs: &[(&str, &str)]) -> Result<Vec<NDArray>> {
    let a: Vec<(String, String)> = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    call(name, inputs, &a)
}

/// Infers, allocates (or checks `out`), and pushes the op to the engine. Shape, dtype and
/// context errors are returned here, synchronously; kernel errors surface at the next wait.
pub fn invoke(
    op: &Arc<dyn Operator>,
    inputs: &[NDArray],
    out: Option<&[NDArray]>,
    origin: Option<Origin>,
) -> Result<Vec<NDArray>> {
    invoke_mode(op, inputs, out, origin, crate::autograd::is_training())
}

/// `invoke` in an explicit mode (executors pass `is_train` from `forward`).
pub fn invoke_mode(
    op: &Arc<dyn Operator>,
    inputs: &[NDArray],
    out: Option<&[NDArray]>,
    origin: Option<Origin>,
    is_train: bool,
) -> Result<Vec<NDArray>> {
    invoke_with(op, inputs, out, origin, is_train, None)
}

/// Makes an output array of the given description on a context.
pub type Alloc<'a> = &'a mut dyn FnMut(&Desc, Context) -> Result<NDArray>;

/// [`invoke_mode`], with outputs that `out` does not give taken from `alloc` (by default new
/// arrays).
pub fn invoke_with(
    op: &Arc<dyn Operator>,
    inputs: &[NDArray],
    out: Option<&[NDArray]>,
    origin: Option<Origin>,
    is_train: bool,
    mut alloc: Option<Alloc<'_>>,
) -> Result<Vec<NDArray>> {
    let name = op.name();
    let ctx = match inputs.first() {
        Some(a) => a.ctx(),
        None => op
            .context()
            .or_else(|| out.and_then(|o| o.first()).map(|o| o.ctx()))
            .unwrap_or_default(),
    };
    for a in inputs {
        if !ctx.shares_memory_with(a.ctx()) {
            return Err(Error::Context(format!(
                "operator {name}: all inputs must be on one context, got {} and {}",
                ctx,
                a.ctx()
            )));
        }
    }
    ctx.check_usable(name)?;
    let out_ctx = op.output_context().unwrap_or(ctx);
    let inferred = match (op.infer_values(inputs), out) {
        (Some(r), _) => Rc::new(infer_cache::Inferred {
            descs: r?,
            shapes: Vec::new(),
        }),
        (None, None) => infer_cache::infer(op, inputs)?,
        (None, Some(o)) => Rc::new(infer_cache::Inferred {
            descs: op.infer_with_out(&Desc::of_all(inputs), Some(&Desc::of_all(o)))?,
            shapes: Vec::new(),
        }),
    };
    let out_descs = &inferred.descs;
    let outputs: Vec<NDArray> = match out {
        Some(o) => {
            // as MXNet, `out` may hold only the visible outputs: the hidden ones are made here
            let visible = op.num_visible_outputs();
            if o.len() != out_descs.len() && o.len() != visible {
                return Err(Error::Value(format!(
                    "operator {name} has {} outputs, {} given in out",
                    visible,
                    o.len()
                )));
            }
            for (a, d) in o.iter().zip(out_descs) {
                if a.shape() != &d.shape || a.dtype() != d.dtype {
                    return Err(Error::shape(
                        name,
                        format!(
                            "out has shape {} and dtype {}, but the result has shape {} and dtype {}",
                            a.shape(),
                            a.dtype(),
                            d.shape,
                            d.dtype
                        ),
                    ));
                }
                if !out_ctx.shares_memory_with(a.ctx()) {
                    return Err(Error::Context(format!(
                        "operator {name}: out is on {} but inputs are on {ctx}{}",
                        a.ctx(),
                        if out_ctx == ctx {
                            String::new()
                        } else {
                            format!(" and the result goes to {out_ctx}")
                        }
                    )));
                }
            }
            let mut all = o.to_vec();
            for d in &out_descs[o.len()..] {
                all.push(NDArray::empty(d.shape.clone(), d.dtype, out_ctx)?);
            }
            all
        }
        None => {
            let mut made = Vec::with_capacity(out_descs.len());
            for (i, d) in out_descs.iter().enumerate() {
                let out = match (alloc.as_deref_mut(), inferred.shapes.get(i)) {
                    (Some(f), _) => f(d, out_ctx),
                    (None, Some(shape)) => NDArray::empty_shaped(shape.clone(), d.dtype, out_ctx),
                    (None, None) => NDArray::empty(d.shape.clone(), d.dtype, out_ctx),
                };
                made.push(out.map_err(|e| {
                    Error::Memory(format!(
                        "operator {name}: output of shape {} and dtype {}: {e}",
                        d.shape, d.dtype
                    ))
                })?);
            }
            made
        }
    };
    // Inputs after the last group (shared learning rates) belong to every group.
    let own_group = |k: usize, j: usize| {
        op.input_groups()
            .is_none_or(|g| j / g == k || j >= g * outputs.len())
    };
    let aliased = outputs.iter().enumerate().any(|(k, o)| {
        inputs.iter().enumerate().any(|(j, i)| {
            own_group(k, j)
                && o.overlaps(i)
                && !(op.inplace() && o.offset() == i.offset() && o.nbytes() == i.nbytes())
        })
    });
    if aliased {
        // Compute into fresh arrays, then copy: the kernel never sees aliased memory.
        let tmp = invoke_mode(op, inputs, None, origin.clone(), is_train)?;
        for (t, o) in tmp.iter().zip(&outputs) {
            copy_into(t, o, origin.clone())?;
        }
        return Ok(outputs);
    }
    if op.runs_at_push() {
        op.forward(&OpCtx { seed: 0, is_train }, inputs, &outputs)?;
        return Ok(outputs);
    }
    let seed = if op.uses_rng() { rt().rng.next(ctx) } else { 0 };
    let cost: usize = inputs.iter().map(|a| a.size()).sum::<usize>()
        + outputs.iter().map(|a| a.size()).sum::<usize>();
    let cx = OpCtx { seed, is_train };
    let mutated = op.mutate_inputs().iter().filter_map(|&i| inputs.get(i));
    let ran = rt().engine.run_small_now(
        &Cow::Borrowed(name),
        inputs.iter().map(|a| a.var()),
        outputs.iter().chain(mutated).map(|a| a.var()),
        cost,
        origin.as_ref(),
        || run_forward(&**op, &cx, inputs, &outputs),
    );
    if ran.is_ok() {
        return Ok(outputs);
    }
    let (op2, ins, outs) = (op.clone(), inputs.to_vec(), outputs.clone());
    rt().engine.push(Task {
        name: Cow::Borrowed(name),
        reads: inputs.iter().map(|a| a.var().clone()).collect(),
        // Mutated inputs are written too; the engine drops them from the reads.
        writes: outputs
            .iter()
            .map(|a| a.var().clone())
            .chain(
                op.mutate_inputs()
                    .iter()
                    .filter_map(|&i| inputs.get(i))
                    .map(|a| a.var().clone()),
            )
            .collect(),
        body: Box::new(move || run_forward(&*op2, &cx, &ins, &outs)),
        origin,
        cost,
        priority: 0,
    });
    Ok(outputs)
}

/// Runs a kernel on the device of its arrays (inside the engine op).
fn run_forward(
    op: &dyn Operator,
    cx: &OpCtx,
    inputs: &[NDArray],
    outputs: &[NDArray],
) -> Result<()> {
    #[cfg(feature = "cuda")]
    if !inputs.iter().chain(outputs).all(|a| a.ctx().is_host()) {
        return crate::kernels::cuda::host::forward(op, cx, inputs, outputs);
    }
    op.forward(cx, inputs, outputs)
}

/// `a` itself when it is on `ctx`, else a copy of it there.
pub fn in_context(a: NDArray, ctx: Context) -> Result<NDArray> {
    if a.ctx() == ctx {
        return Ok(a);
    }
    let c = NDArray::empty(a.shape().clone(), a.dtype(), ctx)?;
    copy_into(&a, &c, None)?;
    Ok(c)
}

/// Copies `src` into `dst` (same shape; dtype converted; any contexts): `copyto`.
pub fn copy_into(src: &NDArray, dst: &NDArray, origin: Option<Origin>) -> Result<()> {
    if src.shape() != dst.shape() {
        return Err(Error::shape(
            "_copyto",
            format!(
                "operands shape mismatch from.shape = {} to.shape={}",
                src.shape(),
                dst.shape()
            ),
        ));
    }
    dst.ctx().check_usable("_copyto")?;
    src.ctx().check_usable("_copyto")?;
    if src.overlaps(dst) {
        if src.offset() == dst.offset() && src.dtype() == dst.dtype() {
            return Ok(());
        }
        let tmp = NDArray::empty(src.shape().clone(), dst.dtype(), dst.ctx())?;
        copy_into(src, &tmp, origin.clone())?;
        return copy_into(&tmp, dst, origin);
    }
    let (s, d) = (src.clone(), dst.clone());
    NDArray::push(
        "_copyto",
        &[src],
        &[dst],
        src.size() * 2,
        origin,
        move || {
            #[cfg(feature = "cuda")]
            if !(s.ctx().is_host() && d.ctx().is_host()) {
                return crate::kernels::cuda::host::copy(&s, &d);
            }
            crate::kernels::cpu::cast::cast_into(&s, &d);
            Ok(())
        },
    );
    Ok(())
}

/// An op definition from a parameter table and a constructor (most ops are one of these).
pub struct SimpleDef {
    pub name: &'static str,
    pub doc: String,
    pub params: Vec<ParamSpec>,
    pub inputs: Inputs,
    #[allow(clippy::type_complexity)]
    pub create: Box<dyn Fn(&Params) -> Result<Arc<dyn Operator>> + Send + Sync>,
}

impl OpDef for SimpleDef {
    fn name(&self) -> &'static str {
        self.name
    }
    fn doc(&self) -> &str {
        &self.doc
    }
    fn params(&self) -> &[ParamSpec] {
        &self.params
    }
    fn inputs(&self) -> Inputs {
        self.inputs
    }
    fn create(&self, attrs: &[(String, String)]) -> Result<Arc<dyn Operator>> {
        let p = Params::new(self.name, &self.params, attrs)?;
        check_counts(&p, self.inputs)?;
        (self.create)(&p)
    }
}

/// The most inputs, input groups or outputs an op takes. Constructors size tables by these
/// counts before any array is seen, so a mistyped or corrupt `num_args=2147483648` must be
/// refused here rather than abort the process on allocation.
const MAX_INPUTS: i64 = 1 << 20;

/// Parameters that count inputs or outputs, whatever the op.
const COUNT_PARAMS: [&str; 6] = [
    "num_args",
    "num_arrays",
    "num_weights",
    "num_tensors",
    "num_outputs",
    "sections",
];

fn check_counts(p: &Params, inputs: Inputs) -> Result<()> {
    let declared = match inputs {
        Inputs::Variadic { count_param, .. } | Inputs::Grouped { count_param, .. } => {
            Some(count_param)
        }
        _ => None,
    };
    for name in COUNT_PARAMS.iter().copied().chain(declared) {
        if !p.is_set(name) {
            continue;
        }
        let n = p.int(name)?;
        if n > MAX_INPUTS {
            return Err(Error::param(
                p.op,
                format!("{name}={n} exceeds the most inputs or outputs an operator takes ({MAX_INPUTS})"),
            ));
        }
    }
    Ok(())
}

pub type InferFn = Box<dyn Fn(&[Desc]) -> Result<Vec<Desc>> + Send + Sync>;
pub type ForwardFn = Box<dyn Fn(&OpCtx, &[NDArray], &[NDArray]) -> Result<()> + Send + Sync>;
pub type GradFn =
    Box<dyn Fn(&mut GradBuilder, &GradArgs) -> Result<Vec<Option<Entry>>> + Send + Sync>;
pub type ShapePartialFn =
    Box<dyn Fn(&mut [Option<Shape>], &mut [Option<Shape>]) -> Result<()> + Send + Sync>;
pub type TypePartialFn =
    Box<dyn Fn(&mut [Option<DType>], &mut [Option<DType>]) -> Result<()> + Send + Sync>;
pub type UnreadFn = Box<dyn Fn(&[bool]) -> Option<Arc<dyn Operator>> + Send + Sync>;

/// A configured op made of an inference closure and a kernel closure.
pub struct FnOp {
    pub name: &'static str,
    pub num_outputs: usize,
    pub ctx: Option<Context>,
    pub inplace: bool,
    /// See `Operator::input_groups`.
    pub groups: Option<usize>,
    /// See `Operator::reshapes_input`.
    pub reshape: bool,
    pub rng: bool,
    /// See `Operator::mutate_inputs`.
    pub mutate: Vec<usize>,
    /// See `Operator::aux_inputs`; `None` = all of `mutate`.
    pub aux: Option<Vec<usize>>,
    pub infer: InferFn,
    pub forward: ForwardFn,
    /// See `Operator::gradient`; `None` = not differentiable.
    pub grad: Option<GradFn>,
    pub loss: bool,
    pub visible_outputs: Option<usize>,
    /// See `Operator::mxnet_num_outputs`; `None` = `num_outputs`.
    pub mxnet_outputs: Option<usize>,
    pub output_names: Option<Vec<String>>,
    /// Input names of this configuration when they are not a prefix of the definition's
    /// (`CTCLoss` with only `label_lengths`); `None` = the definition's.
    pub input_names: Option<Vec<String>>,
    pub num_inputs: Option<usize>,
    pub shape_partial: Option<ShapePartialFn>,
    pub type_partial: Option<TypePartialFn>,
    /// The dtypes an op whose `dtype` was left unset may take from its `out=` array (MXNet's
    /// random ops); `None` = the output dtype is the inferred one.
    pub dtype_from_out: Option<&'static [DType]>,
    /// The op was given no shape (MXNet's unknown `()`): an `out=` array gives it.
    pub shape_from_out: bool,
    /// See `Operator::for_unread_outputs`.
    pub unread: Option<UnreadFn>,
    /// Native GPU kernel; `None` = the host path (see `kernels::cuda::host`).
    #[cfg(feature = "cuda")]
    pub cuda: Option<crate::kernels::cuda::CudaFn>,
}

impl FnOp {
    pub fn new(
        name: &'static str,
        infer: impl Fn(&[Desc]) -> Result<Vec<Desc>> + Send + Sync + 'static,
        forward: impl Fn(&OpCtx, &[NDArray], &[NDArray]) -> Result<()> + Send + Sync + 'static,
    ) -> FnOp {
        FnOp {
            name,
            num_outputs: 1,
            ctx: None,
            inplace: false,
            groups: None,
            reshape: false,
            rng: false,
            mutate: Vec::new(),
            aux: None,
            infer: Box::new(infer),
            forward: Box::new(forward),
            grad: None,
            loss: false,
            visible_outputs: None,
            mxnet_outputs: None,
            output_names: None,
            input_names: None,
            num_inputs: None,
            shape_partial: None,
            type_partial: None,
            dtype_from_out: None,
            shape_from_out: false,
            unread: None,
            #[cfg(feature = "cuda")]
            cuda: None,
        }
    }

    /// Sets the native GPU kernel (builder style).
    #[cfg(feature = "cuda")]
    pub fn with_cuda(mut self, f: Option<crate::kernels::cuda::CudaFn>) -> FnOp {
        self.cuda = f;
        self
    }

    /// Sets the gradient rule (builder style).
    pub fn with_grad(
        mut self,
        f: impl Fn(&mut GradBuilder, &GradArgs) -> Result<Vec<Option<Entry>>> + Send + Sync + 'static,
    ) -> FnOp {
        self.grad = Some(Box::new(f));
        self
    }

    /// Sets the backward shape rule (builder style).
    pub fn with_shape_partial(
        mut self,
        f: impl Fn(&mut [Option<Shape>], &mut [Option<Shape>]) -> Result<()> + Send + Sync + 'static,
    ) -> FnOp {
        self.shape_partial = Some(Box::new(f));
        self
    }

    /// Sets the type rule (builder style).
    pub fn with_type_partial(
        mut self,
        f: impl Fn(&mut [Option<DType>], &mut [Option<DType>]) -> Result<()> + Send + Sync + 'static,
    ) -> FnOp {
        self.type_partial = Some(Box::new(f));
        self
    }

    /// Sets MXNet's output count, hidden outputs included (builder style; see
    /// `Operator::mxnet_num_outputs`).
    pub fn with_mxnet_outputs(mut self, n: usize) -> FnOp {
        self.mxnet_outputs = Some(n);
        self
    }

    pub fn arc(self) -> Arc<dyn Operator> {
        Arc::new(self)
    }
}

impl Operator for FnOp {
    fn name(&self) -> &'static str {
        self.name
    }
    fn num_outputs(&self) -> usize {
        self.num_outputs
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        (self.infer)(inputs)
    }
    fn infer_with_out(&self, inputs: &[Desc], out: Option<&[Desc]>) -> Result<Vec<Desc>> {
        let mut descs = (self.infer)(inputs)?;
        if let (Some(allowed), Some([o]), [d]) = (self.dtype_from_out, out, descs.as_mut_slice()) {
            if allowed.contains(&o.dtype) {
                d.dtype = o.dtype;
            }
        }
        if let (true, Some([o]), [d]) = (self.shape_from_out, out, descs.as_mut_slice()) {
            d.shape = o.shape.clone();
        }
        Ok(descs)
    }
    fn context(&self) -> Option<Context> {
        self.ctx
    }
    fn inplace(&self) -> bool {
        self.inplace
    }
    fn input_groups(&self) -> Option<usize> {
        self.groups
    }
    fn reshapes_input(&self) -> bool {
        self.reshape
    }
    fn uses_rng(&self) -> bool {
        self.rng
    }
    fn mutate_inputs(&self) -> &[usize] {
        &self.mutate
    }
    fn aux_inputs(&self) -> &[usize] {
        self.aux.as_deref().unwrap_or(&self.mutate)
    }
    fn for_unread_outputs(&self, unread: &[bool]) -> Option<Arc<dyn Operator>> {
        self.unread.as_ref().and_then(|f| f(unread))
    }
    fn forward(&self, cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        (self.forward)(cx, inputs, outputs)
    }
    #[cfg(feature = "cuda")]
    fn forward_cuda(
        &self,
        dev: &crate::kernels::cuda::device::Device,
        cx: &OpCtx,
        inputs: &[NDArray],
        outputs: &[NDArray],
    ) -> Result<bool> {
        match &self.cuda {
            Some(f) => f(dev, cx, inputs, outputs),
            None => Ok(false),
        }
    }
    fn num_visible_outputs(&self) -> usize {
        self.visible_outputs.unwrap_or(self.num_outputs)
    }
    fn mxnet_num_outputs(&self) -> usize {
        self.mxnet_outputs.unwrap_or(self.num_outputs)
    }
    fn output_names(&self) -> Vec<String> {
        match &self.output_names {
            Some(n) => n.clone(),
            None => match self.num_visible_outputs() {
                1 => vec!["output".to_string()],
                n => (0..n).map(|i| format!("output{i}")).collect(),
            },
        }
    }
    fn num_inputs(&self) -> Option<usize> {
        self.num_inputs
    }
    fn input_names(&self) -> Vec<String> {
        self.input_names.clone().unwrap_or_default()
    }
    fn infer_shape_partial(
        &self,
        inputs: &mut [Option<Shape>],
        outputs: &mut [Option<Shape>],
    ) -> Result<()> {
        match &self.shape_partial {
            Some(f) => f(inputs, outputs),
            None => Ok(()),
        }
    }
    fn infer_type_partial(
        &self,
        inputs: &mut [Option<DType>],
        outputs: &mut [Option<DType>],
    ) -> Result<()> {
        match &self.type_partial {
            Some(f) => f(inputs, outputs),
            None => unify_types(self.name, inputs, outputs),
        }
    }
    fn is_loss(&self) -> bool {
        self.loss
    }
    fn gradient(&self, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
        match &self.grad {
            Some(f) => f(g, a),
            None => Err(Error::NotImplemented(format!(
                "Operator {} is non-differentiable because it didn't register FGradient attribute",
                self.name
            ))),
        }
    }
}

/// Values of `a` as f64, any dtype (small arrays: parameters, statistics, matrices the
/// factorizations work on). Call inside an op that reads `a`.
pub(crate) fn read_f64(a: &NDArray) -> Vec<f64> {
    if a.size() == 0 {
        return Vec::new();
    }
    crate::with_dtype!(a.dtype(), T, {
        // SAFETY: the calling op reads a.
        unsafe { a.data::<T>() }
            .iter()
            .map(|v| crate::dtype::Element::to_f64(*v))
            .collect()
    })
}

/// Writes f64 values into `a`, converted to its dtype. Call inside an op that writes `a`.
pub(crate) fn write_f64(a: &NDArray, v: &[f64]) {
    if a.size() == 0 {
        return;
    }
    crate::with_dtype!(a.dtype(), T, {
        // SAFETY: the calling op writes a; no other slice of it is alive.
        let d = unsafe { a.data_mut::<T>() };
        for (d, &x) in d.iter_mut().zip(v) {
            *d = <T as crate::dtype::Element>::from_f64(x);
        }
    })
}

/// Checks the input count (ops called from Python with the wrong number of arrays).
pub fn expect_inputs(op: &str, inputs: &[Desc], n: usize) -> Result<()> {
    if inputs.len() != n {
        return Err(Error::Value(format!(
            "operator {op} takes {n} input(s), {} given",
            inputs.len()
        )));
    }
    Ok(())
}
