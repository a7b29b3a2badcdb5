//! MXNet's `_linalg_*` operators (`mx.nd.linalg` / `mx.sym.linalg`): batched over the leading
//! axes, the matrices being the last two (gemm/gemm2 take the row axis as `axis`), float32 and
//! float64 only. Products run on the project's GEMM; factorizations are f64 loops in
//! [`kernel`]. Gradients follow MXNet's rules: most are built from the forward ops themselves
//! (so they differentiate again), the factorizations' from a backward kernel each.
//!
//! Where MXNet is silently wrong this is not: a non-positive-definite `potrf` input (MXNet
//! raises too), a singular `inverse` input, and a zero on the diagonal of a `trsm` matrix (MXNet
//! returns inf) fail with an error naming the op and the batch item. A singular matrix's `det`
//! is 0 and `slogdet` gives (0, -inf), as MXNet documents, with a zero gradient.

mod diag;
mod factor;
pub(crate) mod kernel;
mod products;
#[cfg(test)]
// Array handles are cheap clones; `&[x.clone()]` reads better than `from_ref` in op calls.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests;

use super::{Desc, Registry};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Shape;

/// MXNet's rule for every linalg op: float32 or float64.
fn float_type(op: &str, inputs: &[Desc]) -> Result<DType> {
    let dt = inputs.first().map_or(DType::F32, |d| d.dtype);
    for d in inputs {
        if d.dtype != dt {
            return Err(Error::dtype(
                op,
                format!("all inputs must have one dtype, got {dt} and {}", d.dtype),
            ));
        }
    }
    if !matches!(dt, DType::F32 | DType::F64) {
        return Err(Error::dtype(
            op,
            format!("This operation only supports 32-bit and 64-bit floating point, got {dt}"),
        ));
    }
    Ok(dt)
}

/// (batch, n) of a tensor of square matrices on its last two axes.
fn square(op: &str, what: &str, s: &Shape) -> Result<(usize, usize)> {
    let nd = s.ndim();
    if nd < 2 || s[nd - 2] != s[nd - 1] {
        return Err(Error::shape(
            op,
            format!("{what} must be a tensor of square matrices (ndim >= 2, last two axes equal), got shape {s}"),
        ));
    }
    Ok((s.0[..nd - 2].iter().product(), s[nd - 1]))
}

/// (batch, rows, cols) of a tensor of matrices on its last two axes.
fn matrices(op: &str, what: &str, s: &Shape) -> Result<(usize, usize, usize)> {
    let nd = s.ndim();
    if nd < 2 {
        return Err(Error::shape(
            op,
            format!("{what} must be a tensor of matrices (ndim >= 2), got shape {s}"),
        ));
    }
    Ok((s.0[..nd - 2].iter().product(), s[nd - 2], s[nd - 1]))
}

/// MXNet's spelling of a boolean attribute.
fn flag(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A float attribute that parses back to the same value.
fn num(x: f64) -> String {
    format!("{x:?}")
}

/// Keeps the `lower` (or upper) triangle of the matrices of `x`, diagonal included, as graph
/// nodes: the adjoint of reading only that triangle.
fn tri_mask(
    g: &mut crate::graph::GradBuilder,
    x: &crate::graph::Entry,
    lower: bool,
) -> Result<crate::graph::Entry> {
    let l = [("lower", flag(lower))];
    let packed = g.op1("_linalg_extracttrian", &l, std::slice::from_ref(x))?;
    g.op1("_linalg_maketrian", &l, &[packed])
}

pub fn register(r: &mut Registry) {
    products::register(r);
    diag::register(r);
    factor::register(r);
    for (alias, name) in [
        ("linalg_gemm", "_linalg_gemm"),
        ("linalg_gemm2", "_linalg_gemm2"),
        ("linalg_potrf", "_linalg_potrf"),
        ("linalg_potri", "_linalg_potri"),
        ("linalg_trmm", "_linalg_trmm"),
        ("linalg_trsm", "_linalg_trsm"),
        ("linalg_syrk", "_linalg_syrk"),
        ("linalg_sumlogdiag", "_linalg_sumlogdiag"),
        ("linalg_extractdiag", "_linalg_extractdiag"),
        ("linalg_makediag", "_linalg_makediag"),
        ("linalg_extracttrian", "_linalg_extracttrian"),
        ("linalg_maketrian", "_linalg_maketrian"),
        ("linalg_inverse", "_linalg_inverse"),
        ("linalg_det", "_linalg_det"),
        ("linalg_slogdet", "_linalg_slogdet"),
        ("linalg_gelqf", "_linalg_gelqf"),
        // MXNet registers no `linalg_syevd` alias.
    ] {
        r.alias(alias, name);
    }
}
