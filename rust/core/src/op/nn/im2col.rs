//! `im2col` and `col2im`: the sliding-block unfolding under Convolution, as ops. A (N, C, *)
//! image becomes (N, C * prod(kernel), L) columns, L the number of blocks (the spatial size a
//! convolution with the same kernel, stride, dilate and pad would output); col2im sums columns
//! back onto an image of `output_size`. Each is the other's gradient, so both differentiate
//! any number of times. The unfolding is Convolution's own (kernels/cpu/conv.rs).
//!
//! MXNet 1.9.1 documents 1-D, 2-D and 3-D blocks but its CPU kernels only run 2-D (1-D fails
//! an index check, 3-D a size check); here all three run.

use super::convolution::{lift, tuple};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::cpu::conv::{self, Geom, Real};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::{param, ParamSpec, Params};
use crate::op::shape_ops::def;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry};
use crate::shape::Shape;
use std::sync::Arc;

const IM2COL: &str = "im2col";
const COL2IM: &str = "col2im";

#[derive(Debug, Clone)]
struct Cfg {
    kernel: Vec<usize>,
    stride: Vec<usize>,
    dilate: Vec<usize>,
    pad: Vec<usize>,
    /// col2im's image size; empty for im2col.
    output_size: Vec<usize>,
}

impl Cfg {
    fn parse(op: &str, p: &Params) -> Result<Cfg> {
        let kernel = p.shape("kernel")?;
        let nd = kernel.len();
        if !(1..=3).contains(&nd) {
            return Err(Error::param(
                op,
                format!("kernel must have 1, 2 or 3 dimensions, got {kernel:?}"),
            ));
        }
        let stride = tuple(p, "stride", nd, 1, op)?;
        let dilate = tuple(p, "dilate", nd, 1, op)?;
        let pad = tuple(p, "pad", nd, 0, op)?;
        for (name, v) in [
            ("kernel", &kernel),
            ("stride", &stride),
            ("dilate", &dilate),
        ] {
            if v.contains(&0) {
                return Err(Error::param(
                    op,
                    format!("{name} must be positive in every dimension, got {v:?}"),
                ));
            }
        }
        let output_size = if op == COL2IM {
            let o = p.shape("output_size")?;
            if o.len() != nd {
                return Err(Error::param(
                    op,
                    format!(
                        "output_size must have the same number of dimensions as kernel, but \
                         kernel has {nd} while output_size is {o:?}"
                    ),
                ));
            }
            o
        } else {
            Vec::new()
        };
        Ok(Cfg {
            kernel,
            stride,
            dilate,
            pad,
            output_size,
        })
    }

    fn k_len(&self) -> usize {
        self.kernel.iter().product()
    }

    /// The unfolding of `n` images of `c` channels and spatial size `sp`.
    fn geom(&self, op: &str, n: usize, c: usize, sp: &[usize], what: &Shape) -> Result<Geom> {
        let nd = self.kernel.len();
        let mut out = vec![0; nd];
        for i in 0..nd {
            let dk = self.dilate[i] * (self.kernel[i] - 1) + 1;
            let padded = sp[i] + 2 * self.pad[i];
            if dk > padded {
                return Err(Error::shape(
                    op,
                    format!(
                        "kernel size exceeds input: dilated kernel {dk} > padded image {padded} \
                         in dimension {i} ({what}, kernel {:?}, pad {:?}, dilate {:?})",
                        self.kernel, self.pad, self.dilate
                    ),
                ));
            }
            out[i] = (padded - dk) / self.stride[i] + 1;
        }
        Ok(Geom {
            n,
            c,
            f: c,
            groups: 1,
            input: lift(sp, 1),
            output: lift(&out, 1),
            kernel: lift(&self.kernel, 1),
            stride: lift(&self.stride, 1),
            dilate: lift(&self.dilate, 1),
            pad: lift(&self.pad, 0),
        })
    }

    /// im2col: geometry of a (N, C, *) data shape.
    fn image_geom(&self, d: &Shape) -> Result<Geom> {
        let nd = self.kernel.len();
        if d.ndim() != nd + 2 {
            return Err(Error::shape(
                IM2COL,
                format!(
                    "data must be {}-D (N, C, spatial...) for a {nd}-D kernel, got shape {d}",
                    nd + 2
                ),
            ));
        }
        self.geom(IM2COL, d[0], d[1], &d.0[2..], d)
    }

