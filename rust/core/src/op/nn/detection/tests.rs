//! Checks against MXNet 1.9.1's printed outputs (mxnet_values.rs) on reproducible inputs,
//! plus small independent references (IoU, greedy NMS) and error cases.

use super::mxnet_values::*;
use crate::ndarray::NDArray;
use crate::op::call_str;
use crate::op::test_util::{arr, check_grad, err, f32s, rand64};

/// The probe scripts' input sequence: ((i * 7919 + seed * 104729 + 13) % 1009) / 1009 mapped
/// to [lo, hi), computed in float64 and stored as float32 as numpy did.
fn seq(n: usize, seed: usize, lo: f64, hi: f64) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let v = ((i * 7919 + seed * 104729 + 13) % 1009) as f64 / 1009.0;
            (lo + (hi - lo) * v) as f32
        })
        .collect()
}

/// n corner boxes: xmin, ymin in [0, 0.6), sides in [0.05, 0.45) (float32 arithmetic).
fn corner_boxes(n: usize, seed: usize) -> Vec<f32> {
    let a = seq(n * 4, seed, 0.0, 1.0);
    a.chunks_exact(4)
        .flat_map(|q| {
            let (x0, y0) = (q[0] * 0.6, q[1] * 0.6);
            let (w, h) = (0.05 + q[2] * 0.4, 0.05 + q[3] * 0.4);
            [x0, y0, x0 + w, y0 + h]
        })
        .collect()
}

fn nms_data() -> Vec<f32> {
    let n = 16;
    let ids = seq(n, 3, 0.0, 1.0);
    let sc = seq(n, 4, 0.0, 1.0);
    let j = seq(n * 4, 5, -0.08, 0.08);
    let base = [[0.1f32, 0.1, 0.4, 0.4], [0.3, 0.3, 0.7, 0.6]];
    (0..n)
        .flat_map(|i| {
            let b = base[i % 2];
            [
                (ids[i] * 3.0).floor(),
                sc[i],
                b[0] + j[i * 4],
                b[1] + j[i * 4 + 1],
                b[2] + j[i * 4 + 2],
                b[3] + j[i * 4 + 3],
            ]
        })
        .collect()
}

/// The gradient of input 0 of `op` for head gradient `head` on its first output, through
/// autograd (the path `mx.autograd` takes).
fn input_grad(op: &str, attrs: &[(&str, &str)], ins: &[NDArray], head: NDArray) -> Vec<f32> {
    let a: Vec<(String, String)> = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let o = crate::op::registry().get(op).unwrap().create(&a).unwrap();
    let outs = crate::op::invoke(&o, ins, None, None).unwrap();
    let g = arr(ins[0].shape().dims(), &vec![0f32; ins[0].size()]);
    let e0 = crate::autograd::mark_variable(&ins[0], g.clone(), crate::executor::GradReq::Write);
    let heads = crate::autograd::record(&o, a, ins, &[Some(e0)], &outs);
    crate::autograd::backward(&heads[..1], &[Some(head)], false, false).unwrap();
    f32s(&g)
}

type Attrs = &'static [(&'static str, &'static str)];

#[track_caller]
fn close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "element {i}: got {g}, MXNet {w}\ngot  {got:?}\nwant {want:?}"
        );
    }
}

fn outs(op: &str, ins: &[NDArray], attrs: &[(&str, &str)]) -> Vec<Vec<f32>> {
    call_str(op, ins, attrs)
        .unwrap_or_else(|e| panic!("{op} {attrs:?}: {e}"))
        .iter()
        .map(f32s)
        .collect()
}

