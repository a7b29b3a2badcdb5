//! `BatchNorm`, `LayerNorm`, `InstanceNorm` and `GroupNorm`. Statistics are accumulated in
//! f64 whatever the data dtype. As in MXNet 1.9.1, BatchNorm's moving statistics are updated
//! by the *backward* node (which lists them in its `mutate`), never by the training forward;
//! BatchNorm's parameters stay float32 under float16 data.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::params::param;
use crate::op::{Desc, Inputs, Registry, SimpleDef};
use crate::shape::Shape;

use batch::batch_norm;
use rows::{row_norm, RowKind};

/// (outer, channels, inner) of `shape` around `axis`.
fn split(shape: &Shape, axis: usize) -> (usize, usize, usize) {
    let d = shape.dims();
    (
        d[..axis].iter().product(),
        d[axis],
        d[axis + 1..].iter().product(),
    )
}

fn float_data(op: &str, d: &Desc) -> Result<()> {
    if !d.dtype.is_float() {
        return Err(Error::dtype(
            op,
            format!("expects float16, float32 or float64 data, got {}", d.dtype),
        ));
    }
    Ok(())
}

/// Checks that each named parameter input is a vector of `c` floats.
fn check_vectors(op: &str, ins: &[Desc], names: &[&str], c: usize, data: &Shape) -> Result<()> {
    for (d, n) in ins.iter().zip(names) {
        if d.shape.dims() != [c] {
            return Err(Error::shape(
                op,
                format!(
                    "{n} has shape {}, expected ({c},) for data of shape {data}",
                    d.shape
                ),
            ));
        }
        if !d.dtype.is_float() {
            return Err(Error::dtype(
                op,
                format!("{n} must be a float array, got {}", d.dtype),
            ));
        }
    }
    Ok(())
}

/// The dtype of BatchNorm's parameters and statistics for data of dtype `d`.
fn bn_param_dtype(d: DType) -> DType {
    if matches!(d, DType::F16 | DType::BF16) {
        DType::F32
    } else {
        d
    }
}

#[derive(Clone, Copy, Debug)]
struct BnCfg {
    /// The registered name (`BatchNorm`, `BatchNorm_v1`, `_contrib_SyncBatchNorm`, ...).
    name: &'static str,
    eps: f64,
    momentum: f64,
    fix_gamma: bool,
    use_global_stats: bool,
    axis: i64,
    /// `BatchNorm_v1` shows the batch variance as its third output where BatchNorm shows
    /// 1/sqrt(var + eps).
    var_out: bool,
    /// `_contrib_BatchNormWithReLU`: the output goes through max(0, .).
    relu: bool,
    /// Under `fix_gamma`, gamma is reset to 1 by the forward pass. MXNet's BatchNorm does so
    /// only when its mean output is read (a backward pass or an output of the graph), so an
    /// inference-only executor leaves a loaded gamma as it was; its other variants always do.
    write_gamma: bool,
}

impl BnCfg {
    fn plain(eps: f64, momentum: f64, fix_gamma: bool, use_global_stats: bool, axis: i64) -> Self {
        BnCfg {
            name: "BatchNorm",
            eps,
            momentum,
            fix_gamma,
            use_global_stats,
            axis,
            var_out: false,
            relu: false,
            write_gamma: true,
        }
    }
}

const BN_INPUTS: [&str; 5] = ["data", "gamma", "beta", "moving_mean", "moving_var"];

