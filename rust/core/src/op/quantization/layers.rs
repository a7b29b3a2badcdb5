//! Layers that move quantized values without changing their meaning, or rescale them to one
//! shared range: `_contrib_quantized_flatten`, `_contrib_quantized_act` (relu),
//! `_contrib_quantized_concat` and `_contrib_quantized_embedding`.

use super::common::{
    check_ranges, copy_bytes, data_and_range_shapes, int8_or_uint8, load, range_desc,
    range_output_names, range_shapes, scalar, store, store_scalar, type_partial, zero_grads,
};
use super::range::{onednn_levels, real_range, round_saturate_for, QType};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::nn::embedding::rows;
use crate::op::params::{param, Params};
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::{norm_axis, Shape};
use std::sync::Arc;

const FLATTEN: &str = "_contrib_quantized_flatten";
const ACT: &str = "_contrib_quantized_act";
const CONCAT: &str = "_contrib_quantized_concat";
const EMBEDDING: &str = "_contrib_quantized_embedding";

/// Copies the (1,) min and max inputs at `lo`, `lo + 1` to outputs 1 and 2.
fn pass_range(ins: &[crate::ndarray::NDArray], outs: &[crate::ndarray::NDArray], lo: usize) {
    store_scalar(&outs[1], scalar(&ins[lo]));
    store_scalar(&outs[2], scalar(&ins[lo + 1]));
}

/// Ops whose output is (output, min_output, max_output).
fn three_outputs(mut op: FnOp) -> Arc<dyn Operator> {
    op.num_outputs = 3;
    op.output_names = Some(range_output_names());
    op.arc()
}

/// `quantized_flatten`: (d0, d1 * d2 * ...) of any dtype, range passed on.
fn flatten(_: &Params) -> Result<Arc<dyn Operator>> {
    let op = FnOp::new(
        FLATTEN,
        |ins| {
            expect_inputs(FLATTEN, ins, 3)?;
            check_ranges(FLATTEN, ins, &[(1, "min_data"), (2, "max_data")])?;
            let d = &ins[0].shape;
            if d.ndim() == 0 {
                return Err(Error::shape(
                    FLATTEN,
                    "data must have at least one dimension, got a scalar".to_string(),
                ));
            }
            let rest: usize = d.dims()[1..].iter().product();
            Ok(vec![
                Desc::new(Shape::new(vec![d[0], rest]), ins[0].dtype),
                range_desc(),
                range_desc(),
            ])
        },
        |_, ins, outs| {
            // Same bytes in the same order: copy through the widest common element size.
            crate::with_dtype!(ins[0].dtype(), T, {
                // SAFETY: the op reads data and writes its fresh output of equal size.
                unsafe { outs[0].data_mut::<T>().copy_from_slice(ins[0].data::<T>()) };
            });
            pass_range(ins, outs, 1);
            Ok(())
        },
    )
    .with_type_partial(type_partial(FLATTEN, vec![1, 2], |t| {
        Ok(vec![t[0], DType::F32, DType::F32])
    }))
    .with_shape_partial(range_shapes(vec![1, 2], vec![1, 2]))
    .with_grad(zero_grads);
    Ok(three_outputs(op))
}

