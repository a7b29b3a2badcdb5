//! `CTCLoss` (aliases `ctc_loss`, `_contrib_CTCLoss`, `_contrib_ctc_loss`): connectionist
//! temporal classification loss of activations `data` (T, N, alphabet), softmax taken inside,
//! against padded labels (N, L). The output is each sample's negative log-likelihood (N,).
//!
//! As MXNet: with `blank_label='first'` the blank is 0, labels are 1..alphabet-1 and 0 pads;
//! with `'last'` the blank is alphabet-1, labels are 0..alphabet-2 and -1 pads. A label's
//! length is its first padding position unless `use_label_lengths` supplies it; a sample's
//! length is T unless `use_data_lengths` supplies it (values truncated to integers). A label
//! that needs more steps than the sample has (length + repeated neighbours > steps) costs 0
//! with zero gradient. The forward-backward recursions run in log space in float64; the
//! gradient with respect to the activations is softmax - occupancy / likelihood, zero past a
//! sample's length. Where MXNet reads out of bounds (labels outside the alphabet, lengths
//! beyond the arrays), this is an error; an empty label costs -sum log p(blank).

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use crate::with_dtype;
use std::sync::Arc;

const OP: &str = "CTCLoss";

#[derive(Debug, Clone, Copy)]
struct Cfg {
    data_lengths: bool,
    label_lengths: bool,
    blank_last: bool,
}

impl Cfg {
    fn num_inputs(&self) -> usize {
        2 + self.data_lengths as usize + self.label_lengths as usize
    }
    fn names(&self) -> Vec<String> {
        let mut v = vec!["data".to_string(), "label".to_string()];
        if self.data_lengths {
            v.push("data_lengths".into());
        }
        if self.label_lengths {
            v.push("label_lengths".into());
        }
        v
    }
}

fn check_shapes(cfg: Cfg, op: &str, ins: &[&Shape]) -> Result<()> {
    let names = cfg.names();
    if ins.len() != names.len() {
        return Err(Error::Value(format!(
            "operator {op} takes {} inputs ({}) with use_data_lengths={} and \
             use_label_lengths={}, {} given",
            names.len(),
            names.join(", "),
            cfg.data_lengths,
            cfg.label_lengths,
            ins.len()
        )));
    }
    let (d, l) = (ins[0], ins[1]);
    if d.ndim() != 3 {
        return Err(Error::shape(
            op,
            format!("data must be 3-D (sequence_length, batch, alphabet_size), got {d}"),
        ));
    }
    if l.ndim() != 2 || l[0] != d[1] {
        return Err(Error::shape(
            op,
            format!("label must be 2-D (batch, max_label_length) with data's batch size, got data {d} and label {l}"),
        ));
    }
    if l[1] > d[0] {
        return Err(Error::shape(
            op,
            format!(
                "The max number of labels cannot exceed the maximum sequence length of the \
                 data: label {l}, data {d}"
            ),
        ));
    }
    for (k, s) in ins.iter().enumerate().skip(2) {
        if s.ndim() != 1 || s[0] != d[1] {
            return Err(Error::shape(
                op,
                format!(
                    "{} must be a vector of the batch size {}, got {s}",
                    names[k], d[1]
                ),
            ));
        }
    }
    Ok(())
}

/// Values of an array as f64 (labels and lengths come in any dtype). Inside an op reading `a`.
fn values(a: &NDArray) -> Vec<f64> {
    with_dtype!(a.dtype(), T, {
        // SAFETY: the calling op reads a.
        unsafe { a.data::<T>() }
            .iter()
            .map(|v| v.to_f64())
            .collect()
    })
}

