//! `RNN`: MXNet's fused multi-layer, optionally bidirectional vanilla RNN / LSTM / GRU over
//! time-major data `(T, N, C)`, with every weight and bias in one flat `parameters` vector in
//! MXNet's CPU layout: per layer and direction `W_i2h (G·H, in)` then `W_h2h (G·H, H)`, then
//! per layer and direction `b_i2h (G·H)` then `b_h2h (G·H)`. Gate order: LSTM i, f, g, o;
//! GRU r, z, n with `n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn))`. An LSTM with
//! `projection_size` P (LSTMP) has `W_h2h (G·H, P)` then `W_hr (P, H)`, and its output and
//! recurrent state are `h = W_hr·(o ⊙ tanh(c))`; as in MXNet 1.9.1's CPU, inference only.
//!
//! Outputs: `output (T, N, D·H)`, with `state_outputs` also `state_output` (and
//! `statecell_output` for LSTM), then one hidden `reserve` output holding what the gradient
//! needs (gate activations, cell states, every layer's output, dropout masks).

mod kernel;
#[cfg(test)]
mod tests;

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::graph::infer::refine;
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::conv::Real;
use crate::ndarray::NDArray;
use crate::op::params::{param, ParamSpec};
use crate::op::shape_ops::def;
use crate::op::{Desc, GradArgs, Inputs, OpCtx, Operator, Registry};
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "RNN";
const BWD: &str = "_backward_RNN";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    RnnRelu,
    RnnTanh,
    Lstm,
    Gru,
}

impl Mode {
    fn gates(self) -> usize {
        match self {
            Mode::RnnRelu | Mode::RnnTanh => 1,
            Mode::Lstm => 4,
            Mode::Gru => 3,
        }
    }
}

/// The configured op's attributes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cfg {
    pub(crate) mode: Mode,
    pub(crate) h: usize,
    pub(crate) layers: usize,
    pub(crate) bidir: bool,
    pub(crate) p: f64,
    pub(crate) state_outputs: bool,
    pub(crate) use_seq_len: bool,
    pub(crate) clip: Option<(f64, f64)>,
    pub(crate) clip_nan: bool,
    /// LSTMP: `h_t = W_hr (o ⊙ tanh(c_t))` of this size is the output and the recurrent state.
    pub(crate) proj: Option<usize>,
}

impl Cfg {
    /// Size of each direction's output and recurrent state.
    fn r(&self) -> usize {
        self.proj.unwrap_or(self.h)
    }

    pub(crate) fn dirs(&self) -> usize {
        if self.bidir {
            2
        } else {
            1
        }
    }

    fn lstm(&self) -> bool {
        self.mode == Mode::Lstm
    }

    fn n_inputs(&self) -> usize {
        3 + usize::from(self.lstm()) + usize::from(self.use_seq_len)
    }

    fn n_states(&self) -> usize {
        1 + usize::from(self.lstm())
    }

    fn visible(&self) -> usize {
        if self.state_outputs {
            1 + self.n_states()
        } else {
            1
        }
    }

    fn input_names(&self) -> Vec<String> {
        let mut v = vec!["data", "parameters", "state"];
        if self.lstm() {
            v.push("state_cell");
        }
        if self.use_seq_len {
            v.push("sequence_length");
        }
        v.into_iter().map(String::from).collect()
    }

    /// Length of the flat parameter vector for input size `c`.
    pub(crate) fn param_len(&self, c: usize) -> usize {
        let gh = self.mode.gates() * self.h;
        let (d, r) = (self.dirs(), self.r());
        let w_hr = self.proj.map_or(0, |p| p * self.h);
        (0..self.layers)
            .map(|l| {
                let in_l = if l == 0 { c } else { d * r };
                d * (gh * (in_l + r) + w_hr + 2 * gh)
            })
            .sum()
    }

    /// Shape of begin/end state `k`: 0 the hidden (projected) state, 1 the LSTM cell.
    pub(crate) fn state_shape(&self, n: usize, k: usize) -> Shape {
        let size = if k == 0 { self.r() } else { self.h };
        Shape(vec![self.layers * self.dirs(), n, size])
    }

