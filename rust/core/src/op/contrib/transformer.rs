//! MXNet's multi-head attention products on interleaved projections (GluonNLP's BERT and
//! Transformer exports): `_contrib_interleaved_matmul_selfatt_qk`, `..._selfatt_valatt`,
//! `..._encdec_qk`, `..._encdec_valatt`.
//!
//! A projection tensor is (seq_len, batch, heads * n * head_dim) with, for each (batch, head)
//! pair `bh = b * heads + h`, n slots of head_dim values side by side (q, k, v for
//! self-attention; k, v for the encoder's keys_values; one slot for queries and outputs). So
//! head bh's matrix of slot s is a strided view: row stride batch*heads*n*head_dim, column
//! stride 1, batch stride n*head_dim. Every product and its gradients are then one strided
//! batched GEMM over the bh items, with no transposed copies. The qk products are scaled by
//! 1/sqrt(head_dim), as MXNet scales the queries.
//!
//! Unlike MXNet, a `heads` that does not divide the projection width, or an attention tensor
//! whose first axis is not batch*heads, is an error (MXNet reads past its buffers or divides
//! with a remainder). float16/32/64 all run (MXNet's CPU kernels take float32 only).

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::cpu::gemm::{batch_matmul_to, GemmElem, Mat};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::shape_ops::def;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry};
use crate::shape::Shape;
use std::sync::Arc;

/// Which of the four products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    SelfQk,
    SelfValAtt,
    EncDecQk,
    EncDecValAtt,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::SelfQk => "_contrib_interleaved_matmul_selfatt_qk",
            Kind::SelfValAtt => "_contrib_interleaved_matmul_selfatt_valatt",
            Kind::EncDecQk => "_contrib_interleaved_matmul_encdec_qk",
            Kind::EncDecValAtt => "_contrib_interleaved_matmul_encdec_valatt",
        }
    }
    fn backward_name(self) -> &'static str {
        match self {
            Kind::SelfQk => "_backward_interleaved_matmul_selfatt_qk",
            Kind::SelfValAtt => "_backward_interleaved_matmul_selfatt_valatt",
            Kind::EncDecQk => "_backward_interleaved_matmul_encdec_qk",
            Kind::EncDecValAtt => "_backward_interleaved_matmul_encdec_valatt",
        }
    }
    fn input_names(self) -> &'static [&'static str] {
        match self {
            Kind::SelfQk => &["queries_keys_values"],
            Kind::SelfValAtt => &["queries_keys_values", "attention"],
            Kind::EncDecQk => &["queries", "keys_values"],
            Kind::EncDecValAtt => &["keys_values", "attention"],
        }
    }
    fn is_qk(self) -> bool {
        matches!(self, Kind::SelfQk | Kind::EncDecQk)
    }
    /// (input, slots, slot) of the two factors: q and k for the qk products, v for valatt
    /// (whose other factor is the dense attention input 1).
    fn factors(self) -> [(usize, usize, usize); 2] {
        match self {
            Kind::SelfQk => [(0, 3, 0), (0, 3, 1)],
            Kind::EncDecQk => [(0, 1, 0), (1, 2, 0)],
            Kind::SelfValAtt => [(0, 3, 2), (1, 1, 0)],
            Kind::EncDecValAtt => [(0, 2, 1), (1, 1, 0)],
        }
    }
}

/// Sizes of one call: `bh` = batch*heads products of (lq × d)·(d × lk) or (lq × lk)·(lk × d).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) bh: usize,
    pub(crate) d: usize,
    pub(crate) lq: usize,
    pub(crate) lk: usize,
}

fn ndim3(op: &str, what: &str, layout: &str, s: &Shape) -> Result<()> {
    if s.ndim() != 3 {
        return Err(Error::shape(
            op,
            format!("Input {what} should be 3D in {layout}, got shape {s}"),
        ));
    }
    Ok(())
}

