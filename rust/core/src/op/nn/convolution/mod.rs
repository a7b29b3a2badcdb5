//! `Convolution` and `Deconvolution` over 1 to 3 spatial dims (NCW, NCHW, NCDHW), im2col +
//! GEMM per sample (kernels/cpu/conv.rs). Deconvolution is convolution transposed: its forward
//! is convolution's data gradient, its data gradient a convolution, and both weight gradients
//! are the same kernel with the roles of data and output gradient swapped. Each op's gradient
//! is one `_backward_*` node producing the data, weight and bias gradients together.

use super::{check_count, float};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::infer::refine;
use crate::kernels::cpu::conv::{self, Geom, Real};
use crate::kernels::cpu::halves::{through_f32, Half};
use crate::ndarray::NDArray;
use crate::op::params::{param, ParamSpec, Params};
use crate::op::shape_ops::def;
use crate::op::{Desc, FnOp, Inputs, Operator, Registry};
use crate::shape::Shape;
use half::{bf16, f16};
use std::sync::Arc;

/// A parsed Convolution/Deconvolution parameter set; `_contrib_quantized_conv` parses and
/// shapes its convolution with it too.
#[derive(Debug, Clone)]
pub(crate) struct Cfg {
    /// `Convolution` or `Deconvolution`.
    op: &'static str,
    deconv: bool,
    kernel: Vec<usize>,
    stride: Vec<usize>,
    dilate: Vec<usize>,
    pad: Vec<usize>,
    adj: Vec<usize>,
    /// Deconvolution output size; empty = computed from pad and adj.
    target: Vec<usize>,
    pub(crate) num_filter: usize,
    num_group: usize,
    pub(crate) no_bias: bool,
}

/// Prepends `fill` so a 1-D or 2-D tuple reads as (depth, height, width).
pub(super) fn lift(v: &[usize], fill: usize) -> [usize; 3] {
    let mut o = [fill; 3];
    o[3 - v.len()..].copy_from_slice(v);
    o
}

pub(super) fn tuple(
    p: &Params,
    name: &str,
    nd: usize,
    default: usize,
    op: &str,
) -> Result<Vec<usize>> {
    let v = p.shape(name)?;
    if v.is_empty() {
        return Ok(vec![default; nd]);
    }
    if v.len() != nd {
        return Err(Error::param(
            op,
            format!(
                "{name} must have the same number of dimensions as kernel, but kernel has {nd} \
                 while {name} is {v:?}"
            ),
        ));
    }
    Ok(v)
}

impl Cfg {
    pub(crate) fn parse(op: &'static str, p: &Params) -> Result<Cfg> {
        let deconv = op == "Deconvolution";
        let kernel = p.shape("kernel")?;
        let nd = kernel.len();
        if !(1..=3).contains(&nd) {
            return Err(Error::param(
                op,
                format!("kernel must have 1, 2 or 3 dimensions, got {kernel:?}"),
            ));
        }
        let stride = tuple(p, "stride", nd, 1, op)?;
        let dilate = tuple(p, "dilate", nd, 1, op)?;
        let pad = tuple(p, "pad", nd, 0, op)?;
        let (adj, target) = if deconv {
            let t = p.shape("target_shape")?;
            let t = if t.iter().any(|&d| d != 0) {
                tuple(p, "target_shape", nd, 0, op)?
            } else {
                Vec::new()
            };
            (tuple(p, "adj", nd, 0, op)?, t)
        } else {
            (vec![0; nd], Vec::new())
        };
        for (name, v) in [
            ("kernel", &kernel),
            ("stride", &stride),
            ("dilate", &dilate),
        ] {
            if v.contains(&0) {
                return Err(Error::param(
                    op,
                    format!("{name} must be positive in every dimension, got {v:?}"),
                ));
            }
        }
        let num_filter = p.int("num_filter")?;
        let num_group = p.int("num_group")?;
        if num_filter <= 0 || num_group <= 0 {
            return Err(Error::param(
                op,
                format!("num_filter ({num_filter}) and num_group ({num_group}) must be positive"),
            ));
        }
        let (num_filter, num_group) = (num_filter as usize, num_group as usize);
        if num_filter % num_group != 0 {
            return Err(Error::param(
                op,
                format!("num_filter ({num_filter}) must be divisible by num_group ({num_group})"),
            ));
        }
        let layout = p.str("layout")?.trim().trim_matches('\'');
        let native = ["NCW", "NCHW", "NCDHW"][nd - 1];
        if layout != "None" && layout != native {
            return Err(Error::NotImplemented(format!(
                "{op}: layout '{layout}' is not supported on CPU; use {native} for a {nd}-D kernel"
            )));
        }
        Ok(Cfg {
            op,
            deconv,
            kernel,
            stride,
            dilate,
            pad,
            adj,
            target,
            num_filter,
            num_group,
            no_bias: p.bool("no_bias")?,
        })
    }

    pub(crate) fn nd(&self) -> usize {
        self.kernel.len()
    }

    fn n_in(&self) -> usize {
        if self.no_bias {
            2
        } else {
            3
        }
    }

    fn check_data(&self, d: &Shape) -> Result<()> {
        let nd = self.nd();
        if d.ndim() != nd + 2 {
            return Err(Error::shape(
                self.op,
                format!(
                    "data must be {}-D ({}) for a {nd}-D kernel, got shape {d}",
                    nd + 2,
                    ["NCW", "NCHW", "NCDHW"][nd - 1]
                ),
            ));
        }
        if !d[1].is_multiple_of(self.num_group) {
            return Err(Error::shape(
                self.op,
                format!(
                    "input channels ({}) of data {d} must be divisible by num_group ({})",
                    d[1], self.num_group
                ),
            ));
        }
        Ok(())
    }

