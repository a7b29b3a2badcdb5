//! `Activation`, `LeakyReLU` and `SoftmaxActivation`. Each gradient is one fused backward
//! kernel (`_backward_Activation`...) reading the head gradient and the forward output (or
//! input), so training a network costs one pass per activation each way.

use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::halves::{map_real, zip_real};
use crate::kernels::cpu::norm::{load, softmax, softmax_grad, with_real, Real};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, GradArgs, Inputs, Operator, Registry, SimpleDef};
use crate::random::Xoshiro;
use crate::shape::Shape;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Act {
    Relu,
    Sigmoid,
    Tanh,
    SoftRelu,
    SoftSign,
}

impl Act {
    fn parse(s: &str) -> Act {
        match s {
            "relu" => Act::Relu,
            "sigmoid" => Act::Sigmoid,
            "tanh" => Act::Tanh,
            "softrelu" => Act::SoftRelu,
            _ => Act::SoftSign,
        }
    }
}

/// One float input, output of the same shape and dtype.
fn same_float(op: &'static str, inputs: &[Desc], n: usize) -> Result<Vec<Desc>> {
    expect_inputs(op, inputs, n)?;
    let d = &inputs[0];
    if !d.dtype.is_float() {
        return Err(Error::dtype(
            op,
            format!("expects float16, float32 or float64 data, got {}", d.dtype),
        ));
    }
    for (i, x) in inputs.iter().enumerate().skip(1) {
        if x.shape != d.shape || x.dtype != d.dtype {
            return Err(Error::shape(
                op,
                format!(
                    "input {i} has shape {} ({}), expected {} ({})",
                    x.shape, x.dtype, d.shape, d.dtype
                ),
            ));
        }
    }
    Ok(vec![d.clone()])
}

fn act_forward<T: Element, C: Real>(act: Act, x: &NDArray, y: &NDArray) {
    // One closure per activation so each loop is branch-free and vectorises.
    match act {
        // NaN maps to 0, as in MXNet 1.9.1.
        Act::Relu => map_real::<T, C>(x, y, false, |c| if c > C::ZERO { c } else { C::ZERO }),
        Act::Sigmoid => map_real::<T, C>(x, y, true, |c| C::ONE / (C::ONE + (-c).fexp())),
        Act::Tanh => map_real::<T, C>(x, y, true, |c| c.ftanh()),
        // log(1 + e^x), linear beyond 20 where e^x would dominate (MXNet's cut-off).
        // Forced inline: left a call per element, the loop would not vectorise.
        Act::SoftRelu => map_real::<T, C>(
            x,
            y,
            true,
            #[inline(always)]
            |c| {
                if c > C::c(20.0) {
                    c
                } else {
                    c.fexp().ln_1p()
                }
            },
        ),
        Act::SoftSign => map_real::<T, C>(x, y, true, |c| c / (C::ONE + c.abs())),
    }
}

/// dx from the head gradient and the forward output (input for softsign).
fn act_backward<T: Element, C: Real>(act: Act, og: &NDArray, v: &NDArray, dx: &NDArray) {
    match act {
        Act::Relu => zip_real::<T, C>(
            og,
            v,
            dx,
            false,
            |g, y| if y > C::ZERO { g } else { C::ZERO },
        ),
        Act::Sigmoid => zip_real::<T, C>(og, v, dx, false, |g, y| g * y * (C::ONE - y)),
        Act::Tanh => zip_real::<T, C>(og, v, dx, false, |g, y| g * (C::ONE - y * y)),
        // d/dx log(1 + e^x) = sigmoid(x) = 1 - e^-y.
        Act::SoftRelu => zip_real::<T, C>(og, v, dx, true, |g, y| g * (C::ONE - (-y).fexp())),
        Act::SoftSign => zip_real::<T, C>(og, v, dx, false, |g, x| {
            let d = C::ONE + x.abs();
            g / (d * d)
        }),
    }
}

fn backward_activation(act: Act) -> Arc<dyn Operator> {
    let name = "_backward_Activation";
    let op = FnOp::new(
        name,
        move |ins| same_float(name, ins, 2),
        move |_, ins, outs| {
            with_real!(name, ins[0].dtype(), T, C, {
                act_backward::<T, C>(act, &ins[0], &ins[1], &outs[0]);
            });
            Ok(())
        },
    );
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::kernel(act, true)));
    op.with_grad(move |g, a| backward_activation_grad(act, g, a))
        .arc()
}

/// The gradient of `_backward_Activation` (second-order autograd, which MXNet lacks): the
/// backward is linear in the head gradient, and its derivative in the output (input for
/// softsign) follows from `act_backward`'s formulas.
fn backward_activation_grad(
    act: Act,
    g: &mut GradBuilder,
    a: &GradArgs,
) -> Result<Vec<Option<Entry>>> {
    let (og, v, h) = (&a.inputs[0], &a.inputs[1], &a.out_grads[0]);
    let d_og = g.apply(backward_activation(act), &[h.clone(), v.clone()]);
    let hog = g.mul(h, og)?;
    let d_v = match act {
        Act::Relu => g.zeros_like(v)?,
        // y(1 - y) -> 1 - 2y
        Act::Sigmoid => {
            let y2 = g.scale(v, 2.0)?;
            let t = g.op1("_rminus_scalar", &[("scalar", "1")], &[y2])?;
            g.mul(&hog, &t)?
        }
        // 1 - y² -> -2y
        Act::Tanh => {
            let t = g.mul(&hog, v)?;
            g.scale(&t, -2.0)?
        }
        // 1 - e^-y -> e^-y
        Act::SoftRelu => {
            let n = g.op1("negative", &[], std::slice::from_ref(v))?;
            let e = g.op1("exp", &[], &[n])?;
            g.mul(&hog, &e)?
        }
        // (1 + |x|)^-2 -> -2 sign(x) (1 + |x|)^-3
        Act::SoftSign => {
            let ab = g.op1("abs", &[], std::slice::from_ref(v))?;
            let d = g.op1("_plus_scalar", &[("scalar", "1")], &[ab])?;
            let d3 = g.op1("_power_scalar", &[("scalar", "3")], &[d])?;
            let sg = g.op1("sign", &[], std::slice::from_ref(v))?;
            let t = g.op1("elemwise_div", &[], &[sg, d3])?;
            let t = g.mul(&hog, &t)?;
            g.scale(&t, -2.0)?
        }
    };
    Ok(vec![d_og.into_iter().next(), Some(d_v)])
}

