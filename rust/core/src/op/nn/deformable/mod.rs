//! `_contrib_DeformableConvolution` (Deformable ConvNets v1) and
//! `_contrib_ModulatedDeformableConvolution` (v2): 2-D NCHW convolution whose kernel taps read
//! the data at learned fractional offsets (bilinearly sampled), v2 also scaling each tap by a
//! learned mask. The two differ at the image border as MXNet 1.9.1's kernels do
//! (sample.rs). Each op's gradient is one `_backward_*` node giving every input's gradient.

mod kernel;
mod sample;

use super::convolution::tuple;
use super::float;
use crate::error::{Error, Result};
use crate::kernels::cpu::conv::{bias_grad, Real};
use crate::ndarray::NDArray;
use crate::op::params::{param, ParamSpec, Params};
use crate::op::shape_ops::def;
use crate::op::{Desc, FnOp, Inputs, Operator, Registry};
use crate::shape::Shape;
use kernel::{Geo, Grads};
use sample::Rule;
use std::sync::Arc;

const DEFORM: &str = "_contrib_DeformableConvolution";
const MODULATED: &str = "_contrib_ModulatedDeformableConvolution";

#[derive(Debug, Clone)]
struct Cfg {
    op: &'static str,
    modulated: bool,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilate: [usize; 2],
    pad: [usize; 2],
    num_filter: usize,
    num_group: usize,
    num_deformable_group: usize,
    no_bias: bool,
}

fn pair(v: &[usize]) -> [usize; 2] {
    [v[0], v[1]]
}

impl Cfg {
    fn parse(op: &'static str, p: &Params) -> Result<Cfg> {
        let kernel = p.shape("kernel")?;
        if kernel.len() != 2 {
            return Err(Error::param(
                op,
                format!(
                    "only 2-D kernels (h, w) on NCHW data are supported, got kernel {kernel:?}"
                ),
            ));
        }
        let stride = tuple(p, "stride", 2, 1, op)?;
        let dilate = tuple(p, "dilate", 2, 1, op)?;
        let pad = tuple(p, "pad", 2, 0, op)?;
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
        let mut counts = [0usize; 3];
        for (slot, name) in
            counts
                .iter_mut()
                .zip(["num_filter", "num_group", "num_deformable_group"])
        {
            let v = p.int(name)?;
            if v <= 0 {
                return Err(Error::param(
                    op,
                    format!("{name} must be positive, got {v}"),
                ));
            }
            *slot = v as usize;
        }
        let [num_filter, num_group, num_deformable_group] = counts;
        if num_filter % num_group != 0 {
            return Err(Error::param(
                op,
                format!("num_filter ({num_filter}) must be divisible by num_group ({num_group})"),
            ));
        }
        let layout = p.str("layout")?.trim().trim_matches('\'');
        if layout != "None" && layout != "NCHW" {
            return Err(Error::NotImplemented(format!(
                "{op}: layout '{layout}' is not supported; only NCHW (2-D) is implemented"
            )));
        }
        if op == MODULATED && p.int("im2col_step")? <= 0 {
            return Err(Error::param(op, "im2col_step must be positive"));
        }
        Ok(Cfg {
            op,
            modulated: op == MODULATED,
            kernel: pair(&kernel),
            stride: pair(&stride),
            dilate: pair(&dilate),
            pad: pair(&pad),
            num_filter,
            num_group,
            num_deformable_group,
            no_bias: p.bool("no_bias")?,
        })
    }

    /// data, offset, [mask], weight, [bias].
    fn n_in(&self) -> usize {
        3 + usize::from(self.modulated) + usize::from(!self.no_bias)
    }

