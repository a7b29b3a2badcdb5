//! `LRN` (cross-channel local response normalisation) and `L2Normalization`. Both work on
//! groups of elements `(o, j, i)`, j in 0..n at stride `inner`, accumulate in f64 whatever
//! the float dtype, and recompute the normaliser in the backward instead of keeping MXNet's
//! hidden `tmp_norm`/`norm` output (the graph shows one output either way).

use super::float;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use std::sync::Arc;

/// (outer, n, inner): groups of n elements at stride inner.
type Geom = (usize, usize, usize);

#[derive(Clone, Copy)]
struct LrnCfg {
    alpha: f64,
    beta: f64,
    knorm: f64,
    nsize: usize,
}

impl LrnCfg {
    /// Channels each side of the centre: MXNet sums `(nsize - 1) / 2` each side, so an even
    /// `nsize` covers nsize - 1 channels while `alpha / nsize` still divides by nsize.
    fn half(&self) -> usize {
        (self.nsize - 1) / 2
    }
}

fn lrn_geom(op: &str, s: &Shape) -> Result<Geom> {
    if s.ndim() != 4 {
        return Err(Error::shape(
            op,
            format!("expects 4-D data (batch, channel, height, width), got shape {s}"),
        ));
    }
    let d = s.dims();
    Ok((d[0], d[1], d[2] * d[3]))
}

/// `knorm + alpha / nsize * sum of x^2 over the channel window`, for every element.
fn lrn_norm<T: Element>(x: &[T], (outer, c, inner): Geom, cfg: LrnCfg) -> Vec<f64> {
    let mut norm = vec![0.0; x.len()];
    let np = Ptr(norm.as_mut_ptr());
    let h = cfg.half();
    let scale = cfg.alpha / cfg.nsize as f64;
    par_ranges(outer, c * inner * (2 * h + 1), |b, e| {
        for o in b..e {
            for k in 0..c {
                let (lo, hi) = (k.saturating_sub(h), (k + h).min(c - 1));
                // SAFETY: channel k of batch o is written by this task only.
                let out = unsafe {
                    std::slice::from_raw_parts_mut(np.get().add((o * c + k) * inner), inner)
                };
                out.fill(0.0);
                for j in lo..=hi {
                    let row = &x[(o * c + j) * inner..(o * c + j + 1) * inner];
                    for (s, v) in out.iter_mut().zip(row) {
                        let v = v.to_f64();
                        *s += v * v;
                    }
                }
                for s in out.iter_mut() {
                    *s = cfg.knorm + scale * *s;
                }
            }
        }
    });
    norm
}

fn lrn_forward<T: Element>(x: &NDArray, y: &NDArray, cfg: LrnCfg) -> Result<()> {
    let g = lrn_geom("LRN", x.shape())?;
    // SAFETY: inside the op reading x and writing y (fresh, not aliased).
    let (xs, ys) = unsafe { (x.data::<T>(), y.data_mut::<T>()) };
    let norm = lrn_norm(xs, g, cfg);
    for ((y, &x), n) in ys.iter_mut().zip(xs).zip(&norm) {
        *y = T::from_f64(x.to_f64() * n.powf(-cfg.beta));
    }
    Ok(())
}

