//! `UpSampling` with `sample_type='nearest'`: each NCHW input is repeated over square blocks up
//! to `scale` times the first input's size, then the results are concatenated along channels
//! (or summed). Its gradient sums each block back. `sample_type='bilinear'` is MXNet's grouped
//! Deconvolution with a learned weight, inputs `data, weight`.

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::shape_ops::def;
use crate::op::{Desc, FnOp, Inputs, Operator, Registry};
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "UpSampling";

#[derive(Debug, Clone, Copy)]
struct Cfg {
    scale: usize,
    sum: bool,
    num_args: usize,
}

/// Output shape and each input's (channel offset, scale).
fn plan(cfg: Cfg, op: &str, shapes: &[&Shape]) -> Result<(Shape, Vec<(usize, usize)>)> {
    if shapes.len() != cfg.num_args {
        return Err(Error::Value(format!(
            "operator {op} takes num_args={} inputs, {} given",
            cfg.num_args,
            shapes.len()
        )));
    }
    for s in shapes {
        if s.ndim() != 4 {
            return Err(Error::shape(
                op,
                format!("UpSamplingNearest only supports 4-D (NCHW) inputs, got shape {s}"),
            ));
        }
    }
    let first = shapes[0];
    let (oh, ow) = (first[2] * cfg.scale, first[3] * cfg.scale);
    let mut chans = 0;
    let mut plan = Vec::with_capacity(shapes.len());
    for s in shapes {
        if s[0] != first[0] {
            return Err(Error::shape(
                op,
                format!("inputs must share the batch size: {first} and {s}"),
            ));
        }
        if s[2] == 0 || s[3] == 0 || oh % s[2] != 0 || ow % s[3] != 0 || oh / s[2] != ow / s[3] {
            return Err(Error::shape(
                op,
                format!(
                    "input {s} does not divide the output size ({oh}, {ow}) by one integer scale"
                ),
            ));
        }
        if cfg.sum && s[1] != first[1] {
            return Err(Error::shape(
                op,
                format!("multi_input_mode='sum' needs equal channel counts: {first} and {s}"),
            ));
        }
        plan.push((if cfg.sum { 0 } else { chans }, oh / s[2]));
        chans += s[1];
    }
    let c = if cfg.sum { first[1] } else { chans };
    Ok((Shape(vec![first[0], c, oh, ow]), plan))
}

fn forward_t<T: Element>(cfg: Cfg, ins: &[NDArray], out: &NDArray) -> Result<()> {
    let shapes: Vec<&Shape> = ins.iter().map(|a| a.shape()).collect();
    let (os, plan) = plan(cfg, OP, &shapes)?;
    let (n, c, oh, ow) = (os[0], os[1], os[2], os[3]);
    // SAFETY: inside the op writing `out`.
    let op = Ptr(unsafe { out.raw() } as *mut T);
    let srcs: Vec<&[T]> = ins
        .iter()
        // SAFETY: inside the op reading every input.
        .map(|a| unsafe { a.data::<T>() })
        .collect();
    par_ranges(n * c, oh * ow * ins.len(), |b, e| {
        for plane in b..e {
            let (ni, ch) = (plane / c, plane % c);
            // SAFETY: output plane `plane` belongs to this task.
            let dst =
                unsafe { std::slice::from_raw_parts_mut(op.get().add(plane * oh * ow), oh * ow) };
            let mut first = true;
            for (k, &(off, s)) in plan.iter().enumerate() {
                let (ic, ih, iw) = (shapes[k][1], shapes[k][2], shapes[k][3]);
                if ch < off || ch >= off + ic {
                    continue;
                }
                let src = &srcs[k][((ni * ic + ch - off) * ih) * iw..][..ih * iw];
                for y in 0..oh {
                    let srow = &src[(y / s) * iw..][..iw];
                    let drow = &mut dst[y * ow..][..ow];
                    for (x, d) in drow.iter_mut().enumerate() {
                        let v = srow[x / s];
                        *d = if first {
                            v
                        } else {
                            T::from_f64(d.to_f64() + v.to_f64())
                        };
                    }
                }
                first = false;
            }
        }
    });
    Ok(())
}

