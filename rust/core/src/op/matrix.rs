//! Matrix products: `dot` and `batch_dot`. Products go to `kernels::cpu::gemm` with strides
//! describing the transposes, so no operand is ever copied; float16 is supported (MXNet
//! refuses it on CPU).

use super::params::param;
use super::shape_ops::def;
use super::{expect_inputs, Desc, FnOp, GradArgs, Inputs, Operator, Params, Registry};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::gemm::{batch_matmul, matmul, GemmElem, Mat};
use crate::ndarray::NDArray;
use crate::shape::Shape;
use half::f16;
use std::sync::Arc;

/// A product's sizes and the operands' strides: out (m×n) = lhs (m×k) · rhs (k×n).
#[derive(Debug, Clone, Copy)]
struct Gemm {
    m: usize,
    n: usize,
    k: usize,
    a_rs: isize,
    a_cs: isize,
    b_rs: isize,
    b_cs: isize,
}

impl Gemm {
    /// Strides for lhs stored m×k (or k×m when `ta`) and rhs stored k×n (or n×k when `tb`).
    fn new(m: usize, n: usize, k: usize, ta: bool, tb: bool) -> Gemm {
        let (a_rs, a_cs) = if ta { (1, m as isize) } else { (k as isize, 1) };
        let (b_rs, b_cs) = if tb { (1, k as isize) } else { (n as isize, 1) };
        Gemm {
            m,
            n,
            k,
            a_rs,
            a_cs,
            b_rs,
            b_cs,
        }
    }
}

fn float_dtype(op: &str, l: DType, r: DType) -> Result<DType> {
    if l != r {
        return Err(Error::dtype(
            op,
            format!("lhs and rhs must have one dtype, got {l} and {r}"),
        ));
    }
    if !matches!(l, DType::F32 | DType::F64 | DType::F16 | DType::BF16) {
        return Err(Error::dtype(
            op,
            format!("{op} supports float32, float64, float16 and bfloat16, got {l}"),
        ));
    }
    Ok(l)
}

/// MXNet's `dot` shapes: lhs contracts its last axis (first with `transpose_a`), rhs its first
/// (last with `transpose_b`); the other axes of both, in order, form the output.
fn dot_plan(l: &Shape, r: &Shape, ta: bool, tb: bool) -> Result<(Gemm, Shape)> {
    let err = |why: &str| Error::shape("dot", format!("dot shape error: {l} X {r}{why}"));
    if l.ndim() == 0 || r.ndim() == 0 {
        return Err(err(" (0-d operands are not supported)"));
    }
    if l.ndim() == 1 && r.ndim() == 1 {
        if ta || tb {
            return Err(err(" (cannot transpose vectors)"));
        }
        if l[0] != r[0] {
            return Err(err(""));
        }
        return Ok((Gemm::new(1, 1, l[0], false, false), Shape(vec![1])));
    }
    let (ln, rn) = (l.ndim(), r.ndim());
    let (lk, lfree) = if ta {
        (l[0], &l.0[1..])
    } else {
        (l[ln - 1], &l.0[..ln - 1])
    };
    let (rk, rfree) = if tb {
        (r[rn - 1], &r.0[..rn - 1])
    } else {
        (r[0], &r.0[1..])
    };
    if lk != rk {
        return Err(err(&format!(
            " (transpose_a={ta}, transpose_b={tb}: contracted sizes {lk} and {rk} differ)"
        )));
    }
    let mut out = lfree.to_vec();
    out.extend_from_slice(rfree);
    let (m, n) = (lfree.iter().product(), rfree.iter().product());
    Ok((Gemm::new(m, n, lk, ta, tb), Shape(out)))
}

