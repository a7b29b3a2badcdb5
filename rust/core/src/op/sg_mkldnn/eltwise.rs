//! The eltwise post-op a fused node applies after its product (or after its sum): the subgraph's
//! activation as MXNet 1.9.1's parsers map it to a oneDNN algorithm and alpha, evaluated in f32
//! as oneDNN's eltwise does.
//!
//! Both fused layers read the same ops, with one difference: `_sg_mkldnn_fully_connected` also
//! takes square, sqrt, exp and abs (`SupportMKLDNNFCEltwiseFusion`). Which of them MXNet's own
//! partitioner fuses into an INT8 node is narrower (the selectors in
//! python/oxnet/contrib/quantization/mkldnn.py); a node written by hand with any of them runs
//! in MXNet, and here.

use crate::error::{Error, Result};
use crate::graph::{topo_order, Node};
use crate::op::control_flow::body::Body;
use crate::op::params::parse_float;
use libm::erf;

/// The fused layer an eltwise node follows.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Layer {
    Conv,
    Fc,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Eltwise {
    /// `eltwise_relu` with its alpha: Activation relu (0) and LeakyReLU leaky (the slope).
    Relu(f32),
    Sigmoid,
    Tanh,
    SoftRelu,
    /// LeakyReLU elu: `eltwise_elu` with the slope as alpha.
    Elu(f32),
    /// LeakyReLU gelu: `eltwise_gelu_erf`, as MXNet's own gelu (not the tanh approximation).
    Gelu,
    Square,
    Sqrt,
    Exp,
    Abs,
    /// clip(a_min=0, a_max): `eltwise_bounded_relu` with a_max as alpha.
    BoundedRelu(f32),
}

fn float_attr(op: &str, n: &Node, key: &str, default: Option<f32>) -> Result<f32> {
    match (n.attr(key), default) {
        (None, Some(d)) => Ok(d),
        (None, None) => Err(Error::param(
            op,
            format!("{} ({}): {key} is required", n.name, n.op_name),
        )),
        (Some(v), _) => parse_float(&v).map(|f| f as f32).ok_or_else(|| {
            Error::param(
                op,
                format!("{} ({}): {key}={v:?} is not a number", n.name, n.op_name),
            )
        }),
    }
}

impl Eltwise {
    /// The post-op one subgraph node gives, or an error naming the node's op and attribute
    /// where MXNet's parser has no oneDNN algorithm for it.
    pub(crate) fn from_node(op: &str, layer: Layer, n: &Node) -> Result<Eltwise> {
        let unsupported = |what: String| {
            Error::param(
                op,
                format!(
                    "{} ({}): {what} is not supported as a fused eltwise post-op",
                    n.name, n.op_name
                ),
            )
        };
        let fc_only = |e: Eltwise| match layer {
            Layer::Fc => Ok(e),
            Layer::Conv => Err(unsupported(format!("op {}", n.op_name))),
        };
        match n.op_name.as_str() {
            "Activation" => match n.attr("act_type").as_deref().unwrap_or("") {
                "relu" => Ok(Eltwise::Relu(0.0)),
                "sigmoid" => Ok(Eltwise::Sigmoid),
                "tanh" => Ok(Eltwise::Tanh),
                "softrelu" => Ok(Eltwise::SoftRelu),
                t => Err(unsupported(format!("act_type={t:?}"))),
            },
            "LeakyReLU" => {
                let slope = || float_attr(op, n, "slope", Some(0.25));
                match n.attr("act_type").as_deref().unwrap_or("leaky") {
                    "leaky" => Ok(Eltwise::Relu(slope()?)),
                    "elu" => Ok(Eltwise::Elu(slope()?)),
                    "gelu" => Ok(Eltwise::Gelu),
                    t => Err(unsupported(format!("act_type={t:?}"))),
                }
            }
            "clip" => {
                let lo = float_attr(op, n, "a_min", None)?;
                if lo != 0.0 {
                    // MXNet's selectors only fuse a clip from 0 (oneDNN's bounded relu).
                    return Err(unsupported(format!("a_min={lo} (only a_min=0)")));
                }
                Ok(Eltwise::BoundedRelu(float_attr(op, n, "a_max", None)?))
            }
            "square" | "_npi_square" => fc_only(Eltwise::Square),
            "sqrt" | "_npi_sqrt" => fc_only(Eltwise::Sqrt),
            "exp" | "_npi_exp" => fc_only(Eltwise::Exp),
            "abs" | "_npi_absolute" => fc_only(Eltwise::Abs),
            o => Err(unsupported(format!("op {o}"))),
        }
    }

