//! Registry-wide gradient check: every registered op either has rows here, checked against
//! central finite differences in float64, or is listed as non-differentiable / not yet done
//! with a reason. A newly registered op in neither place fails `every_op_is_covered`.
//!
//! Each row differentiates `L = sum_k <out_k, h_k>` (random head gradients `h_k` on the visible
//! outputs) through the op's gradient graph and compares with `(L(x+e) - L(x-e)) / 2e`. Loss
//! ops (which make their own head gradient) give their objective with `.loss(...)`; `.second()`
//! also differentiates the gradient graph again; `.train()` runs in training mode.
//! Run one op: `OXNET_GRAD_OPS=FullyConnected,Convolution cargo test --release --test gradients`.

use oxnet::graph::{gradient, topo_order, Entry, Node};
use oxnet::op::{invoke_mode, registry, Operator};
use oxnet::{Context, DType, NDArray, Result, Shape};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One input of a row.
#[derive(Clone)]
enum In {
    /// Uniform random in [lo, hi).
    U(Vec<usize>, f64, f64),
    /// Fixed values (indices, labels, conditions...).
    V(Vec<usize>, Vec<f64>),
    /// Distinct values in [lo, hi) in random order (sort/topk/max must see no ties within the
    /// finite-difference step).
    Distinct(Vec<usize>, f64, f64),
    /// Symmetric positive definite matrices on the last two axes (B·Bᵀ + n·I, B in [-1, 1)).
    Spd(Vec<usize>),
    /// Lower (`true`) or upper triangular matrices, diagonal in [1, 2), the rest in [-1, 1).
    Tri(Vec<usize>, bool),
}

struct Row {
    op: &'static str,
    attrs: Vec<(&'static str, &'static str)>,
    ins: Vec<In>,
    /// Inputs to check; default: every random input.
    wrt: Option<Vec<usize>>,
    train: bool,
    /// The op reads one triangle of a symmetric matrix input (potrf, syevd) and its gradient is
    /// the symmetric one: (i, j) and (j, i) are perturbed together and compared with the sum of
    /// both gradient entries.
    sym: bool,
    /// The gradient is zero by definition (BlockGrad), whatever finite differences say.
    blocked: bool,
    /// Also check the gradient of the gradient graph.
    second: bool,
    /// For loss ops (which make their own head gradient): the scalar whose derivative the
    /// op's gradient is, from (input values, output values).
    #[allow(clippy::type_complexity)]
    loss: Option<Box<dyn Fn(&[Vec<f64>], &[Vec<f64>]) -> f64>>,
    rtol: f64,
    atol: f64,
}

fn u(shape: &[usize], lo: f64, hi: f64) -> In {
    In::U(shape.to_vec(), lo, hi)
}
fn v(shape: &[usize], data: &[f64]) -> In {
    In::V(shape.to_vec(), data.to_vec())
}
fn distinct(shape: &[usize]) -> In {
    In::Distinct(shape.to_vec(), -2.0, 2.0)
}
/// Standard random input in [-1, 1).
fn n(shape: &[usize]) -> In {
    u(shape, -1.0, 1.0)
}
/// Positive input in [0.5, 2).
fn pos(shape: &[usize]) -> In {
    u(shape, 0.5, 2.0)
}

fn row(op: &'static str, attrs: &[(&'static str, &'static str)], ins: Vec<In>) -> Row {
    Row {
        op,
        attrs: attrs.to_vec(),
        ins,
        wrt: None,
        train: false,
        sym: false,
        blocked: false,
        second: false,
        loss: None,
        rtol: 1e-5,
        atol: 1e-7,
    }
}

impl Row {
    fn wrt(mut self, w: &[usize]) -> Row {
        self.wrt = Some(w.to_vec());
        self
    }
    /// A loss op's objective: finite differences of `f(inputs, outputs)` check its gradient,
    /// e.g. cross-entropy of the output probabilities for `SoftmaxOutput`.
    #[allow(dead_code)]
    fn loss(mut self, f: impl Fn(&[Vec<f64>], &[Vec<f64>]) -> f64 + 'static) -> Row {
        self.loss = Some(Box::new(f));
        self
    }
    fn sym(mut self) -> Row {
        self.sym = true;
        self
    }
    fn second(mut self) -> Row {
        self.second = true;
        self
    }
    fn blocked(mut self) -> Row {
        self.blocked = true;
        self
    }
    /// Forward in training mode (`is_train`).
    #[allow(dead_code)]
    fn train(mut self) -> Row {
        self.train = true;
        self
    }
    #[allow(dead_code)]
    fn tol(mut self, rtol: f64, atol: f64) -> Row {
        self.rtol = rtol;
        self.atol = atol;
        self
    }
}

