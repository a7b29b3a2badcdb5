//! `SequenceMask`, `SequenceLast` and `SequenceReverse`: data of shape (time, batch, ...)
//! (or (batch, time, ...) with `axis=1`) with an optional per-batch `sequence_length`.
//! Lengths are read as numbers of any dtype and truncated towards zero, as MXNet's cast
//! does. Where MXNet reads out of bounds (a length past the sequence for SequenceLast /
//! SequenceReverse, or below 1 for SequenceLast) the kernel fails with the op's name instead;
//! SequenceMask clamps, which is what MXNet computes for lengths past the end.

use super::params::{param, Params};
use super::{Desc, FnOp, GradArgs, Inputs, Operator, Registry, SimpleDef};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::ndarray::NDArray;
use crate::shape::Shape;
use crate::with_dtype;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Mask,
    Last,
    Reverse,
}

#[derive(Clone, Copy)]
struct Cfg {
    kind: Kind,
    use_len: bool,
    value: f64,
    axis: usize,
}

impl Cfg {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Mask => "SequenceMask",
            Kind::Last => "SequenceLast",
            Kind::Reverse => "SequenceReverse",
        }
    }

    fn attrs(&self) -> Vec<(String, String)> {
        let mut a = vec![
            ("use_sequence_length".to_string(), self.use_len.to_string()),
            ("axis".to_string(), self.axis.to_string()),
        ];
        if self.kind == Kind::Mask {
            a.push(("value".to_string(), format!("{:?}", self.value)));
        }
        a
    }
}

/// (time, batch, rest) of data, and the element offset of (t, b).
#[derive(Clone, Copy)]
struct Geom {
    t: usize,
    b: usize,
    rest: usize,
    axis: usize,
}

impl Geom {
    fn at(&self, t: usize, b: usize) -> usize {
        if self.axis == 0 {
            (t * self.b + b) * self.rest
        } else {
            (b * self.t + t) * self.rest
        }
    }
}

fn geom(cfg: Cfg, s: &Shape) -> Result<Geom> {
    let d = s.dims();
    if d.len() < 2 {
        return Err(Error::shape(
            cfg.name(),
            format!("The data array must be of rank 2 or greater, got shape {s}"),
        ));
    }
    let (t, b) = if cfg.axis == 0 {
        (d[0], d[1])
    } else {
        (d[1], d[0])
    };
    Ok(Geom {
        t,
        b,
        rest: d[2..].iter().product(),
        axis: cfg.axis,
    })
}

fn infer(cfg: Cfg, ins: &[Desc]) -> Result<Vec<Desc>> {
    let name = cfg.name();
    let want = if cfg.use_len { 2 } else { 1 };
    if ins.len() != want {
        return Err(Error::Value(format!(
            "operator {name} takes {want} input(s) ({}), {} given",
            if cfg.use_len {
                "data, sequence_length: use_sequence_length=True"
            } else {
                "data: use_sequence_length=False"
            },
            ins.len()
        )));
    }
    let g = geom(cfg, &ins[0].shape)?;
    if cfg.use_len && ins[1].shape.dims() != [g.b] {
        return Err(Error::shape(
            name,
            format!(
                "sequence_length must have shape [{}] (the batch size of data {}), got {}",
                g.b, ins[0].shape, ins[1].shape
            ),
        ));
    }
    let out = match cfg.kind {
        Kind::Last => {
            let mut d = ins[0].shape.dims().to_vec();
            d.remove(cfg.axis);
            Shape::new(d)
        }
        _ => ins[0].shape.clone(),
    };
    Ok(vec![Desc::new(out, ins[0].dtype)])
}

/// Per-batch lengths, truncated towards zero; the full length without the input.
fn lengths(cfg: Cfg, ins: &[NDArray], g: Geom) -> Vec<i64> {
    if !cfg.use_len {
        return vec![g.t as i64; g.b];
    }
    with_dtype!(ins[1].dtype(), L, {
        // SAFETY: inside the op reading ins[1].
        unsafe { ins[1].data::<L>() }
            .iter()
            .map(|v| v.to_f64().trunc() as i64)
            .collect()
    })
}