/// `batch_dot` shapes: equal leading batch dims, then one matrix per operand.
fn batch_plan(l: &Shape, r: &Shape, ta: bool, tb: bool) -> Result<(usize, Gemm, Shape)> {
    let msg = |why: &str| {
        Error::shape(
            "batch_dot",
            format!("batch_dot shape error ({why}): {l} X {r} trans_a={ta} trans_b={tb}"),
        )
    };
    if l.ndim() < 3 || l.ndim() != r.ndim() {
        return Err(msg(
            "both operands must have the same number of dims, at least 3",
        ));
    }
    let nd = l.ndim();
    if l.0[..nd - 2] != r.0[..nd - 2] {
        return Err(msg("the leading batch dimensions must be equal"));
    }
    let (m, lk) = if ta {
        (l[nd - 1], l[nd - 2])
    } else {
        (l[nd - 2], l[nd - 1])
    };
    let (rk, n) = if tb {
        (r[nd - 1], r[nd - 2])
    } else {
        (r[nd - 2], r[nd - 1])
    };
    if lk != rk {
        return Err(msg("shape mismatch"));
    }
    let mut out = l.0[..nd - 2].to_vec();
    out.extend([m, n]);
    Ok((
        l.0[..nd - 2].iter().product(),
        Gemm::new(m, n, lk, ta, tb),
        Shape(out),
    ))
}

fn run_batch<T: GemmElem>(batch: usize, g: Gemm, l: &NDArray, r: &NDArray, o: &NDArray) {
    // SAFETY: inside the op reading l, r and writing o; shapes were inferred from the very
    // arrays, so each product's strides stay inside its operand; o is a fresh output that
    // cannot overlap the inputs (invoke copies through a temporary when it would).
    unsafe {
        let a = Mat {
            ptr: l.raw() as *const T,
            rs: g.a_rs,
            cs: g.a_cs,
        };
        let b = Mat {
            ptr: r.raw() as *const T,
            rs: g.b_rs,
            cs: g.b_cs,
        };
        let c = o.raw() as *mut T;
        if batch == 1 {
            matmul(g.m, g.n, g.k, a, b, c, g.n);
        } else {
            batch_matmul(
                batch,
                g.m,
                g.n,
                g.k,
                a,
                (g.m * g.k) as isize,
                b,
                (g.k * g.n) as isize,
                c,
            );
        }
    }
}

fn dispatch(batch: usize, g: Gemm, l: &NDArray, r: &NDArray, o: &NDArray) -> Result<()> {
    match o.dtype() {
        DType::F32 => run_batch::<f32>(batch, g, l, r, o),
        DType::F64 => run_batch::<f64>(batch, g, l, r, o),
        DType::F16 => run_batch::<f16>(batch, g, l, r, o),
        DType::BF16 => run_batch::<half::bf16>(batch, g, l, r, o),
        d => return Err(Error::dtype("dot", format!("no product for {d}"))),
    }
    Ok(())
}

/// One product `c = a · b` (m×n = m×k · k×n), `batch` times with operand batch strides.
///
/// # Safety
/// As `gemm::batch_matmul`: the operands' strides stay inside their arrays.
#[allow(clippy::too_many_arguments)]
unsafe fn product<T: GemmElem>(
    batch: usize,
    (m, n, k): (usize, usize, usize),
    a: (*const T, isize, isize),
    a_bs: usize,
    b: (*const T, isize, isize),
    b_bs: usize,
    c: *mut T,
) {
    let a = Mat {
        ptr: a.0,
        rs: a.1,
        cs: a.2,
    };
    let b = Mat {
        ptr: b.0,
        rs: b.1,
        cs: b.2,
    };
    if batch == 1 {
        matmul(m, n, k, a, b, c, n);
    } else {
        batch_matmul(batch, m, n, k, a, a_bs as isize, b, b_bs as isize, c);
    }
}

