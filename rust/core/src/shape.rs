//! Shapes and the shape arithmetic shared by operators (broadcasting, axes, strides).

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    pub fn new(dims: impl Into<Vec<usize>>) -> Self {
        Shape(dims.into())
    }

    pub fn scalar() -> Self {
        Shape(Vec::new())
    }

    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    pub fn ndim(&self) -> usize {
        self.0.len()
    }

    pub fn size(&self) -> usize {
        self.0.iter().product()
    }

    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut s = vec![1; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1] * self.0[i + 1];
        }
        s
    }

    /// Normalises a possibly negative axis against `ndim` (op name for the message).
    pub fn axis(&self, axis: i64, op: &str) -> Result<usize> {
        norm_axis(axis, self.ndim(), op)
    }
}

/// `(axis, outer, n, inner)`: the normalised axis, the product of the dims before it, its size
/// and the product of the dims after it (how gather-like kernels see an array).
pub fn split_at_axis(s: &Shape, axis: i64, op: &str) -> Result<(usize, usize, usize, usize)> {
    if s.ndim() == 0 {
        return Err(Error::shape(op, "cannot index a 0-d array along an axis"));
    }
    let ax = norm_axis(axis, s.ndim(), op)?;
    Ok((
        ax,
        s.0[..ax].iter().product(),
        s[ax],
        s.0[ax + 1..].iter().product(),
    ))
}

pub fn norm_axis(axis: i64, ndim: usize, op: &str) -> Result<usize> {
    let n = ndim as i64;
    let a = if axis < 0 { axis + n } else { axis };
    if a < 0 || a >= n.max(1) && !(n == 0 && a == 0) {
        return Err(Error::shape(
            op,
            format!("axis {axis} is out of bounds for array of dimension {ndim}"),
        ));
    }
    Ok(a as usize)
}

impl std::ops::Index<usize> for Shape {
    type Output = usize;
    fn index(&self, i: usize) -> &usize {
        &self.0[i]
    }
}

impl From<Vec<usize>> for Shape {
    fn from(v: Vec<usize>) -> Self {
        Shape(v)
    }
}

impl From<&[usize]> for Shape {
    fn from(v: &[usize]) -> Self {
        Shape(v.to_vec())
    }
}

/// MXNet prints shapes in messages as `[2,3]`.
impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// numpy broadcasting of two shapes; the error names the op and both shapes like MXNet.
pub fn broadcast_shapes(op: &str, a: &Shape, b: &Shape) -> Result<Shape> {
    let n = a.ndim().max(b.ndim());
    let mut out = vec![0; n];
    for (i, o) in out.iter_mut().enumerate() {
        let da = if i + a.ndim() >= n {
            a.0[i + a.ndim() - n]
        } else {
            1
        };
        let db = if i + b.ndim() >= n {
            b.0[i + b.ndim() - n]
        } else {
            1
        };
        *o = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::shape(
                op,
                format!("operands could not be broadcast together with shapes {a} {b}"),
            ));
        };
    }
    Ok(Shape(out))
}

/// Strides (in elements) for reading an array of shape `src` broadcast to `dst`:
/// broadcast dimensions get stride 0. `src` must broadcast to `dst`.
pub fn broadcast_strides(src: &Shape, dst: &Shape) -> Vec<usize> {
    let n = dst.ndim();
    let st = src.strides();
    let mut out = vec![0; n];
    for (i, (&d, &s)) in src.0.iter().zip(&st).enumerate() {
        let j = n - src.ndim() + i;
        out[j] = if d == 1 && dst.0[j] != 1 { 0 } else { s };
    }
    out
}
