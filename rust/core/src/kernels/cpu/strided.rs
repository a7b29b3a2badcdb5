//! Strided copies between arrays: the one kernel behind transpose, flip, slice, broadcast,
//! tile, repeat, diag, concat, split and slice assignment. A walk is an iteration shape plus,
//! per side, an element offset and element strides; strides may be negative (flip, reversed
//! slices) or zero on the source side (broadcast, fill). Elements move by width only, so one
//! instantiation per byte width serves every dtype.

use super::{par_ranges, Ptr};
use crate::error::{Error, Result};
use crate::ndarray::NDArray;

/// Tile edge for copies that transpose: a 32×32 tile of 8-byte elements is 8 KiB, so both the
/// rows read and the rows written stay in L1 while the tile is done.
const TILE: usize = 32;

/// One side of a walk: where it starts and how far each iteration dim steps, in elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    pub offset: isize,
    pub strides: Vec<isize>,
}

impl Walk {
    pub fn new(offset: isize, strides: Vec<isize>) -> Walk {
        Walk { offset, strides }
    }

    /// The plain row-major walk over `shape` from element 0.
    pub fn contiguous(shape: &[usize]) -> Walk {
        let mut s = vec![1isize; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1] * shape[i + 1] as isize;
        }
        Walk {
            offset: 0,
            strides: s,
        }
    }

    /// Lowest and highest element touched over `shape` (None when nothing is touched).
    fn extent(&self, shape: &[usize]) -> Option<(isize, isize)> {
        if shape.contains(&0) {
            return None;
        }
        let (mut lo, mut hi) = (self.offset, self.offset);
        for (&n, &s) in shape.iter().zip(&self.strides) {
            let span = (n as isize - 1).saturating_mul(s);
            if span < 0 {
                lo = lo.saturating_add(span);
            } else {
                hi = hi.saturating_add(span);
            }
        }
        Some((lo, hi))
    }

    /// True when no two iteration points land on one element, so parallel writers never race:
    /// sorted by stride, each stride must clear everything the smaller ones can reach.
    fn injective(&self, shape: &[usize]) -> bool {
        if shape.contains(&0) {
            return true;
        }
        let mut dims: Vec<(usize, usize)> = shape
            .iter()
            .zip(&self.strides)
            .filter(|(&n, _)| n > 1)
            .map(|(&n, &s)| (s.unsigned_abs(), n))
            .collect();
        dims.sort_unstable();
        let mut reach = 0usize;
        for (s, n) in dims {
            if s <= reach {
                return false;
            }
            reach = reach.saturating_add(s.saturating_mul(n - 1));
        }
        true
    }
}

#[derive(Debug, Clone, Copy)]
struct Dim {
    n: usize,
    s: isize,
    d: isize,
}

/// Drops unit dims and fuses neighbours that are contiguous in both walks, so most copies
/// become a few long rows and the per-row bookkeeping vanishes.
fn simplify(shape: &[usize], src: &[isize], dst: &[isize]) -> Vec<Dim> {
    let mut out: Vec<Dim> = Vec::with_capacity(shape.len());
    for ((&n, &s), &d) in shape.iter().zip(src).zip(dst) {
        if n == 1 {
            continue;
        }
        if let Some(last) = out.last_mut() {
            if last.s == s * n as isize && last.d == d * n as isize {
                last.n *= n;
                last.s = s;
                last.d = d;
                continue;
            }
        }
        out.push(Dim { n, s, d });
    }
    out
}

/// One row: `n` elements, source stride `s`, destination stride `d`.
///
/// # Safety
/// Both ranges in bounds; they do not overlap.
#[inline(always)]
unsafe fn row<T: Copy>(src: *const T, s: isize, dst: *mut T, d: isize, n: usize) {
    match (s, d) {
        (1, 1) => std::ptr::copy_nonoverlapping(src, dst, n),
        (0, 1) => {
            let v = *src;
            for j in 0..n {
                *dst.add(j) = v;
            }
        }
        (_, 1) => {
            for j in 0..n {
                *dst.add(j) = *src.offset(j as isize * s);
            }
        }
        _ => {
            for j in 0..n {
                *dst.offset(j as isize * d) = *src.offset(j as isize * s);
            }
        }
    }
}

