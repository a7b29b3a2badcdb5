//! `_contrib_quantized_rnn`: MXNet's int8 LSTM (oneDNN's kernel on MXNet 1.9.1's CPU). The data
//! comes as uint8 levels `u = x·scale + shift` from `_contrib_quantize_asym`, with scale and
//! shift as inputs 4 and 5 (which MXNet names `min_data` and `max_data`). The float32 weights
//! are quantized to int8 row by row with `127 / max|w|` of each gate row; a step's gates are the
//! exact int32 product of the uint8 input and hidden levels with those weights, brought back to
//! float with the bias (less what the shift added), and the cell state stays float. The new
//! hidden state is quantized to uint8 with the data's scale and shift: the next step and the
//! next layer read those levels, and the outputs are them in float, so outputs lie on the
//! data's grid and within its calibrated range, as in MXNet.
//!
//! Where oxnet does better than MXNet 1.9.1:
//! - a gate row's weight scale is the largest |w| of that row over every layer and direction
//!   (MXNet's looks at stray elements past the first layer and may read past the end of
//!   `parameters`, so deeper layers saturate or change from run to run);
//! - the integer sums are exact (oneDNN on CPUs without VNNI saturates each pair of products
//!   to int16, which moves outputs by up to ~0.1);
//! - `projection_size` and `use_sequence_length` are refused (MXNet ignores the projection and
//!   computes wrong values, and fails at bind with sequence lengths), and
//!   `lstm_state_clip_min/max` clip the cell state as in `RNN` (MXNet ignores them);
//! - an all-zero weight row quantizes to zeros instead of NaN.

use super::common::{load, scalar, store, type_partial};
use super::fully_connected::product;
use super::product::expect_shape;
use super::range::{round_saturate_for, QType};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::infer::refine;
use crate::ndarray::NDArray;
use crate::op::nn::rnn::{self, clip_cell, Cfg, Mode};
use crate::op::params::param;
use crate::op::shape_ops::def;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry};
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "_contrib_quantized_rnn";
const INPUTS: [&str; 6] = [
    "data",
    "parameters",
    "state",
    "state_cell",
    "min_data",
    "max_data",
];

fn create(p: &crate::op::Params) -> Result<Arc<dyn Operator>> {
    let cfg = rnn::parse(p)?;
    if cfg.mode != Mode::Lstm {
        return Err(Error::param(
            OP,
            format!(
                "Quantized recurrent neural network only supports LSTM operator on CPU, got mode {:?}",
                cfg.mode
            ),
        ));
    }
    if cfg.proj.is_some() || cfg.use_seq_len {
        return Err(Error::param(
            OP,
            "projection_size and use_sequence_length are not supported by the quantized LSTM \
             (exclude this RNN from quantization)",
        ));
    }
    let out_names = ["output", "state_output", "statecell_ouput"]; // MXNet's spelling
    let visible = if cfg.state_outputs { 3 } else { 1 };
    let mut op = FnOp::new(
        OP,
        move |ins| infer(cfg, ins),
        move |_, ins, outs| {
            forward(cfg, ins, outs);
            Ok(())
        },
    )
    .with_shape_partial(move |ins, outs| {
        for s in ins.iter_mut().skip(4) {
            refine(s, Shape(vec![1])); // scale and shift
        }
        let n = ins.len().min(4);
        rnn::partial_shapes(cfg, &mut ins[..n], outs)
    })
    .with_type_partial(type_partial(OP, vec![1, 2, 3, 4, 5], move |ins| {
        check_data_type(ins[0])?;
        Ok(vec![DType::F32; visible])
    }));
    op.num_outputs = visible;
    op.num_inputs = Some(INPUTS.len());
    op.input_names = Some(INPUTS.iter().map(|s| s.to_string()).collect());
    op.output_names = Some(out_names[..visible].iter().map(|s| s.to_string()).collect());
    Ok(op.arc())
}

fn check_data_type(t: DType) -> Result<()> {
    if t != DType::U8 {
        return Err(Error::dtype(
            OP,
            format!("Quantized RNN operator only supports uint8 input, while {t} is given"),
        ));
    }
    Ok(())
}

