//! The color augmenters: `_image_random_brightness`, `_contrast`, `_saturation`, `_hue`,
//! `_color_jitter`, `_image_adjust_lighting` and `_image_random_lighting`, on (H, W, C) images
//! with C = 1 or 3. Arithmetic is float32 and each result is cast to the data dtype as MXNet
//! does (uint8 clamps to [0, 255] and truncates), also between the stages of color_jitter.
//! Deliberate differences from MXNet 1.9.1: saturation blends with the luma
//! 0.299 R + 0.587 G + 0.114 B (MXNet's loop keeps only the blue term), and hue and lighting
//! copy one-channel images (MXNet leaves the output unwritten).

use super::{check_hwc_gray_or_rgb, rng};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::params::{param, ParamSpec};
use crate::op::random::dists::std_normal;
use crate::op::{expect_inputs, read_f64, write_f64};
use crate::op::{FnOp, Inputs, OpCtx, Operator, Params, Registry, SimpleDef};
use crate::random::Xoshiro;
use std::sync::Arc;

const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

/// AlexNet's PCA lighting: eigenvalue-scaled eigenvectors of ImageNet's RGB covariance, as
/// MXNet hard-codes them.
const EIG: [[f32; 3]; 3] = [
    [55.46 * -0.5675, 4.794 * 0.7192, 1.148 * 0.4009],
    [55.46 * -0.5808, 4.794 * -0.0045, 1.148 * -0.8140],
    [55.46 * -0.5836, 4.794 * -0.6948, 1.148 * 0.4203],
];

/// `v` stored into `dtype` and read back (MXNet's saturate_cast from float).
fn store(dtype: DType, v: f32) -> f32 {
    match dtype {
        DType::U8 => v.clamp(0.0, 255.0).trunc(),
        DType::F32 | DType::F64 => v,
        DType::F16 => half::f16::from_f32(v).to_f32(),
        DType::BF16 => half::bf16::from_f32(v).to_f32(),
        DType::I8 => v.clamp(-128.0, 127.0).trunc(),
        _ => v.trunc(),
    }
}

/// One image as float32 pixels with its channel count and dtype.
struct Img {
    x: Vec<f32>,
    c: usize,
    dtype: DType,
}

impl Img {
    fn store_all(&mut self) {
        let t = self.dtype;
        self.x.iter_mut().for_each(|v| *v = store(t, *v));
    }

    fn brightness(&mut self, a: f32) {
        self.x.iter_mut().for_each(|v| *v *= a);
        self.store_all();
    }

    fn contrast(&mut self, a: f32) {
        let pixels = self.x.len() / self.c;
        let sum: f64 = if self.c == 3 {
            self.x
                .chunks_exact(3)
                .map(|p| (0..3).map(|k| (p[k] * LUMA[k]) as f64).sum::<f64>())
                .sum()
        } else {
            self.x.iter().map(|&v| v as f64).sum()
        };
        let beta = (1.0 - a) * (sum as f32 / pixels as f32);
        self.x.iter_mut().for_each(|v| *v = *v * a + beta);
        self.store_all();
    }

    fn saturation(&mut self, a: f32) {
        if self.c == 3 {
            for p in self.x.chunks_exact_mut(3) {
                let gray = (p[0] * LUMA[0] + p[1] * LUMA[1] + p[2] * LUMA[2]) * (1.0 - a);
                p.iter_mut().for_each(|v| *v = gray + *v * a);
            }
        }
        self.store_all();
    }

    fn hue(&mut self, alpha: f32) {
        if self.c == 3 {
            for p in self.x.chunks_exact_mut(3) {
                let (h, l, s) = rgb_to_hls(p[0], p[1], p[2]);
                let (r, g, b) = hls_to_rgb(h + alpha * 360.0, l, s);
                (p[0], p[1], p[2]) = (r, g, b);
            }
        }
        self.store_all();
    }

    fn lighting(&mut self, alpha: [f32; 3]) {
        if self.c == 3 {
            let pca: Vec<f32> = EIG
                .iter()
                .map(|e| e[0] * alpha[0] + e[1] * alpha[1] + e[2] * alpha[2])
                .collect();
            for p in self.x.chunks_exact_mut(3) {
                (0..3).for_each(|k| p[k] += pca[k]);
            }
        }
        self.store_all();
    }
}

