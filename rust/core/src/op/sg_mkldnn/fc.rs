//! Quantized `_sg_mkldnn_fully_connected`: MXNet 1.9.1's `SgMKLDNNFCOp` arithmetic with weights
//! and bias quantized ahead (int8, each with its float range, as `quantize_model_mkldnn` writes
//! them).
//!
//! The int8 bias is rescaled into the product's int32 levels by data_scale · weight_scale /
//! bias_scale (capped at INT_MAX / 2, in which case the weights are rescaled too, as MXNet
//! does) and rounded half away from zero. The int32 accumulator plus bias is scaled in f32:
//! by 1 / (data_scale · weight_scale) for float output, to the calibrated range's levels for
//! int8/uint8 output, not at all for int32 output; the activation applies, then oneDNN's
//! rounding half to even with saturation.

use super::conv::quantize_scale;
use super::{activations, Act};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::Node;
use crate::ndarray::NDArray;
use crate::op::control_flow::body::Body;
use crate::op::params::{parse_int, Params};
use crate::op::quantization::common::{load, qtype, scalar, store};
use crate::op::quantization::fully_connected::product;
use crate::op::quantization::range::{product_range, real_range, round_saturate, QType};
use crate::op::Desc;

const OP: &str = super::FC;

pub(crate) struct Cfg {
    pub(crate) base_inputs: Vec<String>,
    num_hidden: usize,
    no_bias: bool,
    flatten: bool,
    pub(crate) float_output: bool,
    act: Option<Act>,
    calib: Option<(f32, f32)>,
}

fn attr_bool(n: &Node, key: &str, default: bool) -> Result<bool> {
    match n.attr(key).map(str::trim) {
        None => Ok(default),
        Some("True" | "true" | "1") => Ok(true),
        Some("False" | "false" | "0") => Ok(false),
        Some(v) => Err(Error::param(
            OP,
            format!("{}: {key}={v:?} is not a boolean", n.name),
        )),
    }
}

