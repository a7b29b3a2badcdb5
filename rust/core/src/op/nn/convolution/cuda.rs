//! Convolution on the GPU: im2col/col2im kernels over runs of samples and strided-batched
//! cuBLAS products. The order of work is a `Plan` of steps, built from the geometry alone, so
//! the host tests can run the same plan on CPU buffers and compare it with the CPU operator.

use super::{empty, Cfg};
use crate::error::Result;
use crate::kernels::cpu::conv::Geom;
use crate::kernels::cuda::blas::{gemm_batched, Operand};
use crate::kernels::cuda::device::Device;
use crate::kernels::cuda::{dptr, kernel_name, launch, param as p, run_blocks, run_kernel};
use crate::kernels::cuda::{Arg, CudaFn, FLOATS};
use crate::ndarray::NDArray;
use crate::shape::Shape;
use crate::DType;
use std::sync::Arc;

pub const CUDA_MODULE: &str = "convolution";

/// im2col / col2im over a run of samples (gather form: each input element sums the column
/// entries read from it, so no atomics), the bias kernels, and the row sums that fold the
/// per-sample weight gradients; the products are strided-batched cuBLAS calls.
pub fn cuda_source() -> String {
    use crate::kernels::cuda::{module_source, storage_type};
    let geom = r#"
struct ConvGeom { i64 c, in_[3], out[3], k[3], s[3], d[3], p[3]; };
"#;
    module_source(geom, |dt| {
        let s = storage_type(dt);
        format!(
            r#"
extern "C" __global__ void {im2col}(const {s}* x, {s}* col, ConvGeom g, u64 batch) {{
  const u64 out_len = g.out[0] * g.out[1] * g.out[2];
  const u64 in_len = g.in_[0] * g.in_[1] * g.in_[2];
  const u64 per = (u64)g.c * g.k[0] * g.k[1] * g.k[2] * out_len;
  OX_LOOP(i, batch * per) {{
    const u64 smp = i / per, j = i % per;
    const u64 o = j % out_len, row = j / out_len;
    const i64 xo = o % g.out[2], yo = (o / g.out[2]) % g.out[1], zo = o / (g.out[2] * g.out[1]);
    const i64 kc = row % g.k[2], kb = (row / g.k[2]) % g.k[1];
    const i64 ka = (row / (g.k[2] * g.k[1])) % g.k[0], ch = row / (g.k[2] * g.k[1] * g.k[0]);
    const i64 zi = zo * g.s[0] + ka * g.d[0] - g.p[0];
    const i64 yi = yo * g.s[1] + kb * g.d[1] - g.p[1];
    const i64 xi = xo * g.s[2] + kc * g.d[2] - g.p[2];
    const bool in = zi >= 0 && zi < g.in_[0] && yi >= 0 && yi < g.in_[1] && xi >= 0 && xi < g.in_[2];
    const {s}* xs = x + smp * g.c * in_len;
    col[i] = in ? xs[((ch * g.in_[0] + zi) * g.in_[1] + yi) * g.in_[2] + xi] : IO<{s}>::st(0);
  }}
}}
extern "C" __global__ void {col2im}(const {s}* col, {s}* x, ConvGeom g, u64 batch) {{
  typedef IO<{s}>::C C;
  const u64 in_len = g.in_[0] * g.in_[1] * g.in_[2];
  const u64 out_len = g.out[0] * g.out[1] * g.out[2];
  const u64 per = (u64)g.c * g.k[0] * g.k[1] * g.k[2] * out_len;
  OX_LOOP(i, batch * g.c * in_len) {{
    const u64 smp = i / (g.c * in_len);
    const i64 ch = (i / in_len) % g.c, r = i % in_len;
    const i64 xi = r % g.in_[2], yi = (r / g.in_[2]) % g.in_[1], zi = r / (g.in_[2] * g.in_[1]);
    const {s}* cs = col + smp * per;
    C acc = (C)0;
    for (i64 ka = 0; ka < g.k[0]; ++ka) {{
      const i64 tz = zi + g.p[0] - ka * g.d[0];
      if (tz < 0 || tz % g.s[0] != 0 || tz / g.s[0] >= g.out[0]) continue;
      for (i64 kb = 0; kb < g.k[1]; ++kb) {{
        const i64 ty = yi + g.p[1] - kb * g.d[1];
        if (ty < 0 || ty % g.s[1] != 0 || ty / g.s[1] >= g.out[1]) continue;
        for (i64 kc = 0; kc < g.k[2]; ++kc) {{
          const i64 tx = xi + g.p[2] - kc * g.d[2];
          if (tx < 0 || tx % g.s[2] != 0 || tx / g.s[2] >= g.out[2]) continue;
          const i64 row = ((ch * g.k[0] + ka) * g.k[1] + kb) * g.k[2] + kc;
          const i64 o = ((tz / g.s[0]) * g.out[1] + ty / g.s[1]) * g.out[2] + tx / g.s[2];
          acc += IO<{s}>::ld(cs[row * out_len + o]);
        }}
      }}
    }}
    x[i] = IO<{s}>::st(acc);
  }}
}}
extern "C" __global__ void {bias}(const {s}* b, {s}* y, u64 n, u64 f, u64 len) {{
  OX_LOOP(i, n) y[i] = IO<{s}>::st(IO<{s}>::ld(y[i]) + IO<{s}>::ld(b[(i / len) % f]));
}}
// One block per filter: the block's threads stride over (sample, position).
extern "C" __global__ void {bias_grad}(const {s}* dy, {s}* db, u64 batch, u64 f, u64 len) {{
  __shared__ double sh[256];
  const u64 j = blockIdx.x;
  double acc = 0;
  for (u64 t = threadIdx.x; t < batch * len; t += blockDim.x)
    acc += (double)IO<{s}>::ld(dy[((t / len) * f + j) * len + t % len]);
  acc = ox_block_sum(sh, acc);
  if (threadIdx.x == 0) db[j] = IO<{s}>::st((IO<{s}>::C)acc);
}}
// dst = beta * dst + the sum of `rows` rows of `src` (len each).
extern "C" __global__ void {sum_rows}(const {s}* src, {s}* dst, u64 rows, u64 len, double beta) {{
  typedef IO<{s}>::C C;
  OX_LOOP(j, len) {{
    C acc = beta == 0.0 ? (C)0 : (C)beta * IO<{s}>::ld(dst[j]);
    for (u64 r = 0; r < rows; ++r) acc += IO<{s}>::ld(src[r * len + j]);
    dst[j] = IO<{s}>::st(acc);
  }}
}}
"#,
            im2col = kernel_name("im2col", dt),
            col2im = kernel_name("col2im", dt),
            bias = kernel_name("conv_bias", dt),
            bias_grad = kernel_name("conv_bias_grad", dt),
            sum_rows = kernel_name("conv_sum_rows", dt),
        )
    })
}

