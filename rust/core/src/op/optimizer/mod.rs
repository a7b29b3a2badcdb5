//! Optimizer update ops (`sgd_update`, `adam_update`, ...), with MXNet 1.9.1's names, parameters
//! and arithmetic. Inputs are `weight, grad, state...`; the new weight goes to the output (users
//! pass `out=weight`) and every state input is updated in place, which `mutate_inputs` declares
//! to the engine. All updates are elementwise, so `out` may be the weight itself (`inplace`).
//!
//! One table row per op: name, doc, input names, parameters and the update `Rule`. The kernels
//! compute in f32 for f16/f32 arrays and in f64 for f64 arrays; the `mp_*` ops take f16 (or f32)
//! weight/grad and f32 states, the last of which is the f32 master copy `weight32`.

use super::params::{ParamSpec, Params};
use super::{read_f64, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::halves::{Half, TILE};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use half::f16;
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::sync::Arc;

mod adagrad;
mod grouped;
mod lamb;
mod multi;
mod table;
#[cfg(test)]
mod tests;

/// The arithmetic type the update rules run in (f32 or f64).
pub trait Real:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Send
    + Sync
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    fn of(v: f64) -> Self;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
}

macro_rules! real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn of(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
        }
    };
}
real!(f32);
real!(f64);

/// A stored element type and the `Real` it is computed in.
pub trait Stored: Copy + Send + Sync + 'static {
    type C: Real;
    /// Half types: updated in tiles widened a slice at a time (`update_tiles`).
    const TILED: bool = false;
    fn ld(self) -> Self::C;
    fn st(v: Self::C) -> Self;
    fn widen(src: &[Self], dst: &mut [Self::C]) {
        dst.iter_mut().zip(src).for_each(|(d, s)| *d = s.ld())
    }
    fn narrow(src: &[Self::C], dst: &mut [Self]) {
        dst.iter_mut().zip(src).for_each(|(d, s)| *d = Self::st(*s))
    }
}

impl Stored for f32 {
    type C = f32;
    #[inline(always)]
    fn ld(self) -> f32 {
        self
    }
    #[inline(always)]
    fn st(v: f32) -> f32 {
        v
    }
}
impl Stored for f64 {
    type C = f64;
    #[inline(always)]
    fn ld(self) -> f64 {
        self
    }
    #[inline(always)]
    fn st(v: f64) -> f64 {
        v
    }
}
macro_rules! half_stored {
    ($t:ty) => {
        impl Stored for $t {
            type C = f32;
            const TILED: bool = true;
            #[inline(always)]
            fn ld(self) -> f32 {
                // Element's conversions: `half`'s own do not vectorise.
                Element::to_f32(self)
            }
            #[inline(always)]
            fn st(v: f32) -> $t {
                Element::from_f32(v)
            }
            fn widen(src: &[$t], dst: &mut [f32]) {
                <$t as Half>::widen(src, dst)
            }
            fn narrow(src: &[f32], dst: &mut [$t]) {
                <$t as Half>::narrow(src, dst)
            }
        }
    };
}
half_stored!(f16);
half_stored!(half::bf16);

/// MXNet's `clip_gradient`: a negative bound means no clipping.
#[inline(always)]
fn clip<C: Real>(g: C, c: C) -> C {
    if c < C::ZERO {
        g
    } else if g > c {
        c
    } else if g < -c {
        -c
    } else {
        g
    }
}

/// `mshadow_op::sign`: 0 (and NaN) map to 0.
#[inline(always)]
fn sign<C: Real>(x: C) -> C {
    if x > C::ZERO {
        C::ONE
    } else if x < C::ZERO {
        -C::ONE
    } else {
        C::ZERO
    }
}

