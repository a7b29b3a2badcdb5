//! `_contrib_fft` and `_contrib_ifft`: the 1-D DFT over the last axis, complex values stored
//! as interleaved (re, im) pairs. MXNet runs both only on GPUs through cuFFT; here they run on
//! the CPU (kernels/cpu/fft.rs) with MXNet's conventions: fft is unnormalised, and ifft keeps
//! only the real part of the unnormalised inverse (MXNet left its `out /= dim` commented out
//! "to be consistent with caffe"), so `ifft(fft(x)) = d * x`.
//!
//! Each op's gradient is the other op applied to the output gradient: fft's backward is the
//! real part of the unnormalised inverse transform of the gradient (exactly what ifft
//! computes), and ifft's backward is the forward transform of the real gradient (exactly fft).

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::fft::{Plan, C};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::{param, Params};
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use std::sync::Arc;

const FFT: &str = "_contrib_fft";
const IFFT: &str = "_contrib_ifft";

/// Output shape: the last axis doubled (fft) or halved (ifft, which needs it even).
fn infer(op: &'static str, inverse: bool, ins: &[Desc]) -> Result<Vec<Desc>> {
    expect_inputs(op, ins, 1)?;
    let x = &ins[0];
    if !x.dtype.is_float() {
        return Err(Error::dtype(
            op,
            format!("data must be float16, float32 or float64, got {}", x.dtype),
        ));
    }
    let mut dims = x.shape.dims().to_vec();
    let Some(last) = dims.last_mut() else {
        return Err(Error::shape(
            op,
            "data must have at least one axis (the signal axis is the last), got a scalar",
        ));
    };
    if inverse {
        if *last % 2 != 0 {
            return Err(Error::shape(
                op,
                format!(
                    "data holds interleaved (re, im) pairs, so its last axis must be even, got \
                     shape {}",
                    x.shape
                ),
            ));
        }
        *last /= 2;
    } else {
        *last *= 2;
    }
    Ok(vec![Desc::new(Shape::new(dims), x.dtype)])
}

/// Transforms every row of `x` (viewed as (rows, last axis)) into `y`.
fn run<T: Element>(inverse: bool, x: &NDArray, y: &NDArray) {
    // d: complex points per row.
    let d = y.shape().dims().last().copied().unwrap_or(0) / if inverse { 1 } else { 2 };
    if d == 0 || y.size() == 0 {
        return;
    }
    let rows = x.size() / if inverse { 2 * d } else { d };
    let plan = Plan::new(d);
    // SAFETY: the calling op reads x and writes y, which do not overlap (invoke computes into
    // fresh arrays when they would).
    let src = unsafe { x.data::<T>() };
    // SAFETY: as above; each task writes only its own rows through the pointer.
    let dst = Ptr(unsafe { y.raw() } as *mut T);
    let (in_w, out_w) = if inverse { (2 * d, d) } else { (d, 2 * d) };
    let work = d * (usize::BITS - d.leading_zeros()) as usize * 4;
    par_ranges(rows, work, |b, e| {
        let mut buf = vec![C::ZERO; d];
        let mut scratch = vec![C::ZERO; plan.scratch_len()];
        for r in b..e {
            let row = &src[r * in_w..(r + 1) * in_w];
            // SAFETY: rows [b, e) of y belong to this task alone.
            let out = unsafe { std::slice::from_raw_parts_mut(dst.get().add(r * out_w), out_w) };
            if inverse {
                for (c, p) in buf.iter_mut().zip(row.chunks_exact(2)) {
                    *c = C::new(p[0].to_f64(), p[1].to_f64());
                }
                plan.inverse(&mut buf, &mut scratch);
                for (o, c) in out.iter_mut().zip(&buf) {
                    *o = T::from_f64(c.re);
                }
            } else {
                for (c, v) in buf.iter_mut().zip(row) {
                    *c = C::new(v.to_f64(), 0.0);
                }
                plan.forward(&mut buf, &mut scratch);
                for (o, c) in out.chunks_exact_mut(2).zip(&buf) {
                    o[0] = T::from_f64(c.re);
                    o[1] = T::from_f64(c.im);
                }
            }
        }
    });
}

fn create(op: &'static str, inverse: bool, p: &Params) -> Result<Arc<dyn Operator>> {
    // compute_size only bounds cuFFT's sub-batches in MXNet; every row is independent here.
    let cs = p.int("compute_size")?;
    if cs < 1 {
        return Err(Error::param(
            op,
            format!("compute_size must be positive, got {cs}"),
        ));
    }
    let other = if inverse { FFT } else { IFFT };
    Ok(FnOp::new(
        op,
        move |ins| infer(op, inverse, ins),
        move |_, ins, outs| {
            match ins[0].dtype() {
                DType::F32 => run::<f32>(inverse, &ins[0], &outs[0]),
                DType::F64 => run::<f64>(inverse, &ins[0], &outs[0]),
                DType::F16 => run::<half::f16>(inverse, &ins[0], &outs[0]),
                d => {
                    return Err(Error::dtype(
                        op,
                        format!("data must be float16, float32 or float64, got {d}"),
                    ))
                }
            }
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let cs = cs.to_string();
        let gx = g.op1(
            other,
            &[("compute_size", cs.as_str())],
            &[a.out_grads[0].clone()],
        )?;
        Ok(vec![Some(gx)])
    })
    .arc())
}

pub(super) fn register(r: &mut Registry) {
    let compute_size = || {
        vec![param(
            "compute_size",
            "int",
            Some("128"),
            "Maximum size of sub-batch to be forwarded at one time",
        )]
    };
    r.add(SimpleDef {
        name: FFT,
        doc: "Apply 1D FFT to input.\n\nThe transform runs over the last axis: real data of shape (..., d) gives (..., 2d) holding the interleaved real and imaginary parts of X_k = sum_j x_j exp(-2 pi i jk / d), unnormalised (as numpy.fft.fft). Every leading axis is a batch axis. The gradient is the real part of the unnormalised inverse transform of the output gradient (what `_contrib_ifft` computes). (MXNet runs it only on GPUs.)".to_string(),
        params: compute_size(),
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| create(FFT, false, p)),
    });
    r.add(SimpleDef {
        name: IFFT,
        doc: "Apply 1D ifft to input.\n\nThe transform runs over the last axis: data of shape (..., 2d) holding interleaved (re, im) pairs gives real output (..., d), the real part of x_j = sum_k X_k exp(+2 pi i jk / d). As in MXNet the result is NOT divided by d, so ifft(fft(x)) = d * x (numpy.fft.ifft(X).real * d). The gradient is the forward transform of the output gradient (what `_contrib_fft` computes). (MXNet runs it only on GPUs.)".to_string(),
        params: compute_size(),
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| create(IFFT, true, p)),
    });
}