#[test]
fn box_iou_matches_mxnet_and_a_reference() {
    let (l, r) = (corner_boxes(6, 1), corner_boxes(5, 2));
    let (la, ra) = (arr(&[2, 3, 4], &l), arr(&[5, 4], &r));
    let o = call_str("_contrib_box_iou", &[la.clone(), ra.clone()], &[]).unwrap();
    assert_eq!(o[0].shape().dims(), &[2, 3, 5]);
    close(&f32s(&o[0]), IOU_CORNER, 1e-6);
    close(
        &outs("_contrib_box_iou", &[la, ra], &[("format", "center")])[0],
        IOU_CENTER,
        1e-6,
    );
    // Independent reference in f64.
    let iou = |a: &[f32], b: &[f32]| {
        let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) as f64;
        let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0) as f64;
        let area = |q: &[f32]| ((q[2] - q[0]) * (q[3] - q[1])) as f64;
        w * h / (area(a) + area(b) - w * h)
    };
    let want: Vec<f32> = l
        .chunks(4)
        .flat_map(|a| r.chunks(4).map(move |b| iou(a, b) as f32))
        .collect();
    close(IOU_CORNER, &want, 1e-6);
    // Negative widths have area 0; two empty boxes overlap 0.
    let l2 = arr(
        &[3, 4],
        &[0.5f32, 0.5, 0.4, 0.9, 0., 0., 0., 0., 0.1, 0.1, 0.3, 0.3],
    );
    let r2 = arr(
        &[3, 4],
        &[0.1f32, 0.1, 0.3, 0.3, 0., 0., 0., 0., 0.2, 0.2, 0.6, 0.6],
    );
    close(
        &outs("_contrib_box_iou", &[l2, r2], &[])[0],
        &[0., 0., 0., 0., 0., 0., 1., 0., 0.05263158],
        1e-6,
    );
}

#[test]
fn box_nms_matches_mxnet() {
    let d = arr(&[2, 8, 6], &nms_data());
    assert_eq!(f32s(&d), NMS_DATA);
    let cases: [(Attrs, &[f32]); 8] = [
        (&[], NMS_DEFAULT),
        (&[("overlap_thresh", "0.3")], NMS_T03),
        (&[("overlap_thresh", "0.3"), ("id_index", "0")], NMS_T03_ID),
        (
            &[
                ("overlap_thresh", "0.3"),
                ("id_index", "0"),
                ("background_id", "1"),
                ("valid_thresh", "0.2"),
            ],
            NMS_T03_ID_BG_VALID,
        ),
        (&[("overlap_thresh", "0.3"), ("topk", "3")], NMS_T03_TOPK3),
        (
            &[("overlap_thresh", "0.3"), ("out_format", "center")],
            NMS_T03_CENTER_OUT,
        ),
        (
            &[
                ("overlap_thresh", "0.5"),
                ("in_format", "center"),
                ("out_format", "corner"),
            ],
            NMS_CENTER_IN,
        ),
        (
            &[
                ("coord_start", "1"),
                ("score_index", "0"),
                ("id_index", "5"),
                ("overlap_thresh", "0.4"),
            ],
            NMS_LAYOUT,
        ),
    ];
    for (attrs, want) in cases {
        let o = call_str("_contrib_box_nms", std::slice::from_ref(&d), attrs).unwrap();
        // One visible output, the hidden record holds the kept input rows.
        assert_eq!(o.len(), 2, "{attrs:?}");
        assert_eq!(o[1].shape().dims(), &[2, 8, 1]);
        close(&f32s(&o[0]), want, 1e-6);
    }
    // The alias, 2-D and 4-D inputs, topk=0 (a copy), everything filtered (all -1).
    let two = outs(
        "_contrib_box_non_maximum_suppression",
        &[arr(&[8, 6], &NMS_DATA[..48])],
        &[("overlap_thresh", "0.3")],
    );
    close(&two[0], &NMS_T03[..48], 0.0);
    let four = outs(
        "_contrib_box_nms",
        &[arr(&[2, 1, 8, 6], NMS_DATA)],
        &[("overlap_thresh", "0.3")],
    );
    close(&four[0], NMS_T03, 0.0);
    let copy = outs(
        "_contrib_box_nms",
        std::slice::from_ref(&d),
        &[("topk", "0")],
    );
    close(&copy[0], NMS_DATA, 0.0);
    assert_eq!(copy[1], (0..16).map(|i| i as f32).collect::<Vec<_>>());
    let none = outs(
        "_contrib_box_nms",
        std::slice::from_ref(&d),
        &[("valid_thresh", "2")],
    );
    assert!(none[0].iter().chain(&none[1]).all(|&v| v == -1.0));
    // float64 selects the same boxes.
    let d64 = arr(
        &[2, 8, 6],
        &NMS_DATA.iter().map(|&v| v as f64).collect::<Vec<_>>(),
    );
    let o = call_str("_contrib_box_nms", &[d64], &[("overlap_thresh", "0.3")]).unwrap();
    close(
        &o[0]
            .to_vec::<f64>()
            .unwrap()
            .iter()
            .map(|&v| v as f32)
            .collect::<Vec<_>>(),
        NMS_T03,
        1e-7,
    );
}

