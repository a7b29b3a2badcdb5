//! `_image_resize`: MXNet calls OpenCV's `cv::resize`, so this reproduces its results exactly
//! for nearest (interp=0) and bilinear (interp=1) on uint8, float32 and float64 images.
//! OpenCV computes source positions in double, keeps fractions in float32, resets the
//! fraction at the horizontal borders only, and for uint8 uses 11-bit fixed-point weights with
//! the vertical pass rounded the way its SIMD rows do it (see `python/oxnet/io/_imgops.py`,
//! the numpy model of the same arithmetic).

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::op::params::param;
use crate::op::{expect_inputs, read_f64, write_f64};
use crate::op::{Desc, FnOp, Inputs, Registry, SimpleDef};
use crate::shape::Shape;

const OP: &str = "_image_resize";
const COEF_SCALE: f32 = 2048.0;

/// Left and right source index and the float32 fraction of each output position.
struct Taps {
    i0: Vec<usize>,
    i1: Vec<usize>,
    frac: Vec<f32>,
}

fn linear_taps(src: usize, dst: usize, clamp_weights: bool) -> Taps {
    let scale = 1.0 / (dst as f64 / src as f64);
    let last = src as i64 - 1;
    let mut t = Taps {
        i0: Vec::with_capacity(dst),
        i1: Vec::with_capacity(dst),
        frac: Vec::with_capacity(dst),
    };
    for d in 0..dst {
        let pos = ((d as f64 + 0.5) * scale - 0.5) as f32;
        let mut i0 = pos.floor() as i64;
        let mut f = pos - i0 as f32;
        if clamp_weights {
            if i0 < 0 {
                (f, i0) = (0.0, 0);
            }
            if i0 >= last {
                (f, i0) = (0.0, last);
            }
        }
        t.i1.push((i0 + 1).clamp(0, last) as usize);
        t.i0.push(i0.clamp(0, last) as usize);
        t.frac.push(f);
    }
    t
}

/// OpenCV's INTER_NEAREST source index: floor(d * src / dst), clamped.
fn nearest_taps(src: usize, dst: usize) -> Vec<usize> {
    // OpenCV's resizeNN steps by 1 / (dst / src), not src / dst: the two differ in the last
    // bit, and where d · scale is a whole number that picks the neighbouring pixel.
    let scale = 1.0 / (dst as f64 / src as f64);
    (0..dst)
        .map(|d| ((d as f64 * scale).floor() as usize).min(src - 1))
        .collect()
}

/// Fixed-point (w0, w1) of a fraction, rounded half to even as cvRound does.
fn fixed(f: f32) -> (i64, i64) {
    (
        ((1.0f32 - f) * COEF_SCALE).round_ties_even() as i64,
        (f * COEF_SCALE).round_ties_even() as i64,
    )
}

/// Geometry of one resize: input (h, w), output (oh, ow), channels.
#[derive(Clone, Copy)]
struct Geo {
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    c: usize,
}

/// The source taps of every output column and row.
struct Tables {
    xs: Vec<usize>,
    ys: Vec<usize>,
    xt: Taps,
    yt: Taps,
}

impl Tables {
    fn new(g: Geo) -> Tables {
        Tables {
            xs: nearest_taps(g.w, g.ow),
            ys: nearest_taps(g.h, g.oh),
            xt: linear_taps(g.w, g.ow, true),
            yt: linear_taps(g.h, g.oh, false),
        }
    }
}

/// Output row `oy` of one image `x` (h * w * c values) into `out` (ow * c values).
fn resize_row(x: &[f64], g: Geo, t: &Tables, interp: i64, uint8: bool, oy: usize, out: &mut [f64]) {
    let Geo { w, ow, c, .. } = g;
    if interp == 0 {
        let (xs, ys) = (&t.xs, &t.ys);
        let row = &x[ys[oy] * w * c..];
        for (ox, &sx) in xs.iter().enumerate() {
            out[ox * c..(ox + 1) * c].copy_from_slice(&row[sx * c..(sx + 1) * c]);
        }
        return;
    }
    let (xt, yt) = (&t.xt, &t.yt);
    let (y0, y1) = (yt.i0[oy], yt.i1[oy]);
    if uint8 {
        // Horizontal pass in integers (weights sum to 2^11), then OpenCV's vector vertical
        // pass: high 16 bits of (row >> 4) * weight, summed, then >> 2 rounded.
        let (b0, b1) = fixed(yt.frac[oy]);
        for ox in 0..ow {
            let (a0, a1) = fixed(xt.frac[ox]);
            for k in 0..c {
                let at = |y: usize, xi: usize| x[(y * w + xi) * c + k] as i64;
                let r0 = at(y0, xt.i0[ox]) * a0 + at(y0, xt.i1[ox]) * a1;
                let r1 = at(y1, xt.i0[ox]) * a0 + at(y1, xt.i1[ox]) * a1;
                let v = (((r0 >> 4) * b0) >> 16) + (((r1 >> 4) * b1) >> 16);
                out[ox * c + k] = ((v + 2) >> 2).clamp(0, 255) as f64;
            }
        }
        return;
    }
    let fy = yt.frac[oy];
    let (v0, v1) = ((1.0f32 - fy) as f64, fy as f64);
    for ox in 0..ow {
        let fx = xt.frac[ox];
        let (u0, u1) = ((1.0f32 - fx) as f64, fx as f64);
        for k in 0..c {
            let at = |y: usize, xi: usize| x[(y * w + xi) * c + k];
            let r0 = at(y0, xt.i0[ox]) * u0 + at(y0, xt.i1[ox]) * u1;
            let r1 = at(y1, xt.i0[ox]) * u0 + at(y1, xt.i1[ox]) * u1;
            out[ox * c + k] = r0 * v0 + r1 * v1;
        }
    }
}

