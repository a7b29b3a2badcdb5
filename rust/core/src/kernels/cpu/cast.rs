//! Element type conversion (`astype`, `Cast`, copies between dtypes).

use super::elemwise::map_slice;
use super::halves;
use super::stream::copy_par;
use super::{par_ranges, Ptr};
use crate::dtype::{DType, Element};
use crate::ndarray::NDArray;
use crate::with_dtype;
use half::{bf16, f16};

fn convert<S: Element, D: Element>(src: *const S, dst: *mut D, n: usize, to_bool: bool) {
    let (s, d) = (Ptr(src as *mut S), Ptr(dst));
    par_ranges(n, 1, |b, e| {
        // SAFETY: b..e < n; src and dst do not overlap (checked by the caller).
        let (src, dst) = unsafe {
            (
                std::slice::from_raw_parts(s.get().add(b) as *const S, e - b),
                std::slice::from_raw_parts_mut(d.get().add(b), e - b),
            )
        };
        // Through the widest vector build: baseline SSE2 converts two lanes at a time with
        // a fix-up per lane (float32 to int32 ran at half numpy's pace).
        if to_bool {
            map_slice(src, dst, |v| D::from_f64((v.to_f64() != 0.0) as u8 as f64));
        } else if !D::DTYPE.is_float() {
            // Into integers as MXNet's C++ casts: wrapping (uint8 of -3.7 is 253, int8 of
            // 259 is 3), where `as` would saturate.
            if S::DTYPE.is_float() {
                map_slice(src, dst, |v| D::from_f64_c(v.to_f64()));
            } else {
                map_slice(src, dst, |v| D::from_i64_c(v.to_i64()));
            }
        } else if S::DTYPE == DType::F32 || D::DTYPE == DType::F32 {
            map_slice(src, dst, |v| D::from_f32(v.to_f32()));
        } else {
            map_slice(src, dst, |v| D::from_f64(v.to_f64()));
        }
    });
}

/// Copies `src` into `dst` (same size, no overlap), converting the element type.
/// Must run inside an engine op reading `src` and writing `dst`.
pub fn cast_into(src: &NDArray, dst: &NDArray) {
    let n = src.size().min(dst.size());
    if src.dtype() == dst.dtype() {
        // SAFETY: inside the copy op (read src, write dst), whose buffers do not overlap.
        unsafe { copy_par(src.raw(), dst.raw(), n * src.dtype().size()) };
        return;
    }
    // SAFETY (the four conversions): inside the copy op, which holds read on src and write
    // on dst, whose buffers do not overlap.
    unsafe {
        match (src.dtype(), dst.dtype()) {
            (DType::F16, DType::F32) => {
                return halves::widen_into::<f16>(src.data(), dst.data_mut())
            }
            (DType::F32, DType::F16) => {
                return halves::narrow_into::<f16>(src.data(), dst.data_mut())
            }
            (DType::BF16, DType::F32) => {
                return halves::widen_into::<bf16>(src.data(), dst.data_mut())
            }
            (DType::F32, DType::BF16) => {
                return halves::narrow_into::<bf16>(src.data(), dst.data_mut())
            }
            _ => {}
        }
    }
    let to_bool = dst.dtype() == DType::Bool;
    with_dtype!(src.dtype(), S, {
        with_dtype!(dst.dtype(), D, {
            // SAFETY: inside the copy op, which holds read on src and write on dst.
            unsafe { convert::<S, D>(src.raw() as *const S, dst.raw() as *mut D, n, to_bool) }
        })
    })
}
