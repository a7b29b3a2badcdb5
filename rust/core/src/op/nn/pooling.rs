//! `Pooling`: max / avg / sum / lp windows over 1 to 3 spatial dims (NCW, NCHW, NCDHW) with
//! MXNet's `valid` and `full` output conventions and `global_pool`; kernels in
//! kernels/cpu/pool.rs. The gradient is one `_backward_Pooling` node reading the output
//! gradient, the input and the output.

use super::{check_count, float};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::halves::{through_f32, Half};
use crate::kernels::cpu::pool::{self, Geom, Kind};
use crate::kernels::cpu::reduce::RedElem;
use crate::ndarray::NDArray;
use crate::op::params::{param, ParamSpec, Params};
use crate::op::shape_ops::def;
use crate::op::{Desc, FnOp, Inputs, Operator, Registry};
use crate::shape::Shape;
use half::{bf16, f16};
use std::sync::Arc;

const OP: &str = "Pooling";

/// Parsed pooling parameters, shared with `_contrib_quantized_pooling`.
#[derive(Debug, Clone)]
pub(crate) struct Cfg {
    /// The op named in errors.
    pub(crate) op: &'static str,
    pub(crate) kind: Kind,
    pub(crate) global: bool,
    pub(crate) full: bool,
    pub(crate) kernel: Vec<usize>,
    pub(crate) stride: Vec<usize>,
    pub(crate) pad: Vec<usize>,
}

fn lift(v: &[usize], fill: usize) -> [usize; 3] {
    let mut o = [fill; 3];
    o[3 - v.len()..].copy_from_slice(v);
    o
}

impl Cfg {
    pub(crate) fn parse(op: &'static str, p: &Params) -> Result<Cfg> {
        let global = p.bool("global_pool")?;
        let kernel = p.shape("kernel")?;
        if !global {
            if !(1..=3).contains(&kernel.len()) {
                return Err(Error::param(
                    op,
                    format!(
                        "kernel must have 1, 2 or 3 dimensions unless global_pool=True, got {kernel:?}"
                    ),
                ));
            }
            if kernel.contains(&0) {
                return Err(Error::param(
                    op,
                    format!("kernel must be positive, got {kernel:?}"),
                ));
            }
        }
        let nd = kernel.len();
        let tuple = |name: &str, default: usize| -> Result<Vec<usize>> {
            let v = p.shape(name)?;
            if v.is_empty() || global {
                return Ok(vec![default; nd]);
            }
            if v.len() != nd {
                return Err(Error::param(
                    op,
                    format!("{name} {v:?} must have as many dimensions as kernel {kernel:?}"),
                ));
            }
            Ok(v)
        };
        let stride = tuple("stride", 1)?;
        let pad = tuple("pad", 0)?;
        if stride.contains(&0) {
            return Err(Error::param(
                op,
                format!("stride must be positive, got {stride:?}"),
            ));
        }
        let include_pad = match p.str("count_include_pad")?.trim() {
            "None" => true,
            _ => p.bool("count_include_pad")?,
        };
        let kind = match p.choice("pool_type", &["avg", "lp", "max", "sum"])? {
            "max" => Kind::Max,
            "avg" => Kind::Avg { include_pad },
            "sum" => Kind::Sum,
            _ => {
                let pv = p.opt_int("p_value")?.ok_or_else(|| {
                    Error::param(op, "p_value is required for pool_type='lp' (1, 2 or 3)")
                })?;
                if !(1..=3).contains(&pv) {
                    return Err(Error::param(
                        op,
                        format!("p_value must be 1, 2 or 3, got {pv}"),
                    ));
                }
                Kind::Lp(pv as i32)
            }
        };
        let full = match p.choice("pooling_convention", &["full", "same", "valid"])? {
            "valid" => false,
            "full" => true,
            _ => {
                return Err(Error::NotImplemented(format!(
                    "{op}: pooling_convention='same' is not supported"
                )))
            }
        };
        let layout = p.str("layout")?.trim().trim_matches('\'');
        if !matches!(layout, "None" | "NCW" | "NCHW" | "NCDHW") {
            return Err(Error::NotImplemented(format!(
                "{op}: layout '{layout}' is not supported on CPU; use NCW, NCHW or NCDHW"
            )));
        }
        Ok(Cfg {
            op,
            kind,
            global,
            full,
            kernel,
            stride,
            pad,
        })
    }

    pub(crate) fn geom(&self, d: &Shape) -> Result<Geom> {
        if self.global {
            if !(3..=5).contains(&d.ndim()) {
                return Err(Error::shape(
                    self.op,
                    format!(
                        "Input data should be 3D in (batch, channel, x), 4D in (batch, channel, y, \
                         x) or 5D in (batch, channel, d, y, x), got shape {d}"
                    ),
                ));
            }
            let sp = &d.0[2..];
            return Ok(Geom {
                planes: d[0] * d[1],
                input: lift(sp, 1),
                output: [1; 3],
                kernel: lift(sp, 1),
                stride: [1; 3],
                pad: [0; 3],
            });
        }
        let nd = self.kernel.len();
        if d.ndim() != nd + 2 {
            return Err(Error::shape(
                self.op,
                format!(
                    "data must be {}-D for a {nd}-D kernel {:?}, got shape {d}",
                    nd + 2,
                    self.kernel
                ),
            ));
        }
        let sp = &d.0[2..];
        let mut out = vec![0; nd];
        for (i, o) in out.iter_mut().enumerate() {
            *o = pooled_len(
                self.op,
                i,
                d,
                self.pad[i],
                self.kernel[i],
                self.stride[i],
                self.full,
            )?;
        }
        Ok(Geom {
            planes: d[0] * d[1],
            input: lift(sp, 1),
            output: lift(&out, 1),
            kernel: lift(&self.kernel, 1),
            stride: lift(&self.stride, 1),
            pad: lift(&self.pad, 0),
        })
    }