/// Ops whose gradient is checked by the rows below; one op may have several rows.
fn rows() -> Vec<Row> {
    let s23 = [2usize, 3];
    let s234 = [2usize, 3, 4];
    let mut r = Vec::new();
    // elementwise binary, broadcasting binary, scalar
    for (op, lhs, rhs) in [
        ("elemwise_add", n(&s23), n(&s23)),
        ("elemwise_sub", n(&s23), n(&s23)),
        ("elemwise_mul", n(&s23), n(&s23)),
        ("elemwise_div", n(&s23), pos(&s23)),
        ("_mod", n(&s23), pos(&s23)),
        ("_power", pos(&s23), n(&s23)),
        ("_maximum", n(&s23), n(&s23)),
        ("_minimum", n(&s23), n(&s23)),
        ("_hypot", n(&s23), n(&s23)),
        ("broadcast_add", n(&s234), n(&[3, 1])),
        ("broadcast_sub", n(&[1, 4]), n(&s234)),
        ("broadcast_mul", n(&s234), n(&[2, 1, 4])),
        ("broadcast_div", n(&[3, 1]), pos(&s234)),
        ("broadcast_mod", n(&s234), pos(&[4])),
        ("broadcast_power", pos(&s234), n(&[3, 1])),
        ("broadcast_maximum", n(&s234), n(&[3, 1])),
        ("broadcast_minimum", n(&[2, 1, 1]), n(&s234)),
        ("broadcast_hypot", n(&s234), n(&[1, 4])),
    ] {
        r.push(row(op, &[], vec![lhs, rhs]));
    }
    for cmp in [
        "equal",
        "not_equal",
        "greater",
        "greater_equal",
        "lesser",
        "lesser_equal",
        "logical_and",
        "logical_or",
        "logical_xor",
    ] {
        let e: &'static str = Box::leak(format!("_{cmp}").into_boxed_str());
        let b: &'static str = Box::leak(format!("broadcast_{cmp}").into_boxed_str());
        let sc: &'static str = Box::leak(format!("_{cmp}_scalar").into_boxed_str());
        r.push(row(e, &[], vec![n(&s23), n(&s23)]));
        r.push(row(b, &[], vec![n(&s234), n(&[3, 1])]));
        r.push(row(sc, &[("scalar", "0.3")], vec![n(&s23)]));
    }
    r.push(row(
        "add_n",
        &[("num_args", "3")],
        vec![n(&s23), n(&s23), n(&s23)],
    ));
    r.push(row("add_n", &[("num_args", "1")], vec![n(&s23)]));
    for (op, sc, x) in [
        ("_plus_scalar", "0.5", n(&s23)),
        ("_minus_scalar", "0.5", n(&s23)),
        ("_rminus_scalar", "0.5", n(&s23)),
        ("_mul_scalar", "-1.5", n(&s23)),
        ("_div_scalar", "1.5", n(&s23)),
        ("_rdiv_scalar", "1.5", pos(&s23)),
        ("_mod_scalar", "0.7", n(&s23)),
        ("_rmod_scalar", "2.5", pos(&s23)),
        ("_power_scalar", "2.5", pos(&s23)),
        ("_rpower_scalar", "1.5", n(&s23)),
        ("_maximum_scalar", "0.1", n(&s23)),
        ("_minimum_scalar", "0.1", n(&s23)),
        ("_hypot_scalar", "0.7", n(&s23)),
    ] {
        r.push(row(op, &[("scalar", sc)], vec![x]));
    }
    // elementwise unary
    for op in [
        "abs",
        "sign",
        "negative",
        "square",
        "exp",
        "expm1",
        "sin",
        "cos",
        "tan",
        "arctan",
        "sinh",
        "cosh",
        "tanh",
        "arcsinh",
        "degrees",
        "radians",
        "sigmoid",
        "relu",
        "softsign",
        "floor",
        "ceil",
        "round",
        "rint",
        "trunc",
        "fix",
        "logical_not",
        "_copy",
        "zeros_like",
        "ones_like",
    ] {
        r.push(row(op, &[], vec![n(&s23)]));
    }
    r.push(row("BlockGrad", &[], vec![n(&s23)]).blocked());
    for op in [
        "reciprocal",
        "sqrt",
        "rsqrt",
        "cbrt",
        "rcbrt",
        "log",
        "log2",
        "log10",
        "log1p",
    ] {
        r.push(row(op, &[], vec![pos(&s23)]));
    }
    for op in ["arcsin", "arccos", "arctanh"] {
        r.push(row(op, &[], vec![u(&s23, -0.9, 0.9)]));
    }
    r.push(row("arccosh", &[], vec![u(&s23, 1.2, 3.0)]));
    r.push(row("Cast", &[("dtype", "float64")], vec![n(&s23)]));
    r.push(row(
        "clip",
        &[("a_min", "-0.5"), ("a_max", "0.5")],
        vec![n(&s234)],
    ));
    // reductions
    for (op, x) in [
        ("sum", n(&s234)),
        ("mean", n(&s234)),
        ("prod", pos(&s234)),
        ("max", distinct(&s234)),
        ("min", distinct(&s234)),
        ("nansum", n(&s234)),
        ("nanprod", pos(&s234)),
    ] {
        r.push(row(op, &[], vec![x.clone()]));
        r.push(row(op, &[("axis", "(1,)")], vec![x.clone()]));
        r.push(row(
            op,
            &[("axis", "(0, 2)"), ("keepdims", "True")],
            vec![x.clone()],
        ));
        r.push(row(op, &[("axis", "1"), ("exclude", "True")], vec![x]));
    }
    r.push(row("norm", &[], vec![n(&s234)]));
    r.push(row(
        "norm",
        &[("ord", "1"), ("axis", "(1,)")],
        vec![n(&s234)],
    ));
    r.push(row(
        "norm",
        &[("axis", "(0, 2)"), ("keepdims", "True")],
        vec![n(&s234)],
    ));
    r.push(row("_unreduce", &[("axis", "(1,)")], vec![n(&[2, 4]), n(&s234)]).wrt(&[0]));
    r.push(
        row(
            "_unreduce",
            &[("axis", "(1,)"), ("exclude", "True"), ("mean", "True")],
            vec![n(&[3]), n(&s234)],
        )
        .wrt(&[0]),
    );
    r.push(
        row(
            "_backward_broadcast_reduce",
            &[],
            vec![n(&s234), n(&[3, 1])],
        )
        .wrt(&[0]),
    );
    // shapes and layouts
    r.push(row("Reshape", &[("shape", "(4, -1)")], vec![n(&s234)]));
    r.push(row("Flatten", &[], vec![n(&s234)]));
    r.push(row("expand_dims", &[("axis", "1")], vec![n(&s23)]));
    r.push(row("squeeze", &[], vec![n(&[2, 1, 3])]));
    r.push(row("reshape_like", &[], vec![n(&s234), n(&[6, 4])]).wrt(&[0]));
    r.push(row("transpose", &[], vec![n(&s234)]));
    r.push(row("transpose", &[("axes", "(1, 2, 0)")], vec![n(&s234)]));
    r.push(row(
        "SwapAxis",
        &[("dim1", "0"), ("dim2", "2")],
        vec![n(&s234)],
    ));
    r.push(row("flip", &[("axis", "(0, 2)")], vec![n(&s234)]));
    r.push(row("diag", &[], vec![n(&[3, 4])]));
    r.push(row("diag", &[("k", "-1")], vec![n(&[3])]));
    r.push(row(
        "diag",
        &[("k", "1"), ("axis1", "2"), ("axis2", "0")],
        vec![n(&s234)],
    ));
    r.push(row(
        "broadcast_to",
        &[("shape", "(2, 0, 4)")],
        vec![n(&[1, 3, 1])],
    ));
    r.push(row(
        "broadcast_axis",
        &[("axis", "(0, 2)"), ("size", "(2, 4)")],
        vec![n(&[1, 3, 1])],
    ));
    r.push(row("broadcast_like", &[], vec![n(&[1, 3]), n(&s23)]).wrt(&[0]));
    r.push(row("tile", &[("reps", "(2, 1, 3)")], vec![n(&s23)]));
    r.push(row(
        "repeat",
        &[("repeats", "2"), ("axis", "1")],
        vec![n(&s23)],
    ));
    r.push(row("repeat", &[("repeats", "3")], vec![n(&s23)]));
    r.push(row(
        "Concat",
        &[("num_args", "3"), ("dim", "1")],
        vec![n(&[2, 1]), n(&s23), n(&[2, 2])],
    ));
    r.push(row(
        "stack",
        &[("num_args", "2"), ("axis", "1")],
        vec![n(&s23), n(&s23)],
    ));
    r.push(row(
        "SliceChannel",
        &[("num_outputs", "3"), ("axis", "1")],
        vec![n(&[2, 6])],
    ));
    r.push(row(
        "SliceChannel",
        &[
            ("num_outputs", "3"),
            ("axis", "-2"),
            ("squeeze_axis", "True"),
        ],
        vec![n(&[2, 3, 2])],
    ));
    r.push(row(
        "slice",
        &[("begin", "(0, 1)"), ("end", "(2, None)")],
        vec![n(&s234)],
    ));
    r.push(row(
        "slice",
        &[
            ("begin", "(None, 2)"),
            ("end", "(None, 0)"),
            ("step", "(1, -1)"),
        ],
        vec![n(&s234)],
    ));
    r.push(row(
        "slice_axis",
        &[("axis", "2"), ("begin", "1"), ("end", "-1")],
        vec![n(&s234)],
    ));
    // products
    for (ta, tb, l, rr) in [
        ("False", "False", vec![2, 3], vec![3, 4]),
        ("True", "False", vec![3, 2], vec![3, 4]),
        ("False", "True", vec![2, 3], vec![4, 3]),
        ("True", "True", vec![3, 2], vec![4, 3]),
        ("False", "False", vec![2, 3, 4], vec![4, 2, 1]),
        ("True", "True", vec![4, 2, 3], vec![2, 1, 4]),
        ("False", "False", vec![3], vec![3]),
    ] {
        r.push(row(
            "dot",
            &[("transpose_a", ta), ("transpose_b", tb)],
            vec![n(&l), n(&rr)],
        ));
    }
    for (ta, tb, l, rr) in [
        ("False", "False", vec![2, 2, 3], vec![2, 3, 4]),
        ("True", "False", vec![2, 3, 2], vec![2, 3, 4]),
        ("False", "True", vec![2, 2, 3], vec![2, 4, 3]),
        ("True", "True", vec![2, 3, 2], vec![2, 4, 3]),
    ] {
        r.push(row(
            "batch_dot",
            &[("transpose_a", ta), ("transpose_b", tb)],
            vec![n(&l), n(&rr)],
        ));
    }
    // indexing
    r.push(row(
        "take",
        &[],
        vec![n(&[4, 3]), v(&[5], &[0.0, 2.0, 2.0, 3.0, 1.0])],
    ));
    r.push(row(
        "take",
        &[("axis", "1"), ("mode", "wrap")],
        vec![n(&[2, 3, 2]), v(&[2, 2], &[-1.0, 4.0, 0.0, 2.0])],
    ));
    r.push(row(
        "take",
        &[("axis", "-1"), ("mode", "clip")],
        vec![n(&[2, 3]), v(&[3], &[7.0, -2.0, 1.0])],
    ));
    r.push(row(
        "pick",
        &[("axis", "1")],
        vec![n(&[3, 4]), v(&[3], &[0.0, 3.0, 1.0])],
    ));
    r.push(row(
        "pick",
        &[("axis", "0"), ("keepdims", "True")],
        vec![n(&[3, 4]), v(&[1, 4], &[2.0, 0.0, 1.0, 2.0])],
    ));
    // fft / ifft: each gradient is the other transform; lengths 5 and 8 take Bluestein's and
    // the radix-2 path.
    r.push(row("_contrib_fft", &[], vec![n(&[3, 5])]).second());
    r.push(row(
        "_contrib_fft",
        &[("compute_size", "2")],
        vec![n(&[2, 2, 8])],
    ));
    r.push(row("_contrib_ifft", &[], vec![n(&[3, 10])]).second());
    r.push(row("_contrib_ifft", &[], vec![n(&[2, 16])]));
    // hawkesll: gradients of lda, alpha, beta (MXNet differentiates only those; state gets
    // zero, as in MXNet); beta's includes the out_state head gradient.
    r.push(
        row(
            "_contrib_hawkesll",
            &[],
            vec![
                pos(&[3, 2]),
                u(&[2], 0.1, 0.6),
                pos(&[2]),
                u(&[3, 2], 0.0, 1.0),
                v(
                    &[3, 4],
                    &[0.3, 0.5, 0.9, 0.1, 0.9, 0.3, 0.6, 0.2, 0.5, 0.7, 0.7, 0.5],
                ),
                v(
                    &[3, 4],
                    &[1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0],
                ),
                v(&[3], &[4.0, 3.0, 0.0]),
                v(&[3], &[2.5, 3.0, 1.5]),
            ],
        )
        .wrt(&[0, 1, 2]),
    );
    r.push(row(
        "_contrib_count_sketch",
        &[("out_dim", "4")],
        vec![
            n(&[3, 5]),
            v(&[1, 5], &[0.0, 3.0, 1.0, 3.0, 2.0]),
            v(&[1, 5], &[1.0, -1.0, -1.0, 1.0, 1.0]),
        ],
    ));
    r.push(row(
        "where",
        &[],
        vec![v(&s23, &[1.0, 0.0, 1.0, 0.0, 0.0, 1.0]), n(&s23), n(&s23)],
    ));
    r.push(row(
        "where",
        &[],
        vec![v(&[2], &[0.0, 1.0]), n(&s23), n(&s23)],
    ));
    r.push(row(
        "_slice_assign",
        &[("begin", "(0, 1)"), ("end", "(2, 3)")],
        vec![n(&[3, 4]), n(&[2, 2])],
    ));
    r.push(row(
        "_slice_assign_scalar",
        &[
            ("begin", "(None, 1)"),
            ("end", "(None, None)"),
            ("step", "(2, 2)"),
            ("scalar", "3"),
        ],
        vec![n(&[3, 4])],
    ));
    // softmax, sorting
    r.push(row("softmax", &[], vec![n(&s234)]));
    r.push(row(
        "softmax",
        &[("axis", "0"), ("temperature", "2")],
        vec![n(&s234)],
    ));
    r.push(row("log_softmax", &[], vec![n(&s234)]));
    r.push(row(
        "log_softmax",
        &[("axis", "1"), ("temperature", "0.5")],
        vec![n(&s234)],
    ));
    r.push(row("sort", &[], vec![distinct(&[3, 4])]));
    r.push(row(
        "sort",
        &[("axis", "0"), ("is_ascend", "False")],
        vec![distinct(&[3, 4])],
    ));
    r.push(row("sort", &[("axis", "None")], vec![distinct(&[3, 4])]));
    r.push(row(
        "topk",
        &[("k", "2"), ("ret_typ", "value")],
        vec![distinct(&[3, 4])],
    ));
    r.push(row(
        "topk",
        &[
            ("k", "2"),
            ("axis", "0"),
            ("ret_typ", "both"),
            ("is_ascend", "True"),
        ],
        vec![distinct(&[3, 4])],
    ));
    r.push(row(
        "topk",
        &[("k", "3"), ("axis", "None"), ("ret_typ", "value")],
        vec![distinct(&[3, 4])],
    ));
    r.push(row(
        "topk",
        &[("k", "2"), ("ret_typ", "indices")],
        vec![distinct(&[3, 4])],
    ));
    r.push(row(
        "topk",
        &[("k", "2"), ("ret_typ", "mask")],
        vec![distinct(&[3, 4])],
    ));
    // index-valued: zero gradients, as MXNet registers (argmax_channel has none)
    r.push(row("argmax", &[("axis", "1")], vec![distinct(&[3, 4])]));
    r.push(row("argmin", &[], vec![distinct(&[3, 4])]));
    r.push(row(
        "argsort",
        &[("is_ascend", "False")],
        vec![distinct(&[3, 4])],
    ));
    // fractional indices sit inside the truncation steps, so finite differences see zero
    for (op, ins) in [
        (
            "_ravel_multi_index",
            v(&[2, 3], &[0.5, 2.5, 1.5, 3.5, 0.5, 2.5]),
        ),
        ("_unravel_index", v(&[3], &[5.5, 0.5, 11.5])),
    ] {
        r.push(row(op, &[("shape", "(3, 4)")], vec![ins]).wrt(&[0]));
    }
    r.push(
        row(
            "one_hot",
            &[("depth", "4")],
            vec![v(&[3], &[0.5, 3.5, 1.5])],
        )
        .wrt(&[0]),
    );

    // second order: the gradient graphs differentiate again
    for rr in [
        row("elemwise_mul", &[], vec![n(&s23), n(&s23)]),
        row("elemwise_div", &[], vec![n(&s23), pos(&s23)]),
        row("broadcast_mul", &[], vec![n(&s234), n(&[3, 1])]),
        row("broadcast_div", &[], vec![n(&s234), pos(&[4])]),
        row("broadcast_power", &[], vec![pos(&s234), n(&[3, 1])]),
        row("_hypot", &[], vec![n(&s23), n(&s23)]),
        row("_power_scalar", &[("scalar", "3")], vec![pos(&s23)]),
        row("_rdiv_scalar", &[("scalar", "2")], vec![pos(&s23)]),
        row("_rpower_scalar", &[("scalar", "2")], vec![n(&s23)]),
        row("exp", &[], vec![n(&s23)]),
        row("log", &[], vec![pos(&s23)]),
        row("sin", &[], vec![n(&s23)]),
        row("tanh", &[], vec![n(&s23)]),
        row("sigmoid", &[], vec![n(&s23)]),
        row("sqrt", &[], vec![pos(&s23)]),
        row("rsqrt", &[], vec![pos(&s23)]),
        row("arcsin", &[], vec![u(&s23, -0.9, 0.9)]),
        row("softsign", &[], vec![n(&s23)]),
        row("sum", &[("axis", "(1,)")], vec![n(&s234)]),
        row(
            "mean",
            &[("axis", "1"), ("exclude", "True")],
            vec![n(&s234)],
        ),
        row("max", &[("axis", "(0, 2)")], vec![distinct(&s234)]),
        row("prod", &[("axis", "(1,)")], vec![pos(&s234)]),
        row("norm", &[("axis", "(1,)")], vec![pos(&s234)]),
        row("dot", &[], vec![n(&[2, 3]), n(&[3, 4])]),
        row(
            "dot",
            &[("transpose_a", "True"), ("transpose_b", "True")],
            vec![n(&[3, 2]), n(&[4, 3])],
        ),
        row(
            "batch_dot",
            &[("transpose_b", "True")],
            vec![n(&[2, 2, 3]), n(&[2, 4, 3])],
        ),
        row("softmax", &[("axis", "1")], vec![n(&s234)]),
        row("log_softmax", &[("temperature", "2")], vec![n(&s234)]),
        row("transpose", &[("axes", "(1, 2, 0)")], vec![n(&s234)]),
        row(
            "slice",
            &[("begin", "(0, 1)"), ("end", "(2, None)")],
            vec![n(&s234)],
        ),
        row(
            "Concat",
            &[("num_args", "2"), ("dim", "0")],
            vec![n(&s23), n(&[1, 3])],
        ),
        row(
            "SliceChannel",
            &[
                ("num_outputs", "2"),
                ("axis", "1"),
                ("squeeze_axis", "True"),
            ],
            vec![n(&[2, 2, 3])],
        ),
        row("take", &[], vec![n(&[4, 3]), v(&[3], &[0.0, 2.0, 2.0])]),
        row(
            "gather_nd",
            &[],
            vec![n(&[2, 3, 2]), v(&[2, 3], &[1.0, 1.0, 0.0, 0.0, 2.0, -1.0])],
        ),
        row(
            "scatter_nd",
            &[("shape", "(2, 3, 2)")],
            vec![n(&[3, 2]), v(&[2, 3], &[1.0, 1.0, 0.0, 0.0, 2.0, 1.0])],
        ),
        // A repeated index (0, 0) accumulates.
        row(
            "_backward_gather_nd",
            &[("shape", "(2, 3, 2)")],
            vec![n(&[3, 2]), v(&[2, 3], &[1.0, 0.0, 1.0, 0.0, 2.0, 0.0])],
        ),
        row(
            "pick",
            &[("axis", "1")],
            vec![n(&[3, 4]), v(&[3], &[0.0, 3.0, 1.0])],
        ),
        row("tile", &[("reps", "(2, 2)")], vec![n(&s23)]),
        row("repeat", &[("repeats", "2"), ("axis", "0")], vec![n(&s23)]),
        row("broadcast_to", &[("shape", "(2, 3)")], vec![n(&[1, 3])]),
        row("diag", &[("k", "1")], vec![n(&[3, 4])]),
        row(
            "where",
            &[],
            vec![v(&s23, &[1.0, 0.0, 1.0, 0.0, 0.0, 1.0]), n(&s23), n(&s23)],
        ),
        row("Cast", &[("dtype", "float64")], vec![n(&s23)]),
        row("add_n", &[("num_args", "2")], vec![n(&s23), n(&s23)]),
        row(
            "topk",
            &[("k", "2"), ("ret_typ", "value")],
            vec![distinct(&[3, 4])],
        ),
        row("sort", &[("axis", "None")], vec![distinct(&[3, 4])]),
        row("norm", &[("out_dtype", "float64")], vec![pos(&s23)]),
        row("softmax", &[("dtype", "float64")], vec![n(&s23)]),
        row(
            "_unreduce",
            &[("axis", "(1,)"), ("mean", "True")],
            vec![n(&[2, 4]), n(&s234)],
        )
        .wrt(&[0]),
        row(
            "_backward_broadcast_reduce",
            &[],
            vec![n(&s234), n(&[2, 1, 4])],
        )
        .wrt(&[0]),
        row("reshape_like", &[], vec![n(&s234), n(&[6, 4])]).wrt(&[0]),
        row(
            "_slice_assign",
            &[("begin", "(0, 1)"), ("end", "(2, 3)")],
            vec![n(&[3, 4]), n(&[2, 2])],
        ),
        row(
            "clip",
            &[("a_min", "-0.5"), ("a_max", "0.5")],
            vec![n(&s23)],
        ),
        row("Flatten", &[], vec![n(&s234)]),
    ] {
        r.push(rr.second());
    }

    // nn: fully connected / convolution / pooling (helper B)
    r.push(row(
        "FullyConnected",
        &[("num_hidden", "3")],
        vec![n(&[2, 3, 2]), n(&[3, 6]), n(&[3])],
    ));
    r.push(row(
        "FullyConnected",
        &[
            ("num_hidden", "2"),
            ("flatten", "False"),
            ("no_bias", "True"),
        ],
        vec![n(&[2, 3, 4]), n(&[2, 4])],
    ));
    r.push(row(
        "Convolution",
        &[
            ("kernel", "(3,3)"),
            ("num_filter", "4"),
            ("stride", "(2,1)"),
            ("pad", "(1,1)"),
            ("num_group", "2"),
        ],
        vec![n(&[2, 4, 5, 5]), n(&[4, 2, 3, 3]), n(&[4])],
    ));
    // depthwise (the direct kernel): a full block of eight channels and one more, two
    // filters per channel
    r.push(row(
        "Convolution",
        &[
            ("kernel", "(3,3)"),
            ("num_filter", "18"),
            ("stride", "(2,1)"),
            ("dilate", "(1,2)"),
            ("pad", "(1,1)"),
            ("num_group", "9"),
        ],
        vec![n(&[2, 9, 6, 7]), n(&[18, 1, 3, 3]), n(&[18])],
    ));
    r.push(row(
        "Convolution",
        &[
            ("kernel", "(3,)"),
            ("num_filter", "2"),
            ("dilate", "(2,)"),
            ("no_bias", "True"),
        ],
        vec![n(&[2, 3, 8]), n(&[2, 3, 3])],
    ));
    r.push(row(
        "Deconvolution",
        &[
            ("kernel", "(3,3)"),
            ("num_filter", "3"),
            ("stride", "(2,2)"),
            ("pad", "(1,1)"),
            ("adj", "(1,1)"),
            ("no_bias", "False"),
        ],
        vec![n(&[2, 2, 3, 3]), n(&[2, 3, 3, 3]), n(&[3])],
    ));
    for pt in ["max", "avg", "sum"] {
        r.push(row(
            "Pooling",
            &[("kernel", "(2,2)"), ("stride", "(2,2)"), ("pool_type", pt)],
            vec![n(&[2, 2, 4, 5])],
        ));
    }
    r.push(row(
        "Pooling",
        &[
            ("kernel", "(3,3,3)"),
            ("pad", "(1,1,1)"),
            ("pool_type", "avg"),
            ("pooling_convention", "full"),
        ],
        vec![n(&[1, 2, 3, 4, 4])],
    ));
    r.push(row(
        "UpSampling",
        &[
            ("scale", "2"),
            ("sample_type", "nearest"),
            ("num_args", "2"),
        ],
        vec![n(&[2, 2, 2, 3]), n(&[2, 1, 4, 6])],
    ));
    for mode in ["constant", "edge", "reflect"] {
        r.push(row(
            "Pad",
            &[("mode", mode), ("pad_width", "(0,0,0,0,1,2,2,1)")],
            vec![n(&[2, 2, 3, 4])],
        ));
    }

    // nn: activations / norms / losses (helper C)
    let bn = |c: usize, shape: &[usize]| vec![n(shape), pos(&[c]), n(&[c]), n(&[c]), pos(&[c])];
    for a in ["sigmoid", "tanh", "softrelu", "softsign"] {
        r.push(row("Activation", &[("act_type", a)], vec![n(&s234)]));
    }
    // relu away from its kink.
    r.push(row(
        "Activation",
        &[("act_type", "relu")],
        vec![u(&s23, 0.1, 1.0)],
    ));
    r.push(row(
        "Activation",
        &[("act_type", "relu")],
        vec![u(&s23, -1.0, -0.1)],
    ));
    for a in ["leaky", "elu", "selu", "gelu", "rrelu"] {
        r.push(row(
            "LeakyReLU",
            &[("act_type", a), ("slope", "0.3")],
            vec![n(&s234)],
        ));
    }
    r.push(row(
        "LeakyReLU",
        &[("act_type", "prelu")],
        vec![n(&s234), pos(&[3])],
    ));
    r.push(row(
        "LeakyReLU",
        &[("act_type", "prelu")],
        vec![n(&s234), pos(&[1])],
    ));
    r.push(row("SoftmaxActivation", &[], vec![n(&s234)]));
    r.push(row(
        "SoftmaxActivation",
        &[("mode", "channel")],
        vec![n(&s234)],
    ));
    for fix in ["True", "False"] {
        r.push(
            row("BatchNorm", &[("fix_gamma", fix)], bn(3, &s234))
                .wrt(&[0, 1, 2])
                .train()
                .tol(1e-4, 1e-6),
        );
        r.push(row("BatchNorm", &[("fix_gamma", fix)], bn(3, &s234)).wrt(&[0, 1, 2]));
        r.push(
            row(
                "BatchNorm",
                &[("fix_gamma", fix), ("axis", "-1")],
                bn(4, &s234),
            )
            .wrt(&[0, 1, 2])
            .train()
            .tol(1e-4, 1e-6),
        );
        r.push(
            row(
                "BatchNorm",
                &[("fix_gamma", fix), ("use_global_stats", "True")],
                bn(3, &s234),
            )
            .wrt(&[0, 1, 2])
            .train(),
        );
    }
    r.push(row("LayerNorm", &[], vec![n(&s234), pos(&[4]), n(&[4])]).tol(1e-4, 1e-6));
    r.push(
        row(
            "GroupNorm",
            &[("num_groups", "2")],
            vec![n(&[2, 4, 3]), pos(&[2]), n(&[2])],
        )
        .tol(1e-4, 1e-6),
    );
    r.push(
        row(
            "LayerNorm",
            &[("axis", "1")],
            vec![n(&s234), pos(&[3]), n(&[3])],
        )
        .tol(1e-4, 1e-6),
    );
    r.push(
        row(
            "InstanceNorm",
            &[],
            vec![n(&[2, 3, 2, 2]), pos(&[3]), n(&[3])],
        )
        .tol(1e-4, 1e-6),
    );
    // Dropout in prediction mode (training draws a new mask per call).
    r.push(row("Dropout", &[], vec![n(&s23)]));
    r.push(row(
        "Embedding",
        &[
            ("input_dim", "4"),
            ("output_dim", "3"),
            ("dtype", "float64"),
        ],
        vec![v(&[5], &[0.0, 3.0, 1.0, 3.0, 2.0]), n(&[4, 3])],
    ));
    // RNN: data (T, N, C) = (3, 2, 3), state_size 2; parameters of MXNet's flat layout.
    let p = |len: usize| u(&[len], -0.7, 0.7);
    r.push(row(
        "RNN",
        &[
            ("mode", "rnn_tanh"),
            ("state_size", "2"),
            ("num_layers", "1"),
        ],
        vec![n(&[3, 2, 3]), p(14), n(&[1, 2, 2])],
    ));
    r.push(row(
        "RNN",
        &[
            ("mode", "rnn_relu"),
            ("state_size", "2"),
            ("num_layers", "2"),
        ],
        vec![
            u(&[3, 2, 3], 0.1, 1.0),
            u(&[26], 0.05, 0.7),
            u(&[2, 2, 2], 0.1, 1.0),
        ],
    ));
    r.push(
        row(
            "RNN",
            &[
                ("mode", "lstm"),
                ("state_size", "2"),
                ("num_layers", "2"),
                ("bidirectional", "True"),
                ("state_outputs", "True"),
            ],
            vec![n(&[3, 2, 3]), p(240), n(&[4, 2, 2]), n(&[4, 2, 2])],
        )
        .tol(1e-4, 1e-6),
    );
    r.push(
        row(
            "RNN",
            &[
                ("mode", "gru"),
                ("state_size", "2"),
                ("num_layers", "1"),
                ("bidirectional", "True"),
                ("state_outputs", "True"),
            ],
            vec![n(&[3, 2, 3]), p(84), n(&[2, 2, 2])],
        )
        .tol(1e-4, 1e-6),
    );
    // special functions, LRN / L2Normalization, sequences (ops-missing)
    r.push(row("erf", &[], vec![u(&s23, -2.0, 2.0)]).second());
    r.push(row("erfinv", &[], vec![u(&s23, -0.9, 0.9)]).second());
    r.push(row("gamma", &[], vec![u(&s23, 0.3, 4.0)]));
    r.push(row("gammaln", &[], vec![u(&s23, -1.9, 5.0)]));
    r.push(row("digamma", &[], vec![u(&s23, 0.3, 5.0)]));
    // linalg
    for (ta, tb, sa, sb) in [
        ("False", "False", [2usize, 2, 3], [2usize, 3, 4]),
        ("True", "True", [2, 3, 2], [2, 4, 3]),
    ] {
        let attrs = [("transpose_a", ta), ("transpose_b", tb), ("alpha", "0.7")];
        r.push(row("_linalg_gemm2", &attrs, vec![n(&sa), n(&sb)]).second());
        r.push(row(
            "_linalg_gemm",
            &[
                ("transpose_a", ta),
                ("transpose_b", tb),
                ("alpha", "0.7"),
                ("beta", "-1.5"),
            ],
            vec![n(&sa), n(&sb), n(&[2, 2, 4])],
        ));
    }
    r.push(row(
        "linalg_gemm2",
        &[("axis", "1")],
        vec![n(&[2, 3, 2, 4]), n(&[2, 4, 2, 5])],
    ));
    r.push(row(
        "_linalg_syrk",
        &[("alpha", "1.5")],
        vec![n(&[2, 3, 2])],
    ));
    r.push(row(
        "_linalg_syrk",
        &[("transpose", "True")],
        vec![n(&[2, 3, 2])],
    ));
    for (t, rs, lower) in [("False", "False", true), ("True", "True", false)] {
        let attrs = [
            ("transpose", t),
            ("rightside", rs),
            ("lower", if lower { "True" } else { "False" }),
            ("alpha", "-0.8"),
        ];
        let b = if rs == "True" {
            n(&[2, 2, 3])
        } else {
            n(&[2, 3, 2])
        };
        r.push(row("_linalg_trmm", &attrs, vec![n(&[2, 3, 3]), b.clone()]));
        r.push(row(
            "_linalg_trsm",
            &attrs,
            vec![In::Tri(vec![2, 3, 3], lower), b],
        ));
    }
    r.push(row("_linalg_potrf", &[], vec![In::Spd(vec![2, 3, 3])]).sym());
    r.push(
        row(
            "_linalg_potrf",
            &[("lower", "False")],
            vec![In::Spd(vec![3, 3])],
        )
        .sym(),
    );
    r.push(row(
        "_linalg_potri",
        &[],
        vec![In::Tri(vec![2, 3, 3], true)],
    ));
    r.push(row(
        "_linalg_potri",
        &[("lower", "False")],
        vec![In::Tri(vec![3, 3], false)],
    ));
    r.push(row("_linalg_sumlogdiag", &[], vec![In::Spd(vec![2, 3, 3])]));
    r.push(
        row(
            "_linalg_extractdiag",
            &[("offset", "1")],
            vec![n(&[2, 3, 3])],
        )
        .second(),
    );
    r.push(row("_linalg_makediag", &[("offset", "-1")], vec![n(&[2, 3])]).second());
    r.push(row(
        "_linalg_extracttrian",
        &[("lower", "False")],
        vec![n(&[2, 3, 3])],
    ));
    r.push(row(
        "_linalg_maketrian",
        &[("offset", "1")],
        vec![n(&[2, 6])],
    ));
    r.push(row("_linalg_inverse", &[], vec![In::Spd(vec![2, 3, 3])]));
    r.push(row("_linalg_det", &[], vec![In::Spd(vec![2, 3, 3])]));
    r.push(row("_linalg_slogdet", &[], vec![In::Spd(vec![2, 3, 3])]));
    r.push(row("_linalg_gelqf", &[], vec![n(&[2, 2, 4])]));
    r.push(row("_linalg_syevd", &[], vec![In::Spd(vec![2, 3, 3])]).sym());
    r.push(row("moments", &[("axes", "(0, 2)")], vec![n(&s234)]));
    r.push(row(
        "moments",
        &[("axes", "(1,)"), ("keepdims", "True")],
        vec![n(&s234)],
    ));
    r.push(row(
        "hard_sigmoid",
        &[("alpha", "0.3"), ("beta", "0.4")],
        vec![u(&s23, -1.0, 1.5)],
    ));
    r.push(
        row(
            "softmin",
            &[("axis", "1"), ("temperature", "0.5")],
            vec![n(&s234)],
        )
        .second(),
    );
    r.push(row(
        "LRN",
        &[("nsize", "3"), ("alpha", "0.5")],
        vec![n(&[2, 4, 2, 2])],
    ));
    for mode in ["instance", "channel", "spatial"] {
        r.push(row("L2Normalization", &[("mode", mode)], vec![n(&s234)]));
    }
    let lens = || v(&[3], &[1.0, 4.0, 2.0]);
    let seq = ("use_sequence_length", "True");
    r.push(
        row(
            "SequenceMask",
            &[seq, ("value", "-2")],
            vec![n(&[4, 3, 2]), lens()],
        )
        .second(),
    );
    r.push(row(
        "SequenceMask",
        &[seq, ("axis", "1")],
        vec![n(&[3, 4]), lens()],
    ));
    r.push(row("SequenceLast", &[seq], vec![n(&[4, 3, 2]), lens()]));
    r.push(row("SequenceLast", &[], vec![n(&[4, 3])]));
    r.push(row("SequenceReverse", &[seq], vec![n(&[4, 3, 2]), lens()]).second());
    r.push(row("SequenceReverse", &[], vec![n(&[4, 3])]));
    // region views and shape queries (ops-missing)
    r.push(row("shape_array", &[], vec![n(&s234)]));
    r.push(row("size_array", &[], vec![n(&s234)]));
    r.push(
        row("slice_like", &[], vec![n(&s234), n(&[1, 2, 3])])
            .wrt(&[0])
            .second(),
    );
    r.push(
        row(
            "slice_like",
            &[("axes", "(0, -2)")],
            vec![n(&s234), n(&[1, 2])],
        )
        .wrt(&[0]),
    );
    r.push(row(
        "Crop",
        &[("num_args", "1"), ("h_w", "(2, 2)"), ("offset", "(1, 0)")],
        vec![n(&[2, 2, 3, 4])],
    ));
    r.push(
        row(
            "Crop",
            &[("num_args", "2"), ("center_crop", "True")],
            vec![n(&[2, 2, 3, 4]), n(&[1, 1, 1, 2])],
        )
        .wrt(&[0]),
    );
    r.push(
        row(
            "depth_to_space",
            &[("block_size", "2")],
            vec![n(&[1, 8, 2, 3])],
        )
        .second(),
    );
    r.push(row(
        "space_to_depth",
        &[("block_size", "2")],
        vec![n(&[1, 2, 4, 2])],
    ));
    r.push(row(
        "softmax_cross_entropy",
        &[],
        vec![n(&s234[1..]), v(&[3], &[0.0, 3.0, 1.0])],
    ));
    r.push(row(
        "smooth_l1",
        &[("scalar", "1.5")],
        vec![u(&[2, 5], 0.5, 2.0)],
    ));
    r.push(row(
        "smooth_l1",
        &[("scalar", "1.5")],
        vec![u(&[2, 5], -0.4, 0.4)],
    ));
    // spatial transformer, ROI pooling, CTC (helper-spatial)
    r.push(row(
        "GridGenerator",
        &[("transform_type", "affine"), ("target_shape", "(3, 4)")],
        vec![n(&[2, 6])],
    ));
    r.push(row(
        "GridGenerator",
        &[("transform_type", "warp")],
        vec![u(&[2, 2, 3, 4], -2.0, 2.0)],
    ));
    // Grid values beyond [-1, 1]: corners outside the input read zero.
    r.push(row(
        "BilinearSampler",
        &[],
        vec![n(&[2, 3, 4, 5]), u(&[2, 2, 3, 2], -1.2, 1.2)],
    ));
    r.push(row(
        "SpatialTransformer",
        &[
            ("transform_type", "affine"),
            ("sampler_type", "bilinear"),
            ("target_shape", "(3, 3)"),
        ],
        vec![n(&[2, 2, 4, 5]), u(&[2, 6], -1.2, 1.2)],
    ));
    r.push(row(
        "ROIPooling",
        &[("pooled_size", "(2, 3)"), ("spatial_scale", "0.5")],
        vec![
            distinct(&[2, 2, 5, 6]),
            v(
                &[3, 5],
                &[
                    0., 0., 0., 10., 8., 1., 2., 1.4, 8.6, 7.3, 1., 6., 6., 2., 2.,
                ],
            ),
        ],
    ));
    r.push(row(
        "CTCLoss",
        &[],
        vec![
            n(&[5, 3, 4]),
            v(&[3, 3], &[1., 2., 2., 3., 0., 0., 1., 3., 0.]),
        ],
    ));
    r.push(row(
        "CTCLoss",
        &[
            ("use_data_lengths", "True"),
            ("use_label_lengths", "True"),
            ("blank_label", "last"),
        ],
        vec![
            n(&[5, 2, 4]),
            v(&[2, 3], &[0., 2., 1., 2., 2., -1.]),
            v(&[2], &[5., 4.]),
            v(&[2], &[3., 2.]),
        ],
    ));

    // detection (op/nn/detection): box_nms routes each output row's gradient to its input
    // box (a copy unless out_format converts, which MXNet's gradient ignores); ROIAlign is
    // linear in data; the rest back-propagate zeros as MXNet.
    let nms_data = [
        0., 0.9, 0.1, 0.1, 0.5, 0.5, 1., 0.8, 0.12, 0.1, 0.52, 0.5, 0., 0.7, 0.6, 0.6, 0.9, 0.9,
        2., 0.2, 0.05, 0.6, 0.3, 0.9, 1., 0.3, 0.2, 0.2, 0.4, 0.4, 0., 0.6, 0.25, 0.2, 0.45, 0.4,
        2., 0.5, 0.7, 0.1, 0.9, 0.3, 0., 0.1, 0.7, 0.1, 0.95, 0.35,
    ];
    r.push(
        row(
            "_contrib_box_nms",
            &[("overlap_thresh", "0.3")],
            vec![v(&[2, 4, 6], &nms_data)],
        )
        .wrt(&[0]),
    );
    r.push(
        row(
            "_contrib_box_nms",
            &[
                ("topk", "3"),
                ("in_format", "center"),
                ("out_format", "center"),
                ("id_index", "0"),
                ("force_suppress", "True"),
            ],
            vec![v(&[2, 4, 6], &nms_data)],
        )
        .wrt(&[0]),
    );
    r.push(
        row(
            "_contrib_box_iou",
            &[],
            vec![u(&[2, 3, 4], 0.0, 1.0), u(&[5, 4], 0.0, 1.0)],
        )
        .blocked(),
    );
    r.push(
        row(
            "_contrib_bipartite_matching",
            &[("threshold", "0.1")],
            vec![distinct(&[2, 3, 4])],
        )
        .blocked(),
    );
    r.push(
        row(
            "_contrib_box_encode",
            &[],
            vec![
                v(&[1, 3], &[1., -1., 1.]),
                v(&[1, 3], &[0., 1., 1.]),
                u(&[1, 3, 4], 0.0, 1.0),
                u(&[1, 2, 4], 0.0, 1.0),
                n(&[4]),
                pos(&[4]),
            ],
        )
        .blocked(),
    );
    r.push(
        row(
            "_contrib_box_decode",
            &[],
            vec![n(&[2, 3, 4]), u(&[1, 3, 4], 0.0, 1.0)],
        )
        .blocked(),
    );
    r.push(
        row(
            "_contrib_MultiBoxPrior",
            &[("sizes", "(0.5, 0.25)"), ("ratios", "(1, 2)")],
            vec![n(&[1, 2, 3, 4])],
        )
        .blocked(),
    );
    r.push(
        row(
            "_contrib_MultiBoxTarget",
            &[],
            vec![
                v(&[1, 2, 4], &[0.1, 0.1, 0.5, 0.5, 0.4, 0.4, 0.9, 0.8]),
                v(
                    &[1, 2, 5],
                    &[0., 0.1, 0.1, 0.45, 0.5, -1., -1., -1., -1., -1.],
                ),
                n(&[1, 3, 2]),
            ],
        )
        .blocked(),
    );
    r.push(
        row(
            "_contrib_MultiBoxDetection",
            &[],
            vec![
                u(&[1, 3, 2], 0.0, 1.0),
                n(&[1, 8]),
                v(&[1, 2, 4], &[0.1, 0.1, 0.5, 0.5, 0.4, 0.4, 0.9, 0.8]),
            ],
        )
        .blocked(),
    );
    let rois = [
        0., 0.5, 1.0, 7.0, 6.5, 1., 2.2, 0.4, 4.1, 3.3, 0., 3.0, 3.0, 2.0, 2.0, -1., 0., 0., 3., 3.,
    ];
    // Deformable convolutions: offsets with fractional parts in (0.1, 0.9) (and in
    // (-0.9, -0.1)) keep the finite differences off the pixel lines where bilinear sampling
    // has kinks; pad 1 puts some taps outside the image, where each op's border rule applies.
    r.push(row(
        "_contrib_DeformableConvolution",
        &[
            ("kernel", "(3,3)"),
            ("num_filter", "4"),
            ("pad", "(1,1)"),
            ("stride", "(2,1)"),
            ("num_group", "2"),
            ("num_deformable_group", "2"),
        ],
        vec![
            n(&[2, 4, 5, 4]),
            u(&[2, 36, 3, 4], 0.1, 0.9),
            n(&[4, 2, 3, 3]),
            n(&[4]),
        ],
    ));
    r.push(row(
        "_contrib_ModulatedDeformableConvolution",
        &[
            ("kernel", "(2,3)"),
            ("num_filter", "3"),
            ("pad", "(1,0)"),
            ("dilate", "(2,1)"),
            ("no_bias", "True"),
        ],
        vec![
            n(&[2, 2, 4, 5]),
            u(&[2, 12, 4, 3], -0.9, -0.1),
            u(&[2, 6, 4, 3], 0.2, 1.0),
            n(&[3, 2, 2, 3]),
        ],
    ));
    r.push(
        row(
            "_contrib_ROIAlign",
            &[("pooled_size", "(2, 3)"), ("spatial_scale", "0.8")],
            vec![n(&[2, 3, 5, 6]), v(&[4, 5], &rois)],
        )
        .wrt(&[0]),
    );
    r.push(
        row(
            "_contrib_ROIAlign",
            &[
                ("pooled_size", "(2, 2)"),
                ("spatial_scale", "1"),
                ("sample_ratio", "2"),
                ("position_sensitive", "True"),
                ("aligned", "True"),
            ],
            vec![
                n(&[2, 8, 5, 6]),
                v(&[3, 5], &[&rois[..10], &rois[15..]].concat()),
            ],
        )
        .wrt(&[0]),
    );
    // Proposal / MultiProposal back-propagate zeros (MXNet's backward writes zeros); the
    // scores are distinct, so the kept boxes do not change within the finite-difference step.
    let proposal = |op: &'static str, nb: usize, info: &[f64]| {
        row(
            op,
            &[
                ("scales", "(2, 4)"),
                ("ratios", "(1,)"),
                ("feature_stride", "8"),
                ("rpn_pre_nms_top_n", "8"),
                ("rpn_post_nms_top_n", "4"),
                ("rpn_min_size", "1"),
                ("output_score", "True"),
            ],
            vec![
                distinct(&[nb, 4, 2, 3]),
                u(&[nb, 8, 2, 3], -0.3, 0.3),
                v(&[nb, 3], info),
            ],
        )
        .blocked()
    };
    r.push(proposal("_contrib_Proposal", 1, &[16., 24., 1.]));
    r.push(proposal(
        "_contrib_MultiProposal",
        2,
        &[16., 24., 1., 12., 20., 0.5],
    ));
    // DeformablePSROIPooling: bilinear in data and (away from whole-pixel sample positions,
    // which these offsets avoid) smooth in trans; the rois keep every sample inside the map.
    let deform_rois = [0., 3., 3., 10., 10., 0., 5.2, 2.4, 12.7, 9.1];
    r.push(
        row(
            "_contrib_DeformablePSROIPooling",
            &[
                ("spatial_scale", "0.5"),
                ("output_dim", "2"),
                ("group_size", "2"),
                ("pooled_size", "2"),
                ("sample_per_part", "2"),
                ("trans_std", "0.1"),
            ],
            vec![
                n(&[1, 8, 8, 9]),
                v(&[2, 5], &deform_rois),
                u(&[2, 2, 2, 2], -1.0, 1.0),
            ],
        )
        .wrt(&[0, 2]),
    );
    r.push(
        row(
            "_contrib_DeformablePSROIPooling",
            &[
                ("spatial_scale", "0.5"),
                ("output_dim", "2"),
                ("group_size", "2"),
                ("pooled_size", "3"),
                ("sample_per_part", "3"),
                ("no_trans", "True"),
            ],
            vec![n(&[1, 8, 8, 9]), v(&[2, 5], &deform_rois)],
        )
        .wrt(&[0]),
    );
    // PSROIPooling averages each bin: linear in data.
    r.push(
        row(
            "_contrib_PSROIPooling",
            &[
                ("spatial_scale", "0.5"),
                ("output_dim", "2"),
                ("pooled_size", "3"),
                ("group_size", "2"),
            ],
            vec![
                n(&[2, 8, 5, 6]),
                v(
                    &[3, 5],
                    &[
                        0., 0.4, 1.6, 9.2, 8.9, 1., 2., 0., 11., 9., 0., 4., 4., 4.6, 5.,
                    ],
                ),
            ],
        )
        .wrt(&[0]),
    );

    // transformer attention products (helper-nnextra): seq 3 (query 2), batch 2, heads 2,
    // head_dim 2; every input, including the attention maps.
    let h2 = [("heads", "2")];
    r.push(row(
        "_contrib_interleaved_matmul_selfatt_qk",
        &h2,
        vec![n(&[3, 2, 12])],
    ));
    r.push(row(
        "_contrib_interleaved_matmul_selfatt_valatt",
        &h2,
        vec![n(&[3, 2, 12]), n(&[4, 3, 3])],
    ));
    r.push(row(
        "_contrib_interleaved_matmul_encdec_qk",
        &h2,
        vec![n(&[2, 2, 4]), n(&[3, 2, 8])],
    ));
    r.push(row(
        "_contrib_interleaved_matmul_encdec_valatt",
        &h2,
        vec![n(&[3, 2, 8]), n(&[4, 2, 3])],
    ));

    // im2col / col2im (each the other's gradient) and Correlation (helper-nnextra)
    let im_2d = [
        ("kernel", "(2, 3)"),
        ("stride", "(1, 2)"),
        ("dilate", "(2, 1)"),
        ("pad", "(1, 1)"),
    ];
    r.push(row("im2col", &im_2d, vec![n(&[2, 2, 4, 5])]));
    r.push(row(
        "im2col",
        &[("kernel", "(3,)"), ("stride", "(2,)"), ("pad", "(1,)")],
        vec![n(&[1, 2, 7])],
    ));
    r.push(row(
        "im2col",
        &[
            ("kernel", "(2, 2, 2)"),
            ("dilate", "(1, 2, 1)"),
            ("pad", "(0, 1, 1)"),
        ],
        vec![n(&[1, 2, 3, 4, 3])],
    ));
    let mut col_2d = im_2d.to_vec();
    col_2d.push(("output_size", "(4, 5)"));
    r.push(row("col2im", &col_2d, vec![n(&[2, 12, 12])]));
    r.push(row(
        "Correlation",
        &[("max_displacement", "1"), ("pad_size", "1")],
        vec![n(&[2, 3, 4, 5]), n(&[2, 3, 4, 5])],
    ));
    r.push(row(
        "Correlation",
        &[
            ("kernel_size", "3"),
            ("max_displacement", "2"),
            ("stride1", "2"),
            ("stride2", "2"),
            ("pad_size", "2"),
            ("is_multiply", "False"),
        ],
        vec![n(&[1, 2, 5, 6]), n(&[1, 2, 5, 6])],
    ));

    // contrib misc and legacy functions (helper-misc)
    r.push(
        row(
            "_contrib_quadratic",
            &[("a", "0.7"), ("b", "-1.2"), ("c", "0.3")],
            vec![n(&s23)],
        )
        .second(),
    );
    r.push(row("_contrib_div_sqrt_dim", &[], vec![n(&s234)]));
    r.push(
        row(
            "_contrib_AdaptiveAvgPooling2D",
            &[("output_size", "(3, 2)")],
            vec![n(&[2, 1, 5, 7])],
        )
        .second(),
    );
    for attrs in [
        &[("height", "5"), ("width", "6")][..],
        &[("height", "2"), ("width", "7"), ("align_corners", "False")],
        &[
            ("mode", "odd_scale"),
            ("scale_height", "2"),
            ("scale_width", "0.5"),
        ],
    ] {
        r.push(row("_contrib_BilinearResize2D", attrs, vec![n(&[1, 2, 3, 4])]).second());
    }
    r.push(
        row(
            "_contrib_BilinearResize2D",
            &[("mode", "like"), ("align_corners", "False")],
            vec![n(&[1, 2, 3, 4]), n(&[1, 1, 5, 2])],
        )
        .wrt(&[0]),
    );
    r.push(row("_contrib_gradientmultiplier", &[], vec![n(&s23)]));
    r.push(row("amp_cast", &[("dtype", "float64")], vec![n(&s23)]));
    r.push(row(
        "amp_multicast",
        &[("num_outputs", "2")],
        vec![n(&s23), n(&[4])],
    ));
    r.push(row(
        "_split_v2",
        &[("indices", "(0, 1)"), ("axis", "1")],
        vec![n(&s234)],
    ));
    r.push(row(
        "_split_v2",
        &[
            ("indices", "()"),
            ("sections", "2"),
            ("axis", "0"),
            ("squeeze_axis", "True"),
        ],
        vec![n(&s234)],
    ));
    r.push(row("cumsum", &[], vec![n(&s234)]).second());
    r.push(row("cumsum", &[("axis", "1")], vec![n(&s234)]).second());
    let counts = v(&s23, &[0., 1., 2., 3., 4., 5.]);
    r.push(row(
        "_random_pdf_uniform",
        &[],
        vec![u(&s23, 0.2, 0.8), u(&[2], -1.0, 0.0), u(&[2], 1.0, 2.0)],
    ));
    for log in ["False", "True"] {
        r.push(row(
            "_random_pdf_normal",
            &[("is_log", log)],
            vec![n(&s23), n(&[2]), pos(&[2])],
        ));
        r.push(row(
            "_random_pdf_gamma",
            &[("is_log", log)],
            vec![pos(&s23), pos(&[2]), pos(&[2])],
        ));
        r.push(
            row(
                "_random_pdf_poisson",
                &[("is_log", log)],
                vec![counts.clone(), pos(&[2])],
            )
            .wrt(&[1]),
        );
    }
    r.push(row(
        "_random_pdf_exponential",
        &[],
        vec![pos(&s234), pos(&[2, 3])],
    ));
    r.push(
        row(
            "_random_pdf_negative_binomial",
            &[],
            vec![counts.clone(), u(&[2], 1.0, 3.0), u(&[2], 0.2, 0.8)],
        )
        .wrt(&[1, 2]),
    );
    r.push(
        row(
            "_random_pdf_generalized_negative_binomial",
            &[],
            vec![counts, pos(&[2]), pos(&[2])],
        )
        .wrt(&[1, 2]),
    );
    r.push(row(
        "_random_pdf_dirichlet",
        &[],
        vec![u(&[2, 2, 3], 0.1, 0.5), pos(&[2, 3])],
    ));
    r.push(row(
        "_random_pdf_dirichlet",
        &[("is_log", "True")],
        vec![u(&[4, 3], 0.1, 0.5), pos(&[3])],
    ));
    r.push(
        row(
            "_contrib_boolean_mask",
            &[("axis", "1")],
            vec![n(&[2, 3, 2]), v(&[3], &[1., 0., 1.])],
        )
        .wrt(&[0])
        .second(),
    );
    r.push(row(
        "_contrib_arange_like",
        &[("start", "1"), ("step", "0.5")],
        vec![n(&s23)],
    ));
    r.push(
        row(
            "_contrib_index_copy",
            &[],
            vec![n(&[5, 3]), v(&[2], &[3., 0.]), n(&[2, 3])],
        )
        .wrt(&[0, 2]),
    );
    r.push(row("_sparse_retain", &[], vec![n(&[4, 3]), v(&[2], &[3., 1.])]).wrt(&[0]));

    compat_rows(&mut r);
    // image ops (HWC / NHWC images, CHW tensors for normalize). to_tensor's output is float32
    // by definition, so its inputs are tiny: the finite differences then stay exact enough.
    r.push(row("_image_to_tensor", &[], vec![u(&[2, 3, 3], -1e-9, 1e-9)]).tol(1e-4, 1e-9));
    r.push(row("_image_to_tensor", &[], vec![u(&[2, 2, 3, 1], -1e-9, 1e-9)]).tol(1e-4, 1e-9));
    let norm = &[("mean", "(0.5, -1, 2)"), ("std", "(2, 0.5, 4)")];
    r.push(row("_image_normalize", norm, vec![n(&[3, 2, 2])]).second());
    r.push(row(
        "_image_normalize",
        &[("mean", "(1,)"), ("std", "(3,)")],
        vec![n(&[2, 1, 2, 3])],
    ));
    r.push(row("_image_flip_left_right", &[], vec![n(&[2, 3, 3])]).second());
    r.push(row("_image_flip_top_bottom", &[], vec![n(&[3, 2, 1])]).second());
    let win = &[("x", "1"), ("y", "1"), ("width", "2"), ("height", "2")];
    r.push(row("_image_crop", win, vec![n(&[3, 4, 3])]));
    r.push(row("_image_crop", win, vec![n(&[2, 3, 3, 1])]));
    // float32 arithmetic as in MXNet: alpha 0 keeps the output exact (the gradient is the
    // identity for every alpha; test_image_ops.py checks it with a nonzero one).
    r.push(
        row(
            "_image_adjust_lighting",
            &[("alpha", "(0, 0, 0)")],
            vec![u(&[2, 2, 3], -1e-9, 1e-9)],
        )
        .tol(1e-4, 1e-9),
    );

    r
}