/// dx_k = g_k n_k^-b - 2 b alpha / nsize x_k sum_{c in win(k)} g_c x_c n_c^(-b-1); the
/// window is symmetric, so the channels whose window holds k are win(k).
fn lrn_backward<T: Element>(og: &NDArray, x: &NDArray, dx: &NDArray, cfg: LrnCfg) -> Result<()> {
    let geom = lrn_geom("LRN", x.shape())?;
    let (outer, c, inner) = geom;
    // SAFETY: inside the op reading og and x and writing dx (fresh).
    let (gs, xs, dxs) = unsafe { (og.data::<T>(), x.data::<T>(), dx.data_mut::<T>()) };
    let norm = lrn_norm(xs, geom, cfg);
    // t_c = g_c x_c n_c^(-b-1)
    let t: Vec<f64> = gs
        .iter()
        .zip(xs)
        .zip(&norm)
        .map(|((g, x), n)| g.to_f64() * x.to_f64() * n.powf(-cfg.beta - 1.0))
        .collect();
    let h = cfg.half();
    let coef = 2.0 * cfg.beta * cfg.alpha / cfg.nsize as f64;
    let dp = Ptr(dxs.as_mut_ptr());
    par_ranges(outer, c * inner * (2 * h + 1), |b, e| {
        let mut acc = vec![0.0; inner];
        for o in b..e {
            for k in 0..c {
                let (lo, hi) = (k.saturating_sub(h), (k + h).min(c - 1));
                acc.fill(0.0);
                for j in lo..=hi {
                    let row = &t[(o * c + j) * inner..(o * c + j + 1) * inner];
                    for (a, v) in acc.iter_mut().zip(row) {
                        *a += v;
                    }
                }
                let at = (o * c + k) * inner;
                // SAFETY: channel k of batch o is written by this task only.
                let out = unsafe { std::slice::from_raw_parts_mut(dp.get().add(at), inner) };
                for (i, d) in out.iter_mut().enumerate() {
                    let (g, x, n) = (gs[at + i].to_f64(), xs[at + i].to_f64(), norm[at + i]);
                    *d = T::from_f64(g * n.powf(-cfg.beta) - coef * x * acc[i]);
                }
            }
        }
    });
    Ok(())
}

fn lrn_op(cfg: LrnCfg) -> Arc<dyn Operator> {
    const NAME: &str = "LRN";
    FnOp::new(
        NAME,
        |ins| {
            expect_inputs(NAME, ins, 1)?;
            float(NAME, ins[0].dtype)?;
            lrn_geom(NAME, &ins[0].shape)?;
            Ok(vec![ins[0].clone()])
        },
        move |_, ins, outs| by_float!(NAME, ins[0].dtype(), lrn_forward, &ins[0], &outs[0], cfg),
    )
    .with_shape_partial(crate::graph::infer::same_shape_partial)
    // MXNet keeps the norm as a hidden output.
    .with_mxnet_outputs(2)
    .with_grad(move |g, a| {
        let bwd = FnOp::new(
            "_backward_LRN",
            |ins| Ok(vec![ins[1].clone()]),
            move |_, ins, outs| {
                by_float!(
                    NAME,
                    ins[1].dtype(),
                    lrn_backward,
                    &ins[0],
                    &ins[1],
                    &outs[0],
                    cfg
                )
            },
        );
        let r = g.apply(bwd.arc(), &[a.out_grads[0].clone(), a.inputs[0].clone()]);
        Ok(vec![Some(r[0].clone())])
    })
    .arc()
}

#[derive(Clone, Copy, PartialEq)]
enum L2Mode {
    Instance,
    Channel,
    Spatial,
}

/// Groups of L2Normalization: every element but the batch axis (instance), the channel axis
/// (channel), or the axes after the channel (spatial).
fn l2_geom(mode: L2Mode, s: &Shape) -> Result<Geom> {
    let d = s.dims();
    if mode != L2Mode::Instance && d.len() < 3 {
        return Err(Error::shape(
            "L2Normalization",
            format!("mode channel and spatial expect data with at least 3 dimensions (batch, channel, spatial...), got shape {s}"),
        ));
    }
    if d.is_empty() {
        return Err(Error::shape(
            "L2Normalization",
            "expects data with at least one dimension, got shape []",
        ));
    }
    let rest = |from: usize| d[from..].iter().product::<usize>();
    Ok(match mode {
        L2Mode::Instance => (d[0], rest(1), 1),
        L2Mode::Channel => (d[0], d[1], rest(2)),
        L2Mode::Spatial => (d[0] * d[1], rest(2), 1),
    })
}

