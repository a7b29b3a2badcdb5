//! `ROIPooling`: max pooling of NCHW data over regions of interest `rois` (R, 5) =
//! [batch_index, x1, y1, x2, y2] in input-image coordinates, each region scaled by
//! `spatial_scale`, rounded to whole pixels, and divided into `pooled_size` bins. As MXNet:
//! corners round half away from zero, a region is at least 1 x 1 pixel, bin p of a region of
//! size s spans [floor(p * s / P), ceil((p + 1) * s / P)) clipped to the input, an empty bin
//! gives 0, and ties keep the first maximum in row-major order. The data gradient goes to each
//! bin's maximum; rois get a zero gradient. A batch index outside the data is an error.

use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::norm::Real;
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::nn::roi_common::{roi_op, RoiBackward, RoiForward};
use crate::op::params::param;
use crate::op::{Inputs, Registry, SimpleDef};
use crate::shape::Shape;

const OP: &str = "ROIPooling";

#[derive(Debug, Clone, Copy)]
struct Cfg {
    ph: usize,
    pw: usize,
    scale: f32,
}

fn out_shape(cfg: Cfg, op: &str, d: &Shape, rois: &Shape) -> Result<Shape> {
    if d.ndim() != 4 {
        return Err(Error::shape(
            op,
            format!("data must be 4-D (batch, channel, height, width), got {d}"),
        ));
    }
    if rois.ndim() != 2 || rois[1] != 5 {
        return Err(Error::shape(
            op,
            format!(
                "rois must be 2-D (num_rois, 5) of [batch_index, x1, y1, x2, y2], got {rois} \
                 (data {d})"
            ),
        ));
    }
    Ok(Shape::new(vec![rois[0], d[1], cfg.ph, cfg.pw]))
}

/// One bin's pixel ranges [h0, h1) x [w0, w1) per (roi, bin), and each roi's batch index.
struct Bins {
    batch: Vec<usize>,
    /// (h0, h1, w0, w1) per roi * ph * pw.
    ranges: Vec<(usize, usize, usize, usize)>,
}

/// Region geometry, computed in the data's precision as MXNet does.
fn bins<T: Element, C: Real>(cfg: Cfg, rois: &[T], n: usize, h: usize, w: usize) -> Result<Bins> {
    let r = rois.len() / 5;
    let mut batch = Vec::with_capacity(r);
    let mut ranges = Vec::with_capacity(r * cfg.ph * cfg.pw);
    let scale = C::c(cfg.scale as f64);
    // Rounded scaled coordinate; `as` saturates, so huge or infinite corners stay finite.
    let px = |v: T| (C::of(v) * scale).f64().round() as i64;
    for (i, roi) in rois.chunks_exact(5).enumerate() {
        let b = C::of(roi[0]).f64();
        // C truncation toward zero, as MXNet's int cast.
        let bi = b.trunc();
        if !(bi >= 0.0 && bi < n as f64) {
            return Err(Error::Index(format!(
                "operator {OP}: rois[{i}] has batch index {b}, but data has batch size {n}"
            )));
        }
        batch.push(bi as usize);
        let (x0, y0, x1, y1) = (px(roi[1]), px(roi[2]), px(roi[3]), px(roi[4]));
        let rh = y1.saturating_sub(y0).saturating_add(1).max(1);
        let rw = x1.saturating_sub(x0).saturating_add(1).max(1);
        let bh = C::c(rh as f64) / C::c(cfg.ph as f64);
        let bw = C::c(rw as f64) / C::c(cfg.pw as f64);
        let clip = |v: i64, lim: usize| v.clamp(0, lim as i64) as usize;
        for p in 0..cfg.ph {
            let hs = (C::c(p as f64) * bh).f64().floor() as i64;
            let he = (C::c((p + 1) as f64) * bh).f64().ceil() as i64;
            let (hs, he) = (
                clip(hs.saturating_add(y0), h),
                clip(he.saturating_add(y0), h),
            );
            for q in 0..cfg.pw {
                let ws = (C::c(q as f64) * bw).f64().floor() as i64;
                let we = (C::c((q + 1) as f64) * bw).f64().ceil() as i64;
                let (ws, we) = (
                    clip(ws.saturating_add(x0), w),
                    clip(we.saturating_add(x0), w),
                );
                ranges.push((hs, he, ws, we));
            }
        }
    }
    Ok(Bins { batch, ranges })
}

/// The maximum of one bin of plane `src` (w wide) and its flat index; None if the bin is
/// empty, value -FLT_MAX and no index if nothing exceeds it (MXNet's initial value).
fn bin_max<T: Element, C: Real>(
    src: &[T],
    w: usize,
    (h0, h1, w0, w1): (usize, usize, usize, usize),
) -> Option<(C, Option<usize>)> {
    if h1 <= h0 || w1 <= w0 {
        return None;
    }
    let mut best = (C::c(-(f32::MAX as f64)), None);
    for y in h0..h1 {
        for x in w0..w1 {
            let v = C::of(src[y * w + x]);
            if v > best.0 {
                best = (v, Some(y * w + x));
            }
        }
    }
    Some(best)
}