/// Offsets of the walk's point number `r` over `dims` (row-major order).
fn offsets_of(dims: &[Dim], mut r: usize) -> (isize, isize) {
    let (mut so, mut dof) = (0isize, 0isize);
    for dm in dims.iter().rev() {
        let i = (r % dm.n) as isize;
        r /= dm.n;
        so += i * dm.s;
        dof += i * dm.d;
    }
    (so, dof)
}

/// Copies along two walks over `shape`.
///
/// # Safety
/// Every point of both walks is in bounds of its buffer, the destination walk is injective,
/// and the two buffers do not overlap.
pub unsafe fn copy_raw<T: Copy + Send + Sync>(
    shape: &[usize],
    src: *const T,
    src_st: &[isize],
    dst: *mut T,
    dst_st: &[isize],
) {
    if shape.contains(&0) {
        return;
    }
    let dims = simplify(shape, src_st, dst_st);
    let (ps, pd) = (Ptr(src as *mut T), Ptr(dst));
    let Some(&inner) = dims.last() else {
        *dst = *src;
        return;
    };
    // A transposing copy: the destination row reads the source with a large stride while some
    // other dim is contiguous in the source. Going through a small buffer per tile touches
    // every source and destination cache line once, in full: with power-of-two strides the
    // tile's rows all map to one cache set, and walking them directly thrashes it. (A
    // broadcast row, source stride 0, is a fill: no tile.)
    if inner.d == 1 && inner.s != 1 && inner.s != 0 && inner.n >= TILE / 2 {
        if let Some(j) = dims[..dims.len() - 1]
            .iter()
            .rposition(|dm| dm.s == 1 && dm.n >= TILE / 2)
        {
            let dj = dims[j];
            let outer: Vec<Dim> = dims[..dims.len() - 1]
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != j)
                .map(|(_, d)| *d)
                .collect();
            let rows: usize = outer.iter().map(|d| d.n).product();
            let jt = dj.n.div_ceil(TILE);
            par_ranges(rows * jt, TILE * inner.n, |b, e| {
                // SAFETY: the walks are non-empty, so the source's first point is readable.
                let mut buf: Vec<T> = vec![unsafe { *ps.get() }; TILE * TILE];
                for task in b..e {
                    let (so, dof) = offsets_of(&outer, task / jt);
                    let j0 = (task % jt) * TILE;
                    let nj = (j0 + TILE).min(dj.n) - j0;
                    for l0 in (0..inner.n).step_by(TILE) {
                        let nl = (l0 + TILE).min(inner.n) - l0;
                        // SAFETY: points of both walks, in bounds by the caller's contract;
                        // buffer indices stay below TILE * TILE.
                        unsafe {
                            let base = ps.get().offset(so + j0 as isize + l0 as isize * inner.s);
                            for l in 0..nl {
                                let src = base.offset(l as isize * inner.s);
                                std::ptr::copy_nonoverlapping(
                                    src,
                                    buf.as_mut_ptr().add(l * TILE),
                                    nj,
                                );
                            }
                            let base = pd.get().offset(dof + j0 as isize * dj.d + l0 as isize);
                            for jj in 0..nj {
                                let d = base.offset(jj as isize * dj.d);
                                for l in 0..nl {
                                    *d.add(l) = buf[l * TILE + jj];
                                }
                            }
                        }
                    }
                }
            });
            return;
        }
    }
    let outer = &dims[..dims.len() - 1];
    let rows: usize = outer.iter().map(|d| d.n).product();
    par_ranges(rows, inner.n, |b, e| {
        let (mut so, mut dof) = offsets_of(outer, b);
        let mut idx = vec![0usize; outer.len()];
        let mut r = b;
        for k in (0..outer.len()).rev() {
            idx[k] = r % outer[k].n;
            r /= outer[k].n;
        }
        for _ in b..e {
            // SAFETY: a point of both walks, in bounds by the caller's contract.
            row(
                ps.get().offset(so),
                inner.s,
                pd.get().offset(dof),
                inner.d,
                inner.n,
            );
            // Odometer step: cheaper than dividing per row when rows are short.
            for k in (0..outer.len()).rev() {
                idx[k] += 1;
                so += outer[k].s;
                dof += outer[k].d;
                if idx[k] < outer[k].n {
                    break;
                }
                so -= outer[k].s * outer[k].n as isize;
                dof -= outer[k].d * outer[k].n as isize;
                idx[k] = 0;
            }
        }
    });
}