    /// The convolution this op computes (or transposes), from the data shape.
    pub(crate) fn geom(&self, d: &Shape) -> Result<Geom> {
        self.check_data(d)?;
        let nd = self.nd();
        let sp = &d.0[2..];
        let dk: Vec<usize> = (0..nd)
            .map(|i| self.dilate[i] * (self.kernel[i] - 1) + 1)
            .collect();
        let mut pad = self.pad.clone();
        let mut out = vec![0; nd];
        for i in 0..nd {
            if self.deconv {
                let full = self.stride[i] * sp[i].saturating_sub(1) + dk[i];
                if !self.target.is_empty() {
                    let t = self.target[i];
                    if t > full {
                        return Err(Error::shape(
                            self.op,
                            format!(
                                "target_shape {:?} is too big for data {d}: at most {full} in \
                                 dimension {i}",
                                self.target
                            ),
                        ));
                    }
                    // Pad (ceil of half the excess) and adj (its parity) that give the target.
                    pad[i] = (full - t).div_ceil(2);
                    out[i] = t;
                } else {
                    if self.adj[i] >= self.stride[i] {
                        return Err(Error::param(
                            self.op,
                            format!(
                                "adj {:?} must be smaller than stride {:?}",
                                self.adj, self.stride
                            ),
                        ));
                    }
                    let grown = full + self.adj[i];
                    if grown < 2 * pad[i] {
                        return Err(Error::shape(
                            self.op,
                            format!("pad {:?} is too large for data {d}", self.pad),
                        ));
                    }
                    out[i] = grown - 2 * pad[i];
                }
                if sp[i] == 0 {
                    out[i] = 0;
                }
            } else {
                let padded = sp[i] + 2 * pad[i];
                if dk[i] > padded {
                    return Err(Error::shape(
                        self.op,
                        format!(
                            "kernel size exceeds input: dilated kernel {} > padded input {padded} \
                             in dimension {i} (data {d}, kernel {:?}, pad {:?}, dilate {:?})",
                            dk[i], self.kernel, self.pad, self.dilate
                        ),
                    ));
                }
                out[i] = (padded - dk[i]) / self.stride[i] + 1;
            }
        }
        let (c, f, input, output) = if self.deconv {
            (self.num_filter, d[1], lift(&out, 1), lift(sp, 1))
        } else {
            (d[1], self.num_filter, lift(sp, 1), lift(&out, 1))
        };
        Ok(Geom {
            n: d[0],
            c,
            f,
            groups: self.num_group,
            input,
            output,
            kernel: lift(&self.kernel, 1),
            stride: lift(&self.stride, 1),
            dilate: lift(&self.dilate, 1),
            pad: lift(&pad, 0),
        })
    }

    pub(crate) fn out_shape(&self, d: &Shape, g: &Geom) -> Shape {
        let nd = self.nd();
        let sp = if self.deconv { &g.input } else { &g.output };
        let mut s = vec![d[0], self.num_filter];
        s.extend_from_slice(&sp[3 - nd..]);
        Shape(s)
    }

    /// MXNet's incomplete shape inference: weight, bias and output from whatever of the data
    /// is known (0 = unknown), and back from the output the batch (an mx.rnn convolutional
    /// cell's begin state `zeros((0, C, H, W))` learns it from the convolution it is added
    /// to) and, where the stride is 1, the spatial sizes. A known weight gives the channels.
    fn infer_partial(&self, ins: &mut [Option<Shape>], outs: &mut [Option<Shape>]) -> Result<()> {
        let nd = self.nd();
        let Some(mut d) = ins.first().cloned().flatten().filter(|d| d.ndim() > 0) else {
            return Ok(());
        };
        if d.ndim() != nd + 2 {
            // A known data rank the kernel does not fit is an error, not an unknown weight.
            return self.check_data(&d);
        }
        let known = |s: Option<&Option<Shape>>| s.cloned().flatten().filter(|s| s.ndim() == nd + 2);
        let (w, o) = (known(ins.get(1)), known(outs.first()));
        let dk = |i: usize| self.dilate[i] * (self.kernel[i] - 1) + 1;
        if let Some(o) = &o {
            if d[0] == 0 {
                d.0[0] = o[0];
            }
            for i in 0..nd {
                if !self.deconv && d[2 + i] == 0 && o[2 + i] > 0 && self.stride[i] == 1 {
                    d.0[2 + i] = (o[2 + i] + dk(i) - 1).saturating_sub(2 * self.pad[i]);
                }
            }
        }
        if let (0, Some(w)) = (d[1], &w) {
            d.0[1] = if self.deconv {
                w[0]
            } else {
                w[1] * self.num_group
            };
        }
        let c = d[1];
        let per_group = |n: usize| {
            if n.is_multiple_of(self.num_group) {
                n / self.num_group
            } else {
                0
            }
        };
        let mut ws = if self.deconv {
            vec![c, per_group(self.num_filter)]
        } else {
            vec![self.num_filter, per_group(c)]
        };
        ws.extend_from_slice(&self.kernel);
        if let Some(slot) = ins.get_mut(1) {
            refine(slot, Shape(ws));
        }
        if !self.no_bias {
            if let Some(slot) = ins.get_mut(2) {
                refine(slot, Shape(vec![self.num_filter]));
            }
        }
        let out = if !d.0.contains(&0) {
            self.out_shape(&d, &self.geom(&d)?)
        } else {
            let mut s = vec![d[0], self.num_filter];
            s.extend((0..nd).map(|i| {
                let padded = d[2 + i] + 2 * self.pad[i];
                if self.deconv || d[2 + i] == 0 || padded < dk(i) {
                    0
                } else {
                    (padded - dk(i)) / self.stride[i] + 1
                }
            }));
            Shape(s)
        };
        if let Some(slot) = outs.first_mut() {
            refine(slot, out);
        }
        ins[0] = Some(d);
        Ok(())
    }

    pub(crate) fn weight_shape(&self, g: &Geom) -> Shape {
        let mut s = vec![g.f, g.c / g.groups];
        s.extend_from_slice(&self.kernel);
        Shape(s)
    }
}

