//! Small `_contrib_*` operators (`quadratic`, `div_sqrt_dim`, the straight-through estimators,
//! `gradientmultiplier`, `arange_like`, `index_array`, `allclose`, `index_copy`) and MXNet's
//! legacy NDArray functions (`fill_element_0index`, `_onehot_encode`) with the legacy alias
//! names. Values are computed through f64 and converted to the output dtype (integers
//! truncate, as MXNet's integer kernels do).

mod boolean_mask;
mod elemwise;
mod index;
mod legacy;
mod resize;

use super::Registry;
use crate::dtype::Element;
use crate::ndarray::NDArray;
use crate::with_dtype;

/// Values of `a` as f64, any dtype. Call inside an op that reads `a`.
pub(crate) fn read_f64(a: &NDArray) -> Vec<f64> {
    with_dtype!(a.dtype(), T, {
        // SAFETY: the calling op reads a.
        unsafe { a.data::<T>() }
            .iter()
            .map(|v| v.to_f64())
            .collect()
    })
}

/// Writes f64 values into `a`, converted to its dtype. Call inside an op that writes `a`.
pub(crate) fn write_f64(a: &NDArray, v: &[f64]) {
    with_dtype!(a.dtype(), T, {
        // SAFETY: the calling op writes a; no other slice of it is alive.
        let d = unsafe { a.data_mut::<T>() };
        for (d, &x) in d.iter_mut().zip(v) {
            *d = T::from_f64(x);
        }
    })
}

pub fn register(r: &mut Registry) {
    boolean_mask::register(r);
    elemwise::register(r);
    index::register(r);
    legacy::register(r);
    resize::register(r);
}

#[cfg(test)]
mod tests;
