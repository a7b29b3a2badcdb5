//! `softmax` and `log_softmax` along one axis. Each row is shifted by its maximum before
//! exponentiation, so large inputs never overflow; float dtypes only, computed in f32 (f64 when
//! either side is f64), parallel over rows.

use super::params::param;
use super::{expect_inputs, Desc, FnOp, GradFn, Inputs, Operator, Registry, SimpleDef};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::norm::{self, softmax};
use crate::kernels::cpu::Ptr;
use crate::shape::norm_axis;
use half::f16;
use std::sync::Arc;

/// Shape of one softmax problem: `outer` blocks of `n` rows (the axis) of `inner` columns.
#[derive(Clone, Copy)]
struct Dims {
    outer: usize,
    n: usize,
    inner: usize,
}

macro_rules! with_float {
    ($name:expr, $d:expr, $T:ident, $body:block) => {
        match $d {
            DType::F16 => {
                type $T = f16;
                $body
            }
            DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            d => {
                return Err(Error::dtype(
                    $name,
                    format!(
                        "expects a float input (float16, bfloat16, float32 or float64), got {d}"
                    ),
                ))
            }
        }
    };
}

fn softmax_op(
    name: &'static str,
    log: bool,
    axis: i64,
    temperature: f64,
    dtype: Option<DType>,
) -> Arc<dyn Operator> {
    let mut op = softmax_fnop(name, log, axis, temperature, dtype);
    // `softmax` declares a second input, `length`, used only under `use_length`.
    op.num_inputs = Some(1);
    op.arc()
}

/// The input gradient rule of softmax/log_softmax, shared with the `length` variant.
fn softmax_grad(log: bool, axis: i64, temperature: f64, dtype: Option<DType>) -> GradFn {
    Box::new(move |g, a| {
        let r = g.apply(
            backward_op(log, axis, temperature),
            &[a.out_grads[0].clone(), a.outputs[0].clone()],
        );
        // With an explicit output dtype the gradient returns to the input's dtype.
        let r = match dtype {
            Some(_) => g.apply(
                super::elemwise_unary::cast_like_op(),
                &[r[0].clone(), a.inputs[0].clone()],
            ),
            None => r,
        };
        Ok(vec![Some(r[0].clone())])
    })
}

fn softmax_fnop(
    name: &'static str,
    log: bool,
    axis: i64,
    temperature: f64,
    dtype: Option<DType>,
) -> FnOp {
    let dims = move |shape: &crate::shape::Shape| -> Result<Dims> {
        if shape.ndim() == 0 {
            return Err(Error::shape(
                name,
                "expects an input with at least one dimension, got shape []",
            ));
        }
        let ax = norm_axis(axis, shape.ndim(), name)?;
        let s = shape.dims();
        Ok(Dims {
            outer: s[..ax].iter().product(),
            n: s[ax],
            inner: s[ax + 1..].iter().product(),
        })
    };
    let op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 1)?;
            let d = &inputs[0];
            if !d.dtype.is_float() {
                return Err(Error::dtype(
                    name,
                    format!(
                        "expects a float input (float16, float32 or float64), got {}",
                        d.dtype
                    ),
                ));
            }
            dims(&d.shape)?;
            Ok(vec![Desc::new(d.shape.clone(), dtype.unwrap_or(d.dtype))])
        },
        move |_, ins, outs| {
            let (a, o) = (&ins[0], &outs[0]);
            let d = dims(a.shape())?;
            if a.size() == 0 {
                return Ok(());
            }
            let wide = a.dtype() == DType::F64 || o.dtype() == DType::F64;
            with_float!(name, a.dtype(), I, {
                with_float!(name, o.dtype(), O, {
                    // SAFETY: inside the op reading a and writing o, which do not alias.
                    let (src, dst) = unsafe { (a.data::<I>(), Ptr(o.raw() as *mut O)) };
                    if wide {
                        softmax::<I, O, f64>(
                            src,
                            dst,
                            d.outer,
                            d.n,
                            d.inner,
                            1.0 / temperature,
                            log,
                        );
                    } else {
                        let inv_t = (1.0 / temperature) as f32;
                        softmax::<I, O, f32>(src, dst, d.outer, d.n, d.inner, inv_t, log);
                    }
                })
            });
            Ok(())
        },
    )
    .with_type_partial({
        let rule = super::dtype_param_or_same(name, dtype);
        move |ins: &mut [Option<DType>], outs: &mut [Option<DType>]| {
            // As MXNet's `type_assign`: unknown data takes the output's dtype.
            if let Some(d) = dtype {
                ins[0].get_or_insert(d);
            }
            rule(ins, outs)
        }
    })
    .with_grad(softmax_grad(log, axis, temperature, dtype));
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::run(false, log, temperature, Box::new(dims))));
    op
}

