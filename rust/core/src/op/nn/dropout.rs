//! `Dropout`: in training (or with `mode='always'`) each mask element keeps its input with
//! probability 1 - p, scaled by 1/(1 - p); `axes` share one mask element along those axes
//! (variational dropout). The mask is a hidden second output the gradient multiplies by.

use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::elemwise::{binary, fill, unary};
use crate::kernels::cpu::norm::{with_real, Real};
use crate::kernels::cpu::Ptr;
use crate::op::params::param;
use crate::op::random::fill_draws;
#[cfg(any(feature = "cuda", test))]
use crate::op::random::BLOCK;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::random::below_threshold;
use crate::shape::{norm_axis, Shape};
use std::sync::Arc;

fn mask_shape(data: &Shape, axes: &[i64]) -> Result<Shape> {
    let mut d = data.dims().to_vec();
    for &a in axes {
        let ax = norm_axis(a, d.len(), "Dropout")?;
        d[ax] = 1;
    }
    Ok(Shape::new(d))
}

fn dropout(p: f64, always: bool, axes: Vec<i64>) -> Arc<dyn Operator> {
    let name = "Dropout";
    let axes2 = axes.clone();
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 1)?;
            let d = &ins[0];
            if !d.dtype.is_float() {
                return Err(Error::dtype(
                    name,
                    format!("expects float16, float32 or float64 data, got {}", d.dtype),
                ));
            }
            let m = mask_shape(&d.shape, &axes)?;
            Ok(vec![d.clone(), Desc::new(m, d.dtype)])
        },
        move |cx, ins, outs| {
            let (x, y, mask) = (&ins[0], &outs[0], &outs[1]);
            let active = (cx.is_train || always) && p > 0.0;
            with_real!(name, x.dtype(), T, C, {
                if !active {
                    fill::<T>(mask, T::from_f64(1.0));
                    unary::<T, T>(x, y, |v| v);
                } else {
                    let keep = 1.0 - p;
                    let scale = if keep > 0.0 { 1.0 / keep } else { 0.0 };
                    let (on, below) = (T::from_f64(scale), below_threshold(keep));
                    // SAFETY: inside the op writing the mask (fresh).
                    let pm = unsafe { Ptr(mask.raw() as *mut T) };
                    let off = T::default();
                    fill_draws(pm, mask.size(), cx.seed, move |r| {
                        if (r >> 11) < below {
                            on
                        } else {
                            off
                        }
                    });
                    binary::<T>(x, mask, y, |a, m| (C::of(a) * C::of(m)).to());
                }
            });
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let bwd = backward_op(axes2.clone());
        let dx = g.apply(bwd, &[a.out_grads[0].clone(), a.outputs[1].clone()]);
        Ok(vec![dx.into_iter().next()])
    });
    #[cfg(feature = "cuda")]
    {
        op = op.with_cuda(Some(cuda::forward(p, always)));
    }
    op.num_outputs = 2;
    op.visible_outputs = Some(1);
    op.output_names = Some(vec!["output".into(), "mask".into()]);
    op.rng = true;
    op.arc()
}

/// `_backward_Dropout(dy, mask)` = dy · mask. Linear in dy, so its own gradient is the same
/// op on the incoming gradient (higher-order autograd); the mask gets none.
fn backward_op(axes: Vec<i64>) -> Arc<dyn Operator> {
    let bname = "_backward_Dropout";
    let axes2 = axes.clone();
    let op = FnOp::new(
        bname,
        move |ins| {
            let m = mask_shape(&ins[0].shape, &axes)?;
            if m != ins[1].shape {
                return Err(Error::shape(
                    bname,
                    format!("mask has shape {}, expected {m}", ins[1].shape),
                ));
            }
            Ok(vec![ins[0].clone()])
        },
        |_, ins, outs| {
            with_real!(bname, ins[0].dtype(), T, C, {
                binary::<T>(&ins[0], &ins[1], &outs[0], |g, m| {
                    (C::of(g) * C::of(m)).to()
                });
            });
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let d = g.apply(
            backward_op(axes2.clone()),
            &[a.out_grads[0].clone(), a.inputs[1].clone()],
        );
        Ok(vec![d.into_iter().next(), None])
    });
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::times_mask()));
    op.arc()
}