    /// Sizes of a call on data `(t, n, c)`, with dropout active or not.
    fn dims(&self, t: usize, n: usize, c: usize) -> Dims {
        Dims {
            t,
            n,
            i: c,
            h: self.h,
            r: self.r(),
            proj: self.proj.is_some(),
            d: self.dirs(),
            l: self.layers,
            g: self.mode.gates(),
            mode: self.mode,
            dropout: self.p > 0.0 && self.layers > 1,
            clip: self.clip,
            clip_nan: self.clip_nan,
        }
    }
}

/// An LSTM cell state after `lstm_state_clip_min/max` (NaN becomes the minimum with
/// `lstm_state_clip_nan`).
pub(crate) fn clip_cell(clip: Option<(f64, f64)>, clip_nan: bool, c: f64) -> f64 {
    match clip {
        Some((lo, _)) if c.is_nan() && clip_nan => lo,
        Some((lo, hi)) if !c.is_nan() => c.clamp(lo, hi),
        _ => c,
    }
}

/// `RNN`'s partial shape rule (also `_contrib_quantized_rnn`'s, over its first four inputs):
/// as in MXNet, what the known dimensions of the data decide is filled, the rest stays 0.
pub(crate) fn partial_shapes(
    cfg: Cfg,
    inputs: &mut [Option<Shape>],
    outputs: &mut [Option<Shape>],
) -> Result<()> {
    let Some(d) = inputs.first().cloned().flatten() else {
        return Ok(());
    };
    let (t, n, c) = match d.dims() {
        &[t, n, c] if d.0.contains(&0) => (t, n, c),
        _ => tnc(&d)?,
    };
    let ns = cfg.n_states();
    if c != 0 {
        if let Some(p) = inputs.get_mut(1) {
            refine(p, Shape(vec![cfg.param_len(c)]));
        }
    }
    // Begin states are often `zeros((L, 0, H))`: their batch size comes from the data.
    for (k, s) in inputs.iter_mut().skip(2).take(ns).enumerate() {
        refine(s, cfg.state_shape(n, k));
    }
    if cfg.use_seq_len {
        if let Some(s) = inputs.get_mut(2 + ns) {
            refine(s, Shape(vec![n]));
        }
    }
    let mut want = vec![Shape(vec![t, n, cfg.dirs() * cfg.r()])];
    if cfg.state_outputs {
        want.extend((0..ns).map(|k| cfg.state_shape(n, k)));
    }
    for (o, w) in outputs.iter_mut().zip(want) {
        refine(o, w);
    }
    Ok(())
}

/// Sizes of one call: time steps, batch, input size, hidden size, directions, layers, gates.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dims {
    t: usize,
    n: usize,
    i: usize,
    h: usize,
    /// Output and recurrent-state size (`h`, or the projection's size).
    r: usize,
    /// W_hr follows each direction's W_h2h.
    proj: bool,
    d: usize,
    l: usize,
    g: usize,
    mode: Mode,
    /// The reserve holds dropout masks between layers.
    dropout: bool,
    clip: Option<(f64, f64)>,
    clip_nan: bool,
}

fn mismatch(arg: &str, got: &Shape, want: &Shape) -> Error {
    Error::shape(
        OP,
        format!("Shape inconsistent for input {arg}: Provided = {got}, inferred shape={want}"),
    )
}

/// (T, N, C) of the data, checked.
fn tnc(d: &Shape) -> Result<(usize, usize, usize)> {
    if d.ndim() != 3 {
        return Err(Error::shape(
            OP,
            format!("data must have 3 dimensions (seq_length, batch_size, input_size) in TNC layout, got shape {d}"),
        ));
    }
    if d.0.contains(&0) {
        return Err(Error::shape(
            OP,
            format!("data must not have an empty dimension, got shape {d}"),
        ));
    }
    Ok((d[0], d[1], d[2]))
}