/// `_backward_softmax(ograd, output)` / `_backward_log_softmax`: the input gradient from
/// the forward output in one pass per column.
fn backward_op(log: bool, axis: i64, temperature: f64) -> Arc<dyn Operator> {
    let name = if log {
        "_backward_log_softmax"
    } else {
        "_backward_softmax"
    };
    let dims = move |shape: &crate::shape::Shape| -> Result<Dims> {
        let ax = norm_axis(axis, shape.ndim(), name)?;
        let s = shape.dims();
        Ok(Dims {
            outer: s[..ax].iter().product(),
            n: s[ax],
            inner: s[ax + 1..].iter().product(),
        })
    };
    #[cfg(feature = "cuda")]
    let gpu = cuda::run(true, log, temperature, Box::new(dims));
    let op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 2)?;
            if inputs[0] != inputs[1] {
                return Err(Error::shape(
                    name,
                    format!(
                        "gradient {} {} does not match the output {} {}",
                        inputs[0].shape, inputs[0].dtype, inputs[1].shape, inputs[1].dtype
                    ),
                ));
            }
            dims(&inputs[0].shape)?;
            Ok(vec![inputs[0].clone()])
        },
        move |_, ins, outs| {
            let d = dims(ins[0].shape())?;
            if ins[0].size() == 0 {
                return Ok(());
            }
            norm::with_real!(name, ins[0].dtype(), T, C, {
                // SAFETY: inside the op reading ins and writing outs[0], which do not alias.
                let (gs, ys, dst) = unsafe {
                    (
                        ins[0].data::<T>(),
                        ins[1].data::<T>(),
                        Ptr(outs[0].raw() as *mut T),
                    )
                };
                let Dims { outer, n, inner } = d;
                let inv_t = <C as norm::Real>::c(1.0 / temperature);
                norm::softmax_grad::<T, C>(ys, gs, dst, outer, n, inner, inv_t, log);
            });
            Ok(())
        },
    )
    .with_shape_partial(crate::graph::infer::same_shape_partial)
    .with_grad(move |g, a| {
        // Second order, from registered ops.
        let (og, y, gg) = (&a.inputs[0], &a.inputs[1], &a.out_grads[0]);
        let ax = axis.to_string();
        let sum = |g: &mut GradBuilder, e: &Entry| {
            g.op1(
                "sum",
                &[("axis", &ax), ("keepdims", "True")],
                std::slice::from_ref(e),
            )
        };
        let inv_t = 1.0 / temperature;
        let scale = |g: &mut GradBuilder, e: &Entry| g.scale(e, inv_t);
        if log {
            // dx = (og - e^y sum(og)) / T
            let ey = g.op1("exp", &[], std::slice::from_ref(y))?;
            let t = g.mul(gg, &ey)?;
            let st = sum(g, &t)?;
            let d_og = g.op1("broadcast_sub", &[], &[gg.clone(), st])?;
            let d_og = scale(g, &d_og)?;
            let so = sum(g, og)?;
            let d_y = g.op1("broadcast_mul", &[], &[t, so])?;
            let d_y = g.op1("negative", &[], &[d_y])?;
            let d_y = scale(g, &d_y)?;
            Ok(vec![Some(d_og), Some(d_y)])
        } else {
            // dx = y (og - sum(og y)) / T: symmetric in (og, gg) for the og part.
            let d_og = g.apply(
                backward_op(false, axis, temperature),
                &[gg.clone(), y.clone()],
            );
            let oy = g.mul(og, y)?;
            let s = sum(g, &oy)?;
            let c = g.op1("broadcast_sub", &[], &[og.clone(), s])?;
            let t1 = g.mul(gg, &c)?;
            let gy = g.mul(gg, y)?;
            let s2 = sum(g, &gy)?;
            let t2 = g.op1("broadcast_mul", &[], &[og.clone(), s2])?;
            let d_y = g.op1("elemwise_sub", &[], &[t1, t2])?;
            let d_y = scale(g, &d_y)?;
            Ok(vec![Some(d_og[0].clone()), Some(d_y)])
        }
    });
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(gpu));
    op.arc()
}