#[test]
fn box_nms_is_greedy_nms() {
    // Reference: sort by score, keep a box unless it overlaps a kept one by more than 0.45.
    let d = nms_data();
    let o = outs(
        "_contrib_box_nms",
        &[arr(&[2, 8, 6], &d)],
        &[("overlap_thresh", "0.45")],
    );
    for b in 0..2 {
        let rows: Vec<&[f32]> = d[b * 48..(b + 1) * 48].chunks(6).collect();
        let mut order: Vec<usize> = (0..8).collect();
        order.sort_by(|&i, &j| rows[j][1].partial_cmp(&rows[i][1]).unwrap());
        let mut kept: Vec<usize> = Vec::new();
        for &i in &order {
            let iou = |a: &[f32], q: &[f32]| {
                let w = (a[4].min(q[4]) - a[2].max(q[2])).max(0.0);
                let h = (a[5].min(q[5]) - a[3].max(q[3])).max(0.0);
                let ar = |z: &[f32]| (z[4] - z[2]) * (z[5] - z[3]);
                w * h / (ar(a) + ar(q) - w * h)
            };
            if kept.iter().all(|&k| iou(rows[k], rows[i]) <= 0.45) {
                kept.push(i);
            }
        }
        let mut want: Vec<f32> = kept.iter().flat_map(|&k| rows[k].to_vec()).collect();
        want.resize(48, -1.0);
        assert_eq!(&o[0][b * 48..(b + 1) * 48], &want[..], "batch {b}");
    }
}

#[test]
fn box_nms_gradient_follows_kept_rows() {
    let og: Vec<f32> = (0..96).map(|i| i as f32 * 0.01 + 0.01).collect();
    let attrs = [("overlap_thresh", "0.3"), ("id_index", "0"), ("topk", "5")];
    let g = input_grad(
        "_contrib_box_nms",
        &attrs,
        &[arr(&[2, 8, 6], NMS_DATA)],
        arr(&[2, 8, 6], &og),
    );
    close(&g, NMS_GRAD, 1e-6);
}

#[test]
fn bipartite_matching_matches_mxnet() {
    let s = arr(&[2, 4, 3], &seq(24, 11, 0.0, 1.0));
    let cases: [(Attrs, &[f32], &[f32]); 4] = [
        (&[("threshold", "0.1")], BM_T01_ROWS, BM_T01_COLS),
        (&[("threshold", "0.5")], BM_T05_ROWS, BM_T05_COLS),
        // MXNet keeps topk + 1 pairs (it stops after the pair that exceeds topk).
        (
            &[("threshold", "0.1"), ("topk", "1")],
            BM_TOPK1_ROWS,
            BM_TOPK1_COLS,
        ),
        (
            &[("threshold", "0.6"), ("is_ascend", "True")],
            BM_ASC_ROWS,
            BM_ASC_COLS,
        ),
    ];
    for (attrs, rows, cols) in cases {
        let o = outs(
            "_contrib_bipartite_matching",
            std::slice::from_ref(&s),
            attrs,
        );
        assert_eq!((&o[0][..], &o[1][..]), (rows, cols), "{attrs:?}");
    }
    // MXNet's documented example.
    let doc = arr(&[3, 2], &[0.5f32, 0.6, 0.1, 0.2, 0.3, 0.4]);
    let o = outs(
        "_contrib_bipartite_matching",
        &[doc],
        &[("threshold", "1e-12")],
    );
    assert_eq!(
        (&o[0][..], &o[1][..]),
        (&[1f32, -1., 0.][..], &[2f32, 0.][..])
    );
}