/// The output shapes, and each input's shape and type checked.
fn infer(cfg: Cfg, ins: &[Desc]) -> Result<Vec<Desc>> {
    expect_inputs(OP, ins, INPUTS.len())?;
    check_data_type(ins[0].dtype)?;
    let d = &ins[0].shape;
    if d.ndim() != 3 || d.0.contains(&0) {
        return Err(Error::shape(
            OP,
            format!("data must be (seq_length, batch_size, input_size) without an empty dimension, got {d}"),
        ));
    }
    let (t, n, c) = (d[0], d[1], d[2]);
    let want = [
        Shape(vec![cfg.param_len(c)]),
        cfg.state_shape(n, 0),
        cfg.state_shape(n, 1),
        Shape(vec![1]),
        Shape(vec![1]),
    ];
    for ((x, w), name) in ins[1..].iter().zip(&want).zip(&INPUTS[1..]) {
        expect_shape(OP, name, &x.shape, w)?;
        if x.dtype != DType::F32 {
            return Err(Error::dtype(
                OP,
                format!("{name} must be float32, got {}", x.dtype),
            ));
        }
    }
    let mut outs = vec![Desc::new(Shape(vec![t, n, cfg.dirs() * cfg.h]), DType::F32)];
    if cfg.state_outputs {
        outs.push(Desc::new(cfg.state_shape(n, 0), DType::F32));
        outs.push(Desc::new(cfg.state_shape(n, 1), DType::F32));
    }
    Ok(outs)
}

/// One layer and direction's weights and biases in MXNet's flat vector (all weights, layer
/// by layer and direction by direction, `W_x (4H, in)` then `W_h (4H, H)`; then all biases
/// in the same order, `b_x` then `b_h`).
struct Slices<'a> {
    wx: &'a [f32],
    wh: &'a [f32],
    bx: &'a [f32],
    bh: &'a [f32],
}

fn slices(cfg: Cfg, p: &[f32], c: usize) -> Vec<Slices<'_>> {
    let (h, d) = (cfg.h, cfg.dirs());
    let g4 = 4 * h;
    let mut out = Vec::new();
    let (mut w, mut b) = (0, p.len() - 2 * g4 * d * cfg.layers);
    for l in 0..cfg.layers {
        let in_l = if l == 0 { c } else { d * h };
        for _ in 0..d {
            let (wx, rest) = p[w..].split_at(g4 * in_l);
            let bias = &p[b..b + 2 * g4];
            out.push(Slices {
                wx,
                wh: &rest[..g4 * h],
                bx: &bias[..g4],
                bh: &bias[g4..],
            });
            w += g4 * (in_l + h);
            b += 2 * g4;
        }
    }
    out
}

fn sigmoid(x: f32) -> f32 {
    (1.0 / (1.0 + (-(x as f64)).exp())) as f32
}

fn tanh(x: f32) -> f32 {
    (x as f64).tanh() as f32
}

