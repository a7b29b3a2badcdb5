//! `_contrib_quantized_pooling`: max or average pooling of int8/uint8 NCHW or NCDHW data with
//! Pooling's parameters and shape rule (nn::pooling). The range is passed on unchanged; an
//! average is rounded half to even as oneDNN rounds it.

use super::common::{
    check_ranges, int8_or_uint8, load, range_desc, range_output_names, range_shapes, scalar, store,
    store_scalar, type_partial, zero_grads,
};
use super::range::round_saturate_for;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::cpu::pool::{self, Kind};
use crate::op::nn::pooling::{params, Cfg};
use crate::op::params::Params;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use std::sync::Arc;

const OP: &str = "_contrib_quantized_pooling";

fn quantized_pooling(p: &Params) -> Result<Arc<dyn Operator>> {
    let cfg = Cfg::parse(OP, p)?;
    if !matches!(cfg.kind, Kind::Max | Kind::Avg { .. }) {
        return Err(Error::NotImplemented(format!(
            "operator {OP} supports pool_type='max' and 'avg' only (as MXNet 1.9.1), got '{}'",
            p.str("pool_type")?.trim_matches('\'')
        )));
    }
    if !cfg.global && !(2..=3).contains(&cfg.kernel.len()) {
        return Err(Error::NotImplemented(format!(
            "operator {OP} supports 2-D and 3-D kernels only (NCHW or NCDHW data), got kernel \
             {:?}",
            cfg.kernel
        )));
    }
    let layout = p.str("layout")?.trim().trim_matches('\'');
    if !matches!(layout, "None" | "NCHW" | "NCDHW") {
        return Err(Error::NotImplemented(format!(
            "operator {OP} supports the NCHW and NCDHW layouts only, got '{layout}'"
        )));
    }
    let cfg = Arc::new(cfg);
    let c2 = cfg.clone();
    let rule = |t: &[DType]| -> Result<Vec<DType>> {
        int8_or_uint8(OP, "data", t[0])?;
        Ok(vec![t[0], DType::F32, DType::F32])
    };
    let mut op = FnOp::new(
        OP,
        move |ins| {
            expect_inputs(OP, ins, 3)?;
            rule(&[ins[0].dtype])?;
            check_ranges(OP, ins, &[(1, "min_data"), (2, "max_data")])?;
            let d = &ins[0].shape;
            if !(4..=5).contains(&d.ndim()) {
                return Err(Error::shape(
                    OP,
                    format!(
                        "data must be 4-D (batch, channel, y, x) or 5-D (batch, channel, d, y, x), \
                         got shape {d}"
                    ),
                ));
            }
            let g = cfg.geom(d)?;
            Ok(vec![
                Desc::new(cfg.out_shape(d, &g), ins[0].dtype),
                range_desc(),
                range_desc(),
            ])
        },
        move |_, ins, outs| {
            let g = c2.geom(ins[0].shape())?;
            let q = int8_or_uint8(OP, "data", ins[0].dtype())?;
            // Pool exact small integers in f32 (sums of int8 stay exact), then round.
            let x = load(&ins[0]);
            let mut y = vec![0.0f32; outs[0].size()];
            // oneDNN's padded average divides by the whole kernel, also where a window of the
            // 'full' convention reaches past the padded input (MXNet's float kernel clips).
            let (kind, div) = match c2.kind {
                Kind::Avg { include_pad: true } => (Kind::Sum, g.kernel.iter().product::<usize>()),
                k => (k, 1),
            };
            pool::forward(&g, kind, f32::MIN, &x, &mut y);
            let rs = round_saturate_for(q);
            for v in y.iter_mut() {
                *v = rs(*v / div as f32);
            }
            store(&outs[0], &y);
            store_scalar(&outs[1], scalar(&ins[1]));
            store_scalar(&outs[2], scalar(&ins[2]));
            Ok(())
        },
    )
    .with_type_partial(type_partial(OP, vec![1, 2], rule))
    .with_shape_partial(range_shapes(vec![1, 2], vec![1, 2]))
    .with_grad(zero_grads);
    op.num_outputs = 3;
    op.output_names = Some(range_output_names());
    Ok(op.arc())
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Pooling operator for input and output data type of int8 or uint8 (NCHW or NCDHW), with Pooling's parameters and output shape. Only pool_type 'max' and 'avg' are supported; an average is rounded half to even. min_data and max_data (float32, shape (1,)) are passed on as min_output and max_output.".into(),
        params: params(),
        inputs: Inputs::Fixed(&["data", "min_data", "max_data"]),
        create: Box::new(quantized_pooling),
    });
}