/// Σ a·b in f64, with eight partial sums so that the loop vectorises.
fn flat_dot<T: Element>(a: &[T], b: &[T]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x.to_f64() * y.to_f64())
        .sum();
    for (xa, xb) in ca.zip(cb) {
        for ((s, x), y) in acc.iter_mut().zip(xa).zip(xb) {
            *s += x.to_f64() * y.to_f64();
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// 1 / sqrt(sum x^2 + eps) of group `xs` (n rows of `inner`) at each inner position.
fn l2_inv_norms<T: Element>(xs: &[T], inner: usize, eps: f64) -> Vec<f64> {
    let mut s = vec![0.0; inner];
    if inner == 1 {
        s[0] = flat_dot(xs, xs);
    } else {
        for row in xs.chunks_exact(inner) {
            for (a, v) in s.iter_mut().zip(row) {
                *a += v.to_f64() * v.to_f64();
            }
        }
    }
    s.iter_mut().for_each(|v| *v = 1.0 / (*v + eps).sqrt());
    s
}

/// Runs `f(o, x_group, out_group)` for every group, in parallel over groups.
fn l2_groups<T: Element>(
    xs: &[T],
    out: &NDArray,
    (outer, n, inner): Geom,
    f: impl Fn(usize, &[T], &mut [T]) + Sync + Send,
) {
    let len = n * inner;
    if len == 0 {
        return; // nothing to write, and rows of zero length cannot be chunked
    }
    // SAFETY: inside the op writing out (fresh, shaped like xs).
    let po = unsafe { Ptr(out.raw() as *mut T) };
    par_ranges(outer, len, |b, e| {
        for o in b..e {
            // SAFETY: group o of the output belongs to this task only.
            let ys = unsafe { std::slice::from_raw_parts_mut(po.get().add(o * len), len) };
            f(o, &xs[o * len..(o + 1) * len], ys);
        }
    });
}

fn l2_forward<T: Element>(x: &NDArray, y: &NDArray, mode: L2Mode, eps: f64) -> Result<()> {
    let g = l2_geom(mode, x.shape())?;
    // SAFETY: inside the op reading x.
    let xs = unsafe { x.data::<T>() };
    l2_groups(xs, y, g, |_, xg, yg| {
        let inv = l2_inv_norms(xg, g.2, eps);
        if let [r] = inv[..] {
            // One norm per group: a flat loop rather than rows of one element.
            for (y, x) in yg.iter_mut().zip(xg) {
                *y = T::from_f64(x.to_f64() * r);
            }
            return;
        }
        for (xr, yr) in xg.chunks_exact(g.2).zip(yg.chunks_exact_mut(g.2)) {
            for ((y, x), r) in yr.iter_mut().zip(xr).zip(&inv) {
                *y = T::from_f64(x.to_f64() * r);
            }
        }
    });
    Ok(())
}

/// dx = (g - y sum(g y)) / norm over each group, with y = x / norm.
fn l2_backward<T: Element>(
    og: &NDArray,
    x: &NDArray,
    dx: &NDArray,
    mode: L2Mode,
    eps: f64,
) -> Result<()> {
    let geom = l2_geom(mode, x.shape())?;
    let (_, n, inner) = geom;
    // SAFETY: inside the op reading og and x.
    let (gs, xs) = unsafe { (og.data::<T>(), x.data::<T>()) };
    l2_groups(xs, dx, geom, |o, xg, dg| {
        let gg = &gs[o * n * inner..(o + 1) * n * inner];
        let inv = l2_inv_norms(xg, inner, eps);
        if let [r] = inv[..] {
            let dot = flat_dot(gg, xg) * r;
            for ((d, x), g) in dg.iter_mut().zip(xg).zip(gg) {
                *d = T::from_f64((g.to_f64() - x.to_f64() * r * dot) * r);
            }
            return;
        }
        let mut dot = vec![0.0; inner];
        for (xr, gr) in xg.chunks_exact(inner).zip(gg.chunks_exact(inner)) {
            for (((d, x), g), r) in dot.iter_mut().zip(xr).zip(gr).zip(&inv) {
                *d += g.to_f64() * x.to_f64() * r;
            }
        }
        let rows = xg.chunks_exact(inner).zip(gg.chunks_exact(inner));
        for ((xr, gr), dr) in rows.zip(dg.chunks_exact_mut(inner)) {
            for ((((d, x), g), r), dt) in dr.iter_mut().zip(xr).zip(gr).zip(&inv).zip(&dot) {
                *d = T::from_f64((g.to_f64() - x.to_f64() * r * dt) * r);
            }
        }
    });
    Ok(())
}

fn l2_op(mode: L2Mode, eps: f64) -> Arc<dyn Operator> {
    const NAME: &str = "L2Normalization";
    FnOp::new(
        NAME,
        move |ins| {
            expect_inputs(NAME, ins, 1)?;
            float(NAME, ins[0].dtype)?;
            l2_geom(mode, &ins[0].shape)?;
            Ok(vec![ins[0].clone()])
        },
        move |_, ins, outs| {
            by_float!(
                NAME,
                ins[0].dtype(),
                l2_forward,
                &ins[0],
                &outs[0],
                mode,
                eps
            )
        },
    )
    .with_shape_partial(crate::graph::infer::same_shape_partial)
    // MXNet keeps the norm as a hidden output.
    .with_mxnet_outputs(2)
    .with_grad(move |g, a| {
        let bwd = FnOp::new(
            "_backward_L2Normalization",
            |ins| Ok(vec![ins[1].clone()]),
            move |_, ins, outs| {
                by_float!(
                    NAME,
                    ins[1].dtype(),
                    l2_backward,
                    &ins[0],
                    &ins[1],
                    &outs[0],
                    mode,
                    eps
                )
            },
        );
        let r = g.apply(bwd.arc(), &[a.out_grads[0].clone(), a.inputs[0].clone()]);
        Ok(vec![Some(r[0].clone())])
    })
    .arc()
}

pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: "LRN",
        doc: "Applies local response normalization to the input.\n\nEach element of NCHW data is divided by (knorm + alpha / nsize * sum of the squares over the (nsize - 1) / 2 neighbouring channels on each side) ^ beta.".into(),
        params: vec![
            param("alpha", "float", Some("9.99999975e-05"), "The variance scaling parameter alpha in the LRN expression."),
            param("beta", "float", Some("0.75"), "The power parameter beta in the LRN expression."),
            param("knorm", "float", Some("2"), "The parameter k in the LRN expression."),
            param("nsize", "int (non-negative)", None, "normalization window width in elements."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let nsize = p.int("nsize")?;
            if nsize < 1 {
                return Err(Error::param("LRN", format!("nsize must be at least 1, got {nsize}")));
            }
            Ok(lrn_op(LrnCfg {
                alpha: p.float("alpha")?,
                beta: p.float("beta")?,
                knorm: p.float("knorm")?,
                nsize: nsize as usize,
            }))
        }),
    });
    r.add(SimpleDef {
        name: "L2Normalization",
        doc: "Normalize the input array using the L2 norm: out = data / sqrt(sum(data ** 2) + eps), the sum running over every axis but the first (instance), over the channel axis 1 (channel), or over the axes after the channel (spatial).".into(),
        params: vec![
            param("eps", "float", Some("1.00000001e-10"), "A small constant for numerical stability."),
            param("mode", "{'channel', 'instance', 'spatial'}", Some("'instance'"), "Specify the dimension along which to compute L2 norm."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let mode = match p.choice("mode", &["instance", "channel", "spatial"])? {
                "channel" => L2Mode::Channel,
                "spatial" => L2Mode::Spatial,
                _ => L2Mode::Instance,
            };
            Ok(l2_op(mode, p.float("eps")?))
        }),
    });
}