/// head_dim of a projection width holding `slots` slots per head.
fn head_dim(op: &str, what: &str, s: &Shape, heads: usize, slots: usize) -> Result<usize> {
    if !s[2].is_multiple_of(heads * slots) {
        return Err(Error::shape(
            op,
            format!(
                "{what}.shape[2] must be a multiple of {slots} * heads = {}, got shape {s} \
                 with heads={heads}",
                heads * slots
            ),
        ));
    }
    Ok(s[2] / (heads * slots))
}

/// MXNet's shape rules, plus the divisibility and attention-size checks MXNet skips.
fn plan(kind: Kind, heads: usize, s: &[&Shape]) -> Result<(Plan, Shape)> {
    plan_for(kind.name(), kind, heads, s)
}

/// `plan` with errors naming `op` (the oneDNN-fused self-attention ops check their inputs
/// with the same rules).
fn plan_for(op: &str, kind: Kind, heads: usize, s: &[&Shape]) -> Result<(Plan, Shape)> {
    match kind {
        Kind::SelfQk => {
            let qkv = s[0];
            ndim3(
                op,
                "queries_keys_values",
                "seq_length-batch-3*proj_dim",
                qkv,
            )?;
            let d = head_dim(op, "queries_keys_values", qkv, heads, 3)?;
            let (l, b) = (qkv[0], qkv[1]);
            let p = Plan {
                bh: b * heads,
                d,
                lq: l,
                lk: l,
            };
            Ok((p, Shape(vec![b * heads, l, l])))
        }
        Kind::SelfValAtt => {
            let (qkv, att) = (s[0], s[1]);
            ndim3(
                op,
                "queries_keys_values",
                "seq_length-batch-3*proj_dim",
                qkv,
            )?;
            ndim3(op, "attention", "batch*heads-seq_length-seq_length", att)?;
            let d = head_dim(op, "queries_keys_values", qkv, heads, 3)?;
            let (l, b) = (qkv[0], qkv[1]);
            if att.0 != [b * heads, l, l] {
                return Err(Error::shape(
                    op,
                    format!(
                        "attention must have shape (batch*heads, seq_length, seq_length) = \
                         ({}, {l}, {l}) for queries_keys_values {qkv} and heads={heads}, got {att}",
                        b * heads
                    ),
                ));
            }
            let p = Plan {
                bh: b * heads,
                d,
                lq: l,
                lk: l,
            };
            Ok((p, Shape(vec![l, b, heads * d])))
        }
        Kind::EncDecQk => {
            let (q, kv) = (s[0], s[1]);
            ndim3(op, "queries", "seq_length-batch-proj_dim", q)?;
            ndim3(op, "keys_values", "seq_length-batch-2*proj_dim", kv)?;
            if kv[2] != 2 * q[2] || kv[1] != q[1] {
                return Err(Error::shape(
                    op,
                    format!(
                        "keys_values must have the batch of queries and twice its projection \
                         width: queries {q}, keys_values {kv}"
                    ),
                ));
            }
            let d = head_dim(op, "queries", q, heads, 1)?;
            let b = q[1];
            let p = Plan {
                bh: b * heads,
                d,
                lq: q[0],
                lk: kv[0],
            };
            Ok((p, Shape(vec![b * heads, q[0], kv[0]])))
        }
        Kind::EncDecValAtt => {
            let (kv, att) = (s[0], s[1]);
            ndim3(op, "keys_values", "seq_length-batch-2*proj_dim", kv)?;
            ndim3(op, "attention", "batch*heads-seq_length-seq_length", att)?;
            let d = head_dim(op, "keys_values", kv, heads, 2)?;
            let b = kv[1];
            if att[0] != b * heads || att[2] != kv[0] {
                return Err(Error::shape(
                    op,
                    format!(
                        "attention must have shape (batch*heads, query_length, kv_length) = \
                         ({}, _, {}) for keys_values {kv} and heads={heads}, got {att}",
                        b * heads,
                        kv[0]
                    ),
                ));
            }
            let p = Plan {
                bh: b * heads,
                d,
                lq: att[1],
                lk: kv[0],
            };
            Ok((p, Shape(vec![att[1], b, heads * d])))
        }
    }
}