/// Legacy and internal graph ops (op/compat, nn/pooling_v1, BatchNorm's variants). The
/// legacy BatchNorms differentiate the batch formula even after an inference forward (as
/// MXNet's legacy ops do), so only training rows are finite-difference checks.
fn compat_rows(r: &mut Vec<Row>) {
    let s234 = [2usize, 3, 4];
    let bn = |c: usize, shape: &[usize]| vec![n(shape), pos(&[c]), n(&[c]), n(&[c]), pos(&[c])];
    for fix in ["True", "False"] {
        r.push(
            row("BatchNorm_v1", &[("fix_gamma", fix)], bn(3, &s234))
                .wrt(&[0, 1, 2])
                .train()
                .tol(1e-4, 1e-6),
        );
        r.push(
            row(
                "_contrib_SyncBatchNorm",
                &[("fix_gamma", fix), ("key", "bn0"), ("ndev", "1")],
                bn(3, &[2, 3, 2, 2]),
            )
            .wrt(&[0, 1, 2])
            .train()
            .tol(1e-4, 1e-6),
        );
        r.push(
            row(
                "_contrib_BatchNormWithReLU",
                &[("fix_gamma", fix)],
                bn(3, &s234),
            )
            .wrt(&[0, 1, 2])
            .train()
            .tol(1e-4, 1e-6),
        );
    }
    r.push(
        row(
            "_contrib_BatchNormWithReLU",
            &[("fix_gamma", "False"), ("use_global_stats", "True")],
            bn(3, &s234),
        )
        .wrt(&[0, 1, 2]),
    );
    r.push(row(
        "Convolution_v1",
        &[
            ("kernel", "(3,2)"),
            ("num_filter", "2"),
            ("stride", "(2,1)"),
            ("pad", "(1,0)"),
        ],
        vec![n(&[2, 3, 5, 4]), n(&[2, 3, 3, 2]), n(&[2])],
    ));
    for pt in ["max", "avg", "sum"] {
        for conv in ["valid", "full"] {
            r.push(row(
                "Pooling_v1",
                &[
                    ("kernel", "(3,2)"),
                    ("stride", "(2,2)"),
                    ("pad", "(1,1)"),
                    ("pool_type", pt),
                    ("pooling_convention", conv),
                ],
                vec![distinct(&[2, 2, 5, 4])],
            ));
        }
        r.push(row(
            "Pooling_v1",
            &[("global_pool", "True"), ("pool_type", pt)],
            vec![distinct(&[2, 2, 3, 4])],
        ));
    }
    r.push(row(
        "_scatter_plus_scalar",
        &[("scalar", "1.5")],
        vec![n(&s234)],
    ));
    // Ops MXNet registered under their own names with another op's kernels and gradients.
    r.push(row("_grad_add", &[], vec![n(&[2, 3]), n(&[2, 3])]));
    r.push(row(
        "_scatter_elemwise_div",
        &[],
        vec![n(&[2, 3]), pos(&[2, 3])],
    ));
    r.push(row(
        "_contrib_SparseEmbedding",
        &[
            ("input_dim", "4"),
            ("output_dim", "3"),
            ("dtype", "float64"),
        ],
        vec![v(&[5], &[0.0, 3.0, 1.0, 3.0, 2.0]), n(&[4, 3])],
    ));
    r.push(row(
        "_scatter_minus_scalar",
        &[("scalar", "2")],
        vec![n(&s234)],
    ));
    r.push(row(
        "_identity_with_attr_like_rhs",
        &[],
        vec![n(&s234), n(&s234)],
    ));
    r.push(row(
        "_rnn_param_concat",
        &[("num_args", "3"), ("dim", "0")],
        vec![n(&[4]), n(&[6]), n(&[2])],
    ));
    r.push(row(
        "cast_storage",
        &[("stype", "row_sparse")],
        vec![n(&s234)],
    ));
    r.push(row("_square_sum", &[("axis", "1")], vec![n(&s234)]));
    r.push(row(
        "_square_sum",
        &[("axis", "(0, 2)"), ("keepdims", "True")],
        vec![n(&s234)],
    ));
    r.push(row(
        "_square_sum",
        &[("axis", "1"), ("exclude", "True")],
        vec![n(&s234)],
    ));
    r.push(row("_square_sum", &[], vec![n(&s234)]));
}