/// Each sample's (steps, labels) from the inputs, validated.
#[allow(clippy::type_complexity)]
fn sequences(cfg: Cfg, ins: &[NDArray]) -> Result<(Vec<usize>, Vec<Vec<usize>>)> {
    let d = ins[0].shape();
    let (t, n, a) = (d[0], d[1], d[2]);
    let lab = values(&ins[1]);
    let width = ins[1].shape()[1];
    let mut k = 2;
    let steps: Vec<usize> = if cfg.data_lengths {
        k += 1;
        values(&ins[2])
            .iter()
            .enumerate()
            .map(|(b, &v)| {
                let s = v.trunc();
                if s >= 0.0 && s <= t as f64 {
                    Ok(s as usize)
                } else {
                    Err(Error::Value(format!(
                        "operator {OP}: data_lengths[{b}] = {v} is outside [0, {t}]"
                    )))
                }
            })
            .collect::<Result<_>>()?
    } else {
        vec![t; n]
    };
    let lens: Option<Vec<f64>> = cfg.label_lengths.then(|| values(&ins[k]));
    let pad = if cfg.blank_last { -1.0 } else { 0.0 };
    let (lo, hi) = if cfg.blank_last {
        (0, a.saturating_sub(2))
    } else {
        (1, a.saturating_sub(1))
    };
    let mut labels = Vec::with_capacity(n);
    for b in 0..n {
        let row = &lab[b * width..][..width];
        let len = match &lens {
            Some(l) => {
                let v = l[b].trunc();
                if !(v >= 0.0 && v <= width as f64) {
                    return Err(Error::Value(format!(
                        "operator {OP}: label_lengths[{b}] = {} is outside [0, {width}]",
                        l[b]
                    )));
                }
                v as usize
            }
            None => row.iter().position(|v| v.trunc() == pad).unwrap_or(width),
        };
        let seq = row[..len]
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let c = v.trunc();
                if c >= lo as f64 && c <= hi as f64 && lo <= hi {
                    Ok(c as usize)
                } else {
                    Err(Error::Value(format!(
                        "operator {OP}: label[{b}, {i}] = {v} is not a token of an alphabet of \
                         size {a} with blank_label='{}' (tokens {lo}..={hi})",
                        if cfg.blank_last { "last" } else { "first" }
                    )))
                }
            })
            .collect::<Result<Vec<usize>>>()?;
        labels.push(seq);
    }
    Ok((steps, labels))
}

fn log_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// Loss of one sample and, into `grad` (steps x alphabet, zeroed), its gradient with respect
/// to the activations. `lp` holds log-softmax rows of the sample's steps.
fn ctc_one(lp: &[f64], a: usize, label: &[usize], blank: usize, grad: &mut [f64]) -> f64 {
    let t_len = lp.len() / a;
    let l = label.len();
    let repeats = label.windows(2).filter(|w| w[0] == w[1]).count();
    if l + repeats > t_len {
        return 0.0;
    }
    if t_len == 0 {
        return 0.0; // an empty label over no steps: probability 1
    }
    let s_len = 2 * l + 1;
    let z = |s: usize| {
        if s.is_multiple_of(2) {
            blank
        } else {
            label[s / 2]
        }
    };
    // Skipping a blank from s - 2 is allowed onto a token that differs from the previous one.
    let skip = |s: usize| s >= 2 && z(s) != blank && z(s) != z(s - 2);
    let ninf = f64::NEG_INFINITY;
    let mut alpha = vec![ninf; t_len * s_len];
    alpha[0] = lp[blank];
    if s_len > 1 {
        alpha[1] = lp[z(1)];
    }
    for t in 1..t_len {
        for s in 0..s_len {
            let p = &alpha[(t - 1) * s_len..t * s_len];
            let mut v = p[s];
            if s >= 1 {
                v = log_add(v, p[s - 1]);
            }
            if skip(s) {
                v = log_add(v, p[s - 2]);
            }
            alpha[t * s_len + s] = v + lp[t * a + z(s)];
        }
    }
    let last = &alpha[(t_len - 1) * s_len..];
    let log_z = if s_len > 1 {
        log_add(last[s_len - 1], last[s_len - 2])
    } else {
        last[0]
    };
    let mut beta = vec![ninf; t_len * s_len];
    let tl = t_len - 1;
    beta[tl * s_len + s_len - 1] = lp[tl * a + blank];
    if s_len > 1 {
        beta[tl * s_len + s_len - 2] = lp[tl * a + z(s_len - 2)];
    }
    for t in (0..tl).rev() {
        for s in 0..s_len {
            let nx = &beta[(t + 1) * s_len..(t + 2) * s_len];
            let mut v = nx[s];
            if s + 1 < s_len {
                v = log_add(v, nx[s + 1]);
            }
            if s + 2 < s_len && skip(s + 2) {
                v = log_add(v, nx[s + 2]);
            }
            beta[t * s_len + s] = v + lp[t * a + z(s)];
        }
    }
    let mut occ = vec![ninf; a];
    for t in 0..t_len {
        occ.fill(ninf);
        for s in 0..s_len {
            let k = z(s);
            occ[k] = log_add(occ[k], alpha[t * s_len + s] + beta[t * s_len + s]);
        }
        for (k, &ok) in occ.iter().enumerate() {
            let y = lp[t * a + k];
            // alpha and beta both include step t's emission: divide it out once.
            let o = if ok == ninf || log_z == ninf {
                0.0
            } else {
                (ok - y - log_z).exp()
            };
            grad[t * a + k] = y.exp() - o;
        }
    }
    -log_z
}