    fn weight_index(&self) -> usize {
        2 + usize::from(self.modulated)
    }

    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// The convolution's geometry from the data shape.
    fn geo(&self, d: &Shape) -> Result<Geo> {
        if d.ndim() != 4 {
            return Err(Error::shape(
                self.op,
                format!("data must be 4-D (NCHW) for a 2-D kernel, got shape {d}"),
            ));
        }
        for (what, k) in [
            ("num_group", self.num_group),
            ("num_deformable_group", self.num_deformable_group),
        ] {
            if !d[1].is_multiple_of(k) {
                return Err(Error::shape(
                    self.op,
                    format!(
                        "input channels ({}) of data {d} must be divisible by {what} ({k})",
                        d[1]
                    ),
                ));
            }
        }
        let mut out = [0; 2];
        for i in 0..2 {
            let dk = self.dilate[i] * (self.kernel[i] - 1) + 1;
            let padded = d[2 + i] + 2 * self.pad[i];
            if dk > padded {
                return Err(Error::shape(
                    self.op,
                    format!(
                        "kernel size exceeds input: dilated kernel {dk} > padded input {padded} \
                         in dimension {i} (data {d}, kernel {:?}, pad {:?}, dilate {:?})",
                        self.kernel, self.pad, self.dilate
                    ),
                ));
            }
            out[i] = (padded - dk) / self.stride[i] + 1;
        }
        Ok(Geo {
            rule: if self.modulated {
                Rule::Zero
            } else {
                Rule::Clamp
            },
            n: d[0],
            c: d[1],
            h: d[2],
            w: d[3],
            f: self.num_filter,
            groups: self.num_group,
            dg: self.num_deformable_group,
            kernel: self.kernel,
            stride: self.stride,
            dilate: self.dilate,
            pad: self.pad,
            out,
        })
    }

    /// Expected shapes of every input after data, named, from the geometry.
    fn side_shapes(&self, g: &Geo) -> Vec<(&'static str, Shape)> {
        let (k, dg) = (self.taps(), self.num_deformable_group);
        let mut v = vec![("offset", Shape(vec![g.n, dg * 2 * k, g.out[0], g.out[1]]))];
        if self.modulated {
            v.push(("mask", Shape(vec![g.n, dg * k, g.out[0], g.out[1]])));
        }
        v.push((
            "weight",
            Shape(vec![
                self.num_filter,
                g.c / self.num_group,
                self.kernel[0],
                self.kernel[1],
            ]),
        ));
        if !self.no_bias {
            v.push(("bias", Shape(vec![self.num_filter])));
        }
        v
    }

    fn out_shape(&self, g: &Geo) -> Shape {
        Shape(vec![g.n, self.num_filter, g.out[0], g.out[1]])
    }

    fn check_count(&self, name: &str, n: usize, given: usize) -> Result<()> {
        if n != given {
            let names = if self.modulated {
                "data, offset, mask, weight"
            } else {
                "data, offset, weight"
            };
            return Err(Error::Value(format!(
                "operator {name} takes {n} inputs ({names}{}), {given} given",
                if self.no_bias {
                    ": no_bias=True"
                } else {
                    ", bias"
                }
            )));
        }
        Ok(())
    }
}

