//! Shape queries (`shape_array`, `size_array`) and the region / rearrangement views built on
//! the strided-walk helpers of `shape_ops`: `slice_like`, the legacy `Crop`, `depth_to_space`
//! and `space_to_depth`. The views read each input element at most once, so their gradient
//! is the shared scatter through the same walk (and differentiates again).

use super::params::param;
use super::shape_ops::{def, injective_view_op, istrides, View};
use super::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::cpu::strided::Walk;
use crate::shape::{norm_axis, Shape};
use std::sync::Arc;

/// `shape_array` / `size_array`: int64 metadata of the input, zero gradient (as MXNet).
fn shape_query_op(name: &'static str, size: bool) -> Arc<dyn Operator> {
    let out_len = move |s: &Shape| if size { 1 } else { s.ndim() };
    FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 1)?;
            Ok(vec![Desc::new(
                Shape::new(vec![out_len(&ins[0].shape)]),
                DType::I64,
            )])
        },
        move |_, ins, outs| {
            let s = ins[0].shape();
            let v: Vec<i64> = if size {
                vec![s.size() as i64]
            } else {
                s.dims().iter().map(|&d| d as i64).collect()
            };
            // SAFETY: inside the op writing outs[0], an int64 array of v.len() elements.
            unsafe { outs[0].data_mut::<i64>() }.copy_from_slice(&v);
            Ok(())
        },
    )
    .with_shape_partial(move |ins, outs| {
        if size {
            crate::graph::infer::refine(&mut outs[0], Shape::new(vec![1]));
        } else if let Some(s) = &ins[0] {
            if outs[0].is_none() && s.ndim() > 0 {
                outs[0] = Some(Shape::new(vec![out_len(s)]));
            }
        }
        Ok(())
    })
    .with_type_partial(|_, outs| {
        outs[0] = Some(DType::I64);
        Ok(())
    })
    .with_grad(|g, a| Ok(vec![Some(g.zeros_like(&a.inputs[0])?)]))
    .arc()
}

/// The leading corner of `data` of the given dims.
fn corner(data: &Shape, dims: Vec<usize>, offset: &[usize]) -> View {
    let st = istrides(data);
    let off = offset.iter().zip(&st).map(|(&o, &s)| o as isize * s).sum();
    View {
        out: Shape::new(dims.clone()),
        dims,
        walk: Walk::new(off, st),
    }
}

fn slice_like_view(axes: &[i64], s: &[&Shape]) -> Result<View> {
    const NAME: &str = "slice_like";
    let (data, like) = (s[0], s[1]);
    let mut dims = data.dims().to_vec();
    let set = |ax: usize, dims: &mut Vec<usize>| -> Result<()> {
        if like[ax] > data[ax] {
            return Err(Error::shape(
                NAME,
                format!(
                    "Slice axis {ax} with size {} exceeds limit of input with size {} (data {data}, shape_like {like})",
                    like[ax], data[ax]
                ),
            ));
        }
        dims[ax] = like[ax];
        Ok(())
    };
    if axes.is_empty() {
        if data.ndim() != like.ndim() {
            return Err(Error::shape(
                NAME,
                format!("By default slice_like slices all axes, but data {data} and shape_like {like} differ in ndim"),
            ));
        }
        for ax in 0..data.ndim() {
            set(ax, &mut dims)?;
        }
    } else {
        for &a in axes {
            let ax = norm_axis(a, data.ndim(), NAME)?;
            if ax >= like.ndim() {
                return Err(Error::shape(
                    NAME,
                    format!("Slice axis {a} exceeds shape_like {like}"),
                ));
            }
            set(ax, &mut dims)?;
        }
    }
    Ok(corner(data, dims, &[]))
}

#[derive(Clone, Copy)]
struct CropCfg {
    like: bool,
    offset: (usize, usize),
    h_w: (usize, usize),
    center: bool,
}