impl Cfg {
    pub(crate) fn new(p: &Params, body: &Body, layer: &Node) -> Result<Cfg> {
        let quantized = p.bool("quantized")?;
        if quantized && p.is_set("channel_wise_quantize") && p.bool("channel_wise_quantize")? {
            return Err(Error::NotImplemented(format!(
                "operator {OP}: channel_wise_quantize=True (float weights quantized at run \
                 time) is not supported"
            )));
        }
        let num_hidden = layer
            .attr("num_hidden")
            .and_then(parse_int)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| {
                Error::param(
                    OP,
                    format!("{}: num_hidden is missing or invalid", layer.name),
                )
            })?;
        let act = if quantized && p.bool("with_eltwise")? {
            activations(OP, body)?.first().copied()
        } else {
            None
        };
        Ok(Cfg {
            base_inputs: body.inputs.iter().map(|n| n.name.clone()).collect(),
            num_hidden,
            no_bias: attr_bool(layer, "no_bias", false)?,
            flatten: attr_bool(layer, "flatten", true)?,
            float_output: p.bool("enable_float_output")?,
            act,
            calib: crate::op::quantization::common::calib(p)?,
        })
    }

    pub(crate) fn range_inputs(&self) -> Vec<String> {
        let mut v = vec!["min_data", "max_data", "min_weight", "max_weight"];
        if !self.no_bias {
            v.extend(["min_bias", "max_bias"]);
        }
        v.into_iter().map(String::from).collect()
    }

    /// The inputs as the float subgraph sees them, after checking the quantized dtypes.
    pub(crate) fn float_view(&self, op: &str, ins: &[Desc]) -> Result<Vec<Desc>> {
        if !matches!(ins[0].dtype, DType::I8 | DType::U8) {
            return Err(Error::dtype(
                op,
                format!("quantized data must be int8 or uint8, got {}", ins[0].dtype),
            ));
        }
        for (d, name) in ins.iter().zip(&self.base_inputs).skip(1) {
            if d.dtype != DType::I8 {
                return Err(Error::dtype(
                    op,
                    format!("{name} must be int8 (quantized ahead), got {}", d.dtype),
                ));
            }
        }
        Ok(ins
            .iter()
            .map(|d| Desc::new(d.shape.clone(), DType::F32))
            .collect())
    }

    pub(crate) fn out_dtype(&self) -> DType {
        match self.calib {
            _ if self.float_output => DType::F32,
            Some(_) if self.act.is_some_and(Act::non_negative) => DType::U8,
            Some(_) => DType::I8,
            None => DType::I32,
        }
    }

    pub(crate) fn partial_types(&self, ins: &mut [Option<DType>], outs: &mut [Option<DType>]) {
        for t in ins.iter_mut().skip(1) {
            t.get_or_insert(DType::I8);
        }
        if let Some(o) = outs.first_mut() {
            o.get_or_insert(self.out_dtype());
        }
    }

    pub(crate) fn forward(&self, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
        let nb = self.base_inputs.len();
        let data = &ins[0];
        let d = data.shape();
        let (m, k) = match (self.flatten, d.ndim()) {
            (_, 0) => return Err(Error::shape(OP, "data must have at least one dimension")),
            (true, _) => (d[0], d.0[1..].iter().product()),
            (false, nd) => (d.0[..nd - 1].iter().product(), d[nd - 1]),
        };
        let n = self.num_hidden;
        let (dmin, dmax) = (scalar(&ins[nb]), scalar(&ins[nb + 1]));
        let (wmin, wmax) = (scalar(&ins[nb + 2]), scalar(&ins[nb + 3]));
        let ds = quantize_scale(data.dtype(), dmin, dmax);
        let mut ws = quantize_scale(DType::I8, wmin, wmax);
        let mut wq: Vec<i8> = load(&ins[1]).iter().map(|&v| v as i8).collect();
        if wq.len() != n * k {
            return Err(Error::shape(
                OP,
                format!("weight has {} elements, ({n}, {k}) expected", wq.len()),
            ));
        }
        let bias: Option<Vec<f32>> = if self.no_bias {
            None
        } else {
            let (bmin, bmax) = (scalar(&ins[nb + 4]), scalar(&ins[nb + 5]));
            let bs = quantize_scale(DType::I8, bmin, bmax);
            let mut rescale = ds * ws / bs;
            let cap = (i32::MAX / 2) as f32 / real_range(bmin, bmax) / bs;
            if rescale > cap {
                // MXNet rescales the int8 weights so that the bias fits, rounding half away.
                rescale = cap;
                let wr = rescale * bs / ds / ws;
                wq.iter_mut()
                    .for_each(|v| *v = (*v as f32 * wr).round().clamp(-128.0, 127.0) as i8);
                ws *= wr;
            }
            Some(
                load(&ins[2])
                    .iter()
                    .map(|&b| (b * rescale).round() as i32 as f32)
                    .collect(),
            )
        };
        let mut acc = vec![0i32; m * n];
        // SAFETY: inside the op reading `ins`; `infer` checked the shapes and dtypes.
        unsafe {
            match data.dtype() {
                DType::U8 => product(m, n, k, data.data::<u8>(), &wq, &mut acc),
                _ => product(m, n, k, data.data::<i8>(), &wq, &mut acc),
            }
        }
        let out_q = qtype(outs[0].dtype());
        let scale = match (self.float_output, self.calib) {
            (true, _) => Some(1.0 / ds / ws),
            (false, Some((lo, hi))) => Some(quantize_scale(outs[0].dtype(), lo, hi) / ds / ws),
            (false, None) => None,
        };
        let res: Vec<f32> = acc
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let mut v = a as f32;
                if let Some(b) = &bias {
                    v += b[i % n];
                }
                if let Some(s) = scale {
                    v *= s;
                }
                if let Some(act) = self.act {
                    v = act.apply(v);
                }
                match out_q {
                    Some(q) => round_saturate(v, q),
                    None => v,
                }
            })
            .collect();
        store(&outs[0], &res);
        if outs.len() == 3 {
            let range = match self.calib {
                Some(r) => r,
                None => {
                    let qd = qtype(data.dtype()).unwrap_or(QType::I8);
                    product_range((dmin, dmax), qd, (wmin, wmax), QType::I8)
                }
            };
            store(&outs[1], &[range.0]);
            store(&outs[2], &[range.1]);
        }
        Ok(())
    }
}
