//! Data movement on images: `_image_to_tensor` (HWC → CHW scaled to [0, 1]),
//! `_image_normalize` (per-channel (x - mean) / std on CHW), the flips and their random
//! variants, and `_image_crop`. Unlike MXNet 1.9.1, whose flips leave the middle column/row
//! of an odd-sized image unwritten and whose gradients of flips and to_tensor are a plain copy,
//! every element is written here and the gradients are the true ones.

use super::{check_hwc_gray_or_rgb, check_numeric, rng};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::cpu::par_ranges;
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, read_f64, write_f64};
use crate::op::{Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use crate::with_dtype;
use std::sync::Arc;

/// out[i] = src[idx(i)] for every output element (same dtype). Call inside the op.
fn gather(src: &NDArray, dst: &NDArray, idx: impl Fn(usize) -> usize + Sync + Send) {
    with_dtype!(dst.dtype(), T, {
        // SAFETY: the calling op reads src and writes dst; they do not overlap (invoke
        // computes into fresh arrays when they would).
        let s = unsafe { src.data::<T>() };
        // SAFETY: as above; the pointer is only written below, one index per task.
        let d = unsafe { crate::kernels::cpu::Ptr(dst.raw() as *mut T) };
        par_ranges(dst.size(), 1, |b, e| {
            for i in b..e {
                // SAFETY: i < dst.size() and each index is written by one task only.
                unsafe { *d.get().add(i) = s[idx(i)] }
            }
        });
    })
}

/// (batch, height, width, channels) of a 3-D or 4-D image.
fn nhwc(s: &Shape) -> (usize, usize, usize, usize) {
    let d = s.dims();
    match d.len() {
        3 => (1, d[0], d[1], d[2]),
        _ => (d[0], d[1], d[2], d[3]),
    }
}

fn to_tensor(r: &mut Registry) {
    const OP: &str = "_image_to_tensor";
    const BWD: &str = "_backward_image_to_tensor";
    r.add(SimpleDef {
        name: OP,
        doc: "Converts an image NDArray of shape (H x W x C) or (N x H x W x C) with values in the range [0, 255] to a tensor NDArray of shape (C x H x W) or (N x C x H x W) with values in the range [0, 1] (float32: x / 255).".into(),
        params: vec![],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|_| {
            let mut op = FnOp::new(
                OP,
                |ins| {
                    expect_inputs(OP, ins, 1)?;
                    check_numeric(OP, &ins[0])?;
                    let s = &ins[0].shape;
                    let out = match s.dims() {
                        [h, w, c] => vec![*c, *h, *w],
                        [n, h, w, c] => vec![*n, *c, *h, *w],
                        _ => {
                            return Err(Error::shape(
                                OP,
                                format!("Input image must have shape (height, width, channels), or (N, height, width, channels) but got {s}"),
                            ))
                        }
                    };
                    Ok(vec![Desc::new(Shape::new(out), DType::F32)])
                },
                |_, ins, outs| {
                    let (n, h, w, c) = nhwc(ins[0].shape());
                    let x = read_f64(&ins[0]);
                    let mut y = vec![0.0; x.len()];
                    for b in 0..n {
                        for p in 0..h * w {
                            for k in 0..c {
                                // MXNet divides in float32.
                                let v = x[(b * h * w + p) * c + k] as f32 / 255.0f32;
                                y[(b * c + k) * h * w + p] = v as f64;
                            }
                        }
                    }
                    write_f64(&outs[0], &y);
                    Ok(())
                },
            );
            op.type_partial = Some(Box::new(|_, outs| {
                match outs[0] {
                    Some(t) if t != DType::F32 => Err(Error::dtype(
                        OP,
                        format!("the output is float32, got {t}"),
                    )),
                    _ => {
                        outs[0] = Some(DType::F32);
                        Ok(())
                    }
                }
            }));
            Ok(op
                .with_grad(|g, a| {
                    let r = g.apply(
                        backward_to_tensor(BWD),
                        &[a.out_grads[0].clone(), a.inputs[0].clone()],
                    );
                    Ok(vec![Some(r[0].clone())])
                })
                .arc())
        }),
    });
}