#[cfg(feature = "cuda")]
pub const CUDA_MODULE: &str = "softmax";

/// One thread per (outer, inner) column of the axis, computing as the CPU kernels do: the
/// forward in the storage type's compute type (float for float16), the backward's sums in
/// double.
#[cfg(feature = "cuda")]
pub fn cuda_source() -> String {
    use crate::kernels::cuda::{kernel_name, module_source, storage_type};
    module_source("", |dt| {
        let s = storage_type(dt);
        format!(
            r#"
extern "C" __global__ void {fwd}(const {s}* x, {s}* y, u64 outer, u64 n, u64 inner,
                                  double inv_t_, int log_) {{
  typedef IO<{s}>::C C;
  const C inv_t = (C)inv_t_;
  OX_LOOP(c, outer * inner) {{
    const u64 base = (c / inner) * n * inner + c % inner;
    C m = IO<{s}>::ld(x[base]) * inv_t;
    for (u64 j = 1; j < n; ++j) {{ const C v = IO<{s}>::ld(x[base + j * inner]) * inv_t; m = v > m ? v : m; }}
    C sum = (C)0;
    for (u64 j = 0; j < n; ++j) sum += exp(IO<{s}>::ld(x[base + j * inner]) * inv_t - m);
    const C ls = log(sum), rs = (C)1 / sum;
    for (u64 j = 0; j < n; ++j) {{
      const C v = IO<{s}>::ld(x[base + j * inner]) * inv_t - m;
      y[base + j * inner] = IO<{s}>::st(log_ ? v - ls : exp(v) * rs);
    }}
  }}
}}
extern "C" __global__ void {bwd}(const {s}* g, const {s}* y, {s}* dx, u64 outer, u64 n,
                                  u64 inner, double inv_t, int log_) {{
  OX_LOOP(c, outer * inner) {{
    const u64 base = (c / inner) * n * inner + c % inner;
    double sum = 0;
    for (u64 j = 0; j < n; ++j) {{
      const double gj = (double)IO<{s}>::ld(g[base + j * inner]);
      sum += log_ ? gj : gj * (double)IO<{s}>::ld(y[base + j * inner]);
    }}
    for (u64 j = 0; j < n; ++j) {{
      const double gj = (double)IO<{s}>::ld(g[base + j * inner]);
      const double yj = (double)IO<{s}>::ld(y[base + j * inner]);
      const double v = log_ ? gj - exp(yj) * sum : yj * (gj - sum);
      dx[base + j * inner] = IO<{s}>::st((IO<{s}>::C)(v * inv_t));
    }}
  }}
}}
"#,
            fwd = kernel_name("softmax_axis", dt),
            bwd = kernel_name("softmax_axis_bwd", dt),
        )
    })
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::{cuda_source, Dims, CUDA_MODULE};
    use crate::error::Result;
    use crate::kernels::cuda::{dptr, run_kernel, Arg, CudaFn, FLOATS};
    use crate::shape::Shape;

    type DimsFn = dyn Fn(&Shape) -> Result<Dims> + Send + Sync;

    /// The forward (input, output) or the backward (ograd, output, dx); another output dtype
    /// than the input's takes the host path.
    pub fn run(backward: bool, log: bool, temperature: f64, dims: Box<DimsFn>) -> CudaFn {
        Box::new(move |dev, _, ins, outs| {
            let dt = ins[0].dtype();
            if !FLOATS.contains(&dt) || outs[0].dtype() != dt {
                return Ok(false);
            }
            let Dims { outer, n, inner } = dims(ins[0].shape())?;
            if ins[0].size() == 0 {
                return Ok(true);
            }
            let arrays = if backward {
                vec![&ins[0], &ins[1], &outs[0]]
            } else {
                vec![&ins[0], &outs[0]]
            };
            let mut args: Vec<Arg> = arrays.into_iter().map(|a| Arg::U(dptr(a))).collect();
            args.extend([outer, n, inner].map(|v| Arg::U(v as u64)));
            args.extend([Arg::F(1.0 / temperature), Arg::I(i32::from(log))]);
            let base = if backward {
                "softmax_axis_bwd"
            } else {
                "softmax_axis"
            };
            run_kernel(
                dev,
                CUDA_MODULE,
                cuda_source,
                base,
                dt,
                outer * inner,
                &args,
            )?;
            Ok(true)
        })
    }
}