#[cfg(test)]
mod tests {
    use crate::op::test_util::{arr, check_grad, err, rand64, run};

    /// LRN by its definition, window (nsize - 1) / 2 each side.
    fn naive_lrn(x: &[f64], s: [usize; 4], a: f64, b: f64, k: f64, ns: usize) -> Vec<f64> {
        let (c, inner) = (s[1], s[2] * s[3]);
        let h = (ns - 1) / 2;
        let mut y = vec![0.0; x.len()];
        for (idx, out) in y.iter_mut().enumerate() {
            let (o, ch, i) = (idx / (c * inner), idx / inner % c, idx % inner);
            let lo = ch.saturating_sub(h);
            let hi = (ch + h).min(c - 1);
            let sq: f64 = (lo..=hi).map(|j| x[(o * c + j) * inner + i].powi(2)).sum();
            *out = x[idx] / (k + a / ns as f64 * sq).powf(b);
        }
        y
    }

    #[test]
    fn lrn_matches_definition_and_mxnet() {
        let s = [2usize, 7, 2, 3];
        let x = rand64(&s, -2.0, 2.0, 11);
        let xv = x.to_vec::<f64>().unwrap();
        for ns in [1usize, 2, 3, 4, 5, 9] {
            let nss = ns.to_string();
            let y = run(
                "LRN",
                std::slice::from_ref(&x),
                &[("nsize", &nss), ("alpha", "0.5")],
            );
            let want = naive_lrn(&xv, s, 0.5, 0.75, 2.0, ns);
            let got = y.to_vec::<f64>().unwrap();
            assert!(
                got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12),
                "nsize {ns}"
            );
        }
        // MXNet 1.9.1: LRN(nsize=3) of channels [1, 2, 3] at one pixel, alpha=1e-4 default.
        let y = run(
            "LRN",
            &[arr(&[1, 3, 1, 1], &[1.0f32, 2.0, 3.0])],
            &[("nsize", "3")],
        );
        let want = [0.594_566_4f32, 1.188_999, 1.783_520_7];
        let got = y.to_vec::<f32>().unwrap();
        assert!(
            got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{got:?}"
        );
        check_grad(
            "LRN",
            &[
                ("nsize", "3"),
                ("alpha", "0.7"),
                ("beta", "0.6"),
                ("knorm", "1.5"),
            ],
            &[rand64(&[2, 5, 2, 2], -1.5, 1.5, 12)],
            &[0],
        );
        check_grad(
            "LRN",
            &[("nsize", "4"), ("alpha", "0.9")],
            &[rand64(&s, -1.0, 1.0, 13)],
            &[0],
        );
        let e = err("LRN", &[arr(&[2, 3, 4], &[0.0f32; 24])], &[("nsize", "3")]);
        assert!(
            e.to_string().contains("LRN") && e.to_string().contains("[2,3,4]"),
            "{e}"
        );
        assert!(err("LRN", &[x], &[("nsize", "0")])
            .to_string()
            .contains("nsize"));
    }

    #[test]
    fn l2_normalization_modes() {
        let x = rand64(&[2, 3, 4], -1.0, 1.0, 21);
        let xv = x.to_vec::<f64>().unwrap();
        // (mode, group of each element as a key)
        let key = |mode: &str, idx: usize| -> usize {
            let (b, c, s) = (idx / 12, idx / 4 % 3, idx % 4);
            match mode {
                "instance" => b,
                "channel" => b * 4 + s,
                _ => b * 3 + c,
            }
        };
        for mode in ["instance", "channel", "spatial"] {
            let y = run(
                "L2Normalization",
                std::slice::from_ref(&x),
                &[("mode", mode)],
            );
            let got = y.to_vec::<f64>().unwrap();
            for (i, g) in got.iter().enumerate() {
                let ss: f64 = (0..24)
                    .filter(|&j| key(mode, j) == key(mode, i))
                    .map(|j| xv[j] * xv[j])
                    .sum();
                assert!((g - xv[i] / (ss + 1e-10).sqrt()).abs() < 1e-12, "{mode}");
            }
            check_grad(
                "L2Normalization",
                &[("mode", mode), ("eps", "0.01")],
                std::slice::from_ref(&x),
                &[0],
            );
        }
        // instance mode on 1-D data: each element is its own instance (MXNet gives 1s).
        let y = run("L2Normalization", &[arr(&[3], &[2.0f32, -3.0, 0.5])], &[]);
        assert_eq!(y.to_vec::<f32>().unwrap(), [1.0, -1.0, 1.0]);
        let e = err(
            "L2Normalization",
            &[arr(&[2, 3], &[0.0f32; 6])],
            &[("mode", "channel")],
        );
        assert!(
            e.to_string().contains("L2Normalization") && e.to_string().contains("[2,3]"),
            "{e}"
        );
    }
}