/// Element i of `out` from weight, grad and the NS states (updated in place).
///
/// # Safety
/// Every pointer is valid for `n` elements; `o` is disjoint from or identical to `w`, and the
/// states are disjoint from everything else. Pointers are arguments (not captures) so the loop
/// can vectorise; `w[i]` is read before `o[i]` is written.
#[inline(always)]
unsafe fn update_loop<T: Stored, S: Stored<C = T::C>, const NS: usize, F>(
    w: *const T,
    g: *const T,
    st: [*mut S; NS],
    o: *mut T,
    n: usize,
    f: &F,
) where
    F: Fn(T::C, T::C, &mut [T::C; NS]) -> T::C,
{
    if std::ptr::eq(o as *const T, w) && !std::ptr::eq(g, w) {
        // In place (what optimizers do): through slices the compiler knows weight, gradient
        // and states do not overlap, so the loop vectorises; with raw pointers it could not
        // rule out partial overlap and stayed scalar.
        let ws = std::slice::from_raw_parts_mut(o, n);
        let gs = std::slice::from_raw_parts(g, n);
        let mut ss: [&mut [S]; NS] = st.map(|p| std::slice::from_raw_parts_mut(p, n));
        for (i, (wv, gv)) in ws.iter_mut().zip(gs).enumerate() {
            let mut s = [<T::C as Real>::ZERO; NS];
            for (v, sl) in s.iter_mut().zip(ss.iter()) {
                *v = sl.get_unchecked(i).ld();
            }
            let r = f(wv.ld(), gv.ld(), &mut s);
            for (v, sl) in s.iter().zip(ss.iter_mut()) {
                *sl.get_unchecked_mut(i) = S::st(*v);
            }
            *wv = T::st(r);
        }
        return;
    }
    for i in 0..n {
        let mut s = [<T::C as Real>::ZERO; NS];
        for (v, p) in s.iter_mut().zip(&st) {
            *v = (*p.add(i)).ld();
        }
        let r = f((*w.add(i)).ld(), (*g.add(i)).ld(), &mut s);
        for (v, p) in s.iter().zip(&st) {
            *p.add(i) = S::st(*v);
        }
        *o.add(i) = T::st(r);
    }
}

/// `update_loop` for half types: tiles of weight, gradient and states widened to f32 a slice
/// at a time (one value at a time, the conversions cost four times the update), updated
/// there and rounded once on the way back.
///
/// # Safety
/// As `update_loop`.
unsafe fn update_tiles<T: Stored, S: Stored<C = T::C>, const NS: usize, F>(
    w: *const T,
    g: *const T,
    st: [*mut S; NS],
    o: *mut T,
    n: usize,
    f: &F,
) where
    F: Fn(T::C, T::C, &mut [T::C; NS]) -> T::C,
{
    use std::slice::{from_raw_parts, from_raw_parts_mut};
    let z = <T::C as Real>::ZERO;
    let (mut wt, mut gt, mut stt) = ([z; TILE], [z; TILE], [[z; TILE]; NS]);
    let mut k = 0;
    while k < n {
        let m = TILE.min(n - k);
        T::widen(from_raw_parts(w.add(k), m), &mut wt[..m]);
        T::widen(from_raw_parts(g.add(k), m), &mut gt[..m]);
        for (t, p) in stt.iter_mut().zip(&st) {
            S::widen(from_raw_parts(p.add(k), m), &mut t[..m]);
        }
        for (i, (wv, &gv)) in wt[..m].iter_mut().zip(&gt[..m]).enumerate() {
            let mut s: [T::C; NS] = std::array::from_fn(|j| stt[j][i]);
            *wv = f(*wv, gv, &mut s);
            for (t, v) in stt.iter_mut().zip(s) {
                t[i] = v;
            }
        }
        for (t, p) in stt.iter().zip(&st) {
            S::narrow(&t[..m], from_raw_parts_mut(p.add(k), m));
        }
        T::narrow(&wt[..m], from_raw_parts_mut(o.add(k), m));
        k += m;
    }
}

/// Runs `f` over all elements, split over the intra-op pool.
fn run<T: Stored, S: Stored<C = T::C>, const NS: usize, F>(ins: &[NDArray], out: &NDArray, f: F)
where
    F: Fn(T::C, T::C, &mut [T::C; NS]) -> T::C + Sync + Send,
{
    let n = out.size();
    // SAFETY: called from the op that reads weight/grad and writes out and the states
    // (`mutate_inputs`); `infer` checked every array has n elements of the right dtype.
    let (pw, pg, po) = unsafe {
        (
            Ptr(ins[0].raw() as *mut T),
            Ptr(ins[1].raw() as *mut T),
            Ptr(out.raw() as *mut T),
        )
    };
    // SAFETY: as above.
    let ps: [Ptr<S>; NS] = std::array::from_fn(|k| unsafe { Ptr(ins[2 + k].raw() as *mut S) });
    par_ranges(n, 8, |b, e| {
        let st: [*mut S; NS] = std::array::from_fn(|k| unsafe { ps[k].get().add(b) });
        // SAFETY: b..e < n for every array; ranges of different tasks are disjoint.
        unsafe {
            let update = if T::TILED || S::TILED {
                update_tiles::<T, S, NS, F>
            } else {
                update_loop::<T, S, NS, F>
            };
            update(
                pw.get().add(b),
                pg.get().add(b),
                st,
                po.get().add(b),
                e - b,
                &f,
            )
        }
    });
}

