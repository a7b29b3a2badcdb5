//! `_contrib_quantized_fully_connected`: `out = data · weightᵀ + bias` on int8/uint8 data levels
//! and int8 weight levels, accumulated exactly in int32 (one integer GEMM), with the output's
//! float range. As MXNet 1.9.1's oneDNN kernel: the range is that of a product of the data's type
//! (uint8 data spread over 255 levels) and int8, and the int8 bias is rescaled into the int32
//! levels by `range::fc_bias_rescale`, truncated toward zero.

use super::common::range_output_names;
use super::product::{check_inputs, expect_shape, input_names, outputs, range_of, write_range};
use super::range::{fc_bias_rescale, product_range, QType};
use crate::dtype::DType;
use crate::error::Result;
use crate::kernels::cpu::gemm::Mat;
use crate::kernels::cpu::igemm::{igemm, IElem};
use crate::ndarray::NDArray;
use crate::op::nn::fully_connected::Cfg;
use crate::op::params::param;
use crate::op::shape_ops::def;
use crate::op::{Desc, FnOp, Inputs, Operator, Registry};
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "_contrib_quantized_fully_connected";

fn infer(cfg: Cfg, ins: &[Desc]) -> Result<Vec<Desc>> {
    check_inputs(OP, cfg.no_bias, ins)?;
    let d = &ins[0].shape;
    let (_, k) = cfg.rows_k(d)?;
    expect_shape(OP, "weight", &ins[1].shape, &Shape(vec![cfg.num_hidden, k]))?;
    if !cfg.no_bias {
        expect_shape(OP, "bias", &ins[2].shape, &Shape(vec![cfg.num_hidden]))?;
    }
    Ok(outputs(cfg.out_shape(d)))
}

/// `y (m×n) = x (m×k) · wᵀ` with w stored n×k.
pub(crate) fn product<X: IElem>(m: usize, n: usize, k: usize, x: &[X], w: &[i8], y: &mut [i32]) {
    // SAFETY: x is m×k, w is n×k (read as its k×n transpose) and y is m×n, as `infer`
    // checked; y is a fresh output.
    unsafe {
        igemm(
            m,
            n,
            k,
            Mat {
                ptr: x.as_ptr(),
                rs: k as isize,
                cs: 1,
            },
            Mat {
                ptr: w.as_ptr(),
                rs: 1,
                cs: k as isize,
            },
            y.as_mut_ptr(),
            n,
        )
    }
}

fn forward(cfg: Cfg, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let (m, k) = cfg.rows_k(ins[0].shape())?;
    let n = cfg.num_hidden;
    let nb = if cfg.no_bias { 2 } else { 3 };
    let qd = if ins[0].dtype() == DType::U8 {
        QType::U8
    } else {
        QType::I8
    };
    // SAFETY: inside the op reading `ins` and writing the fresh `outs`; `infer` checked every
    // shape and dtype.
    unsafe {
        let data = range_of(ins, nb);
        let weight = range_of(ins, nb + 2);
        write_range(outs, product_range(data, qd, weight, QType::I8));
        let y = outs[0].data_mut::<i32>();
        let w = ins[1].data::<i8>();
        match qd {
            QType::U8 => product(m, n, k, ins[0].data::<u8>(), w, y),
            _ => product(m, n, k, ins[0].data::<i8>(), w, y),
        }
        if !cfg.no_bias {
            let rescale = fc_bias_rescale(data, qd, weight, range_of(ins, nb + 4));
            // f32 product truncated toward zero (saturating), as MXNet's int32 conversion.
            let bias: Vec<i32> = ins[2]
                .data::<i8>()
                .iter()
                .map(|&b| (b as f32 * rescale) as i32)
                .collect();
            for row in y.chunks_mut(n.max(1)) {
                for (v, &b) in row.iter_mut().zip(&bias) {
                    *v = v.wrapping_add(b);
                }
            }
        }
    }
    Ok(())
}

