//! The explicit list of every operator family, and name/alias lookup.

use super::OpDef;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

#[derive(Default)]
pub struct Registry {
    defs: Vec<Arc<dyn OpDef>>,
    by_name: HashMap<&'static str, Arc<dyn OpDef>>,
    aliases: Vec<(&'static str, &'static str)>,
}

impl Registry {
    pub fn add(&mut self, def: impl OpDef + 'static) {
        let def: Arc<dyn OpDef> = Arc::new(def);
        self.by_name.insert(def.name(), def.clone());
        self.defs.push(def);
    }

    /// `alias` names the same op as `target` (MXNet `add_alias`); an alias of an alias is
    /// recorded against the definition's own name.
    pub fn alias(&mut self, alias: &'static str, target: &'static str) {
        if let Some(d) = self.by_name.get(target).cloned() {
            self.aliases.push((alias, d.name()));
            self.by_name.insert(alias, d);
        }
    }

    pub fn get(&self, name: &str) -> Result<&Arc<dyn OpDef>> {
        self.by_name
            .get(name)
            .ok_or_else(|| Error::Value(format!("operator {name} is not registered")))
    }

    /// Every op once, in registration order.
    pub fn defs(&self) -> &[Arc<dyn OpDef>] {
        &self.defs
    }

    /// (alias, target name) pairs.
    pub fn aliases(&self) -> &[(&'static str, &'static str)] {
        &self.aliases
    }
}

pub fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| {
        let mut r = Registry::default();
        super::elemwise_binary::register(&mut r);
        super::elemwise_unary::register(&mut r);
        super::special::register(&mut r);
        super::init::register(&mut r);
        super::random::register(&mut r);
        super::reduce::register(&mut r);
        super::matrix::register(&mut r);
        super::shape_ops::register(&mut r);
        super::broadcast::register(&mut r);
        super::concat::register(&mut r);
        super::custom::register(&mut r);
        super::control_flow::register(&mut r);
        super::transpose::register(&mut r);
        super::slice::register(&mut r);
        super::region::register(&mut r);
        super::indexing::register(&mut r);
        super::gather::register(&mut r);
        super::ravel::register(&mut r);
        super::moments::register(&mut r);
        super::linalg::register(&mut r);
        super::softmax::register(&mut r);
        super::sort::register(&mut r);
        super::sequence::register(&mut r);
        super::optimizer::register(&mut r);
        super::nn::register(&mut r);
        super::contrib::register(&mut r);
        super::quantization::register(&mut r);
        super::sg_mkldnn::register(&mut r);
        super::image::register(&mut r);
        super::utility::register(&mut r);
        super::compat::register(&mut r);
        sparse_aliases(&mut r);
        r
    })
}

/// MXNet registers each operator with a sparse-storage kernel a second time as `_sparse_<name>`
/// (what `mx.nd.sparse.<name>` calls). Sparse arrays here are the dense array's memory, so the
/// names lead to the same definitions.
fn sparse_aliases(r: &mut Registry) {
    const NAMES: &[(&str, &str)] = &[
        ("_sparse_ElementWiseSum", "ElementWiseSum"),
        ("_sparse_Embedding", "Embedding"),
        ("_sparse_FullyConnected", "FullyConnected"),
        ("_sparse_LinearRegressionOutput", "LinearRegressionOutput"),
        (
            "_sparse_LogisticRegressionOutput",
            "LogisticRegressionOutput",
        ),
        ("_sparse_MAERegressionOutput", "MAERegressionOutput"),
        ("_sparse__contrib_round_ste", "_contrib_round_ste"),
        ("_sparse__contrib_sign_ste", "_contrib_sign_ste"),
        ("_sparse_abs", "abs"),
        ("_sparse_adam_update", "adam_update"),
        ("_sparse_add_n", "add_n"),
        ("_sparse_arccos", "arccos"),
        ("_sparse_arccosh", "arccosh"),
        ("_sparse_arcsin", "arcsin"),
        ("_sparse_arcsinh", "arcsinh"),
        ("_sparse_arctan", "arctan"),
        ("_sparse_arctanh", "arctanh"),
        ("_sparse_broadcast_add", "broadcast_add"),
        ("_sparse_broadcast_div", "broadcast_div"),
        ("_sparse_broadcast_minus", "broadcast_minus"),
        ("_sparse_broadcast_mul", "broadcast_mul"),
        ("_sparse_broadcast_plus", "broadcast_plus"),
        ("_sparse_broadcast_sub", "broadcast_sub"),
        ("_sparse_cast_storage", "cast_storage"),
        ("_sparse_cbrt", "cbrt"),
        ("_sparse_ceil", "ceil"),
        ("_sparse_clip", "clip"),
        ("_sparse_concat", "concat"),
        ("_sparse_cos", "cos"),
        ("_sparse_cosh", "cosh"),
        ("_sparse_degrees", "degrees"),
        ("_sparse_dot", "dot"),
        ("_sparse_elemwise_add", "elemwise_add"),
        ("_sparse_elemwise_div", "elemwise_div"),
        ("_sparse_elemwise_mul", "elemwise_mul"),
        ("_sparse_elemwise_sub", "elemwise_sub"),
        ("_sparse_exp", "exp"),
        ("_sparse_expm1", "expm1"),
        ("_sparse_fix", "fix"),
        ("_sparse_floor", "floor"),
        ("_sparse_ftrl_update", "ftrl_update"),
        ("_sparse_gamma", "gamma"),
        ("_sparse_gammaln", "gammaln"),
        ("_sparse_log", "log"),
        ("_sparse_log10", "log10"),
        ("_sparse_log1p", "log1p"),
        ("_sparse_log2", "log2"),
        ("_sparse_make_loss", "make_loss"),
        ("_sparse_mean", "mean"),
        ("_sparse_negative", "negative"),
        ("_sparse_norm", "norm"),
        ("_sparse_radians", "radians"),
        ("_sparse_relu", "relu"),
        ("_sparse_rint", "rint"),
        ("_sparse_round", "round"),
        ("_sparse_rsqrt", "rsqrt"),
        ("_sparse_sgd_mom_update", "sgd_mom_update"),
        ("_sparse_sgd_update", "sgd_update"),
        ("_sparse_sigmoid", "sigmoid"),
        ("_sparse_sign", "sign"),
        ("_sparse_sin", "sin"),
        ("_sparse_sinh", "sinh"),
        ("_sparse_slice", "slice"),
        ("_sparse_sqrt", "sqrt"),
        ("_sparse_square", "square"),
        ("_sparse_stop_gradient", "stop_gradient"),
        ("_sparse_sum", "sum"),
        ("_sparse_tan", "tan"),
        ("_sparse_tanh", "tanh"),
        ("_sparse_trunc", "trunc"),
        ("_sparse_where", "where"),
        ("_sparse_zeros_like", "zeros_like"),
    ];
    for &(alias, target) in NAMES {
        r.alias(alias, target);
    }
}