fn infer(cfg: Cfg, inputs: &[Desc]) -> Result<Vec<Desc>> {
    let names = cfg.input_names();
    if inputs.len() != names.len() {
        return Err(Error::Value(format!(
            "operator {OP} (mode {:?}) takes {} inputs ({}), {} given",
            cfg.mode,
            names.len(),
            names.join(", "),
            inputs.len()
        )));
    }
    let (t, n, c) = tnc(&inputs[0].shape)?;
    let dt = inputs[0].dtype;
    if !matches!(dt, DType::F32 | DType::F64) {
        return Err(Error::dtype(
            OP,
            format!("expects float32 or float64 data, got {dt}"),
        ));
    }
    let want_p = Shape(vec![cfg.param_len(c)]);
    if inputs[1].shape != want_p {
        return Err(mismatch("parameters", &inputs[1].shape, &want_p));
    }
    for k in 2..2 + cfg.n_states() {
        let st = cfg.state_shape(n, k - 2);
        if inputs[k].shape != st {
            return Err(mismatch(&names[k], &inputs[k].shape, &st));
        }
    }
    for (k, x) in inputs.iter().enumerate().take(2 + cfg.n_states()).skip(1) {
        if x.dtype != dt {
            return Err(Error::dtype(
                OP,
                format!("input {} has dtype {}, data has {dt}", names[k], x.dtype),
            ));
        }
    }
    if cfg.use_seq_len {
        let sl = &inputs[inputs.len() - 1].shape;
        if sl.0 != [n] {
            return Err(mismatch("sequence_length", sl, &Shape(vec![n])));
        }
    }
    let mut out = vec![Desc::new(Shape(vec![t, n, cfg.dirs() * cfg.r()]), dt)];
    if cfg.state_outputs {
        for k in 0..cfg.n_states() {
            out.push(Desc::new(cfg.state_shape(n, k), dt));
        }
    }
    out.push(Desc::new(Shape(vec![cfg.dims(t, n, c).reserve_len()]), dt));
    Ok(out)
}

/// Valid steps of each sequence: `sequence_length` (any dtype, truncated), or all `t`.
fn lengths(cfg: Cfg, ins: &[NDArray], t: usize, n: usize, op: &str) -> Result<Vec<usize>> {
    if !cfg.use_seq_len {
        return Ok(vec![t; n]);
    }
    let a = &ins[cfg.n_inputs() - 1];
    let raw: Vec<f64> = crate::with_dtype!(a.dtype(), L, {
        // SAFETY: inside the op reading `sequence_length`.
        unsafe { a.data::<L>() }
            .iter()
            .map(|v| v.to_f64())
            .collect()
    });
    raw.iter()
        .map(|&v| {
            let k = v.trunc();
            if (1.0..=t as f64).contains(&k) {
                Ok(k as usize)
            } else {
                Err(Error::Value(format!(
                    "operator {op}: sequence_length values must be in [1, {t}] (the data's \
                     seq_length), got {v}"
                )))
            }
        })
        .collect()
}

/// Rust slices of the op's arrays for one dtype.
fn forward_t<T: Real>(cfg: Cfg, cx: &OpCtx, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let (t, n, c) = tnc(ins[0].shape())?;
    let lens = lengths(cfg, ins, t, n, OP)?;
    let dm = cfg.dims(t, n, c);
    let drop = (cx.is_train && dm.dropout).then_some((cfg.p, cx.seed));
    // SAFETY: inside the engine op reading `ins` and writing `outs`, fresh arrays disjoint
    // from the inputs and from each other; `infer` checked every shape and dtype.
    unsafe {
        let cell = cfg.lstm().then(|| ins[3].data::<T>());
        let (hy, cy) = if cfg.state_outputs {
            (
                Some(outs[1].data_mut::<T>()),
                cfg.lstm().then(|| outs[2].data_mut::<T>()),
            )
        } else {
            (None, None)
        };
        let res = outs[outs.len() - 1].data_mut::<T>();
        kernel::forward(
            &dm,
            ins[0].data::<T>(),
            ins[1].data::<T>(),
            ins[2].data::<T>(),
            cell,
            outs[0].data_mut::<T>(),
            hy,
            cy,
            res,
            drop,
            &lens,
        );
    }
    Ok(())
}

