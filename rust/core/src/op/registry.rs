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

    /// `alias` names the same op as `target` (MXNet `add_alias`).
    pub fn alias(&mut self, alias: &'static str, target: &'static str) {
        if let Some(d) = self.by_name.get(target).cloned() {
            self.by_name.insert(alias, d);
            self.aliases.push((alias, target));
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
        super::image::register(&mut r);
        super::utility::register(&mut r);
        super::compat::register(&mut r);
        r
    })
}