/// The two gradients of `out = op(A) · op(B)` (A: m×k, B: k×n as the product sees them),
/// each written in its operand's own layout: dA = G·Bᵀ, dB = Aᵀ·G.
#[allow(clippy::too_many_arguments)]
fn run_backward<T: GemmElem>(
    batch: usize,
    g: Gemm,
    ta: bool,
    tb: bool,
    og: &NDArray,
    l: &NDArray,
    r: &NDArray,
    dl: &NDArray,
    dr: &NDArray,
) {
    let (m, n, k) = (g.m, g.n, g.k);
    let (mi, ni, ki) = (m as isize, n as isize, k as isize);
    // SAFETY: inside the op reading og, l, r and writing dl, dr (fresh outputs of l's and r's
    // shapes); the strides below describe exactly those row-major layouts.
    unsafe {
        let (pg, pa, pb) = (
            og.raw() as *const T,
            l.raw() as *const T,
            r.raw() as *const T,
        );
        let (gs, as_, bs) = (m * n, m * k, k * n);
        // G and Gᵀ as operands.
        let (gm, gt) = ((pg, ni, 1), (pg, 1, ni));
        if !ta {
            // dA (m×k) = G (m×n) · Bᵀ (n×k)
            let bt = if tb { (pb, ki, 1) } else { (pb, 1, ni) };
            product(batch, (m, k, n), gm, gs, bt, bs, dl.raw() as *mut T);
        } else {
            // dA stored k×m = B (k×n) · Gᵀ (n×m)
            let bm = if tb { (pb, 1, ki) } else { (pb, ni, 1) };
            product(batch, (k, m, n), bm, bs, gt, gs, dl.raw() as *mut T);
        }
        if !tb {
            // dB (k×n) = Aᵀ (k×m) · G (m×n)
            let at = if ta { (pa, mi, 1) } else { (pa, 1, ki) };
            product(batch, (k, n, m), at, as_, gm, gs, dr.raw() as *mut T);
        } else {
            // dB stored n×k = Gᵀ (n×m) · A (m×k)
            let am = if ta { (pa, 1, mi) } else { (pa, ki, 1) };
            product(batch, (n, k, m), gt, gs, am, as_, dr.raw() as *mut T);
        }
    }
}

/// `_backward_dot(ograd, lhs, rhs)` (and `_backward_batch_dot`): both input gradients of a
/// product in one op. Bilinear, so its own gradient is products again.
fn backward_dot_op(batched: bool, ta: bool, tb: bool) -> Arc<dyn Operator> {
    let name = if batched {
        "_backward_batch_dot"
    } else {
        "_backward_dot"
    };
    let plan = move |l: &Shape, r: &Shape| -> Result<(usize, Gemm, Shape)> {
        if batched {
            batch_plan(l, r, ta, tb)
        } else {
            dot_plan(l, r, ta, tb).map(|(g, s)| (1, g, s))
        }
    };
    let mut f = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 3)?;
            let dt = float_dtype(name, inputs[1].dtype, inputs[2].dtype)?;
            let (_, _, out) = plan(&inputs[1].shape, &inputs[2].shape)?;
            if out != inputs[0].shape || inputs[0].dtype != dt {
                return Err(Error::shape(
                    name,
                    format!(
                        "gradient of shape {} {}, but the product is {out} {dt}",
                        inputs[0].shape, inputs[0].dtype
                    ),
                ));
            }
            Ok(vec![
                Desc::new(inputs[1].shape.clone(), dt),
                Desc::new(inputs[2].shape.clone(), dt),
            ])
        },
        move |_, ins, outs| {
            let (batch, g, _) = plan(ins[1].shape(), ins[2].shape())?;
            let (og, l, r, dl, dr) = (&ins[0], &ins[1], &ins[2], &outs[0], &outs[1]);
            match dl.dtype() {
                DType::F32 => run_backward::<f32>(batch, g, ta, tb, og, l, r, dl, dr),
                DType::F64 => run_backward::<f64>(batch, g, ta, tb, og, l, r, dl, dr),
                DType::F16 => run_backward::<f16>(batch, g, ta, tb, og, l, r, dl, dr),
                DType::BF16 => run_backward::<half::bf16>(batch, g, ta, tb, og, l, r, dl, dr),
                d => return Err(Error::dtype(name, format!("no product for {d}"))),
            }
            Ok(())
        },
    )
    .with_shape_partial(|ins, outs| {
        for (o, i) in outs.iter_mut().zip(&ins[1..]) {
            if o.is_none() {
                o.clone_from(i);
            }
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let (og, l, r) = (&a.inputs[0], &a.inputs[1], &a.inputs[2]);
        let (ggl, ggr) = (&a.out_grads[0], &a.out_grads[1]);
        let fwd = if batched { "batch_dot" } else { "dot" };
        let flags = [("transpose_a", flag(ta)), ("transpose_b", flag(tb))];
        // d<ggl, G·Bᵀ>/dG = ggl·B and d<ggr, Aᵀ·G>/dG = A·ggr: forward products.
        let p1 = g.op1(fwd, &flags, &[ggl.clone(), r.clone()])?;
        let p2 = g.op1(fwd, &flags, &[l.clone(), ggr.clone()])?;
        let dog = g.add(&p1, &p2)?;
        let dl = g.apply(
            backward_dot_op(batched, ta, tb),
            &[og.clone(), l.clone(), ggr.clone()],
        );
        let dr = g.apply(
            backward_dot_op(batched, ta, tb),
            &[og.clone(), ggl.clone(), r.clone()],
        );
        Ok(vec![Some(dog), Some(dl[0].clone()), Some(dr[1].clone())])
    });
    f.num_outputs = 2;
    f.arc()
}