fn crop_view(c: CropCfg, s: &[&Shape]) -> Result<View> {
    const NAME: &str = "Crop";
    let data = s[0];
    if data.ndim() != 4 {
        return Err(Error::shape(
            NAME,
            format!("Input data should be 4D in batch-num_filter-y-x, got {data}"),
        ));
    }
    let (h, w) = if c.like {
        let like = s[1];
        if like.ndim() < 4 {
            return Err(Error::shape(
                NAME,
                format!("crop_like (the second input) should be 4D, got {like}"),
            ));
        }
        (like[2], like[3])
    } else {
        c.h_w
    };
    let (dh, dw) = (data[2], data[3]);
    if h < 1 || w < 1 || h > dh || w > dw {
        return Err(Error::shape(
            NAME,
            format!("the crop height and width ({h}, {w}) must be at least 1 and at most the data's ({dh}, {dw}) (data {data})"),
        ));
    }
    let (oy, ox) = if c.center {
        ((dh - h) / 2, (dw - w) / 2)
    } else {
        c.offset
    };
    if oy > dh - h || ox > dw - w {
        return Err(Error::shape(
            NAME,
            format!("offset ({oy}, {ox}) leaves no room for a ({h}, {w}) crop of data {data}"),
        ));
    }
    Ok(corner(data, vec![data[0], data[1], h, w], &[0, 0, oy, ox]))
}

/// Checks 4-D data and a positive block for depth_to_space / space_to_depth.
fn block_dims(name: &str, s: &Shape, b: i64) -> Result<(usize, [usize; 4])> {
    if b < 1 {
        return Err(Error::param(
            name,
            format!("block_size must be a positive integer value, got {b}"),
        ));
    }
    if b.checked_mul(b).is_none() {
        return Err(Error::param(
            name,
            format!("block_size {b} is too large (block_size^2 overflows)"),
        ));
    }
    if s.ndim() != 4 {
        return Err(Error::shape(
            name,
            format!("Operation {name} requires exactly 4D tensor, got {s}"),
        ));
    }
    let d = s.dims();
    Ok((b as usize, [d[0], d[1], d[2], d[3]]))
}

/// (N, C, H, W) -> (N, C/b^2, H b, W b): out[n, c, h b + i, w b + j] = in[n, (i b + j) C/b^2 + c, h, w].
fn depth_to_space_view(b: i64, s: &Shape) -> Result<View> {
    const NAME: &str = "depth_to_space";
    let (b, [n, c, h, w]) = block_dims(NAME, s, b)?;
    if c % (b * b) != 0 {
        return Err(Error::shape(
            NAME,
            format!("Cannot perform Depth To Space on {s}: dimension 1 (depth) must be a multiple of block_size^2 = {}", b * b),
        ));
    }
    let c2 = c / (b * b);
    let hw = (h * w) as isize;
    let (bi, ci) = (b as isize, c2 as isize);
    // Iteration order (n, c, h, i, w, j) is the output's row-major order.
    Ok(View {
        out: Shape::new(vec![n, c2, h * b, w * b]),
        dims: vec![n, c2, h, b, w, b],
        walk: Walk::new(
            0,
            vec![c as isize * hw, hw, w as isize, bi * ci * hw, 1, ci * hw],
        ),
    })
}

/// (N, C, H, W) -> (N, C b^2, H/b, W/b): out[n, (i b + j) C + c, h, w] = in[n, c, h b + i, w b + j].
fn space_to_depth_view(b: i64, s: &Shape) -> Result<View> {
    const NAME: &str = "space_to_depth";
    let (b, [n, c, h, w]) = block_dims(NAME, s, b)?;
    if h % b != 0 || w % b != 0 {
        return Err(Error::shape(
            NAME,
            format!("Cannot perform Space To Depth on {s}: dimensions 2 and 3 (height, width) must be multiples of block_size {b}"),
        ));
    }
    let (hw, wi, bi) = ((h * w) as isize, w as isize, b as isize);
    Ok(View {
        out: Shape::new(vec![n, c * b * b, h / b, w / b]),
        dims: vec![n, b, b, c, h / b, w / b],
        walk: Walk::new(0, vec![c as isize * hw, wi, 1, hw, bi * wi, bi]),
    })
}