/// A batch of matrices inside one tensor: item i's element (r, c) at
/// `off + i*bs + r*rs + c*cs` (elements).
#[derive(Debug, Clone, Copy)]
pub(crate) struct View {
    pub(crate) off: usize,
    pub(crate) bs: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

impl View {
    /// Slot `s` of `slots` per head of a (seq, batch, heads*slots*d) projection.
    pub(crate) fn slot(p: &Plan, slots: usize, s: usize) -> View {
        View {
            off: s * p.d,
            bs: slots * p.d,
            rs: p.bh * slots * p.d,
            cs: 1,
        }
    }
    /// Contiguous (bh, rows, cols) attention maps.
    pub(crate) fn dense(rows: usize, cols: usize) -> View {
        View {
            off: 0,
            bs: rows * cols,
            rs: cols,
            cs: 1,
        }
    }
    pub(crate) fn t(self) -> View {
        View {
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }
}

/// `c[i] = a[i] · b[i]` for the `p.bh` items, a m×k and b k×n; `c` must have unit column
/// stride.
///
/// # Safety
/// Inside an op reading `a`, `b` and writing `c`, whose shapes `plan` checked against the
/// views: every item lies inside its array, and `c` overlaps neither input.
#[allow(clippy::too_many_arguments)]
unsafe fn bmm<T: GemmElem>(
    p: &Plan,
    (m, n, k): (usize, usize, usize),
    a: &NDArray,
    va: View,
    b: &NDArray,
    vb: View,
    c: &NDArray,
    vc: View,
) {
    let mat = |x: &NDArray, v: View| Mat {
        ptr: (x.raw() as *const T).add(v.off),
        rs: v.rs as isize,
        cs: v.cs as isize,
    };
    batch_matmul_to(
        p.bh,
        m,
        n,
        k,
        mat(a, va),
        va.bs as isize,
        mat(b, vb),
        vb.bs as isize,
        (c.raw() as *mut T).add(vc.off),
        vc.bs,
        vc.rs,
    );
}

/// Multiplies every element of `a` by 1/sqrt(d), the qk products' scale (none for d = 0,
/// whose products are empty sums, not 0·inf).
///
/// # Safety
/// Inside an op writing `a`.
unsafe fn scale<T: GemmElem>(a: &NDArray, d: usize) {
    if d == 0 {
        return;
    }
    let s = 1.0 / (d as f64).sqrt();
    for x in a.data_mut::<T>() {
        *x = T::from_f64(x.to_f64() * s);
    }
}

/// Zeroes `a`: the slots a gradient never writes (the values of a qk input, the queries and
/// keys of a valatt input).
///
/// # Safety
/// Inside an op writing `a`.
unsafe fn zero<T: GemmElem>(a: &NDArray) {
    a.data_mut::<T>().fill(T::from_f64(0.0));
}

fn forward_t<T: GemmElem>(kind: Kind, p: &Plan, ins: &[NDArray], out: &NDArray) {
    let [(ia, na, sa), (ib, nb, sb)] = kind.factors();
    let (d, lq, lk) = (p.d, p.lq, p.lk);
    // SAFETY: inside the op reading `ins` and writing the fresh `out` (invoke never aliases
    // them); `plan` checked every shape against these views.
    unsafe {
        if kind.is_qk() {
            // out = Q·Kᵀ / sqrt(d): (lq × d)·(d × lk).
            let (vq, vk) = (View::slot(p, na, sa), View::slot(p, nb, sb));
            let vo = View::dense(lq, lk);
            bmm::<T>(p, (lq, lk, d), &ins[ia], vq, &ins[ib], vk.t(), out, vo);
            scale::<T>(out, d);
        } else {
            // out = att·V: (lq × lk)·(lk × d), written into the one-slot output.
            let (vv, va) = (View::slot(p, na, sa), View::dense(lq, lk));
            let vo = View::slot(p, 1, 0);
            bmm::<T>(p, (lq, d, lk), &ins[ib], va, &ins[ia], vv, out, vo);
        }
    }
}

/// Inputs: the output gradient, then the forward inputs; outputs: one gradient per input.
fn backward_t<T: GemmElem>(kind: Kind, p: &Plan, ins: &[NDArray], grads: &[NDArray]) {
    let dy = &ins[0];
    let x = &ins[1..];
    let [(ia, na, sa), (ib, nb, sb)] = kind.factors();
    let (d, lq, lk) = (p.d, p.lq, p.lk);
    // SAFETY: inside the op reading `ins` and writing the fresh gradients; the shapes were
    // checked by `plan`, and the two products write disjoint slots (or arrays).
    unsafe {
        for g in grads {
            zero::<T>(g);
        }
        if kind.is_qk() {
            let (vq, vk) = (View::slot(p, na, sa), View::slot(p, nb, sb));
            let vy = View::dense(lq, lk);
            // dQ = dY·K, dK = dYᵀ·Q, both scaled below.
            bmm::<T>(p, (lq, d, lk), dy, vy, &x[ib], vk, &grads[ia], vq);
            bmm::<T>(p, (lk, d, lq), dy, vy.t(), &x[ia], vq, &grads[ib], vk);
            for g in grads {
                scale::<T>(g, d);
            }
        } else {
            let (vv, va) = (View::slot(p, na, sa), View::dense(lq, lk));
            let vy = View::slot(p, 1, 0);
            // dV = attᵀ·dY, dAtt = dY·Vᵀ.
            bmm::<T>(p, (lk, d, lq), &x[ib], va.t(), dy, vy, &grads[ia], vv);
            bmm::<T>(p, (lq, lk, d), dy, vy, &x[ia], vv.t(), &grads[ib], va);
        }
    }
}

/// The one dtype of all inputs, float16/32/64.
fn float_dtype(op: &str, ins: &[Desc]) -> Result<DType> {
    let dt = ins[0].dtype;
    if let Some(o) = ins.iter().find(|d| d.dtype != dt) {
        return Err(Error::dtype(
            op,
            format!("all inputs must have one dtype, got {dt} and {}", o.dtype),
        ));
    }
    crate::op::nn::float(op, dt)
}

fn run<T: GemmElem>(
    kind: Kind,
    heads: usize,
    back: bool,
    ins: &[NDArray],
    outs: &[NDArray],
) -> Result<()> {
    let xs = if back { &ins[1..] } else { ins };
    let shapes: Vec<&Shape> = xs.iter().map(|a| a.shape()).collect();
    let (p, _) = plan(kind, heads, &shapes)?;
    if back {
        backward_t::<T>(kind, &p, ins, outs)
    } else {
        forward_t::<T>(kind, &p, ins, &outs[0])
    }
    Ok(())
}

fn self_kind(qk: bool) -> Kind {
    if qk {
        Kind::SelfQk
    } else {
        Kind::SelfValAtt
    }
}

/// The self-attention products' shape checks (errors naming `op`): the plan and the output
/// shape, for the qk product (inputs: queries_keys_values) or valatt (and attention).
pub(crate) fn selfatt_plan(
    op: &str,
    qk: bool,
    heads: usize,
    shapes: &[&Shape],
) -> Result<(Plan, Shape)> {
    plan_for(op, self_kind(qk), heads, shapes)
}

/// The float dtype every input of a float self-attention product shares.
pub(crate) fn selfatt_float_dtype(op: &str, ins: &[Desc]) -> Result<DType> {
    float_dtype(op, ins)
}

/// The float self-attention product (`_contrib_interleaved_matmul_selfatt_qk` / `_valatt`),
/// which the oneDNN-fused float nodes compute too.
pub(crate) fn selfatt_forward(
    cx: &crate::op::OpCtx,
    op: &'static str,
    qk: bool,
    heads: usize,
    ins: &[NDArray],
    outs: &[NDArray],
) -> Result<()> {
    kernel(self_kind(qk), heads, false, op)(cx, ins, outs)
}

fn kernel(
    kind: Kind,
    heads: usize,
    back: bool,
    op: &'static str,
) -> impl Fn(&crate::op::OpCtx, &[NDArray], &[NDArray]) -> Result<()> + Send + Sync + 'static {
    move |_, ins, outs| match ins[0].dtype() {
        DType::F32 => run::<f32>(kind, heads, back, ins, outs),
        DType::F64 => run::<f64>(kind, heads, back, ins, outs),
        DType::F16 => run::<half::f16>(kind, heads, back, ins, outs),
        d => Err(Error::dtype(op, format!("no product for {d}"))),
    }
}

fn backward_op(kind: Kind, heads: usize) -> Arc<dyn Operator> {
    let name = kind.backward_name();
    let n = kind.input_names().len();
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, n + 1)?;
            let dt = float_dtype(name, ins)?;
            let shapes: Vec<&Shape> = ins[1..].iter().map(|d| &d.shape).collect();
            let (_, out) = plan(kind, heads, &shapes)?;
            if ins[0].shape != out {
                return Err(Error::shape(
                    name,
                    format!(
                        "output gradient {} must have the output shape {out}",
                        ins[0].shape
                    ),
                ));
            }
            Ok(ins[1..]
                .iter()
                .map(|d| Desc::new(d.shape.clone(), dt))
                .collect())
        },
        kernel(kind, heads, true, name),
    );
    op.num_outputs = n;
    op.arc()
}