fn check(what: &str, a: &NDArray, w: &Walk, shape: &[usize]) -> Result<()> {
    if w.strides.len() != shape.len() {
        return Err(Error::Internal(format!(
            "{what} walk has {} strides for {} dims",
            w.strides.len(),
            shape.len()
        )));
    }
    if let Some((lo, hi)) = w.extent(shape) {
        if lo < 0 || hi >= a.size() as isize {
            return Err(Error::Internal(format!(
                "{what} walk over {shape:?} reaches elements {lo}..={hi} of an array of {}",
                a.size()
            )));
        }
    }
    Ok(())
}

/// What `copy_walk` (and the GPU's strided copy) require of two walks: both inside their
/// arrays, an injective destination, one element size, and no overlap between the arrays.
pub fn check_walks(
    shape: &[usize],
    src: &NDArray,
    src_walk: &Walk,
    dst: &NDArray,
    dst_walk: &Walk,
) -> Result<()> {
    check("source", src, src_walk, shape)?;
    check("destination", dst, dst_walk, shape)?;
    if !dst_walk.injective(shape) {
        return Err(Error::Internal(format!(
            "destination walk {dst_walk:?} over {shape:?} writes an element twice"
        )));
    }
    if src.dtype().size() != dst.dtype().size() {
        return Err(Error::Internal(format!(
            "strided copy from {} to {}",
            src.dtype(),
            dst.dtype()
        )));
    }
    if !shape.contains(&0) && src.overlaps(dst) {
        return Err(Error::Internal(
            "strided copy between overlapping arrays".into(),
        ));
    }
    Ok(())
}

/// Copies the points of `src_walk` into those of `dst_walk` (same dtype, disjoint memory).
/// Walks are validated (bounds, injective destination) so a planning bug is an error, not
/// memory corruption. Must run inside an op reading `src` and writing `dst`.
pub fn copy_walk(
    shape: &[usize],
    src: &NDArray,
    src_walk: &Walk,
    dst: &NDArray,
    dst_walk: &Walk,
) -> Result<()> {
    check_walks(shape, src, src_walk, dst, dst_walk)?;
    if shape.contains(&0) {
        return Ok(());
    }
    // SAFETY: inside the op holding both variables; walks checked against both sizes above.
    unsafe {
        let (s, d) = (src.raw(), dst.raw());
        macro_rules! go {
            ($t:ty) => {
                copy_raw::<$t>(
                    shape,
                    (s as *const $t).offset(src_walk.offset),
                    &src_walk.strides,
                    (d as *mut $t).offset(dst_walk.offset),
                    &dst_walk.strides,
                )
            };
        }
        match src.dtype().size() {
            1 => go!(u8),
            2 => go!(u16),
            4 => go!(u32),
            8 => go!(u64),
            w => {
                return Err(Error::Internal(format!(
                    "no strided copy for {w}-byte elements"
                )))
            }
        }
    }
    Ok(())
}