/// d(to_tensor)/d(data): the head gradient moved back to HWC and divided by 255, in the dtype
/// of data. Inputs (head gradient, data).
fn backward_to_tensor(name: &'static str) -> Arc<dyn Operator> {
    FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 2)?;
            Ok(vec![ins[1].clone()])
        },
        |_, ins, outs| {
            let (n, h, w, c) = nhwc(ins[1].shape());
            let g = read_f64(&ins[0]);
            let mut y = vec![0.0; g.len()];
            for b in 0..n {
                for p in 0..h * w {
                    for k in 0..c {
                        y[(b * h * w + p) * c + k] = g[(b * c + k) * h * w + p] / 255.0;
                    }
                }
            }
            write_f64(&outs[0], &y);
            Ok(())
        },
    )
    .arc()
}

/// Per-channel mean and std (as float32, MXNet's parameter type) for `c` channels.
fn channel_params(mean: &[f64], std: &[f64], c: usize) -> Vec<(f64, f64)> {
    (0..c)
        .map(|k| {
            let m = mean[if mean.len() > 1 { k } else { 0 }] as f32 as f64;
            let s = std[if std.len() > 1 { k } else { 0 }] as f32 as f64;
            (m, s)
        })
        .collect()
}

/// (batch, channels, plane size) of a CHW or NCHW tensor.
fn nc_plane(s: &Shape) -> (usize, usize, usize) {
    let d = s.dims();
    match d.len() {
        3 => (1, d[0], d[1] * d[2]),
        _ => (d[0], d[1], d[2] * d[3]),
    }
}

fn normalize(r: &mut Registry) {
    const OP: &str = "_image_normalize";
    r.add(SimpleDef {
        name: OP,
        doc: "Normalize a tensor of shape (C x H x W) or (N x C x H x W) with mean and standard deviation: output[c] = (input[c] - mean[c]) / std[c]. C must be 1 or 3; mean and std hold 1 value (applied to every channel) or C values. The defaults have 4 values, so mean and std must be given (as in MXNet).".into(),
        params: vec![
            param("mean", "tuple of <float>", Some("[0,0,0,0]"), "Sequence of means for each channel. Default value is 0."),
            param("std", "tuple of <float>", Some("[1,1,1,1]"), "Sequence of standard deviations for each channel. Default value is 1."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let (mean, std) = (p.floats("mean")?, p.floats("std")?);
            let (m2, s2) = (mean.clone(), std.clone());
            let op = FnOp::new(
                OP,
                move |ins| {
                    expect_inputs(OP, ins, 1)?;
                    check_numeric(OP, &ins[0])?;
                    let s = &ins[0].shape;
                    let c = match s.ndim() {
                        3 => s[0],
                        4 => s[1],
                        _ => return Err(Error::shape(OP, format!("Input tensor must have shape (channels, height, width), or (N, channels, height, width), but got {s}"))),
                    };
                    if c != 1 && c != 3 {
                        let which = if s.ndim() == 3 { "first" } else { "second" };
                        return Err(Error::shape(OP, format!("The {which} dimension of input tensor must be the channel dimension with either 1 or 3 elements, but got input with shape {s}")));
                    }
                    for (name, v) in [("mean", &mean), ("std", &std)] {
                        if v.len() != 1 && v.len() != c {
                            return Err(Error::param(OP, format!("Invalid {name} for input with shape {s}. {name} must have either 1 or {c} elements, but got {v:?}")));
                        }
                    }
                    Ok(vec![ins[0].clone()])
                },
                move |_, ins, outs| {
                    let (n, c, plane) = nc_plane(ins[0].shape());
                    let cp = channel_params(&m2, &s2, c);
                    let mut x = read_f64(&ins[0]);
                    let single = ins[0].dtype() == DType::F32;
                    for b in 0..n {
                        for (k, &(m, s)) in cp.iter().enumerate() {
                            let base = (b * c + k) * plane;
                            for v in &mut x[base..base + plane] {
                                // float32 data is computed in float32, as MXNet does.
                                *v = if single {
                                    ((*v as f32 - m as f32) / s as f32) as f64
                                } else {
                                    (*v - m) / s
                                };
                            }
                        }
                    }
                    write_f64(&outs[0], &x);
                    Ok(())
                },
            );
            let std_g = p.floats("std")?;
            Ok(op
                .with_grad(move |g, a| {
                    let r = g.apply(
                        backward_normalize(std_g.clone()),
                        &[a.out_grads[0].clone()],
                    );
                    Ok(vec![Some(r[0].clone())])
                })
                .arc())
        }),
    });
}

