//! `Pad` (alias `pad`): constant, edge or reflect padding of the spatial axes of a 4-D or 5-D
//! array, as MXNet 1.x implements it (the first two axes take no padding). Every output
//! position reads one input position or the constant, so forward and gradient share one index
//! map per axis; the gradient adds each output gradient onto the position it was read from.

use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::shape_ops::def;
use crate::op::{Desc, FnOp, Inputs, Operator, Registry};
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "Pad";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Constant,
    Edge,
    Reflect,
}

#[derive(Debug, Clone)]
struct Cfg {
    mode: Mode,
    width: Vec<usize>,
    value: f64,
}

impl Cfg {
    fn out_shape(&self, d: &Shape) -> Result<Shape> {
        if d.ndim() != 4 && d.ndim() != 5 {
            return Err(Error::shape(
                OP,
                format!("Current implementation only supports 4-D or 5-D input, got shape {d}"),
            ));
        }
        if self.width.len() != 2 * d.ndim() {
            return Err(Error::shape(
                OP,
                format!(
                    "pad_width {:?} must have 2 entries per axis of data {d} ({} in all)",
                    self.width,
                    2 * d.ndim()
                ),
            ));
        }
        if self.width[..4].iter().any(|&w| w != 0) {
            return Err(Error::shape(
                OP,
                format!(
                    "Current implementation expects padding on the first two axes to be zero, got \
                     pad_width {:?}",
                    self.width
                ),
            ));
        }
        let mut s = d.0.clone();
        for (i, v) in s.iter_mut().enumerate() {
            let (b, a) = (self.width[2 * i], self.width[2 * i + 1]);
            match self.mode {
                Mode::Reflect if i >= 2 && (b >= *v || a >= *v) => {
                    return Err(Error::shape(
                        OP,
                        format!(
                            "Current implementation of reflection padding only supports padding \
                             sizes smaller than the input size: pad_width {:?}, data {d}",
                            self.width
                        ),
                    ))
                }
                Mode::Edge if i >= 2 && *v == 0 && b + a > 0 => {
                    return Err(Error::shape(
                        OP,
                        format!("edge padding of an empty axis {i} of data {d}"),
                    ))
                }
                _ => {}
            }
            *v += b + a;
        }
        Ok(Shape(s))
    }

    /// For each output index along spatial axis `i` (of length `n`), the input index it reads.
    fn map(&self, i: usize, n: usize) -> Vec<Option<usize>> {
        let (b, a) = (self.width[2 * i], self.width[2 * i + 1]);
        (0..n + b + a)
            .map(|o| {
                let p = o as isize - b as isize;
                let last = n as isize - 1;
                if (0..n as isize).contains(&p) {
                    return Some(p as usize);
                }
                match self.mode {
                    Mode::Constant => None,
                    Mode::Edge => Some(p.clamp(0, last) as usize),
                    // One reflection suffices: the pad is smaller than the axis.
                    Mode::Reflect => Some(if p < 0 { -p } else { 2 * last - p } as usize),
                }
            })
            .collect()
    }

    /// Planes (N·C), input and output spatial sizes (depth 1 for 4-D), and the three maps.
    #[allow(clippy::type_complexity)]
    fn plan(&self, d: &Shape) -> Result<(usize, [usize; 3], [usize; 3], [Vec<Option<usize>>; 3])> {
        let o = self.out_shape(d)?;
        let nd = d.ndim();
        let mut ins = [1; 3];
        let mut outs = [1; 3];
        ins[5 - nd..].copy_from_slice(&d.0[2..]);
        outs[5 - nd..].copy_from_slice(&o.0[2..]);
        let maps = [0, 1, 2].map(|k| {
            if k + nd < 5 {
                vec![Some(0)]
            } else {
                self.map(k + nd - 3, ins[k])
            }
        });
        Ok((d[0] * d[1], ins, outs, maps))
    }
}

