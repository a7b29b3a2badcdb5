//! Spatial transformer ops: `GridGenerator` (an affine matrix or an optical flow to a sampling
//! grid), `BilinearSampler` (NCHW data sampled at grid points) and `SpatialTransformer` (the
//! two composed). Grids hold normalised source coordinates: x = -1 is the first column and
//! x = 1 the last, so a grid value g maps to pixel (g + 1) * (W - 1) / 2. Corners that fall
//! outside the data read as zero and receive no gradient; the grid gradient is the exact
//! derivative of the bilinear interpolation between the four corners.

use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::graph::Entry;
use crate::kernels::cpu::norm::{with_real, Real};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use std::sync::Arc;

const GG: &str = "GridGenerator";
const BS: &str = "BilinearSampler";
const ST: &str = "SpatialTransformer";

/// `transform_type` of GridGenerator: the affine target size, or a flow field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transform {
    Affine { h: usize, w: usize },
    Warp,
}

/// Grid shape from GridGenerator's input shape.
fn grid_shape(op: &str, t: Transform, d: &Shape) -> Result<Shape> {
    match t {
        Transform::Affine { h, w } => {
            if d.ndim() != 2 || d[1] != 6 {
                return Err(Error::shape(
                    op,
                    format!(
                        "transform_type='affine' expects data of shape (batch, 6), an affine \
                         matrix per sample, got {d}"
                    ),
                ));
            }
            Ok(Shape::new(vec![d[0], 2, h, w]))
        }
        Transform::Warp => {
            if d.ndim() != 4 || d[1] != 2 {
                return Err(Error::shape(
                    op,
                    format!(
                        "transform_type='warp' expects an optical flow of shape (batch, 2, \
                         height, width), got {d}"
                    ),
                ));
            }
            Ok(d.clone())
        }
    }
}

/// Target coordinates of an affine grid: (x, y) of flat position j of an h x w target.
fn affine_dst<C: Real>(h: usize, w: usize, j: usize) -> (C, C) {
    // As MXNet: the step 2 / (size - 1) is formed in double, then rounded to the data type.
    let sx = C::c(2.0 / (w as f64 - 1.0));
    let sy = C::c(2.0 / (h as f64 - 1.0));
    (
        C::c(-1.0) + C::c((j % w) as f64) * sx,
        C::c(-1.0) + C::c((j / w) as f64) * sy,
    )
}

/// GridGenerator forward on slices: `data` (n, 6) or (n, 2, h, w) into `out` (n, 2, h, w).
fn grid_kernel<T: Element, C: Real>(
    t: Transform,
    (n, h, w): (usize, usize, usize),
    data: &[T],
    out: &mut [T],
) {
    let hw = h * w;
    match t {
        Transform::Affine { .. } => {
            for b in 0..n {
                let a: Vec<C> = data[b * 6..b * 6 + 6].iter().map(|&v| C::of(v)).collect();
                for j in 0..hw {
                    let (x, y) = affine_dst::<C>(h, w, j);
                    out[(b * 2) * hw + j] = (a[0] * x + a[1] * y + a[2]).to();
                    out[(b * 2 + 1) * hw + j] = (a[3] * x + a[4] * y + a[5]).to();
                }
            }
        }
        Transform::Warp => {
            let (hx, hy) = (C::c((w as f64 - 1.0) / 2.0), C::c((h as f64 - 1.0) / 2.0));
            for b in 0..n {
                for j in 0..hw {
                    let (ix, iy) = ((b * 2) * hw + j, (b * 2 + 1) * hw + j);
                    let (x, y) = (C::c((j % w) as f64), C::c((j / w) as f64));
                    out[ix] = ((C::of(data[ix]) + x) / hx - C::ONE).to();
                    out[iy] = ((C::of(data[iy]) + y) / hy - C::ONE).to();
                }
            }
        }
    }
}

