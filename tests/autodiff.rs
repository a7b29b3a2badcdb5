//! Executor and autograd against hand-derived gradients: the plan machinery (bind, forward,
//! backward, grad_req, head gradients, recorded tapes, second order) on small graphs.

use oxnet::autograd;
use oxnet::executor::{Executor, GradReq};
use oxnet::graph::{Entry, Node};
use oxnet::{Context, NDArray, Shape};

fn arr(shape: &[usize], v: &[f32]) -> NDArray {
    NDArray::from_vec(Shape::new(shape.to_vec()), v, Context::cpu(0)).expect("array")
}

fn vals(a: &NDArray) -> Vec<f32> {
    a.to_vec::<f32>().expect("to_vec")
}

fn var(name: &str) -> Entry {
    Node::variable(name, Vec::new()).entry(0)
}

fn op(name: &str, attrs: &[(&str, &str)], inputs: &[Entry], node: &str) -> Entry {
    let attrs = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Node::from_registry(name, node, attrs, inputs.to_vec())
        .expect("node")
        .entry(0)
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

/// y = (a * b) + a: dy/da = b + 1, dy/db = a.
fn mul_add() -> Entry {
    let (a, b) = (var("a"), var("b"));
    let m = op("elemwise_mul", &[], &[a.clone(), b], "m");
    op("elemwise_add", &[], &[m, a], "y")
}

#[test]
fn executor_forward_backward_write_add_null() {
    let y = mul_add();
    let a = arr(&[3], &[1.0, 2.0, 3.0]);
    let b = arr(&[3], &[4.0, 5.0, 6.0]);
    let ga = arr(&[3], &[9.0; 3]);
    let gb = arr(&[3], &[9.0; 3]);
    let mut ex = Executor::bind(
        vec![y],
        vec![a, b],
        vec![Some(ga.clone()), Some(gb.clone())],
        vec![GradReq::Write, GradReq::Add],
        vec![],
        None,
    )
    .expect("bind");
    ex.forward(true).expect("forward");
    close(&vals(&ex.outputs[0]), &[5.0, 12.0, 21.0]);
    let head = arr(&[3], &[1.0, 10.0, 100.0]);
    ex.backward(&[Some(head.clone())], true).expect("backward");
    close(&vals(&ga), &[5.0, 60.0, 700.0]);
    // add: the old 9s plus a * head
    close(&vals(&gb), &[10.0, 29.0, 309.0]);
    ex.backward(&[Some(head)], true).expect("backward");
    close(&vals(&ga), &[5.0, 60.0, 700.0]);
    close(&vals(&gb), &[11.0, 49.0, 609.0]);
}

#[test]
fn executor_requires_head_gradient_for_non_loss_heads() {
    let y = mul_add();
    let mut ex = Executor::bind(
        vec![y],
        vec![arr(&[1], &[1.0]), arr(&[1], &[2.0])],
        vec![Some(arr(&[1], &[0.0])), None],
        vec![GradReq::Write, GradReq::Null],
        vec![],
        None,
    )
    .expect("bind");
    ex.forward(false).expect("forward");
    let e = ex.backward(&[None], true).expect_err("no head gradient");
    assert!(e.to_string().contains("head_gradient is required"), "{e}");
}

#[test]
fn executor_rejects_wrong_argument_count_and_shapes() {
    let y = mul_add();
    let e = Executor::bind(
        vec![y.clone()],
        vec![arr(&[2], &[1.0, 2.0])],
        vec![None],
        vec![GradReq::Null],
        vec![],
        None,
    )
    .err()
    .expect("one argument missing");
    assert!(e.to_string().contains("Length of args"), "{e}");
    let e = Executor::bind(
        vec![y],
        vec![arr(&[2], &[1.0, 2.0]), arr(&[3], &[1.0, 2.0, 3.0])],
        vec![None, None],
        vec![GradReq::Null, GradReq::Null],
        vec![],
        None,
    )
    .err()
    .expect("shape mismatch");
    assert!(e.to_string().contains("Error in operator m"), "{e}");
}

#[test]
fn autograd_backward_and_second_order() {
    // f(x) = x * x * x; f' = 3x^2; f'' = 6x
    let x = arr(&[3], &[1.0, 2.0, -1.0]);
    let gx = arr(&[3], &[0.0; 3]);
    let xe = autograd::mark_variable(&x, gx.clone(), GradReq::Write);
    let mul = oxnet::op::registry()
        .get("elemwise_mul")
        .expect("op")
        .create(&[])
        .expect("create");
    let run = |a: &NDArray, b: &NDArray| {
        oxnet::op::invoke(&mul, &[a.clone(), b.clone()], None, None).expect("mul")
    };
    let x2 = run(&x, &x);
    let x2e = autograd::record(
        &mul,
        vec![],
        &[x.clone(), x.clone()],
        &[Some(xe.clone()), Some(xe.clone())],
        &x2,
    );
    let x3 = run(&x2[0], &x);
    let x3e = autograd::record(
        &mul,
        vec![],
        &[x2[0].clone(), x.clone()],
        &[Some(x2e[0].clone()), Some(xe.clone())],
        &x3,
    );
    autograd::backward(&x3e, &[None], true, true).expect("backward");
    close(&vals(&gx), &[3.0, 12.0, 3.0]);
    let g =
        autograd::grad(&x3e, &[None], std::slice::from_ref(&xe), true, true, true).expect("grad");
    close(&vals(&g[0].0), &[3.0, 12.0, 3.0]);
    let ge = g[0].1.clone().expect("recorded gradient");
    let g2 = autograd::grad(&[ge], &[None], &[xe], false, true, false).expect("second order");
    close(&vals(&g2[0].0), &[6.0, 12.0, -6.0]);
}
