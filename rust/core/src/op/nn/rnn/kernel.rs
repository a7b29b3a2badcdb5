//! CPU kernels of `RNN`: the forward pass keeps every gate activation, cell state and layer
//! output in a hidden `reserve` output, which the backward pass (BPTT) reads back.
//!
//! Per layer and direction the input projection `x·W_i2hᵀ + b` of all time steps is one
//! GEMM; each step adds `h_{t-1}·W_h2hᵀ` (one GEMM over the batch) and applies the gates.
//! The backward pass mirrors it: per step one GEMM carries the gradient to `h_{t-1}`, and
//! after the loop three GEMMs give dW_i2h, dW_h2h and the layer's input gradient.

use super::{Dims, Mode};
use crate::kernels::cpu::conv::Real;
use crate::kernels::cpu::gemm::{matmul, matmul_acc, Mat};
use crate::random::Xoshiro;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Row-major operand `rows × cols` with row stride `rs`.
fn rm<T>(ptr: *const T, rs: usize) -> Mat<T> {
    Mat {
        ptr,
        rs: rs as isize,
        cs: 1,
    }
}

/// The transpose of a row-major operand with row stride `rs`.
fn tr<T>(ptr: *const T, rs: usize) -> Mat<T> {
    Mat {
        ptr,
        rs: 1,
        cs: rs as isize,
    }
}

/// Offsets of one layer's block in the reserve.
pub(super) struct Block {
    /// Gate activations, per direction `T·N·G·H`.
    pub gates: usize,
    /// LSTM cell states / GRU `W_hn·h + b_hn`, per direction `T·N·H` (absent for RNN).
    pub aux: usize,
    /// The layer's output `(T, N, D·H)`.
    pub y: usize,
    /// Dropout mask applied to `y` before the next layer (when `p > 0` and not the last).
    pub mask: Option<usize>,
}

impl Dims {
    fn aux_len(&self) -> usize {
        match self.mode {
            Mode::Lstm | Mode::Gru => self.t * self.n * self.h,
            _ => 0,
        }
    }

    fn step_len(&self) -> usize {
        self.t * self.n * self.d * self.r
    }

    /// Weights of one direction of layer `l`: W_i2h, W_h2h and (LSTMP) W_hr.
    fn dir_weights(&self, l: usize) -> usize {
        let w_hr = if self.proj { self.r * self.h } else { 0 };
        self.g * self.h * (self.in_size(l) + self.r) + w_hr
    }

    /// Offsets of layer `l` in the reserve.
    pub(super) fn block(&self, l: usize) -> Block {
        let base = (0..l)
            .map(|k| self.layer_len(self.l - 1 == k))
            .sum::<usize>();

        let gates = base;
        let aux = gates + self.d * self.t * self.n * self.g * self.h;
        let y = aux + self.d * self.aux_len();
        let mask = (self.dropout && l + 1 < self.l).then_some(y + self.step_len());
        Block {
            gates,
            aux,
            y,
            mask,
        }
    }

    fn layer_len(&self, last: bool) -> usize {
        let masked = self.dropout && !last;
        self.d * (self.t * self.n * self.g * self.h + self.aux_len())
            + self.step_len() * (1 + usize::from(masked))
    }

    /// Elements of the reserve.
    pub(super) fn reserve_len(&self) -> usize {
        (0..self.l).map(|k| self.layer_len(k + 1 == self.l)).sum()
    }

    /// (W_i2h, W_h2h) offsets of layer `l`, direction `dir` in the flat parameters.
    pub(super) fn w_off(&self, l: usize, dir: usize) -> (usize, usize) {
        let gh = self.g * self.h;
        let off =
            (0..l).map(|k| self.d * self.dir_weights(k)).sum::<usize>() + dir * self.dir_weights(l);
        (off, off + gh * self.in_size(l))
    }

    /// Offset of W_hr `(r, h)` of layer `l`, direction `dir` (LSTMP only).
    fn w_hr_off(&self, l: usize, dir: usize) -> usize {
        self.w_off(l, dir).1 + self.g * self.h * self.r
    }

