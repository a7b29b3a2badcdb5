//! Helpers for the op tests: arrays from literals, one-call op runs, index arithmetic.

use crate::context::Context;
use crate::dtype::Element;
use crate::error::Error;
use crate::ndarray::NDArray;
use crate::op::call_str;
use crate::shape::Shape;

pub fn arr<T: Element>(shape: &[usize], data: &[T]) -> NDArray {
    NDArray::from_vec(Shape::new(shape.to_vec()), data, Context::cpu(0)).expect("array")
}

/// A shape-(1,) float32 array: the min/max range inputs of the quantized ops.
pub fn scalar(v: f32) -> NDArray {
    arr(&[1], &[v])
}

/// 0, 1, 2, ... as f32 of `shape`.
pub fn iota(shape: &[usize]) -> NDArray {
    let n: usize = shape.iter().product();
    arr(shape, &(0..n).map(|i| i as f32).collect::<Vec<_>>())
}

pub fn run(op: &str, ins: &[NDArray], attrs: &[(&str, &str)]) -> NDArray {
    let mut o = call_str(op, ins, attrs).unwrap_or_else(|e| panic!("{op} {attrs:?}: {e}"));
    o.remove(0)
}

pub fn err(op: &str, ins: &[NDArray], attrs: &[(&str, &str)]) -> Error {
    match call_str(op, ins, attrs) {
        Ok(o) => match o[0].wait_to_read() {
            Err(e) => e,
            Ok(()) => panic!("{op} {attrs:?} should fail, gave {:?}", o[0].shape()),
        },
        Err(e) => e,
    }
}

pub fn f32s(a: &NDArray) -> Vec<f32> {
    a.to_vec::<f32>().expect("to_vec")
}

/// The values of an array of any dtype as f32 (exactly, for f32 and the half types).
pub fn as_f32(a: &NDArray) -> Vec<f32> {
    crate::with_dtype!(a.dtype(), T, {
        let v = a.to_vec::<T>().expect("to_vec");
        v.into_iter().map(Element::to_f32).collect()
    })
}

/// Multi-index of flat position `i` in `shape`.
pub fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for k in (0..shape.len()).rev() {
        idx[k] = i % shape[k];
        i /= shape[k];
    }
    idx
}

pub fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |a, (&i, &n)| a * n + i)
}

/// Reference for ops whose output element comes from one input element.
pub fn gather(x: &[f32], out_shape: &[usize], src: impl Fn(&[usize]) -> usize) -> Vec<f32> {
    (0..out_shape.iter().product())
        .map(|i| x[src(&unravel(i, out_shape))])
        .collect()
}

/// Panics unless op `name`'s gradient graph matches finite differences at `inputs`.
pub fn check_grad(name: &str, attrs: &[(&str, &str)], inputs: &[NDArray], wrt: &[usize]) {
    crate::graph::check_grad(name, attrs, inputs, wrt, Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
}

/// `check_grad` in training mode (BatchNorm batch statistics, Dropout).
pub fn check_grad_train(name: &str, attrs: &[(&str, &str)], inputs: &[NDArray], wrt: &[usize]) {
    let opts = crate::graph::CheckOpts {
        is_train: true,
        ..Default::default()
    };
    crate::graph::check_grad(name, attrs, inputs, wrt, opts).unwrap_or_else(|e| panic!("{e}"));
}

/// Deterministic values in [lo, hi) as f64 of `shape` (float64 inputs make numeric gradients
/// precise).
pub fn rand64(shape: &[usize], lo: f64, hi: f64, seed: u64) -> NDArray {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f64> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect();
    arr(shape, &v)
}