fn flag(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

fn product_grad(
    batched: bool,
    ta: bool,
    tb: bool,
    g: &mut GradBuilder,
    a: &GradArgs,
) -> Result<Vec<Option<Entry>>> {
    let d = g.apply(
        backward_dot_op(batched, ta, tb),
        &[
            a.out_grads[0].clone(),
            a.inputs[0].clone(),
            a.inputs[1].clone(),
        ],
    );
    Ok(d.into_iter().map(Some).collect())
}

fn dot_op(ta: bool, tb: bool) -> Arc<dyn Operator> {
    let op = FnOp::new(
        "dot",
        move |inputs| {
            expect_inputs("dot", inputs, 2)?;
            let dt = float_dtype("dot", inputs[0].dtype, inputs[1].dtype)?;
            let (_, out) = dot_plan(&inputs[0].shape, &inputs[1].shape, ta, tb)?;
            Ok(vec![Desc::new(out, dt)])
        },
        move |_, ins, outs| {
            let (g, _) = dot_plan(ins[0].shape(), ins[1].shape(), ta, tb)?;
            dispatch(1, g, &ins[0], &ins[1], &outs[0])
        },
    )
    .with_grad(move |g, a| product_grad(false, ta, tb, g, a));
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(Box::new(move |dev, _, ins, outs| {
        let (g, _) = dot_plan(ins[0].shape(), ins[1].shape(), ta, tb)?;
        cuda_products(dev, 1, g, &ins[0], &ins[1], &outs[0])
    })));
    op.arc()
}

/// `batch` products on cuBLAS in one strided call (operands and output contiguous per batch).
#[cfg(feature = "cuda")]
fn cuda_products(
    dev: &crate::kernels::cuda::device::Device,
    batch: usize,
    g: Gemm,
    l: &NDArray,
    r: &NDArray,
    out: &NDArray,
) -> Result<bool> {
    use crate::kernels::cuda::blas::{gemm_batched, Operand};
    use crate::kernels::cuda::{dptr, FLOATS};
    let dt = l.dtype();
    if !FLOATS.contains(&dt) || r.dtype() != dt {
        return Ok(false);
    }
    // A unit stride along k means a transposed operand (for m or n = 1 both read the same).
    let (ta, tb) = (g.a_cs != 1, g.b_cs != 1);
    gemm_batched(
        dev,
        dt,
        (ta, tb),
        (g.m, g.n, g.k),
        Operand::new(dptr(l), 0, g.m * g.k),
        Operand::new(dptr(r), 0, g.k * g.n),
        Operand::new(dptr(out), 0, g.m * g.n),
        batch,
        0.0,
    )?;
    Ok(true)
}