/// `quantized_act`: relu only. MXNet's output is int8 whatever the input: uint8 data (already
/// non-negative) is passed on byte for byte, so values above 127 read back negative, as there.
fn act(p: &Params) -> Result<Arc<dyn Operator>> {
    let t = p.choice(
        "act_type",
        &["relu", "sigmoid", "softrelu", "softsign", "tanh"],
    )?;
    if t != "relu" {
        return Err(Error::NotImplemented(format!(
            "operator {ACT}: act_type='{t}' is not supported; _contrib_quantized_act only \
             supports act_type=relu (as MXNet 1.9.1)"
        )));
    }
    let rule = |t: &[DType]| -> Result<Vec<DType>> {
        int8_or_uint8(ACT, "data", t[0])?;
        Ok(vec![DType::I8, DType::F32, DType::F32])
    };
    let op = FnOp::new(
        ACT,
        move |ins| {
            expect_inputs(ACT, ins, 3)?;
            rule(&[ins[0].dtype])?;
            check_ranges(ACT, ins, &[(1, "min_data"), (2, "max_data")])?;
            Ok(vec![
                Desc::new(ins[0].shape.clone(), DType::I8),
                range_desc(),
                range_desc(),
            ])
        },
        |_, ins, outs| {
            if ins[0].dtype() == DType::U8 {
                copy_bytes(&ins[0], &outs[0]);
            } else {
                // SAFETY: the op reads its int8 data and writes its fresh int8 output.
                unsafe {
                    for (o, &x) in outs[0].data_mut::<i8>().iter_mut().zip(ins[0].data::<i8>()) {
                        *o = x.max(0);
                    }
                }
            }
            pass_range(ins, outs, 1);
            Ok(())
        },
    )
    .with_type_partial(type_partial(ACT, vec![1, 2], rule))
    .with_shape_partial(data_and_range_shapes(vec![1, 2], vec![1, 2]));
    Ok(three_outputs(op))
}

/// Input names: arg0..arg{n-1}, then arg{i}_min, arg{i}_max for each.
fn concat_names(n: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|i| format!("arg{i}")).collect();
    for i in 0..n {
        v.push(format!("arg{i}_min"));
        v.push(format!("arg{i}_max"));
    }
    v
}

fn concat_out_type(ins: &[DType], n: usize) -> Result<QType> {
    let mut all_u8 = true;
    for (i, &t) in ins.iter().take(n).enumerate() {
        all_u8 &= int8_or_uint8(CONCAT, &format!("arg{i}"), t)? == QType::U8;
    }
    Ok(if all_u8 { QType::U8 } else { QType::I8 })
}