/// Loss (N,) and, when `grad_scale` is given (dY per sample), the data gradient.
fn run<T: Element>(
    cfg: Cfg,
    ins: &[NDArray],
    loss: Option<&NDArray>,
    grad: Option<(&[f64], &NDArray)>,
) -> Result<()> {
    let d = ins[0].shape();
    let (t, n, a) = (d[0], d[1], d[2]);
    let (steps, labels) = sequences(cfg, ins)?;
    let blank = if cfg.blank_last { a - 1 } else { 0 };
    // SAFETY: inside the op reading ins[0].
    let x = unsafe { ins[0].data::<T>() };
    // SAFETY: the outputs are written by this op only.
    let lo = loss.map(|o| Ptr(unsafe { o.raw() } as *mut T));
    // SAFETY: as above.
    let go = grad.map(|(s, g)| (s, Ptr(unsafe { g.raw() } as *mut T)));
    par_ranges(n, t * a * 16, |b0, b1| {
        let mut lp = vec![0.0f64; t * a];
        let mut gr = vec![0.0f64; t * a];
        for b in b0..b1 {
            let tb = steps[b];
            for s in 0..tb {
                let row = &x[(s * n + b) * a..][..a];
                let m = row.iter().fold(f64::NEG_INFINITY, |m, v| m.max(v.to_f64()));
                let sum: f64 = row.iter().map(|v| (v.to_f64() - m).exp()).sum();
                let ls = m + sum.ln();
                for (k, v) in row.iter().enumerate() {
                    lp[s * a + k] = v.to_f64() - ls;
                }
            }
            gr[..tb * a].fill(0.0);
            let l = ctc_one(&lp[..tb * a], a, &labels[b], blank, &mut gr[..tb * a]);
            if let Some(o) = lo {
                // SAFETY: loss element b belongs to this task.
                unsafe { *o.get().add(b) = T::from_f64(l) };
            }
            if let Some((scale, g)) = go {
                for s in 0..t {
                    for k in 0..a {
                        let v = if s < tb {
                            gr[s * a + k] * scale[b]
                        } else {
                            0.0
                        };
                        // SAFETY: sample b's rows of the gradient belong to this task.
                        unsafe { *g.get().add((s * n + b) * a + k) = T::from_f64(v) };
                    }
                }
            }
        }
    });
    Ok(())
}

fn by_float(op: &str, d: DType, f: impl FnOnce(DType) -> Result<()>) -> Result<()> {
    match d {
        DType::F16 | DType::F32 | DType::F64 => f(d),
        d => Err(Error::dtype(
            op,
            format!("expects float16, float32 or float64 data, got {d}"),
        )),
    }
}

fn dispatch(
    cfg: Cfg,
    ins: &[NDArray],
    loss: Option<&NDArray>,
    grad: Option<(&[f64], &NDArray)>,
) -> Result<()> {
    by_float(OP, ins[0].dtype(), |d| match d {
        DType::F16 => run::<half::f16>(cfg, ins, loss, grad),
        DType::F32 => run::<f32>(cfg, ins, loss, grad),
        _ => run::<f64>(cfg, ins, loss, grad),
    })
}

/// Inputs dY (N,) then the forward inputs; output the data gradient.
fn backward_op(cfg: Cfg) -> Arc<dyn Operator> {
    const B: &str = "_backward_CTCLoss";
    FnOp::new(
        B,
        move |ins| {
            let shapes: Vec<&Shape> = ins.iter().skip(1).map(|d| &d.shape).collect();
            check_shapes(cfg, B, &shapes)?;
            let d = &ins[1];
            if ins[0].shape.dims() != [d.shape[1]] {
                return Err(Error::shape(
                    B,
                    format!("output gradient {} must be ({},)", ins[0].shape, d.shape[1]),
                ));
            }
            Ok(vec![Desc::new(d.shape.clone(), d.dtype)])
        },
        move |_, ins, outs| {
            let dy = values(&ins[0]);
            dispatch(cfg, &ins[1..], None, Some((&dy, &outs[0])))
        },
    )
    .arc()
}