/// Backward inputs: the forward inputs, the reserve, then the head gradients of the visible
/// outputs. Outputs: gradients of data, parameters, state(s).
fn backward_t<T: Real>(cfg: Cfg, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    if cfg.proj.is_some() {
        // As MXNet 1.9.1's CPU ("No training support for LSTM with projection").
        return Err(Error::NotImplemented(format!(
            "operator {BWD}: no gradient through an LSTM with projection_size (inference only)"
        )));
    }
    let (t, n, c) = tnc(ins[0].shape())?;
    let dm = cfg.dims(t, n, c);
    let lens = lengths(cfg, ins, t, n, BWD)?;
    let res_i = cfg.n_inputs();
    // SAFETY: inside the engine op reading `ins` and writing the fresh, disjoint `outs`;
    // the backward `infer` checked the shapes.
    unsafe {
        let heads = &ins[res_i + 1..];
        let (dhy, dcy) = if cfg.state_outputs {
            (
                Some(heads[1].data::<T>()),
                cfg.lstm().then(|| heads[2].data::<T>()),
            )
        } else {
            (None, None)
        };
        kernel::backward(
            &dm,
            ins[0].data::<T>(),
            ins[1].data::<T>(),
            ins[2].data::<T>(),
            cfg.lstm().then(|| ins[3].data::<T>()),
            ins[res_i].data::<T>(),
            heads[0].data::<T>(),
            dhy,
            dcy,
            kernel::Grads {
                dx: outs[0].data_mut::<T>(),
                dw: outs[1].data_mut::<T>(),
                dhx: outs[2].data_mut::<T>(),
                dcx: cfg.lstm().then(|| outs[3].data_mut::<T>()),
            },
            &lens,
        );
    }
    Ok(())
}

macro_rules! by_real {
    ($op:expr, $d:expr, $f:ident, $($arg:expr),*) => {
        match $d {
            DType::F32 => $f::<f32>($($arg),*),
            DType::F64 => $f::<f64>($($arg),*),
            d => Err(Error::dtype($op, format!("expects float32 or float64, got {d}"))),
        }
    };
}

/// The configured `RNN`.
struct RnnOp {
    cfg: Cfg,
}

impl Operator for RnnOp {
    fn name(&self) -> &'static str {
        OP
    }
    fn num_outputs(&self) -> usize {
        self.cfg.visible() + 1
    }
    fn num_visible_outputs(&self) -> usize {
        self.cfg.visible()
    }
    /// The reserve (what the gradient reads) is oxnet's own; MXNet counts only what it shows.
    fn mxnet_num_outputs(&self) -> usize {
        self.cfg.visible()
    }
    fn output_names(&self) -> Vec<String> {
        ["output", "state_output", "statecell_output"][..self.cfg.visible()]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    fn input_names(&self) -> Vec<String> {
        self.cfg.input_names()
    }
    fn num_inputs(&self) -> Option<usize> {
        Some(self.cfg.n_inputs())
    }
    fn uses_rng(&self) -> bool {
        self.cfg.p > 0.0 && self.cfg.layers > 1
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        infer(self.cfg, inputs)
    }
    fn forward(&self, cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        by_real!(
            OP,
            inputs[0].dtype(),
            forward_t,
            self.cfg,
            cx,
            inputs,
            outputs
        )
    }
    fn infer_shape_partial(
        &self,
        inputs: &mut [Option<Shape>],
        outputs: &mut [Option<Shape>],
    ) -> Result<()> {
        partial_shapes(self.cfg, inputs, outputs)
    }
    fn infer_type_partial(
        &self,
        inputs: &mut [Option<DType>],
        outputs: &mut [Option<DType>],
    ) -> Result<()> {
        // Data, parameters, states and outputs share one dtype; sequence lengths may differ.
        let k = 2 + self.cfg.n_states();
        let (main, _) = inputs.split_at_mut(k.min(inputs.len()));
        crate::op::unify_types(OP, main, outputs)
    }
    fn gradient(&self, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
        let cfg = self.cfg;
        let vis = cfg.visible();
        if a.out_grads.len() < vis || a.outputs.len() != vis + 1 {
            return Err(Error::Internal(format!(
                "{OP} gradient: {} output gradients for {} outputs",
                a.out_grads.len(),
                a.outputs.len()
            )));
        }
        let mut ins: Vec<Entry> = a.inputs[..cfg.n_inputs()].to_vec();
        ins.push(a.outputs[vis].clone());
        ins.extend(a.out_grads[..vis].iter().cloned());
        let gr = g.apply(backward_op(cfg), &ins);
        let mut out: Vec<Option<Entry>> = gr.into_iter().map(Some).collect();
        if cfg.use_seq_len {
            out.push(None);
        }
        Ok(out)
    }
}

