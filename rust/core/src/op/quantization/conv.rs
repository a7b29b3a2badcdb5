//! `_contrib_quantized_conv`: Convolution on int8/uint8 data levels and int8 weight levels,
//! accumulated exactly in int32, with the output's float range. Parameters, output shape and
//! unfolding are Convolution's (`op::nn::convolution::Cfg`, `kernels::cpu::conv`).
//!
//! As MXNet 1.9.1's oneDNN kernel, the range is that of a product of two int8 factors (uint8
//! data's range is divided over 127 levels too). The int8 bias is rescaled into the product's
//! int32 levels as MXNet's reference (GPU) kernel does, `(acc * f_out + b * f_bias) / f_out` in
//! f32, truncated: MXNet 1.9.1's oneDNN CPU kernel adds the bias levels unscaled, which makes a
//! quantized model with conv biases drift from its FP32 model (MXNet's CPU path fuses such
//! convolutions into `_sg_mkldnn_conv` instead). MXNet's CPU kernel takes only uint8 data, 2-D,
//! one group and no dilation; here int8 data, groups, dilation and 1-D/3-D kernels work too.

use super::common::range_output_names;
use super::product::{check_inputs, expect_shape, input_names, outputs, range_of, write_range};
use super::range::{product_range, real_range, QType};
use crate::dtype::DType;
use crate::error::Result;
use crate::kernels::cpu::conv::{forward_int8, Geom};
use crate::ndarray::NDArray;
use crate::op::nn::convolution::{shared_params, Cfg};
use crate::op::shape_ops::def;
use crate::op::{Desc, FnOp, Inputs, Operator, Registry};
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "_contrib_quantized_conv";

fn infer(cfg: &Cfg, ins: &[Desc]) -> Result<Vec<Desc>> {
    check_inputs(OP, cfg.no_bias, ins)?;
    let d = &ins[0].shape;
    let g = cfg.geom(d)?;
    expect_shape(OP, "weight", &ins[1].shape, &cfg.weight_shape(&g))?;
    if !cfg.no_bias {
        expect_shape(OP, "bias", &ins[2].shape, &Shape(vec![cfg.num_filter]))?;
    }
    Ok(outputs(cfg.out_shape(d, &g)))
}

fn empty(g: &Geom) -> bool {
    g.n == 0 || g.c == 0 || g.f == 0 || g.in_len() == 0 || g.out_len() == 0
}

fn forward(cfg: &Cfg, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let g = cfg.geom(ins[0].shape())?;
    let nb = if cfg.no_bias { 2 } else { 3 };
    // SAFETY: inside the op reading `ins` and writing the fresh `outs`; `infer` checked every
    // shape and dtype against `g`.
    unsafe {
        let data = range_of(ins, nb);
        let weight = range_of(ins, nb + 2);
        // MXNet's oneDNN kernel takes the range of an int8 by int8 product for any data type.
        let out_range = product_range(data, QType::I8, weight, QType::I8);
        write_range(outs, out_range);
        let y = outs[0].data_mut::<i32>();
        if empty(&g) {
            y.fill(0);
            return Ok(());
        }
        let w = ins[1].data::<i8>();
        match ins[0].dtype() {
            DType::U8 => forward_int8(&g, ins[0].data::<u8>(), w, y),
            _ => forward_int8(&g, ins[0].data::<i8>(), w, y),
        }
        if !cfg.no_bias {
            let bias = ins[2].data::<i8>();
            let f_out = (real_range(out_range.0, out_range.1) as f64 / i32::MAX as f64) as f32;
            let (lo, hi) = range_of(ins, nb + 4);
            let f_bias = (real_range(lo, hi) as f64 / 127.0) as f32;
            if f_out != 0.0 {
                for (blk, run) in y.chunks_mut(g.out_len()).enumerate() {
                    let b = bias[blk % g.f] as f32 * f_bias;
                    // f32 to i32 truncates and saturates, as the C++ conversion does in range.
                    run.iter_mut()
                        .for_each(|v| *v = ((*v as f32 * f_out + b) / f_out) as i32);
                }
            }
        }
    }
    Ok(())
}

