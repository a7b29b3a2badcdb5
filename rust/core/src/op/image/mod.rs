//! MXNet's `_image_*` operators (`mx.nd.image` / `mx.sym.image`) on HWC images (NHWC batches
//! where MXNet accepts them): layout changes and flips (`layout.rs`), crop and OpenCV-exact
//! resize (`resize.rs`), and the color augmenters (`color.rs`). As in MXNet, the random ones
//! draw one factor per call from the op's sub-seed, so `mx.random.seed` makes them repeatable.

mod color;
mod layout;
mod resize;

use super::{Desc, Registry};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::random::Xoshiro;

pub fn register(r: &mut Registry) {
    layout::register(r);
    resize::register(r);
    color::register(r);
}

/// Rejects dtypes that are not numbers (`bool`), which MXNet's kernels do not switch on.
fn check_numeric(op: &str, d: &Desc) -> Result<()> {
    if d.dtype == DType::Bool {
        return Err(Error::dtype(
            op,
            format!("data must have a numeric dtype, got {}", d.dtype),
        ));
    }
    Ok(())
}

/// An (H, W, C) image whose C is 1 or 3 (MXNet's `ImageShape` rule of the augmenters).
fn check_hwc_gray_or_rgb(op: &str, d: &Desc) -> Result<()> {
    check_numeric(op, d)?;
    let s = &d.shape;
    if s.ndim() != 3 {
        return Err(Error::shape(
            op,
            format!("Input image must have shape (height, width, channels), but got {s}"),
        ));
    }
    if s[2] != 1 && s[2] != 3 {
        return Err(Error::shape(
            op,
            format!(
                "The last dimension of input image must be the channel dimension with either 1 or 3 elements, but got input with shape {s}"
            ),
        ));
    }
    Ok(())
}

/// A stream for the one or few draws an augmenter makes per call.
fn rng(seed: u64) -> Xoshiro {
    Xoshiro::new(seed, 0)
}

#[cfg(test)]
mod tests;