/// Writes `value` at every point of `dst_walk`. Must run inside an op writing `dst`.
pub fn fill_walk<T: crate::dtype::Element>(
    shape: &[usize],
    dst: &NDArray,
    dst_walk: &Walk,
    value: T,
) -> Result<()> {
    check("destination", dst, dst_walk, shape)?;
    if !dst_walk.injective(shape) {
        return Err(Error::Internal(format!(
            "destination walk {dst_walk:?} over {shape:?} writes an element twice"
        )));
    }
    if std::mem::size_of::<T>() != dst.dtype().size() {
        return Err(Error::Internal(format!(
            "fill of a {} array with {}",
            dst.dtype(),
            T::DTYPE
        )));
    }
    if shape.contains(&0) {
        return Ok(());
    }
    let zeros = vec![0isize; shape.len()];
    // SAFETY: the source is one local value read with stride 0; the destination walk is
    // checked above and the op holds dst's variable.
    unsafe {
        copy_raw::<T>(
            shape,
            &value,
            &zeros,
            (dst.raw() as *mut T).offset(dst_walk.offset),
            &dst_walk.strides,
        )
    };
    Ok(())
}

/// Copies all of `src` into `dst` (same byte size, disjoint), in parallel chunks.
/// Must run inside an op reading `src` and writing `dst`.
pub fn copy_all(src: &NDArray, dst: &NDArray) -> Result<()> {
    if src.nbytes() != dst.nbytes() {
        return Err(Error::Internal(format!(
            "copy of {} bytes into {} bytes",
            src.nbytes(),
            dst.nbytes()
        )));
    }
    if src.nbytes() == 0 {
        return Ok(());
    }
    if src.overlaps(dst) {
        if src.offset() == dst.offset() {
            return Ok(()); // the very same bytes: nothing to move
        }
        return Err(Error::Internal("copy between overlapping arrays".into()));
    }
    // SAFETY: inside the op holding both variables; sizes checked; no overlap.
    unsafe { super::stream::copy_par(src.raw(), dst.raw(), src.nbytes()) };
    Ok(())
}

fn same_width(src: &NDArray, dst: &NDArray) -> Result<()> {
    if src.dtype().size() != dst.dtype().size() {
        return Err(Error::Internal(format!(
            "copy from {} to {}",
            src.dtype(),
            dst.dtype()
        )));
    }
    if src.overlaps(dst) {
        return Err(Error::Internal("gather between overlapping arrays".into()));
    }
    Ok(())
}

/// `dst[o, i, :] = src[o, idx[i], :]` for `src` viewed as outer×n×inner (`take`).
/// Must run inside an op reading `src` and writing `dst`.
pub fn gather_rows(
    src: &NDArray,
    dst: &NDArray,
    outer: usize,
    n: usize,
    inner: usize,
    idx: &[usize],
) -> Result<()> {
    same_width(src, dst)?;
    let sizes_ok = checked_prod(&[outer, n, inner]) == Some(src.size())
        && checked_prod(&[outer, idx.len(), inner]) == Some(dst.size());
    if !sizes_ok || idx.iter().any(|&i| i >= n) {
        return Err(Error::Internal(format!(
            "gather of {outer}x{n}x{inner} rows out of bounds"
        )));
    }
    let k = idx.len();
    let w = src.dtype().size();
    // SAFETY: inside the op holding both variables; every row index checked against n above.
    let (ps, pd) = unsafe { (Ptr(src.raw()), Ptr(dst.raw())) };
    let row = inner * w;
    par_ranges(outer * k, inner, |b, e| {
        for r in b..e {
            let (o, i) = (r / k, r % k);
            // SAFETY: row (o, idx[i]) of src and row r of dst are in bounds; buffers disjoint.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    ps.get().add((o * n + idx[i]) * row),
                    pd.get().add(r * row),
                    row,
                )
            }
        }
    });
    Ok(())
}

