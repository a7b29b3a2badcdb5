//! Quantized `_sg_mkldnn_fully_connected`: MXNet 1.9.1's `SgMKLDNNFCOp` arithmetic, with weights
//! and bias quantized ahead (int8, each with its float range, as `quantize_model_mkldnn` writes
//! them) or, with `channel_wise_quantize=True` (`quantize_granularity='channel-wise'`), float
//! weights and bias quantized per output channel inside the op.
//!
//! Channel-wise: the scales are `_sg_mkldnn_conv`'s (`conv::channel_scales`, the same
//! `GetWeightScales`), the weights and the bias (at data_scale · weight_scale) are rounded half
//! to even, and each channel's int32 accumulator plus bias is scaled by its own factor: to the
//! calibrated range's levels, or to float32 with `enable_float_output`. MXNet refuses to run
//! such a node with neither (its int32 output would need one scale for all channels).
//!
//! The int8 bias is rescaled into the product's int32 levels by data_scale · weight_scale /
//! bias_scale (capped at INT_MAX / 2, in which case the weights are rescaled too, as MXNet
//! does) and rounded half away from zero. The int32 accumulator plus bias is scaled in f32:
//! by 1 / (data_scale · weight_scale) for float output, to the calibrated range's levels for
//! int8/uint8 output, not at all for int32 output; then oneDNN's rounding half to even with
//! saturation. A fused eltwise (`Cfg::scales`) sees real values when the output is float or
//! calibrated, the calibrated levels applying after it, and the raw sums for int32 output.

use super::conv::{channel_scales, quantize_bias, quantize_rows, quantize_scale};
use super::eltwise::{post_ops, Eltwise, Layer};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::Node;
use crate::ndarray::NDArray;
use crate::op::control_flow::body::Body;
use crate::op::params::{parse_int, Params};
use crate::op::quantization::common::{load, qtype, scalar, store, store_with};
use crate::op::quantization::fully_connected::product;
use crate::op::quantization::range::{product_range, real_range, round_saturate, QType};
use crate::op::Desc;

const OP: &str = super::FC;

/// oneDNN saturates f32 to int32 at the largest float below 2^31, 2^31 - 128.
const ONEDNN_S32_MAX: f32 = 2_147_483_520.0;

pub(crate) struct Cfg {
    pub(crate) base_inputs: Vec<String>,
    num_hidden: usize,
    no_bias: bool,
    flatten: bool,
    pub(crate) float_output: bool,
    /// Float weight and bias, quantized per output channel at run time.
    channel_wise: bool,
    eltwise: Option<Eltwise>,
    calib: Option<(f32, f32)>,
}