/// Checks lengths the op indexes by (SequenceLast from 1, SequenceReverse from 0, to T).
fn check_lengths(cfg: Cfg, lens: &[i64], g: Geom) -> Result<()> {
    let min = if cfg.kind == Kind::Last { 1 } else { 0 };
    if let Some((b, l)) = lens
        .iter()
        .enumerate()
        .find(|(_, &l)| l < min || l > g.t as i64)
    {
        return Err(Error::Value(format!(
            "operator {}: sequence_length[{b}] = {l} is outside [{min}, {}], the length of axis {}",
            cfg.name(),
            g.t,
            cfg.axis
        )));
    }
    Ok(())
}

fn forward_t<T: Element>(cfg: Cfg, ins: &[NDArray], out: &NDArray) -> Result<()> {
    let g = geom(cfg, ins[0].shape())?;
    let lens = lengths(cfg, ins, g);
    // SAFETY: inside the op reading ins and writing out (fresh, not aliased).
    let (x, y) = unsafe { (ins[0].data::<T>(), out.data_mut::<T>()) };
    let r = g.rest;
    match cfg.kind {
        Kind::Mask => {
            let fill = T::from_f64_c(cfg.value);
            for (b, &l) in lens.iter().enumerate() {
                let keep = l.clamp(0, g.t as i64) as usize;
                for t in 0..g.t {
                    let at = g.at(t, b);
                    if t < keep {
                        y[at..at + r].copy_from_slice(&x[at..at + r]);
                    } else {
                        y[at..at + r].fill(fill);
                    }
                }
            }
        }
        Kind::Last => {
            check_lengths(cfg, &lens, g)?;
            for (b, &l) in lens.iter().enumerate() {
                let at = g.at(l as usize - 1, b);
                y[b * r..(b + 1) * r].copy_from_slice(&x[at..at + r]);
            }
        }
        Kind::Reverse => {
            check_lengths(cfg, &lens, g)?;
            for (b, &l) in lens.iter().enumerate() {
                let l = l as usize;
                for t in 0..g.t {
                    let src = if t < l {
                        g.at(l - 1 - t, b)
                    } else {
                        g.at(t, b)
                    };
                    let at = g.at(t, b);
                    y[at..at + r].copy_from_slice(&x[src..src + r]);
                }
            }
        }
    }
    Ok(())
}

/// `_backward_SequenceLast(og, data[, sequence_length])`: og scattered to the picked steps.
fn last_backward(cfg: Cfg) -> Arc<dyn Operator> {
    FnOp::new(
        "_backward_SequenceLast",
        |ins| Ok(vec![ins[1].clone()]),
        move |_, ins, outs| {
            let g = geom(cfg, ins[1].shape())?;
            let lens = lengths(cfg, &ins[1..], g);
            check_lengths(cfg, &lens, g)?;
            with_dtype!(ins[1].dtype(), T, {
                // SAFETY: inside the op reading ins and writing outs[0] (fresh).
                let (og, dx) = unsafe { (ins[0].data::<T>(), outs[0].data_mut::<T>()) };
                dx.fill(T::default());
                let r = g.rest;
                for (b, &l) in lens.iter().enumerate() {
                    let at = g.at(l as usize - 1, b);
                    dx[at..at + r].copy_from_slice(&og[b * r..(b + 1) * r]);
                }
            });
            Ok(())
        },
    )
    .arc()
}

fn grad(cfg: Cfg, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
    let og = a.out_grads[0].clone();
    let len: Vec<Entry> = a.inputs.get(1).cloned().into_iter().collect();
    let dx = match cfg.kind {
        // Masking and reversing are their own gradients (the mask with value 0; reversal is
        // an involution), so the gradient graph differentiates again.
        Kind::Mask | Kind::Reverse => {
            let mut attrs = cfg.attrs();
            if cfg.kind == Kind::Mask {
                attrs.retain(|(k, _)| k != "value");
                attrs.push(("value".into(), "0".into()));
            }
            let attrs: Vec<(&str, &str)> = attrs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let ins: Vec<Entry> = std::iter::once(og).chain(len).collect();
            g.op1(cfg.name(), &attrs, &ins)?
        }
        Kind::Last => {
            let ins: Vec<Entry> = [og, a.inputs[0].clone()].into_iter().chain(len).collect();
            g.apply(last_backward(cfg), &ins)[0].clone()
        }
    };
    // sequence_length gets no gradient (MXNet returns zeros).
    let mut out = vec![Some(dx)];
    if cfg.use_len {
        out.push(None);
    }
    Ok(out)
}