fn ctc_op(cfg: Cfg) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        OP,
        move |ins| {
            let shapes: Vec<&Shape> = ins.iter().map(|d| &d.shape).collect();
            check_shapes(cfg, OP, &shapes)?;
            let dt = super::float(OP, ins[0].dtype)?;
            Ok(vec![Desc::new(Shape::new(vec![ins[0].shape[1]]), dt)])
        },
        move |_, ins, outs| dispatch(cfg, ins, Some(&outs[0]), None),
    )
    .with_type_partial(|ins, outs| {
        // The loss has the data's dtype; labels and lengths may be of any dtype (the data's
        // when nothing else says).
        if let Some(d) = ins[0].or(outs[0]) {
            ins[0] = Some(d);
            outs[0] = Some(d);
            for l in ins.iter_mut().skip(1) {
                l.get_or_insert(d);
            }
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let dy = a
            .out_grads
            .first()
            .cloned()
            .ok_or_else(|| Error::Internal("CTCLoss gradient without out_grad".into()))?;
        let mut ins = vec![dy];
        ins.extend(a.inputs.iter().cloned());
        let gd = g.apply(backward_op(cfg), &ins).swap_remove(0);
        let mut out = vec![Some(gd)];
        out.extend((1..a.inputs.len()).map(|_| None));
        Ok(out)
    });
    op.num_inputs = Some(cfg.num_inputs());
    op.input_names = Some(cfg.names());
    op.output_names = Some(vec!["output0".into()]);
    // MXNet keeps the gradient as a hidden output.
    op.mxnet_outputs = Some(2);
    op.arc()
}

pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Connectionist Temporal Classification Loss. data (sequence_length, batch, \
              alphabet_size) are unnormalised activations (softmax is applied inside); label \
              (batch, max_label_length) is padded with 0 (blank_label='first': blank 0, tokens \
              1..alphabet_size-1) or -1 (blank_label='last': blank alphabet_size-1). Optional \
              data_lengths and label_lengths (batch,) give each sample's lengths. The output is \
              the negative log-likelihood per sample, shape (batch,)."
            .into(),
        params: vec![
            param(
                "use_data_lengths",
                "boolean, optional",
                Some("0"),
                "Whether the data lenghts are decided by `data_lengths`. If false, the lengths \
                 are equal to the max sequence length.",
            ),
            param(
                "use_label_lengths",
                "boolean, optional",
                Some("0"),
                "Whether the label lenghts are decided by `label_lengths`, or derived from \
                 `padding_mask`. If false, the lengths are derived from the first occurrence of \
                 the value of `padding_mask`. The value of `padding_mask` is ``0`` when first \
                 CTC label is reserved for blank, and ``-1`` when last label is reserved for \
                 blank. See `blank_label`.",
            ),
            param(
                "blank_label",
                "{'first', 'last'},optional",
                Some("'first'"),
                "Set the label that is reserved for blank label.If \"first\", 0-th label is \
                 reserved, and label values for tokens in the vocabulary are between ``1`` and \
                 ``alphabet_size-1``, and the padding mask is ``0``. If \"last\", last label \
                 value ``alphabet_size-1`` is reserved for blank label instead, and label values \
                 for tokens in the vocabulary are between ``0`` and ``alphabet_size-2``, and the \
                 padding mask is ``-1``.",
            ),
        ],
        inputs: Inputs::Fixed(&["data", "label", "data_lengths", "label_lengths"]),
        create: Box::new(|p| {
            Ok(ctc_op(Cfg {
                data_lengths: p.bool("use_data_lengths")?,
                label_lengths: p.bool("use_label_lengths")?,
                blank_last: p.choice("blank_label", &["first", "last"])? == "last",
            }))
        }),
    });
    r.alias("ctc_loss", OP);
    r.alias("_contrib_CTCLoss", OP);
    r.alias("_contrib_ctc_loss", OP);
}

#[cfg(test)]
mod tests;
