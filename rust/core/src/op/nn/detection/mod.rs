//! MXNet's object-detection contrib operators (SSD / Faster R-CNN): box overlap and
//! non-maximum suppression (`box_iou`, `box_nms`), matching and target encoding
//! (`bipartite_matching`, `box_encode`, `box_decode`), the SSD heads (`MultiBoxPrior`,
//! `MultiBoxTarget`, `MultiBoxDetection`), `ROIAlign`, and the R-CNN family: region
//! proposals (`Proposal`, `MultiProposal`), `PSROIPooling`, `DeformablePSROIPooling` and the
//! rotated `RROIAlign`.
//!
//! Kernels read their inputs into vectors of the compute type (f32 for float16/float32,
//! f64 for float64) and follow MXNet 1.9.1's CPU loops step for step, including its
//! comparisons and tie orders, so that thresholds and sort ties select the same boxes.

mod box_ops;
mod deformable_psroi;
mod multibox;
mod proposal;
mod psroi_pooling;
mod roi_align;
mod rroi_align;
#[cfg(test)]
#[rustfmt::skip]
#[allow(clippy::excessive_precision)]
mod mxnet_values;
#[cfg(test)]
mod tests;

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::norm::Real;
use crate::ndarray::NDArray;
use crate::op::{Desc, Registry};

pub fn register(r: &mut Registry) {
    box_ops::register(r);
    multibox::register(r);
    proposal::register(r);
    roi_align::register(r);
    psroi_pooling::register(r);
    deformable_psroi::register(r);
    rroi_align::register(r);
}

/// The input's values in the compute type.
pub(crate) fn load<T: Element, C: Real>(a: &NDArray) -> Vec<C> {
    // SAFETY: called inside the op that reads `a`.
    unsafe { a.data::<T>() }.iter().map(|&v| C::of(v)).collect()
}

/// Writes `v` (the whole array) into output `a`.
pub(crate) fn store<T: Element, C: Real>(a: &NDArray, v: &[C]) {
    // SAFETY: called inside the op that writes `a`; `v` has `a`'s size.
    let o = unsafe { a.data_mut::<T>() };
    for (d, s) in o.iter_mut().zip(v) {
        *d = s.to();
    }
}

/// The one float dtype all `inputs` share, or an error naming op `op`.
pub(crate) fn same_float(op: &str, inputs: &[Desc], names: &[&str]) -> Result<DType> {
    let dt = super::float(op, inputs[0].dtype)?;
    for (i, d) in inputs.iter().enumerate() {
        if d.dtype != dt {
            return Err(Error::dtype(
                op,
                format!(
                    "{} and {} must share one dtype, got {dt} and {}",
                    names[0],
                    names.get(i).copied().unwrap_or("input"),
                    d.dtype
                ),
            ));
        }
    }
    Ok(dt)
}

/// MXNet's box encodings: `corner` = [xmin, ymin, xmax, ymax], `center` = [x, y, w, h].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoxFormat {
    Corner,
    Center,
}

impl BoxFormat {
    pub(crate) fn parse(p: &crate::op::Params, name: &str) -> Result<BoxFormat> {
        Ok(match p.choice(name, &["center", "corner"])? {
            "center" => BoxFormat::Center,
            _ => BoxFormat::Corner,
        })
    }
}

pub(crate) const FORMAT_DOC: &str = "The box encoding type. \n \"corner\" means boxes are \
    encoded as [xmin, ymin, xmax, ymax], \"center\" means boxes are encodes as [x, y, width, \
    height].";

/// Overlap of two boxes along one axis (`a[0], a[2]` are that axis' values), at least 0.
pub(crate) fn intersect<C: Real>(a: &[C], b: &[C], f: BoxFormat) -> C {
    let (lo, hi) = match f {
        BoxFormat::Corner => (max(a[0], b[0]), min(a[2], b[2])),
        BoxFormat::Center => {
            let two = C::c(2.0);
            let (aw, bw) = (a[2] / two, b[2] / two);
            (max(a[0] - aw, b[0] - bw), min(a[0] + aw, b[0] + bw))
        }
    };
    let w = hi - lo;
    if w > C::ZERO {
        w
    } else {
        C::ZERO
    }
}

/// A box's area; 0 when its width or height is negative.
pub(crate) fn area<C: Real>(b: &[C], f: BoxFormat) -> C {
    let (w, h) = match f {
        BoxFormat::Corner => (b[2] - b[0], b[3] - b[1]),
        BoxFormat::Center => (b[2], b[3]),
    };
    if w < C::ZERO || h < C::ZERO {
        C::ZERO
    } else {
        w * h
    }
}

/// `a > b ? a : b` with C++'s NaN behaviour.
pub(crate) fn max<C: Real>(a: C, b: C) -> C {
    if a > b {
        a
    } else {
        b
    }
}

/// `a < b ? a : b` with C++'s NaN behaviour.
pub(crate) fn min<C: Real>(a: C, b: C) -> C {
    if a < b {
        a
    } else {
        b
    }
}

/// C's `static_cast<int>` of a float (toward zero; NaN and overflow saturate).
pub(crate) fn to_int<C: Real>(v: C) -> i64 {
    v.f64() as i64
}

/// A float parameter as MXNet stores it (`float`), in the compute type.
pub(crate) fn pf<C: Real>(v: f64) -> C {
    C::c(v as f32 as f64)
}