/// d(normalize)/d(data) = head gradient / std of the channel. Linear, so it is its own
/// gradient.
fn backward_normalize(std: Vec<f64>) -> Arc<dyn Operator> {
    const NAME: &str = "_backward_image_normalize";
    let s2 = std.clone();
    FnOp::new(
        NAME,
        |ins| {
            expect_inputs(NAME, ins, 1)?;
            Ok(vec![ins[0].clone()])
        },
        move |_, ins, outs| {
            let (n, c, plane) = nc_plane(ins[0].shape());
            let cp = channel_params(&[0.0], &std, c);
            let mut x = read_f64(&ins[0]);
            for b in 0..n {
                for (k, &(_, s)) in cp.iter().enumerate() {
                    let base = (b * c + k) * plane;
                    x[base..base + plane].iter_mut().for_each(|v| *v /= s);
                }
            }
            write_f64(&outs[0], &x);
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let r = g.apply(backward_normalize(s2.clone()), &[a.out_grads[0].clone()]);
        Ok(vec![Some(r[0].clone())])
    })
    .arc()
}

#[derive(Clone, Copy)]
enum Axis {
    LeftRight,
    TopBottom,
}

/// Flips an (H, W, C) image along `axis` into `out`.
fn flip_into(src: &NDArray, dst: &NDArray, axis: Axis) {
    let (_, h, w, c) = nhwc(src.shape());
    gather(src, dst, move |i| {
        let (y, x, k) = (i / (w * c), (i / c) % w, i % c);
        match axis {
            Axis::LeftRight => (y * w + (w - 1 - x)) * c + k,
            Axis::TopBottom => ((h - 1 - y) * w + x) * c + k,
        }
    })
}

fn flip_op(name: &'static str, axis: Axis, random: bool) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 1)?;
            check_hwc_gray_or_rgb(name, &ins[0])?;
            Ok(vec![ins[0].clone()])
        },
        move |cx, ins, outs| {
            // MXNet flips when its Bernoulli(0.5) draw is false.
            if random && rng(cx.seed).next_f64() >= 0.5 {
                gather(&ins[0], &outs[0], |i| i);
            } else {
                flip_into(&ins[0], &outs[0], axis);
            }
            Ok(())
        },
    );
    op.rng = random;
    op.shape_partial = Some(Box::new(crate::graph::infer::same_shape_partial));
    let det: &'static str = match axis {
        Axis::LeftRight => "_image_flip_left_right",
        Axis::TopBottom => "_image_flip_top_bottom",
    };
    op.with_grad(move |g, a| {
        if random {
            // MXNet's gradient of the random flips: the head gradient unchanged (the draw is
            // not part of the graph).
            return Ok(vec![Some(a.out_grads[0].clone())]);
        }
        Ok(vec![Some(g.op1(det, &[], &[a.out_grads[0].clone()])?)])
    })
    .arc()
}

fn flips(r: &mut Registry) {
    for (name, axis, random, doc) in [
        ("_image_flip_left_right", Axis::LeftRight, false, "Reverses the columns (width axis) of an (H x W x C) image, C = 1 or 3."),
        ("_image_flip_top_bottom", Axis::TopBottom, false, "Reverses the rows (height axis) of an (H x W x C) image, C = 1 or 3."),
        ("_image_random_flip_left_right", Axis::LeftRight, true, "Reverses the columns of an (H x W x C) image with probability 0.5 (one draw per call; the gradient passes the head gradient through, as in MXNet)."),
        ("_image_random_flip_top_bottom", Axis::TopBottom, true, "Reverses the rows of an (H x W x C) image with probability 0.5 (one draw per call; the gradient passes the head gradient through, as in MXNet)."),
    ] {
        r.add(SimpleDef {
            name,
            doc: doc.into(),
            params: vec![],
            inputs: Inputs::Fixed(&["data"]),
            create: Box::new(move |_| Ok(flip_op(name, axis, random))),
        });
    }
}

