//! Control flow through the core API: JSON written by MXNet 1.9.1 loads and saves back
//! byte for byte, and a cumulative-sum `_foreach` runs forward and backward in an executor.

use crate::context::Context;
use crate::executor::{Executor, GradReq};
use crate::graph::json::{load_json, to_json};
use crate::graph::subgraph::create_control_flow;
use crate::graph::symbol::Symbol;
use crate::ndarray::NDArray;
use crate::shape::Shape;

const MXNET_FOREACH: &str =
    include_str!("../../../../../tests/python/data/foreach_rnn-symbol.json");

#[test]
fn mxnet_foreach_json_round_trips() {
    let sym = load_json(MXNET_FOREACH).expect("load");
    assert_eq!(sym.list_arguments(), ["data", "h0", "w", "u"]);
    assert_eq!(to_json(&sym), MXNET_FOREACH);
}

fn arr(shape: &[usize], v: &[f32]) -> NDArray {
    NDArray::from_vec(Shape::new(shape.to_vec()), v, Context::default()).expect("array")
}

/// out[t] = s_t + x[t], s_{t+1} = out[t]: a running sum.
fn cumsum() -> Symbol {
    let attrs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let (x, s) = (
        Symbol::variable("x-0", vec![]),
        Symbol::variable("s-0", vec![]),
    );
    let sum = Symbol::create("elemwise_add", "add0", &[], &[x, s], &[]).expect("add");
    let state =
        Symbol::create("_copy", "copy0", &[], std::slice::from_ref(&sum), &[]).expect("copy");
    let body = Symbol::group(&[sum, state]);
    let a = attrs(&[
        ("num_args", "3"),
        ("num_outputs", "2"),
        ("num_out_data", "1"),
        ("in_data_locs", "[0]"),
        ("in_state_locs", "[1]"),
        ("remain_locs", "[]"),
    ]);
    let (x, s0) = (
        Symbol::variable("x", vec![]),
        Symbol::variable("s0", vec![]),
    );
    create_control_flow("_foreach", "_foreach0", &a, &[x, s0], vec![body]).expect("node")
}

#[test]
fn foreach_runs_forward_and_backward() {
    let sym = cumsum();
    let x = arr(&[3, 2], &[1., 2., 3., 4., 5., 6.]);
    let s0 = arr(&[2], &[10., 20.]);
    let (gx, gs) = (arr(&[3, 2], &[0.; 6]), arr(&[2], &[0.; 2]));
    let mut ex = Executor::bind(
        sym.outputs.clone(),
        vec![x, s0],
        vec![Some(gx.clone()), Some(gs.clone())],
        vec![GradReq::Write; 2],
        vec![],
        None,
    )
    .expect("bind");
    ex.forward(true).expect("forward");
    let out = ex.outputs[0].to_vec::<f32>().expect("out");
    assert_eq!(out, [11., 22., 14., 26., 19., 32.]);
    assert_eq!(ex.outputs[1].to_vec::<f32>().expect("state"), [19., 32.]);
    // Head gradients: ones on the stacked outputs, (1, 2) on the final state.
    let hg = vec![Some(arr(&[3, 2], &[1.; 6])), Some(arr(&[2], &[1., 2.]))];
    ex.backward(&hg, true).expect("backward");
    // x[t] feeds outputs t..2 and the final state: (3 - t) + final-state gradient.
    assert_eq!(gx.to_vec::<f32>().expect("gx"), [4., 5., 3., 4., 2., 3.]);
    assert_eq!(gs.to_vec::<f32>().expect("gs"), [4., 5.]);
}

#[test]
fn foreach_without_subgraph_is_a_clear_error() {
    let err = crate::op::registry()
        .get("_foreach")
        .and_then(|d| d.create(&[]))
        .err()
        .expect("an error")
        .to_string();
    assert!(
        err.contains("_foreach") && err.contains("subgraph"),
        "{err}"
    );
}