fn grid_forward(t: Transform, ins: &[NDArray], out: &NDArray) -> Result<()> {
    let d = ins[0].shape();
    let nhw = match t {
        Transform::Affine { h, w } => (d[0], h, w),
        Transform::Warp => (d[0], d[2], d[3]),
    };
    with_real!(GG, ins[0].dtype(), T, C, {
        // SAFETY: inside the op reading ins[0] and writing out, whose shapes infer checked.
        let (x, o) = unsafe { (ins[0].data::<T>(), out.data_mut::<T>()) };
        grid_kernel::<T, C>(t, nhw, x, o);
    });
    Ok(())
}

/// GridGenerator backward: the output gradient (n, 2, h, w) to the input's gradient.
fn grid_backward(t: Transform, dy: &NDArray, dx: &NDArray) -> Result<()> {
    let s = dy.shape();
    let (n, h, w) = (s[0], s[2], s[3]);
    let hw = h * w;
    with_real!(GG, dy.dtype(), T, C, {
        // SAFETY: inside the op reading dy and writing dx.
        let (g, o) = unsafe { (dy.data::<T>(), dx.data_mut::<T>()) };
        match t {
            Transform::Affine { .. } => {
                for b in 0..n {
                    for r in 0..2 {
                        let row = &g[(b * 2 + r) * hw..][..hw];
                        let (mut sx, mut sy, mut s1) = (C::ZERO, C::ZERO, C::ZERO);
                        for (j, &v) in row.iter().enumerate() {
                            let (x, y) = affine_dst::<C>(h, w, j);
                            let v = C::of(v);
                            sx += v * x;
                            sy += v * y;
                            s1 += v;
                        }
                        o[b * 6 + r * 3] = sx.to();
                        o[b * 6 + r * 3 + 1] = sy.to();
                        o[b * 6 + r * 3 + 2] = s1.to();
                    }
                }
            }
            Transform::Warp => {
                let (hx, hy) = (C::c((w as f64 - 1.0) / 2.0), C::c((h as f64 - 1.0) / 2.0));
                for b in 0..n {
                    for j in 0..hw {
                        let (ix, iy) = ((b * 2) * hw + j, (b * 2 + 1) * hw + j);
                        o[ix] = (C::of(g[ix]) / hx).to();
                        o[iy] = (C::of(g[iy]) / hy).to();
                    }
                }
            }
        }
    });
    Ok(())
}

fn grid_backward_op(t: Transform) -> Arc<dyn Operator> {
    const B: &str = "_backward_GridGenerator";
    FnOp::new(
        B,
        move |ins| {
            expect_inputs(B, ins, 1)?;
            let s = &ins[0].shape;
            if s.ndim() != 4 || s[1] != 2 {
                return Err(Error::shape(
                    B,
                    format!("output gradient must be (batch, 2, h, w), got {s}"),
                ));
            }
            let shape = match t {
                Transform::Affine { .. } => Shape::new(vec![s[0], 6]),
                Transform::Warp => s.clone(),
            };
            Ok(vec![Desc::new(shape, ins[0].dtype)])
        },
        move |_, ins, outs| grid_backward(t, &ins[0], &outs[0]),
    )
    .arc()
}

fn grid_op(t: Transform) -> Arc<dyn Operator> {
    FnOp::new(
        GG,
        move |ins| {
            expect_inputs(GG, ins, 1)?;
            super::float(GG, ins[0].dtype)?;
            Ok(vec![Desc::new(
                grid_shape(GG, t, &ins[0].shape)?,
                ins[0].dtype,
            )])
        },
        move |_, ins, outs| grid_forward(t, ins, &outs[0]),
    )
    // MXNet's hidden outputs: GridGenerator's grid_dst, BilinearSampler's tmp,
    // SpatialTransformer's grid_dst and grid_src.
    .with_mxnet_outputs(2)
    .with_grad(move |g, a| {
        let dy = head(GG, a.out_grads)?;
        Ok(vec![Some(
            g.apply(grid_backward_op(t), &[dy]).swap_remove(0),
        )])
    })
    .arc()
}

fn head(op: &str, out_grads: &[Entry]) -> Result<Entry> {
    out_grads
        .first()
        .cloned()
        .ok_or_else(|| Error::Internal(format!("{op} gradient without an output gradient")))
}

