//! Neural-network operators: one file per family, each holding the op's parameters,
//! inference, kernels and gradient.

/// Calls `$f::<T>(args)` for the float dtype `$d`, or fails naming op `$op`.
macro_rules! by_float {
    ($op:expr, $d:expr, $f:ident, $($arg:expr),*) => {
        match $d {
            $crate::dtype::DType::F32 => $f::<f32>($($arg),*),
            $crate::dtype::DType::F64 => $f::<f64>($($arg),*),
            $crate::dtype::DType::F16 => $f::<half::f16>($($arg),*),
            $crate::dtype::DType::BF16 => $f::<half::bf16>($($arg),*),
            d => Err($crate::error::Error::dtype(
                $op,
                format!("expects float16, bfloat16, float32 or float64, got {d}"),
            )),
        }
    };
}

/// Calls `$f::<T>(args)` for any numeric dtype `$d` but bool, or fails naming op `$op`.
macro_rules! by_type {
    ($op:expr, $d:expr, $f:ident, $($arg:expr),*) => {
        match $d {
            $crate::dtype::DType::F32 => $f::<f32>($($arg),*),
            $crate::dtype::DType::F64 => $f::<f64>($($arg),*),
            $crate::dtype::DType::F16 => $f::<half::f16>($($arg),*),
            $crate::dtype::DType::BF16 => $f::<half::bf16>($($arg),*),
            $crate::dtype::DType::I32 => $f::<i32>($($arg),*),
            $crate::dtype::DType::I64 => $f::<i64>($($arg),*),
            $crate::dtype::DType::U8 => $f::<u8>($($arg),*),
            $crate::dtype::DType::I8 => $f::<i8>($($arg),*),
            d => Err($crate::error::Error::dtype($op, format!("unsupported dtype {d}"))),
        }
    };
}

pub mod activation;
pub mod batch_norm;
pub mod convolution;
pub mod correlation;
pub mod ctc;
pub mod deformable;
pub mod detection;
pub mod dropout;
pub mod embedding;
pub mod fully_connected;
pub mod im2col;
pub mod loss;
pub mod lrn;
pub mod pad;
pub mod pooling;
pub mod pooling_v1;
pub mod rnn;
pub(crate) mod roi_common;
pub mod roi_pooling;
pub mod spatial;
pub mod svm;
pub mod upsampling;

use super::{Desc, Registry};
use crate::dtype::DType;
use crate::error::{Error, Result};

/// `d` if it is a float dtype, else an error naming op `op`.
pub(crate) fn float(op: &str, d: DType) -> Result<DType> {
    if d.is_float() {
        Ok(d)
    } else {
        Err(Error::dtype(
            op,
            format!("expects float16, float32 or float64 inputs, got {d}"),
        ))
    }
}

/// Checks the input count of a data/weight[/bias] op (2 when `no_bias`).
pub(crate) fn check_count(op: &str, inputs: &[Desc], n: usize) -> Result<()> {
    if inputs.len() != n {
        return Err(Error::Value(format!(
            "operator {op} takes {n} inputs ({}), {} given",
            if n == 2 {
                "data, weight: no_bias=True"
            } else {
                "data, weight, bias"
            },
            inputs.len()
        )));
    }
    Ok(())
}

pub fn register(r: &mut Registry) {
    fully_connected::register(r);
    convolution::register(r);
    pooling::register(r);
    pooling_v1::register(r);
    upsampling::register(r);
    pad::register(r);
    activation::register(r);
    batch_norm::register(r);
    lrn::register(r);
    dropout::register(r);
    embedding::register(r);
    loss::register(r);
    svm::register(r);
    spatial::register(r);
    roi_pooling::register(r);
    im2col::register(r);
    correlation::register(r);
    deformable::register(r);
    ctc::register(r);
    rnn::register(r);
    detection::register(r);
}