    pub(crate) fn out_shape(&self, d: &Shape, g: &Geom) -> Shape {
        let nd = d.ndim() - 2;
        let mut s = vec![d[0], d[1]];
        s.extend_from_slice(&g.output[3 - nd..]);
        Shape(s)
    }
}

fn lowest<T: Element>() -> T {
    match T::DTYPE {
        DType::F32 => T::from_f64(f32::MIN as f64),
        DType::F16 => T::from_f64(-65504.0),
        DType::BF16 => T::from_f64(half::bf16::MIN.to_f64()),
        _ => T::from_f64(f64::MIN),
    }
}

fn forward_t<T: RedElem>(cfg: &Cfg, x: &NDArray, y: &NDArray) -> Result<()> {
    let g = cfg.geom(x.shape())?;
    match (cfg.kind, T::DTYPE) {
        (Kind::Max, DType::F16) => max_forward_f32::<f16>(&g, x, y),
        (Kind::Max, DType::BF16) => max_forward_f32::<bf16>(&g, x, y),
        // SAFETY: inside the op reading x and writing y, a fresh array of the inferred shape.
        _ => unsafe {
            pool::forward(
                &g,
                cfg.kind,
                lowest::<T>(),
                x.data::<T>(),
                y.data_mut::<T>(),
            )
        },
    }
    Ok(())
}

fn backward_t<T: Element>(cfg: &Cfg, ins: &[NDArray], dx: &NDArray) -> Result<()> {
    let g = cfg.geom(ins[1].shape())?;
    match (cfg.kind, T::DTYPE) {
        (Kind::Max, DType::F16) => max_backward_f32::<f16>(&g, ins, dx),
        (Kind::Max, DType::BF16) => max_backward_f32::<bf16>(&g, ins, dx),
        // SAFETY: reads dy, x, y and writes the fresh dx; shapes checked by the backward infer.
        _ => unsafe {
            pool::backward(
                &g,
                cfg.kind,
                ins[0].data::<T>(),
                ins[1].data::<T>(),
                ins[2].data::<T>(),
                dx.data_mut::<T>(),
            )
        },
    }
    Ok(())
}

// Max pooling of a half type runs on f32 copies: `half`'s comparisons are bit logic that
// does not vectorise (25 times f32's time), while widening is exact, and so are a maximum
// and the gradient it routes. (The averaging kinds stay in the type: through f32 their f64
// sums would be rounded twice.)
fn max_forward_f32<H: Half>(g: &Geom, x: &NDArray, y: &NDArray) {
    let low = lowest::<H>().to_f32();
    // SAFETY: inside the op reading x and writing y, a fresh array of the inferred shape.
    unsafe {
        through_f32::<H, _>(&[x], &[y], |w, o| {
            pool::forward(g, Kind::Max, low, &w[0], &mut o[0])
        })
    }
}

fn max_backward_f32<H: Half>(g: &Geom, ins: &[NDArray], dx: &NDArray) {
    // SAFETY: reads dy, x, y and writes the fresh dx; shapes checked by the backward infer.
    unsafe {
        through_f32::<H, _>(&[&ins[0], &ins[1], &ins[2]], &[dx], |w, o| {
            pool::backward(g, Kind::Max, &w[0], &w[1], &w[2], &mut o[0])
        })
    }
}

/// Shape check of a pooling backward node (`_backward_Pooling`, `_backward_Pooling_v1`): inputs
/// (out_grad, data, output), the gradients having the output shape that `out_shape` gives
/// for data; the result is data's shape in data's (float) dtype.
pub(super) fn backward_infer(
    op: &str,
    inputs: &[Desc],
    out_shape: impl FnOnce(&Shape) -> Result<Shape>,
) -> Result<Vec<Desc>> {
    if inputs.len() != 3 {
        return Err(Error::Value(format!(
            "operator {op} takes 3 inputs (out_grad, data, output), {} given",
            inputs.len()
        )));
    }
    let dt = float(op, inputs[1].dtype)?;
    let want = out_shape(&inputs[1].shape)?;
    if inputs[0].shape != want || inputs[2].shape != want {
        return Err(Error::shape(
            op,
            format!(
                "output gradient {} and output {} must have the output shape {want}",
                inputs[0].shape, inputs[2].shape
            ),
        ));
    }
    Ok(vec![Desc::new(inputs[1].shape.clone(), dt)])
}