pub fn register(r: &mut Registry) {
    let data = Inputs::Fixed(&["data"]);
    r.add(def(
        "shape_array",
        "Returns a 1-D int64 array containing the shape of the data.",
        vec![],
        data,
        |_| Ok(shape_query_op("shape_array", false)),
    ));
    r.add(def(
        "size_array",
        "Returns a 1-D int64 array of one element: the size (number of elements) of the data.",
        vec![],
        data,
        |_| Ok(shape_query_op("size_array", true)),
    ));
    r.add(def(
        "slice_like",
        "Slices `data` like the shape of `shape_like`: each axis in `axes` (every axis when empty, which needs equal ndim) keeps its first shape_like.shape[axis] elements.",
        vec![param(
            "axes",
            "Shape(tuple)",
            Some("()"),
            "List of axes on which input data will be sliced according to the corresponding size of the second input. By default will slice on all axes. Negative axes are supported.",
        )],
        Inputs::Fixed(&["data", "shape_like"]),
        |p| {
            let axes = p.ints("axes")?;
            Ok(injective_view_op("slice_like", 2, move |s| {
                slice_like_view(&axes, s)
            }))
        },
    ));
    r.add(def(
        "Crop",
        "Crops a 2D region (height, width) out of 4D (batch, channel, y, x) data: of size `h_w`, or of the spatial size of the second input when num_args = 2 (crop_like); at `offset` (y, x), or centred with `center_crop`.",
        vec![
            param("num_args", "int", None, "Number of inputs for crop, if equals one, then we will use the h_w for crop height and width, else if equals two, then we will use the height and width of the second input symbol, we name crop_like here"),
            param("offset", "Shape(tuple)", Some("(0,0)"), "crop offset coordinate: (y, x)"),
            param("h_w", "Shape(tuple)", Some("(0,0)"), "crop height and width: (h, w)"),
            param("center_crop", "boolean", Some("0"), "If set to true, then it will use be the center_crop,or it will crop using the shape of crop_like"),
        ],
        Inputs::Variadic { name: "data", count_param: "num_args" },
        |p| {
            let n = p.int("num_args")?;
            if n != 1 && n != 2 {
                return Err(Error::param("Crop", format!("num_args must be 1 or 2, got {n}")));
            }
            let pair = |name: &str| -> Result<(usize, usize)> {
                match p.shape(name)?[..] {
                    [a, b] => Ok((a, b)),
                    ref v => Err(Error::param("Crop", format!("{name} must have 2 entries (y, x), got {v:?}"))),
                }
            };
            let cfg = CropCfg {
                like: n == 2,
                offset: pair("offset")?,
                h_w: pair("h_w")?,
                center: p.bool("center_crop")?,
            };
            Ok(injective_view_op("Crop", n as usize, move |s| crop_view(cfg, s)))
        },
    ));
    let block = || {
        vec![param(
            "block_size",
            "int",
            None,
            "Blocks of [block_size. block_size] are moved",
        )]
    };
    r.add(def(
        "depth_to_space",
        "Rearranges (permutes) data from depth into blocks of spatial data: (N, C, H, W) -> (N, C / block_size^2, H * block_size, W * block_size), as reshape to (N, b, b, C/b^2, H, W), transpose (0, 3, 4, 1, 5, 2) and reshape.",
        block(),
        data,
        |p| {
            let b = p.int("block_size")?;
            Ok(injective_view_op("depth_to_space", 1, move |s| {
                depth_to_space_view(b, s[0])
            }))
        },
    ));
    r.add(def(
        "space_to_depth",
        "Rearranges (permutes) blocks of spatial data into depth, the inverse of depth_to_space: (N, C, H, W) -> (N, C * block_size^2, H / block_size, W / block_size).",
        block(),
        data,
        |p| {
            let b = p.int("block_size")?;
            Ok(injective_view_op("space_to_depth", 1, move |s| {
                space_to_depth_view(b, s[0])
            }))
        },
    ));
}

#[cfg(test)]
mod tests {
    use crate::op::test_util::{arr, check_grad, err, f32s, gather, iota, rand64, run};

    #[test]
    fn shape_and_size_arrays() {
        let x = iota(&[2, 3, 4]);
        let s = run("shape_array", std::slice::from_ref(&x), &[]);
        assert_eq!(s.to_vec::<i64>().unwrap(), [2, 3, 4]);
        let n = run("size_array", &[x], &[]);
        assert_eq!(
            (n.to_vec::<i64>().unwrap(), n.shape().dims().to_vec()),
            (vec![24], vec![1])
        );
    }