/// Output (height, width) from MXNet's `size`/`keep_ratio` rule.
fn out_hw(size: &[i64], keep_ratio: bool, h: usize, w: usize) -> Result<(usize, usize)> {
    let pos = |v: i64, what: &str| -> Result<usize> {
        usize::try_from(v).ok().filter(|&v| v > 0).ok_or_else(|| {
            Error::param(
                OP,
                format!("Input {what} should be greater than 0, but got {v}"),
            )
        })
    };
    match size {
        [s] => {
            let s = pos(*s, "size")?;
            if !keep_ratio {
                Ok((s, s))
            } else if h > w {
                Ok((h * s / w, s))
            } else {
                Ok((s, w * s / h))
            }
        }
        [sw, sh] => Ok((pos(*sh, "height")?, pos(*sw, "width")?)),
        _ => Err(Error::param(
            OP,
            format!(
                "Input size dimension must be 1 or 2, but got {} ({size:?})",
                size.len()
            ),
        )),
    }
}

fn infer(size: &[i64], keep_ratio: bool, d: &Desc) -> Result<Desc> {
    if !matches!(d.dtype, DType::U8 | DType::F32 | DType::F64) {
        return Err(Error::dtype(
            OP,
            format!(
                "image resize supports uint8, float32 and float64 data (as OpenCV does), got {}",
                d.dtype
            ),
        ));
    }
    let s = &d.shape;
    let nd = s.ndim();
    if nd != 3 && nd != 4 {
        return Err(Error::shape(
            OP,
            format!("Input image dimension should be 3 or 4 but got {nd} (shape {s})"),
        ));
    }
    let (h, w) = (s[nd - 3], s[nd - 2]);
    if h == 0 || w == 0 {
        return Err(Error::shape(
            OP,
            format!("image height and width must be positive, got shape {s}"),
        ));
    }
    let (oh, ow) = out_hw(size, keep_ratio, h, w)?;
    if oh == 0 || ow == 0 {
        return Err(Error::shape(
            OP,
            format!("the resized image would be empty: ({oh}, {ow}) from shape {s}"),
        ));
    }
    let mut out = s.dims().to_vec();
    (out[nd - 3], out[nd - 2]) = (oh, ow);
    Ok(Desc::new(Shape::new(out), d.dtype))
}

fn resize(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Resize an image NDArray of shape (H x W x C) or (N x H x W x C) to the given size, with OpenCV's cv::resize arithmetic (results equal MXNet's). `size` is (width, height), or one value: both sides, or with keep_ratio the short side (the long side scaled, rounded down). interp: 0 nearest, 1 bilinear (2 bicubic, 3 area, 4 Lanczos are not implemented here; mx.image.imresize offers them).".into(),
        params: vec![
            param("size", "Shape(tuple)", Some("[]"), "Size of new image. Could be (width, height) or (size)"),
            param("keep_ratio", "boolean", Some("0"), "Whether to resize the short edge or both edges to `size`, if size is give as an integer."),
            param("interp", "int", Some("1"), "Interpolation method for resizing. By default uses bilinear interpolation. Options are INTER_NEAREST (0) - a nearest-neighbor interpolation, INTER_LINEAR (1) - a bilinear interpolation."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let size = p.ints("size")?;
            let keep = p.bool("keep_ratio")?;
            let interp = p.int("interp")?;
            match interp {
                0 | 1 => {}
                2..=4 => return Err(Error::param(OP, format!("interp={interp} (bicubic, area or Lanczos) is not implemented; use 0 (nearest) or 1 (bilinear), or mx.image.imresize"))),
                _ => return Err(Error::param(OP, format!("interp must be 0 (nearest) or 1 (bilinear), got {interp}"))),
            }
            let op = FnOp::new(
                OP,
                move |ins| {
                    expect_inputs(OP, ins, 1)?;
                    Ok(vec![infer(&size, keep, &ins[0])?])
                },
                move |_, ins, outs| {
                    let s = ins[0].shape().dims();
                    let o = outs[0].shape().dims();
                    let nd = s.len();
                    let g = Geo { h: s[nd - 3], w: s[nd - 2], oh: o[nd - 3], ow: o[nd - 2], c: s[nd - 1] };
                    let n = if nd == 4 { s[0] } else { 1 };
                    let x = read_f64(&ins[0]);
                    if (g.h, g.w) == (g.oh, g.ow) {
                        write_f64(&outs[0], &x);
                        return Ok(());
                    }
                    let tables = Tables::new(g);
                    let uint8 = ins[0].dtype() == DType::U8;
                    let row = g.ow * g.c;
                    let mut y = vec![0.0; n * g.oh * row];
                    let py = Ptr(y.as_mut_ptr());
                    par_ranges(n * g.oh, row * 4, |b, e| {
                        for r in b..e {
                            let (img, oy) = (r / g.oh, r % g.oh);
                            let src = &x[img * g.h * g.w * g.c..(img + 1) * g.h * g.w * g.c];
                            // SAFETY: output row r is written by this task only.
                            let out = unsafe { std::slice::from_raw_parts_mut(py.get().add(r * row), row) };
                            resize_row(src, g, &tables, interp, uint8, oy, out);
                        }
                    });
                    write_f64(&outs[0], &y);
                    Ok(())
                },
            );
            Ok(op.arc())
        }),
    });
}

pub fn register(r: &mut Registry) {
    resize(r);
}