#[cfg(feature = "cuda")]
pub const CUDA_MODULE: &str = "dropout";

/// The mask kernel draws the CPU kernel's stream: one xoshiro256++ generator per block of
/// `BLOCK` elements seeded as `Xoshiro::new(seed, block)`, so a GPU mask equals the CPU's for
/// the same seed.
#[cfg(feature = "cuda")]
pub fn cuda_source() -> String {
    use crate::kernels::cuda::{kernel_name, module_source, storage_type};
    let shared = r#"
__device__ __forceinline__ u64 ox_rotl(u64 x, int k) { return (x << k) | (x >> (64 - k)); }
__device__ __forceinline__ u64 ox_splitmix(u64* x) {
  *x += 0x9E3779B97F4A7C15ULL;
  u64 z = *x;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
"#;
    module_source(shared, |dt| {
        let s = storage_type(dt);
        format!(
            r#"
extern "C" __global__ void {mask}({s}* m, u64 n, u64 seed, double keep, double scale) {{
  const {s} on = IO<{s}>::st((IO<{s}>::C)scale), off = IO<{s}>::st((IO<{s}>::C)0);
  OX_LOOP(blk, (n + {block} - 1) / {block}) {{
    u64 x = seed ^ (blk * 0xD1B54A32D192ED03ULL);
    u64 s0 = ox_splitmix(&x), s1 = ox_splitmix(&x), s2 = ox_splitmix(&x), s3 = ox_splitmix(&x);
    const u64 end = (blk + 1) * {block} < n ? (blk + 1) * {block} : n;
    for (u64 i = blk * {block}; i < end; ++i) {{
      const u64 r = ox_rotl(s0 + s3, 23) + s0;
      const u64 t = s1 << 17;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = ox_rotl(s3, 45);
      const double u = (double)(r >> 11) * (1.0 / 9007199254740992.0);
      m[i] = u < keep ? on : off;
    }}
  }}
}}
"#,
            mask = kernel_name("dropout_mask", dt),
            block = BLOCK,
        )
    })
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::{cuda_source, BLOCK, CUDA_MODULE};
    use crate::kernels::cuda::{dptr, run_broadcast, run_kernel, Arg, CudaFn, FLOATS};
    use crate::op::elemwise_binary;

    /// y = x · mask with the mask broadcast over `axes` (the product kernel of `broadcast_mul`).
    fn times(
        dev: &crate::kernels::cuda::device::Device,
        x: &crate::ndarray::NDArray,
        m: &crate::ndarray::NDArray,
        y: &crate::ndarray::NDArray,
    ) -> crate::error::Result<bool> {
        let (module, source) = (elemwise_binary::CUDA_MODULE, elemwise_binary::cuda_source);
        run_broadcast(dev, module, source, "bcast_mul", x, m, y)
    }

    pub fn forward(p: f64, always: bool) -> CudaFn {
        Box::new(move |dev, cx, ins, outs| {
            let (x, y, mask) = (&ins[0], &outs[0], &outs[1]);
            let dt = x.dtype();
            if !FLOATS.contains(&dt) {
                return Ok(false);
            }
            let active = (cx.is_train || always) && p > 0.0;
            // Inactive: a mask of ones (every draw is below 2) and y = x · 1 = x.
            let (keep, scale) = if active {
                let keep = 1.0 - p;
                (keep, if keep > 0.0 { 1.0 / keep } else { 0.0 })
            } else {
                (2.0, 1.0)
            };
            let n = mask.size();
            let args = [
                Arg::U(dptr(mask)),
                Arg::U(n as u64),
                Arg::U(cx.seed),
                Arg::F(keep),
                Arg::F(scale),
            ];
            run_kernel(
                dev,
                CUDA_MODULE,
                cuda_source,
                "dropout_mask",
                dt,
                n.div_ceil(BLOCK),
                &args,
            )?;
            times(dev, x, mask, y)
        })
    }

    /// `_backward_Dropout`: dy · mask.
    pub fn times_mask() -> CudaFn {
        Box::new(|dev, _, ins, outs| {
            if !FLOATS.contains(&ins[0].dtype()) {
                return Ok(false);
            }
            times(dev, &ins[0], &ins[1], &outs[0])
        })
    }
}

pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: "Dropout",
        doc: "Applies dropout operation to input array.\n\n- During training, each element of the input is set to zero with probability p. The whole array is rescaled by 1/(1-p) to keep the expected sum of the input unchanged.\n- During testing, this operator does not change the input if mode is 'training'. If mode is 'always', the same computation as during training will be applied.".into(),
        params: vec![
            param("p", "float, optional", Some("0.5"), "Fraction of the input that gets dropped out during training time."),
            param("mode", "{'always', 'training'},optional", Some("'training'"), "Whether to only turn on dropout during training or to also turn on for inference."),
            param("axes", "Shape(tuple), optional", Some("[]"), "Axes for variational dropout kernel."),
            param("cudnn_off", "boolean or None, optional", Some("0"), "Whether to turn off cudnn in dropout operator. This option is ignored if axes is specified."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let prob = p.float("p")?;
            if !(0.0..=1.0).contains(&prob) {
                return Err(Error::param("Dropout", format!("p must be in [0, 1], got {prob}")));
            }
            let always = p.choice("mode", &["always", "training"])? == "always";
            Ok(dropout(prob, always, p.ints("axes")?))
        }),
    });
}

