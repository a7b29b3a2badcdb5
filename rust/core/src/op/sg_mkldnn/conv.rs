//! Quantized `_sg_mkldnn_conv`: MXNet 1.9.1's `SgMKLDNNConvOperator` arithmetic.
//!
//! BatchNorm is folded into the float weight and bias; the weights are quantized to int8 per
//! output channel when the node has a calibrated output range (per tensor otherwise) with
//! 127.5 levels over their largest magnitude, rounded half to even; the bias becomes int32 at
//! the data scale times the weight scale. The int32 accumulator plus bias is scaled in f32 to
//! the output's levels (uint8 after relu/sigmoid/softrelu/clip without sum, else int8; int32
//! without calibration), the activation, the sum operand (scaled by output_scale / sum_scale)
//! and the post-sum activation are applied in that order, and the result is rounded half to
//! even and saturated, as oneDNN's post-ops do.
//!
//! Unlike the fused FullyConnected, the activation sees the output's levels, not real values:
//! right for relu and leaky relu, which commute with the scale, but a gelu or elu is then
//! evaluated at the wrong point. MXNet 1.9.1 computes that, and so does this op.

use super::eltwise::{post_ops, Eltwise, Layer};
use crate::dtype::DType;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::graph::Node;
use crate::kernels::cpu::conv::forward_int8_each;
use crate::kernels::cpu::elemwise::map_slice;
use crate::kernels::cpu::Ptr;
use crate::ndarray::NDArray;
use crate::op::control_flow::body::Body;
use crate::op::nn::convolution::{shared_params, Cfg as ConvCfg};
use crate::op::params::{parse_float, Params};
use crate::op::quantization::common::{load, qtype, scalar, store};
use crate::op::quantization::range::{
    product_range, real_range, round_saturate, round_saturate_for, QType,
};
use crate::op::Desc;
use crate::with_dtype;

const OP: &str = super::CONV;

pub(crate) struct Cfg {
    conv: ConvCfg,
    /// BatchNorm's (eps, fix_gamma).
    bn: Option<(f32, bool)>,
    act: Option<Eltwise>,
    with_sum: bool,
    postsum_act: Option<Eltwise>,
    calib: Option<(f32, f32)>,
}

/// MXNet's `GetQuantizeScale`: levels per unit of a range (127.5 for int8, 255.5 for any other
/// type); a zero range gives `INT_MAX` instead of infinity.
pub(crate) fn quantize_scale(dt: DType, lo: f32, hi: f32) -> f32 {
    let r = real_range(lo, hi);
    let levels = if dt == DType::I8 { 127.5 } else { 255.5 };
    if r == 0.0 {
        i32::MAX as f32
    } else {
        levels / r
    }
}