/// Which update an op applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Sgd,
    SgdMom,
    NagMom,
    MpSgd,
    MpSgdMom,
    MpNagMom,
    Adam,
    RmsProp,
    RmsPropAlex,
    SignSgd,
    Signum,
    Ftrl,
    Ftml,
    /// LAMB's first phase: updates the moments and outputs the direction `g`, not a weight.
    LambPhase1,
    /// LAMB's second phase: `weight - lr * trust_ratio(r1, r2) * g`.
    LambPhase2,
    AdamW,
    MpAdamW,
}

impl Rule {
    /// The `mp_*` ops keep f32 states (the last one the master weight) for f16 weights.
    fn mixed(self) -> bool {
        matches!(
            self,
            Rule::MpSgd | Rule::MpSgdMom | Rule::MpNagMom | Rule::MpAdamW
        )
    }

    /// How many one-element inputs follow the states (values read when the update runs:
    /// LAMB's norms r1 and r2, AdamW's rescale_grad).
    fn scalars(self) -> usize {
        match self {
            Rule::LambPhase2 => 2,
            Rule::AdamW | Rule::MpAdamW => 1,
            _ => 0,
        }
    }

    /// The dtype of the one-element inputs for a weight of dtype `w`: LAMB's norms share
    /// the weight's (MXNet's `ElemwiseType`), AdamW's rescale_grad is always float32.
    fn scalar_dtype(self, w: DType) -> DType {
        match self {
            Rule::AdamW | Rule::MpAdamW => DType::F32,
            _ => w,
        }
    }
}

/// Hyper-parameters of one configured op (those an op does not declare keep their default).
#[derive(Debug, Clone, Copy)]
struct Hyper {
    lr: f64,
    wd: f64,
    rescale: f64,
    clip: f64,
    momentum: f64,
    beta1: f64,
    beta2: f64,
    epsilon: f64,
    gamma1: f64,
    gamma2: f64,
    clip_weights: f64,
    wd_lh: f64,
    lamda1: f64,
    beta: f64,
    /// The update count of FTML and LAMB (bias corrections).
    t: f64,
    bias_correction: bool,
    eta: f64,
    lower_bound: f64,
    upper_bound: f64,
}

impl Hyper {
    fn parse(p: &Params, spec: &[ParamSpec]) -> Result<Hyper> {
        let get = |name: &str, dflt: f64| -> Result<f64> {
            if spec.iter().any(|s| s.name == name) {
                p.float(name)
            } else {
                Ok(dflt)
            }
        };
        let has = |name: &str| spec.iter().any(|s| s.name == name);
        if has("lazy_update") {
            p.bool("lazy_update")?; // only validated: dense arrays have no lazy mode
        }
        // ftml_update names its clipping bound `clip_grad`.
        let clip = if has("clip_grad") {
            p.float("clip_grad")?
        } else {
            get("clip_gradient", -1.0)?
        };
        Ok(Hyper {
            lr: get("lr", 0.0)?,
            wd: get("wd", 0.0)?,
            rescale: get("rescale_grad", 1.0)?,
            clip,
            momentum: get("momentum", 0.0)?,
            beta1: get("beta1", 0.9)?,
            beta2: get("beta2", 0.999)?,
            epsilon: get("epsilon", 1e-8)?,
            gamma1: get("gamma1", 0.95)?,
            gamma2: get("gamma2", 0.9)?,
            clip_weights: get("clip_weights", -1.0)?,
            wd_lh: get("wd_lh", 0.0)?,
            lamda1: get("lamda1", 0.01)?,
            beta: get("beta", 1.0)?,
            t: get("t", 1.0)?,
            bias_correction: !has("bias_correction") || p.bool("bias_correction")?,
            eta: get("eta", 1.0)?,
            lower_bound: get("lower_bound", -1.0)?,
            upper_bound: get("upper_bound", -1.0)?,
        })
    }
}

