//! `_contrib_AdaptiveAvgPooling2D` and `_contrib_BilinearResize2D` on NCHW data. Both are
//! separable linear maps: output row `oy` mixes input rows `rows[oy]` and output column `ox`
//! input columns `cols[ox]`, with weights. The backward is the transposed map (a scatter), and
//! that map's own gradient is the forward again, so every order is exact.

use crate::error::{Error, Result};
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::op::{read_f64, write_f64};
use crate::shape::Shape;
use std::sync::Arc;

/// Taps (input index, weight) of each output index along one axis.
type Taps = Vec<Vec<(usize, f64)>>;

#[derive(Clone, Copy)]
enum Kind {
    /// Bin `i` of `n` over `len` covers [floor(i len / n), ceil((i + 1) len / n)).
    Adaptive,
    Bilinear {
        align_corners: bool,
    },
}

fn taps(kind: Kind, len: usize, n: usize) -> Taps {
    (0..n)
        .map(|i| match kind {
            Kind::Adaptive => {
                let s = i * len / n;
                let e = ((i + 1) * len).div_ceil(n);
                let w = 1.0 / (e - s) as f64;
                (s..e).map(|k| (k, w)).collect()
            }
            Kind::Bilinear { align_corners } => {
                // A single output row or column reads the first input one in both modes
                // (MXNet 1.9.1's scale is 0 there), not the middle. The scale, the source
                // position and the weight are float32 as in MXNet, whatever the data type:
                // in float64 a 128->64 resize differed from MXNet's by 2e-5.
                let src: f32 = if n == 1 {
                    0.0
                } else if align_corners {
                    ((len - 1) as f32 / (n - 1) as f32) * i as f32
                } else {
                    // MXNet's `scale * (i + 0.5) - 0.5` promotes to double before rounding.
                    ((len as f32 / n as f32) as f64 * (i as f64 + 0.5) - 0.5).max(0.0) as f32
                };
                let i0 = (src as usize).min(len - 1);
                let i1 = (i0 + 1).min(len - 1);
                let l = (src - i0 as f32) as f64;
                if i1 == i0 || l == 0.0 {
                    vec![(i0, 1.0)]
                } else {
                    vec![(i0, 1.0 - l), (i1, l)]
                }
            }
        })
        .collect()
}

/// out[p, oy, ox] = sum rows[oy] x cols[ox] of x[p, iy, ix]; `transpose` scatters instead
/// (x is then the output-sized gradient and the result input-sized).
fn apply(
    x: &[f64],
    planes: usize,
    inner: (usize, usize),
    outer: (usize, usize),
    kind: Kind,
    transpose: bool,
) -> Vec<f64> {
    let ((h, w), (oh, ow)) = (inner, outer);
    let (rows, cols) = (taps(kind, h, oh), taps(kind, w, ow));
    let mut out = vec![0.0; planes * if transpose { h * w } else { oh * ow }];
    for p in 0..planes {
        for (oy, rt) in rows.iter().enumerate() {
            for (ox, ct) in cols.iter().enumerate() {
                let o = (p * oh + oy) * ow + ox;
                for &(iy, wy) in rt {
                    for &(ix, wx) in ct {
                        let i = (p * h + iy) * w + ix;
                        if transpose {
                            out[i] += wy * wx * x[o];
                        } else {
                            out[o] += wy * wx * x[i];
                        }
                    }
                }
            }
        }
    }
    out
}

fn check_data(op: &str, d: &Desc) -> Result<()> {
    if d.shape.ndim() != 4 {
        return Err(Error::shape(
            op,
            format!(
                "data must be 4-D (batch, channel, height, width), got {}",
                d.shape
            ),
        ));
    }
    if !d.dtype.is_float() {
        return Err(Error::dtype(
            op,
            format!(
                "expects a float input (float16, float32 or float64), got {}",
                d.dtype
            ),
        ));
    }
    Ok(())
}

/// The backward (transposed) map: inputs (output gradient, data); result shaped like data.
fn backward_op(name: &'static str, kind: Kind) -> Arc<dyn Operator> {
    FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 2)?;
            Ok(vec![ins[1].clone()])
        },
        move |_, ins, outs| {
            let (g, d) = (ins[0].shape().dims(), ins[1].shape().dims());
            let v = apply(
                &read_f64(&ins[0]),
                d[0] * d[1],
                (d[2], d[3]),
                (g[2], g[3]),
                kind,
                true,
            );
            write_f64(&outs[0], &v);
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        // The transposed map's gradient is the forward map, to the output size of `og`.
        let fname = match kind {
            Kind::Adaptive => "_contrib_AdaptiveAvgPooling2D",
            Kind::Bilinear { .. } => "_contrib_BilinearResize2D",
        };
        let fwd = forward_op(
            fname,
            kind,
            Arc::new(|_: &Shape, _: Option<&Shape>| Ok((0, 0))),
            true,
        );
        let r = g.apply(fwd, &[a.out_grads[0].clone(), a.inputs[0].clone()]);
        Ok(vec![Some(r[0].clone()), None])
    })
    .arc()
}

