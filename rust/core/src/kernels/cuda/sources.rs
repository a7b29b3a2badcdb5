//! Every kernel module, by name: the op families write their CUDA C next to their CPU
//! kernels; this list lets one machine without a GPU compile them all (`compile_all`).

/// Writes one module's CUDA C.
pub type Source = fn() -> String;

pub fn all() -> Vec<(&'static str, Source)> {
    use crate::op;
    vec![
        (
            op::elemwise_unary::CUDA_MODULE,
            op::elemwise_unary::cuda_source,
        ),
        (
            op::elemwise_binary::CUDA_MODULE,
            op::elemwise_binary::cuda_source,
        ),
        (
            op::nn::fully_connected::CUDA_MODULE,
            op::nn::fully_connected::cuda_source,
        ),
        (op::optimizer::CUDA_MODULE, op::optimizer::cuda_source),
        (
            op::nn::activation::CUDA_MODULE,
            op::nn::activation::cuda_source,
        ),
        (op::nn::loss::CUDA_MODULE, op::nn::loss::cuda_source),
        (
            op::nn::convolution::CUDA_MODULE,
            op::nn::convolution::cuda_source,
        ),
    ]
}