fn backward_op(cfg: Arc<Cfg>) -> Arc<dyn Operator> {
    const B: &str = "_backward_Pooling";
    let (c2, c4) = (cfg.clone(), cfg.clone());
    #[cfg(feature = "cuda")]
    let c3 = cfg.clone();
    let op = FnOp::new(
        B,
        move |inputs| {
            backward_infer(B, inputs, |d| {
                let g = cfg.geom(d)?;
                Ok(cfg.out_shape(d, &g))
            })
        },
        move |_, ins, outs| by_float!(B, ins[1].dtype(), backward_t, &c2, ins, &outs[0]),
    );
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::backward(c3)));
    // Second-order autograd (which MXNet lacks). The backward is linear in dy and, away from
    // ties, constant in data: its gradient is its adjoint applied to the head gradient, the
    // forward for average and sum pooling (linear themselves), a gather for max pooling.
    let (adjoint, reads_data) = match c4.kind {
        Kind::Avg { .. } | Kind::Sum => (pool_op((*c4).clone()), false),
        Kind::Max => (max_gather_op(c4), true),
        Kind::Lp(_) => return op.arc(),
    };
    op.with_grad(move |g, a| {
        let h = a.out_grads[0].clone();
        let ins = if reads_data {
            vec![a.inputs[1].clone(), h]
        } else {
            vec![h]
        };
        Ok(vec![
            g.apply(adjoint.clone(), &ins).into_iter().next(),
            None,
            None,
        ])
    })
    .arc()
}

/// Inputs (data, gx), output of the pooled shape: `gx` read where max pooling of data found
/// each window's maximum (`pool::max_gather`).
fn max_gather_op(cfg: Arc<Cfg>) -> Arc<dyn Operator> {
    const G: &str = "_backward_backward_Pooling";
    let c2 = cfg.clone();
    let mut op = FnOp::new(
        G,
        move |ins| {
            check_count(G, ins, 2)?;
            let dt = float(G, ins[0].dtype)?;
            if ins[1].shape != ins[0].shape || ins[1].dtype != ins[0].dtype {
                return Err(Error::shape(
                    G,
                    format!(
                        "the head gradient {} ({}) must match the data {} ({})",
                        ins[1].shape, ins[1].dtype, ins[0].shape, ins[0].dtype
                    ),
                ));
            }
            let g = cfg.geom(&ins[0].shape)?;
            Ok(vec![Desc::new(cfg.out_shape(&ins[0].shape, &g), dt)])
        },
        move |_, ins, outs| by_float!(G, ins[0].dtype(), max_gather_t, &c2, ins, &outs[0]),
    );
    op.num_inputs = Some(2);
    op.arc()
}

fn max_gather_t<T: Element>(cfg: &Cfg, ins: &[NDArray], out: &NDArray) -> Result<()> {
    let g = cfg.geom(ins[0].shape())?;
    // SAFETY: reads data and gx, writes the fresh out; shapes checked by the infer.
    unsafe {
        pool::max_gather(
            &g,
            ins[0].data::<T>(),
            ins[1].data::<T>(),
            out.data_mut::<T>(),
        )
    };
    Ok(())
}

fn pool_op(cfg: Cfg) -> Arc<dyn Operator> {
    let cfg = Arc::new(cfg);
    let (c1, c2, c3) = (cfg.clone(), cfg.clone(), cfg.clone());
    let op = FnOp::new(
        OP,
        move |inputs| {
            if inputs.len() != 1 {
                return Err(Error::Value(format!(
                    "operator {OP} takes 1 input (data), {} given",
                    inputs.len()
                )));
            }
            let dt = float(OP, inputs[0].dtype)?;
            let g = c1.geom(&inputs[0].shape)?;
            Ok(vec![Desc::new(c1.out_shape(&inputs[0].shape, &g), dt)])
        },
        move |_, ins, outs| by_float!(OP, ins[0].dtype(), forward_t, &c2, &ins[0], &outs[0]),
    )
    .with_grad(move |g, a| {
        let dy = a
            .out_grads
            .first()
            .ok_or_else(|| Error::Internal("Pooling gradient without out_grad".into()))?;
        let ins = [dy.clone(), a.inputs[0].clone(), a.outputs[0].clone()];
        let mut outs = g.apply(backward_op(c3.clone()), &ins);
        Ok(vec![Some(outs.swap_remove(0))])
    });
    // MXNet's (oneDNN) max pooling keeps a hidden workspace output (`PoolingNumOutputs`).
    let op = if matches!(cfg.kind, Kind::Max) && (1..=3).contains(&cfg.kernel.len()) {
        op.with_mxnet_outputs(2)
    } else {
        op
    };
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::forward(cfg)));
    op.arc()
}