    #[test]
    fn slice_like_and_crop_match_mxnet() {
        let x = iota(&[2, 3, 4]);
        let y = run(
            "slice_like",
            &[x.clone(), iota(&[1, 2, 3])],
            &[("axes", "(0, 2)")],
        );
        assert_eq!(y.shape().dims(), [1, 3, 3]);
        assert_eq!(f32s(&y), gather(&f32s(&x), &[1, 3, 3], |i| i[1] * 4 + i[2]));
        let y = run(
            "slice_like",
            &[x.clone(), iota(&[1, 2])],
            &[("axes", "(-2,)")],
        );
        assert_eq!(y.shape().dims(), [2, 2, 4]);
        assert!(err("slice_like", &[x.clone(), iota(&[3, 2, 3])], &[])
            .to_string()
            .contains("exceeds"));
        assert!(err("slice_like", &[x.clone(), iota(&[1, 2])], &[])
            .to_string()
            .contains("ndim"));

        // MXNet 1.9.1: 5x6 planes of 0..29, crop (3, 2).
        let d = iota(&[2, 1, 5, 6]);
        let plane = |a: &crate::ndarray::NDArray| f32s(a)[..6].to_vec();
        let c = run(
            "Crop",
            std::slice::from_ref(&d),
            &[("num_args", "1"), ("h_w", "(3, 2)")],
        );
        assert_eq!(plane(&c), [0.0, 1.0, 6.0, 7.0, 12.0, 13.0]);
        let c = run(
            "Crop",
            std::slice::from_ref(&d),
            &[("num_args", "1"), ("h_w", "(3, 2)"), ("offset", "(1, 2)")],
        );
        assert_eq!(plane(&c), [8.0, 9.0, 14.0, 15.0, 20.0, 21.0]);
        let c = run(
            "Crop",
            &[d.clone(), iota(&[1, 1, 2, 3])],
            &[("num_args", "2"), ("center_crop", "True")],
        );
        assert_eq!(c.shape().dims(), [2, 1, 2, 3]);
        assert_eq!(plane(&c), [7.0, 8.0, 9.0, 13.0, 14.0, 15.0]);
        let e = err(
            "Crop",
            std::slice::from_ref(&d),
            &[("num_args", "1"), ("h_w", "(6, 2)")],
        );
        assert!(
            e.to_string().contains("Crop") && e.to_string().contains("[2,1,5,6]"),
            "{e}"
        );
        assert!(err("Crop", std::slice::from_ref(&d), &[("num_args", "1")])
            .to_string()
            .contains("at least 1"));
        let e = err(
            "Crop",
            &[d],
            &[("num_args", "1"), ("h_w", "(3, 2)"), ("offset", "(3, 0)")],
        );
        assert!(e.to_string().contains("offset"), "{e}");
    }

    #[test]
    fn depth_space_round_trip() {
        let x = iota(&[2, 8, 2, 3]);
        let y = run(
            "depth_to_space",
            std::slice::from_ref(&x),
            &[("block_size", "2")],
        );
        assert_eq!(y.shape().dims(), [2, 2, 4, 6]);
        // out[n, c, 2h + i, 2w + j] = in[n, (2i + j) * 2 + c, h, w]
        let want = gather(&f32s(&x), &[2, 2, 4, 6], |o| {
            let (n, c, hh, ww) = (o[0], o[1], o[2], o[3]);
            let (h, i, w, j) = (hh / 2, hh % 2, ww / 2, ww % 2);
            ((n * 8 + (i * 2 + j) * 2 + c) * 2 + h) * 3 + w
        });
        assert_eq!(f32s(&y), want);
        let back = run("space_to_depth", &[y], &[("block_size", "2")]);
        assert_eq!(f32s(&back), f32s(&x));
        assert!(err(
            "depth_to_space",
            &[iota(&[1, 6, 2, 2])],
            &[("block_size", "2")]
        )
        .to_string()
        .contains("depth_to_space"));
        assert!(err(
            "space_to_depth",
            &[iota(&[1, 2, 3, 4])],
            &[("block_size", "2")]
        )
        .to_string()
        .contains("[1,2,3,4]"));
        assert!(err(
            "depth_to_space",
            &[iota(&[4, 2, 2])],
            &[("block_size", "1")]
        )
        .to_string()
        .contains("4D"));
        assert!(err("space_to_depth", &[x], &[("block_size", "0")])
            .to_string()
            .contains("block_size"));
    }

    #[test]
    fn view_gradients() {
        let x = rand64(&[2, 3, 4, 4], -1.0, 1.0, 41);
        check_grad(
            "depth_to_space",
            &[("block_size", "1")],
            std::slice::from_ref(&x),
            &[0],
        );
        check_grad(
            "space_to_depth",
            &[("block_size", "2")],
            std::slice::from_ref(&x),
            &[0],
        );
        check_grad(
            "depth_to_space",
            &[("block_size", "2")],
            &[rand64(&[1, 8, 2, 3], -1.0, 1.0, 42)],
            &[0],
        );
        check_grad(
            "slice_like",
            &[("axes", "(1, -1)")],
            &[x.clone(), arr(&[1, 2, 1, 3], &[0.0f64; 6])],
            &[0],
        );
        check_grad(
            "Crop",
            &[
                ("num_args", "1"),
                ("h_w", "(2, 3)"),
                ("center_crop", "True"),
            ],
            std::slice::from_ref(&x),
            &[0],
        );
        check_grad("shape_array", &[], &[x], &[0]);
    }
}