fn forward_op(kind: Kind, heads: i64) -> Result<Arc<dyn Operator>> {
    let name = kind.name();
    if heads < 1 {
        return Err(Error::param(
            name,
            format!("heads must be a positive number of attention heads, got {heads}"),
        ));
    }
    let heads = heads as usize;
    let n = kind.input_names().len();
    Ok(FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, n)?;
            let dt = float_dtype(name, ins)?;
            let shapes: Vec<&Shape> = ins.iter().map(|d| &d.shape).collect();
            let (_, out) = plan(kind, heads, &shapes)?;
            Ok(vec![Desc::new(out, dt)])
        },
        kernel(kind, heads, false, name),
    )
    .with_grad(move |g, a| {
        let dy = a
            .out_grads
            .first()
            .ok_or_else(|| Error::Internal(format!("{name} gradient without out_grad")))?;
        let mut ins = vec![dy.clone()];
        ins.extend(a.inputs.iter().cloned());
        Ok(g.apply(backward_op(kind, heads), &ins)
            .into_iter()
            .map(Some)
            .collect())
    })
    .arc())
}

pub fn register(r: &mut Registry) {
    let docs = [
        (
            Kind::SelfQk,
            "Computes the matrix multiplication between the projections of queries and keys in \
             multihead attention used as self attention. The input is a single tensor of \
             interleaved projections of queries, keys and values following the layout \
             (seq_length, batch_size, num_heads * head_dim * 3). The output, of shape \
             (batch_size * num_heads, seq_length, seq_length), is q_proj · k_projᵀ / \
             sqrt(head_dim) for each (batch, head) pair, as this code would compute it:\n\n\
             tmp = mx.nd.reshape(queries_keys_values, shape=(0, 0, num_heads, 3, -1))\n\
             q_proj = mx.nd.transpose(tmp[:,:,:,0,:], axes=(1, 2, 0, 3))\n\
             q_proj = mx.nd.reshape(q_proj, shape=(-1, 0, 0), reverse=True)\n\
             q_proj = mx.nd.contrib.div_sqrt_dim(q_proj)\n\
             k_proj = mx.nd.transpose(tmp[:,:,:,1,:], axes=(1, 2, 0, 3))\n\
             k_proj = mx.nd.reshape(k_proj, shape=(-1, 0, 0), reverse=True)\n\
             output = mx.nd.batch_dot(q_proj, k_proj, transpose_b=True)",
        ),
        (
            Kind::SelfValAtt,
            "Computes the matrix multiplication between the projections of values and the \
             attention weights in multihead attention used as self attention. The inputs are a \
             tensor of interleaved projections of queries, keys and values following the layout \
             (seq_length, batch_size, num_heads * head_dim * 3) and the attention weights \
             following the layout (batch_size * num_heads, seq_length, seq_length). The output \
             has shape (seq_length, batch_size, num_heads * head_dim), as this code would \
             compute it:\n\n\
             tmp = mx.nd.reshape(queries_keys_values, shape=(0, 0, num_heads, 3, -1))\n\
             v_proj = mx.nd.transpose(tmp[:,:,:,2,:], axes=(1, 2, 0, 3))\n\
             v_proj = mx.nd.reshape(v_proj, shape=(-1, 0, 0), reverse=True)\n\
             output = mx.nd.batch_dot(attention, v_proj)\n\
             output = mx.nd.reshape(output, shape=(-1, num_heads, 0, 0), reverse=True)\n\
             output = mx.nd.transpose(output, axes=(2, 0, 1, 3))\n\
             output = mx.nd.reshape(output, shape=(0, 0, -1))",
        ),
        (
            Kind::EncDecQk,
            "Computes the matrix multiplication between the projections of queries and keys in \
             multihead attention used as encoder-decoder. The inputs are a tensor of \
             projections of queries following the layout (seq_length, batch_size, num_heads * \
             head_dim) and a tensor of interleaved projections of keys and values following the \
             layout (seq_length, batch_size, num_heads * head_dim * 2). The output, of shape \
             (batch_size * num_heads, query_length, kv_length), is q_proj · k_projᵀ / \
             sqrt(head_dim) for each (batch, head) pair:\n\n\
             q_proj = mx.nd.reshape(queries, shape=(0, 0, num_heads, -1))\n\
             q_proj = mx.nd.transpose(q_proj, axes=(1, 2, 0, 3))\n\
             q_proj = mx.nd.reshape(q_proj, shape=(-1, 0, 0), reverse=True)\n\
             q_proj = mx.nd.contrib.div_sqrt_dim(q_proj)\n\
             tmp = mx.nd.reshape(keys_values, shape=(0, 0, num_heads, 2, -1))\n\
             k_proj = mx.nd.transpose(tmp[:,:,:,0,:], axes=(1, 2, 0, 3))\n\
             k_proj = mx.nd.reshape(k_proj, shape=(-1, 0, 0), reverse=True)\n\
             output = mx.nd.batch_dot(q_proj, k_proj, transpose_b=True)",
        ),
        (
            Kind::EncDecValAtt,
            "Computes the matrix multiplication between the projections of values and the \
             attention weights in multihead attention used as encoder-decoder. The inputs are a \
             tensor of interleaved projections of keys and values following the layout \
             (seq_length, batch_size, num_heads * head_dim * 2) and the attention weights \
             following the layout (batch_size * num_heads, query_length, seq_length). The \
             output has shape (query_length, batch_size, num_heads * head_dim):\n\n\
             tmp = mx.nd.reshape(keys_values, shape=(0, 0, num_heads, 2, -1))\n\
             v_proj = mx.nd.transpose(tmp[:,:,:,1,:], axes=(1, 2, 0, 3))\n\
             v_proj = mx.nd.reshape(v_proj, shape=(-1, 0, 0), reverse=True)\n\
             output = mx.nd.batch_dot(attention, v_proj)\n\
             output = mx.nd.reshape(output, shape=(-1, num_heads, 0, 0), reverse=True)\n\
             output = mx.nd.transpose(output, axes=(2, 0, 1, 3))\n\
             output = mx.nd.reshape(output, shape=(0, 0, -1))",
        ),
    ];
    for (kind, doc) in docs {
        r.add(def(
            kind.name(),
            doc,
            vec![param("heads", "int", None, "Set number of heads")],
            Inputs::Fixed(kind.input_names()),
            move |p| forward_op(kind, p.int("heads")?),
        ));
    }
}
