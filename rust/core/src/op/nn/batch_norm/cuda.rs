//! BatchNorm's CUDA kernels: the source module and the host-side launches.

use super::{split, BnCfg};
use crate::kernels::cuda::{dptr, run_blocks, run_kernel, Arg, CudaFn};
use crate::ndarray::NDArray;
use crate::op::OpCtx;
use crate::shape::norm_axis;
use crate::DType;

/// float32/float64 data with parameters of the same type (float16 keeps float32
/// parameters: host path).
fn usable(ins: &[NDArray]) -> bool {
    let dt = ins[0].dtype();
    matches!(dt, DType::F32 | DType::F64) && ins[1..].iter().all(|a| a.dtype() == dt)
}

fn train(cfg: &BnCfg, cx: &OpCtx) -> bool {
    cx.is_train && !cfg.use_global_stats
}

pub fn forward(cfg: BnCfg) -> CudaFn {
    Box::new(move |dev, cx, ins, outs| {
        if !usable(ins) {
            return Ok(false);
        }
        let x = &ins[0];
        let dt = x.dtype();
        let (outer, c, inner) = split(x.shape(), norm_axis(cfg.axis, x.ndim(), "BatchNorm")?);
        let (mean, istd, gamma) = (dptr(&outs[1]), dptr(&outs[2]), dptr(&ins[1]));
        // These kernels use the flag only to reset gamma.
        let fix = Arg::I(i32::from(cfg.fix_gamma && cfg.write_gamma));
        if train(&cfg, cx) {
            let args = [
                Arg::U(dptr(x)),
                Arg::U(mean),
                Arg::U(istd),
                Arg::U(gamma),
                Arg::U(outer as u64),
                Arg::U(c as u64),
                Arg::U(inner as u64),
                Arg::F(cfg.eps),
                fix,
            ];
            run_blocks(dev, CUDA_MODULE, cuda_source, "bn_stats", dt, c, &args)?;
        } else {
            let args = [
                Arg::U(dptr(&ins[3])),
                Arg::U(dptr(&ins[4])),
                Arg::U(mean),
                Arg::U(istd),
                Arg::U(gamma),
                Arg::U(c as u64),
                Arg::F(cfg.eps),
                fix,
            ];
            run_kernel(dev, CUDA_MODULE, cuda_source, "bn_moving", dt, c, &args)?;
        }
        let args = [
            Arg::U(dptr(x)),
            Arg::U(dptr(&outs[0])),
            Arg::U(gamma),
            Arg::U(dptr(&ins[2])),
            Arg::U(mean),
            Arg::U(istd),
            Arg::U(x.size() as u64),
            Arg::U(c as u64),
            Arg::U(inner as u64),
            Arg::I(i32::from(cfg.fix_gamma)),
        ];
        run_kernel(
            dev,
            CUDA_MODULE,
            cuda_source,
            "bn_apply",
            dt,
            x.size(),
            &args,
        )?;
        Ok(true)
    })
}

/// Inputs (dy, x, gamma, mean, inv_std, moving_mean, moving_var); outputs (dx, dgamma,
/// dbeta); the moving statistics are updated in training.
pub fn backward(cfg: BnCfg) -> CudaFn {
    Box::new(move |dev, cx, ins, outs| {
        if !usable(&ins[1..]) || ins[0].dtype() != ins[1].dtype() {
            return Ok(false);
        }
        let (dy, x) = (&ins[0], &ins[1]);
        let dt = x.dtype();
        let ax = norm_axis(cfg.axis, x.ndim(), "_backward_BatchNorm")?;
        let (outer, c, inner) = split(x.shape(), ax);
        let s2 = NDArray::empty(crate::Shape(vec![c]), dt, x.ctx())?;
        let (fix, tr) = (i32::from(cfg.fix_gamma), i32::from(train(&cfg, cx)));
        let args = [
            Arg::U(dptr(dy)),
            Arg::U(dptr(x)),
            Arg::U(dptr(&ins[3])),
            Arg::U(dptr(&ins[4])),
            Arg::U(dptr(&outs[1])),
            Arg::U(dptr(&outs[2])),
            Arg::U(dptr(&s2)),
            Arg::U(dptr(&ins[5])),
            Arg::U(dptr(&ins[6])),
            Arg::U(outer as u64),
            Arg::U(c as u64),
            Arg::U(inner as u64),
            Arg::F(cfg.eps),
            Arg::F(cfg.momentum),
            Arg::I(fix),
            Arg::I(tr),
        ];
        run_blocks(dev, CUDA_MODULE, cuda_source, "bn_grad_sums", dt, c, &args)?;
        let args = [
            Arg::U(dptr(dy)),
            Arg::U(dptr(x)),
            Arg::U(dptr(&ins[2])),
            Arg::U(dptr(&ins[3])),
            Arg::U(dptr(&ins[4])),
            Arg::U(dptr(&outs[2])),
            Arg::U(dptr(&s2)),
            Arg::U(dptr(&outs[0])),
            Arg::U(x.size() as u64),
            Arg::U(c as u64),
            Arg::U(inner as u64),
            Arg::F((outer * inner).max(1) as f64),
            Arg::I(fix),
            Arg::I(tr),
        ];
        run_kernel(
            dev,
            CUDA_MODULE,
            cuda_source,
            "bn_grad_dx",
            dt,
            x.size(),
            &args,
        )?;
        Ok(true)
    })
}