/// Where a grid point lands in an ih x iw input: the top-left corner and the weights of the
/// top row and left column.
struct Corner<C> {
    y0: i64,
    x0: i64,
    wy: C,
    wx: C,
}

#[inline]
fn corner<C: Real>(gx: C, gy: C, ih: usize, iw: usize) -> Corner<C> {
    let two = C::c(2.0);
    let y = (gy + C::ONE) * C::c(ih as f64 - 1.0) / two;
    let x = (gx + C::ONE) * C::c(iw as f64 - 1.0) / two;
    // Every corner is bounds-checked before it is read. A NaN coordinate lands outside the
    // input (`as` would make it 0), as MXNet's cast to int does: nothing is read or
    // scattered there.
    let cell = |v: C| match v.f64().floor() {
        f if f.is_nan() => i64::MIN,
        f => f as i64,
    };
    let (y0, x0) = (cell(y), cell(x));
    Corner {
        y0,
        x0,
        wy: C::ONE - (y - C::c(y0 as f64)),
        wx: C::ONE - (x - C::c(x0 as f64)),
    }
}

/// Flat index of (y, x) in an ih x iw plane, or None outside it.
#[inline]
fn at(y: i64, x: i64, ih: usize, iw: usize) -> Option<usize> {
    (y >= 0 && x >= 0 && (y as u64) < ih as u64 && (x as u64) < iw as u64)
        .then(|| y as usize * iw + x as usize)
}

/// The four corners (top-left, top-right, bottom-left, bottom-right) of a sample.
#[inline]
fn corners<C>(c: &Corner<C>, ih: usize, iw: usize) -> [Option<usize>; 4] {
    let (y1, x1) = (c.y0.saturating_add(1), c.x0.saturating_add(1));
    [
        at(c.y0, c.x0, ih, iw),
        at(c.y0, x1, ih, iw),
        at(y1, c.x0, ih, iw),
        at(y1, x1, ih, iw),
    ]
}

/// Sampler geometry: (n, c, ih, iw, oh, ow).
type Geo = (usize, usize, usize, usize, usize, usize);

/// Bilinear sampling on slices: data (n, c, ih, iw), grid (n, 2, oh, ow), out (n, c, oh, ow).
fn sample_kernel<T: Element, C: Real>(g: Geo, data: &[T], grid: &[T], out: Ptr<T>) {
    let (n, c, ih, iw, oh, ow) = g;
    let ohw = oh * ow;
    par_ranges(n * c, ohw * 8, |b, e| {
        for plane in b..e {
            let bi = plane / c;
            let src = &data[plane * ih * iw..][..ih * iw];
            let gr = &grid[bi * 2 * ohw..][..2 * ohw];
            for j in 0..ohw {
                let k = corner::<C>(C::of(gr[j]), C::of(gr[ohw + j]), ih, iw);
                let v = corners(&k, ih, iw).map(|i| i.map_or(C::ZERO, |i| C::of(src[i])));
                let (wy, wx) = (k.wy, k.wx);
                let r = v[0] * wy * wx
                    + v[1] * wy * (C::ONE - wx)
                    + v[2] * (C::ONE - wy) * wx
                    + v[3] * (C::ONE - wy) * (C::ONE - wx);
                // SAFETY: output plane `plane` belongs to this task.
                unsafe { *out.get().add(plane * ohw + j) = r.to() };
            }
        }
    });
}