fn forward(cfg: Cfg, ins: &[NDArray], outs: &[NDArray]) {
    let dims = ins[0].shape().dims();
    let (t, n, c) = (dims[0], dims[1], dims[2]);
    let (h, d) = (cfg.h, cfg.dirs());
    let g4 = 4 * h;
    let (scale, shift) = (scalar(&ins[4]), scalar(&ins[5]));
    let params = load(&ins[1]);
    let (h0, c0) = (load(&ins[2]), load(&ins[3]));
    let parts = slices(cfg, &params, c);

    // One scale per gate row, over every layer and direction.
    let mut row_max = vec![0.0f32; g4];
    for s in &parts {
        for (r, m) in row_max.iter_mut().enumerate() {
            let in_l = s.wx.len() / g4;
            let row = s.wx[r * in_l..][..in_l].iter().chain(&s.wh[r * h..][..h]);
            *m = row.fold(*m, |m, w| m.max(w.abs()));
        }
    }
    let w_scale: Vec<f32> = row_max
        .iter()
        .map(|&m| if m > 0.0 { 127.0 / m } else { 1.0 })
        .collect();
    // Gate sums come back to float through the product of the two scales.
    let dq: Vec<f32> = w_scale.iter().map(|&w| w * scale).collect();
    let to_i8 = round_saturate_for(QType::I8);
    let to_u8 = round_saturate_for(QType::U8);
    let quantize = |v: f32| to_u8(v * scale + shift) as u8;
    let quantize_rows = |w: &[f32], k: usize| -> Vec<i8> {
        w.iter()
            .enumerate()
            .map(|(i, &v)| to_i8(v * w_scale[i / k]) as i8)
            .collect()
    };

    // SAFETY: inside the op reading `ins`; infer checked data is uint8 (T, N, C).
    let mut x: Vec<u8> = unsafe { ins[0].data::<u8>() }.to_vec();
    let mut in_size = c;
    let (mut hy, mut cy) = (vec![0.0f32; h0.len()], vec![0.0f32; c0.len()]);
    let (mut gx, mut gh) = (vec![0i32; n * g4], vec![0i32; n * g4]);
    for l in 0..cfg.layers {
        let mut next = vec![0u8; t * n * d * h];
        for dir in 0..d {
            let k = l * d + dir;
            let s = &parts[k];
            let (wx, wh) = (quantize_rows(s.wx, in_size), quantize_rows(s.wh, h));
            // The biases fold into one, less the shift that every input level carries.
            let bias: Vec<f32> = (0..g4)
                .map(|r| {
                    let row_sum = |w: &[i8], k: usize| -> i32 {
                        w[r * k..][..k].iter().map(|&v| v as i32).sum()
                    };
                    let comp = (row_sum(&wx, in_size) + row_sum(&wh, h)) as f32;
                    (s.bx[r] + s.bh[r]) - comp * shift / dq[r]
                })
                .collect();
            let state = k * n * h..(k + 1) * n * h;
            let mut hq: Vec<u8> = h0[state.clone()].iter().map(|&v| quantize(v)).collect();
            let mut cell = c0[state.clone()].to_vec();
            for step in 0..t {
                let tt = if dir == 0 { step } else { t - 1 - step };
                product(
                    n,
                    g4,
                    in_size,
                    &x[tt * n * in_size..][..n * in_size],
                    &wx,
                    &mut gx,
                );
                product(n, g4, h, &hq, &wh, &mut gh);
                for b in 0..n {
                    let gate = |q: usize, j: usize| {
                        let r = q * h + j;
                        let acc = gx[b * g4 + r] as i64 + gh[b * g4 + r] as i64;
                        acc as f32 / dq[r] + bias[r]
                    };
                    for j in 0..h {
                        let (i, f) = (sigmoid(gate(0, j)), sigmoid(gate(1, j)));
                        let (g, o) = (tanh(gate(2, j)), sigmoid(gate(3, j)));
                        let cp = &mut cell[b * h + j];
                        // c·f rounded, then i·g added in one rounding (oneDNN's fma)
                        let cf = (*cp * f) as f64;
                        *cp = clip_cell(cfg.clip, cfg.clip_nan, cf + i as f64 * g as f64) as f32;
                        let v = quantize(o * tanh(*cp));
                        hq[b * h + j] = v;
                        next[(tt * n + b) * d * h + dir * h + j] = v;
                    }
                }
            }
            for (dst, &v) in hy[state.clone()].iter_mut().zip(&hq) {
                *dst = (v as f32 - shift) / scale;
            }
            cy[state].copy_from_slice(&cell);
        }
        x = next;
        in_size = d * h;
    }
    let out: Vec<f32> = x.iter().map(|&v| (v as f32 - shift) / scale).collect();
    store(&outs[0], &out);
    if cfg.state_outputs {
        store(&outs[1], &hy);
        store(&outs[2], &cy);
    }
}

pub fn register(r: &mut Registry) {
    r.add(def(
        OP,
        "An LSTM (the fused `RNN` with mode='lstm') on uint8 data from _contrib_quantize_asym: \
         min_data and max_data hold that op's scale and shift. The float32 parameters are \
         quantized to int8 per gate row inside the op, the gates are int32 products, and the \
         hidden state is re-quantized to uint8 with the data's scale and shift at every step. \
         Outputs are float32, as RNN's. Forward only.",
        {
            let mut p = rnn::params();
            p.push(param(
                "quantized",
                "boolean",
                Some("False"),
                "Set by the quantization pass, as in MXNet's graphs; no effect.",
            ));
            p
        },
        Inputs::Fixed(&INPUTS),
        create,
    ));
    r.alias("_npx_contrib_quantized_rnn", OP);
}