const SAMPLER_ZERO_GRADS: &str =
    "random sampling: zero gradients for the parameters (MXNet's MakeZeroGradNodes)";

/// Ops with no gradient by design (MXNet registers none, or a zero one that carries no
/// information worth a numeric check), with the reason.
const NON_DIFFERENTIABLE: &[(&str, &str)] = &[
    ("_set_value", "no inputs: fills the out= array in place with a scalar"),
    (
        "_contrib_quantize",
        "integer output: MXNet registers zero gradients (MakeZeroGradNodes), as here",
    ),
    (
        "_contrib_quantize_v2",
        "integer output: MXNet registers zero gradients (MakeZeroGradNodes), as here",
    ),
    (
        "_contrib_quantize_asym",
        "integer output: MXNet registers zero gradients (MakeZeroGradNodes), as here",
    ),
    (
        "_contrib_dequantize",
        "integer input: MXNet registers zero gradients (MakeZeroGradNodes), as here",
    ),
    (
        "_contrib_requantize",
        "integer input and output: MXNet registers zero gradients (MakeZeroGradNodes), as here",
    ),
    (
        "_contrib_quantized_elemwise_add",
        "MXNet registers no gradient (inference only)",
    ),
    (
        "_contrib_quantized_elemwise_mul",
        "integer inputs: MXNet registers zero gradients (MakeZeroGradNodes), as here",
    ),
    (
        "_contrib_quantized_flatten",
        "integer data: MXNet registers zero gradients (MakeZeroGradNodes), as here",
    ),
    (
        "_contrib_quantized_act",
        "MXNet registers no gradient (inference only)",
    ),
    (
        "_contrib_quantized_concat",
        "integer data: MXNet registers zero gradients (MakeZeroGradNodes), as here",
    ),
    (
        "_contrib_quantized_pooling",
        "integer data: zero gradients, as MXNet's avg pooling gives (its max pooling fails)",
    ),
    (
        "_contrib_quantized_batch_norm",
        "integer data: MXNet registers zero gradients (MakeZeroGradNodes), as here",
    ),
    (
        "_contrib_quantized_embedding",
        "integer weight: MXNet registers zero gradients (MakeZeroGradNodes), as here",
    ),
    (
        "_contrib_quantized_conv",
        "integer levels in, integer levels out: a step function of its inputs (MXNet registers \
         zero gradients, for inference graphs only)",
    ),
    (
        "_contrib_quantized_fully_connected",
        "integer levels in, integer levels out: a step function of its inputs (MXNet registers \
         zero gradients, for inference graphs only)",
    ),
    (
        "_contrib_quantized_rnn",
        "uint8 levels in, a hidden state re-quantized at every step: a step function of its \
         inputs, and MXNet registers no gradient (inference only)",
    ),
    ("_contrib_RROIAlign", "MXNet registers no gradient (its backward is not supported)"),
    ("_zeros_without_dtype", "no inputs"),
    ("reset_arrays", "no outputs: zeroes its inputs in place"),
    ("_set_rows", "no outputs: writes rows into its first input in place"),
    (
        "IdentityAttachKLSparseReg",
        "by design its gradient adds a sparsity penalty to the identity's; checked against \
         MXNet's values in test_operator_compat.py",
    ),
    ("_zeros", "no inputs"),
    (
        "_image_resize",
        "OpenCV resampling (fixed-point for uint8); MXNet's registered gradient fails its own shape check",
    ),
    (
        "_image_random_flip_left_right",
        "one random draw per call, outside the graph: MXNet's gradient passes the head gradient through unchanged (so does oxnet's), which is not the derivative",
    ),
    (
        "_image_random_flip_top_bottom",
        "one random draw per call, outside the graph: MXNet's gradient passes the head gradient through unchanged (so does oxnet's), which is not the derivative",
    ),
    (
        "_image_random_brightness",
        "one random draw per call, outside the graph: MXNet's gradient passes the head gradient through unchanged (so does oxnet's), which is not the derivative",
    ),
    (
        "_image_random_contrast",
        "one random draw per call, outside the graph: MXNet's gradient passes the head gradient through unchanged (so does oxnet's), which is not the derivative",
    ),
    (
        "_image_random_saturation",
        "one random draw per call, outside the graph: MXNet's gradient passes the head gradient through unchanged (so does oxnet's), which is not the derivative",
    ),
    (
        "_image_random_hue",
        "one random draw per call, outside the graph: MXNet's gradient passes the head gradient through unchanged (so does oxnet's), which is not the derivative",
    ),
    (
        "_image_random_color_jitter",
        "one random draw per call, outside the graph: MXNet's gradient passes the head gradient through unchanged (so does oxnet's), which is not the derivative",
    ),
    (
        "_image_random_lighting",
        "one random draw per call, outside the graph: MXNet's gradient passes the head gradient through unchanged (so does oxnet's), which is not the derivative",
    ),
    ("_ones", "no inputs"),
    ("_empty", "no inputs"),
    ("_full", "no inputs"),
    ("_arange", "no inputs"),
    ("_linspace", "no inputs"),
    ("_eye", "no inputs"),
    ("_random_uniform", "no inputs (parameters are attributes)"),
    ("_random_normal", "no inputs (parameters are attributes)"),
    ("_random_randint", "no inputs (parameters are attributes)"),
    ("_random_exponential", "no inputs (parameters are attributes)"),
    ("_random_gamma", "no inputs (parameters are attributes)"),
    ("_random_poisson", "no inputs (parameters are attributes)"),
    ("_random_negative_binomial", "no inputs (parameters are attributes)"),
    ("_random_generalized_negative_binomial", "no inputs (parameters are attributes)"),
    ("_sample_uniform", SAMPLER_ZERO_GRADS),
    ("_sample_normal", SAMPLER_ZERO_GRADS),
    ("_sample_exponential", SAMPLER_ZERO_GRADS),
    ("_sample_gamma", SAMPLER_ZERO_GRADS),
    ("_sample_poisson", SAMPLER_ZERO_GRADS),
    ("_sample_negative_binomial", SAMPLER_ZERO_GRADS),
    ("_sample_generalized_negative_binomial", SAMPLER_ZERO_GRADS),
    (
        "_sample_multinomial",
        "random draws: finite differences redraw; the get_prob gradient (1/p at the drawn \
         category) is checked exactly in multinomial_log_prob_gradient",
    ),
    ("_shuffle", "random permutation: MXNet registers no gradient"),
    (
        "argmax_channel",
        "index output; MXNet registers no gradient (argmax/argmin have zero ones)",
    ),
    (
        "sgd_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "sgd_mom_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "nag_mom_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "mp_sgd_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "mp_sgd_mom_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "mp_nag_mom_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "adam_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "rmsprop_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "rmspropalex_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "signsgd_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "signum_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "ftrl_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "ftml_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "lamb_update_phase1",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "lamb_update_phase2",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "_adamw_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "_mp_adamw_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "_foreach",
        "control flow: needs its body subgraph, so no attribute-only row; forward and input \
         gradients are checked against numpy unrolling in tests/python/test_control_flow_symbol.py",
    ),
    (
        "_cond",
        "control flow: needs its subgraphs, so no attribute-only row; outputs and input \
         gradients (taken branch only) are checked in tests/python/test_control_flow_symbol.py",
    ),
    (
        "_while_loop",
        "control flow: needs its subgraphs, so no attribute-only row; outputs, padding and \
         input gradients are checked in tests/python/test_control_flow_symbol.py",
    ),
    (
        "_sg_mkldnn_conv",
        "oneDNN-fused inference node (MXNet 1.9.1 registers only zero gradients: inference-only); \
         needs its subgraph, so no attribute-only row; float and INT8 outputs are checked \
         against MXNet in tests/python/test_sg_mkldnn.py",
    ),
    (
        "_sg_mkldnn_selfatt_qk",
        "oneDNN inference node: MXNet 1.9.1 registers zero gradients (MakeZeroGradNodes), as \
         here, even for its float form; outputs are checked against MXNet in \
         tests/python/test_sg_mkldnn_int8.py",
    ),
    (
        "_sg_mkldnn_selfatt_valatt",
        "oneDNN inference node: MXNet 1.9.1 registers zero gradients (MakeZeroGradNodes), as \
         here, even for its float form; outputs are checked against MXNet in \
         tests/python/test_sg_mkldnn_int8.py",
    ),
    (
        "_sg_mkldnn_fully_connected",
        "oneDNN-fused inference node (MXNet 1.9.1 registers only zero gradients: inference-only); \
         needs its subgraph, so no attribute-only row; float and INT8 outputs are checked \
         against MXNet in tests/python/test_sg_mkldnn.py",
    ),
    (
        "Custom",
        "written in Python (mx.operator): its gradient is the user's backward, checked in tests/python/test_custom_op.py",
    ),
    (
        "multi_sgd_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "multi_sgd_mom_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "multi_mp_sgd_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "multi_mp_sgd_mom_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "preloaded_multi_sgd_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "preloaded_multi_sgd_mom_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "preloaded_multi_mp_sgd_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "preloaded_multi_mp_sgd_mom_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "_multi_adamw_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "_multi_mp_adamw_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "_multi_lamb_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "_multi_mp_lamb_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "mp_lamb_update_phase1",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "mp_lamb_update_phase2",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "multi_lars",
        "optimizer helper: computes learning rates from norms, never differentiated",
    ),
    (
        "_sparse_adagrad_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "_contrib_group_adagrad_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "_contrib_calibrate_entropy",
        "calibration statistic of a histogram (MXNet registers no gradient)",
    ),
    (
        "_contrib_getnnz",
        "counts stored entries (integer output), not differentiable",
    ),
    (
        "_sample_unique_zipfian",
        "random sampling of integer classes, not differentiable",
    ),
    // nn: fully connected / convolution / pooling (helper B)

    // nn: activations / norms / losses (helper C)
    (
        "SVMOutput",
        "loss head: its gradient is the hinge loss's, not the output's (checked against MXNet's numbers in op/nn/svm.rs)",
    ),
    (
        "_scatter_set_nd",
        "assignment into lhs (x[idx] = v); MXNet registers no gradient",
    ),
    (
        "batch_take",
        "MXNet registers no gradient (deprecated in favour of pick)",
    ),
    (
        "khatri_rao",
        "MXNet registers no gradient",
    ),
    (
        "SoftmaxOutput",
        "loss head: its gradient is the loss's, not the output's (checked against MXNet's numbers in op/nn/loss.rs)",
    ),
    (
        "LinearRegressionOutput",
        "loss head: its gradient is the loss's, not the output's (checked against MXNet's numbers in op/nn/loss.rs)",
    ),
    (
        "LogisticRegressionOutput",
        "loss head: its gradient is the loss's, not the output's (checked against MXNet's numbers in op/nn/loss.rs)",
    ),
    (
        "MAERegressionOutput",
        "loss head: its gradient is the loss's, not the output's (checked against MXNet's numbers in op/nn/loss.rs)",
    ),
    (
        "MakeLoss",
        "loss head: its gradient is the loss's, not the output's (checked against MXNet's numbers in op/nn/loss.rs)",
    ),
    (
        "make_loss",
        "loss head: its gradient is the loss's, not the output's (checked against MXNet's numbers in op/nn/loss.rs)",
    ),
    // contrib misc and legacy functions (helper-misc)
    (
        "_contrib_round_ste",
        "straight-through estimator: the gradient is the identity by definition, not the derivative (checked in tests/python/test_operator_misc2.py)",
    ),
    (
        "_contrib_sign_ste",
        "straight-through estimator: the gradient is the identity by definition, not the derivative (checked in tests/python/test_operator_misc2.py)",
    ),
    (
        "_contrib_index_array",
        "integer output (indices); MXNet gives the data a zero gradient",
    ),
    ("_contrib_allclose", "boolean (uint8) output; MXNet registers no gradient"),
    ("fill_element_0index", "legacy NDArray function; MXNet registers no gradient"),
    ("_onehot_encode", "legacy NDArray function; MXNet registers no gradient"),
    ("all_finite", "a finiteness flag; MXNet registers no gradient"),
    ("multi_all_finite", "a finiteness flag; MXNet registers no gradient"),
    ("multi_sum_sq", "optimizer helper (LAMB/LARS norms); MXNet registers no gradient"),
    ("_histogram", "integer counts; MXNet registers no gradient"),
    (
        "_random_uniform_like",
        "random draws shaped like data: data's values are never read, its gradient is zero",
    ),
    (
        "_random_normal_like",
        "random draws shaped like data: data's values are never read, its gradient is zero",
    ),
    (
        "_random_gamma_like",
        "random draws shaped like data: data's values are never read, its gradient is zero",
    ),
    (
        "_random_exponential_like",
        "random draws shaped like data: data's values are never read, its gradient is zero",
    ),
    (
        "_random_poisson_like",
        "random draws shaped like data: data's values are never read, its gradient is zero",
    ),
    (
        "_random_negative_binomial_like",
        "random draws shaped like data: data's values are never read, its gradient is zero",
    ),
    (
        "_random_generalized_negative_binomial_like",
        "random draws shaped like data: data's values are never read, its gradient is zero",
    ),
];