#[test]
fn box_encode_decode_match_mxnet() {
    let samples = arr(&[2, 4], &[1f32, -1., 0., 1., 1., 1., 0., -1.]);
    let matches = arr(&[2, 4], &[0f32, 1., 2., 2., 1., 0., 0., 2.]);
    let anchors = corner_boxes(8, 12);
    let refs = arr(&[2, 3, 4], &corner_boxes(6, 13));
    let means = arr(&[4], &[0f32, 0.1, 0., -0.1]);
    let stds = arr(&[4], &[0.1f32, 0.1, 0.2, 0.2]);
    let ins = [
        samples.clone(),
        matches,
        arr(&[2, 4, 4], &anchors),
        refs.clone(),
        means.clone(),
        stds.clone(),
    ];
    let o = outs("_contrib_box_encode", &ins, &[]);
    close(&o[0], ENC_TARGETS, 1e-5);
    assert_eq!(o[1], ENC_MASKS);
    // A positive sample matched outside refs is an error, not an out-of-bounds read.
    let bad = arr(&[2, 4], &[0f32, 1., 2., 3., 1., 0., 0., 2.]);
    let ins2 = [samples, bad, arr(&[2, 4, 4], &anchors), refs, means, stds];
    let e = err("_contrib_box_encode", &ins2, &[]);
    assert!(e.to_string().contains("matches[0, 3]"), "{e}");
    let data = arr(&[2, 4, 4], &seq(32, 14, -1.0, 1.0));
    let a1 = arr(&[1, 4, 4], &anchors[..16]);
    let cases: [(Attrs, &[f32]); 3] = [
        (&[], DEC_CENTER),
        (
            &[
                ("std0", "0.1"),
                ("std1", "0.1"),
                ("std2", "0.2"),
                ("std3", "0.2"),
                ("format", "corner"),
            ],
            DEC_CORNER_STD,
        ),
        (&[("clip", "0.3"), ("std2", "2"), ("std3", "3")], DEC_CLIP),
    ];
    for (attrs, want) in cases {
        close(
            &outs("_contrib_box_decode", &[data.clone(), a1.clone()], attrs)[0],
            want,
            1e-5,
        );
    }
    let e = err(
        "_contrib_box_decode",
        &[data.clone(), arr(&[1, 3, 4], &[0f32; 12])],
        &[],
    );
    assert!(e.to_string().contains("[1,3,4]"), "{e}");
    let e = err("_contrib_box_decode", &[arr(&[8, 4], &[0f32; 32]), a1], &[]);
    assert!(e.to_string().contains("_contrib_box_decode"), "{e}");
}

#[test]
fn multibox_prior_matches_mxnet() {
    let x = arr(&[1, 3, 2, 3], &[0f32; 18]);
    let cases: [(Attrs, &[f32], usize); 4] = [
        (&[], PRIOR_DEFAULT, 6),
        (
            &[("sizes", "(0.5, 0.25)"), ("ratios", "(1, 2, 0.5)")],
            PRIOR_SR,
            24,
        ),
        (
            &[
                ("sizes", "(0.9, 0.3)"),
                ("ratios", "(1, 3)"),
                ("clip", "True"),
            ],
            PRIOR_CLIP,
            18,
        ),
        (
            &[
                ("sizes", "(0.4,)"),
                ("steps", "(0.2, 0.3)"),
                ("offsets", "(0.25, 0.75)"),
            ],
            PRIOR_STEPS,
            6,
        ),
    ];
    for (attrs, want, n) in cases {
        let o = call_str("_contrib_MultiBoxPrior", std::slice::from_ref(&x), attrs).unwrap();
        assert_eq!(o[0].shape().dims(), &[1, n, 4], "{attrs:?}");
        close(&f32s(&o[0]), want, 1e-6);
    }
    for (attrs, what) in [
        (&[("steps", "(-1, 0.2)")][..], "step_y and step_x"),
        (&[("offsets", "(1.5, 0.5)")], "offsets"),
        (&[("steps", "(0.1,)")], "steps"),
        (&[("sizes", "()")], "sizes"),
    ] {
        let e = err("_contrib_MultiBoxPrior", std::slice::from_ref(&x), attrs);
        assert!(e.to_string().contains(what), "{attrs:?}: {e}");
    }
    let e = err(
        "_contrib_MultiBoxPrior",
        &[arr(&[2, 3, 4], &[0f32; 24])],
        &[],
    );
    assert!(e.to_string().contains("4-D"), "{e}");
}