/// Pooling's parameter table, shared with `_contrib_quantized_pooling`.
pub(crate) fn params() -> Vec<ParamSpec> {
    vec![
        param(
            "kernel",
            "Shape(tuple)",
            Some("[]"),
            "Pooling kernel size: (y, x) or (d, y, x)",
        ),
        param(
            "pool_type",
            "{'avg', 'lp', 'max', 'sum'}",
            Some("'max'"),
            "Pooling type to be applied.",
        ),
        param(
            "global_pool",
            "boolean",
            Some("False"),
            "Ignore kernel size, do global pooling based on current input feature map.",
        ),
        param(
            "cudnn_off",
            "boolean",
            Some("False"),
            "Turn off cudnn pooling and use MXNet pooling operator (ignored on CPU).",
        ),
        param(
            "pooling_convention",
            "{'full', 'same', 'valid'}",
            Some("'valid'"),
            "Pooling convention to be applied.",
        ),
        param(
            "stride",
            "Shape(tuple)",
            Some("[]"),
            "Stride: for pooling (y, x) or (d, y, x). Defaults to 1 for each dimension.",
        ),
        param(
            "pad",
            "Shape(tuple)",
            Some("[]"),
            "Pad for pooling: (y, x) or (d, y, x). Defaults to no padding.",
        ),
        param(
            "p_value",
            "int or None",
            Some("None"),
            "Value of p for Lp pooling, can be 1 or 2, required for Lp Pooling.",
        ),
        param(
            "count_include_pad",
            "boolean or None",
            Some("None"),
            "Only used for AvgPool, specify whether to count padding elements for average \
                 calculation. For example, with a 5*5 kernel on a 3*3 corner of a image, the sum \
                 of the 9 valid elements will be divided by 25 if this is set to true, or it will \
                 be divided by 9 if this is set to false. Defaults to true.",
        ),
        param(
            "layout",
            "{None, 'NCDHW', 'NCHW', 'NCW', 'NDHWC', 'NHWC', 'NWC'}",
            Some("None"),
            "Set layout for input and output. Empty for default layout: NCW for 1d, NCHW for \
                 2d and NCDHW for 3d.",
        ),
    ]
}

pub fn register(r: &mut Registry) {
    r.add(def(
        OP,
        "Performs pooling on the input (NCW, NCHW or NCDHW). Output size per spatial dimension: \
         valid: floor((x + 2*pad - kernel) / stride) + 1; full: ceil(...) + 1. max takes the \
         window maximum, avg its mean (dividing by the window size clipped to the padded input, \
         or by the covered input elements when count_include_pad=False), sum its sum, lp \
         (sum x^p)^(1/p). global_pool pools each whole feature map.",
        params(),
        Inputs::Fixed(&["data"]),
        |p| Ok(pool_op(Cfg::parse(OP, p)?)),
    ));
}

#[cfg(feature = "cuda")]
pub const CUDA_MODULE: &str = "pooling";