pub const CUDA_MODULE: &str = "batch_norm";

/// BatchNorm on (outer, c, inner) data with parameters of the data's type: per-channel
/// statistics and gradient sums are one block per channel (two-pass, in double), the affine
/// maps one thread per element; the arithmetic follows the CPU kernel above.
pub fn cuda_source() -> String {
    use crate::kernels::cuda::{kernel_name, module_source, storage_type};
    module_source("", |dt| {
        let s = storage_type(dt);
        format!(
            r#"
#define LD(v) ((double)IO<{s}>::ld(v))
#define ST(v) IO<{s}>::st((IO<{s}>::C)(v))
#define EACH(k, cnt) for (u64 k = threadIdx.x; k < (cnt); k += blockDim.x)
#define AT(k) (((k) / inner * c + ch) * inner + (k) % inner)
extern "C" __global__ void {stats}({s}* x, {s}* mean, {s}* istd, {s}* gamma, u64 outer, u64 c,
                                    u64 inner, double eps, int fix_gamma) {{
  __shared__ double sh[256];
  const u64 ch = blockIdx.x, cnt = outer * inner;
  const double div = cnt ? (double)cnt : 1.0;
  double acc = 0;
  EACH(k, cnt) acc += LD(x[AT(k)]);
  const double m = ox_block_sum(sh, acc) / div;
  acc = 0;
  EACH(k, cnt) {{ const double d = LD(x[AT(k)]) - m; acc += d * d; }}
  const double var = ox_block_sum(sh, acc) / div;
  if (threadIdx.x == 0) {{
    mean[ch] = ST(m);
    istd[ch] = ST(1.0 / sqrt(var + eps));
    if (fix_gamma) gamma[ch] = ST(1.0);
  }}
}}
extern "C" __global__ void {moving}(const {s}* mm, const {s}* mv, {s}* mean, {s}* istd,
                                     {s}* gamma, u64 c, double eps, int fix_gamma) {{
  OX_LOOP(ch, c) {{
    mean[ch] = mm[ch];
    istd[ch] = ST(1.0 / sqrt(LD(mv[ch]) + eps));
    if (fix_gamma) gamma[ch] = ST(1.0);
  }}
}}
extern "C" __global__ void {apply}(const {s}* x, {s}* y, const {s}* gamma, const {s}* beta,
                                    const {s}* mean, const {s}* istd, u64 n, u64 c, u64 inner,
                                    int fix_gamma) {{
  OX_LOOP(i, n) {{
    const u64 ch = (i / inner) % c;
    const double g = fix_gamma ? 1.0 : LD(gamma[ch]), is = LD(istd[ch]);
    y[i] = ST((LD(x[i]) - LD(mean[ch])) * g * is + LD(beta[ch]));
  }}
}}
extern "C" __global__ void {sums}(const {s}* dy, const {s}* x, const {s}* mean,
                                   const {s}* istd, {s}* dgamma, {s}* dbeta, {s}* s2buf,
                                   {s}* mm, {s}* mv, u64 outer, u64 c, u64 inner, double eps,
                                   double momentum, int fix_gamma, int train) {{
  __shared__ double sh[256];
  const u64 ch = blockIdx.x, cnt = outer * inner;
  const double m = LD(mean[ch]), is = LD(istd[ch]);
  double a1 = 0, a2 = 0;
  EACH(k, cnt) {{ const double d = LD(dy[AT(k)]); a1 += d; a2 += d * (LD(x[AT(k)]) - m); }}
  const double s1 = ox_block_sum(sh, a1), s2 = ox_block_sum(sh, a2);
  if (threadIdx.x == 0) {{
    dbeta[ch] = ST(s1);
    dgamma[ch] = ST(fix_gamma ? 0.0 : s2 * is);
    s2buf[ch] = ST(s2);
    if (train) {{
      mm[ch] = ST(momentum * LD(mm[ch]) + (1.0 - momentum) * m);
      mv[ch] = ST(momentum * LD(mv[ch]) + (1.0 - momentum) * (1.0 / (is * is) - eps));
    }}
  }}
}}
extern "C" __global__ void {dx}(const {s}* dy, const {s}* x, const {s}* gamma,
                                 const {s}* mean, const {s}* istd, const {s}* s1buf,
                                 const {s}* s2buf, {s}* dxo, u64 n, u64 c, u64 inner,
                                 double count, int fix_gamma, int train) {{
  OX_LOOP(i, n) {{
    const u64 ch = (i / inner) % c;
    const double is = LD(istd[ch]), gi = (fix_gamma ? 1.0 : LD(gamma[ch])) * is;
    double v = gi * LD(dy[i]);
    if (train) {{
      const double t = gi * is * is * LD(s2buf[ch]) / count;
      v += -t * LD(x[i]) + t * LD(mean[ch]) - gi * LD(s1buf[ch]) / count;
    }}
    dxo[i] = ST(v);
  }}
}}
#undef LD
#undef ST
#undef EACH
#undef AT
"#,
            stats = kernel_name("bn_stats", dt),
            moving = kernel_name("bn_moving", dt),
            apply = kernel_name("bn_apply", dt),
            sums = kernel_name("bn_grad_sums", dt),
            dx = kernel_name("bn_grad_dx", dt),
        )
    })
}
