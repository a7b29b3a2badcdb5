//! `_sg_mkldnn_selfatt_qk` and `_sg_mkldnn_selfatt_valatt`: MXNet 1.9.1's oneDNN self-attention
//! products, which `get_backend_symbol('MKLDNN')` puts in place of
//! `_contrib_interleaved_matmul_selfatt_qk` / `_valatt` (GluonNLP's BERT) and
//! `quantize_model_mkldnn` turns into INT8 (`quantized=True`, then `MKLDNN_QUANTIZE` fuses the
//! requantize or dequantize that follows into `min/max_calib_range` or `enable_float_output`).
//!
//! The float forms compute the contrib products (transformer.rs). The quantized forms take
//! int8 queries_keys_values (and uint8 attention for valatt) with their float ranges and
//! accumulate each head's product exactly in int32; one f32 factor then maps the accumulator
//! to the output: calibrated int8 levels (127.5 over the range) over the product of the input
//! scales (127.5 for the int8 projections, 255.5 for the uint8 attention), 1 over that product
//! for float32 output, or 1 for int32 output, whose range is the product range of the inputs.
//! The qk factor is also divided by sqrt(head_dim), in double as MXNet does; the result is
//! rounded half to even and saturated. Two MXNet quirks are kept: qk's int32 output (no
//! calibration, no float output) is still divided by sqrt(head_dim), and its range is that of a
//! product of zero ranges, (-0, 0) (MXNet passes the wrong variables). With both a calibrated
//! range and `enable_float_output`, the output is float32 (MXNet's type) at the float scale.
//!
//! MXNet registers only zero gradients for both (inference ops), as here. Nodes loaded from
//! MXNet's JSON keep their subgraph (the contrib op) for `tojson`; a node built through the
//! registry (`mx.nd`, `mx.sym`) has none.

use super::super::contrib::transformer::{
    selfatt_float_dtype, selfatt_forward, selfatt_plan, Plan, View,
};
use super::conv::quantize_scale;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::symbol::Symbol;
use crate::graph::{topo_order, Entry, GradBuilder};
use crate::kernels::cpu::gemm::Mat;
use crate::kernels::cpu::igemm::{igemm, IElem};
use crate::ndarray::NDArray;
use crate::op::params::{param, ParamSpec, Params};
use crate::op::quantization::common::{calib, check_ranges, range_desc, scalar, store, zero_grads};
use crate::op::quantization::range::{product_range, round_saturate, QType};
use crate::op::{Desc, GradArgs, Inputs, OpCtx, OpDef, Operator, Registry};
use crate::shape::Shape;
use std::sync::Arc;

pub const QK: &str = "_sg_mkldnn_selfatt_qk";
pub const VALATT: &str = "_sg_mkldnn_selfatt_valatt";

const CALIB_DOC: &str = "The minimum scalar value in the form of float32 obtained through \
                         calibration. If present, it will be used to by quantized \
                         InterleavedMatMul op to calculate primitive scale";

const PARAMS: [ParamSpec; 5] = [
    param("heads", "int", None, "Set number of heads"),
    param(
        "quantized",
        "boolean",
        Some("False"),
        "Whether it's a quantized InterleavedMatMul operator",
    ),
    param(
        "enable_float_output",
        "boolean",
        Some("False"),
        "Whether to enable float32 output",
    ),
    param("min_calib_range", "float or None", Some("None"), CALIB_DOC),
    param("max_calib_range", "float or None", Some("None"), CALIB_DOC),
];

const QK_INPUTS: [&str; 3] = ["queries_keys_values", "min_qkv", "max_qkv"];
const VALATT_INPUTS: [&str; 6] = [
    "queries_keys_values",
    "attention",
    "min_qkv",
    "max_qkv",
    "min_attention",
    "max_attention",
];

struct Def {
    qk: bool,
}

impl Def {
    fn name(&self) -> &'static str {
        if self.qk {
            QK
        } else {
            VALATT
        }
    }
}