type SizeFn = Arc<dyn Fn(&Shape, Option<&Shape>) -> Result<(usize, usize)> + Send + Sync>;

/// The forward map; `size` gives (out_h, out_w) from data and the optional second input.
/// With `size_from_like` the output takes the second input's last two dims.
fn forward_op(
    name: &'static str,
    kind: Kind,
    size: SizeFn,
    size_from_like: bool,
) -> Arc<dyn Operator> {
    let size2 = size.clone();
    let out_hw = move |d: &Shape, like: Option<&Shape>| -> Result<(usize, usize)> {
        if size_from_like {
            let l = like.ok_or_else(|| Error::shape(name, "needs the `like` input"))?;
            if l.ndim() < 2 {
                return Err(Error::shape(
                    name,
                    format!("like must have at least 2 dims, got {l}"),
                ));
            }
            return Ok((l[l.ndim() - 2], l[l.ndim() - 1]));
        }
        size2(d, like)
    };
    let out_hw2 = out_hw.clone();
    let n_in = if size_from_like { 2 } else { 1 };
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, n_in)?;
            check_data(name, &ins[0])?;
            let d = &ins[0].shape;
            let (oh, ow) = out_hw(d, ins.get(1).map(|x| &x.shape))?;
            if d[2] == 0 || d[3] == 0 {
                return Err(Error::shape(
                    name,
                    format!("data height and width must be positive, got {d}"),
                ));
            }
            Ok(vec![Desc::new(
                Shape::new(vec![d[0], d[1], oh, ow]),
                ins[0].dtype,
            )])
        },
        move |_, ins, outs| {
            let d = ins[0].shape().dims();
            let (oh, ow) = out_hw2(ins[0].shape(), ins.get(1).map(|x| x.shape()))?;
            let v = apply(
                &read_f64(&ins[0]),
                d[0] * d[1],
                (d[2], d[3]),
                (oh, ow),
                kind,
                false,
            );
            write_f64(&outs[0], &v);
            Ok(())
        },
    );
    op.num_inputs = Some(n_in);
    op.type_partial = Some(Box::new(move |ins, outs| {
        let (mut a, mut o) = ([ins[0]], [outs[0]]);
        crate::op::unify_types(name, &mut a, &mut o)?;
        (ins[0], outs[0]) = (a[0], o[0]);
        Ok(())
    }));
    let bname: &'static str = if matches!(kind, Kind::Adaptive) {
        "_backward_contrib_AdaptiveAvgPooling2D"
    } else {
        "_backward_contrib_BilinearResize2D"
    };
    op.with_grad(move |g, a| {
        let r = g.apply(
            backward_op(bname, kind),
            &[a.out_grads[0].clone(), a.inputs[0].clone()],
        );
        let mut v = vec![Some(r[0].clone())];
        if a.inputs.len() > 1 {
            v.push(Some(g.zeros_like(&a.inputs[1])?));
        }
        Ok(v)
    })
    .arc()
}

fn adaptive(r: &mut Registry) {
    const OP: &str = "_contrib_AdaptiveAvgPooling2D";
    r.add(SimpleDef {
        name: OP,
        doc: "Adaptive average pooling of NCHW data to `output_size`: output bin i of n over an input axis of length L averages [floor(i L / n), ceil((i + 1) L / n)).".into(),
        params: vec![param("output_size", "Shape(tuple)", Some("[]"), "int (output size) or a tuple of int for output (height, width).")],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let s = p.ints("output_size")?;
            let (h, w) = match s.as_slice() {
                [] => (1, 1),
                [n] => (*n, *n),
                [h, w] => (*h, *w),
                _ => return Err(Error::param(OP, format!("output_size must have 1 or 2 values, got {s:?}"))),
            };
            let (h, w) = match (usize::try_from(h), usize::try_from(w)) {
                (Ok(h), Ok(w)) if h > 0 && w > 0 => (h, w),
                _ => return Err(Error::param(OP, format!("output_size must be positive, got {s:?}"))),
            };
            Ok(forward_op(OP, Kind::Adaptive, Arc::new(move |_: &Shape, _: Option<&Shape>| Ok((h, w))), false))
        }),
    });
}

const MODES: &[&str] = &[
    "like",
    "odd_scale",
    "size",
    "to_even_down",
    "to_even_up",
    "to_odd_down",
    "to_odd_up",
];