fn forward_t<T: Element>(cfg: &Cfg, x: &NDArray, y: &NDArray) -> Result<()> {
    let (planes, is, os, maps) = cfg.plan(x.shape())?;
    let (il, ol) = (is.iter().product::<usize>(), os.iter().product::<usize>());
    let cv = T::from_f64(cfg.value);
    // Output columns lo..lo + is[2] of a row read its input row in order (the map of the last
    // axis is the identity there, whatever the mode): one copy, the borders through the map.
    let (w, ow) = (is[2], os[2]);
    let lo = cfg.width[2 * (x.shape().ndim() - 1)];
    if ol == 0 {
        return Ok(());
    }
    // SAFETY: inside the op reading x and writing y, a fresh array of the inferred shape.
    let src = unsafe { x.data::<T>() };
    let yp = Ptr(unsafe { y.raw() } as *mut T);
    par_ranges(planes, ol, |b, e| {
        for pl in b..e {
            let s = &src[pl * il..][..il];
            // SAFETY: output plane pl belongs to this task.
            let d = unsafe { std::slice::from_raw_parts_mut(yp.get().add(pl * ol), ol) };
            for (row_out, (mz, my)) in d.chunks_exact_mut(ow).zip(
                maps[0]
                    .iter()
                    .flat_map(|z| maps[1].iter().map(move |y| (z, y))),
            ) {
                let (Some(z), Some(y)) = (mz, my) else {
                    row_out.fill(cv);
                    continue;
                };
                let row = &s[(z * is[1] + y) * w..][..w];
                row_out[lo..lo + w].copy_from_slice(row);
                for k in (0..lo).chain(lo + w..ow) {
                    row_out[k] = maps[2][k].map_or(cv, |x| row[x]);
                }
            }
        }
    });
    Ok(())
}

fn backward_t<T: Element>(cfg: &Cfg, dy: &NDArray, x: &NDArray, dx: &NDArray) -> Result<()> {
    let (planes, is, os, maps) = cfg.plan(x.shape())?;
    let (il, ol) = (is.iter().product::<usize>(), os.iter().product::<usize>());
    // SAFETY: reads dy, writes the fresh dx of x's shape.
    let g = unsafe { dy.data::<T>() };
    let dp = Ptr(unsafe { dx.raw() } as *mut T);
    par_ranges(planes, ol, |b, e| {
        let mut acc = vec![0.0f64; il];
        for pl in b..e {
            let s = &g[pl * ol..][..ol];
            acc.fill(0.0);
            let mut k = 0;
            for mz in &maps[0] {
                for my in &maps[1] {
                    let row = match (mz, my) {
                        (Some(z), Some(y)) => Some((z * is[1] + y) * is[2]),
                        _ => None,
                    };
                    for mx in &maps[2] {
                        if let (Some(r), Some(x)) = (row, mx) {
                            acc[r + x] += s[k].to_f64();
                        }
                        k += 1;
                    }
                }
            }
            // SAFETY: plane pl of dx belongs to this task.
            let d = unsafe { std::slice::from_raw_parts_mut(dp.get().add(pl * il), il) };
            for (o, &a) in d.iter_mut().zip(&acc) {
                *o = T::from_f64(a);
            }
        }
    });
    Ok(())
}

fn one_input(op: &str, inputs: &[Desc], n: usize) -> Result<()> {
    if inputs.len() != n {
        return Err(Error::Value(format!(
            "operator {op} takes {n} input(s), {} given",
            inputs.len()
        )));
    }
    Ok(())
}

fn backward_op(cfg: Arc<Cfg>) -> Arc<dyn Operator> {
    const B: &str = "_backward_Pad";
    let c2 = cfg.clone();
    FnOp::new(
        B,
        move |inputs| {
            one_input(B, inputs, 2)?;
            let want = cfg.out_shape(&inputs[1].shape)?;
            if inputs[0].shape != want {
                return Err(Error::shape(
                    B,
                    format!("output gradient {} must have shape {want}", inputs[0].shape),
                ));
            }
            Ok(vec![Desc::new(inputs[1].shape.clone(), inputs[1].dtype)])
        },
        move |_, ins, outs| {
            by_type!(
                B,
                ins[1].dtype(),
                backward_t,
                &c2,
                &ins[0],
                &ins[1],
                &outs[0]
            )
        },
    )
    .arc()
}

