use crate::op::test_util::{arr, check_grad, err, rand64, run};

const DEFORM: &str = "_contrib_DeformableConvolution";
const MODULATED: &str = "_contrib_ModulatedDeformableConvolution";

struct Case {
    data: [usize; 4],
    f: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    dilate: [usize; 2],
    groups: usize,
    dg: usize,
}

impl Case {
    fn out(&self) -> [usize; 2] {
        let o = |i: usize| {
            (self.data[2 + i] + 2 * self.pad[i] - self.dilate[i] * (self.kernel[i] - 1) - 1)
                / self.stride[i]
                + 1
        };
        [o(0), o(1)]
    }
    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }
    fn shapes(&self) -> [Vec<usize>; 4] {
        let [oh, ow] = self.out();
        let n = self.data[0];
        [
            vec![n, self.dg * 2 * self.taps(), oh, ow],
            vec![n, self.dg * self.taps(), oh, ow],
            vec![
                self.f,
                self.data[1] / self.groups,
                self.kernel[0],
                self.kernel[1],
            ],
            vec![self.f],
        ]
    }
    fn attrs(&self, bias: bool) -> Vec<(&'static str, String)> {
        let t = |v: [usize; 2]| format!("({},{})", v[0], v[1]);
        vec![
            ("kernel", t(self.kernel)),
            ("stride", t(self.stride)),
            ("pad", t(self.pad)),
            ("dilate", t(self.dilate)),
            ("num_filter", self.f.to_string()),
            ("num_group", self.groups.to_string()),
            ("num_deformable_group", self.dg.to_string()),
            ("no_bias", if bias { "False" } else { "True" }.to_string()),
        ]
    }
}

fn refs<'a>(a: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    a.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// MXNet's sample value written directly: v1 clamps positions past the last row/column onto
/// it, v2 treats pixels outside the image as zero.
fn sample(plane: &[f64], ht: usize, wd: usize, h: f64, w: f64, v2: bool) -> f64 {
    let (hf, wf) = (ht as f64, wd as f64);
    let inside = if v2 {
        h > -1.0 && w > -1.0 && h < hf && w < wf
    } else {
        h >= 0.0 && w >= 0.0 && h < hf && w < wf
    };
    if !inside {
        return 0.0;
    }
    let (h, w) = if v2 {
        (h, w)
    } else {
        (h.min(hf - 1.0), w.min(wf - 1.0))
    };
    let mut s = 0.0;
    for r in [h.floor(), h.floor() + 1.0] {
        for c in [w.floor(), w.floor() + 1.0] {
            let wt = (1.0 - (h - r).abs()) * (1.0 - (w - c).abs());
            if wt == 0.0 {
                continue;
            }
            if r >= 0.0 && c >= 0.0 && r < hf && c < wf {
                s += wt * plane[r as usize * wd + c as usize];
            }
        }
    }
    s
}

#[allow(clippy::too_many_arguments)]
fn naive(
    c: &Case,
    x: &[f64],
    off: &[f64],
    mask: Option<&[f64]>,
    w: &[f64],
    b: Option<&[f64]>,
) -> Vec<f64> {
    let [n, ch, ht, wd] = c.data;
    let [oh, ow] = c.out();
    let (k, cg, fg) = (c.taps(), ch / c.groups, c.f / c.groups);
    let mut y = vec![0.0; n * c.f * oh * ow];
    for ni in 0..n {
        for f in 0..c.f {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b.map_or(0.0, |b| b[f]);
                    for cc in 0..cg {
                        let xc = f / fg * cg + cc;
                        let dgi = xc / (ch / c.dg);
                        for i in 0..c.kernel[0] {
                            for j in 0..c.kernel[1] {
                                let tap = i * c.kernel[1] + j;
                                let at = |chan: usize| {
                                    off[((ni * c.dg * 2 * k + dgi * 2 * k + chan) * oh + oy) * ow
                                        + ox]
                                };
                                let h = (oy * c.stride[0] + i * c.dilate[0]) as f64
                                    - c.pad[0] as f64
                                    + at(2 * tap);
                                let wp = (ox * c.stride[1] + j * c.dilate[1]) as f64
                                    - c.pad[1] as f64
                                    + at(2 * tap + 1);
                                let m = mask.map_or(1.0, |m| {
                                    m[((ni * c.dg * k + dgi * k + tap) * oh + oy) * ow + ox]
                                });
                                let plane = &x[(ni * ch + xc) * ht * wd..][..ht * wd];
                                let v = sample(plane, ht, wd, h, wp, mask.is_some());
                                acc +=
                                    m * v * w[((f * cg + cc) * c.kernel[0] + i) * c.kernel[1] + j];
                            }
                        }
                    }
                    y[((ni * c.f + f) * oh + oy) * ow + ox] = acc;
                }
            }
        }
    }
    y
}

fn cases() -> Vec<Case> {
    let c = |data, f, kernel, stride, pad, dilate, groups, dg| Case {
        data,
        f,
        kernel,
        stride,
        pad,
        dilate,
        groups,
        dg,
    };
    vec![
        c([1, 2, 5, 5], 3, [3, 3], [1, 1], [1, 1], [1, 1], 1, 1),
        c([2, 4, 5, 6], 4, [3, 3], [2, 1], [1, 1], [1, 1], 2, 2),
        c([1, 4, 6, 5], 2, [2, 3], [1, 2], [0, 1], [2, 1], 1, 4),
        c([3, 2, 4, 4], 4, [1, 1], [1, 1], [0, 0], [1, 1], 2, 1),
    ]
}

