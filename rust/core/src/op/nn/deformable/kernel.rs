//! Deformable convolution on CPU: a column matrix gathered at offset (and, for v2, masked)
//! bilinear sample positions, multiplied per group by the weight as Convolution does
//! (kernels/cpu/conv.rs). The backward turns the column gradient `Wᵀ·dY` into the data,
//! offset and mask gradients in one pass over the sample positions, which also rebuilds the
//! column matrix that the weight gradient needs.
//!
//! Parallel over the batch: each task owns its column buffers and whole samples of every
//! per-sample output; weight gradients are summed privately and added once.

use super::sample::{Bilinear, Rule};
use crate::kernels::cpu::conv::{group_products, Real};
use crate::kernels::cpu::gemm::{matmul, matmul_acc, Mat};
use crate::kernels::cpu::{par_ranges, Ptr};
use std::sync::Mutex;

/// One deformable convolution over NCHW data; `out` is the output's (height, width).
#[derive(Debug, Clone)]
pub(crate) struct Geo {
    pub rule: Rule,
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub f: usize,
    pub groups: usize,
    pub dg: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilate: [usize; 2],
    pub pad: [usize; 2],
    pub out: [usize; 2],
}

impl Geo {
    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }
    fn len(&self) -> usize {
        self.out[0] * self.out[1]
    }
    fn hw(&self) -> usize {
        self.h * self.w
    }
    /// Rows of one group's column matrix.
    fn gk(&self) -> usize {
        self.c / self.groups * self.taps()
    }
    fn fg(&self) -> usize {
        self.f / self.groups
    }
    /// Offset values per sample: (dg, taps, 2 = (dh, dw), out_h, out_w).
    pub fn offset_len(&self) -> usize {
        self.dg * 2 * self.taps() * self.len()
    }
    /// Mask values per sample: (dg, taps, out_h, out_w).
    pub fn mask_len(&self) -> usize {
        self.dg * self.taps() * self.len()
    }
    pub fn empty(&self) -> bool {
        self.n == 0 || self.c == 0 || self.f == 0 || self.hw() == 0 || self.len() == 0
    }
    fn work(&self) -> usize {
        self.f
            .saturating_mul(self.gk())
            .saturating_mul(self.len())
            .max(1)
    }

    /// Calls `visit(dgi, tap, pos, sample, mask)` for every deformable group, kernel tap and
    /// output position of one sample, with the bilinear sample there (`None` = zero) and the
    /// mask value (1 without a mask). `pos` indexes the output plane.
    fn each_tap<T: Real>(
        &self,
        off: &[T],
        mask: Option<&[T]>,
        mut visit: impl FnMut(usize, usize, usize, Option<Bilinear>, f64),
    ) {
        let (taps, len, kw) = (self.taps(), self.len(), self.kernel[1]);
        for dgi in 0..self.dg {
            for tap in 0..taps {
                let (i, j) = (tap / kw, tap % kw);
                let oh = &off[(dgi * taps + tap) * 2 * len..][..2 * len];
                let mrow = mask.map(|m| &m[(dgi * taps + tap) * len..][..len]);
                for y in 0..self.out[0] {
                    let base_h =
                        (y * self.stride[0] + i * self.dilate[0]) as f64 - self.pad[0] as f64;
                    for x in 0..self.out[1] {
                        let pos = y * self.out[1] + x;
                        let base_w =
                            (x * self.stride[1] + j * self.dilate[1]) as f64 - self.pad[1] as f64;
                        let hp = base_h + oh[pos].to_f64();
                        let wp = base_w + oh[len + pos].to_f64();
                        let m = mrow.map_or(1.0, |m| m[pos].to_f64());
                        let b = Bilinear::at(self.rule, hp, wp, self.h, self.w);
                        visit(dgi, tap, pos, b, m);
                    }
                }
            }
        }
    }

    /// The column matrix ((c·taps) × len) of one sample.
    fn im2col<T: Real>(&self, x: &[T], off: &[T], mask: Option<&[T]>, col: &mut [T]) {
        let (taps, len, hw, cpg) = (self.taps(), self.len(), self.hw(), self.c / self.dg);
        self.each_tap(off, mask, |dgi, tap, pos, b, m| {
            for ch in dgi * cpg..(dgi + 1) * cpg {
                let v = b.map_or(0.0, |b| b.dot(&b.weights(), &x[ch * hw..][..hw]));
                col[(ch * taps + tap) * len + pos] = T::from_f64(v * m);
            }
        });
    }
}

/// `y = deformable_conv(x, offset, mask, w) + bias`, every input of full batch `g.n`.
pub(crate) fn forward<T: Real>(
    g: &Geo,
    x: &[T],
    off: &[T],
    mask: Option<&[T]>,
    w: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
) {
    let (xs, os, ms, ys) = (g.c * g.hw(), g.offset_len(), g.mask_len(), g.f * g.len());
    let yp = Ptr(y.as_mut_ptr());
    par_ranges(g.n, g.work(), |b, e| {
        let mut col = vec![T::ZERO; g.c * g.taps() * g.len()];
        for i in b..e {
            let m = mask.map(|m| &m[i * ms..][..ms]);
            g.im2col(&x[i * xs..][..xs], &off[i * os..][..os], m, &mut col);
            let dims = (g.groups, g.fg(), g.gk(), g.len());
            // SAFETY: sample i's output block belongs to this task; the buffers have the
            // sizes `group_products` needs.
            unsafe { group_products(dims, w, &col, bias, yp.get().add(i * ys)) };
        }
    });
}

