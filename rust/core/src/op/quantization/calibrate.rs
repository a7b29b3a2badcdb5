//! `_contrib_calibrate_entropy`: the KL-divergence threshold search that entropy calibration
//! runs on each layer's histogram. For every candidate threshold (a symmetric window of bins
//! around the zero bin) the window's distribution P, with the outliers folded into its end
//! bins, is compared with Q, the window merged into `num_quantized_bins` levels and expanded
//! back; the threshold with the smallest KL(P || Q) wins. The arithmetic (float32 sums in bin
//! order, counts truncated to integers where MXNet 1.9.1 stores them in integer vectors, the
//! asymmetric folding of the window's first bin) follows MXNet so the same histogram gives the
//! same threshold. Where MXNet aborts (a window whose smoothed P is empty or not positive) the
//! candidate's divergence is infinite instead.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::op::params::{param, Params};
use crate::op::{read_f64, write_f64, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "_contrib_calibrate_entropy";

/// Replaces zero entries by `eps` and takes the same total off the nonzero ones; empty when
/// every entry is zero or the nonzero ones cannot pay for the zeros.
fn smooth(p: &[f32]) -> Vec<f32> {
    const EPS: f32 = 0.0001;
    let zeros = p.iter().filter(|v| **v == 0.0).count();
    let nonzeros = p.len() - zeros;
    if nonzeros == 0 {
        return Vec::new();
    }
    let eps1 = EPS * zeros as f32 / nonzeros as f32;
    if eps1 >= 1.0 {
        return Vec::new();
    }
    p.iter()
        .map(|&v| if v == 0.0 { v + EPS } else { v - eps1 })
        .collect()
}

/// KL(p || q) of the two normalised distributions (same length, both smoothed).
fn kl_divergence(p: &[f32], q: &[f32]) -> f32 {
    let p_sum: f32 = p.iter().sum();
    let q_sum: f32 = q.iter().sum();
    let mut kl = 0.0f32;
    for (&pi, &qi) in p.iter().zip(q) {
        let (pi, qi) = (pi / p_sum, qi / q_sum);
        if pi <= 0.0 || qi <= 0.0 {
            return f32::INFINITY;
        }
        kl += pi * (pi / qi).ln();
    }
    kl
}

/// The divergence of the window of `2 * half + 1` bins centred on the zero bin.
fn window_divergence(hist: &[f32], counts: &[u64], half: usize, levels: usize) -> f32 {
    let zero = hist.len() / 2;
    let (start, stop) = (zero - half, zero + half + 1);
    let width = stop - start;
    // P: the window with everything left of it (and its own first bin) folded into p[0] and
    // everything right of it into p[width - 1].
    let mut p = vec![0.0f32; width];
    p[0] = hist[..=start].iter().sum();
    p[1..].copy_from_slice(&hist[start + 1..stop]);
    p[width - 1] += hist[stop..].iter().sum::<f32>();
    // The same window as integer counts, first bin left empty as in P's construction.
    let mut sliced = counts[start..stop].to_vec();
    sliced[0] = 0;
    let merged = width / levels;
    let mut q = vec![0.0f32; width];
    for j in 0..levels {
        let b = j * merged;
        let e = if j == levels - 1 { width } else { b + merged };
        // MXNet sums the merged counts in an `int` accumulator.
        let total = sliced[b..e]
            .iter()
            .fold(0i32, |s, &c| s.wrapping_add(c as i32));
        let nonzero = sliced[b..e].iter().filter(|&&c| c != 0).count();
        if nonzero > 0 {
            let level = total as f32 / nonzero as f32;
            for k in b..e {
                if p[k] != 0.0 {
                    q[k] = level;
                }
            }
        }
    }
    let (p, q) = (smooth(&p), smooth(&q));
    if p.is_empty() || q.is_empty() {
        return f32::INFINITY;
    }
    kl_divergence(&p, &q)
}

/// (threshold, divergence) for a histogram with `hist.len() + 1` edges.
pub fn calibrate_entropy(hist: &[f32], edges: &[f32], levels: usize) -> (f32, f32) {
    let counts: Vec<u64> = hist.iter().map(|&v| v as u64).collect();
    let first = levels / 2;
    let zero = hist.len() / 2;
    let n = zero + 1 - first;
    let mut divergence = vec![0.0f32; n];
    let out = Ptr(divergence.as_mut_ptr());
    par_ranges(n, hist.len(), |b, e| {
        for c in b..e {
            let d = window_divergence(hist, &counts, first + c, levels);
            // SAFETY: each candidate index is written by exactly one task.
            unsafe { *out.get().add(c) = d };
        }
    });
    let (mut best, mut best_div) = (0, f32::MAX);
    for (i, &d) in divergence.iter().enumerate() {
        if d < best_div {
            best = i;
            best_div = d;
        }
    }
    (edges[zero + first + best + 1], best_div)
}

fn infer(levels: usize, ins: &[Desc]) -> Result<Vec<Desc>> {
    crate::op::expect_inputs(OP, ins, 2)?;
    let (h, e) = (&ins[0], &ins[1]);
    if h.dtype != DType::F32 || e.dtype != DType::F32 {
        return Err(Error::dtype(
            OP,
            format!(
                "hist and hist_edges must be float32, got {} and {}",
                h.dtype, e.dtype
            ),
        ));
    }
    let bins = h.shape.size();
    if e.shape.size() != bins + 1 {
        return Err(Error::shape(
            OP,
            format!(
                "hist_edges must have one more element than hist, got shapes {} and {}",
                e.shape, h.shape
            ),
        ));
    }
    if bins / 2 < levels / 2 {
        return Err(Error::shape(
            OP,
            format!(
                "hist (shape {}) has fewer bins than num_quantized_bins={levels}",
                h.shape
            ),
        ));
    }
    let one = Desc::new(Shape::new(vec![1]), DType::F32);
    Ok(vec![one.clone(), one])
}

fn create(p: &Params) -> Result<Arc<dyn Operator>> {
    let levels = p.int("num_quantized_bins")?;
    if levels < 1 {
        return Err(Error::param(
            OP,
            format!("num_quantized_bins must be positive, got {levels}"),
        ));
    }
    let levels = levels as usize;
    let mut op = FnOp::new(
        OP,
        move |ins| infer(levels, ins),
        move |_, ins, outs| {
            let hist: Vec<f32> = read_f64(&ins[0]).into_iter().map(|v| v as f32).collect();
            let edges: Vec<f32> = read_f64(&ins[1]).into_iter().map(|v| v as f32).collect();
            if let Some(bad) = hist.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                return Err(Error::Value(format!(
                    "operator {OP}: hist must hold non-negative counts, found {bad}"
                )));
            }
            let (threshold, divergence) = calibrate_entropy(&hist, &edges, levels);
            write_f64(&outs[0], &[threshold as f64]);
            write_f64(&outs[1], &[divergence as f64]);
            Ok(())
        },
    );
    op.num_outputs = 2;
    op.output_names = Some(vec!["threshold".into(), "divergence".into()]);
    Ok(op.arc())
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Provide calibrated min/max for input histogram: the threshold (a histogram edge) \
              whose quantization into num_quantized_bins levels loses the least information \
              (smallest KL divergence), and that divergence. Forward only."
            .to_string(),
        params: vec![param(
            "num_quantized_bins",
            "int",
            Some("255"),
            "The number of quantized bins.",
        )],
        inputs: Inputs::Fixed(&["hist", "hist_edges"]),
        create: Box::new(create),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_moves_mass_to_zero_bins() {
        let s = smooth(&[0.0, 2.0, 0.0, 2.0]);
        assert_eq!(s, vec![0.0001, 2.0 - 0.0001, 0.0001, 2.0 - 0.0001]);
        assert!(smooth(&[0.0, 0.0]).is_empty());
    }

    #[test]
    fn uniform_histogram_keeps_every_bin() {
        // Flat counts: quantizing any window loses nothing inside it, and the widest window
        // folds no outliers, so the last candidate (the full range) wins with divergence ~0.
        let hist = vec![10.0f32; 21];
        let edges: Vec<f32> = (0..22).map(|i| -1.0 + 2.0 * i as f32 / 21.0).collect();
        let (t, d) = calibrate_entropy(&hist, &edges, 5);
        assert_eq!(t, edges[21]);
        assert!(d.abs() < 1e-5, "{d}");
    }
}
