//! MXNet 1.9.1's oneDNN-fused graph nodes `_sg_mkldnn_conv` and `_sg_mkldnn_fully_connected`,
//! written by `sym.get_backend_symbol('MKLDNN')` (float) and, after
//! `quantize_model_mkldnn`, by `get_backend_symbol('MKLDNN_QUANTIZE')` (INT8). Each node owns
//! one subgraph (a Convolution with optional BatchNorm, activation and elemwise_add, or a
//! FullyConnected with an optional eltwise op, `eltwise`) and is inference-only.
//!
//! Float nodes run their subgraph as it is (`Body`): the node's inputs are the subgraph's in
//! `list_inputs` order; its eltwise ops are checked as MXNet's parser does. Quantized nodes
//! compute MXNet's INT8 arithmetic here (`conv`, `fc`): the
//! subgraph gives the layer's parameters and the output shape; the integer products accumulate
//! exactly in int32. MXNet's own values on a CPU without VNNI differ from exact accumulation
//! where oneDNN's AVX2 kernels saturate int16 pair sums (uint8 data) or halve int8 weights
//! (int8 data); tests/python/test_sg_mkldnn.py reproduces both against mxref.
//!
//! `_sg_mkldnn_selfatt_qk` / `_valatt` (selfatt.rs) are ordinary registry ops whose JSON nodes
//! also carry a subgraph, kept for `tojson` only.

mod conv;
mod eltwise;
mod fc;
pub mod selfatt;

use super::control_flow::body::Body;
use super::params::{param, ParamSpec, Params};
use super::quantization::common::range_desc;
use super::{copy_into, Desc, Inputs, OpCtx, OpDef, Operator, Registry};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::symbol::Symbol;
use crate::graph::{topo_order, Node};
use crate::ndarray::NDArray;
use crate::shape::Shape;
use std::sync::Arc;

pub const CONV: &str = "_sg_mkldnn_conv";
pub const FC: &str = "_sg_mkldnn_fully_connected";

const CALIB_DOC: &str = "Calibrated float range of the quantized output.";

const CONV_PARAMS: [ParamSpec; 7] = [
    param("with_bn", "boolean", Some("False"), "Add post batchnorm."),
    param("with_act", "boolean", Some("False"), "Add post activation."),
    param("with_sum", "boolean", Some("False"), "Add post sum."),
    param(
        "with_postsum_act",
        "boolean",
        Some("False"),
        "Add post activation after sum.",
    ),
    param(
        "quantized",
        "boolean",
        Some("False"),
        "Enable quantization.",
    ),
    param("min_calib_range", "float or None", Some("None"), CALIB_DOC),
    param("max_calib_range", "float or None", Some("None"), CALIB_DOC),
];

const FC_PARAMS: [ParamSpec; 6] = [
    param(
        "quantized",
        "boolean",
        Some("False"),
        "Enable quantization.",
    ),
    param(
        "enable_float_output",
        "boolean",
        Some("False"),
        "Dequantize the output to float32 inside the op.",
    ),
    param(
        "with_eltwise",
        "boolean",
        Some("False"),
        "Add post elementwise activation.",
    ),
    param("min_calib_range", "float or None", Some("None"), CALIB_DOC),
    param("max_calib_range", "float or None", Some("None"), CALIB_DOC),
    param(
        "channel_wise_quantize",
        "boolean or None",
        Some("None"),
        "Weights quantized per output channel at run time.",
    ),
];

struct SgDef {
    name: &'static str,
    doc: &'static str,
    params: &'static [ParamSpec],
}

impl OpDef for SgDef {
    fn name(&self) -> &'static str {
        self.name
    }
    fn doc(&self) -> &str {
        self.doc
    }
    fn params(&self) -> &[ParamSpec] {
        self.params
    }
    fn inputs(&self) -> Inputs {
        Inputs::Dynamic
    }
    fn create(&self, _attrs: &[(String, String)]) -> Result<Arc<dyn Operator>> {
        Err(Error::Value(format!(
            "operator {}: the fused subgraph is missing; load the node from the JSON MXNet \
             wrote, with its \"subgraphs\"",
            self.name
        )))
    }
}

pub fn register(r: &mut Registry) {
    selfatt::register(r);
    r.add(SgDef {
        name: CONV,
        doc: "oneDNN-fused Convolution (with optional BatchNorm, activation and sum) written by \
              MXNet's get_backend_symbol('MKLDNN') / ('MKLDNN_QUANTIZE'); runs its subgraph, or \
              MXNet's INT8 arithmetic when quantized. Inference only; load it from JSON.",
        params: &CONV_PARAMS,
    });
    r.add(SgDef {
        name: FC,
        doc: "oneDNN-fused FullyConnected (with optional activation) written by MXNet's \
              get_backend_symbol('MKLDNN') / ('MKLDNN_QUANTIZE'); runs its subgraph, or MXNet's \
              INT8 arithmetic when quantized. Inference only; load it from JSON.",
        params: &FC_PARAMS,
    });
}

