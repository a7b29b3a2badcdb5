//! Image kernels on numpy arrays for the Python image pipeline (`oxnet.io`, `mx.image`): they
//! run per sample on the iterators' worker threads, so they skip NDArrays and the engine and
//! release the GIL while they work.

use numpy::{
    PyReadonlyArray1, PyReadonlyArray3, PyReadwriteArray3, PyReadwriteArray4, PyUntypedArrayMethods,
};
use oxnet::kernels::cpu::crop_normalize::{Normalizer, Window};
use oxnet::kernels::cpu::cv_resize::Plan;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::enter;

/// `src` (H, W, C) uint8 resized into `out` (OH, OW, C) uint8 as OpenCV's cv::resize with
/// interpolation `interp` (0 nearest, 1 bilinear, 2 bicubic, 3 area, 4 Lanczos).
#[pyfunction]
pub fn image_resize_u8(
    py: Python<'_>,
    src: PyReadonlyArray3<'_, u8>,
    mut out: PyReadwriteArray3<'_, u8>,
    interp: i64,
) -> PyResult<()> {
    let (s, o) = (src.shape().to_vec(), out.shape().to_vec());
    if s[2] != o[2] {
        return Err(PyValueError::new_err(format!(
            "image_resize_u8: the output has {} channels, the image {} (shapes {s:?}, {o:?})",
            o[2], s[2]
        )));
    }
    let not_contiguous =
        |what: &str| PyValueError::new_err(format!("image_resize_u8: {what} must be C-contiguous"));
    let src = src.as_slice().map_err(|_| not_contiguous("src"))?;
    let dst = out.as_slice_mut().map_err(|_| not_contiguous("out"))?;
    enter(py, move || {
        Plan::new("image_resize_u8", (s[0], s[1], s[2]), (o[0], o[1]), interp)?.run(src, dst);
        Ok(())
    })
}

/// ImageRecordIter's last step for a chunk of samples: window `(top, left, mirror)` of each
/// uint8 HWC image, pad `fill` outside it, into `out[i]` (C, H, W) float32 as
/// `((pixel - mean) * gain + shift) * mult` (`jitters[i] = (gain, shift)`, or no jitter).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (images, windows, jitters, fill, mean, mult, out))]
pub fn image_crop_normalize(
    py: Python<'_>,
    images: Vec<PyReadonlyArray3<'_, u8>>,
    windows: Vec<(i64, i64, bool)>,
    jitters: Option<Vec<(f32, f32)>>,
    fill: u8,
    mean: PyReadonlyArray3<'_, f32>,
    mult: PyReadonlyArray1<'_, f32>,
    mut out: PyReadwriteArray4<'_, f32>,
) -> PyResult<()> {
    let o = out.shape().to_vec();
    let n = images.len();
    if windows.len() != n || jitters.as_ref().is_some_and(|j| j.len() != n) || o[0] != n {
        return Err(PyValueError::new_err(format!(
            "image_crop_normalize: {n} images, {} windows, {} jitters and an output of {} samples",
            windows.len(),
            jitters.as_ref().map_or(n, Vec::len),
            o[0]
        )));
    }
    let not_contiguous = |what: &str| {
        PyValueError::new_err(format!("image_crop_normalize: {what} must be C-contiguous"))
    };
    let mut wins = Vec::with_capacity(n);
    for (i, (img, &(top, left, mirror))) in images.iter().zip(&windows).enumerate() {
        let s = img.shape();
        if s[2] != o[1] {
            return Err(PyValueError::new_err(format!(
                "image_crop_normalize: image {i} has {} channels, the output {} (shapes {s:?}, {o:?})",
                s[2], o[1]
            )));
        }
        wins.push(Window {
            pixels: img.as_slice().map_err(|_| not_contiguous("every image"))?,
            height: s[0],
            width: s[1],
            top,
            left,
            mirror,
            jitter: jitters.as_ref().map(|j| j[i]),
        });
    }
    let norm = Normalizer {
        channels: o[1],
        height: o[2],
        width: o[3],
        fill,
        mean: mean.as_slice().map_err(|_| not_contiguous("mean"))?,
        mult: mult.as_slice().map_err(|_| not_contiguous("mult"))?,
    };
    let dst = out.as_slice_mut().map_err(|_| not_contiguous("out"))?;
    let per = o[1] * o[2] * o[3];
    enter(py, move || {
        for (win, chunk) in wins.iter().zip(dst.chunks_exact_mut(per.max(1))) {
            norm.run(win, chunk)?;
        }
        Ok(())
    })
}