fn infer(cfg: &Cfg, inputs: &[Desc]) -> Result<Vec<Desc>> {
    check_count(cfg.op, inputs, cfg.n_in())?;
    let dt = float(cfg.op, inputs[0].dtype)?;
    let d = &inputs[0].shape;
    let g = cfg.geom(d)?;
    let want_w = cfg.weight_shape(&g);
    let mut want = vec![("weight", want_w)];
    if !cfg.no_bias {
        want.push(("bias", Shape(vec![cfg.num_filter])));
    }
    for (i, (name, w)) in want.into_iter().enumerate() {
        let x = &inputs[i + 1];
        if x.shape != w {
            return Err(Error::shape(
                cfg.op,
                format!(
                    "Shape inconsistent, Provided = {}, inferred shape={w} (input {name})",
                    x.shape
                ),
            ));
        }
        if x.dtype != dt {
            return Err(Error::dtype(
                cfg.op,
                format!("{name} has dtype {}, data has {dt}", x.dtype),
            ));
        }
    }
    Ok(vec![Desc::new(cfg.out_shape(d, &g), dt)])
}

fn empty(g: &Geom) -> bool {
    g.n == 0 || g.c == 0 || g.f == 0 || g.in_len() == 0 || g.out_len() == 0
}

fn forward_t<T: Real>(cfg: &Cfg, ins: &[NDArray], out: &NDArray) -> Result<()> {
    let g = cfg.geom(ins[0].shape())?;
    match T::DTYPE {
        DType::F16 => forward_in_f32::<f16>(cfg, &g, ins, out),
        DType::BF16 => forward_in_f32::<bf16>(cfg, &g, ins, out),
        // SAFETY: inside the op reading the inputs and writing `out`, fresh and disjoint from
        // them; `infer` checked every shape against `g`.
        _ => unsafe {
            let (x, w) = (ins[0].data::<T>(), ins[1].data::<T>());
            let bias = ins.get(2).map(|b| b.data::<T>());
            forward_slices(cfg, &g, x, w, bias, out.data_mut::<T>())
        },
    }
    Ok(())
}

fn forward_slices<T: Real>(cfg: &Cfg, g: &Geom, x: &[T], w: &[T], bias: Option<&[T]>, y: &mut [T]) {
    if empty(g) {
        y.fill(T::ZERO);
    } else if cfg.deconv {
        conv::backward_data(g, x, w, y);
        if let Some(b) = bias {
            conv::add_bias(g.n, g.c, g.in_len(), b, y);
        }
    } else {
        conv::forward(g, x, w, bias, y);
    }
}

// Half-precision convolutions run on f32 copies of their operands: products and sums then
// accumulate in f32 across the whole batch (the weight gradient gathered sample by sample
// was rounded to the half type after each one), and each result is rounded once.
fn forward_in_f32<H: Half>(cfg: &Cfg, g: &Geom, ins: &[NDArray], out: &NDArray) {
    let ins: Vec<&NDArray> = ins.iter().collect();
    // SAFETY: as in `forward_t`.
    unsafe {
        through_f32::<H, _>(&ins, &[out], |w, y| {
            let bias = w.get(2).map(|b| &b[..]);
            forward_slices(cfg, g, &w[0], &w[1], bias, &mut y[0])
        })
    }
}

/// Inputs dY, data, weight; outputs d(data) (when `need_dx`), d(weight) and, with bias,
/// d(bias).
fn backward_t<T: Real>(cfg: &Cfg, need_dx: bool, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let g = cfg.geom(ins[1].shape())?;
    match T::DTYPE {
        DType::F16 => backward_in_f32::<f16>(cfg, &g, need_dx, ins, outs),
        DType::BF16 => backward_in_f32::<bf16>(cfg, &g, need_dx, ins, outs),
        // SAFETY: reads dY, data and weight, writes the fresh outputs, shapes checked by the
        // backward `infer`.
        _ => unsafe {
            let (dy, x, w) = (ins[0].data::<T>(), ins[1].data::<T>(), ins[2].data::<T>());
            let mut outs = outs.iter().map(|o| o.data_mut::<T>());
            let dx = if need_dx { outs.next() } else { None };
            let dw = outs.next().unwrap_or_default();
            backward_slices(cfg, &g, dy, x, w, dx, dw, outs.next())
        },
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn backward_slices<T: Real>(
    cfg: &Cfg,
    g: &Geom,
    dy: &[T],
    x: &[T],
    w: &[T],
    dx: Option<&mut [T]>,
    dw: &mut [T],
    db: Option<&mut [T]>,
) {
    if empty(g) {
        if let Some(dx) = dx {
            dx.fill(T::ZERO);
        }
        dw.fill(T::ZERO);
        if let Some(db) = db {
            db.fill(T::ZERO);
        }
    } else if cfg.deconv {
        if let Some(dx) = dx {
            conv::forward(g, dy, w, None, dx);
        }
        conv::backward_weight(g, x, dy, dw);
        if let Some(db) = db {
            conv::bias_grad(g.n, g.c, g.in_len(), dy, db);
        }
    } else {
        if let Some(dx) = dx {
            conv::backward_data(g, dy, w, dx);
        }
        conv::backward_weight(g, dy, x, dw);
        if let Some(db) = db {
            conv::bias_grad(g.n, g.f, g.out_len(), dy, db);
        }
    }
}

fn backward_in_f32<H: Half>(cfg: &Cfg, g: &Geom, need_dx: bool, ins: &[NDArray], outs: &[NDArray]) {
    let ins: Vec<&NDArray> = ins.iter().collect();
    let outs: Vec<&NDArray> = outs.iter().collect();
    // SAFETY: as in `backward_t`.
    unsafe {
        through_f32::<H, _>(&ins, &outs, |w, grads| {
            let mut it = grads.iter_mut().map(|v| &mut v[..]);
            let dx = if need_dx { it.next() } else { None };
            let dw = it.next().unwrap_or_default();
            backward_slices(cfg, g, &w[0], &w[1], &w[2], dx, dw, it.next())
        })
    }
}

fn backward_op(cfg: Arc<Cfg>, need_dx: bool) -> Arc<dyn Operator> {
    let name = if cfg.deconv {
        "_backward_Deconvolution"
    } else {
        "_backward_Convolution"
    };
    let (c2, no_bias, c4) = (cfg.clone(), cfg.no_bias, cfg.clone());
    #[cfg(feature = "cuda")]
    let c3 = cfg.clone();
    let mut op = FnOp::new(
        name,
        move |inputs| {
            check_count(name, inputs, 3)?;
            let dt = float(name, inputs[1].dtype)?;
            let g = cfg.geom(&inputs[1].shape)?;
            let want = cfg.out_shape(&inputs[1].shape, &g);
            if inputs[0].shape != want {
                return Err(Error::shape(
                    name,
                    format!(
                        "output gradient has shape {}, the output has shape {want}",
                        inputs[0].shape
                    ),
                ));
            }
            let mut v = Vec::with_capacity(3);
            if need_dx {
                v.push(Desc::new(inputs[1].shape.clone(), dt));
            }
            v.push(Desc::new(inputs[2].shape.clone(), dt));
            if !cfg.no_bias {
                v.push(Desc::new(Shape(vec![cfg.num_filter]), dt));
            }
            Ok(v)
        },
        move |_, ins, outs| by_float!(name, ins[1].dtype(), backward_t, &c2, need_dx, ins, outs),
    );
    op.num_outputs = 1 + usize::from(need_dx) + usize::from(!no_bias);
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::backward(c3, need_dx)));
    op.with_grad(move |g, a| backward_grad(&c4, need_dx, g, a))
        .arc()
}