/// Bytes of scratch one run of samples may take (its columns, and in the backward pass its
/// per-sample weight gradients); a sample larger than this still runs, alone.
const SCRATCH: usize = 256 << 20;

/// The arrays a plan reads and writes: the op's inputs and outputs, and two scratch buffers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Buf {
    X,
    W,
    Y,
    Dy,
    Dx,
    Dw,
    /// Columns of a run of samples: [sample][channel·kernel][position].
    Col,
    /// Per-sample weight gradients of a run: [sample][filter][channel·kernel].
    Part,
}

/// A run of matrices in one buffer: first at `offset` elements, `stride` apart.
#[derive(Clone, Copy, Debug)]
struct Mat(Buf, usize, usize);

#[derive(Clone, Copy, Debug)]
enum Step {
    /// Columns of samples `first..first + batch` of X into Col.
    Im2col { first: usize, batch: usize },
    /// Col folded onto samples `first..first + batch` of dX (overwriting them).
    Col2im { first: usize, batch: usize },
    /// `batch` row-major products C_i = op(A_i)·op(B_i) (overwriting C).
    Gemm {
        trans: (bool, bool),
        mnk: (usize, usize, usize),
        a: Mat,
        b: Mat,
        c: Mat,
        batch: usize,
    },
    /// dW = beta·dW + the sum of the first `rows` per-sample gradients in Part.
    SumRows { rows: usize, beta: f64 },
}