fn forward_t<T: Element, C: Real>(cfg: Cfg, ins: &[NDArray], out: &NDArray) -> Result<()> {
    let d = ins[0].shape();
    let (n, c, h, w) = (d[0], d[1], d[2], d[3]);
    // SAFETY: inside the op reading ins and writing out.
    let (x, rois) = unsafe { (ins[0].data::<T>(), ins[1].data::<T>()) };
    let b = bins::<T, C>(cfg, rois, n, h, w)?;
    let nb = cfg.ph * cfg.pw;
    // SAFETY: as above.
    let o = Ptr(unsafe { out.raw() } as *mut T);
    par_ranges(b.batch.len() * c, nb * 8, |s, e| {
        for plane in s..e {
            let (r, ch) = (plane / c, plane % c);
            let src = &x[(b.batch[r] * c + ch) * h * w..][..h * w];
            for k in 0..nb {
                let v = bin_max::<T, C>(src, w, b.ranges[r * nb + k]).map_or(C::ZERO, |m| m.0);
                // SAFETY: output plane `plane` belongs to this task.
                unsafe { *o.get().add(plane * nb + k) = v.to() };
            }
        }
    });
    Ok(())
}

/// Inputs dY, data, rois; outputs the data gradient (the rois' is made by zeros_like).
fn backward_t<T: Element, C: Real>(cfg: Cfg, ins: &[NDArray], gx: &NDArray) -> Result<()> {
    let d = ins[1].shape();
    let (n, c, h, w) = (d[0], d[1], d[2], d[3]);
    // SAFETY: inside the op reading ins and writing gx.
    let (dy, x, rois) = unsafe { (ins[0].data::<T>(), ins[1].data::<T>(), ins[2].data::<T>()) };
    let b = bins::<T, C>(cfg, rois, n, h, w)?;
    let nb = cfg.ph * cfg.pw;
    // SAFETY: as above.
    let g = Ptr(unsafe { gx.raw() } as *mut T);
    // One task per channel: channel ch of every batch item is written by that task only.
    par_ranges(c, b.batch.len() * nb * 8, |s, e| {
        let mut acc = vec![C::ZERO; n * h * w];
        for ch in s..e {
            acc.fill(C::ZERO);
            for (r, &bi) in b.batch.iter().enumerate() {
                let src = &x[(bi * c + ch) * h * w..][..h * w];
                for k in 0..nb {
                    if let Some((_, Some(i))) = bin_max::<T, C>(src, w, b.ranges[r * nb + k]) {
                        let a = &mut acc[bi * h * w + i];
                        *a = *a + C::of(dy[(r * c + ch) * nb + k]);
                    }
                }
            }
            for bi in 0..n {
                for i in 0..h * w {
                    // SAFETY: channel `ch` of gx belongs to this task.
                    unsafe { *g.get().add((bi * c + ch) * h * w + i) = acc[bi * h * w + i].to() };
                }
            }
        }
    });
    Ok(())
}

impl RoiForward for Cfg {
    const OP: &'static str = OP;
    const MXNET_OUTPUTS: usize = 2;
    fn out_shape(self, op: &str, data: &Shape, rois: &Shape) -> Result<Shape> {
        out_shape(self, op, data, rois)
    }
    fn forward<T: Element, C: Real>(self, ins: &[NDArray], out: &NDArray) -> Result<()> {
        forward_t::<T, C>(self, ins, out)
    }
}

impl RoiBackward for Cfg {
    const BACKWARD: &'static str = "_backward_ROIPooling";
    fn backward<T: Element, C: Real>(self, ins: &[NDArray], gx: &NDArray) -> Result<()> {
        backward_t::<T, C>(self, ins, gx)
    }
}

pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Performs region of interest (ROI) pooling on the input array: for each roi \
              [batch_index, x1, y1, x2, y2] (scaled by spatial_scale and rounded), max pooling \
              of data[batch_index] over a pooled_size grid of bins covering the region. The \
              output is (num_rois, channel, pooled_h, pooled_w); empty bins give 0."
            .into(),
        params: vec![
            param(
                "pooled_size",
                "Shape(tuple), required",
                None,
                "ROI pooling output shape (h,w) ",
            ),
            param(
                "spatial_scale",
                "float, required",
                None,
                "Ratio of input feature map height (or w) to raw image height (or w). Equals \
                 the reciprocal of total stride in convolutional layers",
            ),
        ],
        inputs: Inputs::Fixed(&["data", "rois"]),
        create: Box::new(|p| {
            let ps = p.ints("pooled_size")?;
            let (ph, pw) = match ps.as_slice() {
                &[h, w] if h > 0 && w > 0 => (h as usize, w as usize),
                _ => {
                    return Err(Error::param(
                        OP,
                        format!(
                            "pooled_size must be (h, w) with both positive, got {}",
                            p.str("pooled_size")?
                        ),
                    ))
                }
            };
            let scale = p.float("spatial_scale")?;
            if !(0.0..=1.0).contains(&scale) {
                return Err(Error::param(
                    OP,
                    format!("value {scale} for Parameter spatial_scale exceed bound [0,1]"),
                ));
            }
            Ok(roi_op(Cfg {
                ph,
                pw,
                scale: scale as f32,
            }))
        }),
    });
}