fn conv_op(cfg: Cfg) -> Arc<dyn Operator> {
    let cfg = Arc::new(cfg);
    let (c1, c2, c3) = (cfg.clone(), cfg.clone(), cfg.clone());
    let no_bias = cfg.no_bias;
    let mut op = FnOp::new(
        OP,
        move |ins| infer(&c1, ins),
        move |_, ins, outs| forward(&c2, ins, outs),
    )
    .with_shape_partial(move |ins, outs| {
        super::product::partial_range_shapes(no_bias, ins, outs);
        let Some(d) = ins.first().cloned().flatten() else {
            return Ok(());
        };
        let g = c3.geom(&d)?;
        ins[1].get_or_insert(c3.weight_shape(&g));
        if !no_bias {
            ins[2].get_or_insert(Shape(vec![c3.num_filter]));
        }
        outs[0].get_or_insert(c3.out_shape(&d, &g));
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
        "Convolution of int8 or uint8 data with int8 weights, accumulated in int32. Each of data, \
         weight and bias comes with min_/max_ inputs (float32, shape (1,)) giving the float range \
         it was quantized from; the outputs are the int32 result and the float range \
         (min_output, max_output) of its levels. Parameters as Convolution. Forward only: do \
         not use in training.",
        shared_params(false),
        Inputs::Fixed(&super::product::WITH_BIAS),
        |p| Ok(conv_op(Cfg::parse(OP, p)?)),
    ));
}

#[cfg(test)]
mod tests {
    use crate::op::call_str;
    use crate::op::test_util::{arr, scalar};

    #[test]
    fn int8_conv_with_padding_matches_a_direct_loop() {
        // data (1, 2, 3, 3), weight (2, 2, 2, 2), pad 1: output (1, 2, 4, 4).
        let x: Vec<i8> = (0..18).map(|i| (i * 37 % 256) as u8 as i8).collect();
        let w: Vec<i8> = (0..16).map(|i| [-128i8, 127, 5, -7][i % 4]).collect();
        let b = [100i8, -128];
        let ins = [
            arr(&[1, 2, 3, 3], &x),
            arr(&[2, 2, 2, 2], &w),
            arr(&[2], &b),
            scalar(-1.0),
            scalar(1.0),
            scalar(-2.0),
            scalar(2.0),
            scalar(-1.0),
            scalar(1.0),
        ];
        let out = call_str(
            super::OP,
            &ins,
            &[("kernel", "(2, 2)"), ("num_filter", "2"), ("pad", "(1, 1)")],
        )
        .expect("op");
        let got = out[0].to_vec::<i32>().expect("read");
        let mut want = vec![0i64; 2 * 16];
        for f in 0..2 {
            for oy in 0..4 {
                for ox in 0..4 {
                    let mut s = 0i64;
                    for c in 0..2 {
                        for ky in 0..2 {
                            for kx in 0..2 {
                                let (iy, ix) = (oy + ky, ox + kx);
                                if (1..4).contains(&iy) && (1..4).contains(&ix) {
                                    s += x[c * 9 + (iy - 1) * 3 + ix - 1] as i64
                                        * w[((f * 2 + c) * 2 + ky) * 2 + kx] as i64;
                                }
                            }
                        }
                    }
                    // The bias (range ±1) rescaled into the output's levels, in f32 as MXNet's
                    // reference kernel: (acc * f_out + b * f_bias) / f_out, truncated.
                    let top = (1.0f32 / 127.0) * (2.0 / 127.0) * i32::MAX as f32;
                    let f_out = (top as f64 / i32::MAX as f64) as f32;
                    let f_bias = (1.0f64 / 127.0) as f32;
                    let v = (s as f32 * f_out + b[f] as f32 * f_bias) / f_out;
                    want[f * 16 + oy * 4 + ox] = v as i32 as i64;
                }
            }
        }
        assert_eq!(got.iter().map(|&v| v as i64).collect::<Vec<_>>(), want);
        // (1/127)·(2/127)·(2^31 - 1), the int8 x int8 product range.
        let hi = out[2].to_vec::<f32>().expect("read")[0];
        assert_eq!(hi, (1.0f32 / 127.0) * (2.0 / 127.0) * i32::MAX as f32);
        assert_eq!(out[1].to_vec::<f32>().expect("read")[0], -hi);
    }

    #[test]
    fn bad_inputs_are_errors_naming_the_argument() {
        let x = arr(&[1, 1, 3, 3], &[0f32; 9]);
        let w = arr(&[1, 1, 1, 1], &[0i8]);
        let r = [scalar(0.0), scalar(1.0), scalar(-1.0), scalar(1.0)];
        let attrs = [
            ("kernel", "(1, 1)"),
            ("num_filter", "1"),
            ("no_bias", "True"),
        ];
        let mut ins = vec![x, w.clone()];
        ins.extend(r.iter().cloned());
        let msg = format!("{:?}", call_str(super::OP, &ins, &attrs).err());
        assert!(msg.contains("data must be int8 or uint8"), "{msg}");
        ins[0] = arr(&[1, 1, 3, 3], &[0u8; 9]);
        ins[2] = arr(&[2], &[0f32, 1.0]);
        let e = call_str(super::OP, &ins, &attrs).err();
        let msg = format!("{e:?}");
        assert!(msg.contains("min_data must have shape (1,)"), "{msg}");
    }
}