fn bilinear(r: &mut Registry) {
    const OP: &str = "_contrib_BilinearResize2D";
    r.add(SimpleDef {
        name: OP,
        doc: "Resizes NCHW data with bilinear interpolation. `mode`: 'size' (height/width, or in*scale when scale_height/scale_width are given), 'odd_scale' (odd sizes (L-1)*scale+1, even L*scale), 'like' (the spatial size of the second input `like`), 'to_even_down'/'to_even_up'/'to_odd_down'/'to_odd_up' (the nearest even/odd size below/above). `align_corners` maps corner pixel centres onto each other; otherwise half-pixel centres are used.".into(),
        params: vec![
            param("height", "int", Some("1"), "output height (required, but ignored if scale_height is defined or mode is not \"size\")"),
            param("width", "int", Some("1"), "output width (required, but ignored if scale_width is defined or mode is not \"size\")"),
            param("scale_height", "float or None", Some("None"), "sampling scale of the height (optional, used in modes \"scale\" and \"odd_scale\")"),
            param("scale_width", "float or None", Some("None"), "sampling scale of the width (optional, used in modes \"scale\" and \"odd_scale\")"),
            param("mode", "{'like', 'odd_scale', 'size', 'to_even_down', 'to_even_up', 'to_odd_down', 'to_odd_up'}", Some("'size'"), "resizing mode. \"simple\" - output height equals parameter \"height\" if \"scale_height\" parameter is not defined or input height multiplied by \"scale_height\" otherwise. Same for width;\"odd_scale\" - if original height or width is odd, then result height is calculated like result_h = (original_h - 1) * scale + 1; for scale > 1 the result shape would be like if we did deconvolution with kernel = (1, 1) and stride = (height_scale, width_scale); and for scale < 1 shape would be like we did convolution with kernel = (1, 1) and stride = (int(1 / height_scale), int( 1/ width_scale);\"like\" - resize first input to the height and width of second input; \"to_even_down\" - resize input to nearest lower even height and width (if original height is odd then result height = original height - 1);\"to_even_up\" - resize input to nearest bigger even height and width (if original height is odd then result height = original height + 1);\"to_odd_down\" - resize input to nearest odd height and width (if original height is odd then result height = original height - 1);\"to_odd_up\" - resize input to nearest odd height and width (if original height is odd then result height = original height + 1);"),
            param("align_corners", "boolean", Some("True"), "With align_corners = True, the interpolating doesn't proportionally align the output and input pixels, and thus the output values can depend on the input size."),
        ],
        inputs: Inputs::Fixed(&["data", "like"]),
        create: Box::new(|p| {
            let mode = p.choice("mode", MODES)?;
            let (h, w) = (p.int("height")?, p.int("width")?);
            let sh = if p.is_set("scale_height") { Some(p.float("scale_height")?) } else { None };
            let sw = if p.is_set("scale_width") { Some(p.float("scale_width")?) } else { None };
            let kind = Kind::Bilinear { align_corners: p.bool("align_corners")? };
            let mode: &'static str = MODES.iter().find(|m| **m == mode).copied().unwrap_or("size");
            let scaled = move |len: usize, s: Option<f64>, fixed: i64, axis: &str| -> Result<usize> {
                // MXNet multiplies in float32 (0.7f32 · 10 is 7, in f64 it is 6.99999988).
                let f = |x: usize, s: f64| (x as f32 * s as f32) as f64;
                let v = match (mode, s) {
                    ("size", Some(s)) => f(len, s).trunc(),
                    ("size", None) => fixed as f64,
                    ("odd_scale", Some(s)) if len % 2 == 1 => (f(len - 1, s) + 1.0).trunc(),
                    ("odd_scale", Some(s)) => f(len, s).trunc(),
                    ("odd_scale", None) => {
                        return Err(Error::param(OP, "mode='odd_scale' needs scale_height and scale_width"))
                    }
                    ("to_even_down", _) => (len - len % 2) as f64,
                    ("to_even_up", _) => (len + len % 2) as f64,
                    ("to_odd_down", _) => (if len % 2 == 1 { len } else { len - 1 }) as f64,
                    _ => (if len % 2 == 1 { len } else { len + 1 }) as f64,
                };
                // A size computed from the input may be 0 (an empty result, as in MXNet);
                // a given one must be at least 1.
                let least = if (mode, s) == ("size", None) { 1.0 } else { 0.0 };
                if !(least..1e9).contains(&v) {
                    return Err(Error::param(OP, format!("the output {axis} must be at least {least}, got {v} (input {axis} {len}, mode {mode})")));
                }
                Ok(v as usize)
            };
            let size: SizeFn = Arc::new(move |d: &Shape, _: Option<&Shape>| {
                Ok((scaled(d[2], sh, h, "height")?, scaled(d[3], sw, w, "width")?))
            });
            Ok(forward_op(OP, kind, size, mode == "like"))
        }),
    });
}

pub fn register(r: &mut Registry) {
    adaptive(r);
    bilinear(r);
}