fn min_max(v: &[f32]) -> (f32, f32) {
    v.iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// MXNet's `GetWeightScales` per channel: each of the `f` rows of `w` gets its own int8 scale,
/// capped where the row's bias would pass ±INT_MAX / 2 once scaled by data_scale · scale
/// (oneDNN mishandles biases near INT_MAX).
pub(crate) fn channel_scales(w: &[f32], f: usize, bias: Option<&[f32]>, ds: f32) -> Vec<f32> {
    let k = w.len() / f.max(1);
    (0..f)
        .map(|c| {
            let (lo, hi) = min_max(&w[c * k..(c + 1) * k]);
            let mut s = quantize_scale(DType::I8, lo, hi);
            if let Some(b) = bias.and_then(|b| b.get(c)).copied().filter(|&b| b != 0.0) {
                let lim = if b > 0.0 {
                    i32::MAX as f32
                } else {
                    i32::MIN as f32
                };
                s = s.min(lim / 2.0 / b / ds);
            }
            s
        })
        .collect()
}

/// The rows of `w` quantized to int8 at their channel's scale, as oneDNN's weight reorder
/// does (half to even, saturated).
pub(crate) fn quantize_rows(w: &[f32], scales: &[f32]) -> Vec<i8> {
    let k = (w.len() / scales.len().max(1)).max(1);
    w.iter()
        .enumerate()
        .map(|(i, &v)| round_saturate(v * scales[i / k], QType::I8) as i8)
        .collect()
}

/// The float bias in the product's int32 levels: data_scale · weight_scale per channel.
pub(crate) fn quantize_bias(b: &[f32], scales: &[f32], ds: f32) -> Vec<f32> {
    b.iter()
        .zip(scales)
        .map(|(&b, &s)| round_saturate(b * (s * ds), QType::I32))
        .collect()
}

fn parse_attr<T>(n: &Node, key: &str, default: T, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
    match n.attr(key) {
        None => Ok(default),
        Some(v) => parse(&v)
            .ok_or_else(|| Error::param(OP, format!("{}: {key}={v:?} cannot be parsed", n.name))),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "True" | "true" | "1" => Some(true),
        "False" | "false" | "0" => Some(false),
        _ => None,
    }
}

impl Cfg {
    pub(crate) fn new(p: &Params, body: &Body, layer: &Node) -> Result<Cfg> {
        let spec = shared_params(false);
        let attrs = layer.attrs();
        let cp = Params::new("Convolution", &spec, &attrs)?;
        let conv = ConvCfg::parse("Convolution", &cp)?;
        let bn = if p.bool("with_bn")? {
            let n = super::body_node(body, "BatchNorm").ok_or_else(|| {
                Error::Value(format!(
                    "operator {OP}: with_bn is set but the subgraph has no BatchNorm"
                ))
            })?;
            let eps = parse_attr(&n, "eps", 1e-3, |v| parse_float(v).map(|f| f as f32))?;
            Some((eps, parse_attr(&n, "fix_gamma", true, parse_bool)?))
        } else {
            None
        };
        let quantized = p.bool("quantized")?;
        let (with_act, with_post) = (p.bool("with_act")?, p.bool("with_postsum_act")?);
        // MXNet's parser rejects an activation it has no oneDNN algorithm for, float or not.
        let skip = ["Convolution", "BatchNorm", "elemwise_add", "_npi_add"];
        let acts = post_ops(OP, Layer::Conv, body, &skip)?;
        let act = if with_act {
            acts.first().copied()
        } else {
            None
        };
        let postsum_act = if with_post {
            acts.last().copied()
        } else {
            None
        };
        if quantized && (with_act && act.is_none() || with_post && postsum_act.is_none()) {
            return Err(Error::Value(format!(
                "operator {OP}: with_act/with_postsum_act is set but the subgraph has no activation"
            )));
        }
        if let Some(a) = postsum_act.filter(|a| quantized && !matches!(a, Eltwise::Relu(_))) {
            // MXNet 1.9.1 CHECK-fails on anything else when the node runs.
            return Err(Error::param(
                OP,
                format!(
                    "a quantized node takes only relu (Activation relu, LeakyReLU leaky) after \
                     the sum, not {} (with_postsum_act)",
                    a.name()
                ),
            ));
        }
        Ok(Cfg {
            conv,
            bn,
            act,
            with_sum: p.bool("with_sum")?,
            postsum_act,
            calib: crate::op::quantization::common::calib(p)?,
        })
    }

    pub(crate) fn base_inputs(&self) -> Vec<String> {
        let mut v = vec!["data", "weight"];
        if !self.conv.no_bias {
            v.push("bias");
        }
        if self.bn.is_some() {
            v.extend(["gamma", "beta", "mean", "var"]);
        }
        if self.with_sum {
            v.push("sum");
        }
        v.into_iter().map(String::from).collect()
    }

    pub(crate) fn range_inputs(&self) -> Vec<String> {
        let mut v = vec!["data_min", "data_max"];
        if self.with_sum {
            v.extend(["sum_min", "sum_max"]);
        }
        v.into_iter().map(String::from).collect()
    }

    fn sum_index(&self) -> usize {
        2 + usize::from(!self.conv.no_bias) + if self.bn.is_some() { 4 } else { 0 }
    }

    /// The inputs as the float subgraph sees them (quantized data and sum read as float32).
    pub(crate) fn float_view(&self, mut ins: Vec<Desc>) -> Vec<Desc> {
        ins[0].dtype = DType::F32;
        if self.with_sum {
            let s = self.sum_index();
            ins[s].dtype = DType::F32;
        }
        ins
    }

    /// MXNet's `IsOutputUInt8`.
    fn out_uint8(&self) -> bool {
        match (self.with_sum, self.act, self.postsum_act) {
            (false, Some(a), _) => a.conv_uint8(),
            (_, _, Some(a)) => a.conv_uint8(),
            _ => false,
        }
    }

    fn out_dtype(&self) -> DType {
        match self.calib {
            Some(_) if self.out_uint8() => DType::U8,
            Some(_) => DType::I8,
            None => DType::I32,
        }
    }

    /// Checks the quantized inputs' dtypes and gives the output's.
    pub(crate) fn check_types(&self, op: &str, ins: &[Desc]) -> Result<DType> {
        if !matches!(ins[0].dtype, DType::I8 | DType::U8) {
            return Err(Error::dtype(
                op,
                format!("quantized data must be int8 or uint8, got {}", ins[0].dtype),
            ));
        }
        let names = self.base_inputs();
        for (i, (d, name)) in ins.iter().zip(&names).enumerate().skip(1) {
            let ok = if self.with_sum && i == self.sum_index() {
                matches!(d.dtype, DType::I8 | DType::U8 | DType::I32)
            } else {
                d.dtype == DType::F32
            };
            if !ok {
                return Err(Error::dtype(
                    op,
                    format!(
                        "{name} has dtype {}, which the quantized op does not take",
                        d.dtype
                    ),
                ));
            }
        }
        Ok(self.out_dtype())
    }

    pub(crate) fn partial_types(&self, ins: &mut [Option<DType>], outs: &mut [Option<DType>]) {
        let s = self.sum_index();
        for (i, t) in ins.iter_mut().enumerate().skip(1) {
            if !(self.with_sum && i == s) {
                t.get_or_insert(DType::F32);
            }
        }
        if let Some(o) = outs.first_mut() {
            o.get_or_insert(self.out_dtype());
        }
    }

    /// Folded float weight (F×K) and bias (F), as MXNet's `UpdateConvWeightBias`.
    fn folded(&self, ins: &[NDArray]) -> (Vec<f32>, Option<Vec<f32>>) {
        let mut w = load(&ins[1]);
        let mut b = (!self.conv.no_bias).then(|| load(&ins[2]));
        if let Some((eps, fix_gamma)) = self.bn {
            let g0 = 2 + usize::from(b.is_some());
            let [gamma, beta, mean, var] = [0, 1, 2, 3].map(|k| load(&ins[g0 + k]));
            let k = w.len() / gamma.len().max(1);
            let mut nb = vec![0f32; gamma.len()];
            for c in 0..gamma.len() {
                let g = if fix_gamma { 1.0 } else { gamma[c] };
                let alpha = g / (var[c] + eps).sqrt();
                nb[c] = match &b {
                    Some(b) => beta[c] + alpha * (b[c] - mean[c]),
                    None => beta[c] - alpha * mean[c],
                };
                w[c * k..(c + 1) * k].iter_mut().for_each(|v| *v *= alpha);
            }
            b = Some(nb);
        }
        (w, b)
    }

    pub(crate) fn forward(&self, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
        let nb = self.base_inputs().len();
        let data = &ins[0];
        let g = self.conv.geom(data.shape())?;
        let (dmin, dmax) = (scalar(&ins[nb]), scalar(&ins[nb + 1]));
        let ds = quantize_scale(data.dtype(), dmin, dmax);
        let (w, bias) = self.folded(ins);
        let f = g.f;
        // Weight scales: per channel with a calibrated output, else one for the tensor.
        let (scales, tensor_range) = if self.calib.is_some() {
            (channel_scales(&w, f, bias.as_deref(), ds), None)
        } else {
            let r = min_max(&w);
            (vec![quantize_scale(DType::I8, r.0, r.1); f], Some(r))
        };
        let wq = quantize_rows(&w, &scales);
        let bq = bias.map(|b| quantize_bias(&b, &scales, ds));
        let out_q = qtype(outs[0].dtype()).unwrap_or(QType::I32);
        let (requant, output_scale, range) = match self.calib {
            Some((lo, hi)) => {
                let os = quantize_scale(outs[0].dtype(), lo, hi);
                let r: Vec<f32> = scales.iter().map(|&s| os / ds / s).collect();
                (Some(r), os, (lo, hi))
            }
            None => {
                let qd = qtype(data.dtype()).unwrap_or(QType::I8);
                let wr = tensor_range.unwrap_or((0.0, 0.0));
                let range = product_range((dmin, dmax), qd, wr, QType::I8);
                (None, ds * scales[0], range)
            }
        };
        // The activation applies to the output's levels. A clip's bound is in real units:
        // MXNet scales it along with a sum, and without one drops the clip, leaving the
        // calibrated range's saturation to cut (an int32 output is then not clipped at all).
        let act = match self.act {
            Some(Eltwise::BoundedRelu(hi)) if self.with_sum => {
                Some(Eltwise::BoundedRelu(hi * output_scale))
            }
            Some(Eltwise::BoundedRelu(_)) => None,
            a => a,
        };
        let sum = self.with_sum.then(|| {
            let s = &ins[self.sum_index()];
            let sin = quantize_scale(s.dtype(), scalar(&ins[nb + 2]), scalar(&ins[nb + 3]));
            (s, output_scale / sin)
        });
        if let Some((s, _)) = sum {
            if s.size() != outs[0].size() {
                return Err(Error::shape(
                    OP,
                    format!(
                        "sum has {} elements, the output {}",
                        s.size(),
                        outs[0].size()
                    ),
                ));
            }
        }
        let len = g.out_len();
        let level = round_saturate_for(out_q);
        with_dtype!(outs[0].dtype(), D, {
            // SAFETY: inside the op writing outs[0]; each sample's rows go to one task.
            let out = Ptr(unsafe { outs[0].data_mut::<D>() }.as_mut_ptr());
            // oneDNN's post-ops on one sample's int32 sums, a channel row at a time.
            let requantize = |i: usize, acc: &[i32]| {
                let mut v = vec![0f32; len];
                for (c, acc) in acc.chunks_exact(len).enumerate() {
                    let at = (i * f + c) * len;
                    // Adding 0 and scaling by 1 are exact: the optional steps cost no branch.
                    let b = bq.as_ref().map_or(0.0, |b| b[c]);
                    let r = requant.as_ref().map_or(1.0, |r| r[c]);
                    for (v, &a) in v.iter_mut().zip(acc) {
                        *v = (a as f32 + b) * r;
                    }
                    if let Some(act) = act {
                        act.apply_all(&mut v);
                    }
                    if let Some((s, scale)) = sum {
                        with_dtype!(s.dtype(), S, {
                            // SAFETY: the op reads the sum input, as large as the output.
                            let s = unsafe { &s.data::<S>()[at..at + len] };
                            for (v, s) in v.iter_mut().zip(s) {
                                *v += scale * s.to_f32();
                            }
                        })
                    }
                    if let Some(act) = self.postsum_act {
                        act.apply_all(&mut v);
                    }
                    // SAFETY: row (i, c) of the output belongs to this sample's task.
                    let o = unsafe { std::slice::from_raw_parts_mut(out.get().add(at), len) };
                    map_slice(&v, o, move |v| D::from_level(level(v)));
                }
            };
            // SAFETY: inside the op reading `ins`; `infer` checked the data's shape and dtype.
            unsafe {
                match data.dtype() {
                    DType::U8 => forward_int8_each(&g, data.data::<u8>(), &wq, requantize),
                    _ => forward_int8_each(&g, data.data::<i8>(), &wq, requantize),
                }
            }
        });
        if outs.len() == 3 {
            store(&outs[1], &[range.0]);
            store(&outs[2], &[range.1]);
        }
        Ok(())
    }
}
