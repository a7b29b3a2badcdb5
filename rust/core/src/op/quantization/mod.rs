//! MXNet's INT8 quantization operators (`_contrib_quantize*`, `_contrib_dequantize`,
//! `_contrib_requantize`, `_contrib_quantized_*`) and the calibration op
//! `_contrib_calibrate_entropy`. Every quantized tensor travels with two float32 arrays of shape
//! (1,) holding the real-valued range it stands for; `range` holds MXNet's arithmetic for those
//! ranges so that every op rounds as MXNet 1.9.1 does.

mod calibrate;
pub mod range;

use super::Registry;

pub fn register(r: &mut Registry) {
    calibrate::register(r);
}