/// The gradient of the backward (second-order autograd, which MXNet lacks for these ops).
/// The backward is the adjoint of the forward, bilinear in (dY, data) and (dY, weight): with
/// head gradients Gx, Gw, Gb, d(dY) = fwd(X, Gw, Gb) + fwd(Gx, W), d(data) is
/// the data gradient of dY at weight Gw, d(weight) the weight gradient of dY at data Gx.
fn backward_grad(
    cfg: &Arc<Cfg>,
    need_dx: bool,
    g: &mut crate::graph::GradBuilder,
    a: &crate::op::GradArgs,
) -> Result<Vec<Option<crate::graph::Entry>>> {
    let [dy, x, w] = a.inputs else {
        return Err(Error::Internal(format!(
            "{} gradient needs 3 inputs",
            cfg.op
        )));
    };
    let mut heads = a.out_grads.iter();
    let gx = if need_dx { heads.next() } else { None };
    let gw = heads
        .next()
        .ok_or_else(|| Error::Internal(format!("{} gradient without dW", cfg.op)))?;
    let gb = if cfg.no_bias { None } else { heads.next() };
    let want = |i: usize| a.needs.get(i).copied().unwrap_or(true);
    let linear = Cfg {
        no_bias: true,
        ..(**cfg).clone()
    };
    let linear_bwd = |need_dx| backward_op(Arc::new(linear.clone()), need_dx);
    let d_dy = if want(0) {
        let mut ins = vec![x.clone(), gw.clone()];
        ins.extend(gb.cloned());
        let with_bias = Cfg {
            no_bias: gb.is_none(),
            ..(**cfg).clone()
        };
        let mut parts = g.apply(conv_op(with_bias), &ins);
        if let Some(gx) = gx {
            parts.extend(g.apply(conv_op(linear.clone()), &[gx.clone(), w.clone()]));
        }
        Some(g.sum(&parts)?)
    } else {
        None
    };
    let d_x = if want(1) {
        let ins = [dy.clone(), x.clone(), gw.clone()];
        g.apply(linear_bwd(true), &ins).into_iter().next()
    } else {
        None
    };
    let d_w = match gx {
        Some(gx) if want(2) => {
            let ins = [dy.clone(), gx.clone(), w.clone()];
            g.apply(linear_bwd(false), &ins).into_iter().next()
        }
        _ => None,
    };
    Ok(vec![d_dy, d_x, d_w])
}

fn conv_op(cfg: Cfg) -> Arc<dyn Operator> {
    let cfg = Arc::new(cfg);
    let (c1, c2, c3, c4) = (cfg.clone(), cfg.clone(), cfg.clone(), cfg.clone());
    let mut op = FnOp::new(
        cfg.op,
        move |inputs| infer(&c1, inputs),
        move |_, ins, outs| by_float!(c2.op, ins[0].dtype(), forward_t, &c2, ins, &outs[0]),
    )
    .with_shape_partial(move |ins, outs| c3.infer_partial(ins, outs))
    .with_grad(move |g, a| {
        let dy = a
            .out_grads
            .first()
            .ok_or_else(|| Error::Internal(format!("{} gradient without out_grad", c4.op)))?;
        let ins = [dy.clone(), a.inputs[0].clone(), a.inputs[1].clone()];
        // A first layer's data gradient is wanted by nobody: skip it.
        let need_dx = a.needs.first().copied().unwrap_or(true);
        let outs = g.apply(backward_op(c4.clone(), need_dx), &ins);
        let mut grads: Vec<Option<crate::graph::Entry>> = outs.into_iter().map(Some).collect();
        if !need_dx {
            grads.insert(0, None);
        }
        Ok(grads)
    });
    op.num_inputs = Some(cfg.n_in());
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::forward(cfg.clone())));
    op.arc()
}

pub(crate) fn shared_params(deconv: bool) -> Vec<ParamSpec> {
    let mut v = vec![
        param(
            "kernel",
            "Shape(tuple)",
            None,
            "Convolution kernel size: (w,), (h, w) or (d, h, w)",
        ),
        param(
            "stride",
            "Shape(tuple)",
            Some("[]"),
            "Convolution stride: (w,), (h, w) or (d, h, w). Defaults to 1 for each dimension.",
        ),
        param(
            "dilate",
            "Shape(tuple)",
            Some("[]"),
            "Convolution dilate: (w,), (h, w) or (d, h, w). Defaults to 1 for each dimension.",
        ),
        param(
            "pad",
            "Shape(tuple)",
            Some("[]"),
            "Zero pad for convolution: (w,), (h, w) or (d, h, w). Defaults to no padding.",
        ),
    ];
    if deconv {
        v.push(param(
            "adj",
            "Shape(tuple)",
            Some("[]"),
            "Adjustment for output shape: (w,), (h, w) or (d, h, w). If `target_shape` is set, \
             `adj` will be ignored and computed accordingly.",
        ));
        v.push(param(
            "target_shape",
            "Shape(tuple)",
            Some("[]"),
            "Shape of the output tensor: (w,), (h, w) or (d, h, w).",
        ));
    }
    v.extend([
        param(
            "num_filter",
            "int (non-negative)",
            None,
            "Convolution filter(channel) number",
        ),
        param(
            "num_group",
            "int (non-negative)",
            Some("1"),
            "Number of group partitions.",
        ),
        param(
            "workspace",
            "long (non-negative)",
            Some(if deconv { "512" } else { "1024" }),
            "Maximum temporary workspace allowed (MB); accepted for compatibility, unused on CPU.",
        ),
        param(
            "no_bias",
            "boolean",
            Some(if deconv { "True" } else { "False" }),
            "Whether to disable bias parameter.",
        ),
        param(
            "cudnn_tune",
            "{None, 'fastest', 'limited_workspace', 'off'}",
            Some("None"),
            "Whether to pick convolution algo by running performance test (ignored on CPU).",
        ),
        param(
            "cudnn_off",
            "boolean",
            Some("False"),
            "Turn off cudnn for this layer (ignored on CPU).",
        ),
        param(
            "layout",
            "{None, 'NCDHW', 'NCHW', 'NCW', 'NDHWC', 'NHWC'}",
            Some("None"),
            "Set layout for input, output and weight. Empty for default layout: NCW for 1d, \
             NCHW for 2d and NCDHW for 3d. NHWC and NDHWC are only supported on GPU.",
        ),
    ]);
    v
}

