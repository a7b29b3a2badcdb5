//! `Correlation` (FlowNet): compares each kernel_size² patch of `data1` with the patches of
//! `data2` displaced by up to `max_displacement` (in steps of `stride2`), sampling `data1`'s
//! patches every `stride1`, over zero padding of `pad_size`. Output channel q is the
//! displacement (q / grid_width, q % grid_width) of the (2·max_displacement/stride2 + 1)² grid,
//! row-major from (-radius, -radius); each value is the patch's mean product (`is_multiply`)
//! or mean absolute difference over kernel_size² · channels.
//!
//! MXNet's layout and rounding: output position (i, j)'s patch starts at (i·stride1 +
//! max_displacement, j·stride1 + max_displacement) of the padded map, and the output size is
//! ceil((padded - 2·(max_displacement + kernel_size/2)) / stride1). The gradient of the
//! absolute difference at a tie is +1 for data1 and -1 for data2, as MXNet's. Unlike MXNet,
//! data2 must have data1's shape (MXNet reads it with data1's) and an even kernel_size is an
//! error when the op is created rather than when it runs.

use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::shape_ops::def;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry};
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "Correlation";
const B: &str = "_backward_Correlation";

#[derive(Debug, Clone, Copy)]
struct Cfg {
    kernel: usize,
    max_disp: usize,
    stride1: usize,
    stride2: usize,
    pad: usize,
    multiply: bool,
}

/// Sizes of one call.
#[derive(Debug, Clone, Copy)]
struct Geo {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    top_h: usize,
    top_w: usize,
    /// Displacement grid width (2·radius + 1); the output has grid² channels.
    grid: usize,
    radius: usize,
}

impl Cfg {
    fn geo(&self, op: &str, a: &Shape, b: &Shape) -> Result<Geo> {
        if a.ndim() != 4 || a != b {
            return Err(Error::shape(
                op,
                format!("data1 and data2 must be 4-D (NCHW) arrays of one shape, got {a} and {b}"),
            ));
        }
        let border = self.max_disp + (self.kernel - 1) / 2;
        let (ph, pw) = (a[2] + 2 * self.pad, a[3] + 2 * self.pad);
        if ph <= 2 * border || pw <= 2 * border {
            return Err(Error::shape(
                op,
                format!(
                    "Correlation cannot be done with current settings: neighborhood and kernel \
                     don't fit in the data (data {a}, pad_size {}, kernel_size {}, \
                     max_displacement {})",
                    self.pad, self.kernel, self.max_disp
                ),
            ));
        }
        let radius = self.max_disp / self.stride2;
        Ok(Geo {
            n: a[0],
            c: a[1],
            h: a[2],
            w: a[3],
            top_h: (ph - 2 * border).div_ceil(self.stride1),
            top_w: (pw - 2 * border).div_ceil(self.stride1),
            grid: 2 * radius + 1,
            radius,
        })
    }

    fn out_shape(&self, g: &Geo) -> Shape {
        Shape(vec![g.n, g.grid * g.grid, g.top_h, g.top_w])
    }

    /// For output (q, i, j): padded coordinates of the data1 and data2 patches' corners.
    fn corners(&self, g: &Geo, q: usize, i: usize, j: usize) -> ((isize, isize), (isize, isize)) {
        let (y1, x1) = (
            i * self.stride1 + self.max_disp,
            j * self.stride1 + self.max_disp,
        );
        let dy = (q / g.grid) as isize - g.radius as isize;
        let dx = (q % g.grid) as isize - g.radius as isize;
        let s2 = self.stride2 as isize;
        let (y1, x1) = (y1 as isize, x1 as isize);
        ((y1, x1), (y1 + dy * s2, x1 + dx * s2))
    }
}

/// Index into one sample's (c, h, w) plane stack of the unpadded position of padded (y, x),
/// or None in the padding.
#[inline]
fn at(g: &Geo, pad: usize, ch: usize, y: isize, x: isize) -> Option<usize> {
    let (y, x) = (y - pad as isize, x - pad as isize);
    if y < 0 || x < 0 || y >= g.h as isize || x >= g.w as isize {
        return None;
    }
    Some((ch * g.h + y as usize) * g.w + x as usize)
}