    /// (b_i2h, b_h2h) offsets: every bias follows every weight.
    pub(super) fn b_off(&self, l: usize, dir: usize) -> (usize, usize) {
        let gh = self.g * self.h;
        let weights: usize = (0..self.l).map(|k| self.d * self.dir_weights(k)).sum();
        let off = weights + (l * self.d + dir) * 2 * gh;
        (off, off + gh)
    }

    pub(super) fn in_size(&self, l: usize) -> usize {
        if l == 0 {
            self.i
        } else {
            self.d * self.r
        }
    }

    /// Time index of step `s` in direction `dir`.
    fn time(&self, dir: usize, s: usize) -> usize {
        if dir == 0 {
            s
        } else {
            self.t - 1 - s
        }
    }

    fn clip(&self, c: f64) -> f64 {
        super::clip_cell(self.clip, self.clip_nan, c)
    }

    /// Whether the stored cell state `c` was clipped (its gradient stops there).
    fn clipped(&self, c: f64) -> bool {
        matches!(self.clip, Some((lo, hi)) if c <= lo || c >= hi)
    }
}

/// The forward pass: writes `out`, the final states (when asked) and the reserve.
#[allow(clippy::too_many_arguments)]
pub(super) fn forward<T: Real>(
    dm: &Dims,
    x: &[T],
    w: &[T],
    hx: &[T],
    cx: Option<&[T]>,
    out: &mut [T],
    mut hy: Option<&mut [T]>,
    mut cy: Option<&mut [T]>,
    res: &mut [T],
    drop: Option<(f64, u64)>,
    lens: &[usize],
) {
    let (t_len, n, h, d, g, r) = (dm.t, dm.n, dm.h, dm.d, dm.g, dm.r);
    let gh = g * h;
    let dr = d * r;
    let mut xin: Vec<T> = Vec::new();
    for l in 0..dm.l {
        let b = dm.block(l);
        let in_l = dm.in_size(l);
        // The layer input: the data, or the previous layer's output (dropped out).
        let input: &[T] = if l == 0 {
            x
        } else {
            let pb = dm.block(l - 1);
            let y_prev = &res[pb.y..pb.y + dm.step_len()];
            match pb.mask {
                Some(m) => {
                    let mask = &res[m..m + dm.step_len()];
                    xin.clear();
                    xin.extend(y_prev.iter().zip(mask).map(|(&a, &k)| a * k));
                    &xin
                }
                None => y_prev,
            }
        };
        let mut y = vec![T::ZERO; dm.step_len()];
        let mut gates_all = vec![T::ZERO; d * t_len * n * gh];
        let mut aux_all = vec![T::ZERO; d * dm.aux_len()];
        for dir in 0..d {
            let (wx, wh) = dm.w_off(l, dir);
            let (bx, bh) = dm.b_off(l, dir);
            let slot = l * d + dir;
            let gates = &mut gates_all[dir * t_len * n * gh..(dir + 1) * t_len * n * gh];
            let aux = &mut aux_all[dir * dm.aux_len()..(dir + 1) * dm.aux_len()];
            // Input projections of all steps: the biases, then x·W_i2hᵀ added.
            let mut xw = vec![T::ZERO; t_len * n * gh];
            for row in xw.chunks_exact_mut(gh) {
                for (k, v) in row.iter_mut().enumerate() {
                    *v = w[bx + k];
                    if dm.mode != Mode::Gru {
                        *v += w[bh + k];
                    }
                }
            }
            // SAFETY: `input` holds T·N rows of `in_l`, W_i2h G·H rows of `in_l`; `xw` is a
            // fresh T·N × G·H buffer.
            unsafe {
                matmul_acc(
                    t_len * n,
                    gh,
                    in_l,
                    rm(input.as_ptr(), in_l),
                    tr(w[wx..].as_ptr(), in_l),
                    xw.as_mut_ptr(),
                    gh,
                );
            }
            let mut hw = vec![T::ZERO; n * gh];
            // The running state: a step past a sequence's length leaves it unchanged.
            let mut hcur: Vec<T> = hx[slot * n * r..(slot + 1) * n * r].to_vec();
            let mut c_prev: Vec<f64> = match cx {
                Some(c) => c[slot * n * h..(slot + 1) * n * h]
                    .iter()
                    .map(|v| v.to_f64())
                    .collect(),
                None => Vec::new(),
            };
            for s in 0..t_len {
                let t = dm.time(dir, s);
                let (hp, hp_rs): (&[T], usize) = (&hcur, r);
                if dm.mode == Mode::Gru {
                    for row in hw.chunks_exact_mut(gh) {
                        row.copy_from_slice(&w[bh..bh + gh]);
                    }
                } else {
                    hw.iter_mut().for_each(|v| *v = T::ZERO);
                }
                // SAFETY: `hp` holds N rows of R at stride `hp_rs`; W_h2h is G·H × R; `hw`
                // is a separate N × G·H buffer.
                unsafe {
                    matmul_acc(
                        n,
                        gh,
                        r,
                        rm(hp.as_ptr(), hp_rs),
                        tr(w[wh..].as_ptr(), r),
                        hw.as_mut_ptr(),
                        gh,
                    );
                }
                let mut h_new = vec![0.0f64; n * h];
                for bi in 0..n {
                    if t >= lens[bi] {
                        continue;
                    }
                    let xr = &xw[(t * n + bi) * gh..(t * n + bi + 1) * gh];
                    let hr = &hw[bi * gh..(bi + 1) * gh];
                    let gr = &mut gates[(t * n + bi) * gh..(t * n + bi + 1) * gh];
                    for j in 0..h {
                        let a = |k: usize| xr[k * h + j].to_f64() + hr[k * h + j].to_f64();
                        let hv = match dm.mode {
                            Mode::RnnTanh => {
                                let v = a(0).tanh();
                                gr[j] = T::from_f64(v);
                                v
                            }
                            Mode::RnnRelu => {
                                let v = a(0).max(0.0);
                                gr[j] = T::from_f64(v);
                                v
                            }
                            Mode::Lstm => {
                                let (i, f, gg, o) =
                                    (sigmoid(a(0)), sigmoid(a(1)), a(2).tanh(), sigmoid(a(3)));
                                let cp = &mut c_prev[bi * h + j];
                                let c = dm.clip(f * *cp + i * gg);
                                *cp = c;
                                gr[j] = T::from_f64(i);
                                gr[h + j] = T::from_f64(f);
                                gr[2 * h + j] = T::from_f64(gg);
                                gr[3 * h + j] = T::from_f64(o);
                                aux[(t * n + bi) * h + j] = T::from_f64(c);
                                o * c.tanh()
                            }
                            Mode::Gru => {
                                let r = sigmoid(a(0));
                                let z = sigmoid(a(1));
                                let hn = hr[2 * h + j].to_f64();
                                let nn = (xr[2 * h + j].to_f64() + r * hn).tanh();
                                gr[j] = T::from_f64(r);
                                gr[h + j] = T::from_f64(z);
                                gr[2 * h + j] = T::from_f64(nn);
                                aux[(t * n + bi) * h + j] = T::from_f64(hn);
                                let hpv = hp[bi * hp_rs + j].to_f64();
                                (1.0 - z) * nn + z * hpv
                            }
                        };
                        h_new[bi * h + j] = hv;
                    }
                }
                let h_out: Vec<T> = if dm.proj {
                    project(&h_new, &w[dm.w_hr_off(l, dir)..], n, h, r)
                } else {
                    h_new.iter().map(|&v| T::from_f64(v)).collect()
                };
                for bi in 0..n {
                    if t >= lens[bi] {
                        continue;
                    }
                    for j in 0..r {
                        let v = h_out[bi * r + j];
                        y[t * n * dr + bi * dr + dir * r + j] = v;
                        hcur[bi * r + j] = v;
                    }
                }
            }
            if let Some(hy) = hy.as_deref_mut() {
                hy[slot * n * r..(slot + 1) * n * r].copy_from_slice(&hcur);
            }
            if let Some(cy) = cy.as_deref_mut() {
                for (o, &c) in cy[slot * n * h..(slot + 1) * n * h].iter_mut().zip(&c_prev) {
                    *o = T::from_f64(c);
                }
            }
        }
        res[b.gates..b.gates + gates_all.len()].copy_from_slice(&gates_all);
        res[b.aux..b.aux + aux_all.len()].copy_from_slice(&aux_all);
        res[b.y..b.y + y.len()].copy_from_slice(&y);
        if let Some(m) = b.mask {
            let mask = &mut res[m..m + dm.step_len()];
            match drop {
                Some((p, seed)) => {
                    let mut rng = Xoshiro::new(seed, l as u64);
                    let keep = 1.0 - p;
                    let on = if keep > 0.0 { 1.0 / keep } else { 0.0 };
                    for v in mask.iter_mut() {
                        *v = T::from_f64(if rng.next_f64() < keep { on } else { 0.0 });
                    }
                }
                None => mask.iter_mut().for_each(|v| *v = T::from_f64(1.0)),
            }
        }
        if l + 1 == dm.l {
            out.copy_from_slice(&y);
        }
    }
}