impl OpDef for Def {
    fn name(&self) -> &'static str {
        Def::name(self)
    }
    fn doc(&self) -> &str {
        if self.qk {
            "oneDNN self-attention product of queries and keys (MXNet 1.9.1's fusion of \
             _contrib_interleaved_matmul_selfatt_qk): (seq, batch, heads*3*head_dim) interleaved \
             projections in, (batch*heads, seq, seq) scores q·kᵀ/sqrt(head_dim) out. With \
             quantized=True it takes int8 projections and their range (min_qkv, max_qkv) and \
             gives int8 (calibrated), float32 (enable_float_output) or int32 scores. \
             Inference only."
        } else {
            "oneDNN self-attention product of the attention weights and the values (MXNet \
             1.9.1's fusion of _contrib_interleaved_matmul_selfatt_valatt): interleaved \
             projections and (batch*heads, seq, seq) attention in, (seq, batch, heads*head_dim) \
             out. With quantized=True it takes int8 projections and uint8 attention with their \
             ranges and gives int8 (calibrated), float32 (enable_float_output) or int32 output. \
             Inference only."
        }
    }
    fn params(&self) -> &[ParamSpec] {
        &PARAMS
    }
    fn inputs(&self) -> Inputs {
        Inputs::Fixed(if self.qk { &QK_INPUTS } else { &VALATT_INPUTS })
    }
    fn create(&self, attrs: &[(String, String)]) -> Result<Arc<dyn Operator>> {
        Ok(Arc::new(SelfAtt::new(self.qk, attrs, Vec::new())?))
    }
}

pub fn register(r: &mut Registry) {
    r.add(Def { qk: true });
    r.add(Def { qk: false });
}

/// A node loaded from MXNet's JSON, with its subgraph (the contrib product it replaced).
pub fn create(
    op: &str,
    attrs: &[(String, String)],
    subgraphs: Vec<Symbol>,
) -> Result<Arc<dyn Operator>> {
    Ok(Arc::new(SelfAtt::new(op == QK, attrs, subgraphs)?))
}

pub struct SelfAtt {
    qk: bool,
    heads: usize,
    quantized: bool,
    float_output: bool,
    calib: Option<(f32, f32)>,
    subgraphs: Vec<Symbol>,
}

impl SelfAtt {
    fn new(qk: bool, attrs: &[(String, String)], subgraphs: Vec<Symbol>) -> Result<SelfAtt> {
        let name = if qk { QK } else { VALATT };
        let p = Params::new(name, &PARAMS, attrs)?;
        let heads = p.int("heads")?;
        let heads = usize::try_from(heads)
            .ok()
            .filter(|&h| h >= 1)
            .ok_or_else(|| {
                Error::param(
                    name,
                    format!("heads must be a positive number of attention heads, got {heads}"),
                )
            })?;
        let inner = if qk {
            "_contrib_interleaved_matmul_selfatt_qk"
        } else {
            "_contrib_interleaved_matmul_selfatt_valatt"
        };
        match subgraphs.as_slice() {
            [] => {}
            [g] if topo_order(&g.outputs).iter().any(|n| n.op_name == inner) => {}
            [_] => {
                return Err(Error::Value(format!(
                    "operator {name}: its subgraph has no {inner} node"
                )))
            }
            gs => {
                return Err(Error::Value(format!(
                    "operator {name} takes 1 subgraph, {} given",
                    gs.len()
                )))
            }
        }
        Ok(SelfAtt {
            qk,
            heads,
            quantized: p.bool("quantized")?,
            float_output: p.bool("enable_float_output")?,
            calib: calib(&p)?,
            subgraphs,
        })
    }

    fn base(&self) -> usize {
        if self.qk {
            1
        } else {
            2
        }
    }