fn batch_dot_op(ta: bool, tb: bool) -> Arc<dyn Operator> {
    let op = FnOp::new(
        "batch_dot",
        move |inputs| {
            expect_inputs("batch_dot", inputs, 2)?;
            let dt = float_dtype("batch_dot", inputs[0].dtype, inputs[1].dtype)?;
            let (_, _, out) = batch_plan(&inputs[0].shape, &inputs[1].shape, ta, tb)?;
            Ok(vec![Desc::new(out, dt)])
        },
        move |_, ins, outs| {
            let (batch, g, _) = batch_plan(ins[0].shape(), ins[1].shape(), ta, tb)?;
            dispatch(batch, g, &ins[0], &ins[1], &outs[0])
        },
    )
    .with_grad(move |g, a| product_grad(true, ta, tb, g, a));
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(Box::new(move |dev, _, ins, outs| {
        let (batch, g, _) = batch_plan(ins[0].shape(), ins[1].shape(), ta, tb)?;
        cuda_products(dev, batch, g, &ins[0], &ins[1], &outs[0])
    })));
    op.arc()
}

fn product_params() -> Vec<super::ParamSpec> {
    vec![
        param(
            "transpose_a",
            "boolean",
            Some("False"),
            "If true then transpose the first input before dot.",
        ),
        param(
            "transpose_b",
            "boolean",
            Some("False"),
            "If true then transpose the second input before dot.",
        ),
        param(
            "forward_stype",
            "{None, 'csr', 'default', 'row_sparse'}",
            Some("None"),
            "The desired storage type of the forward output (dot: any; batch_dot: dense only).",
        ),
    ]
}

/// The transpose flags; `sparse_out`: whether a sparse `forward_stype` is accepted (`dot`'s
/// values are the dense product whatever the storage; the Python layer gives the result its
/// storage type).
fn product_flags(p: &Params, sparse_out: bool) -> Result<(bool, bool)> {
    match p.str("forward_stype")?.trim().trim_matches('\'') {
        "None" | "default" => {}
        "csr" | "row_sparse" if sparse_out => {}
        s => {
            return Err(Error::NotImplemented(format!(
                "{}: forward_stype='{s}' (sparse storage) is not supported",
                p.op
            )))
        }
    }
    Ok((p.bool("transpose_a")?, p.bool("transpose_b")?))
}

pub fn register(r: &mut Registry) {
    r.add(def(
        "dot",
        "Dot product of two arrays: 1-D·1-D is the inner product (shape (1,)); otherwise the last axis of lhs (first when transpose_a) contracts with the first axis of rhs (last when transpose_b). float32, float64 and float16.",
        product_params(),
        Inputs::Fixed(&["lhs", "rhs"]),
        |p| {
            let (ta, tb) = product_flags(p, true)?;
            Ok(dot_op(ta, tb))
        },
    ));
    r.add(def(
        "batch_dot",
        "Batchwise matrix product: for arrays (B..., M, K) and (B..., K, N) returns (B..., M, N); transpose_a/transpose_b transpose the last two axes of each operand.",
        product_params(),
        Inputs::Fixed(&["lhs", "rhs"]),
        |p| {
            let (ta, tb) = product_flags(p, false)?;
            Ok(batch_dot_op(ta, tb))
        },
    ));
}

