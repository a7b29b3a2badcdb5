//! Dense linear algebra on one row-major f64 matrix at a time: Cholesky, triangular solves, LU,
//! LQ (Householder) and the symmetric eigendecomposition (cyclic Jacobi). Products go to the
//! project's GEMM (`kernels::cpu::gemm`); the factorizations are plain loops, accumulated in
//! f64 whatever the array dtype, so float32 results are at least as accurate as LAPACK's.

use crate::kernels::cpu::gemm::{matmul, Mat};

/// `op(a) · op(b)`: `a` is m×k (stored k×m when `ta`), `b` is k×n (stored n×k when `tb`).
pub fn mm(a: &[f64], ta: bool, b: &[f64], tb: bool, (m, n, k): (usize, usize, usize)) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    assert!(
        a.len() >= m * k && b.len() >= k * n,
        "mm operands too short"
    );
    let (a_rs, a_cs) = if ta { (1, m as isize) } else { (k as isize, 1) };
    let (b_rs, b_cs) = if tb { (1, k as isize) } else { (n as isize, 1) };
    // SAFETY: the strides describe m×k and k×n operands inside `a` and `b` (checked above);
    // `c` is a fresh m×n buffer.
    unsafe {
        matmul(
            m,
            n,
            k,
            Mat {
                ptr: a.as_ptr(),
                rs: a_rs,
                cs: a_cs,
            },
            Mat {
                ptr: b.as_ptr(),
                rs: b_rs,
                cs: b_cs,
            },
            c.as_mut_ptr(),
            n,
        )
    };
    c
}

pub fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            t[j * rows + i] = a[i * cols + j];
        }
    }
    t
}

/// Cholesky factor of the n×n matrix whose lower triangle is `a` (the upper is not read):
/// `a = l·lᵀ`, `l` lower with a positive diagonal. `Err(j)`: the leading j+1 minor is not
/// positive definite.
pub fn cholesky_lower(a: &[f64], n: usize) -> Result<Vec<f64>, usize> {
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let d = a[j * n + j] - (0..j).map(|k| l[j * n + k] * l[j * n + k]).sum::<f64>();
        if d.is_nan() || d <= 0.0 {
            return Err(j);
        }
        let djj = d.sqrt();
        l[j * n + j] = djj;
        for i in j + 1..n {
            let s = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            l[i * n + j] = s / djj;
        }
    }
    Ok(l)
}

/// Solves `op(t)·x = b` in place for x (`b` n×p row-major), with `t` n×n triangular (`lower`)
/// and `op` a transpose when `trans`; only t's triangle is read. `Err(i)`: t[i][i] is zero.
pub fn tri_solve_left(
    t: &[f64],
    n: usize,
    lower: bool,
    trans: bool,
    b: &mut [f64],
    p: usize,
) -> Result<(), usize> {
    let at = |i: usize, j: usize| if trans { t[j * n + i] } else { t[i * n + j] };
    for i in 0..n {
        if at(i, i) == 0.0 {
            return Err(i);
        }
    }
    // op(t) is lower exactly when t is lower and not transposed, or upper and transposed.
    let forward = lower != trans;
    for step in 0..n {
        let i = if forward { step } else { n - 1 - step };
        let d = at(i, i);
        for c in 0..p {
            let mut s = b[i * p + c];
            let js: Box<dyn Iterator<Item = usize>> = if forward {
                Box::new(0..i)
            } else {
                Box::new(i + 1..n)
            };
            for j in js {
                s -= at(i, j) * b[j * p + c];
            }
            b[i * p + c] = s / d;
        }
    }
    Ok(())
}