struct Plan {
    steps: Vec<Step>,
    /// Scratch elements of Col and Part.
    col: usize,
    part: usize,
}

/// Column entries of one sample.
fn col_len(g: &Geom) -> usize {
    g.c * g.k_len() * g.out_len()
}

/// Samples per run: as many as fit `SCRATCH` at `per_sample` bytes, at least one.
fn run_len(g: &Geom, per_sample: usize) -> usize {
    (SCRATCH / per_sample.max(1)).clamp(1, g.n.max(1))
}

/// (filters, rows, positions) of one group's product.
fn group_dims(g: &Geom) -> (usize, usize, usize) {
    (g.f / g.groups, g.c / g.groups * g.k_len(), g.out_len())
}

/// Y[s][group] = W[group] · col[s][group], a run of samples at a time.
fn forward_plan(g: &Geom, es: usize) -> Plan {
    let ((fg, gk, ol), per) = (group_dims(g), col_len(g));
    let nb = run_len(g, per * es);
    let mut steps = Vec::new();
    for first in (0..g.n).step_by(nb) {
        let batch = nb.min(g.n - first);
        steps.push(Step::Im2col { first, batch });
        for gi in 0..g.groups {
            steps.push(Step::Gemm {
                trans: (false, false),
                mnk: (fg, ol, gk),
                a: Mat(Buf::W, gi * fg * gk, 0),
                b: Mat(Buf::Col, gi * gk * ol, per),
                c: Mat(Buf::Y, (first * g.f + gi * fg) * ol, g.f * ol),
                batch,
            });
        }
    }
    Plan {
        steps,
        col: nb * per,
        part: 0,
    }
}

/// dW[s][group] = dY[s][group] · col[s][group]ᵀ summed over the samples, and (with `need_dx`)
/// col[s][group] = W[group]ᵀ · dY[s][group] folded back onto dX.
fn backward_plan(g: &Geom, es: usize, need_dx: bool) -> Plan {
    let ((fg, gk, ol), per) = (group_dims(g), col_len(g));
    let wlen = g.f * gk;
    let nb = run_len(g, (per + wlen) * es);
    let mut steps = Vec::new();
    for first in (0..g.n).step_by(nb) {
        let batch = nb.min(g.n - first);
        let dy = |gi: usize| Mat(Buf::Dy, (first * g.f + gi * fg) * ol, g.f * ol);
        steps.push(Step::Im2col { first, batch });
        for gi in 0..g.groups {
            steps.push(Step::Gemm {
                trans: (false, true),
                mnk: (fg, gk, ol),
                a: dy(gi),
                b: Mat(Buf::Col, gi * gk * ol, per),
                c: Mat(Buf::Part, gi * fg * gk, wlen),
                batch,
            });
        }
        let beta = if first == 0 { 0.0 } else { 1.0 };
        steps.push(Step::SumRows { rows: batch, beta });
        if need_dx {
            for gi in 0..g.groups {
                steps.push(Step::Gemm {
                    trans: (true, false),
                    mnk: (gk, ol, fg),
                    a: Mat(Buf::W, gi * fg * gk, 0),
                    b: dy(gi),
                    c: Mat(Buf::Col, gi * gk * ol, per),
                    batch,
                });
            }
            steps.push(Step::Col2im { first, batch });
        }
    }
    Plan {
        steps,
        col: nb * per,
        part: nb * wlen,
    }
}

