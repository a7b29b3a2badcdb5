//! MXNet's INT8 quantization operators (`_contrib_quantize*`, `_contrib_dequantize`,
//! `_contrib_requantize`, `_contrib_quantized_*`) and the calibration op
//! `_contrib_calibrate_entropy`. Every quantized tensor travels with two float32 arrays of shape
//! (1,) holding the real-valued range it stands for; `range` holds MXNet's arithmetic for those
//! ranges so that every op rounds as MXNet 1.9.1 does.
//!
//! MXNet 1.9.1 on CPU runs most of these ops through oneDNN, whose results differ from the
//! formulas in MXNet's own (fallback) kernels; the ops here reproduce what the oneDNN build
//! prints, since that is what users saw:
//! - rounding is half to even with saturation (`range::round_saturate`), not `+0.5` and
//!   truncation; int8 saturates at -128, not -127;
//! - quantize_v2, dequantize, elementwise add, concat and batch norm spread a range over
//!   127.5 (int8) / 255.5 (uint8) levels (`range::onednn_levels`); quantize and requantize
//!   over 127 / 255; uint8 is scaled from zero (x * 255.5 / max|range|), not affinely;
//! - quantize_asym rounds half to even and saturates for every shape (MXNet's fallback for
//!   non-3-D data crashes); quantized_concat accepts a negative `dim` (MXNet crashes) and
//!   quantized_pooling accepts `global_pool` without a kernel (MXNet refuses);
//! - quantized_elemwise_add with int32 output sums in f32 as oneDNN does, but oneDNN may fuse
//!   the multiply-add, so a large int32 sum can differ from MXNet's by a few int32 levels
//!   (far below one int8 level); quantized_batch_norm's folded scale likewise can differ by
//!   one int8 level where a value falls within float rounding of a half level;
//! - dequantize also takes int32 data (2^31 - 1 levels), which MXNet 1.9.1 refuses.
//!
//! Where MXNet passes already-quantized bytes on under another declared type (quantize_v2 of
//! uint8 data with out_type int8, quantized_act of uint8 data), the bytes are kept as there.

mod batch_norm;
mod calibrate;
pub(crate) mod common;
pub mod conv;
mod elemwise;
pub mod fully_connected;
mod layers;
mod pooling;
mod product;
mod quantize;
pub mod range;
mod rnn;

use super::Registry;

pub fn register(r: &mut Registry) {
    calibrate::register(r);
    quantize::register(r);
    elemwise::register(r);
    layers::register(r);
    pooling::register(r);
    batch_norm::register(r);
    conv::register(r);
    fully_connected::register(r);
    rnn::register(r);
}

#[cfg(test)]
mod tests;