/// Applies `rule` with arrays stored as T (weight, grad, out) and S (states).
fn apply<T: Stored, S: Stored<C = T::C>>(rule: Rule, h: &Hyper, ins: &[NDArray], out: &NDArray) {
    let c = |v: f64| <T::C as Real>::of(v);
    let one = <T::C as Real>::ONE;
    let (lr, wd, rs, cg) = (c(h.lr), c(h.wd), c(h.rescale), c(h.clip));
    let mom = c(h.momentum);
    // SAFETY: only the addresses are compared.
    let aliased = unsafe { ins[0].raw() == out.raw() };
    match rule {
        // Without clipping (the default) the branch-free forms vectorise; same arithmetic.
        Rule::Sgd if h.clip < 0.0 => {
            run::<T, S, 0, _>(ins, out, move |w, g, _| (one - lr * wd) * w - lr * (rs * g))
        }
        Rule::Sgd => run::<T, S, 0, _>(ins, out, move |w, g, _| {
            (one - lr * wd) * w - lr * clip(rs * g, cg)
        }),
        Rule::SgdMom if h.clip < 0.0 => run::<T, S, 1, _>(ins, out, move |w, g, s| {
            s[0] = mom * s[0] - lr * wd * w - lr * (rs * g);
            w + s[0]
        }),
        Rule::SgdMom => run::<T, S, 1, _>(ins, out, move |w, g, s| {
            s[0] = mom * s[0] - lr * wd * w - lr * clip(rs * g, cg);
            w + s[0]
        }),
        // MXNet's NAG kernel writes the weight before the momentum, so the momentum's weight
        // decay term sees the new weight when out is the weight (what optimizers pass).
        Rule::NagMom => run::<T, S, 1, _>(ins, out, move |w, g, s| {
            let cg = clip(rs * g, cg);
            let m = mom * s[0];
            let o = w - m + (mom + one) * (m - lr * (cg + wd * w));
            let wref = if aliased { o } else { w };
            s[0] = m - lr * (cg + wd * wref);
            o
        }),
        // The f16 weight input is ignored: the update runs on the f32 master copy (last state).
        Rule::MpSgd => run::<T, S, 1, _>(ins, out, move |_, g, s| {
            s[0] = (one - lr * wd) * s[0] - lr * clip(rs * g, cg);
            s[0]
        }),
        Rule::MpSgdMom => run::<T, S, 2, _>(ins, out, move |_, g, s| {
            s[0] = mom * s[0] - lr * wd * s[1] - lr * clip(rs * g, cg);
            s[1] = s[1] + s[0];
            s[1]
        }),
        // As MXNet's MP_NAGMomKernel: the momentum uses the updated master weight.
        Rule::MpNagMom => run::<T, S, 2, _>(ins, out, move |_, g, s| {
            let cg = clip(rs * g, cg);
            let (m, w) = (mom * s[0], s[1]);
            let w = w - m + (mom + one) * (m - lr * (cg + wd * w));
            s[0] = m - lr * (cg + wd * w);
            s[1] = w;
            w
        }),
        Rule::Adam => {
            let (b1, b2, eps) = (c(h.beta1), c(h.beta2), c(h.epsilon));
            run::<T, S, 2, _>(ins, out, move |w, g, s| {
                // MXNet adds the weight decay before clipping here.
                let g = clip(rs * g + wd * w, cg);
                s[0] = b1 * s[0] + (one - b1) * g;
                s[1] = b2 * s[1] + (one - b2) * g * g;
                w - lr * s[0] / (s[1].sqrt() + eps)
            })
        }
        Rule::RmsProp => {
            let (g1, eps, cw) = (c(h.gamma1), c(h.epsilon), c(h.clip_weights));
            run::<T, S, 1, _>(ins, out, move |w, g, s| {
                let g = clip(rs * g + wd * w, cg);
                s[0] = (one - g1) * g * g + g1 * s[0];
                clip(w - lr * g / (s[0] + eps).sqrt(), cw)
            })
        }
        Rule::RmsPropAlex => {
            let (g1, g2) = (c(h.gamma1), c(h.gamma2));
            let (eps, cw) = (c(h.epsilon), c(h.clip_weights));
            run::<T, S, 3, _>(ins, out, move |w, g, s| {
                let g = clip(rs * g + wd * w, cg);
                s[0] = (one - g1) * g * g + g1 * s[0];
                s[1] = (one - g1) * g + g1 * s[1];
                s[2] = g2 * s[2] - lr * g / (s[0] - s[1] * s[1] + eps).sqrt();
                clip(w + s[2], cw)
            })
        }
        // MXNet 1.9.1's kernel takes rescale_grad and clip_gradient but applies neither (its
        // documented formula has neither): a zero clip or a zero scale still steps by sign(g).
        Rule::SignSgd => {
            run::<T, S, 0, _>(ins, out, move |w, g, _| (one - lr * wd) * w - lr * sign(g))
        }
        Rule::Signum => {
            let wd_lh = c(h.wd_lh);
            run::<T, S, 1, _>(ins, out, move |w, g, s| {
                s[0] = mom * s[0] - (one - mom) * wd * w - (one - mom) * clip(rs * g, cg);
                (one - lr * wd_lh) * w + lr * sign(s[0])
            })
        }
        Rule::Ftrl => {
            let (l1, beta) = (c(h.lamda1), c(h.beta));
            run::<T, S, 2, _>(ins, out, move |w, g, s| {
                let g = clip(rs * g, cg);
                let (z, n) = (s[0], s[1]);
                s[0] = z + g - ((n + g * g).sqrt() - n.sqrt()) * w / lr;
                s[1] = n + g * g;
                let z = s[0];
                // A product, not a branch, as MXNet: a NaN state yields a NaN weight, not 0.
                let keep = if z.abs() > l1 {
                    <T::C as Real>::ONE
                } else {
                    <T::C as Real>::ZERO
                };
                (sign(z) * l1 - z) / ((beta + s[1].sqrt()) / lr + wd) * keep
            })
        }
        // States d, v, z; the bias corrections are computed once in f64.
        Rule::Ftml => {
            let (b1, b2, eps) = (c(h.beta1), c(h.beta2), c(h.epsilon));
            let c1 = c((1.0 - h.beta1.powf(h.t)) / h.lr);
            let c2 = c(1.0 - h.beta2.powf(h.t));
            run::<T, S, 3, _>(ins, out, move |w, g, s| {
                let g = clip(rs * g + wd * w, cg);
                s[1] = b2 * s[1] + (one - b2) * g * g;
                let d = c1 * ((s[1] / c2).sqrt() + eps);
                s[2] = b1 * s[2] + (one - b1) * g - (d - b1 * s[0]) * w;
                s[0] = d;
                -s[2] / d
            })
        }
        Rule::LambPhase1 => {
            let (b1, b2, eps) = (c(h.beta1), c(h.beta2), c(h.epsilon));
            let (m_scale, v_scale) = if h.bias_correction {
                (
                    c(1.0 / (1.0 - h.beta1.powf(h.t))),
                    c(1.0 / (1.0 - h.beta2.powf(h.t))),
                )
            } else {
                (one, one)
            };
            run::<T, S, 2, _>(ins, out, move |w, g, s| {
                let g = clip(rs * g, cg);
                s[0] = b1 * s[0] + (one - b1) * g;
                s[1] = b2 * s[1] + (one - b2) * g * g;
                s[0] * m_scale / ((s[1] * v_scale).sqrt() + eps) + wd * w
            })
        }
        // `lr` already holds the trust ratio (see `dispatch`).
        Rule::LambPhase2 => run::<T, S, 0, _>(ins, out, move |w, g, _| w - lr * g),
        Rule::AdamW | Rule::MpAdamW => {
            let (b1, b2, eps, eta) = (c(h.beta1), c(h.beta2), c(h.epsilon), c(h.eta));
            let adamw = move |w: T::C, g: T::C, m: &mut T::C, v: &mut T::C| {
                let g = clip(rs * g, cg);
                *m = b1 * *m + (one - b1) * g;
                *v = b2 * *v + (one - b2) * g * g;
                w - eta * (lr * *m / (v.sqrt() + eps) + wd * w)
            };
            if rule == Rule::AdamW {
                run::<T, S, 2, _>(ins, out, move |w, g, s| {
                    let [m, v] = s;
                    adamw(w, g, m, v)
                })
            } else {
                // The f16 weight input is ignored: the update runs on the f32 master copy.
                run::<T, S, 3, _>(ins, out, move |_, g, s| {
                    let [m, v, w32] = s;
                    *w32 = adamw(*w32, g, m, v);
                    *w32
                })
            }
        }
    }
}