#[cfg(test)]
mod tests {
    use crate::op::test_util::{arr, check_grad, err, f32s, iota, rand64, run};

    fn pool(d: &crate::ndarray::NDArray, rois: &[f32], size: &str, scale: &str) -> Vec<f32> {
        let r = arr(&[rois.len() / 5, 5], rois);
        f32s(&run(
            "ROIPooling",
            &[d.clone(), r],
            &[("pooled_size", size), ("spatial_scale", scale)],
        ))
    }

    #[test]
    fn matches_mxnet_doc_example() {
        let x = iota(&[1, 1, 8, 6]);
        assert_eq!(
            pool(&x, &[0., 0., 0., 4., 4.], "(2,2)", "1.0"),
            [14., 16., 26., 28.]
        );
        assert_eq!(
            pool(&x, &[0., 0., 0., 4., 4.], "(2,2)", "0.7"),
            [7., 9., 19., 21.]
        );
    }

    #[test]
    fn empty_bins_malformed_rois_and_negative_values() {
        let x = iota(&[1, 1, 4, 4]);
        // Entirely outside: every bin is empty and gives 0.
        assert_eq!(pool(&x, &[0., 10., 10., 20., 20.], "(2,2)", "1.0"), [0.; 4]);
        // x2 < x1: a 1 x 1 region at (x1, y1).
        assert_eq!(pool(&x, &[0., 2., 1., 0., 0.], "(1,2)", "1.0"), [6., 6.]);
        let neg = arr(&[1, 1, 2, 2], &[-3f32, -1., -2., -4.]);
        assert_eq!(pool(&neg, &[0., 0., 0., 1., 1.], "(1,1)", "1.0"), [-1.]);
    }

    #[test]
    fn gradient_goes_to_each_bin_maximum() {
        let x = iota(&[1, 1, 3, 3]);
        let r = arr(&[2, 5], &[0f32, 0., 0., 2., 2., 0., 1., 1., 2., 2.]);
        let a = [("pooled_size", "(2,2)"), ("spatial_scale", "1")];
        let d = crate::op::call_str("ROIPooling", &[x, r], &a).unwrap();
        assert_eq!(f32s(&d[0]), [4., 5., 7., 8., 4., 5., 7., 8.]);
        // Random data: finite differences (ties have probability zero).
        let x = rand64(&[2, 2, 5, 6], -1.0, 1.0, 11);
        let r = arr(
            &[3, 5],
            &[
                0f64, 0., 0., 5., 4., 1., 1.4, 0.6, 4.2, 3.7, 1., 3., 3., 1., 1.,
            ],
        );
        check_grad(
            "ROIPooling",
            &[("pooled_size", "(2,3)"), ("spatial_scale", "1")],
            &[x, r],
            &[0],
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = iota(&[2, 1, 4, 4]);
        let a = [("pooled_size", "(2,2)"), ("spatial_scale", "1")];
        let e = err(
            "ROIPooling",
            &[x.clone(), arr(&[1, 5], &[2f32, 0., 0., 1., 1.])],
            &a,
        );
        assert!(e.to_string().contains("batch index 2"), "{e}");
        let e = err(
            "ROIPooling",
            &[x.clone(), arr(&[1, 5], &[-1f32, 0., 0., 1., 1.])],
            &a,
        );
        assert!(e.to_string().contains("batch index -1"), "{e}");
        let e = err("ROIPooling", &[x.clone(), arr(&[1, 4], &[0f32; 4])], &a);
        assert!(e.to_string().contains("[1,4]"), "{e}");
        let e = err(
            "ROIPooling",
            &[arr(&[4, 4], &[0f32; 16]), arr(&[1, 5], &[0f32; 5])],
            &a,
        );
        assert!(e.to_string().contains("4-D"), "{e}");
        let r = arr(&[1, 5], &[0f32; 5]);
        let e = err(
            "ROIPooling",
            &[x.clone(), r.clone()],
            &[("pooled_size", "(2,)"), ("spatial_scale", "1")],
        );
        assert!(e.to_string().contains("pooled_size"), "{e}");
        let e = err(
            "ROIPooling",
            &[x, r],
            &[("pooled_size", "(2,2)"), ("spatial_scale", "2")],
        );
        assert!(e.to_string().contains("spatial_scale"), "{e}");
    }
}