/// `quantized_concat`: the output range is (min(0, mins), max(0, maxes)); each input whose
/// scale differs from the output's is rescaled to it (rounded half to even, saturated), as
/// oneDNN's reorder before the concatenation does.
fn concat(p: &Params) -> Result<Arc<dyn Operator>> {
    let n = p.int("num_args")?;
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| Error::param(CONCAT, format!("num_args must be at least 1, got {n}")))?;
    let dim = p.int("dim")?;
    let ranges: Vec<usize> = (n..3 * n).collect();
    let rule = move |t: &[DType]| -> Result<Vec<DType>> {
        let q = concat_out_type(t, n)?;
        Ok(vec![super::common::dtype_of(q), DType::F32, DType::F32])
    };
    let mut op = FnOp::new(
        CONCAT,
        move |ins| {
            expect_inputs(CONCAT, ins, 3 * n)?;
            let t: Vec<DType> = ins.iter().map(|d| d.dtype).collect();
            let q = concat_out_type(&t, n)?;
            let names = concat_names(n);
            let idx: Vec<(usize, &str)> = (n..3 * n).map(|i| (i, names[i].as_str())).collect();
            check_ranges(CONCAT, ins, &idx)?;
            let first = &ins[0].shape;
            let ax = norm_axis(dim, first.ndim(), CONCAT)?;
            let mut out = first.clone();
            out.0[ax] = 0;
            for (i, d) in ins.iter().take(n).enumerate() {
                let s = &d.shape;
                let fits =
                    s.ndim() == first.ndim() && (0..s.ndim()).all(|k| k == ax || s[k] == first[k]);
                if !fits {
                    return Err(Error::shape(
                        CONCAT,
                        format!(
                            "arg{i} has shape {s}, incompatible with arg0 of shape {first} \
                             along dim={dim}"
                        ),
                    ));
                }
                out.0[ax] += s[ax];
            }
            Ok(vec![
                Desc::new(out, super::common::dtype_of(q)),
                range_desc(),
                range_desc(),
            ])
        },
        move |_, ins, outs| {
            let t: Vec<DType> = ins.iter().map(|a| a.dtype()).collect();
            let qo = concat_out_type(&t, n)?;
            let (mut lo, mut hi) = (0.0f32, 0.0f32);
            let mut r = Vec::with_capacity(n);
            for i in 0..n {
                let (a, b) = (scalar(&ins[n + 2 * i]), scalar(&ins[n + 2 * i + 1]));
                lo = if a < lo { a } else { lo };
                hi = if b > hi { b } else { hi };
                r.push((a, b));
            }
            let out_scale = onednn_levels(qo) / real_range(lo, hi);
            let oshape = outs[0].shape().clone();
            let ax = norm_axis(dim, oshape.ndim(), CONCAT)?;
            let outer: usize = oshape.dims()[..ax].iter().product();
            let inner: usize = oshape.dims()[ax + 1..].iter().product();
            let mut out = vec![0.0f32; oshape.size()];
            let row = oshape[ax] * inner;
            let mut offset = 0;
            for (i, &(a, b)) in r.iter().enumerate() {
                let x = &ins[i];
                let qi = int8_or_uint8(CONCAT, "data", x.dtype())?;
                let i_scale = onednn_levels(qi) / real_range(a, b);
                let mut v = load(x);
                if i_scale != out_scale || qi != qo {
                    let (s, rs) = (out_scale / i_scale, round_saturate_for(qo));
                    for e in v.iter_mut() {
                        *e = rs(*e * s);
                    }
                }
                let slab = x.shape()[ax] * inner;
                for o in 0..outer {
                    out[o * row + offset..o * row + offset + slab]
                        .copy_from_slice(&v[o * slab..(o + 1) * slab]);
                }
                offset += slab;
            }
            store(&outs[0], &out);
            store_scalar(&outs[1], lo);
            store_scalar(&outs[2], hi);
            Ok(())
        },
    )
    .with_type_partial(type_partial(CONCAT, ranges.clone(), rule))
    .with_shape_partial(range_shapes(ranges, vec![1, 2]))
    .with_grad(zero_grads);
    op.input_names = Some(concat_names(n));
    op.num_inputs = Some(3 * n);
    Ok(three_outputs(op))
}