/// The crop window (x, y, width, height), validated against an (N)HWC shape.
#[derive(Clone, Copy)]
pub(super) struct Window {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

impl Window {
    pub(super) fn check(self, op: &str, s: &Shape) -> Result<()> {
        let (_, h, w, _) = nhwc(s);
        if self.x + self.w > w {
            return Err(Error::shape(op, format!("x + width should not be greater than input width: x={}, width={}, data shape {s}", self.x, self.w)));
        }
        if self.y + self.h > h {
            return Err(Error::shape(op, format!("y + height should not be greater than input height: y={}, height={}, data shape {s}", self.y, self.h)));
        }
        Ok(())
    }

    /// Index in the (N)HWC data of element `i` of the cropped (N)hwc array.
    fn source(self, s: &Shape, i: usize) -> usize {
        let (_, h, w, c) = nhwc(s);
        let k = i % c;
        let x = (i / c) % self.w;
        let y = (i / (c * self.w)) % self.h;
        let b = i / (c * self.w * self.h);
        ((b * h + self.y + y) * w + self.x + x) * c + k
    }
}

fn crop_shape(op: &str, d: &Desc, win: Window) -> Result<Shape> {
    check_numeric(op, d)?;
    let s = &d.shape;
    match s.ndim() {
        3 | 4 => {}
        n => return Err(Error::shape(op, format!("Image Crop expects inputs of 3D (h, w, c) or 4D (n, h, w, c). But got {n} dims (shape {s})"))),
    }
    let c = s[s.ndim() - 1];
    if c != 1 && c != 3 {
        return Err(Error::shape(
            op,
            format!("Expect channel of the input image is 1 or 3, but got {c} (shape {s})"),
        ));
    }
    win.check(op, s)?;
    let mut out = s.dims().to_vec();
    let nd = out.len();
    out[nd - 3] = win.h;
    out[nd - 2] = win.w;
    Ok(Shape::new(out))
}

fn crop(r: &mut Registry) {
    const OP: &str = "_image_crop";
    r.add(SimpleDef {
        name: OP,
        doc: "Crop an image NDArray of shape (H x W x C) or (N x H x W x C) to the given size: rows y .. y + height and columns x .. x + width.".into(),
        params: vec![
            param("x", "int", None, "Left boundary of the cropping area."),
            param("y", "int", None, "Top boundary of the cropping area."),
            param("width", "int", None, "Width of the cropping area."),
            param("height", "int", None, "Height of the cropping area."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let (x, y, w, h) = (p.int("x")?, p.int("y")?, p.int("width")?, p.int("height")?);
            if w <= 0 || h <= 0 {
                return Err(Error::param(OP, format!("Input height and width must be greater than 0, got width={w}, height={h}")));
            }
            if x < 0 || y < 0 {
                return Err(Error::param(OP, format!("x and y must be >= 0, got x={x}, y={y}")));
            }
            let win = Window { x: x as usize, y: y as usize, w: w as usize, h: h as usize };
            let op = FnOp::new(
                OP,
                move |ins| {
                    expect_inputs(OP, ins, 1)?;
                    Ok(vec![Desc::new(crop_shape(OP, &ins[0], win)?, ins[0].dtype)])
                },
                move |_, ins, outs| {
                    let s = ins[0].shape().clone();
                    gather(&ins[0], &outs[0], move |i| win.source(&s, i));
                    Ok(())
                },
            );
            Ok(op
                .with_grad(move |g, a| {
                    let r = g.apply(
                        backward_crop(win),
                        &[a.out_grads[0].clone(), a.inputs[0].clone()],
                    );
                    Ok(vec![Some(r[0].clone())])
                })
                .arc())
        }),
    });
}

/// d(crop)/d(data): the head gradient inside the window, zeros elsewhere. Inputs (head
/// gradient, data).
fn backward_crop(win: Window) -> Arc<dyn Operator> {
    const NAME: &str = "_backward_image_crop";
    FnOp::new(
        NAME,
        |ins| {
            expect_inputs(NAME, ins, 2)?;
            Ok(vec![ins[1].clone()])
        },
        move |_, ins, outs| {
            let s = ins[1].shape();
            let g = read_f64(&ins[0]);
            let mut y = vec![0.0; ins[1].size()];
            for (i, v) in g.iter().enumerate() {
                y[win.source(s, i)] = *v;
            }
            write_f64(&outs[0], &y);
            Ok(())
        },
    )
    .arc()
}

pub fn register(r: &mut Registry) {
    to_tensor(r);
    normalize(r);
    flips(r);
    crop(r);
}