/// Mirrors `ConvGeom` in the CUDA source (one sample's geometry, all channels).
#[repr(C)]
struct ConvGeom {
    c: i64,
    input: [i64; 3],
    out: [i64; 3],
    k: [i64; 3],
    s: [i64; 3],
    d: [i64; 3],
    p: [i64; 3],
}

fn conv_geom(g: &Geom) -> ConvGeom {
    let v = |a: [usize; 3]| a.map(|x| x as i64);
    ConvGeom {
        c: g.c as i64,
        input: v(g.input),
        out: v(g.output),
        k: v(g.kernel),
        s: v(g.stride),
        d: v(g.dilate),
        p: v(g.pad),
    }
}

/// Runs a plan on the device; `bufs` gives each buffer's device address (0: not present).
fn run_plan(
    dev: &Device,
    dt: DType,
    g: &Geom,
    plan: &Plan,
    bufs: impl Fn(Buf) -> u64,
) -> Result<()> {
    let es = dt.size() as u64;
    let sample = (g.c * g.in_len()) as u64 * es;
    let cg = conv_geom(g);
    let wlen = (g.f * group_dims(g).1) as u64;
    for step in &plan.steps {
        match *step {
            Step::Im2col { first, batch } | Step::Col2im { first, batch } => {
                let back = matches!(step, Step::Col2im { .. });
                let (name, n, src, dst) = if back {
                    let dx = bufs(Buf::Dx) + first as u64 * sample;
                    ("col2im", batch * g.c * g.in_len(), bufs(Buf::Col), dx)
                } else {
                    let x = bufs(Buf::X) + first as u64 * sample;
                    ("im2col", batch * col_len(g), x, bufs(Buf::Col))
                };
                let f = dev.function(CUDA_MODULE, cuda_source, &kernel_name(name, dt))?;
                let nb = batch as u64;
                // SAFETY: (src, dst, ConvGeom, u64) as declared; the buffers hold `batch`
                // samples of `g` (the plan's scratch sizes and the op's checked shapes).
                unsafe { launch(dev, f, n, &mut [p(&src), p(&dst), p(&cg), p(&nb)])? }
            }
            Step::Gemm {
                trans,
                mnk,
                a,
                b,
                c,
                batch,
            } => {
                let op = |Mat(buf, off, stride): Mat| Operand::new(bufs(buf), off, stride);
                gemm_batched(dev, dt, trans, mnk, op(a), op(b), op(c), batch, 0.0)?;
            }
            Step::SumRows { rows, beta } => {
                let args = [
                    Arg::U(bufs(Buf::Part)),
                    Arg::U(bufs(Buf::Dw)),
                    Arg::U(rows as u64),
                    Arg::U(wlen),
                    Arg::F(beta),
                ];
                run_kernel(
                    dev,
                    CUDA_MODULE,
                    cuda_source,
                    "conv_sum_rows",
                    dt,
                    wlen as usize,
                    &args,
                )?;
            }
        }
    }
    Ok(())
}

fn scratch(len: usize, like: &NDArray) -> Result<Option<NDArray>> {
    if len == 0 {
        return Ok(None);
    }
    NDArray::empty(Shape(vec![len]), like.dtype(), like.ctx()).map(Some)
}

fn addr(a: &Option<NDArray>) -> u64 {
    a.as_ref().map_or(0, dptr)
}

pub fn forward(cfg: Arc<Cfg>) -> CudaFn {
    Box::new(move |dev, _, ins, outs| {
        let dt = ins[0].dtype();
        let g = cfg.geom(ins[0].shape())?;
        if cfg.deconv || !FLOATS.contains(&dt) || empty(&g) {
            return Ok(false);
        }
        let plan = forward_plan(&g, dt.size());
        let col = scratch(plan.col, &ins[0])?;
        let y = dptr(&outs[0]);
        run_plan(dev, dt, &g, &plan, |b| match b {
            Buf::X => dptr(&ins[0]),
            Buf::W => dptr(&ins[1]),
            Buf::Y => y,
            Buf::Col => addr(&col),
            _ => 0,
        })?;
        if let Some(b) = ins.get(2) {
            let n = outs[0].size();
            let args = [dptr(b), y, n as u64, g.f as u64, g.out_len() as u64].map(Arg::U);
            run_kernel(dev, CUDA_MODULE, cuda_source, "conv_bias", dt, n, &args)?;
        }
        Ok(true)
    })
}

