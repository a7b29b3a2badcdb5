//! `_image_resize`: MXNet calls OpenCV's `cv::resize`, so this reproduces its results exactly:
//! every interpolation for uint8 images (the fixed-point kernels of `kernels/cpu/cv_resize.rs`),
//! nearest (interp=0) and bilinear (interp=1) for float32 and float64 ones (OpenCV computes
//! source positions in double, keeps fractions in float32, and interpolates in the image's
//! float type).

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::cpu::cv_resize::{linear_taps, nearest_taps, Plan, Taps};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, read_f64, write_f64};
use crate::op::{Desc, FnOp, Inputs, Registry, SimpleDef};
use crate::shape::Shape;

const OP: &str = "_image_resize";

/// Geometry of one resize: input (h, w), output (oh, ow), channels.
#[derive(Clone, Copy)]
struct Geo {
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    c: usize,
}

/// The source taps of every output column and row of a float resize.
struct Tables {
    xs: Vec<usize>,
    ys: Vec<usize>,
    xt: Taps<f32>,
    yt: Taps<f32>,
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

/// Output row `oy` of one float image `x` (h * w * c values) into `out` (ow * c values).
fn resize_row(x: &[f64], g: Geo, t: &Tables, interp: i64, oy: usize, out: &mut [f64]) {
    let Geo { w, c, .. } = g;
    if interp == 0 {
        let (xs, ys) = (&t.xs, &t.ys);
        let row = &x[ys[oy] * w * c..];
        for (ox, &sx) in xs.iter().enumerate() {
            out[ox * c..(ox + 1) * c].copy_from_slice(&row[sx * c..(sx + 1) * c]);
        }
        return;
    }
    let (xt, yt) = (&t.xt, &t.yt);
    let (y0, y1) = (yt.idx[2 * oy], yt.idx[2 * oy + 1]);
    let (v0, v1) = (yt.w[2 * oy] as f64, yt.w[2 * oy + 1] as f64);
    for (ox, px) in out.chunks_exact_mut(c).enumerate() {
        let (x0, x1) = (xt.idx[2 * ox], xt.idx[2 * ox + 1]);
        let (u0, u1) = (xt.w[2 * ox] as f64, xt.w[2 * ox + 1] as f64);
        for (k, o) in px.iter_mut().enumerate() {
            let at = |y: usize, xi: usize| x[(y * w + xi) * c + k];
            let r0 = at(y0, x0) * u0 + at(y0, x1) * u1;
            let r1 = at(y1, x0) * u0 + at(y1, x1) * u1;
            *o = r0 * v0 + r1 * v1;
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

fn infer(size: &[i64], keep_ratio: bool, interp: i64, d: &Desc) -> Result<Desc> {
    if !matches!(d.dtype, DType::U8 | DType::F32 | DType::F64) {
        return Err(Error::dtype(
            OP,
            format!(
                "image resize supports uint8, float32 and float64 data (as OpenCV does), got {}",
                d.dtype
            ),
        ));
    }
    if d.dtype != DType::U8 && interp > 1 {
        return Err(Error::param(
            OP,
            format!(
                "interp={interp} (bicubic, area or Lanczos) is implemented for uint8 images only, the data is {}; use 0 (nearest) or 1 (bilinear), or mx.image.imresize",
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
        doc: "Resize an image NDArray of shape (H x W x C) or (N x H x W x C) to the given size, with OpenCV's cv::resize arithmetic (results equal MXNet's). `size` is (width, height), or one value: both sides, or with keep_ratio the short side (the long side scaled, rounded down). interp: 0 nearest, 1 bilinear, and for uint8 images 2 bicubic, 3 area, 4 Lanczos.".into(),
        params: vec![
            param("size", "Shape(tuple)", Some("[]"), "Size of new image. Could be (width, height) or (size)"),
            param("keep_ratio", "boolean", Some("0"), "Whether to resize the short edge or both edges to `size`, if size is give as an integer."),
            param("interp", "int", Some("1"), "Interpolation method for resizing. By default uses bilinear interpolation. Options are INTER_NEAREST (0) - a nearest-neighbor interpolation, INTER_LINEAR (1) - a bilinear interpolation, and for uint8 images INTER_CUBIC (2), INTER_AREA (3), INTER_LANCZOS4 (4)."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let size = p.ints("size")?;
            let keep = p.bool("keep_ratio")?;
            let interp = p.int("interp")?;
            if !(0..=4).contains(&interp) {
                return Err(Error::param(OP, format!("interp must be 0 (nearest), 1 (bilinear), 2 (bicubic), 3 (area) or 4 (Lanczos), got {interp}")));
            }
            let op = FnOp::new(
                OP,
                move |ins| {
                    expect_inputs(OP, ins, 1)?;
                    Ok(vec![infer(&size, keep, interp, &ins[0])?])
                },
                move |_, ins, outs| {
                    let s = ins[0].shape().dims();
                    let o = outs[0].shape().dims();
                    let nd = s.len();
                    let g = Geo { h: s[nd - 3], w: s[nd - 2], oh: o[nd - 3], ow: o[nd - 2], c: s[nd - 1] };
                    let n = if nd == 4 { s[0] } else { 1 };
                    if ins[0].dtype() == DType::U8 {
                        return resize_u8(&ins[0], &outs[0], g, n, interp);
                    }
                    let x = read_f64(&ins[0]);
                    if (g.h, g.w) == (g.oh, g.ow) {
                        write_f64(&outs[0], &x);
                        return Ok(());
                    }
                    let tables = Tables::new(g);
                    let row = g.ow * g.c;
                    let mut y = vec![0.0; n * g.oh * row];
                    let py = Ptr(y.as_mut_ptr());
                    par_ranges(n * g.oh, row * 4, |b, e| {
                        for r in b..e {
                            let (img, oy) = (r / g.oh, r % g.oh);
                            let src = &x[img * g.h * g.w * g.c..(img + 1) * g.h * g.w * g.c];
                            // SAFETY: output row r is written by this task only.
                            let out = unsafe { std::slice::from_raw_parts_mut(py.get().add(r * row), row) };
                            resize_row(src, g, &tables, interp, oy, out);
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

/// A uint8 batch through the fixed-point kernels, in blocks of output rows of one image.
fn resize_u8(x: &NDArray, y: &NDArray, g: Geo, n: usize, interp: i64) -> Result<()> {
    let plan = Plan::new(OP, (g.h, g.w, g.c), (g.oh, g.ow), interp)?;
    // SAFETY: the op reads x and writes y, distinct arrays (invoke gives fresh outputs).
    let src = unsafe { x.data::<u8>() };
    // SAFETY: as above; each block below writes its own output rows only.
    let dst = unsafe { Ptr(y.raw()) };
    let (image, row) = (g.h * g.w * g.c, g.ow * g.c);
    // blocks of about 16 rows: the horizontal pass of a block's source rows is done once
    let per_image = g.oh.div_ceil(16);
    par_ranges(n * per_image, 16 * row * 8, |b, e| {
        for blk in b..e {
            let (img, r0) = (blk / per_image, (blk % per_image) * 16);
            let r1 = (r0 + 16).min(g.oh);
            // SAFETY: output rows [r0, r1) of image img belong to this block only.
            let out = unsafe {
                std::slice::from_raw_parts_mut(
                    dst.get().add((img * g.oh + r0) * row),
                    (r1 - r0) * row,
                )
            };
            plan.run_rows(&src[img * image..(img + 1) * image], r0, r1, out);
        }
    });
    Ok(())
}

pub fn register(r: &mut Registry) {
    resize(r);
}