#[cfg(test)]
mod tests {
    use crate::autograd;
    use crate::op::call_str;
    use crate::op::nn::loss::op_grads;
    use crate::op::test_util::{arr, err, f32s, run};

    #[test]
    fn dropout_predict_is_identity() {
        let x = arr(&[3, 4], &(0..12).map(|i| i as f32).collect::<Vec<_>>());
        assert_eq!(
            f32s(&run("Dropout", std::slice::from_ref(&x), &[])),
            f32s(&x)
        );
        let g = op_grads(
            "Dropout",
            &[],
            std::slice::from_ref(&x),
            Some(&[arr(&[3, 4], &[2.0f32; 12])]),
            false,
        );
        assert_eq!(f32s(g[0].as_ref().unwrap()), [2.0; 12]);
    }

    /// The mask of seed s is the stream of `Xoshiro::new(s, block)` per 4096 elements: the GPU
    /// kernel draws the same (tests/python/test_cuda_kernels_host.py checks it on that stream).
    #[test]
    fn mask_is_the_seeded_block_stream() {
        use crate::ndarray::NDArray;
        use crate::op::{registry, OpCtx};
        use crate::random::Xoshiro;
        // Whole blocks (drawn four streams at a time) and a partial one.
        let blocks = 40;
        let n = blocks * super::BLOCK + 1000;
        let x = arr(&[n], &vec![1.0f32; n]);
        let attrs = [("p".to_string(), "0.3".to_string())];
        let op = registry().get("Dropout").unwrap().create(&attrs).unwrap();
        let outs: Vec<NDArray> = (0..2)
            .map(|_| {
                NDArray::empty(
                    crate::shape::Shape::new(vec![n]),
                    crate::DType::F32,
                    x.ctx(),
                )
                .unwrap()
            })
            .collect();
        let seed = 0x1234_5678_9ABC_DEF0;
        op.forward(
            &OpCtx {
                seed,
                is_train: true,
            },
            std::slice::from_ref(&x),
            &outs,
        )
        .unwrap();
        let mut want = Vec::with_capacity(n);
        for blk in 0..=blocks {
            let len = if blk < blocks { super::BLOCK } else { 1000 };
            let mut g = Xoshiro::new(seed, blk as u64);
            want.extend((0..len).map(|_| {
                if g.next_f64() < 0.7 {
                    1.0f32 / 0.7
                } else {
                    0.0
                }
            }));
        }
        assert_eq!(f32s(&outs[1]), want);
    }