/// Max, average and sum pooling with the CPU kernels' window arithmetic (`kernels::cpu::pool`):
/// one thread per output element forward; backward gathers, one thread per input element, the
/// gradient of every window holding it (max: only where it is the window's first maximum).
#[cfg(feature = "cuda")]
pub fn cuda_source() -> String {
    use crate::kernels::cuda::{kernel_name, module_source, storage_type};
    let common = r#"
struct PoolGeom { i64 in_[3], out[3], k[3], s[3], p[3]; };
// Window of output o (z, y, x): clipped input ranges and the include_pad divisor.
struct Win { i64 lo[3], hi[3], padded; };
__device__ __forceinline__ Win pool_window(const PoolGeom& g, const i64* o) {
  Win w;
  w.padded = 1;
  for (int i = 0; i < 3; ++i) {
    const i64 start = o[i] * g.s[i] - g.p[i];
    i64 end = start + g.k[i];
    if (end > g.in_[i] + g.p[i]) end = g.in_[i] + g.p[i];
    w.padded *= end - start > 0 ? end - start : 0;
    i64 lo = start > 0 ? start : 0, hi = end > 0 ? end : 0;
    if (hi > g.in_[i]) hi = g.in_[i];
    if (lo > hi) lo = hi;
    w.lo[i] = lo;
    w.hi[i] = hi;
  }
  return w;
}
"#;
    module_source(common, |dt| {
        let s = storage_type(dt);
        format!(
            r#"
extern "C" __global__ void {fwd}(const {s}* x, {s}* y, u64 planes, PoolGeom g, int kind,
                                  double lowest) {{
  typedef IO<{s}>::C C;
  const u64 il = g.in_[0] * g.in_[1] * g.in_[2], ol = g.out[0] * g.out[1] * g.out[2];
  OX_LOOP(t, planes * ol) {{
    const u64 pl = t / ol, k = t % ol;
    const i64 o[3] = {{(i64)(k / (g.out[1] * g.out[2])), (i64)((k / g.out[2]) % g.out[1]),
                       (i64)(k % g.out[2])}};
    const Win w = pool_window(g, o);
    const {s}* src = x + pl * il;
    C m = (C)lowest, acc = (C)0;
    i64 cnt = 0;
    for (i64 z = w.lo[0]; z < w.hi[0]; ++z)
      for (i64 yy = w.lo[1]; yy < w.hi[1]; ++yy)
        for (i64 xx = w.lo[2]; xx < w.hi[2]; ++xx) {{
          const C v = IO<{s}>::ld(src[(z * g.in_[1] + yy) * g.in_[2] + xx]);
          m = v > m ? v : m;
          acc += v;
          ++cnt;
        }}
    C r;
    if (kind == 0) r = m;
    else if (kind == 3) r = acc;
    else {{
      const i64 div = kind == 1 ? w.padded : cnt;
      r = div == 0 ? (C)0 : acc / (C)div;
    }}
    y[t] = IO<{s}>::st(r);
  }}
}}
extern "C" __global__ void {bwd}(const {s}* dy, const {s}* x, {s}* dx, u64 planes,
                                  PoolGeom g, int kind) {{
  typedef IO<{s}>::C C;
  const u64 il = g.in_[0] * g.in_[1] * g.in_[2], ol = g.out[0] * g.out[1] * g.out[2];
  OX_LOOP(t, planes * il) {{
    const u64 pl = t / il, r = t % il;
    const i64 pos[3] = {{(i64)(r / (g.in_[1] * g.in_[2])), (i64)((r / g.in_[2]) % g.in_[1]),
                         (i64)(r % g.in_[2])}};
    const {s}* src = x + pl * il;
    // Outputs whose window may hold pos: o*s - p <= pos < o*s - p + k.
    i64 olo[3], ohi[3];
    for (int i = 0; i < 3; ++i) {{
      const i64 a = pos[i] + g.p[i] - g.k[i] + 1;
      olo[i] = a > 0 ? (a + g.s[i] - 1) / g.s[i] : 0;
      i64 b = (pos[i] + g.p[i]) / g.s[i];
      ohi[i] = b < g.out[i] - 1 ? b : g.out[i] - 1;
    }}
    C acc = (C)0;
    for (i64 oz = olo[0]; oz <= ohi[0]; ++oz)
      for (i64 oy = olo[1]; oy <= ohi[1]; ++oy)
        for (i64 ox = olo[2]; ox <= ohi[2]; ++ox) {{
          const i64 o[3] = {{oz, oy, ox}};
          const Win w = pool_window(g, o);
          bool inside = true;
          for (int i = 0; i < 3; ++i) inside = inside && pos[i] >= w.lo[i] && pos[i] < w.hi[i];
          if (!inside) continue;
          const C d = IO<{s}>::ld(dy[pl * ol + (oz * g.out[1] + oy) * g.out[2] + ox]);
          if (kind == 0) {{
            // The first maximum of the window (in z, y, x order) takes the gradient.
            i64 best = -1;
            C bv = (C)0;
            for (i64 z = w.lo[0]; z < w.hi[0]; ++z)
              for (i64 yy = w.lo[1]; yy < w.hi[1]; ++yy)
                for (i64 xx = w.lo[2]; xx < w.hi[2]; ++xx) {{
                  const i64 q = (z * g.in_[1] + yy) * g.in_[2] + xx;
                  const C v = IO<{s}>::ld(src[q]);
                  if (best < 0 || v > bv) {{ best = q; bv = v; }}
                }}
            if (best == (i64)r) acc += d;
          }} else {{
            i64 div = 1;
            if (kind == 1) div = w.padded;
            if (kind == 2) div = (w.hi[0] - w.lo[0]) * (w.hi[1] - w.lo[1]) * (w.hi[2] - w.lo[2]);
            if (div > 0) acc += d / (C)div;
          }}
        }}
    dx[t] = IO<{s}>::st(acc);
  }}
}}
"#,
            fwd = kernel_name("pool_fwd", dt),
            bwd = kernel_name("pool_bwd", dt),
        )
    })
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::{cuda_source, Cfg, CUDA_MODULE};
    use crate::dtype::DType;
    use crate::kernels::cpu::pool::{Geom, Kind};
    use crate::kernels::cuda::device::Device;
    use crate::kernels::cuda::{dptr, kernel_name, launch, param as p, CudaFn, FLOATS};
    use std::sync::Arc;

    /// Mirrors `PoolGeom` in the CUDA source.
    #[repr(C)]
    struct PoolGeom {
        input: [i64; 3],
        out: [i64; 3],
        k: [i64; 3],
        s: [i64; 3],
        p: [i64; 3],
    }

    fn geom(g: &Geom) -> PoolGeom {
        let v = |a: [usize; 3]| a.map(|x| x as i64);
        PoolGeom {
            input: v(g.input),
            out: v(g.output),
            k: v(g.kernel),
            s: v(g.stride),
            p: v(g.pad),
        }
    }

    /// The kernels' `kind` code; Lp pooling takes the host path.
    fn kind_code(k: Kind) -> Option<i32> {
        match k {
            Kind::Max => Some(0),
            Kind::Avg { include_pad: true } => Some(1),
            Kind::Avg { include_pad: false } => Some(2),
            Kind::Sum => Some(3),
            Kind::Lp(_) => None,
        }
    }

    fn usable(cfg: &Cfg, dt: DType) -> Option<i32> {
        if FLOATS.contains(&dt) {
            kind_code(cfg.kind)
        } else {
            None
        }
    }

    fn lowest(dt: DType) -> f64 {
        match dt {
            DType::F32 => f32::MIN as f64,
            DType::F16 => -65504.0,
            DType::BF16 => half::bf16::MIN.to_f64(),
            _ => f64::MIN,
        }
    }

    fn function(
        dev: &Device,
        base: &str,
        dt: DType,
    ) -> crate::Result<cudarc::driver::sys::CUfunction> {
        dev.function(CUDA_MODULE, cuda_source, &kernel_name(base, dt))
    }

    pub fn forward(cfg: Arc<Cfg>) -> CudaFn {
        Box::new(move |dev, _, ins, outs| {
            let dt = ins[0].dtype();
            let Some(kind) = usable(&cfg, dt) else {
                return Ok(false);
            };
            let g = cfg.geom(ins[0].shape())?;
            let (x, y, planes, pg, low) = (
                dptr(&ins[0]),
                dptr(&outs[0]),
                g.planes as u64,
                geom(&g),
                lowest(dt),
            );
            let f = function(dev, "pool_fwd", dt)?;
            let mut args = [p(&x), p(&y), p(&planes), p(&pg), p(&kind), p(&low)];
            // SAFETY: (x, y, planes, PoolGeom, kind, lowest) as declared.
            unsafe { launch(dev, f, g.planes * g.out_len(), &mut args)? };
            Ok(true)
        })
    }

    /// Inputs dY, data, output; output dX.
    pub fn backward(cfg: Arc<Cfg>) -> CudaFn {
        Box::new(move |dev, _, ins, outs| {
            let dt = ins[1].dtype();
            let Some(kind) = usable(&cfg, dt) else {
                return Ok(false);
            };
            let g = cfg.geom(ins[1].shape())?;
            let (dy, x, dx) = (dptr(&ins[0]), dptr(&ins[1]), dptr(&outs[0]));
            let (planes, pg) = (g.planes as u64, geom(&g));
            let f = function(dev, "pool_bwd", dt)?;
            let mut args = [p(&dy), p(&x), p(&dx), p(&planes), p(&pg), p(&kind)];
            // SAFETY: (dy, x, dx, planes, PoolGeom, kind) as declared.
            unsafe { launch(dev, f, g.planes * g.in_len(), &mut args)? };
            Ok(true)
        })
    }
}