/// Attributes with MXNet's legacy names renamed as its parser does (`with_relu`).
fn renamed(op: &str, attrs: &[(String, String)]) -> Vec<(String, String)> {
    attrs
        .iter()
        .map(|(k, v)| {
            let k = match (op, k.as_str()) {
                (CONV, "with_relu") => "with_act",
                (CONV, "with_postsum_relu") => "with_postsum_act",
                (FC, "with_relu") => "with_eltwise",
                _ => k.as_str(),
            };
            (k.to_string(), v.clone())
        })
        .collect()
}

/// Configures a fused node from its attributes and its one subgraph.
pub fn create(
    op: &str,
    attrs: &[(String, String)],
    mut subgraphs: Vec<Symbol>,
) -> Result<Arc<dyn Operator>> {
    let (name, spec): (&'static str, &'static [ParamSpec]) = match op {
        CONV => (CONV, &CONV_PARAMS),
        _ => (FC, &FC_PARAMS),
    };
    if subgraphs.len() != 1 {
        return Err(Error::Value(format!(
            "operator {name} takes 1 subgraph, {} given",
            subgraphs.len()
        )));
    }
    let sym = subgraphs.remove(0);
    let attrs = renamed(name, attrs);
    let p = Params::new(name, spec, &attrs)?;
    let body = Arc::new(Body::new(sym.clone()));
    let layer = body_node(
        &body,
        if name == CONV {
            "Convolution"
        } else {
            "FullyConnected"
        },
    )
    .ok_or_else(|| {
        Error::Value(format!(
            "operator {name}: its subgraph has no {} node",
            if name == CONV {
                "Convolution"
            } else {
                "FullyConnected"
            }
        ))
    })?;
    let quantized = p.bool("quantized")?;
    let kind = if name == CONV {
        Kind::Conv(conv::Cfg::new(&p, &body, &layer)?)
    } else {
        Kind::Fc(fc::Cfg::new(&p, &body, &layer)?)
    };
    let base = kind.base_inputs();
    if body.inputs.len() != base.len() {
        return Err(Error::Value(format!(
            "operator {name}: its subgraph has {} inputs, its attributes call for {} ({})",
            body.inputs.len(),
            base.len(),
            base.join(", ")
        )));
    }
    let aux = aux_positions(&body);
    Ok(Arc::new(SgOp {
        name,
        kind: Arc::new(kind),
        body,
        subgraphs: vec![sym],
        quantized,
        aux,
    }))
}

/// The subgraph's first node running `op`.
fn body_node(body: &Body, op: &str) -> Option<Arc<Node>> {
    topo_order(&body.sym.outputs)
        .into_iter()
        .find(|n| n.op_name == op)
}

/// Positions of the subgraph's auxiliary states (BatchNorm's moving statistics) among its
/// inputs: the node lists them as its own auxiliary states, as MXNet does.
fn aux_positions(body: &Body) -> Vec<usize> {
    let aux = body.sym.list_auxiliary_states();
    body.inputs
        .iter()
        .enumerate()
        .filter(|(_, n)| aux.contains(&n.name))
        .map(|(i, _)| i)
        .collect()
}

enum Kind {
    Conv(conv::Cfg),
    Fc(fc::Cfg),
}

impl Kind {
    /// Names of the float layer's inputs (the subgraph's).
    fn base_inputs(&self) -> Vec<String> {
        match self {
            Kind::Conv(c) => c.base_inputs(),
            Kind::Fc(c) => c.base_inputs.clone(),
        }
    }
}

pub struct SgOp {
    name: &'static str,
    kind: Arc<Kind>,
    body: Arc<Body>,
    subgraphs: Vec<Symbol>,
    quantized: bool,
    aux: Vec<usize>,
}

impl SgOp {
    fn range_names(&self) -> Vec<String> {
        match &*self.kind {
            Kind::Conv(c) => c.range_inputs(),
            Kind::Fc(c) => c.range_inputs(),
        }
    }

    fn n_inputs(&self) -> usize {
        self.body.inputs.len()
            + if self.quantized {
                self.range_names().len()
            } else {
                0
            }
    }

    fn check_count(&self, n: usize) -> Result<()> {
        if n != self.n_inputs() {
            let names = self.input_names();
            return Err(Error::Value(format!(
                "operator {} takes {} inputs ({}), {n} given",
                self.name,
                names.len(),
                names.join(", ")
            )));
        }
        Ok(())
    }