/// Ops whose gradient is not implemented yet, with who owns it.
const NOT_YET: &[(&str, &str)] = &[
    // nn: fully connected / convolution / pooling (helper B)

    // nn: activations / norms / losses (helper C)
];

/// xorshift: reproducible inputs without extra crates.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
}

fn arr(shape: &[usize], data: &[f64]) -> NDArray {
    NDArray::from_vec(Shape::new(shape.to_vec()), data, Context::cpu(0)).expect("array")
}

fn values(rng: &mut Rng, ins: &[In]) -> Vec<(Vec<usize>, Vec<f64>)> {
    ins.iter()
        .map(|i| match i {
            In::U(s, lo, hi) => {
                let n: usize = s.iter().product();
                (s.clone(), (0..n).map(|_| rng.uniform(*lo, *hi)).collect())
            }
            In::V(s, d) => (s.clone(), d.clone()),
            In::Spd(s) => {
                let n = s[s.len() - 1];
                let count = s.iter().product::<usize>() / (n * n).max(1);
                let mut d = Vec::new();
                for _ in 0..count {
                    let b: Vec<f64> = (0..n * n).map(|_| rng.uniform(-1.0, 1.0)).collect();
                    for i in 0..n {
                        for j in 0..n {
                            let dot: f64 = (0..n).map(|k| b[i * n + k] * b[j * n + k]).sum();
                            d.push(dot + if i == j { n as f64 } else { 0.0 });
                        }
                    }
                }
                (s.clone(), d)
            }
            In::Tri(s, lower) => {
                let n = s[s.len() - 1];
                let d = (0..s.iter().product::<usize>())
                    .map(|k| {
                        let (i, j) = ((k / n) % n, k % n);
                        let x = rng.uniform(-1.0, 1.0);
                        if i == j {
                            1.5 + x / 2.0
                        } else if (j > i) == *lower {
                            0.0
                        } else {
                            x
                        }
                    })
                    .collect();
                (s.clone(), d)
            }
            In::Distinct(s, lo, hi) => {
                // A shuffled even grid plus small jitter: distinct, gaps ~ (hi-lo)/n.
                let n: usize = s.iter().product();
                let step = (hi - lo) / n.max(1) as f64;
                let mut d: Vec<f64> = (0..n)
                    .map(|k| lo + step * (k as f64 + 0.25 + 0.5 * rng.next()))
                    .collect();
                for k in (1..n).rev() {
                    let j = (rng.next() * (k + 1) as f64) as usize;
                    d.swap(k, j.min(k));
                }
                (s.clone(), d)
            }
        })
        .collect()
}

