//! `Pooling_v1`: the legacy 2-D pooling of old model-zoo graphs (Inception-BN and others).
//! It differs from `Pooling` where padding is involved, and graphs depend on it: the input is
//! zero-padded first, so a max window over the border sees the zeros, and avg always divides
//! by the whole kernel area (kernel rows x columns, or H x W under global_pool). The max
//! gradient goes to every element equal to the window's maximum, as MXNet's unpool does.

use super::float;
use super::pooling::{backward_infer, pooled_len};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::reduce::RedElem;
use crate::ndarray::NDArray;
use crate::op::params::{param, Params};
use crate::op::shape_ops::def;
use crate::op::{Desc, FnOp, Inputs, Operator, Registry};
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "Pooling_v1";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Max,
    Avg,
    Sum,
}

#[derive(Debug, Clone)]
struct Cfg {
    kind: Kind,
    global: bool,
    full: bool,
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
}

/// Window geometry of one input shape: kernel, stride, pad (global resolved), input and
/// output spatial sizes.
struct Geom {
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    inp: [usize; 2],
    out: [usize; 2],
}

fn pair(p: &Params, name: &str, default: usize) -> Result<Option<[usize; 2]>> {
    let v = p.shape(name)?;
    match v.len() {
        0 => Ok(Some([default; 2])),
        2 => Ok(Some([v[0], v[1]])),
        3 => Ok(None),
        _ => Err(Error::param(
            OP,
            format!("{name} must be (y, x) or (d, y, x), got {v:?}"),
        )),
    }
}

impl Cfg {
    fn parse(p: &Params) -> Result<Cfg> {
        let global = p.bool("global_pool")?;
        let kind = match p.choice("pool_type", &["avg", "max", "sum"])? {
            "max" => Kind::Max,
            "avg" => Kind::Avg,
            _ => Kind::Sum,
        };
        let full = p.choice("pooling_convention", &["full", "valid"])? == "full";
        let (mut kernel, mut stride, mut pad) = ([1; 2], [1; 2], [0; 2]);
        if !global {
            let k = p.shape("kernel")?;
            if k.len() == 3 {
                return Err(Error::NotImplemented(format!(
                    "{OP}: 3D kernel not implemented (kernel {k:?})"
                )));
            }
            if k.len() != 2 {
                return Err(Error::param(
                    OP,
                    format!("kernel must be (y, x) unless global_pool=True, got {k:?}"),
                ));
            }
            kernel = [k[0], k[1]];
            let dims = |name: &str, v: Option<[usize; 2]>| {
                v.ok_or_else(|| {
                    Error::param(OP, format!("{name} and kernel should have the same length"))
                })
            };
            stride = dims("stride", pair(p, "stride", 1)?)?;
            pad = dims("pad", pair(p, "pad", 0)?)?;
            if kernel.contains(&0) || stride.contains(&0) {
                return Err(Error::param(
                    OP,
                    format!("kernel {kernel:?} and stride {stride:?} must be positive"),
                ));
            }
        }
        Ok(Cfg {
            kind,
            global,
            full,
            kernel,
            stride,
            pad,
        })
    }

    fn geom(&self, d: &Shape) -> Result<Geom> {
        if d.ndim() != 4 {
            return Err(Error::shape(
                OP,
                format!("Input data should be 4D in (batch, channel, y, x), got shape {d}"),
            ));
        }
        let inp = [d[2], d[3]];
        if self.global {
            return Ok(Geom {
                k: inp,
                s: [1, 1],
                p: [0, 0],
                inp,
                out: [1, 1],
            });
        }
        let mut out = [0; 2];
        for (i, o) in out.iter_mut().enumerate() {
            *o = pooled_len(
                OP,
                i,
                d,
                self.pad[i],
                self.kernel[i],
                self.stride[i],
                self.full,
            )?;
        }
        Ok(Geom {
            k: self.kernel,
            s: self.stride,
            p: self.pad,
            inp,
            out,
        })
    }
}

impl Geom {
    /// The real input positions of output (oy, ox)'s window on the zero-padded input, and
    /// whether the window also covers padding.
    fn window(&self, oy: usize, ox: usize) -> ([std::ops::Range<usize>; 2], bool) {
        let mut r = [0..0, 0..0];
        let mut padded = false;
        for (i, o) in [oy, ox].into_iter().enumerate() {
            let lo = o * self.s[i];
            let hi = (lo + self.k[i]).min(self.inp[i] + 2 * self.p[i]);
            let (rlo, rhi) = (
                lo.max(self.p[i]).min(self.inp[i] + self.p[i]),
                hi.clamp(self.p[i], self.inp[i] + self.p[i]),
            );
            padded |= hi > lo && (rlo > lo || rhi < hi);
            r[i] = rlo - self.p[i]..rhi.max(rlo) - self.p[i];
        }
        (r, padded)
    }

    fn scale(&self, kind: Kind) -> f64 {
        match kind {
            Kind::Avg => 1.0 / (self.k[0] * self.k[1]) as f64,
            _ => 1.0,
        }
    }
}

fn forward_t<T: RedElem>(cfg: &Cfg, x: &NDArray, y: &NDArray) -> Result<()> {
    let g = cfg.geom(x.shape())?;
    let (plane, oplane) = (g.inp[0] * g.inp[1], g.out[0] * g.out[1]);
    let scale = g.scale(cfg.kind);
    // SAFETY: inside the op reading x and writing the fresh y of the inferred shape.
    let (xs, ys) = unsafe { (x.data::<T>(), y.data_mut::<T>()) };
    for (xp, yp) in xs.chunks(plane.max(1)).zip(ys.chunks_mut(oplane.max(1))) {
        for oy in 0..g.out[0] {
            for ox in 0..g.out[1] {
                let ([ry, rx], padded) = g.window(oy, ox);
                let mut acc = match cfg.kind {
                    // Zero padding takes part in the maximum.
                    Kind::Max if padded => 0.0,
                    Kind::Max => f64::NEG_INFINITY,
                    _ => 0.0,
                };
                for iy in ry {
                    for ix in rx.clone() {
                        let v = xp[iy * g.inp[1] + ix].to_f64();
                        acc = match cfg.kind {
                            Kind::Max => acc.max(v),
                            _ => acc + v,
                        };
                    }
                }
                yp[oy * g.out[1] + ox] = T::from_f64(acc * scale);
            }
        }
    }
    Ok(())
}