/// `Convolution_v1` (legacy graphs): Convolution's kernel with the v1 parameter set, which
/// has no 1-D form and no NCW layout.
fn register_v1(r: &mut Registry) {
    let mut params = shared_params(false);
    for p in params.iter_mut() {
        if p.name == "layout" {
            p.ty = "{None, 'NCDHW', 'NCHW', 'NDHWC', 'NHWC'}";
            p.doc = "Set layout for input, output and weight. Empty for default layout: NCHW for \
                     2d and NCDHW for 3d.";
        }
        if p.name == "kernel" {
            p.doc = "convolution kernel size: (h, w) or (d, h, w)";
        }
    }
    r.add(def(
        "Convolution_v1",
        "This operator is DEPRECATED. Apply convolution to input then add a bias: Convolution \
         on NCHW or NCDHW data with a 2-D or 3-D kernel, the same shapes and values.",
        params,
        Inputs::Fixed(&["data", "weight", "bias"]),
        |p| {
            let cfg = Cfg::parse("Convolution_v1", p)?;
            if cfg.nd() == 1 {
                return Err(Error::param(
                    "Convolution_v1",
                    "1D convolution not supported: kernel must be (h, w) or (d, h, w)",
                ));
            }
            Ok(conv_op(cfg))
        },
    ));
}

pub fn register(r: &mut Registry) {
    r.add(def(
        "Convolution",
        "Compute N-D convolution on (N+2)-D input (NCW, NCHW or NCDHW). The weight has shape \
         (num_filter, channels/num_group, *kernel) and the bias (num_filter,); each output \
         dimension is floor((x + 2*pad - dilate*(kernel-1) - 1) / stride) + 1. With num_group \
         g the channels are split into g groups convolved independently.",
        shared_params(false),
        Inputs::Fixed(&["data", "weight", "bias"]),
        |p| Ok(conv_op(Cfg::parse("Convolution", p)?)),
    ));
    r.add(def(
        "Deconvolution",
        "Computes 1-D, 2-D or 3-D transposed convolution (the gradient of convolution with \
         respect to its input). The weight has shape (channels, num_filter/num_group, *kernel); \
         each output dimension is stride*(x-1) + dilate*(kernel-1) + 1 - 2*pad + adj, or \
         target_shape when given.",
        shared_params(true),
        Inputs::Fixed(&["data", "weight", "bias"]),
        |p| Ok(conv_op(Cfg::parse("Deconvolution", p)?)),
    ));
    register_v1(r);
}

#[cfg(feature = "cuda")]
mod cuda;
#[cfg(feature = "cuda")]
pub use cuda::{cuda_source, CUDA_MODULE};

#[cfg(test)]
mod tests {
    use crate::op::test_util::{arr, check_grad, err, rand64, run};

    /// One case: data shape, num_filter, kernel, stride, pad, dilate, groups.
    struct Case {
        data: Vec<usize>,
        f: usize,
        kernel: Vec<usize>,
        stride: Vec<usize>,
        pad: Vec<usize>,
        dilate: Vec<usize>,
        groups: usize,
    }

    fn tup(v: &[usize]) -> String {
        let s: Vec<String> = v.iter().map(|d| d.to_string()).collect();
        format!("({},)", s.join(","))
    }

    fn lift3(v: &[usize], fill: usize) -> [usize; 3] {
        let mut o = [fill; 3];
        o[3 - v.len()..].copy_from_slice(v);
        o
    }

