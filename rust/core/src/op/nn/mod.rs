//! Neural-network operators: one file per family, each holding the op's parameters,
//! inference, kernels and gradient.

pub mod activation;
pub mod batch_norm;
pub mod convolution;
pub mod dropout;
pub mod embedding;
pub mod fully_connected;
pub mod loss;
pub mod pad;
pub mod pooling;
pub mod upsampling;

use super::Registry;

pub fn register(r: &mut Registry) {
    fully_connected::register(r);
    convolution::register(r);
    pooling::register(r);
    upsampling::register(r);
    pad::register(r);
    activation::register(r);
    batch_norm::register(r);
    dropout::register(r);
    embedding::register(r);
    loss::register(r);
}
