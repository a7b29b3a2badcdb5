//! Small `_contrib_*` operators (`quadratic`, `div_sqrt_dim`, the straight-through estimators,
//! `gradientmultiplier`, `arange_like`, `index_array`, `allclose`, `index_copy`) and MXNet's
//! legacy NDArray functions (`fill_element_0index`, `_onehot_encode`) with the legacy alias
//! names. Values are computed through f64 and converted to the output dtype (integers
//! truncate, as MXNet's integer kernels do).

mod boolean_mask;
mod elemwise;
mod fft;
mod hawkes;
mod index;
mod legacy;
mod resize;
mod sketch;
pub(crate) mod transformer;

use super::Registry;

pub fn register(r: &mut Registry) {
    boolean_mask::register(r);
    elemwise::register(r);
    fft::register(r);
    hawkes::register(r);
    index::register(r);
    legacy::register(r);
    resize::register(r);
    sketch::register(r);
    transformer::register(r);
}

#[cfg(test)]
mod tests;