/// Forward (of `x0`) and backward (head gradient `x0`, output or input `x1`) in CUDA C, as
/// `act_backward` and `act_forward` compute them.
#[cfg(feature = "cuda")]
fn cuda_bodies(act: Act) -> (&'static str, &'static str, &'static str) {
    match act {
        Act::Relu => (
            "relu",
            "y0 = x0 > (C)0 ? x0 : (C)0;",
            "y0 = x1 > (C)0 ? x0 : (C)0;",
        ),
        Act::Sigmoid => (
            "sigmoid",
            "y0 = (C)1 / ((C)1 + exp(-x0));",
            "y0 = x0 * x1 * ((C)1 - x1);",
        ),
        Act::Tanh => ("tanh", "y0 = tanh(x0);", "y0 = x0 * ((C)1 - x1 * x1);"),
        Act::SoftRelu => (
            "softrelu",
            "y0 = x0 > (C)20 ? x0 : log1p(exp(x0));",
            "y0 = x0 * ((C)1 - exp(-x1));",
        ),
        Act::SoftSign => (
            "softsign",
            "y0 = x0 / ((C)1 + fabs(x0));",
            "const C d = (C)1 + fabs(x1); y0 = x0 / (d * d);",
        ),
    }
}

#[cfg(feature = "cuda")]
pub const CUDA_MODULE: &str = "activation";

#[cfg(feature = "cuda")]
pub fn cuda_source() -> String {
    use crate::kernels::cuda::map_kernel;
    crate::kernels::cuda::module_source("", |dt| {
        let mut s = String::new();
        for act in [
            Act::Relu,
            Act::Sigmoid,
            Act::Tanh,
            Act::SoftRelu,
            Act::SoftSign,
        ] {
            let (name, fwd, bwd) = cuda_bodies(act);
            s += &map_kernel(&format!("act_{name}"), dt, 1, 1, 0, fwd);
            s += &map_kernel(&format!("act_bwd_{name}"), dt, 2, 1, 0, bwd);
        }
        s
    })
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::{cuda_bodies, cuda_source, Act, CUDA_MODULE};
    use crate::kernels::cuda::{run_map, CudaFn, FLOATS};
    use crate::ndarray::NDArray;

    pub fn kernel(act: Act, backward: bool) -> CudaFn {
        Box::new(move |dev, _, ins, outs| {
            if !FLOATS.contains(&ins[0].dtype()) {
                return Ok(false);
            }
            let (name, ..) = cuda_bodies(act);
            let base = if backward {
                format!("act_bwd_{name}")
            } else {
                format!("act_{name}")
            };
            let arrays: Vec<&NDArray> = ins.iter().chain(outs).collect();
            run_map(dev, CUDA_MODULE, cuda_source, &base, &arrays, &[])?;
            Ok(true)
        })
    }
}

fn activation(act: Act) -> Arc<dyn Operator> {
    let name = "Activation";
    let mut op = FnOp::new(
        name,
        move |ins| same_float(name, ins, 1),
        move |_, ins, outs| {
            with_real!(name, ins[0].dtype(), T, C, {
                act_forward::<T, C>(act, &ins[0], &outs[0]);
            });
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        // Softsign's derivative needs the input; the others read the output.
        let v = if act == Act::SoftSign {
            a.inputs[0].clone()
        } else {
            a.outputs[0].clone()
        };
        let dx = g.apply(backward_activation(act), &[a.out_grads[0].clone(), v]);
        Ok(vec![dx.into_iter().next()])
    });
    op.inplace = true;
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::kernel(act, false)));
    op.arc()
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Leaky {
    Plain(f64),
    Elu(f64),
    Selu,
    Gelu,
    /// Slope drawn from [lower, upper] when training, their mean otherwise.
    RRelu(f64, f64),
    PRelu,
}

const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;

/// A piecewise kind: `pos·x` above 0, `neg·x` below, or `neg·(e^x - 1)` for the
/// exponential ones (elu, selu).
#[derive(Clone, Copy)]
struct Piece {
    pos: f64,
    neg: f64,
}

impl Leaky {
    /// The piecewise form and whether it is exponential; None for gelu, prelu and training
    /// rrelu, which have their own loops. rrelu outside training takes its mean slope.
    fn piece(self) -> Option<(Piece, bool)> {
        let linear = |neg| Some((Piece { pos: 1.0, neg }, false));
        match self {
            Leaky::Plain(s) => linear(s),
            Leaky::RRelu(l, u) => linear((l + u) / 2.0),
            Leaky::Elu(s) => Some((Piece { pos: 1.0, neg: s }, true)),
            Leaky::Selu => Some((
                Piece {
                    pos: SELU_LAMBDA,
                    neg: SELU_LAMBDA * SELU_ALPHA,
                },
                true,
            )),
            Leaky::Gelu | Leaky::PRelu => None,
        }
    }
}