pub fn register(r: &mut Registry) {
    // softmin(x) = softmax(-x / t): the kernels take the negated temperature, which the
    // max shift and the backward's 1/t factor handle unchanged.
    for (name, log, sign, doc) in [
        (
            "softmax",
            false,
            1.0,
            "Applies the softmax function along an axis: exp(x / t) normalised to sum to one.",
        ),
        (
            "log_softmax",
            true,
            1.0,
            "Computes the log softmax of the input along an axis.",
        ),
        (
            "softmin",
            false,
            -1.0,
            "Applies the softmin function along an axis: exp(-x / t) normalised to sum to one.",
        ),
    ] {
        r.add(SimpleDef {
            name,
            doc: doc.into(),
            params: vec![
                param("axis", "int", Some("-1"), "The axis along which to compute softmax."),
                param("temperature", "double or None", Some("None"), "Temperature parameter in softmax"),
                param("dtype", "{None, 'float16', 'float32', 'float64'}", Some("None"), "DType of the output in case this can't be inferred. Defaults to the same as input's dtype if not defined (dtype=None)."),
                param("use_length", "boolean or None", Some("False"), if name == "softmax" { "Whether to use the length input as a mask over the data input." } else { "Whether to use the length input as a mask over the data input (only softmax takes a length input: only False is supported here)." }),
            ],
            inputs: if name == "softmax" { Inputs::Fixed(&["data", "length"]) } else { Inputs::Fixed(&["data"]) },
            create: Box::new(move |p| {
                let use_length = p.is_set("use_length") && p.bool("use_length")?;
                if use_length && name != "softmax" {
                    return Err(Error::param(name, "use_length=True is not supported (only softmax takes a length input)"));
                }
                let dtype = p.dtype("dtype")?;
                if let Some(d) = dtype.filter(|d| !d.is_float()) {
                    return Err(Error::param(name, format!("dtype must be float16, float32 or float64, got {d}")));
                }
                let t = if p.is_set("temperature") { p.float("temperature")? } else { 1.0 };
                let axis = p.int("axis")?;
                if use_length {
                    return Ok(super::softmax_length::length_op(axis, t, dtype, softmax_grad(false, axis, t, dtype)));
                }
                Ok(softmax_op(name, log, axis, sign * t, dtype))
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::dtype::DType;
    use crate::op::call_str;
    use crate::op::reduce::tests::{arr, close, vals, Lcg};

    fn naive(x: &[f64], shape: &[usize], ax: usize, t: f64, log: bool) -> Vec<f64> {
        let (outer, n, inner): (usize, usize, usize) = (
            shape[..ax].iter().product(),
            shape[ax],
            shape[ax + 1..].iter().product(),
        );
        let mut out = vec![0.0; x.len()];
        for o in 0..outer {
            for i in 0..inner {
                let at = |j: usize| (o * n + j) * inner + i;
                let m = (0..n)
                    .map(|j| x[at(j)] / t)
                    .fold(f64::NEG_INFINITY, f64::max);
                let s: f64 = (0..n).map(|j| (x[at(j)] / t - m).exp()).sum();
                for j in 0..n {
                    let v = x[at(j)] / t - m;
                    out[at(j)] = if log { v - s.ln() } else { v.exp() / s };
                }
            }
        }
        out
    }

    #[test]
    fn matches_naive_loops() {
        let mut rng = Lcg(5);
        let shapes: [&[usize]; 7] = [
            &[3, 5],
            &[3, 2, 1100],
            &[2, 3, 70],
            &[2, 130, 3],
            &[4, 0, 2],
            &[7],
            &[1, 1, 1],
        ];
        for shape in shapes {
            let n: usize = shape.iter().product();
            let x: Vec<f64> = (0..n).map(|_| rng.next() * 20.0 - 10.0).collect();
            for dt in [DType::F32, DType::F64, DType::F16] {
                let a = arr(shape, &x, dt);
                let x = vals(&a);
                for axis in -(shape.len() as i64)..shape.len() as i64 {
                    for (temp, t) in [("None", 1.0), ("2.5", 2.5)] {
                        for (op, log) in [("softmax", false), ("log_softmax", true)] {
                            let axs = axis.to_string();
                            let out = &call_str(
                                op,
                                std::slice::from_ref(&a),
                                &[("axis", &axs), ("temperature", temp)],
                            )
                            .unwrap()[0];
                            assert_eq!((out.shape(), out.dtype()), (a.shape(), dt));
                            let ax = ((axis + shape.len() as i64) % shape.len() as i64) as usize;
                            let want = naive(&x, shape, ax, t, log);
                            let tol = if dt == DType::F16 { 4e-3 } else { 1e-5 };
                            assert!(
                                close(&vals(out), &want, tol),
                                "{op} {shape:?} {dt} axis={axis} t={temp}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn stable_typed_and_checked() {
        let a = arr(
            &[2, 3],
            &[1000.0, 1001.0, 1002.0, -1000.0, -1000.0, -1000.0],
            DType::F32,
        );
        let s = vals(&call_str("softmax", std::slice::from_ref(&a), &[]).unwrap()[0]);
        assert!(
            close(
                &s,
                &naive(&[0.0, 1.0, 2.0, 0.0, 0.0, 0.0], &[2, 3], 1, 1.0, false),
                1e-6
            ),
            "{s:?}"
        );
        let l = &call_str(
            "log_softmax",
            std::slice::from_ref(&a),
            &[("dtype", "float64")],
        )
        .unwrap()[0];
        assert_eq!(l.dtype(), DType::F64);
        assert!(close(
            &vals(l),
            &naive(&[0.0, 1.0, 2.0, 0.0, 0.0, 0.0], &[2, 3], 1, 1.0, true),
            1e-6
        ));
        let i = arr(&[2, 3], &[1.0; 6], DType::I32);
        assert!(matches!(
            call_str("softmax", &[i], &[]),
            Err(crate::Error::DType { .. })
        ));
        assert!(call_str("softmax", std::slice::from_ref(&a), &[("axis", "2")]).is_err());
        assert!(call_str(
            "softmax",
            std::slice::from_ref(&a),
            &[("use_length", "True")]
        )
        .is_err());
        assert!(call_str("softmax", std::slice::from_ref(&a), &[("dtype", "int32")]).is_err());
        assert!(call_str("softmax", &[a], &[("use_length", "False")]).is_ok());
        let big = arr(&[2, 100_000], &vec![0.5; 200_000], DType::F32);
        let s = vals(&call_str("softmax", &[big], &[]).unwrap()[0]);
        assert!(s.iter().all(|&v| (v - 1e-5).abs() < 1e-9));
    }

    #[test]
    fn softmin_is_softmax_of_negated_input() {
        let x = [0.5, -1.0, 2.0, 3.0, 0.0, -2.0];
        let a = arr(&[2, 3], &x, DType::F64);
        for (axis, t) in [(1usize, 1.0), (0, 2.5)] {
            let (axs, ts) = (axis.to_string(), t.to_string());
            let out = &call_str(
                "softmin",
                std::slice::from_ref(&a),
                &[("axis", &axs), ("temperature", &ts)],
            )
            .unwrap()[0];
            let neg: Vec<f64> = x.iter().map(|v| -v).collect();
            assert!(close(
                &vals(out),
                &naive(&neg, &[2, 3], axis, t, false),
                1e-12
            ));
        }
        crate::op::test_util::check_grad(
            "softmin",
            &[("axis", "0"), ("temperature", "0.7")],
            &[crate::op::test_util::rand64(&[3, 4], -1.0, 1.0, 9)],
            &[0],
        );
    }
}