fn attr_bool(n: &Node, key: &str, default: bool) -> Result<bool> {
    match n.attr(key).as_deref().map(str::trim) {
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
        let channel_wise =
            quantized && p.is_set("channel_wise_quantize") && p.bool("channel_wise_quantize")?;
        let num_hidden = layer
            .attr("num_hidden")
            .as_deref()
            .and_then(parse_int)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| {
                Error::param(
                    OP,
                    format!("{}: num_hidden is missing or invalid", layer.name),
                )
            })?;
        // MXNet's parser rejects an eltwise it has no oneDNN algorithm for, float or not.
        let ops = post_ops(OP, Layer::Fc, body, &["FullyConnected"])?;
        let eltwise = if quantized && p.bool("with_eltwise")? {
            ops.first().copied()
        } else {
            None
        };
        Ok(Cfg {
            base_inputs: body.inputs.iter().map(|n| n.name.clone()).collect(),
            num_hidden,
            no_bias: attr_bool(layer, "no_bias", false)?,
            flatten: attr_bool(layer, "flatten", true)?,
            float_output: p.bool("enable_float_output")?,
            channel_wise,
            eltwise,
            calib: crate::op::quantization::common::calib(p)?,
        })
    }

    pub(crate) fn range_inputs(&self) -> Vec<String> {
        let mut v = vec!["min_data", "max_data"];
        if !self.channel_wise {
            v.extend(["min_weight", "max_weight"]);
        }
        if !self.no_bias && !self.channel_wise {
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
        let (want, how) = if self.channel_wise {
            (DType::F32, "float32 (quantized per channel in the op)")
        } else {
            (DType::I8, "int8 (quantized ahead)")
        };
        for (d, name) in ins.iter().zip(&self.base_inputs).skip(1) {
            if d.dtype != want {
                return Err(Error::dtype(
                    op,
                    format!("{name} must be {how}, got {}", d.dtype),
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
            Some(_) if self.eltwise.is_some_and(Eltwise::fc_uint8) => DType::U8,
            Some(_) => DType::I8,
            None => DType::I32,
        }
    }

    pub(crate) fn partial_types(&self, ins: &mut [Option<DType>], outs: &mut [Option<DType>]) {
        let want = if self.channel_wise {
            DType::F32
        } else {
            DType::I8
        };
        for t in ins.iter_mut().skip(1) {
            t.get_or_insert(want);
        }
        if let Some(o) = outs.first_mut() {
            o.get_or_insert(self.out_dtype());
        }
    }

    /// MXNet's output scales for a data scale `ds`: the sum plus bias is multiplied by
    /// `tmp / weight_scale` (no scaling where `tmp` is None: int32 output), the eltwise applied,
    /// then the result multiplied by `post`. With an eltwise and a calibrated range, MXNet
    /// dequantizes ahead of the eltwise and makes the range's levels the post-op's scale, so
    /// the eltwise sees real values; without a range it sees the raw int32 sums.
    ///
    /// `enable_float_output` ignores a calibrated range (MXNet's partitioner never writes both;
    /// MXNet 1.9.1 would then scale the float output by 255.5 / range).
    fn scales(&self, out: DType, ds: f32) -> (Option<f32>, f32) {
        match (self.float_output, self.calib) {
            (true, _) => (Some(1.0 / ds), 1.0),
            (false, Some((lo, hi))) => {
                let os = quantize_scale(out, lo, hi);
                match self.eltwise {
                    Some(_) => (Some(1.0 / ds), os),
                    None => (Some(os / ds), 1.0),
                }
            }
            (false, None) => (None, 1.0),
        }
    }

    /// The eltwise, the post-op's scale and oneDNN's rounding with saturation on one scaled
    /// value.
    fn finish(&self, mut v: f32, post: f32, out_q: Option<QType>) -> f32 {
        if let Some(e) = self.eltwise {
            // Multiplying by 1 is exact: no branch for the post scale.
            v = e.apply(v) * post;
            if out_q == Some(QType::I32) && v > ONEDNN_S32_MAX {
                // An eltwise can pass the int32 range (exp or square of raw sums).
                v = ONEDNN_S32_MAX;
            }
        }
        match out_q {
            Some(q) => round_saturate(v, q),
            None => v,
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
        if self.channel_wise {
            return self.forward_channel_wise(ins, outs, (m, n, k), (dmin, dmax));
        }
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
        let (tmp, post) = self.scales(outs[0].dtype(), ds);
        let scale = tmp.map(|t| t / ws);
        store_with(&outs[0], |i| {
            let mut v = acc[i] as f32;
            if let Some(b) = &bias {
                v += b[i % n];
            }
            if let Some(s) = scale {
                v *= s;
            }
            self.finish(v, post, out_q)
        });
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

    /// `forward` with float weight and bias quantized per output channel.
    fn forward_channel_wise(
        &self,
        ins: &[NDArray],
        outs: &[NDArray],
        (m, n, k): (usize, usize, usize),
        (dmin, dmax): (f32, f32),
    ) -> Result<()> {
        let data = &ins[0];
        let ds = quantize_scale(data.dtype(), dmin, dmax);
        let (tmp, post) = match self.scales(outs[0].dtype(), ds) {
            (Some(t), post) => (t, post),
            (None, _) => {
                return Err(Error::Value(format!(
                    "operator {OP}: channel_wise_quantize=True needs min_calib_range and \
                     max_calib_range (calibration) or enable_float_output=True; MXNet 1.9.1 \
                     refuses to run it without either"
                )))
            }
        };
        let w = load(&ins[1]);
        if w.len() != n * k {
            return Err(Error::shape(
                OP,
                format!("weight has {} elements, ({n}, {k}) expected", w.len()),
            ));
        }
        let bias = (!self.no_bias).then(|| load(&ins[2]));
        if let Some(b) = bias.as_ref().filter(|b| b.len() != n) {
            return Err(Error::shape(
                OP,
                format!("bias has {} elements, ({n},) expected", b.len()),
            ));
        }
        let scales = channel_scales(&w, n, bias.as_deref(), ds);
        let wq = quantize_rows(&w, &scales);
        let bq = bias.map(|b| quantize_bias(&b, &scales, ds));
        let requant: Vec<f32> = scales.iter().map(|&s| tmp / s).collect();
        let mut acc = vec![0i32; m * n];
        // SAFETY: inside the op reading `ins`; `infer` checked the data's shape and dtype.
        unsafe {
            match data.dtype() {
                DType::U8 => product(m, n, k, data.data::<u8>(), &wq, &mut acc),
                _ => product(m, n, k, data.data::<i8>(), &wq, &mut acc),
            }
        }
        let out_q = qtype(outs[0].dtype());
        store_with(&outs[0], |i| {
            let a = acc[i];
            let c = i % n.max(1);
            let mut v = a as f32;
            if let Some(b) = &bq {
                v += b[c];
            }
            v *= requant[c];
            self.finish(v, post, out_q)
        });
        if let (Some((lo, hi)), 3) = (self.calib, outs.len()) {
            store(&outs[1], &[lo]);
            store(&outs[2], &[hi]);
        }
        Ok(())
    }
}