/// A piecewise kind at x, the exponential branch fixed at compile time so the loops over
/// it stay free of branches.
#[inline(always)]
fn piece_at<C: Real, const EXP: bool>(p: Piece, x: C) -> C {
    if x > C::ZERO {
        C::c(p.pos) * x
    } else {
        C::c(p.neg) * if EXP { x.exp_m1() } else { x }
    }
}

/// Derivative of `piece_at` at x.
#[inline(always)]
fn piece_deriv<C: Real, const EXP: bool>(p: Piece, x: C) -> C {
    if x > C::ZERO {
        C::c(p.pos)
    } else {
        C::c(p.neg) * if EXP { x.fexp() } else { C::ONE }
    }
}

/// x·Φ(x), Φ the standard normal CDF.
#[inline(always)]
fn gelu<C: Real>(x: C) -> C {
    C::c(0.5) * x * (C::ONE + (x * C::c(std::f64::consts::FRAC_1_SQRT_2)).erf())
}

#[inline(always)]
fn gelu_deriv<C: Real>(x: C) -> C {
    let cdf = C::c(0.5) * (C::ONE + (x * C::c(std::f64::consts::FRAC_1_SQRT_2)).erf());
    let pdf = (C::c(-0.5) * x * x).fexp() * C::c(0.398_942_280_401_432_7);
    cdf + x * pdf
}

/// How a prelu gamma lines up with the data: one slope, one per channel (axis 1), one per
/// (sample, channel) pair (a 2-D gamma broadcasts over axes 0 and 1 as MXNet's
/// `expand_shape` does; a size-1 axis is shared), or one per element.
#[derive(Clone, Copy)]
enum GammaMap {
    Scalar,
    Channel {
        c: usize,
        inner: usize,
    },
    SampleChannel {
        per_sample: bool,
        per_channel: bool,
        c: usize,
        inner: usize,
    },
    Elementwise,
}

fn gamma_map(data: &Shape, gamma: &Shape) -> Result<GammaMap> {
    let op = "LeakyReLU";
    if data.ndim() < 2 {
        return Err(Error::shape(
            op,
            format!("prelu needs data with at least 2 dimensions (channel axis 1), got {data}"),
        ));
    }
    if gamma == data {
        return Ok(GammaMap::Elementwise);
    }
    if gamma.ndim() == 1 && gamma[0] == 1 {
        return Ok(GammaMap::Scalar);
    }
    let c = data[1];
    let inner = data.dims()[2..].iter().product();
    if gamma.ndim() == 1 && gamma[0] == c {
        return Ok(GammaMap::Channel { c, inner });
    }
    if gamma.ndim() == 2
        && (gamma[0] == data[0] || gamma[0] == 1)
        && (gamma[1] == c || gamma[1] == 1)
    {
        return Ok(GammaMap::SampleChannel {
            per_sample: gamma[0] != 1,
            per_channel: gamma[1] != 1,
            c,
            inner,
        });
    }
    Err(Error::shape(
        op,
        format!("prelu gamma has shape {gamma}, expected ({c},) (channels of data {data}), (1,), ({}, {c}) or the data's shape", data[0]),
    ))
}

#[inline(always)]
fn gamma_index(m: GammaMap, i: usize) -> usize {
    match m {
        GammaMap::Scalar => 0,
        GammaMap::Channel { c, inner } => (i / inner) % c,
        GammaMap::SampleChannel {
            per_sample,
            per_channel,
            c,
            inner,
        } => {
            let (b, ch) = (i / (c * inner), (i / inner) % c);
            match (per_sample, per_channel) {
                (true, true) => b * c + ch,
                (true, false) => b,
                (false, true) => ch,
                (false, false) => 0,
            }
        }
        GammaMap::Elementwise => i,
    }
}

const RNG_BLOCK: usize = 4096;