/// Inputs dY, data, weight; outputs dX (when `need_dx`), dW, then db.
pub fn backward(cfg: Arc<Cfg>, need_dx: bool) -> CudaFn {
    Box::new(move |dev, _, ins, outs| {
        let dt = ins[1].dtype();
        let g = cfg.geom(ins[1].shape())?;
        if cfg.deconv || !FLOATS.contains(&dt) || empty(&g) {
            return Ok(false);
        }
        let plan = backward_plan(&g, dt.size(), need_dx);
        let (col, part) = (scratch(plan.col, &ins[1])?, scratch(plan.part, &ins[1])?);
        let (dx, rest) = if need_dx {
            (dptr(&outs[0]), &outs[1..])
        } else {
            (0, outs)
        };
        run_plan(dev, dt, &g, &plan, |b| match b {
            Buf::Dy => dptr(&ins[0]),
            Buf::X => dptr(&ins[1]),
            Buf::W => dptr(&ins[2]),
            Buf::Dx => dx,
            Buf::Dw => dptr(&rest[0]),
            Buf::Col => addr(&col),
            Buf::Part => addr(&part),
            Buf::Y => 0,
        })?;
        if let Some(db) = rest.get(1) {
            let (n, f, ol) = (g.n as u64, g.f as u64, g.out_len() as u64);
            let args = [dptr(&ins[0]), dptr(db), n, f, ol].map(Arg::U);
            run_blocks(
                dev,
                CUDA_MODULE,
                cuda_source,
                "conv_bias_grad",
                dt,
                g.f,
                &args,
            )?;
        }
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::cpu::conv;

    /// Runs a plan on host buffers, each step as its CUDA kernel or cuBLAS call defines it
    /// (the kernels' own arithmetic is checked on the host in tests/python).
    fn run_on_host(g: &Geom, plan: &Plan, bufs: &mut [Vec<f64>; 8]) {
        let idx = |b: Buf| b as usize;
        let (sample, per) = (g.c * g.in_len(), col_len(g));
        let wlen = g.f * group_dims(g).1;
        for step in &plan.steps {
            match *step {
                Step::Im2col { first, batch } => {
                    for s in 0..batch {
                        let x = bufs[idx(Buf::X)][(first + s) * sample..][..sample].to_vec();
                        conv::im2col(g, &x, &mut bufs[idx(Buf::Col)][s * per..][..per]);
                    }
                }
                Step::Col2im { first, batch } => {
                    for s in 0..batch {
                        let col = bufs[idx(Buf::Col)][s * per..][..per].to_vec();
                        let dx = &mut bufs[idx(Buf::Dx)][(first + s) * sample..][..sample];
                        dx.iter_mut().for_each(|v| *v = 0.0);
                        conv::col2im(g, &col, dx);
                    }
                }
                Step::Gemm {
                    trans: (ta, tb),
                    mnk: (m, n, k),
                    a,
                    b,
                    c,
                    batch,
                } => {
                    for i in 0..batch {
                        let at = |Mat(_, off, st): Mat| off + i * st;
                        for r in 0..m {
                            for q in 0..n {
                                let mut acc = 0.0;
                                for t in 0..k {
                                    let x = at(a) + if ta { t * m + r } else { r * k + t };
                                    let y = at(b) + if tb { q * k + t } else { t * n + q };
                                    acc += bufs[idx(a.0)][x] * bufs[idx(b.0)][y];
                                }
                                bufs[idx(c.0)][at(c) + r * n + q] = acc;
                            }
                        }
                    }
                }
                Step::SumRows { rows, beta } => {
                    for j in 0..wlen {
                        let sum: f64 = (0..rows).map(|r| bufs[idx(Buf::Part)][r * wlen + j]).sum();
                        let dw = &mut bufs[idx(Buf::Dw)][j];
                        // As the kernel: beta 0 ignores what dW held (NaN included).
                        *dw = if beta == 0.0 { sum } else { beta * *dw + sum };
                    }
                }
            }
        }
    }

    fn vals(n: usize, seed: usize) -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 13 + seed * 7) % 19) as f64 * 0.25 - 2.0)
            .collect()
    }

    /// Forward and backward plans, run on the host, give the CPU operator's results: one run
    /// of samples, several runs with a short last one (a small scratch), and groups.
    #[test]
    fn plans_compute_the_cpu_convolution() {
        for &(n, c, f, groups, nb_bytes) in
            &[(3, 4, 6, 1, usize::MAX), (5, 4, 6, 2, 1), (7, 6, 6, 3, 2)]
        {
            let g = Geom {
                n,
                c,
                f,
                groups,
                input: [1, 5, 6],
                output: [1, 5, 3],
                kernel: [1, 3, 2],
                stride: [1, 1, 2],
                dilate: [1, 1, 1],
                pad: [0, 1, 0],
            };
            let (sample, wlen) = (c * g.in_len(), f * group_dims(&g).1);
            let x = vals(n * sample, 1);
            let w = vals(wlen, 2);
            let dy = vals(n * f * g.out_len(), 3);
            let mut want_y = vec![0.0; dy.len()];
            conv::forward(&g, &x, &w, None, &mut want_y);
            let mut want_dx = vec![0.0; x.len()];
            conv::backward_data(&g, &dy, &w, &mut want_dx);
            let mut want_dw = vec![0.0; wlen];
            conv::backward_weight(&g, &dy, &x, &mut want_dw);
            // es = per-sample bytes / nb_bytes picks the run length through SCRATCH.
            let es = if nb_bytes == usize::MAX {
                1
            } else {
                SCRATCH / (col_len(&g) + wlen) / nb_bytes
            };
            for plan in [forward_plan(&g, es), backward_plan(&g, es, true)] {
                let mut bufs: [Vec<f64>; 8] = Default::default();
                bufs[Buf::X as usize] = x.clone();
                bufs[Buf::W as usize] = w.clone();
                bufs[Buf::Dy as usize] = dy.clone();
                bufs[Buf::Y as usize] = vec![f64::NAN; dy.len()];
                bufs[Buf::Dx as usize] = vec![f64::NAN; x.len()];
                bufs[Buf::Dw as usize] = vec![f64::NAN; wlen];
                bufs[Buf::Col as usize] = vec![f64::NAN; plan.col];
                bufs[Buf::Part as usize] = vec![f64::NAN; plan.part];
                let runs = plan
                    .steps
                    .iter()
                    .filter(|s| matches!(s, Step::Im2col { .. }))
                    .count();
                assert_eq!(
                    runs,
                    if nb_bytes == usize::MAX {
                        1
                    } else {
                        n.div_ceil(nb_bytes)
                    }
                );
                run_on_host(&g, &plan, &mut bufs);
                let close = |got: &[f64], want: &[f64], what: &str| {
                    for (i, (a, b)) in got.iter().zip(want).enumerate() {
                        assert!(
                            (a - b).abs() < 1e-9,
                            "{what}[{i}]: {a} vs {b} (n {n}, groups {groups})"
                        );
                    }
                };
                if plan.part == 0 {
                    close(&bufs[Buf::Y as usize], &want_y, "y");
                } else {
                    close(&bufs[Buf::Dx as usize], &want_dx, "dx");
                    close(&bufs[Buf::Dw as usize], &want_dw, "dw");
                }
            }
        }
    }
}