#[cfg(test)]
// Array handles are cheap clones; `&[x.clone()]` reads better than `from_ref` in op calls.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use crate::dtype::DType;
    use crate::error::Error;
    use crate::ndarray::NDArray;
    use crate::op::test_util::{arr, err, f32s, iota, run};
    use half::f16;

    /// Reference product on plain matrices: op(A) (m×k) · op(B) (k×n).
    fn naive_mm(
        a: &[f32],
        b: &[f32],
        m: usize,
        n: usize,
        k: usize,
        ta: bool,
        tb: bool,
    ) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    let x = if ta { a[p * m + i] } else { a[i * k + p] };
                    let y = if tb { b[j * k + p] } else { b[p * n + j] };
                    s += x as f64 * y as f64;
                }
                c[i * n + j] = s as f32;
            }
        }
        c
    }

    fn data(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7 + seed * 13) % 11) as f32 - 5.0)
            .collect()
    }

    fn tf(b: bool) -> &'static str {
        if b {
            "True"
        } else {
            "False"
        }
    }

    #[test]
    fn matrix_dot_2d_all_transposes() {
        for &(m, n, k) in &[
            (2, 4, 3),
            (1, 1, 1),
            (5, 3, 1),
            (0, 3, 2),
            (3, 0, 2),
            (2, 3, 0),
            (37, 29, 41),
        ] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let (ad, bd) = (data(m * k, 1), data(k * n, 2));
                    let a = arr(&if ta { [k, m] } else { [m, k] }, &ad);
                    let b = arr(&if tb { [n, k] } else { [k, n] }, &bd);
                    let o = run(
                        "dot",
                        &[a, b],
                        &[("transpose_a", tf(ta)), ("transpose_b", tf(tb))],
                    );
                    assert_eq!(o.shape().dims(), &[m, n]);
                    assert_eq!(
                        f32s(&o),
                        naive_mm(&ad, &bd, m, n, k, ta, tb),
                        "{m}x{n}x{k} ta={ta} tb={tb}"
                    );
                }
            }
        }
    }

    #[test]
    fn matrix_dot_nd_and_vectors() {
        // (2,3,4)·(4,5): lhs is a 6×4 matrix.
        let (ad, bd) = (data(24, 3), data(20, 4));
        let o = run("dot", &[arr(&[2, 3, 4], &ad), arr(&[4, 5], &bd)], &[]);
        assert_eq!(o.shape().dims(), &[2, 3, 5]);
        assert_eq!(f32s(&o), naive_mm(&ad, &bd, 6, 5, 4, false, false));
        // transpose_a contracts the first axis: (2,3,4)ᵀ·(2,5) → (3,4,5).
        let bd = data(10, 5);
        let o = run(
            "dot",
            &[arr(&[2, 3, 4], &ad), arr(&[2, 5], &bd)],
            &[("transpose_a", "True")],
        );
        assert_eq!(o.shape().dims(), &[3, 4, 5]);
        assert_eq!(f32s(&o), naive_mm(&ad, &bd, 12, 5, 2, true, false));
        // transpose_b contracts rhs's last axis: (2,3,4)·(5,2,4)ᵀ → (2,3,5,2).
        let bd = data(40, 6);
        let o = run(
            "dot",
            &[arr(&[2, 3, 4], &ad), arr(&[5, 2, 4], &bd)],
            &[("transpose_b", "True")],
        );
        assert_eq!(o.shape().dims(), &[2, 3, 5, 2]);
        assert_eq!(f32s(&o), naive_mm(&ad, &bd, 6, 10, 4, false, true));
        // Vectors.
        let v = iota(&[3]);
        let o = run("dot", &[v.clone(), v.clone()], &[]);
        assert_eq!((o.shape().dims(), f32s(&o)), (&[1usize][..], vec![5.0]));
        let m = iota(&[2, 3]);
        assert_eq!(
            f32s(&run("dot", &[m.clone(), v.clone()], &[])),
            vec![5.0, 14.0]
        );
        assert_eq!(
            f32s(&run(
                "dot",
                &[m.clone(), v.clone()],
                &[("transpose_b", "True")]
            )),
            vec![5.0, 14.0]
        );
        let u = iota(&[2]);
        let o = run("dot", &[u.clone(), m.clone()], &[]);
        assert_eq!(
            (o.shape().dims(), f32s(&o)),
            (&[3usize][..], vec![3.0, 4.0, 5.0])
        );
        assert_eq!(
            f32s(&run("dot", &[m.clone(), u], &[("transpose_a", "True")])),
            vec![3.0, 4.0, 5.0]
        );
        assert!(
            err("dot", &[v.clone(), v.clone()], &[("transpose_a", "True")])
                .to_string()
                .contains("cannot transpose vectors")
        );
    }

    #[test]
    fn matrix_dot_errors() {
        let a = iota(&[2, 3]);
        let e = err("dot", &[a.clone(), a.clone()], &[]);
        assert!(matches!(e, Error::Shape { .. }));
        assert!(
            e.to_string().contains("dot shape error: [2,3] X [2,3]"),
            "{e}"
        );
        let i = arr(&[2, 3], &[1i32; 6]);
        assert!(matches!(
            err("dot", &[i.clone(), i], &[("transpose_b", "True")]),
            Error::DType { .. }
        ));
        let d = arr(&[3, 2], &[1.0f64; 6]);
        assert!(err("dot", &[a.clone(), d], &[])
            .to_string()
            .contains("float32 and float64"));
        assert!(matches!(
            err(
                "batch_dot",
                &[a.clone(), a.clone()],
                &[("forward_stype", "csr")]
            ),
            Error::NotImplemented(_)
        ));
        assert!(matches!(err("dot", &[a.clone()], &[]), Error::Value(_)));
        let s = arr(&[], &[1.0f32]);
        assert!(matches!(
            err("dot", &[s.clone(), s], &[]),
            Error::Shape { .. }
        ));
    }

    #[test]
    fn matrix_dot_f64_f16() {
        let (ad, bd) = (data(12, 7), data(20, 8));
        let a64: Vec<f64> = ad.iter().map(|&x| x as f64).collect();
        let b64: Vec<f64> = bd.iter().map(|&x| x as f64).collect();
        let o = run("dot", &[arr(&[3, 4], &a64), arr(&[4, 5], &b64)], &[]);
        assert_eq!(o.dtype(), DType::F64);
        let want: Vec<f64> = naive_mm(&ad, &bd, 3, 5, 4, false, false)
            .iter()
            .map(|&x| x as f64)
            .collect();
        assert_eq!(o.to_vec::<f64>().expect("f64"), want);
        let a16: Vec<f16> = ad.iter().map(|&x| f16::from_f32(x)).collect();
        let b16: Vec<f16> = bd.iter().map(|&x| f16::from_f32(x)).collect();
        let o = run(
            "dot",
            &[arr(&[4, 3], &a16), arr(&[4, 5], &b16)],
            &[("transpose_a", "True")],
        );
        assert_eq!(o.dtype(), DType::F16);
        let got: Vec<f32> = o
            .to_vec::<f16>()
            .expect("f16")
            .iter()
            .map(|x| x.to_f32())
            .collect();
        assert_eq!(got, naive_mm(&ad, &bd, 3, 5, 4, true, false));
    }

    #[test]
    fn matrix_batch_dot() {
        for ta in [false, true] {
            for tb in [false, true] {
                let (b, m, n, k) = (3, 4, 2, 5);
                let (ad, bd) = (data(b * m * k, 1), data(b * k * n, 2));
                let a = arr(&if ta { [b, k, m] } else { [b, m, k] }, &ad);
                let r = arr(&if tb { [b, n, k] } else { [b, k, n] }, &bd);
                let o = run(
                    "batch_dot",
                    &[a, r],
                    &[("transpose_a", tf(ta)), ("transpose_b", tf(tb))],
                );
                assert_eq!(o.shape().dims(), &[b, m, n]);
                let mut want = vec![];
                for i in 0..b {
                    want.extend(naive_mm(
                        &ad[i * m * k..][..m * k],
                        &bd[i * k * n..][..k * n],
                        m,
                        n,
                        k,
                        ta,
                        tb,
                    ));
                }
                assert_eq!(f32s(&o), want, "ta={ta} tb={tb}");
            }
        }
        // Several batch dims, and many batches (parallel over the batch).
        let (ad, bd) = (data(2 * 2 * 3 * 4, 3), data(2 * 2 * 4 * 5, 4));
        let o = run(
            "batch_dot",
            &[arr(&[2, 2, 3, 4], &ad), arr(&[2, 2, 4, 5], &bd)],
            &[],
        );
        assert_eq!(o.shape().dims(), &[2, 2, 3, 5]);
        let (ad, bd) = (data(500 * 64, 5), data(500 * 64, 6));
        let o = run(
            "batch_dot",
            &[arr(&[500, 8, 8], &ad), arr(&[500, 8, 8], &bd)],
            &[],
        );
        let got = f32s(&o);
        for i in [0, 123, 499] {
            assert_eq!(
                got[i * 64..][..64],
                naive_mm(
                    &ad[i * 64..][..64],
                    &bd[i * 64..][..64],
                    8,
                    8,
                    8,
                    false,
                    false
                )[..]
            );
        }
        let e = err("batch_dot", &[iota(&[2, 3, 4]), iota(&[3, 4, 5])], &[]);
        assert!(
            e.to_string()
                .contains("leading batch dimensions must be equal"),
            "{e}"
        );
        let e = err("batch_dot", &[iota(&[2, 3, 4]), iota(&[2, 3, 5])], &[]);
        assert!(e.to_string().contains("[2,3,4] X [2,3,5]"), "{e}");
        assert!(matches!(
            err("batch_dot", &[iota(&[3, 4]), iota(&[4, 5])], &[]),
            Error::Shape { .. }
        ));
        let o = run("batch_dot", &[iota(&[0, 3, 4]), iota(&[0, 4, 5])], &[]);
        assert_eq!(o.shape().dims(), &[0, 3, 5]);
    }

    /// `cargo test --release --lib throughput -- --ignored --nocapture --test-threads=1`
    #[test]
    #[ignore]
    fn matrix_gemm_throughput() {
        let time = |label: &str, flops: f64, reps: usize, f: &dyn Fn()| {
            f();
            let t = std::time::Instant::now();
            for _ in 0..reps {
                f();
            }
            let s = t.elapsed().as_secs_f64() / reps as f64;
            println!("{label}: {:.2} ms, {:.1} GFLOP/s", s * 1e3, flops / s / 1e9);
        };
        let n = 2048;
        let a = arr(&[n, n], &data(n * n, 1));
        let b = arr(&[n, n], &data(n * n, 2));
        let flops = 2.0 * (n * n * n) as f64;
        for (label, attrs) in [("nn", vec![]), ("nt", vec![("transpose_b", "True")])] {
            time(&format!("dot {n}^3 f32 {label}"), flops, 5, &|| {
                run("dot", &[a.clone(), b.clone()], &attrs)
                    .wait_to_read()
                    .expect("dot")
            });
        }
        let h: Vec<f16> = data(n * n, 3).iter().map(|&x| f16::from_f32(x)).collect();
        let h = arr(&[n, n], &h);
        time(&format!("dot {n}^3 f16"), flops, 2, &|| {
            run("dot", &[h.clone(), h.clone()], &[])
                .wait_to_read()
                .expect("dot")
        });
        // Independent small products: the engine may run them side by side.
        let m = 256;
        let xs: Vec<NDArray> = (0..64).map(|i| arr(&[m, m], &data(m * m, i))).collect();
        let small = 2.0 * (m * m * m) as f64 * 64.0;
        time(&format!("64 x dot {m}^3, each waited"), small, 3, &|| {
            for x in &xs {
                run("dot", &[x.clone(), x.clone()], &[])
                    .wait_to_read()
                    .expect("dot");
            }
        });
        time(&format!("64 x dot {m}^3, one wait"), small, 3, &|| {
            let outs: Vec<NDArray> = xs
                .iter()
                .map(|x| run("dot", &[x.clone(), x.clone()], &[]))
                .collect();
            outs.iter().for_each(|o| o.wait_to_read().expect("dot"));
        });
    }
}