fn leaky_relu(k: Leaky) -> Arc<dyn Operator> {
    let name = "LeakyReLU";
    let prelu = k == Leaky::PRelu;
    let rrelu = matches!(k, Leaky::RRelu(..));
    let mut op = FnOp::new(
        name,
        move |ins| {
            if prelu {
                expect_inputs(name, ins, 2)?;
                let o = same_float(name, &ins[..1], 1)?;
                gamma_map(&ins[0].shape, &ins[1].shape)?;
                if ins[1].dtype != ins[0].dtype {
                    return Err(Error::dtype(
                        name,
                        format!("gamma is {}, data is {}", ins[1].dtype, ins[0].dtype),
                    ));
                }
                Ok(o)
            } else {
                let o = same_float(name, ins, 1)?;
                Ok(if rrelu {
                    vec![o[0].clone(), o[0].clone()]
                } else {
                    o
                })
            }
        },
        move |cx, ins, outs| {
            let (x, y) = (&ins[0], &outs[0]);
            with_real!(name, x.dtype(), T, C, {
                match k {
                    Leaky::PRelu => {
                        let m = gamma_map(x.shape(), ins[1].shape())?;
                        // SAFETY: inside the op reading x, gamma and writing y (fresh).
                        let (xs, gs, py) = unsafe {
                            (
                                x.data::<T>(),
                                load::<T, C>(ins[1].data::<T>()),
                                Ptr(y.raw() as *mut T),
                            )
                        };
                        par_ranges(xs.len(), 2, |b, e| {
                            for (i, &v) in xs.iter().enumerate().take(e).skip(b) {
                                let c = C::of(v);
                                let r = if c > C::ZERO {
                                    c
                                } else {
                                    gs[gamma_index(m, i)] * c
                                };
                                // SAFETY: i < len, this task's range.
                                unsafe { *py.get().add(i) = r.to() };
                            }
                        });
                    }
                    Leaky::RRelu(l, u) if cx.is_train => {
                        let seed = cx.seed;
                        // SAFETY: inside the op reading x and writing y and the mask.
                        let (xs, py, pm) = unsafe {
                            (
                                x.data::<T>(),
                                Ptr(y.raw() as *mut T),
                                Ptr(outs[1].raw() as *mut T),
                            )
                        };
                        let n = xs.len();
                        par_ranges(n.div_ceil(RNG_BLOCK), RNG_BLOCK, |b, e| {
                            for blk in b..e {
                                let mut rng = Xoshiro::new(seed, blk as u64);
                                #[allow(clippy::needless_range_loop)]
                                for i in blk * RNG_BLOCK..((blk + 1) * RNG_BLOCK).min(n) {
                                    let s = C::c(l + (u - l) * rng.next_f64());
                                    let c = C::of(xs[i]);
                                    // SAFETY: i < n, this task's block.
                                    unsafe {
                                        *py.get().add(i) =
                                            (if c > C::ZERO { c } else { s * c }).to();
                                        *pm.get().add(i) = s.to();
                                    }
                                }
                            }
                        });
                    }
                    // Forced inline (the closures' bodies are large), the loops vectorise.
                    _ => {
                        match k.piece() {
                            Some((p, true)) => map_real::<T, C>(
                                x,
                                y,
                                true,
                                #[inline(always)]
                                move |c| piece_at::<C, true>(p, c),
                            ),
                            Some((p, false)) => map_real::<T, C>(
                                x,
                                y,
                                true,
                                #[inline(always)]
                                move |c| piece_at::<C, false>(p, c),
                            ),
                            None => map_real::<T, C>(x, y, true, gelu::<C>),
                        }
                        if let Leaky::RRelu(l, u) = k {
                            crate::kernels::cpu::elemwise::fill::<T>(
                                &outs[1],
                                T::from_f64((l + u) / 2.0),
                            );
                        }
                    }
                }
            });
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let og = a.out_grads[0].clone();
        let x = a.inputs[0].clone();
        let ins = match k {
            Leaky::PRelu => vec![og, x, a.inputs[1].clone()],
            Leaky::RRelu(..) => vec![og, x, a.outputs[1].clone()],
            _ => vec![og, x],
        };
        let grads = g.apply(backward_leaky(k), &ins);
        Ok(match k {
            Leaky::PRelu => grads.into_iter().map(Some).collect(),
            _ => vec![grads.into_iter().next()],
        })
    });
    if prelu {
        op = op.with_shape_partial(|ins, _| {
            if let (Some(d), None) = (&ins[0], &ins[1]) {
                if d.ndim() >= 2 {
                    ins[1] = Some(Shape::new(vec![d[1]]));
                }
            }
            Ok(())
        });
    } else {
        op.num_inputs = Some(1);
    }
    if rrelu {
        op.num_outputs = 2;
        op.rng = true;
        op.output_names = Some(vec!["output".into(), "mask".into()]);
    } else {
        op.inplace = !prelu;
    }
    op.arc()
}

/// Gradient kernel of LeakyReLU: inputs (dy, x[, gamma or mask]); outputs dx[, dgamma].
fn backward_leaky(k: Leaky) -> Arc<dyn Operator> {
    let name = "_backward_LeakyReLU";
    let mut op = FnOp::new(
        name,
        move |ins| {
            let x = &ins[1];
            let mut o = vec![Desc::new(x.shape.clone(), x.dtype)];
            if k == Leaky::PRelu {
                o.push(ins[2].clone());
            }
            Ok(o)
        },
        move |_, ins, outs| {
            let (dy, x, dx) = (&ins[0], &ins[1], &outs[0]);
            with_real!(name, x.dtype(), T, C, {
                match k {
                    Leaky::PRelu => {
                        let m = gamma_map(x.shape(), ins[2].shape())?;
                        // SAFETY: inside the op; dx and dgamma are fresh outputs.
                        let (dys, xs, gs, pdx, dg) = unsafe {
                            (
                                dy.data::<T>(),
                                x.data::<T>(),
                                load::<T, C>(ins[2].data::<T>()),
                                Ptr(dx.raw() as *mut T),
                                outs[1].data_mut::<T>(),
                            )
                        };
                        par_ranges(xs.len(), 2, |b, e| {
                            for i in b..e {
                                let c = C::of(xs[i]);
                                let d = if c > C::ZERO {
                                    C::ONE
                                } else {
                                    gs[gamma_index(m, i)]
                                };
                                // SAFETY: i in this task's range.
                                unsafe { *pdx.get().add(i) = (C::of(dys[i]) * d).to() };
                            }
                        });
                        let mut acc = vec![0.0f64; dg.len()];
                        for (i, (&g, &v)) in dys.iter().zip(xs).enumerate() {
                            if C::of(v) <= C::ZERO {
                                acc[gamma_index(m, i)] += g.to_f64() * v.to_f64();
                            }
                        }
                        for (d, a) in dg.iter_mut().zip(acc) {
                            *d = T::from_f64(a);
                        }
                    }
                    Leaky::RRelu(..) => {
                        // SAFETY: inside the op; dx is a fresh output.
                        let (dys, xs, ms, pdx) = unsafe {
                            (
                                dy.data::<T>(),
                                x.data::<T>(),
                                ins[2].data::<T>(),
                                Ptr(dx.raw() as *mut T),
                            )
                        };
                        par_ranges(xs.len(), 1, |b, e| {
                            for i in b..e {
                                let d = if C::of(xs[i]) > C::ZERO {
                                    C::ONE
                                } else {
                                    C::of(ms[i])
                                };
                                // SAFETY: i in this task's range.
                                unsafe { *pdx.get().add(i) = (C::of(dys[i]) * d).to() };
                            }
                        });
                    }
                    _ => match k.piece() {
                        Some((p, true)) => zip_real::<T, C>(
                            dy,
                            x,
                            dx,
                            true,
                            #[inline(always)]
                            move |g, v| g * piece_deriv::<C, true>(p, v),
                        ),
                        Some((p, false)) => zip_real::<T, C>(
                            dy,
                            x,
                            dx,
                            false,
                            #[inline(always)]
                            move |g, v| g * piece_deriv::<C, false>(p, v),
                        ),
                        None => zip_real::<T, C>(
                            dy,
                            x,
                            dx,
                            true,
                            #[inline(always)]
                            move |g, v| g * gelu_deriv(v),
                        ),
                    },
                }
            });
            Ok(())
        },
    );
    if k == Leaky::PRelu {
        op.num_outputs = 2;
        return op.arc();
    }
    op.with_grad(move |g, a| backward_leaky_grad(k, g, a)).arc()
}