/// `quantized_embedding`: rows of an int8 weight picked by (truncated, clipped) indices; the
/// weight's range is the output's.
fn embedding(p: &Params) -> Result<Arc<dyn Operator>> {
    let (input_dim, output_dim) = (p.int("input_dim")?, p.int("output_dim")?);
    if input_dim < 1 || output_dim < 1 {
        return Err(Error::param(
            EMBEDDING,
            format!("input_dim and output_dim must be positive, got {input_dim} and {output_dim}"),
        ));
    }
    let (input_dim, output_dim) = (input_dim as usize, output_dim as usize);
    let wshape = Shape::new(vec![input_dim, output_dim]);
    let ws = wshape.clone();
    let rule = |t: &[DType]| -> Result<Vec<DType>> {
        if t[1] != DType::I8 {
            return Err(Error::dtype(
                EMBEDDING,
                format!("weight must be int8, got {}", t[1]),
            ));
        }
        Ok(vec![DType::I8, DType::F32, DType::F32])
    };
    let op = FnOp::new(
        EMBEDDING,
        move |ins| {
            expect_inputs(EMBEDDING, ins, 4)?;
            rule(&[ins[0].dtype, ins[1].dtype])?;
            if ins[1].shape != ws {
                return Err(Error::shape(
                    EMBEDDING,
                    format!(
                        "weight has shape {}, but input_dim={input_dim}, output_dim={output_dim} \
                         need {ws}",
                        ins[1].shape
                    ),
                ));
            }
            check_ranges(EMBEDDING, ins, &[(2, "min_weight"), (3, "max_weight")])?;
            let mut out = ins[0].shape.dims().to_vec();
            out.push(output_dim);
            Ok(vec![
                Desc::new(Shape::new(out), DType::I8),
                range_desc(),
                range_desc(),
            ])
        },
        move |_, ins, outs| {
            let idx = rows(&ins[0], input_dim);
            // SAFETY: the op reads the int8 weight and writes its fresh int8 output.
            unsafe {
                let w = ins[1].data::<i8>();
                let o = outs[0].data_mut::<i8>();
                for (dst, &r) in o.chunks_mut(output_dim).zip(&idx) {
                    dst.copy_from_slice(&w[r * output_dim..(r + 1) * output_dim]);
                }
            }
            pass_range(ins, outs, 2);
            Ok(())
        },
    )
    .with_type_partial(move |ins, outs| {
        if ins[1].is_none() {
            ins[1] = Some(DType::I8);
        }
        if ins[0].is_none() {
            ins[0] = Some(DType::F32);
        }
        type_partial(EMBEDDING, vec![2, 3], rule)(ins, outs)
    })
    .with_shape_partial(move |ins, outs| {
        if ins[1].is_none() {
            ins[1] = Some(wshape.clone());
        }
        range_shapes(vec![2, 3], vec![1, 2])(ins, outs)
    })
    .with_grad(zero_grads);
    Ok(three_outputs(op))
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: FLATTEN,
        doc: "Flattens a quantized tensor to (d0, d1 * d2 * ...); min_data and max_data (float32, shape (1,)) are passed on as min_output and max_output.".into(),
        params: vec![],
        inputs: Inputs::Fixed(&["data", "min_data", "max_data"]),
        create: Box::new(flatten),
    });
    r.add(SimpleDef {
        name: ACT,
        doc: "Activation operator for input and output data type of int8. The input and output ranges are the same. Only act_type='relu' is supported; the output is int8 (uint8 data is passed on byte for byte, as MXNet 1.9.1 does).".into(),
        params: vec![param(
            "act_type",
            "{'relu', 'sigmoid', 'softrelu', 'softsign', 'tanh'}",
            None,
            "Activation function to be applied.",
        )],
        inputs: Inputs::Fixed(&["data", "min_data", "max_data"]),
        create: Box::new(act),
    });
    r.add(SimpleDef {
        name: CONCAT,
        doc: "Joins input arrays along a given axis.\n\nThe inputs are arg0..arg{n-1} (int8 or uint8), then arg{i}_min, arg{i}_max for each (float32, shape (1,)). The output range is (min(0, mins), max(0, maxes)); an input whose range differs is rescaled to it (rounded half to even, saturated). The output is uint8 when every input is, else int8.".into(),
        params: vec![
            param("num_args", "int", None, "Number of inputs to be concated."),
            param("dim", "int", Some("1"), "the dimension to be concated."),
        ],
        inputs: Inputs::Variadic {
            name: "data",
            count_param: "num_args",
        },
        create: Box::new(concat),
    });
    r.add(SimpleDef {
        name: EMBEDDING,
        doc: "Maps integer indices to int8 vector representations (embeddings).\n\nIndices (any dtype) are truncated and clipped to [0, input_dim - 1]; the weight is int8 with range (min_weight, max_weight), passed on as the output's.".into(),
        params: vec![
            param("input_dim", "int", None, "Vocabulary size of the input indices."),
            param("output_dim", "int", None, "Dimension of the embedding vectors."),
            param(
                "dtype",
                "{'bfloat16', 'float16', 'float32', 'float64', 'int32', 'int64', 'int8', 'uint8'}",
                Some("'float32'"),
                "Data type of weight (the quantized weight is int8 whatever this says).",
            ),
            param("sparse_grad", "boolean", Some("False"), "Compute row sparse gradient in the backward calculation."),
        ],
        inputs: Inputs::Fixed(&["data", "weight", "min_weight", "max_weight"]),
        create: Box::new(embedding),
    });
}
