//! `Embedding`: rows of `weight` (input_dim, output_dim) picked by the indices in `data`
//! (any dtype; truncated to integers and clipped to [0, input_dim - 1] as MXNet's `take` in
//! clip mode does). The weight gradient scatter-adds the head gradient's rows; the indices
//! get none.

use crate::dtype::{DType, Element};
use crate::error::Error;
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use crate::with_dtype;
use std::sync::Arc;

/// Clipped row indices of `data`. Inside an op reading it.
pub(crate) fn rows(data: &NDArray, input_dim: usize) -> Vec<usize> {
    let hi = input_dim.saturating_sub(1) as f64;
    with_dtype!(data.dtype(), T, {
        // SAFETY: the calling op reads data.
        unsafe { data.data::<T>() }
            .iter()
            .map(|v| {
                let f = v.to_f64().trunc();
                // NaN clips to row 0 like a negative index.
                if f > 0.0 {
                    f.min(hi) as usize
                } else {
                    0
                }
            })
            .collect()
    })
}

fn embedding(input_dim: usize, output_dim: usize, dtype: DType) -> Arc<dyn Operator> {
    let name = "Embedding";
    let wshape = Shape::new(vec![input_dim, output_dim]);
    let ws = wshape.clone();
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 2)?;
            if ins[1].shape != ws {
                return Err(Error::shape(
                    name,
                    format!(
                        "Shape inconsistent, Provided = {}, inferred shape={ws} (weight of input_dim={input_dim}, output_dim={output_dim})",
                        ins[1].shape
                    ),
                ));
            }
            let mut out = ins[0].shape.dims().to_vec();
            out.push(output_dim);
            // the weight's dtype, as MXNet's type rule (dtype only decides an untyped graph)
            Ok(vec![Desc::new(out, ins[1].dtype)])
        },
        move |_, ins, outs| {
            let idx = rows(&ins[0], input_dim);
            let (w, o) = (&ins[1], &outs[0]);
            with_dtype!(w.dtype(), T, {
                // SAFETY: inside the op reading w and writing o (fresh).
                let (ws, po) = unsafe { (w.data::<T>(), Ptr(o.raw() as *mut T)) };
                let d = output_dim;
                par_ranges(idx.len(), d, |b, e| {
                    for (k, &r) in idx.iter().enumerate().take(e).skip(b) {
                        // SAFETY: output row k belongs to this task; r < input_dim.
                        let dst = unsafe { std::slice::from_raw_parts_mut(po.get().add(k * d), d) };
                        dst.copy_from_slice(&ws[r * d..(r + 1) * d]);
                    }
                });
            });
            Ok(())
        },
    )
    .with_shape_partial(move |ins, _| {
        if ins[1].is_none() {
            ins[1] = Some(wshape.clone());
        }
        Ok(())
    })
    .with_type_partial(move |ins, outs| {
        // MXNet's rule: weight and output share a dtype; the `dtype` parameter applies only
        // when neither is known
        let t = match (ins[1], outs[0]) {
            (Some(w), Some(o)) if w != o => {
                return Err(Error::dtype(
                    name,
                    format!("weight and output must have the same dtype, got {w} and {o}"),
                ))
            }
            (Some(w), _) => w,
            (None, Some(o)) => o,
            (None, None) => dtype,
        };
        (ins[1], outs[0]) = (Some(t), Some(t));
        Ok(())
    })
    .with_grad(move |g, a| {
        let bname = "_backward_Embedding";
        let bwd = FnOp::new(
            bname,
            move |ins| Ok(vec![Desc::new(vec![input_dim, output_dim], ins[0].dtype)]),
            move |_, ins, outs| {
                let idx = rows(&ins[1], input_dim);
                let d = output_dim;
                with_dtype!(ins[0].dtype(), T, {
                    // SAFETY: inside the op reading the head gradient and writing dw (fresh).
                    let (og, dw) = unsafe { (ins[0].data::<T>(), outs[0].data_mut::<T>()) };
                    let mut acc = vec![0.0f64; dw.len()];
                    for (k, &r) in idx.iter().enumerate() {
                        for (a, v) in acc[r * d..(r + 1) * d].iter_mut().zip(&og[k * d..(k + 1) * d]) {
                            *a += v.to_f64();
                        }
                    }
                    for (o, a) in dw.iter_mut().zip(acc) {
                        *o = T::from_f64(a);
                    }
                });
                Ok(())
            },
        )
        .arc();
        let dw = g.apply(bwd, &[a.out_grads[0].clone(), a.inputs[0].clone()]);
        Ok(vec![None, dw.into_iter().next()])
    });
    op.num_inputs = Some(2);
    op.arc()
}

pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: "Embedding",
        doc: "Maps integer indices to vector representations (embeddings).\n\nThis operator maps words to real-valued vectors in a high-dimensional space, called word embeddings. Indices are clipped to [0, input_dim - 1]. The output has the shape of the indices with output_dim appended.".into(),
        params: vec![
            param("input_dim", "int, required", None, "Vocabulary size of the input indices."),
            param("output_dim", "int, required", None, "Dimension of the embedding vectors."),
            param("dtype", "{'bfloat16', 'float16', 'float32', 'float64', 'int32', 'int64', 'int8', 'uint8'},optional", Some("'float32'"), "Data type of weight."),
            param("sparse_grad", "boolean, optional", Some("0"), "Compute row sparse gradient in the backward calculation. If set to True, the grad's storage type is row_sparse."),
        ],
        inputs: Inputs::Fixed(&["data", "weight"]),
        create: Box::new(|p| {
            let (i, o) = (p.int("input_dim")?, p.int("output_dim")?);
            if i < 1 || o < 1 {
                return Err(Error::param("Embedding", format!("input_dim and output_dim must be positive, got {i} and {o}")));
            }
            let dtype = p.dtype("dtype")?.unwrap_or(DType::F32);
            Ok(embedding(i as usize, o as usize, dtype))
        }),
    });
}

#[cfg(test)]
mod tests {
    use crate::op::call_str;
    use crate::op::nn::loss::op_grads;
    use crate::op::test_util::{arr, check_grad, err, f32s, rand64, run};

    #[test]
    fn embedding_picks_rows_and_clips() {
        let w = arr(&[4, 3], &(0..12).map(|i| i as f32).collect::<Vec<_>>());
        let d = arr(&[2, 3], &[0.0f32, 3.0, 1.0, 2.0, 7.0, -1.0]);
        let y = run(
            "Embedding",
            &[d, w.clone()],
            &[("input_dim", "4"), ("output_dim", "3")],
        );
        assert_eq!(y.shape().dims(), &[2, 3, 3]);
        let want: Vec<f32> = [0usize, 3, 1, 2, 3, 0]
            .iter()
            .flat_map(|&r| (0..3).map(move |j| (r * 3 + j) as f32))
            .collect();
        assert_eq!(f32s(&y), want);
        let di = arr(&[2], &[2i32, 1]);
        assert_eq!(
            f32s(&run(
                "Embedding",
                &[di, w.clone()],
                &[("input_dim", "4"), ("output_dim", "3")]
            )),
            [6.0, 7.0, 8.0, 3.0, 4.0, 5.0]
        );
        let e = err(
            "Embedding",
            &[arr(&[1], &[0.0f32]), w.clone()],
            &[("input_dim", "5"), ("output_dim", "3")],
        );
        assert!(e.to_string().contains("Shape inconsistent"), "{e}");
        assert!(err(
            "Embedding",
            &[arr(&[1], &[0.0f32]), w.clone()],
            &[("input_dim", "4")]
        )
        .to_string()
        .contains("output_dim"));
        assert!(call_str(
            "Embedding",
            &[arr(&[1], &[0.0f32]), w],
            &[("input_dim", "0"), ("output_dim", "3")]
        )
        .is_err());
    }

    #[test]
    fn embedding_weight_gradient_scatter_adds() {
        let w = rand64(&[5, 2], -1.0, 1.0, 61);
        let d = arr(&[4], &[1.0f64, 3.0, 1.0, 0.0]);
        let head = arr(&[4, 2], &[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        let g = op_grads(
            "Embedding",
            &[
                ("input_dim", "5"),
                ("output_dim", "2"),
                ("dtype", "float64"),
            ],
            &[d.clone(), w.clone()],
            Some(&[head]),
            false,
        );
        assert!(g[0].is_none());
        let dw = g[1].as_ref().unwrap().to_vec::<f64>().unwrap();
        assert_eq!(dw, [7.0, 8.0, 6.0, 8.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0]);
        check_grad(
            "Embedding",
            &[
                ("input_dim", "5"),
                ("output_dim", "2"),
                ("dtype", "float64"),
            ],
            &[d, w],
            &[1],
        );
    }
}