/// RGB in [0, 255] to (hue in degrees, lightness, saturation) in [0, 1], OpenCV's formulas.
fn rgb_to_hls(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let (r, g, b) = (r / 255.0, g / 255.0, b / 255.0);
    let vmax = r.max(g).max(b);
    let vmin = r.min(g).min(b);
    let diff = vmax - vmin;
    let l = (vmax + vmin) * 0.5;
    if diff <= f32::EPSILON {
        return (0.0, l, 0.0);
    }
    let s = if l < 0.5 {
        diff / (vmax + vmin)
    } else {
        diff / (2.0 - vmax - vmin)
    };
    let k = 60.0 / diff;
    let mut h = if vmax == r {
        (g - b) * k
    } else if vmax == g {
        (b - r) * k + 120.0
    } else {
        (r - g) * k + 240.0
    };
    if h < 0.0 {
        h += 360.0;
    }
    (h, l, s)
}

/// The inverse of `rgb_to_hls`, back to [0, 255].
fn hls_to_rgb(h: f32, l: f32, s: f32) -> (f32, f32, f32) {
    if s == 0.0 {
        return (l * 255.0, l * 255.0, l * 255.0);
    }
    // Table index of (b, g, r) per 60-degree sector, over [p2, p1, falling, rising].
    const SECTOR: [[usize; 3]; 6] = [
        [1, 3, 0],
        [1, 0, 2],
        [3, 0, 1],
        [0, 2, 1],
        [0, 1, 3],
        [2, 1, 0],
    ];
    let p2 = if l <= 0.5 {
        l * (1.0 + s)
    } else {
        l + s - l * s
    };
    let p1 = 2.0 * l - p2;
    let h = (h / 60.0).rem_euclid(6.0);
    let sector = (h as usize).min(5);
    let f = h - sector as f32;
    let tab = [p2, p1, p1 + (p2 - p1) * (1.0 - f), p1 + (p2 - p1) * f];
    let [bi, gi, ri] = SECTOR[sector];
    (tab[ri] * 255.0, tab[gi] * 255.0, tab[bi] * 255.0)
}

/// Uniform float32 in [lo, hi) as std::uniform_real_distribution<float> draws it.
fn uniform(rng: &mut Xoshiro, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.next_f64() as f32
}

type Apply = dyn Fn(&OpCtx, &mut Img) + Send + Sync;

/// An augmenter op: shape rule of MXNet's image augmenters, `f` on the pixels, and MXNet's
/// gradient (the head gradient passed through unchanged).
fn aug_op(name: &'static str, random: bool, f: Arc<Apply>) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 1)?;
            check_hwc_gray_or_rgb(name, &ins[0])?;
            Ok(vec![ins[0].clone()])
        },
        move |cx, ins, outs| {
            let mut img = Img {
                x: read_f64(&ins[0]).into_iter().map(|v| v as f32).collect(),
                c: ins[0].shape()[2],
                dtype: ins[0].dtype(),
            };
            f(cx, &mut img);
            let y: Vec<f64> = img.x.iter().map(|&v| v as f64).collect();
            write_f64(&outs[0], &y);
            Ok(())
        },
    );
    op.rng = random;
    op.inplace = true;
    op.shape_partial = Some(Box::new(crate::graph::infer::same_shape_partial));
    op.with_grad(|_, a| Ok(vec![Some(a.out_grads[0].clone())]))
        .arc()
}

const ENHANCE: [ParamSpec; 2] = [
    param("min_factor", "float", None, "Minimum factor."),
    param("max_factor", "float", None, "Maximum factor."),
];

/// (min_factor, max_factor), both >= 0 as MXNet's parameter bounds require.
fn factors(name: &str, p: &Params) -> Result<(f32, f32)> {
    let (lo, hi) = (p.float("min_factor")?, p.float("max_factor")?);
    for (k, v) in [("min_factor", lo), ("max_factor", hi)] {
        if v.is_nan() || v < 0.0 {
            return Err(Error::param(
                name,
                format!("value {v} for Parameter {k} should be greater equal to 0"),
            ));
        }
    }
    Ok((lo as f32, hi as f32))
}

fn enhance(r: &mut Registry, name: &'static str, doc: &str, f: fn(&mut Img, f32)) {
    r.add(SimpleDef {
        name,
        doc: doc.into(),
        params: ENHANCE.to_vec(),
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(move |p| {
            let (lo, hi) = factors(name, p)?;
            let apply: Arc<Apply> = Arc::new(move |cx: &OpCtx, img: &mut Img| {
                f(img, uniform(&mut rng(cx.seed), lo, hi))
            });
            Ok(aug_op(name, true, apply))
        }),
    });
}

