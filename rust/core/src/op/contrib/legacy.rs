//! MXNet's legacy NDArray functions `fill_element_0index` and `_onehot_encode` (not
//! differentiable, as in MXNet), and the legacy alias names MXNet 1.9.1 still registers.

use crate::error::{Error, Result};
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Registry, SimpleDef};
use crate::op::{read_f64, write_f64};

/// Integer column of row `i` if it lies in [0, cols).
fn column(v: f64, cols: usize) -> Option<usize> {
    let c = v.trunc();
    (c >= 0.0 && c < cols as f64).then_some(c as usize)
}

fn check_rows(op: &str, what: &str, d: &Desc, rows: usize, data: &Desc) -> Result<()> {
    if d.shape.ndim() != 1 || d.shape[0] != rows {
        return Err(Error::shape(
            op,
            format!(
                "{what} must be 1-D with one entry per row of the 2-D array ({rows}), got {} (array {})",
                d.shape, data.shape
            ),
        ));
    }
    Ok(())
}

fn check_2d(op: &str, what: &str, d: &Desc) -> Result<usize> {
    if d.shape.ndim() != 2 {
        return Err(Error::shape(
            op,
            format!("{what} must be 2-D, got {}", d.shape),
        ));
    }
    Ok(d.shape[0])
}

fn fill_element_0index(r: &mut Registry) {
    const OP: &str = "fill_element_0index";
    r.add(SimpleDef {
        name: OP,
        doc: "Fill one element of each line(row for python, column for R/Julia) in lhs according to index indicated by rhs and values indicated by mhs. This function assume rhs uses 0-based index. Indices outside the row are skipped.".into(),
        params: vec![],
        inputs: Inputs::Fixed(&["lhs", "mhs", "rhs"]),
        create: Box::new(|_| {
            Ok(FnOp::new(
                OP,
                |ins| {
                    expect_inputs(OP, ins, 3)?;
                    let rows = check_2d(OP, "lhs", &ins[0])?;
                    check_rows(OP, "mhs", &ins[1], rows, &ins[0])?;
                    check_rows(OP, "rhs", &ins[2], rows, &ins[0])?;
                    Ok(vec![ins[0].clone()])
                },
                |_, ins, outs| {
                    let cols = ins[0].shape()[1];
                    let mut v = read_f64(&ins[0]);
                    let (vals, idx) = (read_f64(&ins[1]), read_f64(&ins[2]));
                    for (i, (&x, &c)) in vals.iter().zip(&idx).enumerate() {
                        if let Some(c) = column(c, cols) {
                            v[i * cols + c] = x;
                        }
                    }
                    write_f64(&outs[0], &v);
                    Ok(())
                },
            )
            .with_type_partial(|ins, outs| {
                let (mut a, mut o) = ([ins[0], ins[1]], [outs[0]]);
                crate::op::unify_types(OP, &mut a, &mut o)?;
                (ins[0], ins[1], outs[0]) = (a[0], a[1], o[0]);
                Ok(())
            })
            .arc())
        }),
    });
}

fn onehot_encode(r: &mut Registry) {
    const OP: &str = "_onehot_encode";
    r.add(SimpleDef {
        name: OP,
        doc: "One-hot encodes the indices `lhs` (N,) into an array shaped and typed like `rhs` (N, depth): row i is 1 at column lhs[i] and 0 elsewhere (all 0 for an index outside the row). `mx.nd.onehot_encode(indices, out)` calls it with `rhs=out`.".into(),
        params: vec![],
        inputs: Inputs::Fixed(&["lhs", "rhs"]),
        create: Box::new(|_| {
            Ok(FnOp::new(
                OP,
                |ins| {
                    expect_inputs(OP, ins, 2)?;
                    let rows = check_2d(OP, "rhs", &ins[1])?;
                    check_rows(OP, "lhs", &ins[0], rows, &ins[1])?;
                    Ok(vec![ins[1].clone()])
                },
                |_, ins, outs| {
                    let cols = ins[1].shape()[1];
                    let mut v = vec![0.0; ins[1].size()];
                    for (i, &c) in read_f64(&ins[0]).iter().enumerate() {
                        if let Some(c) = column(c, cols) {
                            v[i * cols + c] = 1.0;
                        }
                    }
                    write_f64(&outs[0], &v);
                    Ok(())
                },
            )
            .with_type_partial(|ins, outs| {
                let (mut a, mut o) = ([ins[1]], [outs[0]]);
                crate::op::unify_types(OP, &mut a, &mut o)?;
                (ins[1], outs[0]) = (a[0], o[0]);
                Ok(())
            })
            .arc())
        }),
    });
}

/// MXNet 1.9.1's legacy names for ops registered elsewhere.
const ALIASES: &[(&str, &str)] = &[
    ("_Equal", "_equal"),
    ("_Not_Equal", "_not_equal"),
    ("_Greater", "_greater"),
    ("_Greater_Equal", "_greater_equal"),
    ("_Lesser", "_lesser"),
    ("_Lesser_Equal", "_lesser_equal"),
    ("_Logical_And", "_logical_and"),
    ("_Logical_Or", "_logical_or"),
    ("_Logical_Xor", "_logical_xor"),
    ("_Hypot", "_hypot"),
    ("_EqualScalar", "_equal_scalar"),
    ("_NotEqualScalar", "_not_equal_scalar"),
    ("_GreaterScalar", "_greater_scalar"),
    ("_GreaterEqualScalar", "_greater_equal_scalar"),
    ("_LesserScalar", "_lesser_scalar"),
    ("_LesserEqualScalar", "_lesser_equal_scalar"),
    ("_LogicalAndScalar", "_logical_and_scalar"),
    ("_LogicalOrScalar", "_logical_or_scalar"),
    ("_LogicalXorScalar", "_logical_xor_scalar"),
    ("_HypotScalar", "_hypot_scalar"),
    ("_ModScalar", "_mod_scalar"),
    ("_RModScalar", "_rmod_scalar"),
    ("choose_element_0index", "pick"),
    // MXNet's `_copyto` also copies across contexts and dtypes into `out`; the registry op
    // copies within one context (`NDArray.copyto` covers the rest).
    ("_copyto", "_copy"),
];

pub fn register(r: &mut Registry) {
    fill_element_0index(r);
    onehot_encode(r);
    for &(alias, target) in ALIASES {
        r.alias(alias, target);
    }
}