fn target_anchors() -> NDArray {
    let x = arr(&[1, 1, 3, 3], &[0f32; 9]);
    call_str(
        "_contrib_MultiBoxPrior",
        &[x],
        &[("sizes", "(0.3, 0.5)"), ("ratios", "(1, 2)")],
    )
    .unwrap()
    .remove(0)
}

#[test]
fn multibox_target_matches_mxnet() {
    let anchors = target_anchors();
    let label = arr(&[2, 3, 5], TGT_LABEL);
    let cls = arr(&[2, 4, 27], &seq(2 * 4 * 27, 7, -2.0, 2.0));
    let cases: [(Attrs, [&[f32]; 3]); 5] = [
        (&[], [TGT_DEFAULT_LOC, TGT_DEFAULT_MASK, TGT_DEFAULT_CLS]),
        (
            &[("overlap_threshold", "0.3")],
            [TGT_T03_LOC, TGT_T03_MASK, TGT_T03_CLS],
        ),
        (
            &[
                ("negative_mining_ratio", "3"),
                ("negative_mining_thresh", "0.4"),
            ],
            [TGT_MINE_LOC, TGT_MINE_MASK, TGT_MINE_CLS],
        ),
        (
            &[
                ("negative_mining_ratio", "1.5"),
                ("minimum_negative_samples", "5"),
                ("ignore_label", "-2"),
            ],
            [TGT_MINE_IGN_LOC, TGT_MINE_IGN_MASK, TGT_MINE_IGN_CLS],
        ),
        (
            &[
                ("overlap_threshold", "0"),
                ("variances", "(0.2, 0.2, 0.1, 0.1)"),
            ],
            [TGT_VAR_LOC, TGT_VAR_MASK, TGT_VAR_CLS],
        ),
    ];
    for (attrs, want) in cases {
        let o = outs(
            "_contrib_MultiBoxTarget",
            &[anchors.clone(), label.clone(), cls.clone()],
            attrs,
        );
        close(&o[0], want[0], 1e-5);
        assert_eq!(o[1], want[1], "{attrs:?}");
        assert_eq!(o[2], want[2], "{attrs:?}");
    }
    // A padding row (class -1) with real coordinates is refused, as MXNet's check.
    let mut bad = TGT_LABEL.to_vec();
    bad[10..15].copy_from_slice(&[-1., 0.2, 0.2, 0.3, 0.3]);
    let e = err(
        "_contrib_MultiBoxTarget",
        &[anchors.clone(), arr(&[2, 3, 5], &bad), cls.clone()],
        &[],
    );
    assert!(e.to_string().contains("label[0, 2]"), "{e}");
    let e = err(
        "_contrib_MultiBoxTarget",
        &[anchors, arr(&[2, 3, 4], &[0f32; 24]), cls],
        &[],
    );
    assert!(e.to_string().contains("label_width"), "{e}");
}