/// Evaluates `heads` with variables bound by node identity.
fn eval(heads: &[Entry], bind: &HashMap<usize, NDArray>, train: bool) -> Result<Vec<NDArray>> {
    let mut vals: HashMap<(usize, usize), NDArray> = HashMap::new();
    for n in topo_order(heads) {
        let key = Arc::as_ptr(&n) as usize;
        match &n.op {
            None => {
                let a = bind.get(&key).cloned().ok_or_else(|| {
                    oxnet::Error::Value(format!("variable {} is not bound", n.name))
                })?;
                vals.insert((key, 0), a);
            }
            Some(op) => {
                let ins: Vec<NDArray> = n.inputs.iter().map(|e| vals[&e.key()].clone()).collect();
                let outs = invoke_mode(op, &ins, None, None, train)?;
                for (i, o) in outs.into_iter().enumerate() {
                    vals.insert((key, i), o);
                }
            }
        }
    }
    Ok(heads.iter().map(|h| vals[&h.key()].clone()).collect())
}

fn host(a: &NDArray) -> Result<Vec<f64>> {
    // Index outputs (argsort, topk indices) may be float32 or integers.
    match a.dtype() {
        DType::F32 => Ok(a.to_vec::<f32>()?.into_iter().map(f64::from).collect()),
        DType::I32 => Ok(a.to_vec::<i32>()?.into_iter().map(f64::from).collect()),
        DType::I64 => Ok(a.to_vec::<i64>()?.into_iter().map(|x| x as f64).collect()),
        _ => a.to_vec::<f64>(),
    }
}