/// The gradient of `_backward_LeakyReLU` but for prelu (second-order autograd, which MXNet
/// lacks): linear in the head gradient; in x, the slope's derivative is 0 for the piecewise
/// linear kinds, `neg·e^x` below 0 for elu/selu and φ(x)(2 - x²) for gelu.
fn backward_leaky_grad(k: Leaky, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
    let (dy, x, h) = (&a.inputs[0], &a.inputs[1], &a.out_grads[0]);
    let mut ins = a.inputs.to_vec();
    ins[0] = h.clone();
    let d_dy = g.apply(backward_leaky(k), &ins).into_iter().next();
    let hdy = g.mul(h, dy)?;
    let d_x = match (k, k.piece()) {
        (_, Some((p, true))) => {
            // The backward at h·dy is h·dy·slope; the slope is pos above 0, constant there.
            let mut at = a.inputs.to_vec();
            at[0] = hdy.clone();
            let t = g.apply(backward_leaky(k), &at).swap_remove(0);
            let above = g.op1(
                "_greater_scalar",
                &[("scalar", "0")],
                std::slice::from_ref(x),
            )?;
            let lin = g.mul(&hdy, &above)?;
            let lin = g.scale(&lin, -p.pos)?;
            g.add(&t, &lin)?
        }
        (Leaky::Gelu, _) => {
            let x2 = g.op1("square", &[], std::slice::from_ref(x))?;
            let e = g.scale(&x2, -0.5)?;
            let e = g.op1("exp", &[], &[e])?;
            let phi = g.scale(&e, 0.398_942_280_401_432_7)?;
            let t = g.op1("_rminus_scalar", &[("scalar", "2")], &[x2])?;
            let d2 = g.mul(&phi, &t)?;
            g.mul(&hdy, &d2)?
        }
        _ => g.zeros_like(x)?,
    };
    let mut grads = vec![d_dy, Some(d_x)];
    grads.resize(a.inputs.len(), None);
    Ok(grads)
}

/// (outer, n, inner) of SoftmaxActivation's softmax.
fn softmax_act_dims(channel: bool, s: &Shape) -> Result<(usize, usize, usize)> {
    let d = s.dims();
    if channel {
        if d.len() < 3 {
            return Err(Error::shape(
                "SoftmaxActivation",
                format!("Input need to have a least 3 dimensions when mode=channel, got {s}"),
            ));
        }
        Ok((d[0], d[1], d[2..].iter().product()))
    } else if d.is_empty() {
        Err(Error::shape(
            "SoftmaxActivation",
            "expects at least 1 dimension, got shape []",
        ))
    } else {
        // MXNet flattens every axis but the last (FlatTo2D): the softmax runs over the last.
        Ok((d[..d.len() - 1].iter().product(), d[d.len() - 1], 1))
    }
}

fn softmax_activation(channel: bool) -> Arc<dyn Operator> {
    let name = "SoftmaxActivation";
    FnOp::new(
        name,
        move |ins| {
            let o = same_float(name, ins, 1)?;
            softmax_act_dims(channel, &ins[0].shape)?;
            Ok(o)
        },
        move |_, ins, outs| {
            let (outer, n, inner) = softmax_act_dims(channel, ins[0].shape())?;
            with_real!(name, ins[0].dtype(), T, C, {
                // SAFETY: inside the op; the output is fresh.
                let (x, y) = unsafe { (ins[0].data::<T>(), Ptr(outs[0].raw() as *mut T)) };
                softmax::<T, T, C>(x, y, outer, n, inner, C::ONE, false);
            });
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let bname = "_backward_SoftmaxActivation";
        let bwd = FnOp::new(
            bname,
            move |ins| same_float(bname, ins, 2),
            move |_, ins, outs| {
                let (outer, n, inner) = softmax_act_dims(channel, ins[0].shape())?;
                with_real!(bname, ins[0].dtype(), T, C, {
                    // SAFETY: inside the op; the output is fresh.
                    let (dy, y, dx) = unsafe {
                        (
                            ins[0].data::<T>(),
                            ins[1].data::<T>(),
                            Ptr(outs[0].raw() as *mut T),
                        )
                    };
                    softmax_grad::<T, C>(y, dy, dx, outer, n, inner, C::ONE, false);
                });
                Ok(())
            },
        )
        .arc();
        let dx = g.apply(bwd, &[a.out_grads[0].clone(), a.outputs[0].clone()]);
        Ok(vec![dx.into_iter().next()])
    })
    .arc()
}

pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: "Activation",
        doc: "Applies an activation function element-wise to the input.\n\nThe following activation functions are supported:\n\n- `relu`: Rectified Linear Unit, y = max(x, 0)\n- `sigmoid`: y = 1 / (1 + exp(-x))\n- `tanh`: Hyperbolic tangent, y = (exp(x) - exp(-x)) / (exp(x) + exp(-x))\n- `softrelu`: Soft ReLU, or SoftPlus, y = log(1 + exp(x))\n- `softsign`: y = x / (1 + abs(x))".into(),
        params: vec![param(
            "act_type",
            "{'relu', 'sigmoid', 'softrelu', 'softsign', 'tanh'}",
            None,
            "Activation function to be applied.",
        )],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let a = p.choice("act_type", &["relu", "sigmoid", "softrelu", "softsign", "tanh"])?;
            Ok(activation(Act::parse(a)))
        }),
    });
    r.add(SimpleDef {
        name: "LeakyReLU",
        doc: "Applies Leaky rectified linear unit activation element-wise to the input.\n\n- `leaky`: y = x > 0 ? x : slope * x\n- `prelu`: like leaky, with a learned slope `gamma` per channel (axis 1)\n- `rrelu`: slope drawn uniformly from [lower_bound, upper_bound] in training, their mean otherwise\n- `elu`: y = x > 0 ? x : slope * (exp(x) - 1)\n- `selu`: y = lambda * (x > 0 ? x : alpha * (exp(x) - 1))\n- `gelu`: y = 0.5 * x * (1 + erf(x / sqrt(2)))\n\nGradients are the derivatives of these formulas. MXNet 1.9.1 differs in two: its `selu` gradient below 0 is lambda * (y + alpha) instead of y + lambda * alpha, and its graph executor's `prelu` gamma gradient is wrong for negative gamma (its imperative one agrees with this).".into(),
        params: vec![
            param("act_type", "{'elu', 'gelu', 'leaky', 'prelu', 'rrelu', 'selu'},optional", Some("'leaky'"), "Activation function to be applied."),
            param("slope", "float, optional", Some("0.25"), "Init slope for the activation. (For leaky and elu only)"),
            param("lower_bound", "float, optional", Some("0.125"), "Lower bound of random slope. (For rrelu only)"),
            param("upper_bound", "float, optional", Some("0.333999991"), "Upper bound of random slope. (For rrelu only)"),
        ],
        inputs: Inputs::Fixed(&["data", "gamma"]),
        create: Box::new(|p| {
            let a = p.choice("act_type", &["elu", "gelu", "leaky", "prelu", "rrelu", "selu"])?;
            let slope = p.float("slope")?;
            let k = match a {
                "elu" => Leaky::Elu(slope),
                "gelu" => Leaky::Gelu,
                "prelu" => Leaky::PRelu,
                "selu" => Leaky::Selu,
                "rrelu" => {
                    let (l, u) = (p.float("lower_bound")?, p.float("upper_bound")?);
                    if l > u {
                        return Err(Error::param("LeakyReLU", format!("lower_bound ({l}) must be <= upper_bound ({u})")));
                    }
                    Leaky::RRelu(l, u)
                }
                _ => Leaky::Plain(slope),
            };
            Ok(leaky_relu(k))
        }),
    });
    r.add(SimpleDef {
        name: "SoftmaxActivation",
        doc: "Applies softmax activation to input. This is intended for internal layers.\n\n`instance` mode computes the softmax of each instance (the data flattened after axis 0); `channel` mode computes it across channels (axis 1) at each location.".into(),
        params: vec![param("mode", "{'channel', 'instance'},optional", Some("'instance'"), "Specifies how to compute the softmax. If set to ``instance``, it computes softmax for each instance. If set to ``channel``, It computes cross channel softmax for each position of each instance.")],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| Ok(softmax_activation(p.choice("mode", &["channel", "instance"])? == "channel"))),
    });
}

#[cfg(test)]
mod tests {
    use crate::autograd;
    use crate::dtype::DType;
    use crate::op::call_str;
    use crate::op::test_util::{arr, check_grad, err, f32s, rand64, run};