/// `_backward_RNN`: see `backward_t` for its inputs and outputs.
struct RnnBackward {
    cfg: Cfg,
}

impl Operator for RnnBackward {
    fn name(&self) -> &'static str {
        BWD
    }
    fn num_outputs(&self) -> usize {
        2 + self.cfg.n_states()
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        let cfg = self.cfg;
        let ns = cfg.n_states();
        let nf = cfg.n_inputs();
        let want = nf + 1 + cfg.visible();
        if inputs.len() != want {
            return Err(Error::Value(format!(
                "operator {BWD} takes {want} inputs, {} given",
                inputs.len()
            )));
        }
        let outs = infer(cfg, &inputs[..nf])?;
        let res = &outs[outs.len() - 1];
        if inputs[nf].shape != res.shape {
            return Err(mismatch("reserve", &inputs[nf].shape, &res.shape));
        }
        for (k, o) in outs.iter().take(cfg.visible()).enumerate() {
            let got = &inputs[nf + 1 + k].shape;
            if *got != o.shape {
                return Err(Error::shape(
                    BWD,
                    format!("head gradient {k} has shape {got}, expected {}", o.shape),
                ));
            }
        }
        Ok(inputs[..2 + ns].to_vec())
    }
    fn infer_type_partial(
        &self,
        inputs: &mut [Option<DType>],
        outputs: &mut [Option<DType>],
    ) -> Result<()> {
        // Every input but `sequence_length` (any dtype) shares the data's dtype.
        let skip = self.cfg.use_seq_len.then(|| self.cfg.n_inputs() - 1);
        let mut sel: Vec<Option<DType>> = inputs
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(_, d)| *d)
            .collect();
        crate::op::unify_types(BWD, &mut sel, outputs)?;
        let mut it = sel.into_iter();
        for (i, d) in inputs.iter_mut().enumerate() {
            if Some(i) != skip {
                *d = it.next().flatten();
            }
        }
        Ok(())
    }
    fn forward(&self, _cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        by_real!(
            BWD,
            inputs[0].dtype(),
            backward_t,
            self.cfg,
            inputs,
            outputs
        )
    }
}

fn backward_op(cfg: Cfg) -> Arc<dyn Operator> {
    Arc::new(RnnBackward { cfg })
}

fn opt_float(p: &crate::op::Params, name: &str) -> Result<Option<f64>> {
    if p.is_set(name) {
        p.float(name).map(Some)
    } else {
        Ok(None)
    }
}

fn create(p: &crate::op::Params) -> Result<Arc<dyn Operator>> {
    Ok(Arc::new(RnnOp { cfg: parse(p)? }))
}

/// The attributes, checked (`RNN`'s and `_contrib_quantized_rnn`'s).
pub(crate) fn parse(p: &crate::op::Params) -> Result<Cfg> {
    let positive = |name: &str| -> Result<usize> {
        let v = p.int(name)?;
        usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| Error::param(OP, format!("{name} must be positive, got {v}")))
    };
    let mode = match p.choice("mode", &["gru", "lstm", "rnn_relu", "rnn_tanh"])? {
        "gru" => Mode::Gru,
        "lstm" => Mode::Lstm,
        "rnn_relu" => Mode::RnnRelu,
        _ => Mode::RnnTanh,
    };
    let prob = p.float("p")?;
    if !(0.0..1.0).contains(&prob) {
        return Err(Error::param(
            OP,
            format!("p (dropout) must be in [0, 1), got {prob}"),
        ));
    }
    let proj = match p.opt_int("projection_size")? {
        None => None,
        Some(v) if v > 0 && mode == Mode::Lstm => Some(v as usize),
        Some(v) => {
            return Err(Error::param(
                OP,
                format!("projection_size must be positive and needs mode='lstm', got {v}"),
            ))
        }
    };
    let clip = match (
        opt_float(p, "lstm_state_clip_min")?,
        opt_float(p, "lstm_state_clip_max")?,
    ) {
        (Some(lo), Some(hi)) if lo <= hi => Some((lo, hi)),
        (None, None) => None,
        (lo, hi) => {
            return Err(Error::param(
                OP,
                format!(
                    "lstm_state_clip_min and lstm_state_clip_max must be given together with \
                     min <= max, got {lo:?} and {hi:?}"
                ),
            ))
        }
    };
    Ok(Cfg {
        mode,
        h: positive("state_size")?,
        layers: positive("num_layers")?,
        bidir: p.bool("bidirectional")?,
        p: prob,
        state_outputs: p.bool("state_outputs")?,
        use_seq_len: p.bool("use_sequence_length")?,
        clip,
        clip_nan: p.bool("lstm_state_clip_nan")?,
        proj,
    })
}