    fn vals(n: usize, seed: usize) -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 7 + seed * 5) % 17) as f64 * 0.125 - 1.0)
            .collect()
    }

    /// Direct convolution over (lifted) 3-D positions: every output sums kernel taps that land
    /// inside the input.
    fn naive_conv(c: &Case, x: &[f64], w: &[f64], b: Option<&[f64]>) -> (Vec<usize>, Vec<f64>) {
        let nd = c.kernel.len();
        let (n, ch) = (c.data[0], c.data[1]);
        let isp = lift3(&c.data[2..], 1);
        let k = lift3(&c.kernel, 1);
        let s = lift3(&c.stride, 1);
        let p = lift3(&c.pad, 0);
        let d = lift3(&c.dilate, 1);
        let osp: Vec<usize> = (0..3)
            .map(|i| (isp[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) / s[i] + 1)
            .collect();
        let (cg, fg) = (ch / c.groups, c.f / c.groups);
        let mut out = vec![0.0; n * c.f * osp[0] * osp[1] * osp[2]];
        let mut idx = 0;
        for ni in 0..n {
            for f in 0..c.f {
                let gi = f / fg;
                for o0 in 0..osp[0] {
                    for o1 in 0..osp[1] {
                        for o2 in 0..osp[2] {
                            let mut acc = b.map_or(0.0, |b| b[f]);
                            for cc in 0..cg {
                                for a in 0..k[0] {
                                    for bb in 0..k[1] {
                                        for e in 0..k[2] {
                                            let i0 =
                                                (o0 * s[0] + a * d[0]) as isize - p[0] as isize;
                                            let i1 =
                                                (o1 * s[1] + bb * d[1]) as isize - p[1] as isize;
                                            let i2 =
                                                (o2 * s[2] + e * d[2]) as isize - p[2] as isize;
                                            if i0 < 0 || i1 < 0 || i2 < 0 {
                                                continue;
                                            }
                                            let (i0, i1, i2) =
                                                (i0 as usize, i1 as usize, i2 as usize);
                                            if i0 >= isp[0] || i1 >= isp[1] || i2 >= isp[2] {
                                                continue;
                                            }
                                            let xc = gi * cg + cc;
                                            let xv = x[(((ni * ch + xc) * isp[0] + i0) * isp[1]
                                                + i1)
                                                * isp[2]
                                                + i2];
                                            let wv = w[(((f * cg + cc) * k[0] + a) * k[1] + bb)
                                                * k[2]
                                                + e];
                                            acc += xv * wv;
                                        }
                                    }
                                }
                            }
                            out[idx] = acc;
                            idx += 1;
                        }
                    }
                }
            }
        }
        let mut shape = vec![n, c.f];
        shape.extend_from_slice(&osp[3 - nd..]);
        (shape, out)
    }

    fn cases() -> Vec<Case> {
        let c = |data: &[usize],
                 f,
                 kernel: &[usize],
                 stride: &[usize],
                 pad: &[usize],
                 dilate: &[usize],
                 groups| Case {
            data: data.to_vec(),
            f,
            kernel: kernel.to_vec(),
            stride: stride.to_vec(),
            pad: pad.to_vec(),
            dilate: dilate.to_vec(),
            groups,
        };
        vec![
            c(&[2, 3, 7], 4, &[3], &[1], &[0], &[1], 1),
            c(&[3, 4, 9], 6, &[2], &[2], &[1], &[2], 2),
            c(&[2, 3, 6, 5], 4, &[3, 3], &[1, 1], &[1, 1], &[1, 1], 1),
            c(&[1, 4, 7, 8], 2, &[3, 2], &[2, 3], &[2, 1], &[2, 1], 2),
            c(&[2, 6, 5, 5], 6, &[1, 1], &[1, 1], &[0, 0], &[1, 1], 3),
            c(&[2, 2, 5, 5], 3, &[1, 1], &[2, 2], &[0, 0], &[1, 1], 1),
            c(
                &[1, 2, 4, 5, 6],
                3,
                &[2, 3, 2],
                &[1, 2, 2],
                &[1, 0, 1],
                &[1, 1, 2],
                1,
            ),
            c(&[5, 3, 4, 4], 2, &[4, 4], &[1, 1], &[0, 0], &[1, 1], 1),
            // Batches that split unevenly over the pool's tasks.
            c(&[5, 4, 3, 3], 2, &[1, 1], &[1, 1], &[0, 0], &[1, 1], 2),
            c(&[7, 2, 5, 4], 3, &[3, 2], &[2, 1], &[1, 0], &[1, 1], 1),
            // Rows past im2col's inline copy (more than 32 columns), and of 6 = 4 + 2.
            c(&[1, 2, 2, 40], 2, &[1, 3], &[1, 1], &[0, 1], &[1, 1], 1),
            c(&[2, 1, 3, 8], 2, &[2, 3], &[1, 1], &[0, 0], &[1, 1], 1),
        ]
    }

    fn attrs(c: &Case, bias: bool) -> Vec<(&'static str, String)> {
        vec![
            ("kernel", tup(&c.kernel)),
            ("stride", tup(&c.stride)),
            ("pad", tup(&c.pad)),
            ("dilate", tup(&c.dilate)),
            ("num_filter", c.f.to_string()),
            ("num_group", c.groups.to_string()),
            ("no_bias", if bias { "False" } else { "True" }.to_string()),
        ]
    }

    fn refs<'a>(a: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        a.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    #[test]
    fn convolution_matches_direct_loops() {
        for (ci, c) in cases().iter().enumerate() {
            let bias = ci % 2 == 0;
            let wshape: Vec<usize> = [c.f, c.data[1] / c.groups]
                .into_iter()
                .chain(c.kernel.iter().copied())
                .collect();
            let x = vals(c.data.iter().product(), 1);
            let w = vals(wshape.iter().product(), 2);
            let b = vals(c.f, 3);
            let mut ins = vec![arr(&c.data, &x), arr(&wshape, &w)];
            if bias {
                ins.push(arr(&[c.f], &b));
            }
            let a = attrs(c, bias);
            let out = run("Convolution", &ins, &refs(&a));
            let (shape, want) = naive_conv(c, &x, &w, bias.then_some(&b[..]));
            assert_eq!(out.shape().dims(), &shape[..], "case {ci}");
            let got = out.to_vec::<f64>().unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-9, "case {ci}: {g} vs {w}");
            }
            // float32 runs the same kernels.
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
            let b32: Vec<f32> = b.iter().map(|&v| v as f32).collect();
            let mut ins = vec![arr(&c.data, &x32), arr(&wshape, &w32)];
            if bias {
                ins.push(arr(&[c.f], &b32));
            }
            let got = run("Convolution", &ins, &refs(&a)).to_vec::<f32>().unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((*g as f64 - w).abs() < 1e-4, "case {ci} f32: {g} vs {w}");
            }
        }
    }

    /// Deconvolution is the adjoint of convolution: <deconv(y, w), x> == <y, conv(x, w)>.
    #[test]
    fn deconvolution_is_adjoint_of_convolution() {
        for (ci, c) in cases().iter().enumerate() {
            let wshape: Vec<usize> = [c.f, c.data[1] / c.groups]
                .into_iter()
                .chain(c.kernel.iter().copied())
                .collect();
            let x = vals(c.data.iter().product(), 1);
            let w = vals(wshape.iter().product(), 2);
            let (yshape, conv_x) = naive_conv(c, &x, &w, None);
            let y = vals(yshape.iter().product(), 4);
            // Deconvolution from num_filter channels back to data's channels; the output size
            // is the data's when adj makes up for the stride's rounding.
            let nd = c.kernel.len();
            let adj: Vec<usize> = (0..nd)
                .map(|i| {
                    let dk = c.dilate[i] * (c.kernel[i] - 1) + 1;
                    (c.data[2 + i] + 2 * c.pad[i] - dk) % c.stride[i]
                })
                .collect();
            let a = vec![
                ("kernel", tup(&c.kernel)),
                ("stride", tup(&c.stride)),
                ("pad", tup(&c.pad)),
                ("dilate", tup(&c.dilate)),
                ("adj", tup(&adj)),
                ("num_filter", c.data[1].to_string()),
                ("num_group", c.groups.to_string()),
            ];
            let out = run(
                "Deconvolution",
                &[arr(&yshape, &y), arr(&wshape, &w)],
                &refs(&a),
            );
            assert_eq!(out.shape().dims(), &c.data[..], "case {ci}");
            let dec = out.to_vec::<f64>().unwrap();
            let lhs: f64 = dec.iter().zip(&x).map(|(a, b)| a * b).sum();
            let rhs: f64 = y.iter().zip(&conv_x).map(|(a, b)| a * b).sum();
            assert!(
                (lhs - rhs).abs() < 1e-8 * (1.0 + rhs.abs()),
                "case {ci}: {lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn deconvolution_shapes_and_bias() {
        let x = arr(&[1, 2, 5, 5], &[1f32; 50]);
        let w = arr(&[2, 3, 3, 3], &[1f32; 54]);
        let b = arr(&[3], &[0.5f32, 1.0, 2.0]);
        let base = [
            ("kernel", "(3,3)"),
            ("num_filter", "3"),
            ("stride", "(2,2)"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut a = base.to_vec();
            a.extend_from_slice(extra);
            a
        };
        let out = run(
            "Deconvolution",
            &[x.clone(), w.clone()],
            &with(&[("target_shape", "(10,10)")]),
        );
        assert_eq!(out.shape().dims(), &[1, 3, 10, 10]);
        let out = run(
            "Deconvolution",
            &[x.clone(), w.clone()],
            &with(&[("pad", "(1,1)"), ("adj", "(1,1)")]),
        );
        assert_eq!(out.shape().dims(), &[1, 3, 10, 10]);
        let e = err(
            "Deconvolution",
            &[x.clone(), w.clone()],
            &with(&[("adj", "(2,2)")]),
        );
        assert!(e.to_string().contains("adj"), "{e}");
        let out = run(
            "Deconvolution",
            &[x.clone(), w.clone(), b],
            &with(&[("no_bias", "False")]),
        );
        assert_eq!(out.shape().dims(), &[1, 3, 11, 11]);
        // Corner (0,0) receives only tap (0,0) of one input position per input channel.
        let v = out.to_vec::<f32>().unwrap();
        assert_eq!(&[v[0], v[121], v[242]], &[2.5, 3.0, 4.0]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = arr(&[1, 4, 5, 5], &[0f32; 100]);
        let w = arr(&[4, 2, 3, 3], &[0f32; 72]);
        let k = ("kernel", "(3,3)");
        let e = err(
            "Convolution",
            &[x.clone(), w.clone()],
            &[
                k,
                ("num_filter", "3"),
                ("num_group", "2"),
                ("no_bias", "True"),
            ],
        );
        assert!(e.to_string().contains("divisible"), "{e}");
        let e = err(
            "Convolution",
            &[x.clone(), w.clone()],
            &[
                ("kernel", "(7,7)"),
                ("num_filter", "4"),
                ("no_bias", "True"),
            ],
        );
        assert!(e.to_string().contains("kernel size exceeds input"), "{e}");
        let e = err(
            "Convolution",
            &[x.clone(), w.clone()],
            &[k, ("num_filter", "4"), ("no_bias", "True")],
        );
        assert!(e.to_string().contains("Shape inconsistent"), "{e}");
        let e = err(
            "Convolution",
            &[arr(&[4, 5, 5], &[0f32; 100]), w.clone()],
            &[
                k,
                ("num_filter", "4"),
                ("num_group", "2"),
                ("no_bias", "True"),
            ],
        );
        assert!(e.to_string().contains("4-D"), "{e}");
        let e = err(
            "Convolution",
            &[x.clone(), w.clone()],
            &[
                k,
                ("num_filter", "4"),
                ("num_group", "2"),
                ("no_bias", "True"),
                ("stride", "(2,)"),
            ],
        );
        assert!(e.to_string().contains("stride"), "{e}");
        let e = err(
            "Convolution",
            &[x.clone(), w.clone()],
            &[
                k,
                ("num_filter", "4"),
                ("num_group", "2"),
                ("no_bias", "True"),
                ("layout", "NHWC"),
            ],
        );
        assert!(e.to_string().contains("layout"), "{e}");
        let e = err(
            "Convolution",
            &[x.clone(), w.clone()],
            &[("kernel", "(1,1,1,1)"), ("num_filter", "4")],
        );
        assert!(e.to_string().contains("kernel"), "{e}");
        let e = err(
            "Convolution",
            &[x.clone(), w.clone()],
            &[k, ("num_filter", "4"), ("num_group", "2")],
        );
        assert!(e.to_string().contains("3 inputs"), "{e}");
        let ok = run(
            "Convolution",
            &[x, w],
            &[
                k,
                ("num_filter", "4"),
                ("num_group", "2"),
                ("no_bias", "True"),
            ],
        );
        assert_eq!(ok.shape().dims(), &[1, 4, 3, 3]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        for (ci, c) in cases().iter().enumerate().filter(|(i, _)| *i != 7) {
            let bias = ci % 2 == 0;
            let wshape: Vec<usize> = [c.f, c.data[1] / c.groups]
                .into_iter()
                .chain(c.kernel.iter().copied())
                .collect();
            let mut ins = vec![rand64(&c.data, -1.0, 1.0, 1), rand64(&wshape, -1.0, 1.0, 2)];
            if bias {
                ins.push(rand64(&[c.f], -1.0, 1.0, 3));
            }
            let wrt: Vec<usize> = (0..ins.len()).collect();
            check_grad("Convolution", &refs(&attrs(c, bias)), &ins, &wrt);
        }
        // Deconvolution with bias, stride, groups and adj.
        let ins = [
            rand64(&[2, 4, 3, 4], -1.0, 1.0, 4),
            rand64(&[4, 3, 3, 2], -1.0, 1.0, 5),
            rand64(&[6], -1.0, 1.0, 6),
        ];
        check_grad(
            "Deconvolution",
            &[
                ("kernel", "(3,2)"),
                ("stride", "(2,2)"),
                ("pad", "(1,0)"),
                ("adj", "(1,0)"),
                ("num_filter", "6"),
                ("num_group", "2"),
                ("no_bias", "False"),
            ],
            &ins,
            &[0, 1, 2],
        );
        let ins = [
            rand64(&[2, 2, 5], -1.0, 1.0, 7),
            rand64(&[2, 3, 3], -1.0, 1.0, 8),
        ];
        check_grad(
            "Deconvolution",
            &[("kernel", "(3,)"), ("dilate", "(2,)"), ("num_filter", "3")],
            &ins,
            &[0, 1],
        );
    }

    /// float16/bfloat16 convolutions and deconvolutions (run on f32 copies) give the exact
    /// result rounded once: with multiples of 0.5 as operands every f32 and f64 sum is exact.
    #[test]
    fn half_convolutions_round_the_exact_result_once() {
        use crate::op::{invoke, registry};
        let vals = |len: usize, k: usize| -> Vec<f64> {
            (0..len).map(|i| ((i * k) % 5) as f64 * 0.5 - 1.0).collect()
        };
        for (op, stride, groups) in [
            ("Convolution", "(1,1)", "1"),
            ("Convolution", "(2,2)", "2"),
            ("Deconvolution", "(2,2)", "2"),
        ] {
            let attrs: Vec<(String, String)> = [
                ("kernel", "(3,3)"),
                ("pad", "(1,1)"),
                ("stride", stride),
                ("num_filter", "4"),
                ("num_group", groups),
                ("no_bias", "False"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let deconv = op == "Deconvolution";
            let fwd = registry().get(op).unwrap().create(&attrs).unwrap();
            let spec = super::shared_params(deconv);
            let p = crate::op::Params::new(op, &spec, &attrs).unwrap();
            let bwd = super::backward_op(
                std::sync::Arc::new(super::Cfg::parse(op, &p).unwrap()),
                true,
            );
            let g: usize = groups.parse().unwrap();
            // (num_filter, channels / groups, ...) and for deconvolution (channels,
            // num_filter / groups, ...): both 4.
            let wshape = [4, 4 / g, 3, 3];
            let run_as = |dtype: &str| -> Vec<Vec<f64>> {
                let cast = |a| run("Cast", &[a], &[("dtype", dtype)]);
                let x = cast(arr(&[3, 4, 7, 6], &vals(3 * 4 * 42, 7)));
                let w = cast(arr(&wshape, &vals(wshape.iter().product(), 3)));
                let b = cast(arr(&[4], &vals(4, 2)));
                let y = invoke(&fwd, &[x.clone(), w.clone(), b.clone()], None, None).unwrap();
                let y = y.into_iter().next().unwrap();
                let dy = cast(arr(y.shape().dims(), &vals(y.size(), 11)));
                let grads = invoke(&bwd, &[dy, x, w], None, None).unwrap();
                std::iter::once(y)
                    .chain(grads)
                    .map(|a| {
                        run("Cast", &[a], &[("dtype", "float64")])
                            .to_vec::<f64>()
                            .unwrap()
                    })
                    .collect()
            };
            let want = run_as("float64");
            for dtype in ["float16", "bfloat16"] {
                let got = run_as(dtype);
                for (k, (gv, wv)) in got.iter().zip(&want).enumerate() {
                    let what = ["y", "dx", "dw", "db"][k];
                    for (i, (a, b)) in gv.iter().zip(wv).enumerate() {
                        let b = if dtype == "float16" {
                            half::f16::from_f64(*b).to_f64()
                        } else {
                            half::bf16::from_f32(*b as f32).to_f64()
                        };
                        assert_eq!(*a, b, "{op} {stride} {dtype} {what}[{i}]");
                    }
                }
            }
        }
    }

    /// `cargo test --release --lib conv_timing -- --ignored --nocapture`: a ResNet-style 3x3
    /// layer, batch 32, 64 -> 64 channels, 28x28, float32, forward and backward.
    #[test]
    #[ignore]
    fn conv_timing() {
        use crate::op::{invoke, registry};
        let f =
            |len: usize| -> Vec<f32> { (0..len).map(|i| ((i * 7) % 13) as f32 * 0.1).collect() };
        let (x, w, b, dy) = (
            arr(&[32, 64, 28, 28], &f(32 * 64 * 784)),
            arr(&[64, 64, 3, 3], &f(64 * 64 * 9)),
            arr(&[64], &f(64)),
            arr(&[32, 64, 28, 28], &f(32 * 64 * 784)),
        );
        let attrs: Vec<(String, String)> =
            [("kernel", "(3,3)"), ("pad", "(1,1)"), ("num_filter", "64")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let fwd = registry()
            .get("Convolution")
            .unwrap()
            .create(&attrs)
            .unwrap();
        let cfg = super::Cfg::parse(
            "Convolution",
            &crate::op::Params::new("Convolution", &super::shared_params(false), &attrs).unwrap(),
        )
        .unwrap();
        let bwd = super::backward_op(std::sync::Arc::new(cfg), true);
        let time = |name: &str, f: &dyn Fn()| {
            f();
            let reps = 5;
            let t = std::time::Instant::now();
            for _ in 0..reps {
                f();
            }
            println!(
                "{name}: {:.2} ms",
                t.elapsed().as_secs_f64() * 1e3 / reps as f64
            );
        };
        time("Convolution 32x64x28x28 3x3 forward", &|| {
            let y = invoke(&fwd, &[x.clone(), w.clone(), b.clone()], None, None).unwrap();
            y[0].wait_to_read().unwrap();
        });
        time("Convolution 32x64x28x28 3x3 backward", &|| {
            let g = invoke(&bwd, &[dy.clone(), x.clone(), w.clone()], None, None).unwrap();
            for a in &g {
                a.wait_to_read().unwrap();
            }
        });
    }
}