/// Gradients of bilinear sampling: dy (n, c, oh, ow) into gdata (n, c, ih, iw) and
/// ggrid (n, 2, oh, ow), both overwritten.
fn sample_grad_kernel<T: Element, C: Real>(
    g: Geo,
    dy: &[T],
    data: &[T],
    grid: &[T],
    gdata: Ptr<T>,
    ggrid: Ptr<T>,
) {
    let (n, c, ih, iw, oh, ow) = g;
    let (ohw, ihw) = (oh * ow, ih * iw);
    par_ranges(n, c * ohw * 16, |b, e| {
        let mut acc = vec![C::ZERO; c * ihw];
        for bi in b..e {
            acc.fill(C::ZERO);
            let gr = &grid[bi * 2 * ohw..][..2 * ohw];
            for j in 0..ohw {
                let k = corner::<C>(C::of(gr[j]), C::of(gr[ohw + j]), ih, iw);
                let idx = corners(&k, ih, iw);
                let (wy, wx) = (k.wy, k.wx);
                let w = [
                    wy * wx,
                    wy * (C::ONE - wx),
                    (C::ONE - wy) * wx,
                    (C::ONE - wy) * (C::ONE - wx),
                ];
                let (mut gy, mut gx) = (C::ZERO, C::ZERO);
                for ch in 0..c {
                    let d = C::of(dy[(bi * c + ch) * ohw + j]);
                    let src = &data[(bi * c + ch) * ihw..][..ihw];
                    let mut v = [C::ZERO; 4];
                    for (q, ix) in idx.iter().enumerate() {
                        if let Some(i) = *ix {
                            v[q] = C::of(src[i]);
                            let a = &mut acc[ch * ihw + i];
                            *a = *a + d * w[q];
                        }
                    }
                    // d out / d y = bottom row - top row; d out / d x = right - left.
                    gy = gy + d * ((v[2] - v[0]) * wx + (v[3] - v[1]) * (C::ONE - wx));
                    gx = gx + d * ((v[1] - v[0]) * wy + (v[3] - v[2]) * (C::ONE - wy));
                }
                let (sy, sx) = (C::c((ih as f64 - 1.0) / 2.0), C::c((iw as f64 - 1.0) / 2.0));
                // SAFETY: batch item `bi` of ggrid belongs to this task.
                unsafe {
                    *ggrid.get().add(bi * 2 * ohw + j) = (gx * sx).to();
                    *ggrid.get().add(bi * 2 * ohw + ohw + j) = (gy * sy).to();
                }
            }
            for (i, a) in acc.iter().enumerate() {
                // SAFETY: batch item `bi` of gdata belongs to this task.
                unsafe { *gdata.get().add(bi * c * ihw + i) = a.to() };
            }
        }
    });
}

/// Checks data (n, c, ih, iw) against grid (n, 2, oh, ow); the output shape.
fn sampler_shape(op: &str, d: &Shape, grid: &Shape) -> Result<Shape> {
    if d.ndim() != 4 {
        return Err(Error::shape(
            op,
            format!("data must be 4-D (batch, channel, height, width), got {d}"),
        ));
    }
    if grid.ndim() != 4 || grid[1] != 2 || grid[0] != d[0] || grid[2] == 0 || grid[3] == 0 {
        return Err(Error::shape(
            op,
            format!(
                "grid must be (batch, 2, height, width) with data's batch size and a non-empty \
                 target, got data {d} and grid {grid}"
            ),
        ));
    }
    Ok(Shape::new(vec![d[0], d[1], grid[2], grid[3]]))
}

fn geo(d: &Shape, grid: &Shape) -> Geo {
    (d[0], d[1], d[2], d[3], grid[2], grid[3])
}

fn same_float(op: &str, ins: &[Desc]) -> Result<crate::dtype::DType> {
    let dt = super::float(op, ins[0].dtype)?;
    if let Some(o) = ins.iter().find(|x| x.dtype != dt) {
        return Err(Error::dtype(
            op,
            format!("inputs must share one dtype, got {dt} and {}", o.dtype),
        ));
    }
    Ok(dt)
}