#[test]
fn multibox_detection_matches_mxnet() {
    let x = arr(&[1, 1, 2, 3], &[0f32; 6]);
    let anchors = call_str(
        "_contrib_MultiBoxPrior",
        &[x],
        &[("sizes", "(0.4, 0.6)"), ("ratios", "(1, 2)")],
    )
    .unwrap()
    .remove(0);
    let prob = arr(&[2, 3, 18], DET_PROB);
    let loc = arr(&[2, 72], &seq(144, 9, -1.0, 1.0));
    let cases: [(Attrs, &[f32]); 5] = [
        (&[], DET_DEFAULT),
        (
            &[("nms_threshold", "0.3"), ("force_suppress", "True")],
            DET_FORCE,
        ),
        // Rows past nms_topk keep stale values with class -1, as MXNet.
        (&[("clip", "False"), ("nms_topk", "5")], DET_NOCLIP_TOPK),
        (
            &[
                ("variances", "(0.2, 0.2, 0.1, 0.1)"),
                ("threshold", "0.35"),
                ("nms_threshold", "0.6"),
            ],
            DET_VAR,
        ),
        (&[("nms_threshold", "0")], DET_NONMS),
    ];
    for (attrs, want) in cases {
        let o = outs(
            "_contrib_MultiBoxDetection",
            &[prob.clone(), loc.clone(), anchors.clone()],
            attrs,
        );
        close(&o[0], want, 1e-5);
    }
    let e = err(
        "_contrib_MultiBoxDetection",
        &[prob, arr(&[2, 73], &[0f32; 146]), anchors],
        &[],
    );
    assert!(e.to_string().contains("[2,73]"), "{e}");
}

#[test]
fn roi_align_matches_mxnet() {
    let feat = arr(&[2, 4, 5, 6], &seq(240, 15, -1.0, 1.0));
    let rois = arr(&[4, 5], RA_ROIS);
    let aligned_rois = arr(&[3, 5], &[&RA_ROIS[..10], &RA_ROIS[15..]].concat());
    let cases: [(Attrs, &NDArray, &[f32]); 4] = [
        (
            &[("pooled_size", "(2, 3)"), ("spatial_scale", "0.8")],
            &rois,
            RA_DEFAULT,
        ),
        (
            &[
                ("pooled_size", "(3, 2)"),
                ("spatial_scale", "0.5"),
                ("sample_ratio", "2"),
            ],
            &rois,
            RA_SR2,
        ),
        (
            &[
                ("pooled_size", "(2, 2)"),
                ("spatial_scale", "1"),
                ("aligned", "True"),
                ("sample_ratio", "3"),
            ],
            &aligned_rois,
            RA_ALIGNED,
        ),
        (
            &[
                ("pooled_size", "(2, 2)"),
                ("spatial_scale", "0.7"),
                ("position_sensitive", "True"),
            ],
            &rois,
            RA_PS,
        ),
    ];
    for (attrs, r, want) in cases {
        close(
            &outs("_contrib_ROIAlign", &[feat.clone(), r.clone()], attrs)[0],
            want,
            1e-5,
        );
    }
    let a = [("pooled_size", "(2, 3)"), ("spatial_scale", "0.8")];
    let head = arr(&[4, 4, 2, 3], &seq(96, 16, -1.0, 1.0));
    let g = input_grad("_contrib_ROIAlign", &a, &[feat.clone(), rois.clone()], head);
    close(&g, RA_GRAD, 1e-5);
    // Finite differences on random data, negative batch index included.
    let d = rand64(&[2, 3, 4, 5], -1.0, 1.0, 3);
    let r = arr(
        &[3, 5],
        &[
            0f64, 0.3, 0.6, 3.2, 2.9, 1., 1.1, 0.2, 4.4, 3.7, -1., 0., 0., 2., 2.,
        ],
    );
    check_grad(
        "_contrib_ROIAlign",
        &[("pooled_size", "(2, 2)"), ("spatial_scale", "1")],
        &[d, r],
        &[0],
    );
}