/// The attributes of `RNN` (also `_contrib_quantized_rnn`'s).
pub(crate) fn params() -> Vec<ParamSpec> {
    vec![
        param("state_size", "int (non-negative)", None, "size of the state for each layer"),
        param("num_layers", "int (non-negative)", None, "number of stacked layers"),
        param(
            "bidirectional",
            "boolean",
            Some("0"),
            "whether to use bidirectional recurrent layers",
        ),
        param(
            "mode",
            "{'gru', 'lstm', 'rnn_relu', 'rnn_tanh'}",
            None,
            "the type of RNN to compute",
        ),
        param(
            "p",
            "float",
            Some("0"),
            "drop rate of the dropout on the outputs of each RNN layer, except the last layer.",
        ),
        param(
            "state_outputs",
            "boolean",
            Some("0"),
            "Whether to have the states as symbol outputs.",
        ),
        param("projection_size", "int or None", Some("None"), "size of project size"),
        param(
            "lstm_state_clip_min",
            "double or None",
            Some("None"),
            "Minimum clip value of LSTM states. This option must be used together with lstm_state_clip_max.",
        ),
        param(
            "lstm_state_clip_max",
            "double or None",
            Some("None"),
            "Maximum clip value of LSTM states. This option must be used together with lstm_state_clip_min.",
        ),
        param(
            "lstm_state_clip_nan",
            "boolean",
            Some("0"),
            "Whether to stop NaN from propagating in state by clipping it to min/max. If clipping range is not specified, this option is ignored.",
        ),
        param(
            "use_sequence_length",
            "boolean",
            Some("0"),
            "If set to true, this layer takes in an extra input parameter `sequence_length` to specify variable length sequence",
        ),
    ]
}

pub fn register(r: &mut Registry) {
    r.add(def(
        OP,
        "Applies recurrent layers to input data (TNC layout): vanilla RNN with ReLU or tanh \
         activation, LSTM or GRU, with several stacked layers and bidirectional support.\n\n\
         rnn: h_t = act(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)\n\
         lstm: i, f, o = sigmoid(W_i* x_t + b_i* + W_h* h_(t-1) + b_h*), \
         g = tanh(W_ig x_t + b_ig + W_hg h_(t-1) + b_hg), c_t = f * c_(t-1) + i * g, \
         h_t = o * tanh(c_t)\n\
         gru: r, z = sigmoid(W_i* x_t + b_i* + W_h* h_(t-1) + b_h*), \
         n = tanh(W_in x_t + b_in + r * (W_hn h_(t-1) + b_hn)), h_t = (1 - z) * n + z * h_(t-1)\n\n\
         All weights and biases are in the flat `parameters` vector: for each layer and \
         direction the input-to-hidden weight (G*H, in) and the hidden-to-hidden weight \
         (G*H, H) (with projection_size P: (G*H, P), then the projection W_hr (P, H), and \
         h_t = W_hr (o * tanh(c_t)) of size P), then for each layer and direction the two \
         biases (G*H). Gate order: \
         LSTM i, f, g, o; GRU r, z, n.",
        params(),
        Inputs::Fixed(&[
            "data",
            "parameters",
            "state",
            "state_cell",
            "sequence_length",
        ]),
        create,
    ));
}