fn sampler_backward_op() -> Arc<dyn Operator> {
    const B: &str = "_backward_BilinearSampler";
    let mut op = FnOp::new(
        B,
        |ins| {
            expect_inputs(B, ins, 3)?;
            let dt = same_float(B, ins)?;
            let os = sampler_shape(B, &ins[1].shape, &ins[2].shape)?;
            if ins[0].shape != os {
                return Err(Error::shape(
                    B,
                    format!("output gradient {} must have shape {os}", ins[0].shape),
                ));
            }
            Ok(vec![
                Desc::new(ins[1].shape.clone(), dt),
                Desc::new(ins[2].shape.clone(), dt),
            ])
        },
        |_, ins, outs| {
            let g = geo(ins[1].shape(), ins[2].shape());
            with_real!(B, ins[0].dtype(), T, C, {
                // SAFETY: inside the op reading ins and writing outs.
                let (dy, d, gr) =
                    unsafe { (ins[0].data::<T>(), ins[1].data::<T>(), ins[2].data::<T>()) };
                // SAFETY: as above, outputs are written.
                let (pd, pg) = unsafe { (outs[0].raw() as *mut T, outs[1].raw() as *mut T) };
                sample_grad_kernel::<T, C>(g, dy, d, gr, Ptr(pd), Ptr(pg));
            });
            Ok(())
        },
    );
    op.num_outputs = 2;
    op.arc()
}

fn sampler_op() -> Arc<dyn Operator> {
    FnOp::new(
        BS,
        |ins| {
            expect_inputs(BS, ins, 2)?;
            let dt = same_float(BS, ins)?;
            Ok(vec![Desc::new(
                sampler_shape(BS, &ins[0].shape, &ins[1].shape)?,
                dt,
            )])
        },
        |_, ins, outs| {
            let g = geo(ins[0].shape(), ins[1].shape());
            with_real!(BS, ins[0].dtype(), T, C, {
                // SAFETY: inside the op reading ins and writing outs[0].
                let (d, gr) = unsafe { (ins[0].data::<T>(), ins[1].data::<T>()) };
                // SAFETY: as above.
                let o = unsafe { outs[0].raw() as *mut T };
                sample_kernel::<T, C>(g, d, gr, Ptr(o));
            });
            Ok(())
        },
    )
    .with_mxnet_outputs(2)
    .with_grad(|g, a| {
        let dy = head(BS, a.out_grads)?;
        let gr = g.apply(
            sampler_backward_op(),
            &[dy, a.inputs[0].clone(), a.inputs[1].clone()],
        );
        Ok(gr.into_iter().map(Some).collect())
    })
    .arc()
}

/// SpatialTransformer's output shape from data (n, c, h, w) and loc (n, 6).
fn st_shape(h: usize, w: usize, d: &Shape, loc: &Shape) -> Result<Shape> {
    if d.ndim() != 4 {
        return Err(Error::shape(
            ST,
            format!("data must be 4-D (batch, channel, height, width), got {d}"),
        ));
    }
    if loc.ndim() != 2 || loc[1] != 6 || loc[0] != d[0] {
        return Err(Error::shape(
            ST,
            format!(
                "loc must be (batch, 6), an affine matrix per sample of data's batch size, got \
                 data {d} and loc {loc}"
            ),
        ));
    }
    Ok(Shape::new(vec![d[0], d[1], h, w]))
}

fn st_op(h: usize, w: usize) -> Arc<dyn Operator> {
    let t = Transform::Affine { h, w };
    FnOp::new(
        ST,
        move |ins| {
            expect_inputs(ST, ins, 2)?;
            let dt = same_float(ST, ins)?;
            Ok(vec![Desc::new(
                st_shape(h, w, &ins[0].shape, &ins[1].shape)?,
                dt,
            )])
        },
        move |_, ins, outs| {
            let ds = ins[0].shape();
            let g = (ds[0], ds[1], ds[2], ds[3], h, w);
            with_real!(ST, ins[0].dtype(), T, C, {
                // SAFETY: inside the op reading ins and writing outs[0].
                let (d, loc) = unsafe { (ins[0].data::<T>(), ins[1].data::<T>()) };
                let mut grid = vec![T::default(); ds[0] * 2 * h * w];
                grid_kernel::<T, C>(t, (ds[0], h, w), loc, &mut grid);
                // SAFETY: as above.
                let o = unsafe { outs[0].raw() as *mut T };
                sample_kernel::<T, C>(g, d, &grid, Ptr(o));
            });
            Ok(())
        },
    )
    .with_mxnet_outputs(3)
    .with_grad(move |g, a| {
        let dy = head(ST, a.out_grads)?;
        let grid = g.apply(grid_op(t), &[a.inputs[1].clone()]).swap_remove(0);
        let mut gr = g.apply(sampler_backward_op(), &[dy, a.inputs[0].clone(), grid]);
        let gloc = g
            .apply(grid_backward_op(t), &[gr.swap_remove(1)])
            .swap_remove(0);
        Ok(vec![Some(gr.swap_remove(0)), Some(gloc)])
    })
    .arc()
}

