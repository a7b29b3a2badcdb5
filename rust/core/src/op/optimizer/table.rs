//! The single-weight update ops' table: name, doc, input names, MXNet's parameters (names,
//! defaults and docs) and the update rule each applies.

use super::Rule;
use crate::op::params::{param, ParamSpec};

pub(super) const LR: ParamSpec = param("lr", "float", None, "Learning rate");
pub(super) const WD: ParamSpec = param(
    "wd",
    "float",
    Some("0"),
    "Weight decay augments the objective function with a regularization term that penalizes large weights. The penalty scales with the square of the magnitude of each weight.",
);
pub(super) const RESCALE: ParamSpec = param(
    "rescale_grad",
    "float",
    Some("1"),
    "Rescale gradient to grad = rescale_grad*grad.",
);
pub(super) const CLIP: ParamSpec = param(
    "clip_gradient",
    "float",
    Some("-1"),
    "Clip gradient to the range of [-clip_gradient, clip_gradient] If clip_gradient <= 0, gradient clipping is turned off. grad = max(min(grad, clip_gradient), -clip_gradient).",
);
pub(super) const LAZY: ParamSpec = param(
    "lazy_update",
    "boolean",
    Some("1"),
    "If true, lazy updates are applied if gradient's stype is row_sparse (dense arrays always update fully).",
);
pub(super) const MOMENTUM: ParamSpec = param(
    "momentum",
    "float",
    Some("0"),
    "The decay rate of momentum estimates at each epoch.",
);
pub(super) const EPS: ParamSpec = param(
    "epsilon",
    "float",
    Some("9.99999994e-09"),
    "A small constant for numerical stability.",
);
pub(super) const GAMMA1: ParamSpec = param(
    "gamma1",
    "float",
    Some("0.949999988"),
    "The decay rate of the squared-gradient average.",
);
pub(super) const CLIP_W: ParamSpec = param(
    "clip_weights",
    "float",
    Some("-1"),
    "Clip weights to the range of [-clip_weights, clip_weights] If clip_weights <= 0, weight clipping is turned off.",
);

