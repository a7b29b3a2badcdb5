//! OpenBLAS for f32/f64 matrix products, loaded at run time from a path the Python package
//! finds (the `scipy-openblas32` wheel). Nothing BLAS is needed to build; until a library is
//! loaded, or where an operand's strides are not BLAS-shaped, products use the `gemm` crate.
//! On small and medium products (a batch through a layer) OpenBLAS's kernels are about 1.5×
//! faster here.
//!
//! The library runs single-threaded: the engine's workers and the intra-op pool already
//! decide how products share the cores, and a second thread pool would fight them for it.

use super::gemm::Mat;
use crate::error::{Error, Result};
use libloading::Library;
use std::ffi::c_int;
use std::sync::OnceLock;

const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;

/// `cblas_?gemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)`.
type Gemm<T> = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    T,
    *const T,
    c_int,
    *const T,
    c_int,
    T,
    *mut T,
    c_int,
);

struct Blas {
    sgemm: Gemm<f32>,
    dgemm: Gemm<f64>,
    path: String,
    // Never unloaded: the function pointers above point into it.
    _lib: Library,
}

static BLAS: OnceLock<Blas> = OnceLock::new();

/// Loads the CBLAS library at `path` whose symbols carry `prefix` (`scipy_` for the wheel),
/// once per process; later calls keep the first library. Returns the loaded library's path.
pub fn load(path: &str, prefix: &str) -> Result<String> {
    if let Some(b) = BLAS.get() {
        return Ok(b.path.clone());
    }
    let fail = |what: String| Error::Value(format!("cannot use BLAS library {path}: {what}"));
    // SAFETY: loading runs the library's initialisers; OpenBLAS's only start its thread pool.
    let lib = unsafe { Library::new(path) }.map_err(|e| fail(e.to_string()))?;
    // SAFETY: the symbols are the standard CBLAS / OpenBLAS entry points with these
    // signatures (32-bit integers: the `scipy-openblas32` build).
    let blas = unsafe {
        let sgemm = *lib
            .get::<Gemm<f32>>(format!("{prefix}cblas_sgemm").as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        let dgemm = *lib
            .get::<Gemm<f64>>(format!("{prefix}cblas_dgemm").as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        if let Ok(set_threads) = lib.get::<unsafe extern "C" fn(c_int)>(
            format!("{prefix}openblas_set_num_threads").as_bytes(),
        ) {
            set_threads(1);
        }
        Blas {
            sgemm,
            dgemm,
            path: path.to_string(),
            _lib: lib,
        }
    };
    Ok(BLAS.get_or_init(|| blas).path.clone())
}

/// The loaded library's path, if any.
pub fn loaded() -> Option<&'static str> {
    BLAS.get().map(|b| b.path.as_str())
}

/// An operand as CBLAS takes it (row-major, transposed or not, with its leading dimension),
/// or `None` when neither stride is 1 or the sizes overflow CBLAS's 32-bit integers.
fn operand(rows: usize, cols: usize, rs: isize, cs: isize) -> Option<(c_int, c_int)> {
    row_major_ld(rows, cols, rs, cs)
        .map(|ld| (NO_TRANS, ld))
        .or_else(|| row_major_ld(cols, rows, cs, rs).map(|ld| (TRANS, ld)))
}

/// The leading dimension of a row-major operand (unit column stride, rows not overlapping);
/// a single row's stride is irrelevant.
fn row_major_ld(rows: usize, cols: usize, rs: isize, cs: isize) -> Option<c_int> {
    if cs != 1 || (rows > 1 && rs < cols as isize) {
        return None;
    }
    c_int::try_from(rows).ok()?;
    if rows <= 1 {
        c_int::try_from(cols.max(1)).ok()
    } else {
        c_int::try_from(rs).ok()
    }
}

/// Element types the products take; those with a CBLAS product override `blas_product`.
pub trait BlasElem: Copy {
    /// `c = a·b`, or `c += a·b` when `acc`, through the loaded BLAS; false (nothing done)
    /// when none is loaded or the operands do not fit CBLAS (half types widen instead, see
    /// `gemm`).
    ///
    /// # Safety
    /// As `gemm::matmul`; `m`, `n`, `k` are non-zero.
    #[allow(clippy::too_many_arguments)]
    unsafe fn blas_product(
        _m: usize,
        _n: usize,
        _k: usize,
        _a: Mat<Self>,
        _b: Mat<Self>,
        _c: *mut Self,
        _ldc: usize,
        _acc: bool,
    ) -> bool {
        false
    }
}

macro_rules! blas_elem {
    ($t:ty, $f:ident) => {
        impl BlasElem for $t {
            unsafe fn blas_product(
                m: usize,
                n: usize,
                k: usize,
                a: Mat<$t>,
                b: Mat<$t>,
                c: *mut $t,
                ldc: usize,
                acc: bool,
            ) -> bool {
                let Some(blas) = BLAS.get() else {
                    return false;
                };
                let (Some((ta, lda)), Some((tb, ldb))) =
                    (operand(m, k, a.rs, a.cs), operand(k, n, b.rs, b.cs))
                else {
                    return false;
                };
                let (Ok(mi), Ok(ni), Ok(ki), Ok(ldci)) = (
                    c_int::try_from(m),
                    c_int::try_from(n),
                    c_int::try_from(k),
                    c_int::try_from(ldc.max(n)),
                ) else {
                    return false;
                };
                let beta = if acc { 1.0 } else { 0.0 };
                (blas.$f)(
                    ROW_MAJOR, ta, tb, mi, ni, ki, 1.0, a.ptr, lda, b.ptr, ldb, beta, c, ldci,
                );
                true
            }
        }
    };
}
blas_elem!(f32, sgemm);
blas_elem!(f64, dgemm);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operand_layouts() {
        // Row-major 3x4 and its transpose view.
        assert_eq!(operand(3, 4, 4, 1), Some((NO_TRANS, 4)));
        assert_eq!(operand(4, 3, 1, 4), Some((TRANS, 4)));
        // A padded row stride is a leading dimension.
        assert_eq!(operand(3, 4, 10, 1), Some((NO_TRANS, 10)));
        // One row: its stride is irrelevant.
        assert_eq!(operand(1, 4, 0, 1), Some((NO_TRANS, 4)));
        // Neither stride 1, or overlapping rows: not for CBLAS.
        assert_eq!(operand(3, 4, 8, 2), None);
        assert_eq!(operand(3, 4, 2, 1), None);
    }
}