    /// col2im: geometry of a (N, C * prod(kernel), L) column shape.
    fn column_geom(&self, d: &Shape) -> Result<Geom> {
        let k = self.k_len();
        if d.ndim() != 3 || !d[1].is_multiple_of(k) {
            return Err(Error::shape(
                COL2IM,
                format!(
                    "data must be 3-D (N, C * prod(kernel), L) with its second dimension a \
                     multiple of the kernel size {k} (kernel {:?}), got shape {d}",
                    self.kernel
                ),
            ));
        }
        let g = self.geom(COL2IM, d[0], d[1] / k, &self.output_size, d)?;
        if g.out_len() != d[2] {
            return Err(Error::shape(
                COL2IM,
                format!(
                    "data {d} has {} blocks, but output_size {:?} with kernel {:?}, stride {:?}, \
                     dilate {:?}, pad {:?} has {}",
                    d[2],
                    self.output_size,
                    self.kernel,
                    self.stride,
                    self.dilate,
                    self.pad,
                    g.out_len()
                ),
            ));
        }
        Ok(g)
    }

    fn image_shape(&self, g: &Geom) -> Shape {
        let mut s = vec![g.n, g.c];
        s.extend_from_slice(&g.input[3 - self.kernel.len()..]);
        Shape(s)
    }

    fn column_shape(&self, g: &Geom) -> Shape {
        Shape(vec![g.n, g.c * g.k_len(), g.out_len()])
    }

    /// im2col's attributes (col2im's gradient).
    fn attrs(&self) -> Vec<(&'static str, String)> {
        let t = |v: &[usize]| {
            let s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
            format!("({},)", s.join(", "))
        };
        vec![
            ("kernel", t(&self.kernel)),
            ("stride", t(&self.stride)),
            ("dilate", t(&self.dilate)),
            ("pad", t(&self.pad)),
        ]
    }
}

/// Unfolds (`unfold`) or sums back every sample, one task per block of samples.
fn run_t<T: Real>(g: &Geom, unfold: bool, x: &NDArray, y: &NDArray) -> Result<()> {
    let (img, col) = (g.c * g.in_len(), g.c * g.k_len() * g.out_len());
    let (src_len, dst_len) = if unfold { (img, col) } else { (col, img) };
    // SAFETY: inside the op reading `x` and writing the fresh `y`, whose shapes the geometry
    // was built from: n samples of src_len and dst_len elements.
    let src = unsafe { x.data::<T>() };
    // SAFETY: as above; each task writes only its own samples.
    let dst = Ptr(unsafe { y.raw() } as *mut T);
    par_ranges(g.n, col.max(1), |s, e| {
        for i in s..e {
            // SAFETY: sample i of `y` belongs to this task alone.
            let d = unsafe { std::slice::from_raw_parts_mut(dst.get().add(i * dst_len), dst_len) };
            let sample = &src[i * src_len..(i + 1) * src_len];
            if unfold {
                conv::im2col(g, sample, d);
            } else {
                d.fill(T::ZERO);
                conv::col2im(g, sample, d);
            }
        }
    });
    Ok(())
}

fn float_kernel(op: &str, d: DType) -> Result<DType> {
    super::float(op, d)
}

fn make(op: &'static str, cfg: Cfg) -> Arc<dyn Operator> {
    let unfold = op == IM2COL;
    let c1 = cfg.clone();
    let c2 = cfg.clone();
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            let dt = float_kernel(op, ins[0].dtype)?;
            let s = if unfold {
                c1.column_shape(&c1.image_geom(&ins[0].shape)?)
            } else {
                c1.image_shape(&c1.column_geom(&ins[0].shape)?)
            };
            Ok(vec![Desc::new(s, dt)])
        },
        move |_, ins, outs| {
            let g = if unfold {
                c2.image_geom(ins[0].shape())?
            } else {
                c2.column_geom(ins[0].shape())?
            };
            by_float!(op, ins[0].dtype(), run_t, &g, unfold, &ins[0], &outs[0])
        },
    )
    .with_grad(move |g, a| {
        let dy = a
            .out_grads
            .first()
            .ok_or_else(|| Error::Internal(format!("{op} gradient without out_grad")))?;
        if unfold {
            // col2im needs the image size, which only the data array knows at run time.
            let ins = [dy.clone(), a.inputs[0].clone()];
            return Ok(vec![Some(
                g.apply(backward_im2col(cfg.clone()), &ins).remove(0),
            )]);
        }
        let attrs = cfg.attrs();
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(vec![Some(g.op1(
            IM2COL,
            &attrs,
            std::slice::from_ref(dy),
        )?)])
    })
    .arc()
}