/// Inputs dY then the forward inputs (for their shapes); one gradient per forward input.
fn backward_t<T: Element>(cfg: Cfg, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let shapes: Vec<&Shape> = ins[1..].iter().map(|a| a.shape()).collect();
    let (os, plan) = plan(cfg, OP, &shapes)?;
    let (c, oh, ow) = (os[1], os[2], os[3]);
    // SAFETY: reads dY, writes the fresh gradient outputs, shapes checked by the backward infer.
    let dy = unsafe { ins[0].data::<T>() };
    for (k, &(off, s)) in plan.iter().enumerate() {
        let (n, ic, ih, iw) = (shapes[k][0], shapes[k][1], shapes[k][2], shapes[k][3]);
        // SAFETY: inside the op writing gradient k.
        let dp = Ptr(unsafe { outs[k].raw() } as *mut T);
        par_ranges(n * ic, ih * iw * s * s, |b, e| {
            let mut acc = vec![0.0f64; ih * iw];
            for plane in b..e {
                let (ni, ch) = (plane / ic, plane % ic);
                let src = &dy[((ni * c + off + ch) * oh) * ow..][..oh * ow];
                acc.fill(0.0);
                for y in 0..oh {
                    let arow = &mut acc[(y / s) * iw..][..iw];
                    for (x, v) in src[y * ow..][..ow].iter().enumerate() {
                        arow[x / s] += v.to_f64();
                    }
                }
                // SAFETY: plane `plane` of gradient k belongs to this task.
                let dst = unsafe {
                    std::slice::from_raw_parts_mut(dp.get().add(plane * ih * iw), ih * iw)
                };
                for (d, &a) in dst.iter_mut().zip(&acc) {
                    *d = T::from_f64(a);
                }
            }
        });
    }
    Ok(())
}

fn same_dtype(op: &str, inputs: &[Desc]) -> Result<DType> {
    let dt = inputs
        .first()
        .map(|d| d.dtype)
        .ok_or_else(|| Error::Value(format!("operator {op} needs at least one input")))?;
    if let Some(d) = inputs.iter().find(|d| d.dtype != dt) {
        return Err(Error::dtype(
            op,
            format!("all inputs must share one dtype, got {dt} and {}", d.dtype),
        ));
    }
    Ok(dt)
}

fn backward_op(cfg: Cfg) -> Arc<dyn Operator> {
    const B: &str = "_backward_UpSampling";
    let mut op = FnOp::new(
        B,
        move |inputs| {
            let dt = same_dtype(B, inputs)?;
            let shapes: Vec<&Shape> = inputs[1..].iter().map(|d| &d.shape).collect();
            let (os, _) = plan(cfg, B, &shapes)?;
            if inputs[0].shape != os {
                return Err(Error::shape(
                    B,
                    format!(
                        "output gradient {} must have the output shape {os}",
                        inputs[0].shape
                    ),
                ));
            }
            Ok(inputs[1..]
                .iter()
                .map(|d| Desc::new(d.shape.clone(), dt))
                .collect())
        },
        move |_, ins, outs| by_type!(B, ins[0].dtype(), backward_t, cfg, ins, outs),
    );
    op.num_outputs = cfg.num_args;
    op.arc()
}

fn up_op(cfg: Cfg) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        OP,
        move |inputs| {
            let dt = same_dtype(OP, inputs)?;
            let shapes: Vec<&Shape> = inputs.iter().map(|d| &d.shape).collect();
            let (os, _) = plan(cfg, OP, &shapes)?;
            Ok(vec![Desc::new(os, dt)])
        },
        move |_, ins, outs| by_type!(OP, ins[0].dtype(), forward_t, cfg, ins, &outs[0]),
    )
    .with_grad(move |g, a| {
        let dy = a
            .out_grads
            .first()
            .ok_or_else(|| Error::Internal("UpSampling gradient without out_grad".into()))?;
        let mut ins = vec![dy.clone()];
        ins.extend(a.inputs.iter().cloned());
        Ok(g.apply(backward_op(cfg), &ins)
            .into_iter()
            .map(Some)
            .collect())
    });
    op.num_inputs = Some(cfg.num_args);
    op.arc()
}