/// LU factorization with partial pivoting, in place: returns the row permutation (row i of
/// the factored matrix is row `perm[i]` of the input) and its sign. A zero pivot is left in
/// place (the determinant is then zero).
pub fn lu(a: &mut [f64], n: usize) -> (Vec<usize>, f64) {
    let mut perm: Vec<usize> = (0..n).collect();
    let mut sign = 1.0;
    for k in 0..n {
        let mut piv = k;
        for i in k + 1..n {
            if a[i * n + k].abs() > a[piv * n + k].abs() {
                piv = i;
            }
        }
        if piv != k {
            for j in 0..n {
                a.swap(k * n + j, piv * n + j);
            }
            perm.swap(k, piv);
            sign = -sign;
        }
        let d = a[k * n + k];
        if d == 0.0 {
            continue;
        }
        for i in k + 1..n {
            let f = a[i * n + k] / d;
            a[i * n + k] = f;
            for j in k + 1..n {
                a[i * n + j] -= f * a[k * n + j];
            }
        }
    }
    (perm, sign)
}

/// (sign of det, log |det|) from an `lu` result: (0, -inf) for a singular matrix.
pub fn lu_slogdet(lu: &[f64], n: usize, sign: f64) -> (f64, f64) {
    let mut s = sign;
    let mut log = 0.0;
    for i in 0..n {
        let d = lu[i * n + i];
        s *= if d > 0.0 {
            1.0
        } else if d < 0.0 {
            -1.0
        } else {
            0.0
        };
        log += d.abs().ln();
    }
    (s, log)
}

/// The inverse of the matrix factored by `lu`; `Err(i)`: pivot i is zero (singular).
pub fn lu_inverse(lu: &[f64], perm: &[usize], n: usize) -> Result<Vec<f64>, usize> {
    // P·A = L·U, so A⁻¹ = U⁻¹·L⁻¹·P: solve L·U·X = P (columns of the permuted identity).
    let mut x = vec![0.0; n * n];
    for (i, &p) in perm.iter().enumerate() {
        x[i * n + p] = 1.0;
    }
    // L has a unit diagonal, which `tri_solve_left` would read from the stored factors.
    for i in 0..n {
        for c in 0..n {
            let s: f64 = (0..i).map(|j| lu[i * n + j] * x[j * n + c]).sum();
            x[i * n + c] -= s;
        }
    }
    tri_solve_left(lu, n, false, false, &mut x, n)?;
    Ok(x)
}

/// LQ factorization of the m×n matrix `a` (m <= n) by Householder reflections, with LAPACK's
/// sign conventions (`gelqf` + `orglq`): returns (q m×n with orthonormal rows, l m×m lower).
pub fn lq(a: &[f64], m: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut w = a.to_vec();
    let mut reflectors: Vec<(Vec<f64>, f64)> = Vec::with_capacity(m);
    for k in 0..m {
        // Reflector H = I - tau·v·vᵀ on columns k.. with H·x = beta·e1 for x = w[k, k..].
        let alpha = w[k * n + k];
        let xnorm = (k + 1..n).map(|j| w[k * n + j].powi(2)).sum::<f64>().sqrt();
        let mut v = vec![0.0; n - k];
        v[0] = 1.0;
        let tau = if xnorm == 0.0 {
            0.0
        } else {
            let beta = -(alpha.hypot(xnorm)).copysign(alpha);
            for j in k + 1..n {
                v[j - k] = w[k * n + j] / (alpha - beta);
            }
            (beta - alpha) / beta
        };
        if tau != 0.0 {
            for i in k..m {
                let row = &mut w[i * n + k..i * n + n];
                let dot: f64 = row.iter().zip(&v).map(|(x, y)| x * y).sum();
                for (x, y) in row.iter_mut().zip(&v) {
                    *x -= tau * dot * y;
                }
            }
        }
        reflectors.push((v, tau));
    }
    let mut l = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..=i {
            l[i * m + j] = w[i * n + j];
        }
    }
    // W·H_{m-1}·…·H_0 = [L 0] gives A = L·Q with Q the first m rows of H_{m-1}·…·H_0.
    let mut q = vec![0.0; m * n];
    for i in 0..m {
        q[i * n + i] = 1.0;
    }
    for (k, (v, tau)) in reflectors.iter().enumerate().rev() {
        if *tau == 0.0 {
            continue;
        }
        for i in 0..m {
            let row = &mut q[i * n + k..i * n + n];
            let dot: f64 = row.iter().zip(v).map(|(x, y)| x * y).sum();
            for (x, y) in row.iter_mut().zip(v) {
                *x -= tau * dot * y;
            }
        }
    }
    (q, l)
}