/// Checks that every input has the weight's shape and the dtype the op expects.
fn infer(name: &'static str, rule: Rule, names: &[&str], ins: &[Desc]) -> Result<Vec<Desc>> {
    if ins.len() != names.len() {
        return Err(Error::Value(format!(
            "operator {name} takes {} inputs ({}), {} given",
            names.len(),
            names.join(", "),
            ins.len()
        )));
    }
    let w = &ins[0];
    let ok = if rule.mixed() {
        matches!(w.dtype, DType::F16 | DType::F32)
    } else {
        matches!(w.dtype, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    };
    if !ok {
        return Err(Error::DType {
            op: name.into(),
            msg: format!(
                "weight has dtype {}, which this update does not support",
                w.dtype
            ),
        });
    }
    let first_scalar = names.len() - rule.scalars();
    let scalar_dtype = rule.scalar_dtype(w.dtype);
    for (i, d) in ins.iter().enumerate().skip(first_scalar) {
        if d.shape.size() != 1 || d.dtype != scalar_dtype {
            return Err(Error::shape(
                name,
                format!(
                    "{} must be a one-element {scalar_dtype} array (weight is {}), got shape {} and dtype {}",
                    names[i], w.dtype, d.shape, d.dtype
                ),
            ));
        }
    }
    for (i, d) in ins.iter().enumerate().take(first_scalar).skip(1) {
        if d.shape != w.shape {
            return Err(Error::shape(
                name,
                format!(
                    "{} has shape {} but weight has shape {}",
                    names[i], d.shape, w.shape
                ),
            ));
        }
        // grad follows the weight; mp states are f32, other states follow the weight.
        let want = if rule.mixed() && i >= 2 {
            DType::F32
        } else {
            w.dtype
        };
        if d.dtype != want {
            return Err(Error::DType {
                op: name.into(),
                msg: format!(
                    "{} has dtype {} but {want} is required (weight is {})",
                    names[i], d.dtype, w.dtype
                ),
            });
        }
    }
    Ok(vec![w.clone()])
}

/// `apply` in the weight's element type (f32 states for the mixed-precision rules), after
/// reading the one-element inputs of the rules that have them.
fn dispatch(name: &str, rule: Rule, h: &Hyper, ins: &[NDArray], out: &NDArray) -> Result<()> {
    let scalar = |i: usize| read_f64(&ins[i]).first().copied().unwrap_or(0.0);
    let mut h = *h;
    match rule {
        Rule::LambPhase2 => {
            let (mut r1, r2) = (scalar(2), scalar(3));
            if h.lower_bound >= 0.0 {
                r1 = r1.max(h.lower_bound);
            }
            if h.upper_bound >= 0.0 {
                r1 = r1.min(h.upper_bound);
            }
            if r1 != 0.0 && r2 != 0.0 {
                h.lr *= r1 / r2;
            }
        }
        Rule::AdamW | Rule::MpAdamW => {
            let rescale = scalar(ins.len() - 1);
            // MXNet skips the whole update (states included) for a NaN, infinite or zero
            // rescale_grad: how loss scaling reports an overflowed step.
            if !rescale.is_finite() || rescale == 0.0 {
                // SAFETY: only the addresses are compared.
                if unsafe { ins[0].raw() != out.raw() } {
                    crate::op::write_f64(out, &read_f64(&ins[0]));
                }
                return Ok(());
            }
            h.rescale = rescale;
        }
        _ => {}
    }
    let h = &h;
    match (ins[0].dtype(), rule.mixed()) {
        (DType::F32, _) => apply::<f32, f32>(rule, h, ins, out),
        (DType::F64, false) => apply::<f64, f64>(rule, h, ins, out),
        (DType::F16, false) => apply::<f16, f16>(rule, h, ins, out),
        (DType::F16, true) => apply::<f16, f32>(rule, h, ins, out),
        (DType::BF16, false) => apply::<half::bf16, half::bf16>(rule, h, ins, out),
        (d, _) => {
            return Err(Error::DType {
                op: name.into(),
                msg: format!("unsupported weight dtype {d}"),
            })
        }
    }
    Ok(())
}

fn make_op(
    name: &'static str,
    rule: Rule,
    names: &'static [&'static str],
    h: Hyper,
) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |ins| infer(name, rule, names, ins),
        move |_, ins, outs| dispatch(name, rule, &h, ins, &outs[0]),
    );
    op.inplace = true;
    let states = 2..names.len() - rule.scalars();
    op.mutate = states.clone().collect();
    if rule.mixed() || rule == Rule::AdamW {
        // Weight, gradient and output share the weight's dtype; mixed-precision states and
        // AdamW's rescale_grad are f32.
        let f32_from = if rule.mixed() {
            states.start
        } else {
            states.end
        };
        op = op.with_type_partial(move |ins, outs| {
            for (i, t) in ins.iter_mut().enumerate().skip(f32_from) {
                match *t.get_or_insert(DType::F32) {
                    DType::F32 => {}
                    d => {
                        return Err(Error::dtype(
                            name,
                            format!("input {} must be float32, got {d}", names[i]),
                        ))
                    }
                }
            }
            super::unify_types(name, &mut ins[..f32_from], outs)
        });
    }
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(cuda::update(rule, h));
    op.arc()
}