fn forward_t<T: Element>(cfg: Cfg, g: &Geo, a: &NDArray, b: &NDArray, out: &NDArray) -> Result<()> {
    let plane = g.c * g.h * g.w;
    let top = g.top_h * g.top_w;
    let chans = g.grid * g.grid;
    let norm = (cfg.kernel * cfg.kernel * g.c) as f64;
    // SAFETY: inside the op reading a, b and writing the fresh out; shapes checked by `geo`.
    let (da, db) = unsafe { (a.data::<T>(), b.data::<T>()) };
    // SAFETY: as above; each task writes only its own output planes.
    let po = Ptr(unsafe { out.raw() } as *mut T);
    par_ranges(g.n * chans, top * cfg.kernel * cfg.kernel * g.c, |s, e| {
        for item in s..e {
            let (ni, q) = (item / chans, item % chans);
            let (sa, sb) = (&da[ni * plane..][..plane], &db[ni * plane..][..plane]);
            // SAFETY: output plane `item` belongs to this task.
            let dst = unsafe { std::slice::from_raw_parts_mut(po.get().add(item * top), top) };
            for i in 0..g.top_h {
                for j in 0..g.top_w {
                    let ((y1, x1), (y2, x2)) = cfg.corners(g, q, i, j);
                    let mut acc = 0.0;
                    for ch in 0..g.c {
                        for h in 0..cfg.kernel as isize {
                            for w in 0..cfg.kernel as isize {
                                let v1 = at(g, cfg.pad, ch, y1 + h, x1 + w)
                                    .map_or(0.0, |k| sa[k].to_f64());
                                let v2 = at(g, cfg.pad, ch, y2 + h, x2 + w)
                                    .map_or(0.0, |k| sb[k].to_f64());
                                acc += if cfg.multiply {
                                    v1 * v2
                                } else {
                                    (v1 - v2).abs()
                                };
                            }
                        }
                    }
                    dst[i * g.top_w + j] = T::from_f64(acc / norm);
                }
            }
        }
    });
    Ok(())
}