/// `dst[o, j] = src[o, idx[o*inner + j], j]` for `src` viewed as outer×n×inner (`pick`).
/// Must run inside an op reading `src` and writing `dst`.
pub fn pick_elems(
    src: &NDArray,
    dst: &NDArray,
    outer: usize,
    n: usize,
    inner: usize,
    idx: &[usize],
) -> Result<()> {
    same_width(src, dst)?;
    let sizes_ok = checked_prod(&[outer, n, inner]) == Some(src.size())
        && checked_prod(&[outer, inner]) == Some(dst.size())
        && idx.len() == dst.size();
    if !sizes_ok || idx.iter().any(|&i| i >= n) {
        return Err(Error::Internal(format!(
            "pick from {outer}x{n}x{inner} out of bounds"
        )));
    }
    fn go<T: Copy + Send + Sync>(s: Ptr<T>, d: Ptr<T>, n: usize, inner: usize, idx: &[usize]) {
        par_ranges(idx.len(), 1, |b, e| {
            for (q, &k) in idx.iter().enumerate().take(e).skip(b) {
                let (o, j) = (q / inner, q % inner);
                // SAFETY: (o, k, j) is inside src and q inside dst, checked by the caller.
                unsafe { *d.get().add(q) = *s.get().add((o * n + k) * inner + j) }
            }
        })
    }
    // SAFETY: inside the op holding both variables.
    let (s, d) = unsafe { (src.raw(), dst.raw()) };
    match src.dtype().size() {
        1 => go(Ptr(s), Ptr(d), n, inner, idx),
        2 => go(Ptr(s as *mut u16), Ptr(d as *mut u16), n, inner, idx),
        4 => go(Ptr(s as *mut u32), Ptr(d as *mut u32), n, inner, idx),
        8 => go(Ptr(s as *mut u64), Ptr(d as *mut u64), n, inner, idx),
        w => return Err(Error::Internal(format!("no pick for {w}-byte elements"))),
    }
    Ok(())
}

fn checked_prod(v: &[usize]) -> Option<usize> {
    v.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(shape: &[usize], src: &[u32], sw: &Walk, dst: &mut [u32], dw: &Walk) {
        let n: usize = shape.iter().product();
        for r in 0..n {
            let (mut so, mut dof, mut rem) = (sw.offset, dw.offset, r);
            for k in (0..shape.len()).rev() {
                let i = (rem % shape[k]) as isize;
                rem /= shape[k];
                so += i * sw.strides[k];
                dof += i * dw.strides[k];
            }
            dst[dof as usize] = src[so as usize];
        }
    }

    #[test]
    fn transposes_match_naive() {
        for &(a, b, c) in &[(1, 1, 1), (3, 5, 7), (40, 70, 3), (2, 100, 33), (65, 1, 47)] {
            let src: Vec<u32> = (0..(a * b * c) as u32).collect();
            for perm in [
                [0, 1, 2],
                [2, 1, 0],
                [1, 0, 2],
                [0, 2, 1],
                [2, 0, 1],
                [1, 2, 0],
            ] {
                let dims = [a, b, c];
                let st = Walk::contiguous(&dims).strides;
                let shape: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
                let sw = Walk::new(0, perm.iter().map(|&p| st[p]).collect());
                let dw = Walk::contiguous(&shape);
                let mut want = vec![0u32; src.len()];
                naive(&shape, &src, &sw, &mut want, &dw);
                let mut got = vec![0u32; src.len()];
                // SAFETY: walks stay inside both vectors.
                unsafe {
                    copy_raw(
                        &shape,
                        src.as_ptr(),
                        &sw.strides,
                        got.as_mut_ptr(),
                        &dw.strides,
                    )
                };
                assert_eq!(got, want, "{a}x{b}x{c} perm {perm:?}");
            }
        }
    }

    #[test]
    fn injectivity() {
        assert!(Walk::new(0, vec![4, 1]).injective(&[3, 4]));
        assert!(!Walk::new(0, vec![3, 1]).injective(&[3, 4]));
        assert!(!Walk::new(0, vec![0, 1]).injective(&[2, 4]));
        assert!(Walk::new(0, vec![0, 1]).injective(&[1, 4]));
        assert!(Walk::new(11, vec![-4, -1]).injective(&[3, 4]));
        assert!(Walk::new(0, vec![0, 3, 1]).injective(&[4, 0, 3]));
    }
}