#[cfg(feature = "cuda")]
pub const CUDA_MODULE: &str = "optimizer";

/// GPU updates of the rules training uses most, as `map_kernel` bodies over weight `x0`,
/// grad `x1` and states `x2..` (written back in place), with scalars lr, wd, rescale_grad,
/// clip_gradient, then the rule's own: (rule, kernel, states, scalars, body). Other rules
/// run on the host path.
#[cfg(feature = "cuda")]
const CUDA_RULES: [(Rule, &str, usize, usize, &str); 3] = [
    (
        Rule::Sgd,
        "sgd",
        0,
        4,
        "const C w = x0; C g = s2 * x1; if (s3 >= (C)0) g = fmin(fmax(g, -s3), s3); \
         y0 = ((C)1 - s0 * s1) * w - s0 * g;",
    ),
    (
        Rule::SgdMom,
        "sgd_mom",
        1,
        5,
        "const C w = x0; C g = s2 * x1; if (s3 >= (C)0) g = fmin(fmax(g, -s3), s3); \
         const C m = s4 * x2 - s0 * s1 * w - s0 * g; p2[i] = IO<S>::st(m); y0 = w + m;",
    ),
    (
        // MXNet adds the weight decay before clipping here.
        Rule::Adam,
        "adam",
        2,
        7,
        "const C w = x0; C g = s2 * x1 + s1 * w; if (s3 >= (C)0) g = fmin(fmax(g, -s3), s3); \
         const C m = s4 * x2 + ((C)1 - s4) * g; const C v = s5 * x3 + ((C)1 - s5) * g * g; \
         p2[i] = IO<S>::st(m); p3[i] = IO<S>::st(v); y0 = w - s0 * m / (sqrt(v) + s6);",
    ),
];