/// `sample_type='bilinear'`: as MXNet, a grouped Deconvolution of each channel with a learned
/// (data, weight) kernel of size 2 * scale - scale % 2, stride scale (initialise the weight
/// with `mx.init.Bilinear` for bilinear interpolation).
fn bilinear(scale: i64, num_filter: i64, workspace: i64) -> Result<Arc<dyn Operator>> {
    if scale < 1 || num_filter < 1 {
        return Err(Error::param(
            OP,
            format!(
                "sample_type='bilinear' needs scale >= 1 and num_filter (the input's channels) \
                 >= 1, got scale={scale}, num_filter={num_filter}"
            ),
        ));
    }
    // MXNet's pad is ceil((scale - 1) / 2), which is scale / 2.
    let (k, pad) = (2 * scale - scale % 2, scale / 2);
    let attrs: Vec<(String, String)> = [
        ("kernel", format!("({k}, {k})")),
        ("stride", format!("({scale}, {scale})")),
        ("pad", format!("({pad}, {pad})")),
        ("num_filter", num_filter.to_string()),
        ("num_group", num_filter.to_string()),
        ("no_bias", "True".to_string()),
        ("workspace", workspace.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let deconv = crate::op::registry().get("Deconvolution")?.create(&attrs)?;
    Ok(Arc::new(Bilinear(deconv)))
}

/// The Deconvolution under a bilinear UpSampling, named as MXNet names it.
struct Bilinear(Arc<dyn Operator>);

impl Operator for Bilinear {
    fn name(&self) -> &'static str {
        OP
    }
    fn input_names(&self) -> Vec<String> {
        vec!["data".into(), "weight".into()]
    }
    fn num_inputs(&self) -> Option<usize> {
        Some(2)
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        if inputs.len() != 2 {
            return Err(Error::Value(format!(
                "operator {OP} with sample_type='bilinear' takes 2 inputs (data, weight), {} \
                 given",
                inputs.len()
            )));
        }
        self.0.infer(inputs)
    }
    fn infer_shape_partial(
        &self,
        inputs: &mut [Option<Shape>],
        outputs: &mut [Option<Shape>],
    ) -> Result<()> {
        self.0.infer_shape_partial(inputs, outputs)
    }
    fn forward(&self, cx: &crate::op::OpCtx, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
        self.0.forward(cx, ins, outs)
    }
    #[cfg(feature = "cuda")]
    fn forward_cuda(
        &self,
        dev: &crate::kernels::cuda::device::Device,
        cx: &crate::op::OpCtx,
        ins: &[NDArray],
        outs: &[NDArray],
    ) -> Result<bool> {
        self.0.forward_cuda(dev, cx, ins, outs)
    }
    fn gradient(
        &self,
        g: &mut crate::graph::GradBuilder,
        a: &crate::op::GradArgs,
    ) -> Result<Vec<Option<crate::graph::Entry>>> {
        self.0.gradient(g, a)
    }
}

pub fn register(r: &mut Registry) {
    r.add(def(
        OP,
        "Upsamples the given NCHW input data. With sample_type='nearest' each input is repeated \
         over blocks so that all reach scale times the first input's height and width, then \
         concatenated along channels (multi_input_mode='concat') or added ('sum'). \
         sample_type='bilinear' applies a learned num_filter-group Deconvolution (inputs data, \
         weight; kernel 2*scale - scale%2, stride scale).",
        vec![
            param("scale", "int", None, "Up sampling scale"),
            param(
                "num_filter",
                "int",
                Some("0"),
                "Input filter. Only used by bilinear sample_type.",
            ),
            param(
                "sample_type",
                "{'bilinear', 'nearest'}",
                None,
                "upsampling method",
            ),
            param(
                "multi_input_mode",
                "{'concat', 'sum'}",
                Some("'concat'"),
                "How to handle multiple input. concat means concatenate upsampled images along \
                 the channel dimension. sum means add all images together, only available for \
                 nearest neighbor upsampling.",
            ),
            param(
                "num_args",
                "int",
                None,
                "Number of inputs to be upsampled. For nearest neighbor upsampling, this can be \
                 1-N; the size of output will be (scale*h_0,scale*w_0) and all other inputs will \
                 be upsampled to the same size.",
            ),
            param(
                "workspace",
                "long (non-negative)",
                Some("512"),
                "Tmp workspace for deconvolution (MB); unused.",
            ),
        ],
        Inputs::Variadic {
            name: "data",
            count_param: "num_args",
        },
        |p| {
            if p.choice("sample_type", &["bilinear", "nearest"])? == "bilinear" {
                return bilinear(p.int("scale")?, p.int("num_filter")?, p.int("workspace")?);
            }
            let scale = p.int("scale")?;
            let num_args = p.int("num_args")?;
            if scale < 1 || num_args < 1 {
                return Err(Error::param(
                    OP,
                    format!("scale ({scale}) and num_args ({num_args}) must be at least 1"),
                ));
            }
            Ok(up_op(Cfg {
                scale: scale as usize,
                sum: p.choice("multi_input_mode", &["concat", "sum"])? == "sum",
                num_args: num_args as usize,
            }))
        },
    ));
}

#[cfg(test)]
mod tests {
    use crate::op::test_util::{arr, check_grad, err, rand64, run};

    #[test]
    fn nearest_matches_mxnet() {
        let x: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let x = arr(&[1, 2, 2, 2], &x);
        let y = arr(&[1, 2, 4, 4], &[1f32; 32]);
        let a = [
            ("scale", "2"),
            ("sample_type", "nearest"),
            ("num_args", "2"),
            ("multi_input_mode", "sum"),
        ];
        let o = run("UpSampling", &[x.clone(), y], &a)
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(&o[..8], &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
        assert_eq!(&o[16..20], &[5.0, 5.0, 6.0, 6.0]);
        let z = arr(&[1, 3, 4, 4], &[9f32; 48]);
        let a = [
            ("scale", "2"),
            ("sample_type", "nearest"),
            ("num_args", "2"),
        ];
        let o = run("UpSampling", &[x.clone(), z], &a);
        assert_eq!(o.shape().dims(), &[1, 5, 4, 4]);
        let v = o.to_vec::<f32>().unwrap();
        // The last row of channel 1 (from x), then channel 2 (the second input).
        assert_eq!(&v[28..36], &[6.0, 6.0, 7.0, 7.0, 9.0, 9.0, 9.0, 9.0]);
        let a = [
            ("scale", "3"),
            ("sample_type", "nearest"),
            ("num_args", "1"),
        ];
        let o = run("UpSampling", &[arr(&[1, 1, 1, 2], &[1i32, 2])], &a);
        assert_eq!(
            o.to_vec::<i32>().unwrap(),
            vec![1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = arr(&[1, 2, 2, 2], &[0f32; 8]);
        let e = err(
            "UpSampling",
            &[x.clone(), arr(&[1, 2, 3, 3], &[0f32; 18])],
            &[
                ("scale", "2"),
                ("sample_type", "nearest"),
                ("num_args", "2"),
            ],
        );
        assert!(e.to_string().contains("divide"), "{e}");
        let e = err(
            "UpSampling",
            std::slice::from_ref(&x),
            &[
                ("scale", "2"),
                ("sample_type", "bilinear"),
                ("num_args", "2"),
            ],
        );
        assert!(e.to_string().contains("bilinear"), "{e}");
        let e = err(
            "UpSampling",
            &[arr(&[2, 2], &[0f32; 4])],
            &[
                ("scale", "2"),
                ("sample_type", "nearest"),
                ("num_args", "1"),
            ],
        );
        assert!(e.to_string().contains("4-D"), "{e}");
        let e = err(
            "UpSampling",
            &[x],
            &[
                ("scale", "0"),
                ("sample_type", "nearest"),
                ("num_args", "1"),
            ],
        );
        assert!(e.to_string().contains("scale"), "{e}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let a = rand64(&[2, 2, 2, 3], -1.0, 1.0, 1);
        let b = rand64(&[2, 1, 4, 6], -1.0, 1.0, 2);
        check_grad(
            "UpSampling",
            &[
                ("scale", "2"),
                ("sample_type", "nearest"),
                ("num_args", "2"),
            ],
            &[a.clone(), b],
            &[0, 1],
        );
        let c = rand64(&[2, 2, 4, 6], -1.0, 1.0, 4);
        check_grad(
            "UpSampling",
            &[
                ("scale", "2"),
                ("sample_type", "nearest"),
                ("num_args", "2"),
                ("multi_input_mode", "sum"),
            ],
            &[a, c],
            &[0, 1],
        );
    }
}
