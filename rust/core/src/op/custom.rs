//! `Custom`: operators written in Python (`mx.operator.CustomOpProp`). The core knows only
//! the op's name and its `op_type` attribute; the binding installs a factory that turns the
//! attributes into a configured operator whose inference, kernels and gradient call Python.
//! Such operators run at push time (`Operator::runs_at_push`): their Python code pushes
//! ordinary engine ops, which the engine orders by the arrays they touch.

use super::params::{param, ParamSpec};
use super::{Inputs, OpDef, Operator, Registry};
use crate::error::{Error, Result};
use std::sync::{Arc, OnceLock};

/// Builds a configured `Custom` operator from its attributes (`op_type` and the prop's own).
pub type CustomFactory =
    Box<dyn Fn(&[(String, String)]) -> Result<Arc<dyn Operator>> + Send + Sync>;

static FACTORY: OnceLock<CustomFactory> = OnceLock::new();

/// Installs the factory (the Python binding does, once); false if one was installed already.
pub fn set_custom_factory(f: CustomFactory) -> bool {
    FACTORY.set(f).is_ok()
}

const PARAMS: [ParamSpec; 1] = [param(
    "op_type",
    "string",
    None,
    "Name of the custom operator, as registered with mx.operator.register; other keyword \
     arguments go to its CustomOpProp as strings.",
)];

struct CustomDef;

impl OpDef for CustomDef {
    fn name(&self) -> &'static str {
        "Custom"
    }
    fn doc(&self) -> &str {
        "Apply a custom operator implemented in Python (a CustomOp created by the \
         CustomOpProp registered under op_type)."
    }
    fn params(&self) -> &[ParamSpec] {
        &PARAMS
    }
    fn inputs(&self) -> Inputs {
        Inputs::Dynamic
    }
    /// Any attribute is the prop's: only `op_type` is required here.
    fn create(&self, attrs: &[(String, String)]) -> Result<Arc<dyn Operator>> {
        if !attrs.iter().any(|(k, _)| k == "op_type") {
            return Err(Error::Param {
                op: "Custom".into(),
                msg: "Required parameter op_type of string is not presented".into(),
            });
        }
        let factory = FACTORY.get().ok_or_else(|| {
            Error::NotImplemented(
                "Custom operators are defined in Python (mx.operator); this process has no \
                 Python binding loaded"
                    .into(),
            )
        })?;
        factory(attrs)
    }
}

pub fn register(r: &mut Registry) {
    r.add(CustomDef);
}