/// Inputs (dy, x, y); output dx.
fn backward_t<T: Element>(cfg: &Cfg, ins: &[NDArray], dx: &NDArray) -> Result<()> {
    let g = cfg.geom(ins[1].shape())?;
    let (plane, oplane) = (g.inp[0] * g.inp[1], g.out[0] * g.out[1]);
    let scale = g.scale(cfg.kind);
    // SAFETY: reads dy, x, y and writes the fresh dx; shapes checked by the backward infer.
    let (dys, xs, ys, dxs) = unsafe {
        (
            ins[0].data::<T>(),
            ins[1].data::<T>(),
            ins[2].data::<T>(),
            dx.data_mut::<T>(),
        )
    };
    let mut acc = vec![0.0f64; plane];
    for (c, dxp) in dxs.chunks_mut(plane.max(1)).enumerate() {
        acc.iter_mut().for_each(|a| *a = 0.0);
        let xp = &xs[c * plane..(c + 1) * plane];
        for oy in 0..g.out[0] {
            for ox in 0..g.out[1] {
                let o = c * oplane + oy * g.out[1] + ox;
                let (d, yv) = (dys[o].to_f64() * scale, ys[o]);
                let ([ry, rx], _) = g.window(oy, ox);
                for iy in ry {
                    for ix in rx.clone() {
                        let i = iy * g.inp[1] + ix;
                        if cfg.kind != Kind::Max || xp[i] == yv {
                            acc[i] += d;
                        }
                    }
                }
            }
        }
        for (d, a) in dxp.iter_mut().zip(&acc) {
            *d = T::from_f64(*a);
        }
    }
    Ok(())
}

fn backward_op(cfg: Arc<Cfg>) -> Arc<dyn Operator> {
    const B: &str = "_backward_Pooling_v1";
    let c2 = cfg.clone();
    FnOp::new(
        B,
        move |inputs| {
            backward_infer(B, inputs, |d| {
                let g = cfg.geom(d)?;
                let d = d.dims();
                Ok(Shape(vec![d[0], d[1], g.out[0], g.out[1]]))
            })
        },
        move |_, ins, outs| by_float!(B, ins[1].dtype(), backward_t, &c2, ins, &outs[0]),
    )
    .arc()
}

fn pool_op(cfg: Cfg) -> Arc<dyn Operator> {
    let cfg = Arc::new(cfg);
    let (c1, c2, c3) = (cfg.clone(), cfg.clone(), cfg);
    FnOp::new(
        OP,
        move |inputs| {
            if inputs.len() != 1 {
                return Err(Error::Value(format!(
                    "operator {OP} takes 1 input (data), {} given",
                    inputs.len()
                )));
            }
            let dt = float(OP, inputs[0].dtype)?;
            let g = c1.geom(&inputs[0].shape)?;
            let d = inputs[0].shape.dims();
            Ok(vec![Desc::new(vec![d[0], d[1], g.out[0], g.out[1]], dt)])
        },
        move |_, ins, outs| by_float!(OP, ins[0].dtype(), forward_t, &c2, &ins[0], &outs[0]),
    )
    .with_grad(move |g, a| {
        let dy = a
            .out_grads
            .first()
            .ok_or_else(|| Error::Internal(format!("{OP} gradient without out_grad")))?;
        let ins = [dy.clone(), a.inputs[0].clone(), a.outputs[0].clone()];
        let mut outs = g.apply(backward_op(c3.clone()), &ins);
        Ok(vec![Some(outs.swap_remove(0))])
    })
    .arc()
}

pub fn register(r: &mut Registry) {
    r.add(def(
        OP,
        "This operator is DEPRECATED. Perform pooling on the input (batch, channel, y, x). The \
         input is zero-padded by pad; each output covers a kernel window moved by stride: \
         valid: out = floor((x + 2*pad - kernel) / stride) + 1, full (Caffe): ceil(...) + 1. \
         max takes the window maximum (padding zeros included), sum its sum, avg its sum \
         divided by the kernel area. global_pool pools each whole feature map.",
        vec![
            param(
                "kernel",
                "Shape(tuple)",
                Some("[]"),
                "pooling kernel size: (y, x) or (d, y, x)",
            ),
            param(
                "pool_type",
                "{'avg', 'max', 'sum'}",
                Some("'max'"),
                "Pooling type to be applied.",
            ),
            param(
                "global_pool",
                "boolean",
                Some("False"),
                "Ignore kernel size, do global pooling based on current input feature map. ",
            ),
            param(
                "pooling_convention",
                "{'full', 'valid'}",
                Some("'valid'"),
                "Pooling convention to be applied.",
            ),
            param(
                "stride",
                "Shape(tuple)",
                Some("[]"),
                "stride: for pooling (y, x) or (d, y, x)",
            ),
            param(
                "pad",
                "Shape(tuple)",
                Some("[]"),
                "pad for pooling: (y, x) or (d, y, x)",
            ),
        ],
        Inputs::Fixed(&["data"]),
        |p| Ok(pool_op(Cfg::parse(p)?)),
    ));
}