/// Runs one row: returns a description of the first mismatch or error.
fn check_row(r: &Row, seed: u64) -> std::result::Result<(), String> {
    let fail = |e: oxnet::Error| format!("{e}");
    let mut rng = Rng(seed | 1);
    let data = values(&mut rng, &r.ins);
    let attrs: Vec<(String, String)> = r
        .attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let vars: Vec<Arc<Node>> = (0..data.len())
        .map(|i| Node::variable(format!("x{i}"), Vec::new()))
        .collect();
    let node = Node::from_registry(r.op, "op", attrs, vars.iter().map(|v| v.entry(0)).collect())
        .map_err(fail)?;
    let op: Arc<dyn Operator> = node.op.clone().ok_or("no op")?;
    let nvis = node.num_visible_outputs();
    let inputs: Vec<NDArray> = data.iter().map(|(s, d)| arr(s, d)).collect();
    let forward = |ins: &[NDArray]| -> std::result::Result<Vec<Vec<f64>>, String> {
        let o = invoke_mode(&op, ins, None, None, r.train).map_err(fail)?;
        o[..nvis].iter().map(|a| host(a).map_err(fail)).collect()
    };
    let out0 = forward(&inputs)?;
    let heads: Vec<Entry> = (0..nvis).map(|i| node.entry(i)).collect();
    let out_shapes: Vec<Shape> = {
        let o = invoke_mode(&op, &inputs, None, None, r.train).map_err(fail)?;
        o[..nvis].iter().map(|a| a.shape().clone()).collect()
    };
    let hg: Vec<Vec<f64>> = out0
        .iter()
        .map(|o| o.iter().map(|_| rng.uniform(-1.0, 1.0)).collect())
        .collect();
    let hg_vars: Vec<Arc<Node>> = (0..nvis)
        .map(|i| Node::variable(format!("head_grad{i}"), Vec::new()))
        .collect();
    let wrt: Vec<usize> = r.wrt.clone().unwrap_or_else(|| {
        (0..r.ins.len())
            .filter(|&i| !matches!(r.ins[i], In::V(..)))
            .collect()
    });
    let wrt_entries: Vec<Entry> = wrt.iter().map(|&i| vars[i].entry(0)).collect();
    if op.is_loss() != r.loss.is_some() {
        return Err(format!(
            "a loss op needs its objective given with .loss(...), other ops none (is_loss = {})",
            op.is_loss()
        ));
    }
    let head_grads: Vec<Option<Entry>> = if op.is_loss() {
        vec![None; nvis]
    } else {
        hg_vars.iter().map(|v| Some(v.entry(0))).collect()
    };
    let grads = gradient(&heads, &head_grads, &wrt_entries).map_err(fail)?;
    let mut bind: HashMap<usize, NDArray> = HashMap::new();
    for (v, a) in vars.iter().zip(&inputs) {
        bind.insert(Arc::as_ptr(v) as usize, a.clone());
    }
    for ((v, h), s) in hg_vars.iter().zip(&hg).zip(&out_shapes) {
        bind.insert(Arc::as_ptr(v) as usize, arr(s.dims(), h));
    }
    let present: Vec<Entry> = grads.iter().flatten().cloned().collect();
    let mut got_vals = eval(&present, &bind, r.train).map_err(fail)?.into_iter();
    let objective = |ins: &[Vec<f64>], outs: &[Vec<f64>]| -> f64 {
        if let Some(f) = &r.loss {
            return f(ins, outs);
        }
        outs.iter()
            .zip(&hg)
            .map(|(o, h)| o.iter().zip(h).map(|(a, b)| a * b).sum::<f64>())
            .sum()
    };
    for (wi, &i) in wrt.iter().enumerate() {
        let (shape, base) = &data[i];
        let got: Vec<f64> = match &grads[wi] {
            Some(_) => {
                let a = got_vals.next().ok_or("missing gradient value")?;
                if a.shape().dims() != &shape[..] {
                    return Err(format!(
                        "input {i}: gradient shape {} != input shape {:?}",
                        a.shape(),
                        shape
                    ));
                }
                host(&a).map_err(fail)?
            }
            None => vec![0.0; base.len()],
        };
        let eps = 1e-6;
        let side = shape.last().copied().unwrap_or(1).max(1);
        for j in 0..base.len() {
            // With `sym`, element (r, c) below the diagonal moves together with (c, r).
            let (row, col) = ((j / side) % side, j % side);
            if r.sym && col > row {
                continue;
            }
            let mirror = (r.sym && row != col).then(|| j - row * side - col + col * side + row);
            let at = |delta: f64| -> std::result::Result<f64, String> {
                let mut d = base.clone();
                d[j] += delta;
                if let Some(m) = mirror {
                    d[m] += delta;
                }
                let mut ins = inputs.clone();
                ins[i] = arr(shape, &d);
                let vals: Vec<Vec<f64>> = data
                    .iter()
                    .enumerate()
                    .map(|(k, (_, dk))| if k == i { d.clone() } else { dk.clone() })
                    .collect();
                Ok(objective(&vals, &forward(&ins)?))
            };
            let num = if r.blocked {
                0.0
            } else {
                (at(eps)? - at(-eps)?) / (2.0 * eps)
            };
            let g = got[j] + mirror.map_or(0.0, |m| got[m]);
            if (num - g).abs() > r.atol + r.rtol * num.abs().max(g.abs()) {
                return Err(format!(
                    "input {i} element {j}: gradient {g} but finite difference {num}"
                ));
            }
        }
    }
    if r.second {
        second_order(r, &mut rng, &vars, &wrt, &data, &bind, &grads)?;
    }
    Ok(())
}