#[cfg(feature = "cuda")]
pub fn cuda_source() -> String {
    crate::kernels::cuda::module_source("", |dt| {
        CUDA_RULES
            .iter()
            .map(|&(_, name, ns, nsc, body)| {
                crate::kernels::cuda::map_kernel(name, dt, 2 + ns, 1, nsc, body)
            })
            .collect()
    })
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::{Hyper, Rule, CUDA_MODULE, CUDA_RULES};
    use crate::kernels::cuda::{run_map, CudaFn, FLOATS};
    use crate::ndarray::NDArray;

    pub fn update(rule: Rule, h: Hyper) -> Option<CudaFn> {
        let &(_, name, ..) = CUDA_RULES.iter().find(|r| r.0 == rule)?;
        Some(Box::new(move |dev, _, ins, outs| {
            if !FLOATS.contains(&ins[0].dtype()) {
                return Ok(false);
            }
            let mut scalars = vec![h.lr, h.wd, h.rescale, h.clip];
            scalars.extend(match rule {
                Rule::SgdMom => vec![h.momentum],
                Rule::Adam => vec![h.beta1, h.beta2, h.epsilon],
                _ => vec![],
            });
            let arrays: Vec<&NDArray> = ins.iter().chain(outs).collect();
            run_map(
                dev,
                CUDA_MODULE,
                super::cuda_source,
                name,
                &arrays,
                &scalars,
            )?;
            Ok(true)
        }))
    }
}

pub fn register(r: &mut Registry) {
    for (name, doc, names, params, rule) in table::table() {
        let spec = params.clone();
        r.add(SimpleDef {
            name,
            doc: doc.to_string(),
            params,
            inputs: Inputs::Fixed(names),
            create: Box::new(move |p| Ok(make_op(name, rule, names, Hyper::parse(p, &spec)?))),
        });
    }
    multi::register(r);
    grouped::register(r);
    lamb::register(r);
    adagrad::register(r);
}