#[allow(clippy::type_complexity)]
pub(super) fn table() -> Vec<(
    &'static str,
    &'static str,
    &'static [&'static str],
    Vec<ParamSpec>,
    Rule,
)> {
    vec![
        (
            "sgd_update",
            "Update function for Stochastic Gradient Descent (SGD) optimizer:\n    weight = weight - lr * (rescale_grad * clip(grad) + wd * weight)",
            &["weight", "grad"],
            vec![LR, WD, RESCALE, CLIP, LAZY],
            Rule::Sgd,
        ),
        (
            "sgd_mom_update",
            "Momentum update function for SGD (mom is updated in place):\n    mom = momentum * mom - lr * (rescale_grad * clip(grad) + wd * weight)\n    weight = weight + mom",
            &["weight", "grad", "mom"],
            vec![LR, MOMENTUM, WD, RESCALE, CLIP, LAZY],
            Rule::SgdMom,
        ),
        (
            "nag_mom_update",
            "Update function for Nesterov Accelerated Gradient (NAG) optimizer (mom is updated in place):\n    g = rescale_grad * clip(grad) + wd * weight\n    weight = weight + momentum * (momentum * mom - lr * g) - lr * g\n    mom = momentum * mom - lr * g  (with out=weight, g uses the new weight, as in MXNet)",
            &["weight", "grad", "mom"],
            vec![LR, MOMENTUM, WD, RESCALE, CLIP],
            Rule::NagMom,
        ),
        (
            "mp_sgd_update",
            "Updater function for multi-precision SGD: the update runs on the float32 master copy weight32 (updated in place) and the result is cast to the weight's dtype.",
            &["weight", "grad", "weight32"],
            vec![LR, WD, RESCALE, CLIP, LAZY],
            Rule::MpSgd,
        ),
        (
            "mp_sgd_mom_update",
            "Updater function for multi-precision SGD with momentum: mom and weight32 (float32) are updated in place, the result is cast to the weight's dtype.",
            &["weight", "grad", "mom", "weight32"],
            vec![LR, MOMENTUM, WD, RESCALE, CLIP, LAZY],
            Rule::MpSgdMom,
        ),
        (
            "mp_nag_mom_update",
            "Update function for multi-precision Nesterov Accelerated Gradient (NAG) optimizer: mom and weight32 (float32) are updated in place.",
            &["weight", "grad", "mom", "weight32"],
            vec![LR, MOMENTUM, WD, RESCALE, CLIP],
            Rule::MpNagMom,
        ),
        (
            "adam_update",
            "Update function for Adam optimizer (mean and var are updated in place):\n    g = clip(rescale_grad * grad + wd * weight)\n    mean = beta1 * mean + (1 - beta1) * g\n    var = beta2 * var + (1 - beta2) * g^2\n    weight = weight - lr * mean / (sqrt(var) + epsilon)",
            &["weight", "grad", "mean", "var"],
            vec![
                LR,
                BETA1,
                BETA2,
                EPS,
                WD,
                RESCALE,
                CLIP,
                LAZY,
            ],
            Rule::Adam,
        ),
        (
            "rmsprop_update",
            "Update function for RMSProp optimizer (n is updated in place):\n    g = clip(rescale_grad * grad + wd * weight)\n    n = (1 - gamma1) * g^2 + gamma1 * n\n    weight = weight - lr * g / sqrt(n + epsilon)",
            &["weight", "grad", "n"],
            vec![LR, GAMMA1, EPS, WD, RESCALE, CLIP, CLIP_W],
            Rule::RmsProp,
        ),
        (
            "rmspropalex_update",
            "Update function for the centered RMSProp optimizer of Graves (2013) (n, g and delta are updated in place):\n    n = (1 - gamma1) * grad^2 + gamma1 * n\n    g = (1 - gamma1) * grad + gamma1 * g\n    delta = gamma2 * delta - lr * grad / sqrt(n - g^2 + epsilon)\n    weight = weight + delta",
            &["weight", "grad", "n", "g", "delta"],
            vec![
                LR,
                GAMMA1,
                param("gamma2", "float", Some("0.899999976"), "Decay rate."),
                EPS,
                WD,
                RESCALE,
                CLIP,
                CLIP_W,
            ],
            Rule::RmsPropAlex,
        ),
        (
            "signsgd_update",
            "Update function for SignSGD optimizer:\n    weight = (1 - lr * wd) * weight - lr * sign(grad)",
            &["weight", "grad"],
            vec![LR, WD, RESCALE, CLIP],
            Rule::SignSgd,
        ),
        (
            "signum_update",
            "SIGN momentUM (Signum) optimizer (mom is updated in place):\n    mom = momentum * mom - (1 - momentum) * (wd * weight + rescale_grad * clip(grad))\n    weight = (1 - lr * wd_lh) * weight + lr * sign(mom)",
            &["weight", "grad", "mom"],
            vec![
                LR,
                MOMENTUM,
                WD,
                RESCALE,
                CLIP,
                param("wd_lh", "float", Some("0"), "The amount of weight decay that does not go into gradient/momentum calculations otherwise do weight decay algorithmically only."),
            ],
            Rule::Signum,
        ),
        (
            "ftrl_update",
            "Update function for Ftrl optimizer (z and n are updated in place):\n    z += g - (sqrt(n + g^2) - sqrt(n)) * weight / lr\n    n += g^2\n    weight = (sign(z) * lamda1 - z) / ((beta + sqrt(n)) / lr + wd) * (|z| > lamda1)",
            &["weight", "grad", "z", "n"],
            vec![
                LR,
                param("lamda1", "float", Some("0.00999999978"), "The L1 regularization coefficient."),
                param("beta", "float", Some("1"), "Per-Coordinate Learning Rate beta."),
                WD,
                RESCALE,
                CLIP,
            ],
            Rule::Ftrl,
        ),
        (
            "ftml_update",
            "The FTML optimizer (Follow the Moving Leader, Zheng & Kwok 2017); d, v and z are updated in place:\n    g = clip(rescale_grad * grad + wd * weight)\n    v = beta2 * v + (1 - beta2) * g^2\n    d_t = (1 - beta1^t) / lr * (sqrt(v / (1 - beta2^t)) + epsilon)\n    z = beta1 * z + (1 - beta1) * g - (d_t - beta1 * d) * weight\n    d = d_t\n    weight = -z / d",
            &["weight", "grad", "d", "v", "z"],
            vec![
                LR,
                param("beta1", "float", Some("0.600000024"), "Generally close to 0.5."),
                param("beta2", "float", Some("0.999000013"), "Generally close to 1."),
                param("epsilon", "double", Some("9.9999999392252903e-09"), "Epsilon to prevent div 0."),
                T,
                WD,
                RESCALE,
                param("clip_grad", "float", Some("-1"), "Clip gradient to the range of [-clip_gradient, clip_gradient] If clip_gradient <= 0, gradient clipping is turned off. grad = max(min(grad, clip_gradient), -clip_gradient)."),
            ],
            Rule::Ftml,
        ),
        (
            "lamb_update_phase1",
            "Phase I of the LAMB update (mean and var are updated in place); returns g:\n    grad = clip(rescale_grad * grad)\n    mean = beta1 * mean + (1 - beta1) * grad\n    var = beta2 * var + (1 - beta2) * grad^2\n    g = mean_hat / (sqrt(var_hat) + epsilon) + wd * weight\nwhere mean_hat = mean / (1 - beta1^t) and var_hat = var / (1 - beta2^t) with bias_correction, else mean and var.",
            &["weight", "grad", "mean", "var"],
            vec![
                BETA1,
                BETA2,
                param("epsilon", "float", Some("9.99999997e-07"), "A small constant for numerical stability."),
                param("t", "int", None, "Index update count."),
                param("bias_correction", "boolean", Some("1"), "Whether to use bias correction."),
                param("wd", "float", None, WD.doc),
                RESCALE,
                CLIP,
            ],
            Rule::LambPhase1,
        ),
        (
            "lamb_update_phase2",
            "Phase II of the LAMB update: the trust ratio r1 / r2 (r1 = norm of the weight clipped to [lower_bound, upper_bound] where those are >= 0, r2 = norm of g; 1 when either is 0) scales the step:\n    weight = weight - lr * r1 / r2 * g",
            &["weight", "g", "r1", "r2"],
            vec![
                LR,
                param("lower_bound", "float", Some("-1"), "Lower limit of norm of weight. If lower_bound <= 0, Lower limit is not set"),
                param("upper_bound", "float", Some("-1"), "Upper limit of norm of weight. If upper_bound <= 0, Upper limit is not set"),
            ],
            Rule::LambPhase2,
        ),
        (
            "_adamw_update",
            "Update function for the AdamW optimizer (Adam with decoupled weight decay); mean and var are updated in place:\n    g = clip(rescale_grad * grad)\n    mean = beta1 * mean + (1 - beta1) * g\n    var = beta2 * var + (1 - beta2) * g^2\n    weight = weight - eta * (lr * mean / (sqrt(var) + epsilon) + wd * weight)\nrescale_grad is a one-element array; when it is NaN, infinite or 0 the update is skipped.",
            &["weight", "grad", "mean", "var", "rescale_grad"],
            adamw_params(),
            Rule::AdamW,
        ),
        (
            "_mp_adamw_update",
            "Multi-precision AdamW: the update of _adamw_update runs on the float32 master copy weight32 (updated in place with mean and var) and the result is cast to the weight's dtype.",
            &["weight", "grad", "mean", "var", "weight32", "rescale_grad"],
            adamw_params(),
            Rule::MpAdamW,
        ),
    ]
}

const T: ParamSpec = param("t", "int", None, "Number of update.");
pub(super) const BETA1: ParamSpec = param(
    "beta1",
    "float",
    Some("0.899999976"),
    "The decay rate for the 1st moment estimates.",
);
pub(super) const BETA2: ParamSpec = param(
    "beta2",
    "float",
    Some("0.999000013"),
    "The decay rate for the 2nd moment estimates.",
);

fn adamw_params() -> Vec<ParamSpec> {
    vec![
        LR,
        BETA1,
        BETA2,
        EPS,
        WD,
        param("eta", "float", None, "Learning rate schedule multiplier"),
        CLIP,
    ]
}