    #[test]
    fn dropout_training_drops_and_scales() {
        let n = 20_000;
        let x = arr(&[n], &vec![1.0f32; n]);
        let prev = autograd::set_training(true);
        let o = call_str("Dropout", std::slice::from_ref(&x), &[("p", "0.25")]).unwrap();
        let o2 = call_str("Dropout", std::slice::from_ref(&x), &[("p", "0.25")]).unwrap();
        autograd::set_training(prev);
        let (y, m) = (f32s(&o[0]), f32s(&o[1]));
        let s = 1.0 / 0.75;
        assert!(y.iter().all(|&v| v == 0.0 || (v - s).abs() < 1e-6));
        assert_eq!(y, m);
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
        assert!((kept - 0.75).abs() < 0.02, "{kept}");
        assert_ne!(y, f32s(&o2[0]), "each call draws a new mask");
        // mode='always' drops in prediction too; p=0 and p=1 are the edges.
        let y = f32s(&run(
            "Dropout",
            std::slice::from_ref(&x),
            &[("mode", "always")],
        ));
        assert!(y.contains(&0.0) && y.contains(&2.0));
        let prev = autograd::set_training(true);
        let y0 = f32s(&run("Dropout", std::slice::from_ref(&x), &[("p", "0")]));
        let y1 = f32s(&run("Dropout", std::slice::from_ref(&x), &[("p", "1")]));
        autograd::set_training(prev);
        assert!(y0.iter().all(|&v| v == 1.0) && y1.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn dropout_gradient_is_mask_times_head() {
        let x = arr(
            &[4, 5],
            &(0..20).map(|i| i as f32 + 1.0).collect::<Vec<_>>(),
        );
        let head = arr(
            &[4, 5],
            &(0..20).map(|i| (i % 3) as f32 + 0.5).collect::<Vec<_>>(),
        );
        let prev = autograd::set_training(true);
        // Forward and gradient from one recorded forward: dx = head * y / x.
        let op = crate::op::registry()
            .get("Dropout")
            .unwrap()
            .create(&[])
            .unwrap();
        let fwd = crate::op::invoke(&op, std::slice::from_ref(&x), None, None).unwrap();
        autograd::set_training(prev);
        let leaf = crate::graph::Node::leaf(x.clone(), None).entry(0);
        let node =
            crate::graph::Node::from_op(op, "d", vec![], vec![leaf.clone()], Some(fwd.clone()));
        let hg = crate::graph::Node::leaf(head.clone(), None).entry(0);
        let g = crate::graph::gradient(&[node.entry(0)], &[Some(hg)], &[leaf]).unwrap();
        let dx = crate::graph::eval::evaluate(&[g[0].clone().unwrap()], true).unwrap();
        let (y, xs, h, d) = (f32s(&fwd[0]), f32s(&x), f32s(&head), f32s(&dx[0]));
        for i in 0..20 {
            assert!((d[i] - h[i] * y[i] / xs[i]).abs() < 1e-5);
        }
    }

    #[test]
    fn dropout_axes_share_mask() {
        let x = arr(&[4, 300], &vec![1.0f32; 1200]);
        let prev = autograd::set_training(true);
        let o = call_str("Dropout", &[x], &[("axes", "(1,)")]).unwrap();
        autograd::set_training(prev);
        assert_eq!(o[1].shape().dims(), &[4, 1]);
        let (y, m) = (f32s(&o[0]), f32s(&o[1]));
        for r in 0..4 {
            assert!(y[r * 300..(r + 1) * 300].iter().all(|&v| v == m[r]));
        }
    }

    #[test]
    fn dropout_errors() {
        let x = arr(&[2], &[1.0f32, 2.0]);
        assert!(err("Dropout", std::slice::from_ref(&x), &[("p", "1.5")])
            .to_string()
            .contains("p must be"));
        assert!(
            err("Dropout", std::slice::from_ref(&x), &[("axes", "(3,)")])
                .to_string()
                .contains("axis")
        );
        assert!(err("Dropout", &[arr(&[2], &[1i32, 2])], &[])
            .to_string()
            .contains("float"));
        let op = crate::op::registry()
            .get("Dropout")
            .unwrap()
            .create(&[])
            .unwrap();
        assert_eq!(
            (op.num_outputs(), op.num_visible_outputs(), op.uses_rng()),
            (2, 1, true)
        );
    }
}