    fn names(&self) -> &'static [&'static str] {
        if self.qk {
            &QK_INPUTS
        } else {
            &VALATT_INPUTS
        }
    }

    fn n_inputs(&self) -> usize {
        if self.quantized {
            self.names().len()
        } else {
            self.base()
        }
    }

    /// Output dtype of a quantized node.
    fn out_dtype(&self) -> DType {
        match self.calib {
            _ if self.float_output => DType::F32,
            Some(_) => DType::I8,
            None => DType::I32,
        }
    }

    /// The quantized inputs' dtypes: int8 projections, uint8 attention.
    fn quantized_dtypes(&self) -> &'static [DType] {
        if self.qk {
            &[DType::I8]
        } else {
            &[DType::I8, DType::U8]
        }
    }

    fn check_count(&self, n: usize) -> Result<()> {
        if n != self.n_inputs() {
            let names = &self.names()[..self.n_inputs()];
            return Err(Error::Value(format!(
                "operator {} takes {} inputs ({}){}, {n} given",
                self.name(),
                names.len(),
                names.join(", "),
                if self.quantized {
                    " with quantized=True"
                } else {
                    ""
                }
            )));
        }
        Ok(())
    }

    fn plan(&self, shapes: &[&Shape]) -> Result<(Plan, Shape)> {
        selfatt_plan(self.name(), self.qk, self.heads, &shapes[..self.base()])
    }

    /// The f32 factor mapping the int32 accumulator to the output.
    fn requant_scale(&self, ins: &[NDArray], p: &Plan) -> f32 {
        let nb = self.base();
        let q = quantize_scale(DType::I8, scalar(&ins[nb]), scalar(&ins[nb + 1]));
        let inputs = if self.qk {
            q * q
        } else {
            q * quantize_scale(DType::U8, scalar(&ins[nb + 2]), scalar(&ins[nb + 3]))
        };
        let s = match self.calib {
            _ if self.float_output => 1.0 / inputs,
            Some((lo, hi)) => quantize_scale(DType::I8, lo, hi) / inputs,
            None => 1.0,
        };
        if self.qk {
            // MXNet divides by sqrt(float(head_dim)) promoted to double.
            (s as f64 / (p.d as f32 as f64).sqrt()) as f32
        } else {
            s
        }
    }

    /// Range of an int32 output: MXNet's product range of the inputs' ranges (for qk, of two
    /// zero ranges).
    fn int32_range(&self, ins: &[NDArray]) -> (f32, f32) {
        if self.qk {
            return product_range((0.0, 0.0), QType::I8, (0.0, 0.0), QType::I8);
        }
        let qkv = (scalar(&ins[2]), scalar(&ins[3]));
        let att = (scalar(&ins[4]), scalar(&ins[5]));
        product_range(qkv, QType::I8, att, QType::U8)
    }

    fn forward_quantized(&self, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
        let shapes: Vec<&Shape> = ins.iter().map(|a| a.shape()).collect();
        let (p, out_shape) = self.plan(&shapes)?;
        let mut acc = vec![0i32; out_shape.size()];
        // SAFETY: inside the op reading `ins`; `infer` checked the dtypes and `plan` the
        // shapes against these views; `acc` has the output's size.
        unsafe {
            if self.qk {
                let qkv = ins[0].data::<i8>().as_ptr();
                let (vq, vk) = (View::slot(&p, 3, 0), View::slot(&p, 3, 1));
                let vo = View::dense(p.lq, p.lk);
                batched(&p, (p.lq, p.lk, p.d), qkv, vq, qkv, vk.t(), &mut acc, vo);
            } else {
                let att = ins[1].data::<u8>().as_ptr();
                let v = ins[0].data::<i8>().as_ptr();
                let (va, vv) = (View::dense(p.lq, p.lk), View::slot(&p, 3, 2));
                let vo = View::slot(&p, 1, 0);
                batched(&p, (p.lq, p.d, p.lk), att, va, v, vv, &mut acc, vo);
            }
        }
        let s = self.requant_scale(ins, &p);
        let q = match outs[0].dtype() {
            DType::I8 => Some(QType::I8),
            DType::I32 => Some(QType::I32),
            _ => None,
        };
        let res: Vec<f32> = acc
            .iter()
            .map(|&a| {
                let v = a as f32 * s;
                q.map_or(v, |q| round_saturate(v, q))
            })
            .collect();
        store(&outs[0], &res);
        if outs.len() == 3 {
            let (lo, hi) = self.calib.unwrap_or_else(|| self.int32_range(ins));
            store(&outs[1], &[lo]);
            store(&outs[2], &[hi]);
        }
        Ok(())
    }
}