    /// Quantized: the (1,) float32 range inputs after the layer's.
    fn check_ranges(&self, ins: &[Desc]) -> Result<()> {
        let nb = self.body.inputs.len();
        for (d, name) in ins[nb..].iter().zip(self.range_names()) {
            if d.shape.0 != [1] || d.dtype != DType::F32 {
                return Err(Error::shape(
                    self.name,
                    format!(
                        "{name} must be a float32 array of shape (1,), got {} {}",
                        d.dtype, d.shape
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Operator for SgOp {
    fn name(&self) -> &'static str {
        self.name
    }
    fn num_outputs(&self) -> usize {
        self.output_names().len()
    }
    fn output_names(&self) -> Vec<String> {
        let q = |a: &str, b: &str| vec!["output".to_string(), a.to_string(), b.to_string()];
        match &*self.kind {
            Kind::Conv(_) if self.quantized => q("output_min", "output_max"),
            Kind::Fc(c) if self.quantized && !c.float_output => q("min_output", "max_output"),
            _ => vec!["output".to_string()],
        }
    }
    fn input_names(&self) -> Vec<String> {
        let mut v = self.kind.base_inputs();
        if self.quantized {
            v.extend(self.range_names());
        }
        v
    }
    fn aux_inputs(&self) -> &[usize] {
        &self.aux
    }
    fn subgraphs(&self) -> &[Symbol] {
        &self.subgraphs
    }
    fn runs_at_push(&self) -> bool {
        // A float node pushes its subgraph's own ops; a quantized one is one engine op.
        !self.quantized
    }
    fn infer(&self, ins: &[Desc]) -> Result<Vec<Desc>> {
        self.check_count(ins.len())?;
        let nb = self.body.inputs.len();
        if !self.quantized {
            return self.body.infer(self.name, ins);
        }
        self.check_ranges(ins)?;
        let base: Vec<Desc> = match &*self.kind {
            Kind::Conv(c) => c.float_view(ins[..nb].to_vec()),
            Kind::Fc(c) => c.float_view(self.name, &ins[..nb])?,
        };
        let out = self.body.infer(self.name, &base)?.remove(0);
        let dt = match &*self.kind {
            Kind::Conv(c) => c.check_types(self.name, &ins[..nb])?,
            Kind::Fc(c) => c.out_dtype(),
        };
        let mut v = vec![Desc::new(out.shape, dt)];
        if self.num_outputs() == 3 {
            v.extend([range_desc(), range_desc()]);
        }
        Ok(v)
    }
    fn infer_shape_partial(
        &self,
        ins: &mut [Option<Shape>],
        outs: &mut [Option<Shape>],
    ) -> Result<()> {
        self.check_count(ins.len())?;
        let nb = self.body.inputs.len();
        let found = self.body.infer_shapes(self.name, &mut ins[..nb])?;
        if let (Some(o), Some(Some(s))) = (outs.first_mut(), found.into_iter().next()) {
            o.get_or_insert(s);
        }
        if self.quantized {
            for s in ins[nb..].iter_mut().chain(outs.iter_mut().skip(1)) {
                s.get_or_insert(Shape(vec![1]));
            }
        }
        Ok(())
    }
    fn infer_type_partial(
        &self,
        ins: &mut [Option<DType>],
        outs: &mut [Option<DType>],
    ) -> Result<()> {
        self.check_count(ins.len())?;
        if !self.quantized {
            let found = self.body.infer_types(self.name, ins)?;
            for (o, t) in outs.iter_mut().zip(found) {
                if o.is_none() {
                    *o = t;
                }
            }
            return Ok(());
        }
        let nb = self.body.inputs.len();
        match &*self.kind {
            Kind::Conv(c) => c.partial_types(&mut ins[..nb], outs),
            Kind::Fc(c) => c.partial_types(&mut ins[..nb], outs),
        }
        for t in ins[nb..].iter_mut() {
            t.get_or_insert(DType::F32);
        }
        for t in outs.iter_mut().skip(1) {
            t.get_or_insert(DType::F32);
        }
        Ok(())
    }
    fn forward(&self, _cx: &OpCtx, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
        if !self.quantized {
            // MXNet's fused op folds BatchNorm's moving statistics: always inference mode.
            let res = self.body.run(ins, false)?;
            for (r, o) in res.iter().zip(outs) {
                copy_into(r, o, None)?;
            }
            return Ok(());
        }
        match &*self.kind {
            Kind::Conv(c) => c.forward(ins, outs),
            Kind::Fc(c) => c.forward(ins, outs),
        }
    }
}