/// target_shape as (h, w), both positive.
fn target(op: &str, p: &crate::op::Params) -> Result<(usize, usize)> {
    let t = p.ints("target_shape")?;
    match t.as_slice() {
        &[h, w] if h > 0 && w > 0 => Ok((h as usize, w as usize)),
        _ => Err(Error::param(
            op,
            format!("target_shape must be (height, width) with both positive, got {t:?}"),
        )),
    }
}

pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: GG,
        doc: "Generates a 2D sampling grid for bilinear sampling. transform_type='affine': data \
              is (batch, 6), an affine matrix [[a, b, c], [d, e, f]] per sample mapping target \
              coordinates (x, y, 1) normalised to [-1, 1] over target_shape (H, W) to source \
              coordinates; the output is (batch, 2, H, W). transform_type='warp': data is an \
              optical flow (batch, 2, H, W) in pixels; the output is the flow added to each \
              pixel's position, normalised to [-1, 1]."
            .into(),
        params: vec![
            param(
                "transform_type",
                "{'affine', 'warp'}, required",
                None,
                "The type of transformation. For `affine`, input data should be an affine \
                 matrix of size (batch, 6). For `warp`, input data should be an optical flow of \
                 size (batch, 2, h, w).",
            ),
            param(
                "target_shape",
                "Shape(tuple), optional",
                Some("[0,0]"),
                "Specifies the output shape (H, W). This is required if transformation type is \
                 `affine`. If transformation type is `warp`, this parameter is ignored.",
            ),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let t = match p.choice("transform_type", &["affine", "warp"])? {
                "affine" => {
                    let (h, w) = target(GG, p)?;
                    Transform::Affine { h, w }
                }
                _ => Transform::Warp,
            };
            Ok(grid_op(t))
        }),
    });
    r.add(SimpleDef {
        name: BS,
        doc: "Applies bilinear sampling to input feature map. data is NCHW, grid (batch, 2, H', \
              W') holds source (x, y) normalised to [-1, 1] (x = -1 the first column, 1 the \
              last); the output (batch, channel, H', W') interpolates the four neighbouring \
              pixels, those outside the input reading as zero."
            .into(),
        params: vec![param(
            "cudnn_off",
            "boolean or None, optional",
            Some("None"),
            "whether to turn cudnn off",
        )],
        inputs: Inputs::Fixed(&["data", "grid"]),
        create: Box::new(|p| {
            if p.is_set("cudnn_off") {
                p.bool("cudnn_off")?;
            }
            Ok(sampler_op())
        }),
    });
    r.add(SimpleDef {
        name: ST,
        doc: "Applies a spatial transformer to input feature map: GridGenerator (affine, \
              target_shape) on loc (batch, 6), then BilinearSampler of data at that grid."
            .into(),
        params: vec![
            param(
                "target_shape",
                "Shape(tuple), optional",
                Some("[0,0]"),
                "output shape(h, w) of spatial transformer: (y, x)",
            ),
            param(
                "transform_type",
                "{'affine'}, required",
                None,
                "transformation type",
            ),
            param(
                "sampler_type",
                "{'bilinear'}, required",
                None,
                "sampling type",
            ),
            param(
                "cudnn_off",
                "boolean or None, optional",
                Some("None"),
                "whether to turn cudnn off",
            ),
        ],
        inputs: Inputs::Fixed(&["data", "loc"]),
        create: Box::new(|p| {
            p.choice("transform_type", &["affine"])?;
            p.choice("sampler_type", &["bilinear"])?;
            if p.is_set("cudnn_off") {
                p.bool("cudnn_off")?;
            }
            let (h, w) = target(ST, p)?;
            Ok(st_op(h, w))
        }),
    });
}

#[cfg(test)]
mod tests;