/// Differentiates the gradient graph again: the gradient of `M(x) = sum_i <dL/dx_i, v_i>`
/// (random `v_i`) against finite differences of `M` evaluated through the gradient graph.
fn second_order(
    r: &Row,
    rng: &mut Rng,
    vars: &[Arc<Node>],
    wrt: &[usize],
    data: &[(Vec<usize>, Vec<f64>)],
    bind: &HashMap<usize, NDArray>,
    grads: &[Option<Entry>],
) -> std::result::Result<(), String> {
    let fail = |e: oxnet::Error| format!("second order: {e}");
    let present: Vec<(usize, Entry)> = wrt
        .iter()
        .zip(grads)
        .filter_map(|(&i, g)| g.clone().map(|g| (i, g)))
        .collect();
    let heads: Vec<Entry> = present.iter().map(|(_, g)| g.clone()).collect();
    let v: Vec<Vec<f64>> = present
        .iter()
        .map(|(i, _)| data[*i].1.iter().map(|_| rng.uniform(-1.0, 1.0)).collect())
        .collect();
    let v_vars: Vec<Arc<Node>> = (0..present.len())
        .map(|k| Node::variable(format!("v{k}"), Vec::new()))
        .collect();
    let hgs: Vec<Option<Entry>> = v_vars.iter().map(|x| Some(x.entry(0))).collect();
    let wrt_entries: Vec<Entry> = wrt.iter().map(|&i| vars[i].entry(0)).collect();
    let g2 = gradient(&heads, &hgs, &wrt_entries).map_err(fail)?;
    let mut bind2 = bind.clone();
    for ((x, vals), (i, _)) in v_vars.iter().zip(&v).zip(&present) {
        bind2.insert(Arc::as_ptr(x) as usize, arr(&data[*i].0, vals));
    }
    let g2_present: Vec<Entry> = g2.iter().flatten().cloned().collect();
    let mut got_vals = eval(&g2_present, &bind2, r.train)
        .map_err(fail)?
        .into_iter();
    let m = |b: &HashMap<usize, NDArray>| -> std::result::Result<f64, String> {
        let outs = eval(&heads, b, r.train).map_err(fail)?;
        let mut t = 0.0;
        for (o, vals) in outs.iter().zip(&v) {
            t += host(o)
                .map_err(fail)?
                .iter()
                .zip(vals)
                .map(|(a, b)| a * b)
                .sum::<f64>();
        }
        Ok(t)
    };
    for (wi, &i) in wrt.iter().enumerate() {
        let (shape, base) = &data[i];
        let got: Vec<f64> = match &g2[wi] {
            Some(_) => host(&got_vals.next().ok_or("missing value")?).map_err(fail)?,
            None => vec![0.0; base.len()],
        };
        let eps = 1e-5;
        for j in 0..base.len() {
            let at = |delta: f64| -> std::result::Result<f64, String> {
                let mut d = base.clone();
                d[j] += delta;
                let mut b = bind.clone();
                b.insert(Arc::as_ptr(&vars[i]) as usize, arr(shape, &d));
                m(&b)
            };
            let num = (at(eps)? - at(-eps)?) / (2.0 * eps);
            if (num - got[j]).abs() > 1e-6 + 1e-4 * num.abs().max(got[j].abs()) {
                return Err(format!(
                    "second order: input {i} element {j}: gradient {} but finite difference {num}",
                    got[j]
                ));
            }
        }
    }
    Ok(())
}

fn selected() -> Option<HashSet<String>> {
    std::env::var("OXNET_GRAD_OPS")
        .ok()
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
}

/// Canonical name of an op or alias.
fn canonical(name: &str) -> String {
    registry()
        .aliases()
        .iter()
        .find(|(a, _)| *a == name)
        .map_or(name, |(_, t)| t)
        .to_string()
}

#[test]
fn gradients_match_finite_differences() {
    let sel = selected();
    let mut failures = Vec::new();
    let mut count = 0;
    for (k, r) in rows().iter().enumerate() {
        if let Some(s) = &sel {
            if !s.contains(r.op) && !s.contains(&canonical(r.op)) {
                continue;
            }
        }
        count += 1;
        if let Err(e) = check_row(r, 0x9E37_79B9_7F4A_7C15 ^ (k as u64 * 7919)) {
            failures.push(format!("{} {:?}: {e}", r.op, r.attrs));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} gradient rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_op_is_covered() {
    let mut covered: HashMap<String, &str> = HashMap::new();
    for r in rows() {
        covered.insert(canonical(r.op), "row");
    }
    for (name, _) in NON_DIFFERENTIABLE.iter().chain(NOT_YET) {
        assert!(
            registry().get(name).is_ok(),
            "{name} is listed but not registered"
        );
        let c = canonical(name);
        assert!(
            covered.insert(c, "list").is_none(),
            "{name} is both listed and checked, or listed twice"
        );
    }
    let missing: Vec<&str> = registry()
        .defs()
        .iter()
        .map(|d| d.name())
        .filter(|n| !covered.contains_key(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "ops with neither a gradient row nor a NON_DIFFERENTIABLE/NOT_YET entry: {missing:?}"
    );
}

/// Input gradients of `op` at fixed inputs with a head gradient of ones.
fn grads_at(op: &'static str, attrs: &[(&str, &str)], ins: &[(&[usize], &[f64])]) -> Vec<Vec<f64>> {
    let attrs: Vec<(String, String)> = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let vars: Vec<Arc<Node>> = (0..ins.len())
        .map(|i| Node::variable(format!("x{i}"), Vec::new()))
        .collect();
    let node = Node::from_registry(op, "op", attrs, vars.iter().map(|v| v.entry(0)).collect())
        .expect("node");
    let arrays: Vec<NDArray> = ins.iter().map(|(s, d)| arr(s, d)).collect();
    let out =
        invoke_mode(node.op.as_ref().expect("op"), &arrays, None, None, false).expect("forward");
    let ones = arr(out[0].shape().dims(), &vec![1.0; out[0].size()]);
    let hv = Node::variable("head", Vec::new());
    let wrt: Vec<Entry> = vars.iter().map(|v| v.entry(0)).collect();
    let g = gradient(&[node.entry(0)], &[Some(hv.entry(0))], &wrt).expect("gradient");
    let mut bind: HashMap<usize, NDArray> = HashMap::new();
    for (v, a) in vars.iter().zip(&arrays) {
        bind.insert(Arc::as_ptr(v) as usize, a.clone());
    }
    bind.insert(Arc::as_ptr(&hv) as usize, ones);
    g.iter()
        .zip(ins)
        .map(|(e, (_, d))| match e {
            Some(e) => {
                host(&eval(std::slice::from_ref(e), &bind, false).expect("eval")[0]).expect("host")
            }
            None => vec![0.0; d.len()],
        })
        .collect()
}

/// Where finite differences cannot decide (ties, kinks, bounds), the gradients follow MXNet
/// 1.9.1's numbers (recorded from `mx.autograd`).
#[test]
fn ties_and_kinks_follow_mxnet() {
    let clip = grads_at(
        "clip",
        &[("a_min", "-0.5"), ("a_max", "0.5")],
        &[(&[5], &[-1.0, -0.5, 0.0, 0.5, 1.0])],
    );
    assert_eq!(clip[0], vec![0.0, 1.0, 1.0, 1.0, 0.0]);
    let (a, b): (&[f64], &[f64]) = (&[1.0, 2.0, 3.0], &[1.0, 1.0, 4.0]);
    assert_eq!(
        grads_at("_maximum", &[], &[(&[3], a), (&[3], b)]),
        vec![vec![1.0, 1.0, 0.0], vec![0.0, 0.0, 1.0]]
    );
    assert_eq!(
        grads_at("_minimum", &[], &[(&[3], a), (&[3], b)]),
        vec![vec![1.0, 0.0, 1.0], vec![0.0, 1.0, 0.0]]
    );
    assert_eq!(
        grads_at("_maximum_scalar", &[("scalar", "2")], &[(&[3], a)]),
        vec![vec![0.0, 1.0, 1.0]]
    );
    assert_eq!(
        grads_at("_minimum_scalar", &[("scalar", "2")], &[(&[3], a)]),
        vec![vec![1.0, 1.0, 0.0]]
    );
    assert_eq!(
        grads_at(
            "max",
            &[("axis", "1")],
            &[(&[2, 3], &[1.0, 3.0, 3.0, 2.0, 2.0, 0.0])]
        ),
        vec![vec![0.0, 1.0, 1.0, 1.0, 1.0, 0.0]]
    );
    let z: &[f64] = &[-1.0, 0.0, 2.0];
    assert_eq!(
        grads_at("relu", &[], &[(&[3], z)]),
        vec![vec![0.0, 0.0, 1.0]]
    );
    assert_eq!(
        grads_at("abs", &[], &[(&[3], z)]),
        vec![vec![-1.0, 0.0, 1.0]]
    );
    assert_eq!(grads_at("BlockGrad", &[], &[(&[3], z)]), vec![vec![0.0; 3]]);
    // Zeros: the same NaN/inf patterns as MXNet.
    let same = |got: &[f64], want: &[f64]| {
        got.len() == want.len()
            && got
                .iter()
                .zip(want)
                .all(|(g, w)| (g.is_nan() && w.is_nan()) || (g - w).abs() < 1e-6)
    };
    let nan = f64::NAN;
    let g = grads_at("norm", &[], &[(&[2, 3], &[0.0; 6])]);
    assert!(same(&g[0], &[nan; 6]), "{g:?}");
    let g = grads_at(
        "prod",
        &[("axis", "1")],
        &[(&[2, 3], &[1.0, 0.0, 2.0, 0.0, 0.0, 3.0])],
    );
    assert!(same(&g[0], &[0.0, nan, 0.0, nan, nan, 0.0]), "{g:?}");
    let g = grads_at(
        "_power",
        &[],
        &[(&[3], &[-2.0, 0.0, 2.0]), (&[3], &[2.0, 2.0, 0.5])],
    );
    assert!(same(&g[0], &[-4.0, 0.0, 0.353553390593]), "{g:?}");
    assert!(same(&g[1], &[nan, nan, 0.980258143468]), "{g:?}");
    // gather_nd: repeated multi-indices accumulate (MXNet's _backward_gather_nd).
    assert_eq!(
        grads_at(
            "gather_nd",
            &[],
            &[
                (&[2, 2], &[1.0, 2.0, 3.0, 4.0]),
                (&[2, 3], &[1.0, 1.0, 1.0, 0.0, 0.0, 1.0])
            ]
        )[0],
        vec![0.0, 0.0, 2.0, 1.0]
    );
    // Repeated and clipped indices accumulate.
    assert_eq!(
        grads_at(
            "take",
            &[],
            &[(&[3], &[1.0, 2.0, 3.0]), (&[4], &[0.0, 0.0, 5.0, 1.0])]
        )[0],
        vec![2.0, 1.0, 1.0]
    );
}

/// `_sample_multinomial(get_prob=True)`: d log p[idx] / dp is 1/p at the drawn category of
/// each draw (accumulated over draws), zero elsewhere; certain rows make the draws known.
#[test]
fn multinomial_log_prob_gradient() {
    let p = Node::variable("p", Vec::new());
    let node = Node::from_registry(
        "_sample_multinomial",
        "op",
        vec![
            ("shape".to_string(), "(3,)".to_string()),
            ("get_prob".to_string(), "True".to_string()),
            ("dtype".to_string(), "float32".to_string()),
        ],
        vec![p.entry(0)],
    )
    .expect("node");
    let data = arr(&[2, 3], &[0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let hv = Node::variable("head", Vec::new());
    let g = gradient(&[node.entry(1)], &[Some(hv.entry(0))], &[p.entry(0)]).expect("gradient");
    let mut bind: HashMap<usize, NDArray> = HashMap::new();
    bind.insert(Arc::as_ptr(&p) as usize, data);
    bind.insert(
        Arc::as_ptr(&hv) as usize,
        arr(&[2, 3], &[1.0, 2.0, 3.0, 0.5, 0.5, 0.5]),
    );
    let e = g[0].as_ref().expect("a gradient for p");
    let got = host(&eval(std::slice::from_ref(e), &bind, false).expect("eval")[0]).expect("host");
    assert_eq!(got, vec![0.0, 6.0, 0.0, 0.0, 0.0, 1.5]);
}