fn infer(cfg: &Cfg, inputs: &[Desc]) -> Result<Vec<Desc>> {
    cfg.check_count(cfg.op, cfg.n_in(), inputs.len())?;
    let dt = float(cfg.op, inputs[0].dtype)?;
    let g = cfg.geo(&inputs[0].shape)?;
    for (x, (name, want)) in inputs[1..].iter().zip(cfg.side_shapes(&g)) {
        if x.shape != want {
            return Err(Error::shape(
                cfg.op,
                format!(
                    "input {name} has shape {}, expected {want} for data {} (kernel {:?}, \
                     num_deformable_group {}, num_filter {}, num_group {})",
                    x.shape,
                    inputs[0].shape,
                    cfg.kernel,
                    cfg.num_deformable_group,
                    cfg.num_filter,
                    cfg.num_group
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
    Ok(vec![Desc::new(cfg.out_shape(&g), dt)])
}

fn forward_t<T: Real>(cfg: &Cfg, ins: &[NDArray], out: &NDArray) -> Result<()> {
    let g = cfg.geo(ins[0].shape())?;
    let wi = cfg.weight_index();
    // SAFETY: inside the op reading the inputs and writing `out`, fresh and disjoint from
    // them; `infer` checked every shape against `g`.
    unsafe {
        let y = out.data_mut::<T>();
        if g.empty() {
            y.fill(T::ZERO);
            return Ok(());
        }
        let mask = cfg.modulated.then(|| ins[2].data::<T>());
        let bias = ins.get(wi + 1).map(|b| b.data::<T>());
        kernel::forward(
            &g,
            ins[0].data::<T>(),
            ins[1].data::<T>(),
            mask,
            ins[wi].data::<T>(),
            bias,
            y,
        );
    }
    Ok(())
}

/// Inputs dY, data, offset, [mask], weight; outputs the gradients of data, offset, [mask],
/// weight, [bias].
fn backward_t<T: Real>(cfg: &Cfg, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let g = cfg.geo(ins[1].shape())?;
    let m = usize::from(cfg.modulated);
    // SAFETY: reads dY and the forward inputs, writes the fresh, disjoint outputs whose
    // shapes the backward `infer` checked.
    unsafe {
        let dx = outs[0].data_mut::<T>();
        let doff = outs[1].data_mut::<T>();
        let mut dmask = cfg.modulated.then(|| outs[2].data_mut::<T>());
        let dw = outs[2 + m].data_mut::<T>();
        let db = outs.get(3 + m).map(|b| b.data_mut::<T>());
        if g.empty() {
            dx.fill(T::ZERO);
            doff.fill(T::ZERO);
            if let Some(d) = dmask.as_deref_mut() {
                d.fill(T::ZERO);
            }
            dw.fill(T::ZERO);
            if let Some(db) = db {
                db.fill(T::ZERO);
            }
            return Ok(());
        }
        let dy = ins[0].data::<T>();
        let mask = cfg.modulated.then(|| ins[3].data::<T>());
        kernel::backward(
            &g,
            dy,
            ins[1].data::<T>(),
            ins[2].data::<T>(),
            mask,
            ins[3 + m].data::<T>(),
            Grads {
                dx,
                doff,
                dmask,
                dw,
            },
        );
        if let Some(db) = db {
            bias_grad(g.n, g.f, g.out[0] * g.out[1], dy, db);
        }
    }
    Ok(())
}

fn backward_op(cfg: Arc<Cfg>) -> Arc<dyn Operator> {
    let name = if cfg.modulated {
        "_backward__contrib_ModulatedDeformableConvolution"
    } else {
        "_backward__contrib_DeformableConvolution"
    };
    let c2 = cfg.clone();
    let n_out = cfg.n_in();
    let mut op = FnOp::new(
        name,
        move |inputs| {
            let n_fwd = 3 + usize::from(cfg.modulated);
            cfg.check_count(name, n_fwd + 1, inputs.len())?;
            let dt = float(name, inputs[1].dtype)?;
            let g = cfg.geo(&inputs[1].shape)?;
            let want = cfg.out_shape(&g);
            if inputs[0].shape != want {
                return Err(Error::shape(
                    name,
                    format!(
                        "output gradient has shape {}, the output has shape {want}",
                        inputs[0].shape
                    ),
                ));
            }
            let mut v = vec![Desc::new(inputs[1].shape.clone(), dt)];
            v.extend(
                cfg.side_shapes(&g)
                    .into_iter()
                    .map(|(_, s)| Desc::new(s, dt)),
            );
            Ok(v)
        },
        move |_, ins, outs| by_float!(name, ins[1].dtype(), backward_t, &c2, ins, outs),
    );
    op.num_outputs = n_out;
    op.arc()
}

fn deform_op(cfg: Cfg) -> Arc<dyn Operator> {
    let cfg = Arc::new(cfg);
    let (c1, c2, c3, c4) = (cfg.clone(), cfg.clone(), cfg.clone(), cfg.clone());
    let mut op = FnOp::new(
        cfg.op,
        move |inputs| infer(&c1, inputs),
        move |_, ins, outs| by_float!(c2.op, ins[0].dtype(), forward_t, &c2, ins, &outs[0]),
    )
    .with_shape_partial(move |ins, outs| {
        let Some(d) = ins.first().cloned().flatten() else {
            return Ok(());
        };
        if d.0.contains(&0) {
            return Ok(());
        }
        let g = c3.geo(&d)?;
        for (slot, (_, s)) in ins.iter_mut().skip(1).zip(c3.side_shapes(&g)) {
            if slot.is_none() {
                *slot = Some(s);
            }
        }
        if let Some(o) = outs.first_mut() {
            if o.is_none() {
                *o = Some(c3.out_shape(&g));
            }
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let dy = a
            .out_grads
            .first()
            .ok_or_else(|| Error::Internal(format!("{} gradient without out_grad", c4.op)))?;
        let n_fwd = 3 + usize::from(c4.modulated);
        let mut ins = vec![dy.clone()];
        ins.extend(a.inputs[..n_fwd].iter().cloned());
        let outs = g.apply(backward_op(c4.clone()), &ins);
        Ok(outs.into_iter().map(Some).collect())
    });
    op.num_inputs = Some(cfg.n_in());
    op.arc()
}

fn params(modulated: bool) -> Vec<ParamSpec> {
    let count = if modulated {
        "int (non-negative)"
    } else {
        "int"
    };
    let mut v =
        vec![
        param(
            "kernel",
            "Shape(tuple)",
            None,
            "Convolution kernel size: (h, w); only 2-D kernels are supported.",
        ),
        param(
            "stride",
            "Shape(tuple)",
            Some("[]"),
            "Convolution stride: (h, w). Defaults to 1 for each dimension.",
        ),
        param(
            "dilate",
            "Shape(tuple)",
            Some("[]"),
            "Convolution dilate: (h, w). Defaults to 1 for each dimension.",
        ),
        param(
            "pad",
            "Shape(tuple)",
            Some("[]"),
            "Zero pad for convolution: (h, w). Defaults to no padding.",
        ),
        param("num_filter", count, None, "Convolution filter(channel) number"),
        param("num_group", count, Some("1"), "Number of group partitions."),
        param(
            "num_deformable_group",
            count,
            Some("1"),
            "Number of deformable group partitions: the data channels are split into this many \
             groups, each with its own offsets (and mask).",
        ),
        param(
            "workspace",
            "long (non-negative)",
            Some("1024"),
            "Maximum temporary workspace allowed (MB); accepted for compatibility, unused on CPU.",
        ),
        param(
            "no_bias",
            "boolean",
            Some("False"),
            "Whether to disable bias parameter.",
        ),
    ];
    if modulated {
        v.push(param(
            "im2col_step",
            "int (non-negative)",
            Some("64"),
            "Maximum number of images per im2col computation; accepted for compatibility (the \
             CPU kernel unfolds one image at a time).",
        ));
    }
    v.push(param(
        "layout",
        "{None, 'NCDHW', 'NCHW', 'NCW'}",
        Some("None"),
        "Set layout for input, output and weight; only NCHW (the default) is supported.",
    ));
    v
}

pub fn register(r: &mut Registry) {
    r.add(def(
        DEFORM,
        "Compute 2-D deformable convolution on 4-D NCHW input (Deformable ConvNets, \
         https://arxiv.org/abs/1703.06211). `offset` has shape (batch, \
         num_deformable_group*2*kh*kw, out_h, out_w): for each kernel tap the (dy, dx) shift of \
         its sampling position, read bilinearly (zero outside the image). The weight has shape \
         (num_filter, channels/num_group, kh, kw) and the bias (num_filter,).",
        params(false),
        Inputs::Fixed(&["data", "offset", "weight", "bias"]),
        |p| Ok(deform_op(Cfg::parse(DEFORM, p)?)),
    ));
    r.add(def(
        MODULATED,
        "Compute 2-D modulated deformable convolution on 4-D NCHW input (Deformable ConvNets \
         v2, https://arxiv.org/abs/1811.11168): as DeformableConvolution, with each sampled \
         value scaled by `mask` of shape (batch, num_deformable_group*kh*kw, out_h, out_w); \
         samples within one pixel outside the image blend with zero.",
        params(true),
        Inputs::Fixed(&["data", "offset", "mask", "weight", "bias"]),
        |p| Ok(deform_op(Cfg::parse(MODULATED, p)?)),
    ));
}

#[cfg(test)]
mod tests;