/// LSTMP's projection `h · W_hrᵀ` of the `n × h` step output, rounded to `T` first as the
/// output itself would be.
fn project<T: Real>(h_new: &[f64], w_hr: &[T], n: usize, h: usize, r: usize) -> Vec<T> {
    let hs: Vec<T> = h_new.iter().map(|&v| T::from_f64(v)).collect();
    let mut out = vec![T::ZERO; n * r];
    // SAFETY: `hs` is N × H, `w_hr` starts a R × H block of the parameters, `out` is N × R.
    unsafe {
        matmul(
            n,
            r,
            h,
            rm(hs.as_ptr(), h),
            tr(w_hr.as_ptr(), h),
            out.as_mut_ptr(),
            r,
        );
    }
    out
}

/// Gradients of one call, written into `dx`, `dw`, `dhx` and `dcx`.
pub(super) struct Grads<'a, T> {
    pub dx: &'a mut [T],
    pub dw: &'a mut [T],
    pub dhx: &'a mut [T],
    pub dcx: Option<&'a mut [T]>,
}

/// Backpropagation through time from the head gradients `dout`, `dhy`, `dcy`.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward<T: Real>(
    dm: &Dims,
    x: &[T],
    w: &[T],
    hx: &[T],
    cx: Option<&[T]>,
    res: &[T],
    dout: &[T],
    dhy: Option<&[T]>,
    dcy: Option<&[T]>,
    gr: Grads<'_, T>,
    lens: &[usize],
) {
    let (t_len, n, h, d, g) = (dm.t, dm.n, dm.h, dm.d, dm.g);
    let gh = g * h;
    let dh = d * h;
    let tn = t_len * n;
    let Grads {
        dx,
        dw,
        dhx,
        mut dcx,
    } = gr;
    // Gradient reaching the current layer's output.
    let mut dy: Vec<T> = dout.to_vec();
    for l in (0..dm.l).rev() {
        let b = dm.block(l);
        let in_l = dm.in_size(l);
        let y = &res[b.y..b.y + dm.step_len()];
        let input: Vec<T> = if l == 0 {
            Vec::new()
        } else {
            let pb = dm.block(l - 1);
            let y_prev = &res[pb.y..pb.y + dm.step_len()];
            match pb.mask {
                Some(m) => y_prev
                    .iter()
                    .zip(&res[m..m + dm.step_len()])
                    .map(|(&a, &k)| a * k)
                    .collect(),
                None => y_prev.to_vec(),
            }
        };
        let input: &[T] = if l == 0 { x } else { &input };
        let mut dxl = vec![T::ZERO; tn * in_l];
        for dir in 0..d {
            let (wx, wh) = dm.w_off(l, dir);
            let (bx, bh) = dm.b_off(l, dir);
            let slot = l * d + dir;
            let gates = &res[b.gates + dir * tn * gh..][..tn * gh];
            let aux = &res[b.aux + dir * dm.aux_len()..][..dm.aux_len()];
            let gru = dm.mode == Mode::Gru;
            let mut dax = vec![T::ZERO; tn * gh];
            let mut dah = if gru {
                vec![T::ZERO; tn * gh]
            } else {
                Vec::new()
            };
            let mut hprev_all = vec![T::ZERO; tn * h];
            let mut dhv: Vec<f64> = match dhy {
                Some(v) => v[slot * n * h..][..n * h]
                    .iter()
                    .map(|a| a.to_f64())
                    .collect(),
                None => vec![0.0; n * h],
            };
            let mut dcv: Vec<f64> = match dcy {
                Some(v) => v[slot * n * h..][..n * h]
                    .iter()
                    .map(|a| a.to_f64())
                    .collect(),
                None => vec![0.0; n * h],
            };
            let mut dh_direct = vec![0.0f64; n * h];
            let mut dhp = vec![T::ZERO; n * h];
            for s in (0..t_len).rev() {
                let t = dm.time(dir, s);
                // The previous step of sequence `bi`, if it had one (else the initial state).
                let prev = |bi: usize| -> Option<usize> {
                    let tp = dm.time(dir, s.checked_sub(1)?);
                    (tp < lens[bi]).then_some(tp)
                };
                let hp = |bi: usize, j: usize| -> T {
                    match prev(bi) {
                        None => hx[(slot * n + bi) * h + j],
                        Some(tp) => y[tp * n * dh + bi * dh + dir * h + j],
                    }
                };
                let cp = |bi: usize, j: usize| -> f64 {
                    match prev(bi) {
                        None => cx.map_or(0.0, |c| c[(slot * n + bi) * h + j].to_f64()),
                        Some(tp) => aux[(tp * n + bi) * h + j].to_f64(),
                    }
                };
                for bi in 0..n {
                    let row = t * n + bi;
                    if t >= lens[bi] {
                        // Past the sequence's end: the state passes through unchanged.
                        dax[row * gh..(row + 1) * gh].fill(T::ZERO);
                        if gru {
                            dah[row * gh..(row + 1) * gh].fill(T::ZERO);
                        }
                        for j in 0..h {
                            hprev_all[row * h + j] = hp(bi, j);
                            dh_direct[bi * h + j] = dhv[bi * h + j];
                        }
                        continue;
                    }
                    let gt = &gates[row * gh..(row + 1) * gh];
                    for j in 0..h {
                        hprev_all[row * h + j] = hp(bi, j);
                        let dht = dhv[bi * h + j] + dy[t * n * dh + bi * dh + dir * h + j].to_f64();
                        let ga = |k: usize| gt[k * h + j].to_f64();
                        let da = &mut dax[row * gh..(row + 1) * gh];
                        match dm.mode {
                            Mode::RnnTanh => {
                                let v = ga(0);
                                da[j] = T::from_f64(dht * (1.0 - v * v));
                            }
                            Mode::RnnRelu => {
                                da[j] = T::from_f64(if ga(0) > 0.0 { dht } else { 0.0 });
                            }
                            Mode::Lstm => {
                                let (i, f, gg, o) = (ga(0), ga(1), ga(2), ga(3));
                                let c = aux[row * h + j].to_f64();
                                let tc = c.tanh();
                                let mut dc = dcv[bi * h + j] + dht * o * (1.0 - tc * tc);
                                if dm.clipped(c) {
                                    dc = 0.0;
                                }
                                let cpv = cp(bi, j);
                                da[j] = T::from_f64(dc * gg * i * (1.0 - i));
                                da[h + j] = T::from_f64(dc * cpv * f * (1.0 - f));
                                da[2 * h + j] = T::from_f64(dc * i * (1.0 - gg * gg));
                                da[3 * h + j] = T::from_f64(dht * tc * o * (1.0 - o));
                                dcv[bi * h + j] = dc * f;
                            }
                            Mode::Gru => {
                                let (r, z, nn) = (ga(0), ga(1), ga(2));
                                let hn = aux[row * h + j].to_f64();
                                let hpv = hp(bi, j).to_f64();
                                let dn = dht * (1.0 - z);
                                let dz = dht * (hpv - nn);
                                let dan = dn * (1.0 - nn * nn);
                                let dr = dan * hn * r * (1.0 - r);
                                let dzz = dz * z * (1.0 - z);
                                da[j] = T::from_f64(dr);
                                da[h + j] = T::from_f64(dzz);
                                da[2 * h + j] = T::from_f64(dan);
                                let dhr = &mut dah[row * gh..(row + 1) * gh];
                                dhr[j] = T::from_f64(dr);
                                dhr[h + j] = T::from_f64(dzz);
                                dhr[2 * h + j] = T::from_f64(dan * r);
                                dh_direct[bi * h + j] = dht * z;
                            }
                        }
                    }
                }
                // dh_{t-1} = dA_h2h[t]·W_h2h (+ GRU's direct path through z).
                let dsrc = if gru { &dah } else { &dax };
                // SAFETY: the step's N rows of G·H, W_h2h G·H × H, `dhp` a separate N × H.
                unsafe {
                    matmul(
                        n,
                        h,
                        gh,
                        rm(dsrc[t * n * gh..].as_ptr(), gh),
                        rm(w[wh..].as_ptr(), h),
                        dhp.as_mut_ptr(),
                        h,
                    );
                }
                for (k, v) in dhv.iter_mut().enumerate() {
                    let direct = if gru || t >= lens[k / h] {
                        dh_direct[k]
                    } else {
                        0.0
                    };
                    *v = dhp[k].to_f64() + direct;
                }
            }
            for (o, v) in dhx[slot * n * h..][..n * h].iter_mut().zip(&dhv) {
                *o = T::from_f64(*v);
            }
            if let Some(dcx) = dcx.as_deref_mut() {
                for (o, v) in dcx[slot * n * h..][..n * h].iter_mut().zip(&dcv) {
                    *o = T::from_f64(*v);
                }
            }
            let dah: &[T] = if gru { &dah } else { &dax };
            // SAFETY: dA (T·N × G·H), the layer input (T·N × in), h_prev (T·N × H) and the
            // weights are read; dW slices of this layer/direction and `dxl` are written and
            // disjoint from every operand.
            unsafe {
                matmul(
                    gh,
                    in_l,
                    tn,
                    tr(dax.as_ptr(), gh),
                    rm(input.as_ptr(), in_l),
                    dw[wx..].as_mut_ptr(),
                    in_l,
                );
                matmul(
                    gh,
                    h,
                    tn,
                    tr(dah.as_ptr(), gh),
                    rm(hprev_all.as_ptr(), h),
                    dw[wh..].as_mut_ptr(),
                    h,
                );
                matmul_acc(
                    tn,
                    in_l,
                    gh,
                    rm(dax.as_ptr(), gh),
                    rm(w[wx..].as_ptr(), in_l),
                    dxl.as_mut_ptr(),
                    in_l,
                );
            }
            let colsum = |src: &[T], dst: &mut [T]| {
                let mut acc = vec![0.0f64; gh];
                for row in src.chunks_exact(gh) {
                    for (a, v) in acc.iter_mut().zip(row) {
                        *a += v.to_f64();
                    }
                }
                for (o, a) in dst.iter_mut().zip(acc) {
                    *o = T::from_f64(a);
                }
            };
            colsum(&dax, &mut dw[bx..bx + gh]);
            colsum(dah, &mut dw[bh..bh + gh]);
        }
        if l == 0 {
            dx.copy_from_slice(&dxl);
        } else {
            let pb = dm.block(l - 1);
            dy = match pb.mask {
                Some(m) => dxl
                    .iter()
                    .zip(&res[m..m + dm.step_len()])
                    .map(|(&a, &k)| a * k)
                    .collect(),
                None => dxl,
            };
        }
    }
}