/// `c[i] = a[i] · b[i]` in int32 over the plan's batch*heads items (a m×k, b k×n, strided
/// views), each written at the view `vc` of `c` (unit column stride).
///
/// # Safety
/// Every item of the views lies inside the arrays behind `a` and `b`, and inside `c`.
#[allow(clippy::too_many_arguments)]
unsafe fn batched<A: IElem, B: IElem>(
    p: &Plan,
    (m, n, k): (usize, usize, usize),
    a: *const A,
    va: View,
    b: *const B,
    vb: View,
    c: &mut [i32],
    vc: View,
) {
    for i in 0..p.bh {
        let ma = Mat {
            ptr: a.add(va.off + i * va.bs),
            rs: va.rs as isize,
            cs: va.cs as isize,
        };
        let mb = Mat {
            ptr: b.add(vb.off + i * vb.bs),
            rs: vb.rs as isize,
            cs: vb.cs as isize,
        };
        igemm(
            m,
            n,
            k,
            ma,
            mb,
            c.as_mut_ptr().add(vc.off + i * vc.bs),
            vc.rs,
        );
    }
}

impl Operator for SelfAtt {
    fn name(&self) -> &'static str {
        if self.qk {
            QK
        } else {
            VALATT
        }
    }
    fn num_outputs(&self) -> usize {
        if self.quantized && !self.float_output {
            3
        } else {
            1
        }
    }
    fn output_names(&self) -> Vec<String> {
        ["output", "min_output", "max_output"][..self.num_outputs()]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    fn num_inputs(&self) -> Option<usize> {
        Some(self.n_inputs())
    }
    fn subgraphs(&self) -> &[Symbol] {
        &self.subgraphs
    }
    fn infer(&self, ins: &[Desc]) -> Result<Vec<Desc>> {
        self.check_count(ins.len())?;
        let shapes: Vec<&Shape> = ins.iter().map(|d| &d.shape).collect();
        if !self.quantized {
            let dt = selfatt_float_dtype(self.name(), ins)?;
            let (_, out) = self.plan(&shapes)?;
            return Ok(vec![Desc::new(out, dt)]);
        }
        let names = self.names();
        for ((d, want), name) in ins.iter().zip(self.quantized_dtypes()).zip(names) {
            if d.dtype != *want {
                return Err(Error::dtype(
                    self.name(),
                    format!(
                        "quantized {name} must be {want}, got {} (shape {})",
                        d.dtype, d.shape
                    ),
                ));
            }
        }
        let nb = self.base();
        let ranges: Vec<(usize, &str)> = (nb..ins.len()).map(|i| (i, names[i])).collect();
        check_ranges(self.name(), ins, &ranges)?;
        let (_, out) = self.plan(&shapes)?;
        let mut v = vec![Desc::new(out, self.out_dtype())];
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
        if self.quantized {
            let nb = self.base();
            for s in ins.iter_mut().skip(nb).chain(outs.iter_mut().skip(1)) {
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
        if !self.quantized {
            return crate::op::unify_types(self.name(), ins, outs);
        }
        let fixed = self
            .quantized_dtypes()
            .iter()
            .copied()
            .chain(std::iter::repeat(DType::F32));
        for ((t, want), name) in ins.iter_mut().zip(fixed).zip(self.names()) {
            match t {
                Some(x) if *x != want => {
                    return Err(Error::dtype(
                        self.name(),
                        format!("quantized {name} must be {want}, got {x}"),
                    ))
                }
                _ => *t = Some(want),
            }
        }
        let out = [self.out_dtype(), DType::F32, DType::F32];
        for (t, want) in outs.iter_mut().zip(out) {
            t.get_or_insert(want);
        }
        Ok(())
    }
    fn forward(&self, cx: &OpCtx, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
        if self.quantized {
            self.forward_quantized(ins, outs)
        } else {
            selfatt_forward(cx, self.name(), self.qk, self.heads, ins, outs)
        }
    }
    fn gradient(&self, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
        zero_grads(g, a)
    }
}