/// Gradient buffers of the backward, each of full batch (the weight's summed over it).
pub(crate) struct Grads<'a, T> {
    pub dx: &'a mut [T],
    pub doff: &'a mut [T],
    pub dmask: Option<&'a mut [T]>,
    pub dw: &'a mut [T],
}

/// Data, offset, mask and weight gradients from the output gradient `dy`, all overwritten.
pub(crate) fn backward<T: Real>(
    g: &Geo,
    dy: &[T],
    x: &[T],
    off: &[T],
    mask: Option<&[T]>,
    w: &[T],
    out: Grads<'_, T>,
) {
    let (xs, os, ms, ys) = (g.c * g.hw(), g.offset_len(), g.mask_len(), g.f * g.len());
    let (taps, len, hw, cpg, gk, fg) = (g.taps(), g.len(), g.hw(), g.c / g.dg, g.gk(), g.fg());
    let dxp = Ptr(out.dx.as_mut_ptr());
    let dop = Ptr(out.doff.as_mut_ptr());
    let dmp = out.dmask.map(|m| Ptr(m.as_mut_ptr()));
    out.dw.fill(T::ZERO);
    let total = Mutex::new(out.dw);
    par_ranges(g.n, g.work(), |b, e| {
        let mut dcol = vec![T::ZERO; g.c * taps * len];
        let mut col = vec![T::ZERO; g.c * taps * len];
        let mut dx_acc = vec![0f64; xs];
        let mut dw_acc = vec![T::ZERO; g.f * gk];
        for i in b..e {
            let dys = &dy[i * ys..][..ys];
            for gi in 0..g.groups {
                // SAFETY: W_gᵀ (gk × fg) read through strides inside w, dy's group block
                // (fg × len), and this task's column-gradient rows of group gi.
                unsafe {
                    let a = Mat {
                        ptr: w.as_ptr().add(gi * fg * gk),
                        rs: 1,
                        cs: gk as isize,
                    };
                    let bm = Mat {
                        ptr: dys.as_ptr().add(gi * fg * len),
                        rs: len as isize,
                        cs: 1,
                    };
                    matmul(
                        gk,
                        len,
                        fg,
                        a,
                        bm,
                        dcol.as_mut_ptr().add(gi * gk * len),
                        len,
                    );
                }
            }
            let xi = &x[i * xs..][..xs];
            let mi = mask.map(|m| &m[i * ms..][..ms]);
            // SAFETY: sample i of the offset and mask gradients belongs to this task.
            let doff = unsafe { std::slice::from_raw_parts_mut(dop.get().add(i * os), os) };
            let mut dmask = dmp
                .as_ref()
                .map(|p| unsafe { std::slice::from_raw_parts_mut(p.get().add(i * ms), ms) });
            dx_acc.fill(0.0);
            g.each_tap(&off[i * os..][..os], mi, |dgi, tap, pos, smp, m| {
                let (mut gh, mut gw, mut gm) = (0.0, 0.0, 0.0);
                for ch in dgi * cpg..(dgi + 1) * cpg {
                    let ci = (ch * taps + tap) * len + pos;
                    let Some(s) = smp else {
                        col[ci] = T::ZERO;
                        continue;
                    };
                    let plane = &xi[ch * hw..][..hw];
                    let wts = s.weights();
                    let v = s.dot(&wts, plane);
                    col[ci] = T::from_f64(v * m);
                    let dc = dcol[ci].to_f64();
                    gm += dc * v;
                    gh += dc * m * s.dot(&s.d_h(), plane);
                    gw += dc * m * s.dot(&s.d_w(), plane);
                    let dxs = &mut dx_acc[ch * hw..][..hw];
                    for (p, wt) in s.pos.iter().zip(wts) {
                        if let Some(p) = p {
                            dxs[*p] += wt * dc * m;
                        }
                    }
                }
                let oi = (dgi * taps + tap) * 2 * len + pos;
                doff[oi] = T::from_f64(gh);
                doff[oi + len] = T::from_f64(gw);
                if let Some(dm) = dmask.as_deref_mut() {
                    dm[(dgi * taps + tap) * len + pos] = T::from_f64(gm);
                }
            });
            // SAFETY: sample i of dx belongs to this task.
            let dxs = unsafe { std::slice::from_raw_parts_mut(dxp.get().add(i * xs), xs) };
            for (o, v) in dxs.iter_mut().zip(&dx_acc) {
                *o = T::from_f64(*v);
            }
            for gi in 0..g.groups {
                // SAFETY: dy's group block (fg × len) and the group's column rows read
                // transposed (len × gk) stay inside their buffers; dw_acc is private.
                unsafe {
                    let a = Mat {
                        ptr: dys.as_ptr().add(gi * fg * len),
                        rs: len as isize,
                        cs: 1,
                    };
                    let bm = Mat {
                        ptr: col.as_ptr().add(gi * gk * len),
                        rs: 1,
                        cs: len as isize,
                    };
                    matmul_acc(
                        fg,
                        gk,
                        len,
                        a,
                        bm,
                        dw_acc.as_mut_ptr().add(gi * fg * gk),
                        gk,
                    );
                }
            }
        }
        // A poisoned lock only means another task panicked; the engine reports that panic.
        let mut t = match total.lock() {
            Ok(t) => t,
            Err(p) => p.into_inner(),
        };
        for (o, v) in t.iter_mut().zip(dw_acc) {
            *o += v;
        }
    });
}