/// Eigendecomposition of the symmetric n×n matrix whose lower triangle is `a`: returns
/// (u n×n with the eigenvectors as rows, eigenvalues ascending), so that u·a = diag(λ)·u.
/// Each row's sign makes its largest-magnitude entry (the first on ties) positive, as MXNet.
pub fn sym_eig(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut s = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            s[i * n + j] = a[i * n + j];
            s[j * n + i] = a[i * n + j];
        }
    }
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let total: f64 = s.iter().map(|x| x * x).sum();
    // Cyclic Jacobi: each rotation zeroes one off-diagonal pair; sweeps converge
    // quadratically, so the cap is never reached for finite input.
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| s[i * n + j].powi(2))
            .sum();
        if off <= total * 1e-32 || !off.is_finite() {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = s[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (s[q * n + q] - s[p * n + p]) / (2.0 * apq);
                let t = if theta >= 0.0 { 1.0 } else { -1.0 } / (theta.abs() + theta.hypot(1.0));
                let c = 1.0 / t.hypot(1.0);
                let sn = t * c;
                for k in 0..n {
                    let (kp, kq) = (s[k * n + p], s[k * n + q]);
                    s[k * n + p] = c * kp - sn * kq;
                    s[k * n + q] = sn * kp + c * kq;
                }
                for k in 0..n {
                    let (pk, qk) = (s[p * n + k], s[q * n + k]);
                    s[p * n + k] = c * pk - sn * qk;
                    s[q * n + k] = sn * pk + c * qk;
                }
                for k in 0..n {
                    let (kp, kq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * kp - sn * kq;
                    v[k * n + q] = sn * kp + c * kq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| s[i * n + i].total_cmp(&s[j * n + j]));
    let lambda: Vec<f64> = order.iter().map(|&i| s[i * n + i]).collect();
    let mut u = vec![0.0; n * n];
    for (r, &col) in order.iter().enumerate() {
        let row: Vec<f64> = (0..n).map(|k| v[k * n + col]).collect();
        let mut big = 0;
        for (k, x) in row.iter().enumerate() {
            if x.abs() > row[big].abs() {
                big = k;
            }
        }
        let flip = if row.get(big).is_some_and(|x| *x < 0.0) {
            -1.0
        } else {
            1.0
        };
        for (k, x) in row.iter().enumerate() {
            u[r * n + k] = flip * x;
        }
    }
    (u, lambda)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < tol)
    }

    #[test]
    fn linalg_kernel_factorizations_reconstruct() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let l = cholesky_lower(&a, 3).expect("spd");
        assert!(close(&mm(&l, false, &l, true, (3, 3, 3)), &a, 1e-12));
        assert_eq!(cholesky_lower(&[1.0, 2.0, 2.0, 1.0], 2), Err(1));
        let mut f = a.to_vec();
        let (perm, sign) = lu(&mut f, 3);
        let inv = lu_inverse(&f, &perm, 3).expect("regular");
        let eye = mm(&a, false, &inv, false, (3, 3, 3));
        assert!(close(
            &eye,
            &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            1e-12
        ));
        let (s, log) = lu_slogdet(&f, 3, sign);
        assert!(s == 1.0 && (log.exp() - 21.29).abs() < 1e-9, "{s} {log}");
        let (q, l) = lq(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        assert!(close(
            &mm(&l, false, &q, false, (2, 3, 2)),
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            1e-12
        ));
        let (u, lam) = sym_eig(&a, 3);
        let ua = mm(&u, false, &a, false, (3, 3, 3));
        for i in 0..3 {
            for j in 0..3 {
                assert!((ua[i * 3 + j] - lam[i] * u[i * 3 + j]).abs() < 1e-12);
            }
        }
        assert!(lam[0] <= lam[1] && lam[1] <= lam[2]);
    }
}
