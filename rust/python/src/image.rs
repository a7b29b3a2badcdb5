//! Image kernels on numpy arrays for the Python image pipeline (`oxnet.io`, `mx.image`): they
//! run per sample on the iterators' worker threads, so they skip NDArrays and the engine and
//! release the GIL while they work.

use numpy::{PyReadonlyArray3, PyReadwriteArray3, PyUntypedArrayMethods};
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