/// Output length of spatial dimension `i` of data `d` (NC + spatial) under `pad` on both
/// sides, or an error when the window exceeds the padded input; `full` rounds a partial last
/// window up, as MXNet's `pooling_convention='full'`.
pub(crate) fn pooled_len(
    op: &str,
    i: usize,
    d: &Shape,
    pad: usize,
    kernel: usize,
    stride: usize,
    full: bool,
) -> Result<usize> {
    let padded = d[i + 2] + 2 * pad;
    if kernel > padded {
        return Err(Error::shape(
            op,
            format!(
                "kernel size ({kernel}) exceeds input ({} padded to {padded}) in dimension {i} \
                 of data {d}",
                d[i + 2]
            ),
        ));
    }
    let span = padded - kernel;
    Ok(1 + if full {
        span.div_ceil(stride)
    } else {
        span / stride
    })
}

#[cfg(test)]
mod tests {
    use crate::op::test_util::{arr, check_grad, err, rand64, run};

    fn tup(v: &[usize]) -> String {
        let s: Vec<String> = v.iter().map(|d| d.to_string()).collect();
        format!("({},)", s.join(","))
    }

    /// Direct pooling over every window of the (implicitly) padded input, N-d by index lists.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        data: &[usize],
        x: &[f64],
        kernel: &[usize],
        stride: &[usize],
        pad: &[usize],
        ty: &str,
        full: bool,
        include_pad: bool,
    ) -> (Vec<usize>, Vec<f64>) {
        let nd = kernel.len();
        let sp = &data[2..];
        let out: Vec<usize> = (0..nd)
            .map(|i| {
                let span = sp[i] + 2 * pad[i] - kernel[i];
                1 + if full {
                    span.div_ceil(stride[i])
                } else {
                    span / stride[i]
                }
            })
            .collect();
        let planes = data[0] * data[1];
        let il: usize = sp.iter().product();
        let ol: usize = out.iter().product();
        let mut res = Vec::new();
        for pl in 0..planes {
            for k in 0..ol {
                // Output multi-index.
                let mut o = vec![0; nd];
                let mut r = k;
                for i in (0..nd).rev() {
                    o[i] = r % out[i];
                    r /= out[i];
                }
                let mut vals = Vec::new();
                let mut padded_size = 1usize;
                for i in 0..nd {
                    let s = (o[i] * stride[i]) as isize - pad[i] as isize;
                    let e = (s + kernel[i] as isize).min((sp[i] + pad[i]) as isize);
                    padded_size *= (e - s).max(0) as usize;
                }
                let kl: usize = kernel.iter().product();
                for t in 0..kl {
                    let mut kk = vec![0; nd];
                    let mut r = t;
                    for i in (0..nd).rev() {
                        kk[i] = r % kernel[i];
                        r /= kernel[i];
                    }
                    let pos: Vec<isize> = (0..nd)
                        .map(|i| (o[i] * stride[i] + kk[i]) as isize - pad[i] as isize)
                        .collect();
                    if (0..nd).all(|i| pos[i] >= 0 && (pos[i] as usize) < sp[i]) {
                        let flat = (0..nd).fold(0, |a, i| a * sp[i] + pos[i] as usize);
                        vals.push(x[pl * il + flat]);
                    }
                }
                let s: f64 = vals.iter().sum();
                res.push(match ty {
                    "max" => vals.iter().cloned().fold(f64::MIN, f64::max),
                    "sum" => s,
                    "lp" => vals.iter().map(|v| v * v).sum::<f64>().sqrt(),
                    _ => {
                        let div = if include_pad { padded_size } else { vals.len() };
                        if div == 0 {
                            0.0
                        } else {
                            s / div as f64
                        }
                    }
                });
            }
        }
        let mut shape = data[..2].to_vec();
        shape.extend(out);
        (shape, res)
    }

    #[test]
    fn pooling_matches_direct_loops() {
        type Case<'a> = (&'a [usize], &'a [usize], &'a [usize], &'a [usize]);
        let cases: &[Case] = &[
            (&[2, 3, 9], &[3], &[2], &[1]),
            (&[1, 2, 7, 6], &[3, 2], &[2, 2], &[1, 1]),
            (&[2, 2, 5, 5], &[2, 2], &[2, 2], &[0, 0]),
            (&[1, 3, 6, 7], &[3, 3], &[1, 2], &[1, 0]),
            (&[1, 2, 4, 5, 6], &[2, 3, 2], &[2, 1, 2], &[1, 1, 0]),
        ];
        for &(data, kernel, stride, pad) in cases {
            let n: usize = data.iter().product();
            let x: Vec<f64> = (0..n).map(|i| ((i * 37) % 23) as f64 - 11.0).collect();
            for ty in ["max", "avg", "sum", "lp"] {
                for full in [false, true] {
                    for include_pad in [true, false] {
                        if ty != "avg" && !include_pad {
                            continue;
                        }
                        let (k, s, p) = (tup(kernel), tup(stride), tup(pad));
                        let mut attrs = vec![
                            ("kernel", k.as_str()),
                            ("stride", s.as_str()),
                            ("pad", p.as_str()),
                            ("pool_type", ty),
                            ("pooling_convention", if full { "full" } else { "valid" }),
                            (
                                "count_include_pad",
                                if include_pad { "True" } else { "False" },
                            ),
                        ];
                        if ty == "lp" {
                            attrs.push(("p_value", "2"));
                        }
                        let out = run("Pooling", &[arr(data, &x)], &attrs);
                        let (shape, want) =
                            naive(data, &x, kernel, stride, pad, ty, full, include_pad);
                        assert_eq!(out.shape().dims(), &shape[..], "{attrs:?}");
                        let got = out.to_vec::<f64>().unwrap();
                        for (g, w) in got.iter().zip(&want) {
                            assert!((g - w).abs() < 1e-9, "{attrs:?}: {g} vs {w}");
                        }
                    }
                }
            }
        }
    }

    /// float16/bfloat16 max pooling (run on f32 copies) gives the float64 loops' maxima and
    /// routes gradients to the same elements, ties, NaNs and infinities included.
    #[test]
    fn half_max_pooling_matches_float64() {
        let data = [2, 3, 9, 8];
        let n: usize = data.iter().product();
        let x: Vec<f64> = (0..n)
            .map(|i| match i % 41 {
                7 => f64::NAN,
                9 => f64::NEG_INFINITY,
                _ => -(((i * 37) % 13) as f64) - 1.0,
            })
            .collect();
        let dy_of = |s: &[usize]| -> Vec<f64> {
            (0..s.iter().product::<usize>())
                .map(|i| (i % 5) as f64 + 0.5)
                .collect()
        };
        for (kernel, stride, pad) in [("(2,2)", "(2,2)", "(0,0)"), ("(3,3)", "(1,1)", "(1,1)")] {
            let attrs = [
                ("kernel", kernel),
                ("stride", stride),
                ("pad", pad),
                ("pool_type", "max"),
            ];
            let run_as = |dtype: &str| -> (Vec<f64>, Vec<f64>) {
                let xt = run("Cast", &[arr(&data, &x)], &[("dtype", dtype)]);
                let y = run("Pooling", std::slice::from_ref(&xt), &attrs);
                let dy = arr(y.shape().dims(), &dy_of(y.shape().dims()));
                let dy = run("Cast", &[dy], &[("dtype", dtype)]);
                let owned: Vec<(String, String)> = attrs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let spec = super::params();
                let p = crate::op::params::Params::new("Pooling", &spec, &owned).unwrap();
                let back = super::backward_op(std::sync::Arc::new(
                    super::Cfg::parse("Pooling", &p).unwrap(),
                ));
                let dx = crate::op::invoke(&back, &[dy, xt, y.clone()], None, None).unwrap();
                let dx = dx.into_iter().next().unwrap();
                let f64s = |a: crate::ndarray::NDArray| {
                    run("Cast", &[a], &[("dtype", "float64")])
                        .to_vec::<f64>()
                        .unwrap()
                };
                (f64s(y), f64s(dx))
            };
            let (want_y, want_dx) = run_as("float64");
            for dtype in ["float16", "bfloat16"] {
                let (y, dx) = run_as(dtype);
                for (got, want, what) in [(&y, &want_y, "forward"), (&dx, &want_dx, "backward")] {
                    for (i, (g, w)) in got.iter().zip(want).enumerate() {
                        assert!(
                            g == w || (g.is_nan() && w.is_nan()),
                            "{dtype} {kernel} {what} [{i}]: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn mxnet_documented_values() {
        // MXNet 1.9.1: avg, full convention, pad 1 on a 5x5 of ones: the last window lies
        // wholly in the padding and gives 0.
        let ones = arr(&[1, 1, 5, 5], &[1f32; 25]);
        let a = [
            ("kernel", "(2,2)"),
            ("stride", "(2,2)"),
            ("pad", "(1,1)"),
            ("pool_type", "avg"),
            ("pooling_convention", "full"),
        ];
        let got = run("Pooling", std::slice::from_ref(&ones), &a)
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(&got[..8], &[0.25, 0.5, 0.5, 0.0, 0.5, 1.0, 1.0, 0.0]);
        assert_eq!(&got[12..], &[0.0; 4]);
        let iota: Vec<f32> = (0..25).map(|i| i as f32).collect();
        let x = arr(&[1, 1, 5, 5], &iota);
        let got = run(
            "Pooling",
            std::slice::from_ref(&x),
            &[
                ("kernel", "(3,3)"),
                ("stride", "(2,2)"),
                ("pool_type", "lp"),
                ("p_value", "2"),
            ],
        )
        .to_vec::<f32>()
        .unwrap();
        for (g, w) in got
            .iter()
            .zip([21.908903f32, 27.055498, 49.59839, 55.425625])
        {
            assert!((g - w).abs() < 1e-4, "{g} vs {w}");
        }
        let a = [
            ("kernel", "(2,2)"),
            ("stride", "(2,2)"),
            ("pad", "(1,1)"),
            ("pooling_convention", "full"),
        ];
        let got = run("Pooling", std::slice::from_ref(&x), &a)
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(&got[..4], &[0.0, 2.0, 4.0, f32::MIN]);
        let g = run(
            "Pooling",
            &[x],
            &[("global_pool", "True"), ("pool_type", "avg")],
        );
        assert_eq!(g.shape().dims(), &[1, 1, 1, 1]);
        assert_eq!(g.to_vec::<f32>().unwrap(), vec![12.0]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = arr(&[1, 2, 5, 5], &[0f32; 50]);
        let e = err("Pooling", std::slice::from_ref(&x), &[("kernel", "(7,7)")]);
        assert!(e.to_string().contains("exceeds input"), "{e}");
        let e = err(
            "Pooling",
            &[arr(&[2, 5], &[0f32; 10])],
            &[("kernel", "(2,)")],
        );
        assert!(e.to_string().contains("3-D"), "{e}");
        let e = err(
            "Pooling",
            std::slice::from_ref(&x),
            &[("kernel", "(2,2)"), ("stride", "(2,)")],
        );
        assert!(e.to_string().contains("stride"), "{e}");
        let e = err("Pooling", std::slice::from_ref(&x), &[]);
        assert!(e.to_string().contains("kernel"), "{e}");
        let e = err(
            "Pooling",
            std::slice::from_ref(&x),
            &[("kernel", "(2,2)"), ("pool_type", "lp")],
        );
        assert!(e.to_string().contains("p_value"), "{e}");
        let e = err(
            "Pooling",
            std::slice::from_ref(&x),
            &[("kernel", "(2,2)"), ("pool_type", "median")],
        );
        assert!(e.to_string().contains("pool_type"), "{e}");
        let e = err(
            "Pooling",
            &[x],
            &[("kernel", "(2,2)"), ("pooling_convention", "same")],
        );
        assert!(e.to_string().contains("same"), "{e}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = rand64(&[2, 2, 5, 6], -1.0, 1.0, 1);
        for ty in ["max", "avg", "sum"] {
            for conv in ["valid", "full"] {
                let a = [
                    ("kernel", "(3,2)"),
                    ("stride", "(2,2)"),
                    ("pad", "(1,1)"),
                    ("pool_type", ty),
                    ("pooling_convention", conv),
                ];
                check_grad("Pooling", &a, std::slice::from_ref(&x), &[0]);
            }
        }
        let a = [
            ("kernel", "(2,2)"),
            ("pad", "(1,1)"),
            ("pool_type", "avg"),
            ("count_include_pad", "False"),
        ];
        check_grad("Pooling", &a, std::slice::from_ref(&x), &[0]);
        let pos = rand64(&[1, 2, 4, 5], 0.5, 2.0, 2);
        for p in ["1", "2", "3"] {
            let a = [("kernel", "(2,2)"), ("pool_type", "lp"), ("p_value", p)];
            check_grad("Pooling", &a, std::slice::from_ref(&pos), &[0]);
        }
        check_grad(
            "Pooling",
            &[("kernel", "(3,)"), ("stride", "(2,)")],
            &[rand64(&[2, 3, 7], -1.0, 1.0, 3)],
            &[0],
        );
        check_grad(
            "Pooling",
            &[("kernel", "(2,2,2)"), ("pool_type", "avg")],
            &[rand64(&[1, 2, 3, 3, 4], -1.0, 1.0, 4)],
            &[0],
        );
        check_grad(
            "Pooling",
            &[("global_pool", "True"), ("pool_type", "max")],
            &[x],
            &[0],
        );
    }
}
