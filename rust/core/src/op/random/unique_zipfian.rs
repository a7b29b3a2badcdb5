//! `_sample_unique_zipfian`: per batch row, `num_sampled` distinct classes drawn from the
//! approximately log-uniform (Zipfian) distribution
//! `P(c) = (log(c + 2) - log(c + 1)) / log(range_max + 1)` over `[0, range_max)`, and the number
//! of draws that took (GluonNLP's sampled softmax). Each row draws from its own stream of the
//! op's seed, so results depend on `mx.random.seed` only.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::params::{param, Params};
use crate::op::{expect_inputs, write_f64, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::random::Xoshiro;
use crate::shape::Shape;
use std::collections::HashSet;
use std::sync::Arc;

const NAME: &str = "_sample_unique_zipfian";

fn unique_zipfian(p: &Params) -> Result<Arc<dyn Operator>> {
    let range_max = p.int("range_max")?;
    let shape = p.shape("shape")?;
    if shape.len() != 2 {
        return Err(Error::Value(format!(
            "operator {NAME}: shape must be 2-D (batch_size, num_sampled), got {shape:?}"
        )));
    }
    let (batch, num) = (shape[0], shape[1]);
    if range_max < 1 || num as i64 > range_max {
        return Err(Error::Value(format!(
            "operator {NAME}: cannot draw {num} distinct classes from range_max={range_max}"
        )));
    }
    let log_range = ((range_max + 1) as f64).ln();
    let mut op = FnOp::new(
        NAME,
        move |ins| {
            expect_inputs(NAME, ins, 0)?;
            Ok(vec![
                Desc::new(Shape::new(vec![batch, num]), DType::I64),
                Desc::new(Shape::new(vec![batch]), DType::I64),
            ])
        },
        move |cx, _, outs| {
            let mut samples = Vec::with_capacity(batch * num);
            let mut tries = Vec::with_capacity(batch);
            for row in 0..batch {
                let mut rng = Xoshiro::new(cx.seed, row as u64);
                let mut seen = HashSet::with_capacity(num);
                let mut n = 0u64;
                while seen.len() < num {
                    n += 1;
                    // Inverse CDF of the log-uniform distribution, kept inside the range.
                    let c = ((rng.next_f64() * log_range).exp() as i64 - 1).clamp(0, range_max - 1);
                    if seen.insert(c) {
                        samples.push(c as f64);
                    }
                }
                tries.push(n as f64);
            }
            write_f64(&outs[0], &samples);
            write_f64(&outs[1], &tries);
            Ok(())
        },
    );
    op.rng = true;
    op.num_outputs = 2;
    op.num_inputs = Some(0);
    Ok(op.arc())
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: NAME,
        doc: "Draw random samples from an approximately log-uniform or Zipfian distribution without replacement.\nFor a 2-D shape (batch_size, num_sampled), each row holds num_sampled distinct integers of [0, range_max) drawn from\n    P(class) = (log(class + 2) - log(class + 1)) / log(range_max + 1)\nThe second output holds the number of draws each row needed. Both outputs are int64.".to_string(),
        params: vec![
            param("range_max", "int", None, "The number of possible classes."),
            param("shape", "Shape(tuple)", Some("None"), "2-D shape of the output, where shape[0] is the batch size, and shape[1] is the number of candidates to sample for each batch."),
        ],
        inputs: Inputs::Fixed(&[]),
        create: Box::new(unique_zipfian),
    });
}