#[test]
fn forward_matches_direct_loops() {
    for (ci, c) in cases().iter().enumerate() {
        for modulated in [false, true] {
            let bias = ci % 2 == 0;
            let [os, ms, ws, bs] = c.shapes();
            // Offsets wide enough to leave the image on every side.
            let x = rand64(&c.data, -1.0, 1.0, 1);
            let off = rand64(&os, -2.5, 2.5, 2);
            let mask = rand64(&ms, 0.0, 1.0, 3);
            let w = rand64(&ws, -1.0, 1.0, 4);
            let b = rand64(&bs, -1.0, 1.0, 5);
            let mut ins = vec![x.clone(), off.clone()];
            if modulated {
                ins.push(mask.clone());
            }
            ins.push(w.clone());
            if bias {
                ins.push(b.clone());
            }
            let op = if modulated { MODULATED } else { DEFORM };
            let a = c.attrs(bias);
            let got = run(op, &ins, &refs(&a)).to_vec::<f64>().unwrap();
            let v = |a: &crate::ndarray::NDArray| a.to_vec::<f64>().unwrap();
            let mv = v(&mask);
            let bv = v(&b);
            let want = naive(
                c,
                &v(&x),
                &v(&off),
                modulated.then_some(&mv[..]),
                &v(&w),
                bias.then_some(&bv[..]),
            );
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-9, "case {ci} {op}: {g} vs {w}");
            }
        }
    }
}

#[test]
fn zero_offsets_and_unit_mask_are_convolution() {
    let c = &cases()[1];
    let [os, ms, ws, bs] = c.shapes();
    let x = rand64(&c.data, -1.0, 1.0, 6);
    let w = rand64(&ws, -1.0, 1.0, 7);
    let b = rand64(&bs, -1.0, 1.0, 8);
    let zeros = arr(&os, &vec![0f64; os.iter().product()]);
    let ones = arr(&ms, &vec![1f64; ms.iter().product()]);
    let a = c.attrs(true);
    let conv = run(
        "Convolution",
        &[x.clone(), w.clone(), b.clone()],
        &refs(&a[..6]),
    )
    .to_vec::<f64>()
    .unwrap();
    let d = run(
        DEFORM,
        &[x.clone(), zeros.clone(), w.clone(), b.clone()],
        &refs(&a),
    )
    .to_vec::<f64>()
    .unwrap();
    let m = run(MODULATED, &[x, zeros, ones, w, b], &refs(&a))
        .to_vec::<f64>()
        .unwrap();
    for ((p, q), r) in conv.iter().zip(&d).zip(&m) {
        assert!(
            (p - q).abs() < 1e-12 && (p - r).abs() < 1e-12,
            "{p} {q} {r}"
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    for (ci, c) in cases().iter().enumerate() {
        for modulated in [false, true] {
            let bias = ci % 2 == 1;
            let [os, ms, ws, bs] = c.shapes();
            // Offsets with fractional parts in (0.1, 0.9): finite differences never cross a
            // pixel line, where bilinear sampling has a kink.
            let mut ins = vec![rand64(&c.data, -1.0, 1.0, 11), rand64(&os, 0.1, 0.9, 12)];
            if modulated {
                ins.push(rand64(&ms, 0.2, 1.0, 13));
            }
            ins.push(rand64(&ws, -1.0, 1.0, 14));
            if bias {
                ins.push(rand64(&bs, -1.0, 1.0, 15));
            }
            let wrt: Vec<usize> = (0..ins.len()).collect();
            let op = if modulated { MODULATED } else { DEFORM };
            check_grad(op, &refs(&c.attrs(bias)), &ins, &wrt);
        }
    }
}

#[test]
fn bad_inputs_are_errors() {
    let x = arr(&[1, 2, 5, 5], &[0f32; 50]);
    let off = arr(&[1, 18, 3, 3], &[0f32; 162]);
    let w = arr(&[4, 2, 3, 3], &[0f32; 72]);
    let base = [
        ("kernel", "(3,3)"),
        ("num_filter", "4"),
        ("no_bias", "True"),
    ];
    let ok = run(DEFORM, &[x.clone(), off.clone(), w.clone()], &base);
    assert_eq!(ok.shape().dims(), &[1, 4, 3, 3]);
    let bad_off = arr(&[1, 9, 3, 3], &[0f32; 81]);
    let e = err(DEFORM, &[x.clone(), bad_off, w.clone()], &base).to_string();
    assert!(
        e.contains("offset") && e.contains("[1,18,3,3]") && e.contains("[1,9,3,3]"),
        "{e}"
    );
    let e = err(
        DEFORM,
        &[x.clone(), off.clone(), w.clone()],
        &[
            ("kernel", "(1,3,3)"),
            ("num_filter", "4"),
            ("no_bias", "True"),
        ],
    )
    .to_string();
    assert!(e.contains("2-D"), "{e}");
    let e = err(
        DEFORM,
        &[x.clone(), off.clone(), w.clone()],
        &[
            ("kernel", "(3,3)"),
            ("num_filter", "4"),
            ("no_bias", "True"),
            ("layout", "NHWC"),
        ],
    )
    .to_string();
    assert!(e.contains("layout"), "{e}");
    let e = err(
        DEFORM,
        &[x.clone(), off.clone(), w.clone()],
        &[
            ("kernel", "(3,3)"),
            ("num_filter", "4"),
            ("no_bias", "True"),
            ("num_deformable_group", "3"),
        ],
    )
    .to_string();
    assert!(e.contains("num_deformable_group"), "{e}");
    let mask = arr(&[1, 9, 3, 4], &[0f32; 108]);
    let e = err(MODULATED, &[x, off, mask, w], &base).to_string();
    assert!(e.contains("mask"), "{e}");
}