fn sequence_op(cfg: Cfg) -> Arc<dyn Operator> {
    let name = cfg.name();
    let mut op = FnOp::new(
        name,
        move |ins| infer(cfg, ins),
        move |_, ins, outs| with_dtype!(ins[0].dtype(), T, { forward_t::<T>(cfg, ins, &outs[0]) }),
    )
    .with_type_partial(move |ins, outs| {
        // The output has the data's dtype; lengths may be of any dtype (the data's when
        // nothing else says).
        let d = ins[0].or(outs[0]);
        if let Some(d) = d {
            ins[0] = Some(d);
            outs[0] = Some(d);
            if let Some(l) = ins.get_mut(1) {
                l.get_or_insert(d);
            }
        }
        Ok(())
    })
    .with_shape_partial(move |ins, outs| {
        if let Some(d) = ins[0].clone() {
            if let Ok(g) = geom(cfg, &d) {
                if let Some(l) = ins.get_mut(1) {
                    if l.is_none() && g.b > 0 {
                        *l = Some(Shape::new(vec![g.b]));
                    }
                }
                if cfg.kind != Kind::Last && outs[0].is_none() {
                    outs[0] = Some(d);
                }
            }
        }
        Ok(())
    })
    .with_grad(move |g, a| grad(cfg, g, a));
    op.num_inputs = Some(if cfg.use_len { 2 } else { 1 });
    op.arc()
}

fn create(kind: Kind, p: &Params) -> Result<Arc<dyn Operator>> {
    let name = Cfg {
        kind,
        use_len: false,
        value: 0.0,
        axis: 0,
    }
    .name();
    let axis = p.int("axis")?;
    let ok = match kind {
        Kind::Reverse => axis == 0,
        _ => axis == 0 || axis == 1,
    };
    if !ok {
        return Err(Error::param(
            name,
            format!(
                "axis must be {}, got {axis}",
                if kind == Kind::Reverse {
                    "0 (the only sequence axis supported)"
                } else {
                    "0 or 1"
                }
            ),
        ));
    }
    let value = if kind == Kind::Mask {
        p.float("value")?
    } else {
        0.0
    };
    Ok(sequence_op(Cfg {
        kind,
        use_len: p.bool("use_sequence_length")?,
        value,
        axis: axis as usize,
    }))
}

pub fn register(r: &mut Registry) {
    let use_len = param(
        "use_sequence_length",
        "boolean",
        Some("0"),
        "If set to true, this layer takes in an extra input parameter `sequence_length` to specify variable length sequence",
    );
    let axis = param(
        "axis",
        "int",
        Some("0"),
        "The sequence axis. Only values of 0 and 1 are currently supported.",
    );
    r.add(SimpleDef {
        name: "SequenceMask",
        doc: "Sets all elements outside the sequence to a constant value.\n\nTakes an n-dimensional input array of the form [max_sequence_length, batch_size, other_feature_dims] (or [batch_size, max_sequence_length, ...] with axis=1) and returns it with the steps past each batch element's sequence_length set to `value`.".into(),
        params: vec![
            use_len,
            param("value", "float", Some("0"), "The value to be used as a mask."),
            axis,
        ],
        inputs: Inputs::Fixed(&["data", "sequence_length"]),
        create: Box::new(|p| create(Kind::Mask, p)),
    });
    r.add(SimpleDef {
        name: "SequenceLast",
        doc: "Takes the last element of a sequence.\n\nReturns an (n-1)-dimensional array of the form [batch_size, other_feature_dims]: the step sequence_length - 1 of each batch element (the last step when use_sequence_length is false).".into(),
        params: vec![use_len, axis],
        inputs: Inputs::Fixed(&["data", "sequence_length"]),
        create: Box::new(|p| create(Kind::Last, p)),
    });
    r.add(SimpleDef {
        name: "SequenceReverse",
        doc: "Reverses the elements of each sequence.\n\nThe first sequence_length steps of each batch element are reversed; the steps after them are kept in place.".into(),
        params: vec![
            use_len,
            param("axis", "int", Some("0"), "The sequence axis. Only 0 is currently supported."),
        ],
        inputs: Inputs::Fixed(&["data", "sequence_length"]),
        create: Box::new(|p| create(Kind::Reverse, p)),
    });
}

#[cfg(test)]
mod tests {
    use crate::op::test_util::{arr, check_grad, err, iota, rand64, run};

    const LEN: (&str, &str) = ("use_sequence_length", "True");