    fn close(a: &[f32], b: &[f64], tol: f64) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (*x as f64 - y).abs() <= tol * (1.0 + y.abs()))
    }

    const XS: [f32; 5] = [-2.0, -0.5, 0.0, 0.3, 1.5];

    #[test]
    fn activation_matches_mxnet() {
        let x = arr(&[5], &XS);
        // Printed by MXNet 1.9.1 for these inputs.
        let want: [(&str, [f64; 5]); 5] = [
            ("relu", [0.0, 0.0, 0.0, 0.3, 1.5]),
            (
                "sigmoid",
                [0.11920292, 0.37754065, 0.5, 0.5744425, 0.8175745],
            ),
            (
                "tanh",
                [-0.9640276, -0.46211717, 0.0, 0.29131263, 0.90514827],
            ),
            (
                "softrelu",
                [0.12692809, 0.474077, 0.69314724, 0.85435534, 1.7014132],
            ),
            ("softsign", [-0.6666667, -0.33333334, 0.0, 0.23076925, 0.6]),
        ];
        for (a, w) in want {
            let y = run("Activation", std::slice::from_ref(&x), &[("act_type", a)]);
            assert!(close(&f32s(&y), &w, 1e-6), "{a}: {:?}", f32s(&y));
        }
        let nan = arr(&[2], &[f32::NAN, -1.0]);
        assert_eq!(
            f32s(&run("Activation", &[nan], &[("act_type", "relu")])),
            [0.0, 0.0]
        );
        assert!(err("Activation", std::slice::from_ref(&x), &[])
            .to_string()
            .contains("act_type"));
        assert!(err(
            "Activation",
            std::slice::from_ref(&x),
            &[("act_type", "swish")]
        )
        .to_string()
        .contains("act_type"));
        let i = arr(&[2], &[1i32, 2]);
        assert!(matches!(
            err("Activation", &[i], &[("act_type", "relu")]),
            crate::Error::DType { .. }
        ));
    }

    #[test]
    fn activation_dtypes_and_large() {
        // A large input runs the parallel path; float16/float64 agree with float32.
        let n = 300_000;
        let v: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f64 / 100.0 - 5.0)
            .collect();
        for a in ["relu", "sigmoid", "tanh", "softrelu", "softsign"] {
            let y64 = run("Activation", &[arr(&[n], &v)], &[("act_type", a)])
                .to_vec::<f64>()
                .unwrap();
            let f16: Vec<half::f16> = v.iter().map(|&x| half::f16::from_f64(x)).collect();
            let y16 = run("Activation", &[arr(&[n], &f16)], &[("act_type", a)]);
            assert_eq!(y16.dtype(), DType::F16);
            let y16 = y16.to_vec::<half::f16>().unwrap();
            for (i, (&a64, &a16)) in y64.iter().zip(&y16).enumerate().step_by(997) {
                let f = |x: f64| match a {
                    "relu" => x.max(0.0),
                    "sigmoid" => 1.0 / (1.0 + (-x).exp()),
                    "tanh" => x.tanh(),
                    "softrelu" => x.exp().ln_1p(),
                    _ => x / (1.0 + x.abs()),
                };
                assert!((a64 - f(v[i])).abs() < 1e-12, "{a} {}", v[i]);
                assert!((a16.to_f64() - f(v[i])).abs() < 4e-3, "{a} f16 {}", v[i]);
            }
        }
    }

    #[test]
    fn activation_gradients() {
        for a in ["relu", "sigmoid", "tanh", "softrelu", "softsign"] {
            // Away from relu's kink at 0.
            let x = rand64(&[3, 4], 0.05, 1.5, 1);
            let neg = rand64(&[3, 4], -1.5, -0.05, 2);
            check_grad("Activation", &[("act_type", a)], &[x], &[0]);
            check_grad("Activation", &[("act_type", a)], &[neg], &[0]);
        }
    }

    #[test]
    fn leaky_relu_matches_mxnet() {
        let x = arr(&[5], &XS);
        let want: [(&str, [f64; 5]); 5] = [
            ("leaky", [-0.5, -0.125, 0.0, 0.3, 1.5]),
            ("elu", [-0.21616618, -0.09836735, 0.0, 0.3, 1.5]),
            ("selu", [-1.5201665, -0.6917582, 0.0, 0.3152103, 1.5760515]),
            ("gelu", [-0.0455001, -0.15426877, 0.0, 0.18537343, 1.399789]),
            ("rrelu", [-0.459, -0.11475, 0.0, 0.3, 1.5]),
        ];
        for (a, w) in want {
            let y = run("LeakyReLU", std::slice::from_ref(&x), &[("act_type", a)]);
            assert!(close(&f32s(&y), &w, 1e-6), "{a}: {:?}", f32s(&y));
        }
        let o = call_str(
            "LeakyReLU",
            std::slice::from_ref(&x),
            &[("act_type", "rrelu")],
        )
        .unwrap();
        assert_eq!(o.len(), 2);
        let y = run(
            "LeakyReLU",
            std::slice::from_ref(&x),
            &[("act_type", "leaky"), ("slope", "0.1")],
        );
        assert!(close(&f32s(&y), &[-0.2, -0.05, 0.0, 0.3, 1.5], 1e-7));
    }

    #[test]
    fn rrelu_training_draws_slopes_in_bounds() {
        let x = arr(&[2000], &vec![-1.0f32; 2000]);
        let prev = autograd::set_training(true);
        let o = call_str(
            "LeakyReLU",
            &[x],
            &[
                ("act_type", "rrelu"),
                ("lower_bound", "0.1"),
                ("upper_bound", "0.3"),
            ],
        );
        autograd::set_training(prev);
        let o = o.unwrap();
        let (y, m) = (f32s(&o[0]), f32s(&o[1]));
        assert!(m.iter().all(|&s| (0.1..=0.3).contains(&s)));
        assert!(y.iter().zip(&m).all(|(y, s)| (*y + s).abs() < 1e-7));
        let mean = m.iter().sum::<f32>() / m.len() as f32;
        assert!((mean - 0.2).abs() < 0.01, "{mean}");
    }

    #[test]
    fn prelu_forward_shapes_and_errors() {
        let x = arr(
            &[2, 3, 2],
            &(0..12).map(|i| i as f32 - 6.0).collect::<Vec<_>>(),
        );
        let g = arr(&[3], &[0.1f32, 0.2, 0.3]);
        let y = run("LeakyReLU", &[x.clone(), g], &[("act_type", "prelu")]);
        let want = [
            -0.6, -0.5, -0.8, -0.6, -0.6, -0.3, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0,
        ];
        assert!(close(&f32s(&y), &want, 1e-6), "{:?}", f32s(&y));
        let g1 = arr(&[1], &[0.1f32]);
        let y = run("LeakyReLU", &[x.clone(), g1], &[("act_type", "prelu")]);
        assert!(close(
            &f32s(&y),
            &[-0.6, -0.5, -0.4, -0.3, -0.2, -0.1, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            1e-6
        ));
        let ge = arr(&[2, 2], &[0.1f32, 0.2, 0.3, 0.4]);
        let xe = arr(&[2, 2], &[1.0f32, -2.0, -3.0, 4.0]);
        assert!(close(
            &f32s(&run("LeakyReLU", &[xe, ge], &[("act_type", "prelu")])),
            &[1.0, -0.4, -0.9, 4.0],
            1e-6
        ));
        let bad = arr(&[4], &[0.1f32; 4]);
        let e = err("LeakyReLU", &[x.clone(), bad], &[("act_type", "prelu")]).to_string();
        assert!(
            e.contains("gamma") && e.contains("(4)") || e.contains("[4]") || e.contains("4"),
            "{e}"
        );
        let e = err(
            "LeakyReLU",
            &[arr(&[3], &[1.0f32; 3]), arr(&[3], &[1.0f32; 3])],
            &[("act_type", "prelu")],
        );
        assert!(e.to_string().contains("at least 2"), "{e}");
        assert!(call_str("LeakyReLU", &[x], &[("act_type", "prelu")]).is_err());
    }

    #[test]
    fn leaky_relu_gradients() {
        let x = rand64(&[2, 3, 2], -2.0, 2.0, 3);
        for a in ["leaky", "elu", "selu", "gelu", "rrelu"] {
            check_grad(
                "LeakyReLU",
                &[("act_type", a), ("slope", "0.3")],
                std::slice::from_ref(&x),
                &[0],
            );
        }
        let g = rand64(&[3], 0.1, 0.5, 4);
        check_grad(
            "LeakyReLU",
            &[("act_type", "prelu")],
            &[x.clone(), g],
            &[0, 1],
        );
        check_grad(
            "LeakyReLU",
            &[("act_type", "prelu")],
            &[x.clone(), rand64(&[1], 0.1, 0.5, 5)],
            &[0, 1],
        );
        check_grad(
            "LeakyReLU",
            &[("act_type", "prelu")],
            &[x.clone(), rand64(&[2, 3, 2], 0.1, 0.5, 6)],
            &[0, 1],
        );
    }

    #[test]
    fn softmax_activation_matches_mxnet() {
        let x = arr(
            &[2, 3],
            &(0..6).map(|i| i as f32 / 10.0).collect::<Vec<_>>(),
        );
        let y = run("SoftmaxActivation", &[x], &[]);
        let r = [0.30060962, 0.332225, 0.3671654];
        assert!(close(&f32s(&y), &[r, r].concat(), 1e-6));
        let x3 = arr(
            &[2, 3, 2],
            &(0..12).map(|i| i as f32 / 10.0).collect::<Vec<_>>(),
        );
        let c = run(
            "SoftmaxActivation",
            std::slice::from_ref(&x3),
            &[("mode", "channel")],
        );
        let col = [
            0.2693075, 0.2693075, 0.3289329, 0.3289329, 0.40175956, 0.40175956,
        ];
        assert!(close(&f32s(&c), &[col, col].concat(), 1e-6));
        let i = run("SoftmaxActivation", &[x3], &[("mode", "instance")]);
        assert!(close(
            &f32s(&i),
            &[[0.47502083, 0.5249792]; 6].concat(),
            1e-6
        ));
        let v = run("SoftmaxActivation", &[arr(&[3], &[1.0f32, 2.0, 3.0])], &[]);
        assert!(close(
            &f32s(&v),
            &[0.09003057, 0.24472848, 0.66524094],
            1e-6
        ));
        let e = err(
            "SoftmaxActivation",
            &[arr(&[3], &[1.0f32, 2.0, 3.0])],
            &[("mode", "channel")],
        );
        assert!(e.to_string().contains("3 dimensions"), "{e}");
        check_grad(
            "SoftmaxActivation",
            &[],
            &[rand64(&[2, 3, 2], -1.0, 1.0, 7)],
            &[0],
        );
        check_grad(
            "SoftmaxActivation",
            &[("mode", "channel")],
            &[rand64(&[2, 3, 2], -1.0, 1.0, 8)],
            &[0],
        );
    }

    /// Throughput report: `cargo test --release --lib activation_throughput -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn activation_throughput() {
        let n = 1 << 20;
        let x = arr(
            &[n],
            &(0..n)
                .map(|i| (i % 997) as f32 / 100.0 - 5.0)
                .collect::<Vec<_>>(),
        );
        for a in ["relu", "sigmoid", "tanh"] {
            let y = run("Activation", std::slice::from_ref(&x), &[("act_type", a)]);
            let t = std::time::Instant::now();
            for _ in 0..20 {
                let y = run("Activation", std::slice::from_ref(&x), &[("act_type", a)]);
                y.wait_to_read().unwrap();
            }
            let ns = t.elapsed().as_nanos() as f64 / (20 * n) as f64;
            let g = super::backward_activation(super::Act::parse(a));
            let t = std::time::Instant::now();
            for _ in 0..20 {
                let o = crate::op::invoke(&g, &[x.clone(), y.clone()], None, None).unwrap();
                o[0].wait_to_read().unwrap();
            }
            let nb = t.elapsed().as_nanos() as f64 / (20 * n) as f64;
            println!("{a}: forward {ns:.3} ns/element, backward {nb:.3} ns/element");
        }
    }
}