#[test]
fn roi_align_bad_inputs_are_errors() {
    let x = arr(&[2, 4, 5, 6], &[0f32; 240]);
    let a = [("pooled_size", "(2, 2)"), ("spatial_scale", "1")];
    let e = err(
        "_contrib_ROIAlign",
        &[x.clone(), arr(&[1, 5], &[2f32, 0., 0., 1., 1.])],
        &a,
    );
    assert!(e.to_string().contains("batch index 2"), "{e}");
    let e = err(
        "_contrib_ROIAlign",
        &[x.clone(), arr(&[1, 4], &[0f32; 4])],
        &a,
    );
    assert!(e.to_string().contains("[1,4]"), "{e}");
    let ps = [
        ("pooled_size", "(3, 3)"),
        ("spatial_scale", "1"),
        ("position_sensitive", "True"),
    ];
    let e = err(
        "_contrib_ROIAlign",
        &[x.clone(), arr(&[1, 5], &[0f32; 5])],
        &ps,
    );
    assert!(e.to_string().contains("multiple"), "{e}");
    let al = [
        ("pooled_size", "(2, 2)"),
        ("spatial_scale", "1"),
        ("aligned", "True"),
    ];
    let e = err(
        "_contrib_ROIAlign",
        &[x.clone(), arr(&[1, 5], &[0f32, 2., 2., 1., 3.])],
        &al,
    );
    assert!(e.to_string().contains("aligned"), "{e}");
    // Negative batch index: zeros.
    let o = outs(
        "_contrib_ROIAlign",
        &[
            arr(&[1, 1, 2, 2], &[1f32; 4]),
            arr(&[1, 5], &[-1f32, 0., 0., 1., 1.]),
        ],
        &a,
    );
    assert_eq!(o[0], [0f32; 4]);
}

#[test]
fn box_shapes_and_errors_name_the_op() {
    let e = err(
        "_contrib_box_iou",
        &[arr(&[3, 5], &[0f32; 15]), arr(&[2, 4], &[0f32; 8])],
        &[],
    );
    assert!(
        e.to_string().contains("_contrib_box_iou") && e.to_string().contains("[3,5]"),
        "{e}"
    );
    let e = err(
        "_contrib_box_iou",
        &[arr(&[4], &[0f32; 4]), arr(&[2, 4], &[0f32; 8])],
        &[],
    );
    assert!(e.to_string().contains("lhs"), "{e}");
    let e = err(
        "_contrib_box_iou",
        &[arr(&[2, 4], &[0f32; 8]), arr(&[2, 4], &[0f32; 8])],
        &[("format", "xyz")],
    );
    assert!(e.to_string().contains("format"), "{e}");
    let z = |s: &[usize]| arr(s, &vec![0f32; s.iter().product()]);
    for (shape, attrs, what) in [
        (&[3usize, 4][..], &[][..], "at least 5"),
        (&[3, 5], &[("id_index", "0")][..], "at least 6"),
        (&[5], &[], "at least 2 dimensions"),
        (
            &[3, 6],
            &[("score_index", "3")],
            "conflicts with coordinates",
        ),
        (&[3, 6], &[("coord_start", "4")], "out of range"),
        (&[3, 6], &[("id_index", "2")], "id_index 2 conflicts"),
        (&[3, 6], &[("id_index", "1")], "conflicts with score_index"),
        (
            &[3, 6],
            &[("score_index", "6")],
            "score_index 6 out of range",
        ),
    ] {
        let e = err("_contrib_box_nms", &[z(shape)], attrs);
        let s = e.to_string();
        assert!(
            s.contains(what) && s.contains("_contrib_box_nms"),
            "{shape:?} {attrs:?}: {s}"
        );
    }
    let e = err("_contrib_box_nms", &[arr(&[2, 6], &[0i32; 12])], &[]);
    assert!(e.to_string().contains("int32"), "{e}");
    let o = call_str(
        "_contrib_bipartite_matching",
        &[z(&[2, 1, 4, 3])],
        &[("threshold", "0.1")],
    )
    .unwrap();
    assert_eq!(
        (o[0].shape().dims(), o[1].shape().dims()),
        (&[2usize, 1, 4][..], &[2usize, 1, 3][..])
    );
}