fn pad_op(cfg: Cfg) -> Arc<dyn Operator> {
    let cfg = Arc::new(cfg);
    let (c1, c2, c3) = (cfg.clone(), cfg.clone(), cfg);
    FnOp::new(
        OP,
        move |inputs| {
            one_input(OP, inputs, 1)?;
            Ok(vec![Desc::new(
                c1.out_shape(&inputs[0].shape)?,
                inputs[0].dtype,
            )])
        },
        move |_, ins, outs| by_type!(OP, ins[0].dtype(), forward_t, &c2, &ins[0], &outs[0]),
    )
    .with_grad(move |g, a| {
        let dy = a
            .out_grads
            .first()
            .ok_or_else(|| Error::Internal("Pad gradient without out_grad".into()))?;
        let mut o = g.apply(backward_op(c3.clone()), &[dy.clone(), a.inputs[0].clone()]);
        Ok(vec![Some(o.swap_remove(0))])
    })
    .arc()
}

pub fn register(r: &mut Registry) {
    r.add(def(
        OP,
        "Pads an input array with a constant or edge values of the array. Only 4-D and 5-D \
         arrays are supported, padded on their spatial axes (pad_width is zero for the first two \
         axes). mode 'constant' pads with constant_value, 'edge' repeats the edge values, \
         'reflect' mirrors the array about its edges without repeating them.",
        vec![
            param(
                "mode",
                "{'constant', 'edge', 'reflect'}",
                None,
                "Padding type to use. \"constant\" pads with `constant_value` \"edge\" pads using \
                 the edge values of the input array \"reflect\" pads by reflecting values with \
                 respect to the edges.",
            ),
            param(
                "pad_width",
                "Shape(tuple)",
                None,
                "Widths of the padding regions applied to the edges of each axis. It is a tuple \
                 of integer padding widths for each axis of the format ``(before_1, after_1, ... \
                 , before_N, after_N)``. It should be of length ``2*N`` where ``N`` is the number \
                 of dimensions of the array. This is equivalent to pad_width in numpy.pad, but \
                 flattened.",
            ),
            param(
                "constant_value",
                "double",
                Some("0"),
                "The value used for padding when `mode` is \"constant\".",
            ),
        ],
        Inputs::Fixed(&["data"]),
        |p| {
            let mode = match p.choice("mode", &["constant", "edge", "reflect"])? {
                "constant" => Mode::Constant,
                "edge" => Mode::Edge,
                _ => Mode::Reflect,
            };
            Ok(pad_op(Cfg {
                mode,
                width: p.shape("pad_width")?,
                value: p.float("constant_value")?,
            }))
        },
    ));
    r.alias("pad", OP);
}

#[cfg(test)]
mod tests {
    use crate::op::test_util::{arr, check_grad, err, rand64, run};

    /// numpy.pad over the last `k` axes, written out per mode.
    fn naive(shape: &[usize], x: &[f64], w: &[usize], mode: &str, cv: f64) -> Vec<f64> {
        let nd = shape.len();
        let out: Vec<usize> = (0..nd)
            .map(|i| shape[i] + w[2 * i] + w[2 * i + 1])
            .collect();
        let total: usize = out.iter().product();
        (0..total)
            .map(|mut f| {
                let mut idx = vec![0isize; nd];
                for i in (0..nd).rev() {
                    idx[i] = (f % out[i]) as isize - w[2 * i] as isize;
                    f /= out[i];
                }
                let mut flat = 0usize;
                for i in 0..nd {
                    let n = shape[i] as isize;
                    let mut p = idx[i];
                    if p < 0 || p >= n {
                        match mode {
                            "constant" => return cv,
                            "edge" => p = p.clamp(0, n - 1),
                            _ => p = if p < 0 { -p } else { 2 * (n - 1) - p },
                        }
                    }
                    flat = flat * shape[i] + p as usize;
                }
                x[flat]
            })
            .collect()
    }