fn fc_op(cfg: Cfg) -> Arc<dyn Operator> {
    let no_bias = cfg.no_bias;
    let mut op = FnOp::new(
        OP,
        move |ins| infer(cfg, ins),
        move |_, ins, outs| forward(cfg, ins, outs),
    )
    .with_shape_partial(move |ins, outs| {
        super::product::partial_range_shapes(no_bias, ins, outs);
        cfg.batch_from_output(ins, outs);
        let Some(d) = ins.first().cloned().flatten() else {
            return Ok(());
        };
        let (_, k) = cfg.rows_k(&d)?;
        ins[1].get_or_insert(Shape(vec![cfg.num_hidden, k]));
        if !no_bias {
            ins[2].get_or_insert(Shape(vec![cfg.num_hidden]));
        }
        outs[0].get_or_insert(cfg.out_shape(&d));
        Ok(())
    })
    .with_type_partial(move |ins, outs| super::product::partial_types(OP, no_bias, ins, outs));
    op.num_outputs = 3;
    op.num_inputs = Some(input_names(no_bias).len());
    op.input_names = Some(input_names(no_bias));
    op.output_names = Some(range_output_names());
    op.arc()
}

pub fn register(r: &mut Registry) {
    r.add(def(
        OP,
        "FullyConnected of int8 or uint8 data with int8 weights, accumulated in int32. Each of \
         data, weight and bias comes with min_/max_ inputs (float32, shape (1,)) giving the float \
         range it was quantized from; the outputs are the int32 result and the float range \
         (min_output, max_output) of its levels. Forward only: do not use in training.",
        vec![
            param(
                "num_hidden",
                "int",
                None,
                "Number of hidden nodes of the output.",
            ),
            param(
                "no_bias",
                "boolean",
                Some("False"),
                "Whether to disable bias parameter.",
            ),
            param(
                "flatten",
                "boolean",
                Some("True"),
                "Whether to collapse all but the first axis of the input data tensor.",
            ),
        ],
        Inputs::Fixed(&super::product::WITH_BIAS),
        |p| Ok(fc_op(Cfg::parse(OP, p)?)),
    ));
}

#[cfg(test)]
mod tests {
    use crate::op::call_str;
    use crate::op::test_util::{arr, scalar};

    #[test]
    fn uint8_product_and_rescaled_bias() {
        let x: Vec<u8> = (0..12).map(|i| (i * 23 % 256) as u8).collect();
        let w: Vec<i8> = (0..6).map(|i| [-128i8, 127, -1][i % 3]).collect();
        let b = [113i8, -124];
        let ins = [
            arr(&[4, 3], &x),
            arr(&[2, 3], &w),
            arr(&[2], &b),
            scalar(0.0),
            scalar(1.0),
            scalar(-1.0),
            scalar(1.0),
            scalar(-1.0),
            scalar(1.0),
        ];
        let out = call_str(super::OP, &ins, &[("num_hidden", "2")]).expect("op");
        let got = out[0].to_vec::<i32>().expect("read");
        for r in 0..4 {
            for j in 0..2 {
                let dot: i64 = (0..3)
                    .map(|p| x[r * 3 + p] as i64 * w[j * 3 + p] as i64)
                    .sum();
                // MXNet 1.9.1 adds a uint8-data bias level as 255.5 levels (all ranges ±1 or
                // [0, 1]), truncated toward zero.
                let bias = (b[j] as f64 * 255.5).trunc() as i64;
                assert_eq!(got[r * 2 + j] as i64, dot + bias, "row {r} col {j}");
            }
        }
        // mxref printed 66311.06 for uint8 data in [0, 1] times int8 weights in ±1.
        assert_eq!(out[2].to_vec::<f32>().expect("read")[0], 66311.06);
    }

    #[test]
    fn weight_shape_mismatch_is_an_error() {
        let ins = [
            arr(&[2, 4], &[0i8; 8]),
            arr(&[3, 5], &[0i8; 15]),
            scalar(-1.0),
            scalar(1.0),
            scalar(-1.0),
            scalar(1.0),
        ];
        let e = call_str(super::OP, &ins, &[("num_hidden", "3"), ("no_bias", "True")]).err();
        let msg = format!("{e:?}");
        assert!(
            msg.contains("_contrib_quantized_fully_connected") && msg.contains("weight"),
            "{msg}"
        );
    }
}