fn jitter(r: &mut Registry) {
    const OP: &str = "_image_random_color_jitter";
    r.add(SimpleDef {
        name: OP,
        doc: "Randomly jitters brightness, contrast, saturation and hue, in a random order, of an (H x W x C) image: factors 1 + U(-brightness, brightness) (likewise contrast and saturation) and a hue rotation of U(-hue, hue) turns; a non-positive amount skips its stage.".into(),
        params: vec![
            param("brightness", "float", None, "How much to jitter brightness."),
            param("contrast", "float", None, "How much to jitter contrast."),
            param("saturation", "float", None, "How much to jitter saturation."),
            param("hue", "float", None, "How much to jitter hue."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let amounts = [
                p.float("brightness")? as f32,
                p.float("contrast")? as f32,
                p.float("saturation")? as f32,
                p.float("hue")? as f32,
            ];
            let apply: Arc<Apply> = Arc::new(move |cx: &OpCtx, img: &mut Img| {
                let mut g = rng(cx.seed);
                let mut order = [0usize, 1, 2, 3];
                for i in (1..4).rev() {
                    order.swap(i, (g.next_u64() % (i as u64 + 1)) as usize);
                }
                for k in order {
                    let a = amounts[k];
                    if a <= 0.0 {
                        continue;
                    }
                    let d = uniform(&mut g, -a, a);
                    match k {
                        0 => img.brightness(1.0 + d),
                        1 => img.contrast(1.0 + d),
                        2 => img.saturation(1.0 + d),
                        _ => img.hue(d),
                    }
                }
            });
            Ok(aug_op(OP, true, apply))
        }),
    });
}

fn lighting(r: &mut Registry) {
    const ADJ: &str = "_image_adjust_lighting";
    const RND: &str = "_image_random_lighting";
    r.add(SimpleDef {
        name: ADJ,
        doc: "Adjust the lighting level of the input. Follow the AlexNet style: adds eig · alpha to each RGB pixel, eig being ImageNet's eigenvalue-scaled RGB eigenvectors.".into(),
        params: vec![param("alpha", "tuple of <float>", None, "The lighting alphas for the R, G, B channels.")],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let a = p.floats("alpha")?;
            let [a0, a1, a2] = a.as_slice() else {
                return Err(Error::param(ADJ, format!("alpha must have 3 values (R, G, B), got {a:?}")));
            };
            let alpha = [*a0 as f32, *a1 as f32, *a2 as f32];
            Ok(aug_op(ADJ, false, Arc::new(move |_: &OpCtx, img: &mut Img| img.lighting(alpha))))
        }),
    });
    r.add(SimpleDef {
        name: RND,
        doc: "Randomly add PCA noise. Follow the AlexNet style: adjust_lighting with alpha drawn from N(0, alpha_std) for each of R, G, B.".into(),
        params: vec![param("alpha_std", "float", Some("0.05"), "Level of the lighting noise.")],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let sd = p.float("alpha_std")?;
            if sd.is_nan() || sd < 0.0 {
                return Err(Error::param(RND, format!("alpha_std must be >= 0, got {sd}")));
            }
            Ok(aug_op(RND, true, Arc::new(move |cx: &OpCtx, img: &mut Img| {
                let mut g = rng(cx.seed);
                let mut draw = || (sd * std_normal(&mut g)) as f32;
                let alpha = [draw(), draw(), draw()];
                img.lighting(alpha)
            })))
        }),
    });
}

pub fn register(r: &mut Registry) {
    enhance(r, "_image_random_brightness", "Multiplies an (H x W x C) image by a factor drawn uniformly from [min_factor, max_factor).", Img::brightness);
    enhance(r, "_image_random_contrast", "Blends an (H x W x C) image with its mean gray level (luma 0.299 R + 0.587 G + 0.114 B): out = x * a + (1 - a) * mean, a drawn uniformly from [min_factor, max_factor).", Img::contrast);
    enhance(r, "_image_random_saturation", "Blends each pixel of an (H x W x 3) image with its gray level (luma): out = x * a + (1 - a) * gray, a drawn uniformly from [min_factor, max_factor); gray images are copied.", Img::saturation);
    enhance(r, "_image_random_hue", "Rotates the hue of an (H x W x 3) image (in HLS space) by a * 360 degrees, a drawn uniformly from [min_factor, max_factor); gray images are copied.", Img::hue);
    jitter(r);
    lighting(r);
}