pub fn register(r: &mut Registry) {
    variants::register(r);
    r.add(SimpleDef {
        name: "BatchNorm",
        doc: "Batch normalization.\n\nNormalizes a data batch by mean and variance, and applies a scale ``gamma`` as well as offset ``beta``. In training (and unless use_global_stats) the statistics of the batch are used, per channel of `axis`; otherwise the moving statistics. The moving statistics are updated during backward: moving = momentum * moving + (1 - momentum) * batch_stat (biased variance). With output_mean_var the outputs mean and 1/sqrt(var + eps) are shown too.".into(),
        params: vec![
            param("eps", "double, optional", Some("0.0010000000474974513"), "Epsilon to prevent div 0. Must be no less than CUDNN_BN_MIN_EPSILON defined in cudnn.h when using cudnn (usually 1e-5)"),
            param("momentum", "float, optional", Some("0.899999976"), "Momentum for moving average"),
            param("fix_gamma", "boolean, optional", Some("1"), "Fix gamma while training"),
            param("use_global_stats", "boolean, optional", Some("0"), "Whether use global moving statistics instead of local batch-norm. This will force change batch-norm into a scale shift operator."),
            param("output_mean_var", "boolean, optional", Some("0"), "Output the mean and inverse std "),
            param("axis", "int, optional", Some("1"), "Specify which shape axis the channel is specified"),
            param("cudnn_off", "boolean, optional", Some("0"), "Do not select CUDNN operator, if available"),
            param("min_calib_range", "float or None, optional", Some("None"), "The minimum scalar value in the form of float32 obtained through calibration. If present, it will be used to by quantized batch norm op to calculate primitive scale.Note: this calib_range is to calib bn output."),
            param("max_calib_range", "float or None, optional", Some("None"), "The maximum scalar value in the form of float32 obtained through calibration. If present, it will be used to by quantized batch norm op to calculate primitive scale.Note: this calib_range is to calib bn output."),
        ],
        inputs: Inputs::Fixed(&BN_INPUTS),
        create: Box::new(|p| {
            let cfg = BnCfg::plain(
                p.float("eps")?,
                p.float("momentum")?,
                p.bool("fix_gamma")?,
                p.bool("use_global_stats")?,
                p.int("axis")?,
            );
            if cfg.eps.is_nan() || cfg.eps < 0.0 {
                return Err(Error::param("BatchNorm", format!("eps must be >= 0, got {}", cfg.eps)));
            }
            let visible = if p.bool("output_mean_var")? { 3 } else { 1 };
            Ok(batch_norm(cfg, visible))
        }),
    });
    r.add(SimpleDef {
        name: "LayerNorm",
        doc: "Layer normalization.\n\nNormalizes the channels of the input tensor by mean and variance along `axis`, and applies a scale ``gamma`` as well as offset ``beta``: out = (data - mean) / sqrt(var + eps) * gamma + beta. With output_mean_var the mean and std (sqrt(var + eps)) are output too, with `axis` kept as size 1.".into(),
        params: vec![
            param("axis", "int, optional", Some("-1"), "The axis to perform layer normalization. Usually, this should be be axis of the channel dimension. Negative values means indexing from right to left."),
            param("eps", "float, optional", Some("9.99999975e-06"), "An `epsilon` parameter to prevent division by 0."),
            param("output_mean_var", "boolean, optional", Some("0"), "Output the mean and std calculated along the given axis."),
        ],
        inputs: Inputs::Fixed(&["data", "gamma", "beta"]),
        create: Box::new(|p| {
            let visible = if p.bool("output_mean_var")? { 3 } else { 1 };
            Ok(row_norm("LayerNorm", RowKind::Layer(p.int("axis")?), p.float("eps")?, visible))
        }),
    });
    r.add(SimpleDef {
        name: "GroupNorm",
        doc: "Group normalization.\n\nThe channels are split into ``num_groups`` groups; each group of each instance is normalized by its mean and variance, then scaled by ``gamma`` and shifted by ``beta`` (one value per group, as in MXNet 1.9.1): out = (x - mean) / sqrt(var + eps) * gamma + beta. With output_mean_var the mean and std (sqrt(var + eps)), of shape (batch, num_groups), are output too.".into(),
        params: vec![
            param("num_groups", "int, optional", Some("1"), "Total number of groups."),
            param("eps", "float, optional", Some("9.99999975e-06"), "An `epsilon` parameter to prevent division by 0."),
            param("output_mean_var", "boolean, optional", Some("0"), "Output the mean and std calculated along the given axis."),
        ],
        inputs: Inputs::Fixed(&["data", "gamma", "beta"]),
        create: Box::new(|p| {
            let g = p.int("num_groups")?;
            let g = usize::try_from(g)
                .ok()
                .filter(|&g| g > 0)
                .ok_or_else(|| Error::param("GroupNorm", format!("num_groups must be positive, got {g}")))?;
            let visible = if p.bool("output_mean_var")? { 3 } else { 1 };
            Ok(row_norm("GroupNorm", RowKind::Group(g), p.float("eps")?, visible))
        }),
    });
    r.add(SimpleDef {
        name: "InstanceNorm",
        doc: "Applies instance normalization to the n-dimensional input array: each channel of each instance is normalized over its spatial dimensions, then scaled by ``gamma`` and shifted by ``beta`` (per channel): out = (x - mean) / sqrt(var + eps) * gamma + beta.".into(),
        params: vec![param("eps", "float, optional", Some("0.00100000005"), "An `epsilon` parameter to prevent division by 0.")],
        inputs: Inputs::Fixed(&["data", "gamma", "beta"]),
        create: Box::new(|p| Ok(row_norm("InstanceNorm", RowKind::Instance, p.float("eps")?, 1))),
    });
}

#[cfg(feature = "cuda")]
mod cuda;
#[cfg(feature = "cuda")]
pub use cuda::{cuda_source, CUDA_MODULE};

mod batch;
mod rows;
#[cfg(test)]
mod tests;
mod variants;