/// im2col's gradient: col2im of the column gradient (input 0) onto the data's (input 1)
/// shape.
fn backward_im2col(cfg: Cfg) -> Arc<dyn Operator> {
    const B: &str = "_backward_im2col";
    let c1 = cfg.clone();
    FnOp::new(
        B,
        move |ins| {
            expect_inputs(B, ins, 2)?;
            let g = c1.image_geom(&ins[1].shape)?;
            let cs = c1.column_shape(&g);
            if ins[0].shape != cs || ins[0].dtype != ins[1].dtype {
                return Err(Error::shape(
                    B,
                    format!(
                        "output gradient {} ({}) must have the output shape {cs} ({})",
                        ins[0].shape, ins[0].dtype, ins[1].dtype
                    ),
                ));
            }
            Ok(vec![ins[1].clone()])
        },
        move |_, ins, outs| {
            let g = cfg.image_geom(ins[1].shape())?;
            by_float!(B, ins[0].dtype(), run_t, &g, false, &ins[0], &outs[0])
        },
    )
    .arc()
}

fn params(col2im: bool) -> Vec<ParamSpec> {
    let mut v = Vec::new();
    if col2im {
        v.push(param(
            "output_size",
            "Shape(tuple)",
            None,
            "The spatial dimension of image array: (w,), (h, w) or (d, h, w).",
        ));
    }
    v.extend([
        param(
            "kernel",
            "Shape(tuple)",
            None,
            "Sliding kernel size: (w,), (h, w) or (d, h, w).",
        ),
        param(
            "stride",
            "Shape(tuple)",
            Some("[]"),
            "The stride between adjacent sliding blocks in spatial dimension: (w,), (h, w) or \
             (d, h, w). Defaults to 1 for each dimension.",
        ),
        param(
            "dilate",
            "Shape(tuple)",
            Some("[]"),
            "The spacing between adjacent kernel points: (w,), (h, w) or (d, h, w). Defaults \
             to 1 for each dimension.",
        ),
        param(
            "pad",
            "Shape(tuple)",
            Some("[]"),
            "The zero-value padding size on both sides of spatial dimension: (w,), (h, w) or \
             (d, h, w). Defaults to no padding.",
        ),
    ]);
    v
}

pub fn register(r: &mut Registry) {
    r.add(def(
        IM2COL,
        "Extract sliding blocks from input array. Given the input data of shape (N, C, *), \
         where * is 1 to 3 spatial dimensions, the output column array has shape \
         (N, C * prod(kernel), W): C * prod(kernel) is the block size and W the number of \
         blocks, the spatial size of the convolution output with the same kernel, stride, \
         dilate and pad. Padding reads zeros. Row c * prod(kernel) + k of a column holds \
         channel c at kernel offset k (row-major over the kernel dimensions).",
        params(false),
        Inputs::Fixed(&["data"]),
        |p| Ok(make(IM2COL, Cfg::parse(IM2COL, p)?)),
    ));
    r.add(def(
        COL2IM,
        "Combining the output column matrix of im2col back to image array. Despite the name, \
         col2im is not the reverse operation of im2col: overlapping sliding blocks are summed \
         into the image, so col2im is the gradient of im2col and vice versa. Given an input \
         column array of shape (N, C * prod(kernel), W), the output has shape \
         (N, C, output_size[0], output_size[1], ...); 1 to 3 spatial dimensions.",
        params(true),
        Inputs::Fixed(&["data"]),
        |p| Ok(make(COL2IM, Cfg::parse(COL2IM, p)?)),
    ));
}