    pub(crate) fn apply(self, v: f32) -> f32 {
        match self {
            Eltwise::Relu(0.0) => v.max(0.0),
            Eltwise::Relu(a) => {
                if v > 0.0 {
                    v
                } else {
                    v * a
                }
            }
            Eltwise::Sigmoid => 1.0 / (1.0 + (-v).exp()),
            Eltwise::Tanh => v.tanh(),
            // oneDNN passes the input through where exp would overflow.
            Eltwise::SoftRelu => {
                if v < f32::MAX.ln() {
                    v.exp().ln_1p()
                } else {
                    v
                }
            }
            Eltwise::Elu(a) => {
                if v > 0.0 {
                    v
                } else {
                    a * v.exp_m1()
                }
            }
            Eltwise::Gelu => {
                let x = f64::from(v);
                (0.5 * x * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2))) as f32
            }
            Eltwise::Square => v * v,
            Eltwise::Sqrt => v.sqrt(),
            Eltwise::Exp => v.exp(),
            Eltwise::Abs => v.abs(),
            Eltwise::BoundedRelu(hi) => v.max(0.0).min(hi),
        }
    }

    /// The op as a graph names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Eltwise::Relu(a) if a != 0.0 => "LeakyReLU leaky",
            Eltwise::Relu(_) => "relu",
            Eltwise::Sigmoid => "sigmoid",
            Eltwise::Tanh => "tanh",
            Eltwise::SoftRelu => "softrelu",
            Eltwise::Elu(_) => "LeakyReLU elu",
            Eltwise::Gelu => "LeakyReLU gelu",
            Eltwise::Square => "square",
            Eltwise::Sqrt => "sqrt",
            Eltwise::Exp => "exp",
            Eltwise::Abs => "abs",
            Eltwise::BoundedRelu(_) => "clip",
        }
    }

    /// `apply` over a row, the post-op picked once.
    pub(crate) fn apply_all(self, v: &mut [f32]) {
        match self {
            Eltwise::Relu(0.0) => v.iter_mut().for_each(|x| *x = x.max(0.0)),
            _ => v.iter_mut().for_each(|x| *x = self.apply(*x)),
        }
    }

    /// MXNet's `IsOutputUint8` for the fully connected node: it tests the algorithm only, so
    /// a leaky relu (`eltwise_relu` with a slope) gets uint8 too and loses its negative side.
    pub(crate) fn fc_uint8(self) -> bool {
        !matches!(self, Eltwise::Tanh | Eltwise::Elu(_) | Eltwise::Gelu)
    }

    /// MXNet's `IsOutputUInt8` for the convolution, which checks relu's alpha.
    pub(crate) fn conv_uint8(self) -> bool {
        matches!(
            self,
            Eltwise::Relu(0.0) | Eltwise::Sigmoid | Eltwise::SoftRelu | Eltwise::BoundedRelu(_)
        )
    }
}

/// The subgraph's post-ops in evaluation order: every node but the layer's own (`skip`).
pub(crate) fn post_ops(op: &str, layer: Layer, body: &Body, skip: &[&str]) -> Result<Vec<Eltwise>> {
    topo_order(&body.sym.outputs)
        .iter()
        .filter(|n| !n.is_variable() && !skip.contains(&n.op_name.as_str()))
        .map(|n| Eltwise::from_node(op, layer, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_follow_onednn() {
        assert_eq!(Eltwise::Relu(0.1).apply(-2.0), -0.2);
        assert_eq!(Eltwise::Relu(0.0).apply(-2.0), 0.0);
        assert_eq!(Eltwise::BoundedRelu(6.0).apply(7.0), 6.0);
        assert_eq!(Eltwise::BoundedRelu(6.0).apply(-1.0), 0.0);
        assert_eq!(Eltwise::SoftRelu.apply(100.0), 100.0);
        assert!((Eltwise::Elu(0.5).apply(-1.0) - 0.5 * ((-1f32).exp() - 1.0)).abs() < 1e-7);
        // gelu_erf(1) = 0.5 (1 + erf(1/sqrt 2)); the tanh form gives 0.841192
        assert!((Eltwise::Gelu.apply(1.0) - 0.841_344_8).abs() < 1e-7);
        assert!(Eltwise::Sqrt.apply(-1.0).is_nan());
    }

    #[test]
    fn output_types_follow_mxnet() {
        assert!(Eltwise::Relu(0.1).fc_uint8() && !Eltwise::Relu(0.1).conv_uint8());
        assert!(!Eltwise::Gelu.fc_uint8() && !Eltwise::Gelu.conv_uint8());
        assert!(Eltwise::Exp.fc_uint8() && Eltwise::BoundedRelu(1.0).conv_uint8());
    }
}
