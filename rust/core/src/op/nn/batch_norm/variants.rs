//! BatchNorm's other registered forms, found in old model-zoo and exported graphs:
//! `BatchNorm_v1` (legacy, channel axis 1, shows the batch variance), `_contrib_SyncBatchNorm`
//! (cross-device statistics; one process here, so the batch is the device's batch) and
//! `_contrib_BatchNormWithReLU` (BatchNorm followed by max(0, .), as oneDNN fuses it).

use super::{batch_norm, BnCfg, BN_INPUTS};
use crate::error::{Error, Result};
use crate::op::params::{param, ParamSpec, Params};
use crate::op::{Inputs, Operator, Registry, SimpleDef};
use std::sync::Arc;

/// The parameters the legacy forms share (float eps, no axis).
fn legacy_params() -> Vec<ParamSpec> {
    vec![
        param("eps", "float, optional", Some("0.00100000005"), "Epsilon to prevent div 0"),
        param("momentum", "float, optional", Some("0.899999976"), "Momentum for moving average"),
        param("fix_gamma", "boolean, optional", Some("1"), "Fix gamma while training"),
        param("use_global_stats", "boolean, optional", Some("0"), "Whether use global moving statistics instead of local batch-norm. This will force change batch-norm into a scale shift operator."),
        param("output_mean_var", "boolean, optional", Some("0"), "Output All,normal mean and var"),
    ]
}

fn configure(
    name: &'static str,
    p: &Params,
    axis: i64,
    var_out: bool,
    relu: bool,
) -> Result<Arc<dyn Operator>> {
    let cfg = BnCfg {
        name,
        eps: p.float("eps")?,
        momentum: p.float("momentum")?,
        fix_gamma: p.bool("fix_gamma")?,
        use_global_stats: p.bool("use_global_stats")?,
        axis,
        var_out,
        relu,
        write_gamma: true,
    };
    if cfg.eps.is_nan() || cfg.eps < 0.0 {
        return Err(Error::param(
            name,
            format!("eps must be >= 0, got {}", cfg.eps),
        ));
    }
    let visible = if p.bool("output_mean_var")? { 3 } else { 1 };
    Ok(batch_norm(cfg, visible))
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: "BatchNorm_v1",
        doc: "Batch normalization (DEPRECATED: use BatchNorm).\n\nNormalizes each channel (axis 1) of a data batch by its mean and variance and applies a scale ``gamma`` and offset ``beta``: out = (data - mean) / sqrt(var + eps) * gamma + beta. In training (unless use_global_stats) the batch statistics are used, otherwise the auxiliary states ``moving_mean`` and ``moving_var``, which the training backward updates: moving = moving * momentum + batch_stat * (1 - momentum). With output_mean_var the outputs mean and var (the biased batch variance, or the moving statistics in inference) are shown too.".into(),
        params: legacy_params(),
        inputs: Inputs::Fixed(&BN_INPUTS),
        create: Box::new(|p| configure("BatchNorm_v1", p, 1, true, false)),
    });
    let mut sync = legacy_params();
    sync.push(param(
        "ndev",
        "int, optional",
        Some("1"),
        "The count of GPU devices",
    ));
    sync.push(param("key", "string", None, "Hash key for synchronization, please set the same hash key for same layer, Block.prefix is typically used as in :class:`gluon.nn.contrib.SyncBatchNorm`."));
    r.add(SimpleDef {
        name: "_contrib_SyncBatchNorm",
        doc: "Batch normalization with statistics over the whole mini-batch across devices (sync-once, as MXNet's SyncBatchNorm). In one process the mini-batch is this device's batch, so it computes BatchNorm_v1 on axis 1: out = (data - mean) / sqrt(var + eps) * gamma + beta, with the moving statistics updated in training and mean and var (the biased batch variance) shown under output_mean_var. `ndev` and `key` are accepted for graph compatibility.".into(),
        params: sync,
        inputs: Inputs::Fixed(&BN_INPUTS),
        create: Box::new(|p| {
            let ndev = p.int("ndev")?;
            if ndev < 1 {
                return Err(Error::param("_contrib_SyncBatchNorm", format!("ndev must be positive, got {ndev}")));
            }
            configure("_contrib_SyncBatchNorm", p, 1, true, false)
        }),
    });
    r.add(SimpleDef {
        name: "_contrib_BatchNormWithReLU",
        doc: "Batch normalization with ReLU fusion: max(0, BatchNorm(data, gamma, beta, moving_mean, moving_var)) with BatchNorm's parameters; the gradient flows where the output is positive. With output_mean_var the mean and 1/sqrt(var + eps) are shown too, as BatchNorm's.".into(),
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
            let axis = p.int("axis")?;
            configure("_contrib_BatchNormWithReLU", p, axis, false, true)
        }),
    });
}
