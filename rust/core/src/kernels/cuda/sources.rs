//! Every kernel module, by name: the op families write their CUDA C next to their CPU
//! kernels; this list lets one machine without a GPU compile them all (`compile_all`).

/// Writes one module's CUDA C.
pub type Source = fn() -> String;

pub fn all() -> Vec<(&'static str, Source)> {
    use crate::op::{elemwise_binary, elemwise_unary, nn, optimizer, reduce, softmax};
    vec![
        (elemwise_unary::CUDA_MODULE, elemwise_unary::cuda_source),
        (elemwise_binary::CUDA_MODULE, elemwise_binary::cuda_source),
        (optimizer::CUDA_MODULE, optimizer::cuda_source),
        (reduce::CUDA_MODULE, reduce::cuda_source),
        (
            nn::fully_connected::CUDA_MODULE,
            nn::fully_connected::cuda_source,
        ),
        (nn::activation::CUDA_MODULE, nn::activation::cuda_source),
        (nn::loss::CUDA_MODULE, nn::loss::cuda_source),
        (nn::convolution::CUDA_MODULE, nn::convolution::cuda_source),
        (nn::pooling::CUDA_MODULE, nn::pooling::cuda_source),
        (nn::batch_norm::CUDA_MODULE, nn::batch_norm::cuda_source),
        (super::strided::CUDA_MODULE, super::strided::cuda_source),
        (softmax::CUDA_MODULE, softmax::cuda_source),
        (nn::dropout::CUDA_MODULE, nn::dropout::cuda_source),
    ]
}