    #[test]
    fn forward_matches_mxnet() {
        // data[t, b] = 2t + b, T = 3, B = 2 (MXNet 1.9.1 outputs).
        let x = iota(&[3, 2]);
        let l = arr(&[2], &[1.7f32, 2.0]);
        let m = run(
            "SequenceMask",
            &[x.clone(), l.clone()],
            &[LEN, ("value", "-1")],
        );
        assert_eq!(
            m.to_vec::<f32>().unwrap(),
            [0.0, 1.0, -1.0, 3.0, -1.0, -1.0]
        );
        let last = run("SequenceLast", &[x.clone(), l.clone()], &[LEN]);
        assert_eq!(last.to_vec::<f32>().unwrap(), [0.0, 3.0]);
        let rev = run("SequenceReverse", &[x.clone(), l.clone()], &[LEN]);
        assert_eq!(rev.to_vec::<f32>().unwrap(), [0.0, 3.0, 2.0, 1.0, 4.0, 5.0]);
        // Without lengths: identity, the last step, a full reversal.
        assert_eq!(
            run("SequenceMask", std::slice::from_ref(&x), &[])
                .to_vec::<f32>()
                .unwrap(),
            [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        );
        assert_eq!(
            run("SequenceLast", std::slice::from_ref(&x), &[])
                .to_vec::<f32>()
                .unwrap(),
            [4.0, 5.0]
        );
        assert_eq!(
            run("SequenceReverse", std::slice::from_ref(&x), &[])
                .to_vec::<f32>()
                .unwrap(),
            [4.0, 5.0, 2.0, 3.0, 0.0, 1.0]
        );
        // axis=1: (batch, time); integer lengths; lengths past the end keep everything.
        let xt = iota(&[2, 3]);
        let li = arr(&[2], &[5i32, 1]);
        let m = run("SequenceMask", &[xt.clone(), li], &[LEN, ("axis", "1")]);
        assert_eq!(m.to_vec::<f32>().unwrap(), [0.0, 1.0, 2.0, 3.0, 0.0, 0.0]);
        let last = run(
            "SequenceLast",
            &[xt, arr(&[2], &[2.0f32, 3.0])],
            &[LEN, ("axis", "1")],
        );
        assert_eq!(last.to_vec::<f32>().unwrap(), [1.0, 5.0]);
    }

    #[test]
    fn gradients() {
        let l = arr(&[3], &[1.0f64, 4.0, 2.0]);
        for op in ["SequenceMask", "SequenceLast", "SequenceReverse"] {
            let x = rand64(&[4, 3, 2], -1.0, 1.0, 31);
            check_grad(op, &[LEN], &[x.clone(), l.clone()], &[0]);
            check_grad(op, &[], &[x], &[0]);
        }
        let xt = rand64(&[3, 4, 2], -1.0, 1.0, 32);
        check_grad(
            "SequenceLast",
            &[LEN, ("axis", "1")],
            &[xt.clone(), l.clone()],
            &[0],
        );
        check_grad("SequenceMask", &[LEN, ("axis", "1")], &[xt, l], &[0]);
    }

    #[test]
    fn bad_inputs_name_the_op() {
        let x = iota(&[3, 2]);
        let e = err(
            "SequenceMask",
            &[x.clone(), arr(&[3], &[1.0f32; 3])],
            &[LEN],
        );
        assert!(
            e.to_string().contains("SequenceMask") && e.to_string().contains("[3]"),
            "{e}"
        );
        let e = err(
            "SequenceLast",
            &[x.clone(), arr(&[2], &[0.0f32, 1.0])],
            &[LEN],
        );
        assert!(
            e.to_string().contains("SequenceLast")
                && e.to_string().contains("sequence_length[0] = 0"),
            "{e}"
        );
        let e = err(
            "SequenceReverse",
            &[x.clone(), arr(&[2], &[4.0f32, 1.0])],
            &[LEN],
        );
        assert!(e.to_string().contains("SequenceReverse"), "{e}");
        let e = err(
            "SequenceReverse",
            std::slice::from_ref(&x),
            &[("axis", "1")],
        );
        assert!(e.to_string().contains("axis"), "{e}");
        let e = err("SequenceMask", std::slice::from_ref(&x), &[LEN]);
        assert!(e.to_string().contains("takes 2 input"), "{e}");
        let e = err("SequenceLast", &[arr(&[3], &[1.0f32; 3])], &[]);
        assert!(e.to_string().contains("rank 2"), "{e}");
    }
}