/// Inputs dY, data1, data2; outputs the two data gradients. One task per sample, whose
/// gradients it owns, accumulating in f64.
fn backward_t<T: Element>(cfg: Cfg, g: &Geo, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let plane = g.c * g.h * g.w;
    let top = g.top_h * g.top_w;
    let chans = g.grid * g.grid;
    let norm = (cfg.kernel * cfg.kernel * g.c) as f64;
    // SAFETY: inside the op reading dY, data1, data2 and writing the fresh gradients; shapes
    // checked by `geo` and the backward infer.
    let (dy, da, db) = unsafe { (ins[0].data::<T>(), ins[1].data::<T>(), ins[2].data::<T>()) };
    // SAFETY: as above; each task writes only its own samples.
    let (pa, pb) = unsafe { (Ptr(outs[0].raw() as *mut T), Ptr(outs[1].raw() as *mut T)) };
    par_ranges(g.n, chans * top * cfg.kernel * cfg.kernel * g.c, |s, e| {
        let (mut ga, mut gb) = (vec![0.0f64; plane], vec![0.0f64; plane]);
        for ni in s..e {
            ga.fill(0.0);
            gb.fill(0.0);
            let (sa, sb) = (&da[ni * plane..][..plane], &db[ni * plane..][..plane]);
            for q in 0..chans {
                let dq = &dy[(ni * chans + q) * top..][..top];
                for i in 0..g.top_h {
                    for j in 0..g.top_w {
                        let d = dq[i * g.top_w + j].to_f64() / norm;
                        let ((y1, x1), (y2, x2)) = cfg.corners(g, q, i, j);
                        for ch in 0..g.c {
                            for h in 0..cfg.kernel as isize {
                                for w in 0..cfg.kernel as isize {
                                    let k1 = at(g, cfg.pad, ch, y1 + h, x1 + w);
                                    let k2 = at(g, cfg.pad, ch, y2 + h, x2 + w);
                                    let v1 = k1.map_or(0.0, |k| sa[k].to_f64());
                                    let v2 = k2.map_or(0.0, |k| sb[k].to_f64());
                                    let (d1, d2) = if cfg.multiply {
                                        (d * v2, d * v1)
                                    } else if v1 >= v2 {
                                        (d, -d)
                                    } else {
                                        (-d, d)
                                    };
                                    if let Some(k) = k1 {
                                        ga[k] += d1;
                                    }
                                    if let Some(k) = k2 {
                                        gb[k] += d2;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // SAFETY: sample ni of both gradients belongs to this task.
            let (oa, ob) = unsafe {
                (
                    std::slice::from_raw_parts_mut(pa.get().add(ni * plane), plane),
                    std::slice::from_raw_parts_mut(pb.get().add(ni * plane), plane),
                )
            };
            for (o, v) in oa.iter_mut().zip(&ga) {
                *o = T::from_f64(*v);
            }
            for (o, v) in ob.iter_mut().zip(&gb) {
                *o = T::from_f64(*v);
            }
        }
    });
    Ok(())
}

fn same_float(op: &str, ins: &[Desc]) -> Result<crate::dtype::DType> {
    let dt = ins[0].dtype;
    if let Some(o) = ins.iter().find(|d| d.dtype != dt) {
        return Err(Error::dtype(
            op,
            format!("all inputs must have one dtype, got {dt} and {}", o.dtype),
        ));
    }
    super::float(op, dt)
}

fn backward_op(cfg: Cfg) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        B,
        move |ins| {
            expect_inputs(B, ins, 3)?;
            let dt = same_float(B, ins)?;
            let g = cfg.geo(B, &ins[1].shape, &ins[2].shape)?;
            let os = cfg.out_shape(&g);
            if ins[0].shape != os {
                return Err(Error::shape(
                    B,
                    format!(
                        "output gradient {} must have the output shape {os}",
                        ins[0].shape
                    ),
                ));
            }
            Ok(vec![Desc::new(ins[1].shape.clone(), dt); 2])
        },
        move |_, ins, outs| {
            let g = cfg.geo(B, ins[1].shape(), ins[2].shape())?;
            by_float!(B, ins[0].dtype(), backward_t, cfg, &g, ins, outs)
        },
    );
    op.num_outputs = 2;
    op.arc()
}

fn forward_op(cfg: Cfg) -> Arc<dyn Operator> {
    FnOp::new(
        OP,
        move |ins| {
            expect_inputs(OP, ins, 2)?;
            let dt = same_float(OP, ins)?;
            let g = cfg.geo(OP, &ins[0].shape, &ins[1].shape)?;
            Ok(vec![Desc::new(cfg.out_shape(&g), dt)])
        },
        move |_, ins, outs| {
            let g = cfg.geo(OP, ins[0].shape(), ins[1].shape())?;
            by_float!(
                OP,
                ins[0].dtype(),
                forward_t,
                cfg,
                &g,
                &ins[0],
                &ins[1],
                &outs[0]
            )
        },
    )
    // MXNet keeps both padded inputs as hidden outputs.
    .with_mxnet_outputs(3)
    .with_shape_partial(|ins, _| {
        // The two maps share one shape.
        match (&ins[0], &ins[1]) {
            (Some(a), None) => ins[1] = Some(a.clone()),
            (None, Some(b)) => ins[0] = Some(b.clone()),
            _ => {}
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let dy = a
            .out_grads
            .first()
            .ok_or_else(|| Error::Internal(format!("{OP} gradient without out_grad")))?;
        let ins = [dy.clone(), a.inputs[0].clone(), a.inputs[1].clone()];
        Ok(g.apply(backward_op(cfg), &ins)
            .into_iter()
            .map(Some)
            .collect())
    })
    .arc()
}

fn parse(p: &crate::op::Params) -> Result<Cfg> {
    let get = |name: &str| -> Result<usize> {
        let v = p.int(name)?;
        usize::try_from(v)
            .map_err(|_| Error::param(OP, format!("{name} must be non-negative, got {v}")))
    };
    let cfg = Cfg {
        kernel: get("kernel_size")?,
        max_disp: get("max_displacement")?,
        stride1: get("stride1")?,
        stride2: get("stride2")?,
        pad: get("pad_size")?,
        multiply: p.bool("is_multiply")?,
    };
    if cfg.kernel.is_multiple_of(2) {
        return Err(Error::param(
            OP,
            format!(
                "kernel size should be odd number, got kernel_size={}",
                cfg.kernel
            ),
        ));
    }
    if cfg.stride1 == 0 || cfg.stride2 == 0 {
        return Err(Error::param(
            OP,
            format!(
                "stride1 and stride2 must be at least 1, got {} and {}",
                cfg.stride1, cfg.stride2
            ),
        ));
    }
    Ok(cfg)
}

pub fn register(r: &mut Registry) {
    r.add(def(
        OP,
        "Applies correlation to inputs. The correlation layer (FlowNet) performs \
         multiplicative patch comparisons between two feature maps f1, f2 of shape (N, C, H, \
         W): c(x1, x2) = sum over o in [-k, k]^2 of <f1(x1 + o), f2(x2 + o)> for a square patch \
         of size K := 2k + 1 (kernel_size), divided by K^2 * C. Given a maximum displacement d, \
         for each location x1 (sampled every stride1) it computes c(x1, x2) only in a \
         neighborhood of size D := 2d + 1 around x1, x2 sampled every stride2 within it: \
         out[n, q, i, j] = c(x_{i, j}, x_q), q enumerating the (2 * (d / stride2) + 1)^2 \
         displacements row-major. With is_multiply=False the patches are compared by the mean \
         absolute difference instead. The maps are zero-padded by pad_size.",
        vec![
            param(
                "kernel_size",
                "int (non-negative)",
                Some("1"),
                "kernel size for Correlation must be an odd number",
            ),
            param(
                "max_displacement",
                "int (non-negative)",
                Some("1"),
                "Max displacement of Correlation ",
            ),
            param(
                "stride1",
                "int (non-negative)",
                Some("1"),
                "stride1 quantize data1 globally",
            ),
            param(
                "stride2",
                "int (non-negative)",
                Some("1"),
                "stride2 quantize data2 within the neighborhood centered around data1",
            ),
            param(
                "pad_size",
                "int (non-negative)",
                Some("0"),
                "pad for Correlation",
            ),
            param(
                "is_multiply",
                "boolean",
                Some("True"),
                "operation type is either multiplication or subduction",
            ),
        ],
        Inputs::Fixed(&["data1", "data2"]),
        |p| Ok(forward_op(parse(p)?)),
    ));
}