    fn tup(v: &[usize]) -> String {
        let s: Vec<String> = v.iter().map(|d| d.to_string()).collect();
        format!("({})", s.join(","))
    }

    #[test]
    fn pad_matches_numpy_definition() {
        let cases: &[(&[usize], &[usize])] = &[
            (&[1, 1, 2, 3], &[0, 0, 0, 0, 1, 1, 2, 2]),
            (&[2, 3, 4, 5], &[0, 0, 0, 0, 3, 0, 1, 4]),
            (&[1, 2, 3, 4, 5], &[0, 0, 0, 0, 1, 2, 0, 3, 4, 1]),
            (&[1, 2, 1, 1], &[0, 0, 0, 0, 2, 1, 3, 2]),
        ];
        for &(shape, w) in cases {
            let n: usize = shape.iter().product();
            let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
            for mode in ["constant", "edge", "reflect"] {
                let ws = tup(w);
                let a = [
                    ("mode", mode),
                    ("pad_width", ws.as_str()),
                    ("constant_value", "-1.5"),
                ];
                let refl_ok =
                    (2..shape.len()).all(|i| w[2 * i] < shape[i] && w[2 * i + 1] < shape[i]);
                if mode == "reflect" && !refl_ok {
                    let e = err("Pad", &[arr(shape, &x)], &a);
                    assert!(e.to_string().contains("reflection"), "{e}");
                    continue;
                }
                let got = run("Pad", &[arr(shape, &x)], &a).to_vec::<f64>().unwrap();
                assert_eq!(
                    got,
                    naive(shape, &x, w, mode, -1.5),
                    "{mode} {shape:?} {w:?}"
                );
            }
        }
        // MXNet 1.9.1's output for reflect on arange(6).reshape(1,1,2,3).
        let x = arr(&[1, 1, 2, 3], &[0f32, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let got = run(
            "pad",
            &[x],
            &[("mode", "reflect"), ("pad_width", "(0,0,0,0,1,1,2,2)")],
        );
        assert_eq!(
            got.to_vec::<f32>().unwrap()[..14],
            [5.0, 4.0, 3.0, 4.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0]
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = arr(&[1, 1, 2, 3], &[0f32; 6]);
        let e = err(
            "Pad",
            &[arr(&[2, 3], &[0f32; 6])],
            &[("mode", "constant"), ("pad_width", "(0,0,1,1)")],
        );
        assert!(e.to_string().contains("4-D or 5-D"), "{e}");
        let e = err(
            "Pad",
            std::slice::from_ref(&x),
            &[("mode", "constant"), ("pad_width", "(0,1,0,0,1,1,2,2)")],
        );
        assert!(e.to_string().contains("first two axes"), "{e}");
        let e = err(
            "Pad",
            std::slice::from_ref(&x),
            &[("mode", "constant"), ("pad_width", "(0,0,0,0,1,1)")],
        );
        assert!(e.to_string().contains("pad_width"), "{e}");
        let e = err(
            "Pad",
            &[x],
            &[("mode", "wrap"), ("pad_width", "(0,0,0,0,1,1,1,1)")],
        );
        assert!(e.to_string().contains("mode"), "{e}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = rand64(&[2, 2, 3, 4], -1.0, 1.0, 1);
        for mode in ["constant", "edge", "reflect"] {
            check_grad(
                "Pad",
                &[
                    ("mode", mode),
                    ("pad_width", "(0,0,0,0,2,1,1,3)"),
                    ("constant_value", "2"),
                ],
                std::slice::from_ref(&x),
                &[0],
            );
        }
        let x = rand64(&[1, 2, 3, 3, 4], -1.0, 1.0, 2);
        check_grad(
            "Pad",
            &[("mode", "reflect"), ("pad_width", "(0,0,0,0,1,2,2,0,1,1)")],
            &[x],
            &[0],
        );
    }
}
