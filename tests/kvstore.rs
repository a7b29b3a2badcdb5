//! In-process KVStore: sums of values on several contexts (small and streamed sizes, several
//! dtypes, unaligned views), broadcasts, and rejected calls leaving the store unchanged.

use oxnet::kvstore::{KVStore, KVStoreError, Key};
use oxnet::{Context, DType, NDArray, Shape};

fn filled(n: usize, f: impl Fn(usize) -> f32, ctx: Context) -> NDArray {
    let v: Vec<f32> = (0..n).map(f).collect();
    NDArray::from_vec(Shape::new(vec![n]), &v, ctx).expect("array")
}

fn zeros(n: usize, dtype: DType, ctx: Context) -> NDArray {
    let a = NDArray::empty(Shape::new(vec![n]), dtype, ctx).expect("array");
    a.sync_copy_from_host(&vec![0u8; a.nbytes()])
        .expect("zero fill");
    a
}

#[test]
fn push_sums_and_pull_broadcasts() {
    // 1000 elements: plain stores; 600_000 (2.4 MB): streaming stores.
    for n in [1000usize, 600_000] {
        let kv = KVStore::new(false);
        let k = Key::Int(3);
        kv.init(&[(k.clone(), filled(n, |_| 2.0, Context::cpu(0)))], None)
            .expect("init");
        let vals: Vec<NDArray> = (0..4)
            .map(|d| filled(n, |i| (i % 97) as f32 + d as f32, Context::cpu(d)))
            .collect();
        kv.push(&[(k.clone(), vals)], 0, None).expect("push");
        let outs: Vec<NDArray> = (0..4)
            .map(|d| zeros(n, DType::F32, Context::cpu(d)))
            .collect();
        kv.pull(&[(k.clone(), outs.clone())], 0, None)
            .expect("pull");
        for o in &outs {
            let got = o.to_vec::<f32>().expect("read");
            for (i, g) in got.iter().enumerate() {
                assert_eq!(*g, 4.0 * (i % 97) as f32 + 6.0, "n={n} i={i}");
            }
        }
        // A second push assigns (no accumulation).
        kv.push(
            &[(k.clone(), vec![filled(n, |_| 1.0, Context::cpu(1))])],
            0,
            None,
        )
        .expect("push");
        let out64 = zeros(n, DType::F64, Context::cpu(0));
        kv.pull(&[(k, vec![out64.clone()])], 0, None).expect("pull");
        assert!(out64
            .to_vec::<f64>()
            .expect("read")
            .iter()
            .all(|v| *v == 1.0));
    }
}

#[test]
fn unaligned_views_are_summed_and_written() {
    let n = 400_001;
    let base = filled(n + 1, |i| i as f32, Context::cpu(0));
    let view = base.slice_rows(1, n + 1).expect("view");
    let kv = KVStore::new(true);
    let k = Key::Str("w".into());
    kv.init(&[(k.clone(), filled(n, |_| 0.0, Context::cpu(1)))], None)
        .expect("init");
    kv.push(&[(k.clone(), vec![view.clone(), view])], 0, None)
        .expect("push");
    let out_base = zeros(n + 1, DType::F32, Context::cpu(2));
    let out = out_base.slice_rows(1, n + 1).expect("view");
    kv.pull(&[(k, vec![out])], 0, None).expect("pull");
    let got = out_base.to_vec::<f32>().expect("read");
    assert_eq!(got[0], 0.0);
    for i in 0..n {
        assert_eq!(got[i + 1], 2.0 * (i + 1) as f32, "i={i}");
    }
}

#[test]
fn reduce_fills_the_merge_buffer() {
    let kv = KVStore::new(false);
    let k = Key::Int(0);
    kv.init(&[(k.clone(), filled(10, |_| 5.0, Context::cpu(0)))], None)
        .expect("init");
    let vals = vec![
        filled(10, |i| i as f32, Context::cpu(0)),
        filled(10, |_| 1.0, Context::cpu(1)),
    ];
    let (merged, stored) = kv.reduce(&k, &vals, 0, None).expect("reduce");
    let m = merged.to_vec::<f32>().expect("read");
    assert_eq!(m, (0..10).map(|i| i as f32 + 1.0).collect::<Vec<_>>());
    assert!(stored
        .to_vec::<f32>()
        .expect("read")
        .iter()
        .all(|v| *v == 5.0));
    // The buffer is reused by the next reduce.
    let (again, _) = kv.reduce(&k, &vals[1..], 0, None).expect("reduce");
    assert!(again.same_chunk(&merged));
}

#[test]
fn rejected_calls_leave_the_store_unchanged() {
    let kv = KVStore::new(false);
    let (a, b) = (Key::Int(1), Key::Int(2));
    kv.init(&[(a.clone(), filled(4, |_| 1.0, Context::cpu(0)))], None)
        .expect("init");
    let err = kv
        .init(&[(a.clone(), filled(4, |_| 9.0, Context::cpu(0)))], None)
        .unwrap_err();
    assert!(matches!(err, KVStoreError::DuplicateInit(_)), "{err}");
    assert!(err.to_string().contains("duplicate init of key 1"));
    // Key 2 is missing: nothing is pushed for key 1 either.
    let err = kv
        .push(
            &[
                (a.clone(), vec![filled(4, |_| 7.0, Context::cpu(0))]),
                (b.clone(), vec![filled(4, |_| 7.0, Context::cpu(0))]),
            ],
            0,
            None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("key 2 doesn't exist"), "{err}");
    let err = kv
        .push(
            &[(a.clone(), vec![filled(5, |_| 7.0, Context::cpu(0))])],
            0,
            None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("(5,)"), "{err}");
    let other = zeros(4, DType::F64, Context::cpu(0));
    let err = kv
        .push(
            &[(a.clone(), vec![filled(4, |_| 7.0, Context::cpu(0)), other])],
            0,
            None,
        )
        .unwrap_err();
    assert!(matches!(err, KVStoreError::PushDType { .. }), "{err}");
    let err = kv
        .pull(
            &[(a.clone(), vec![zeros(3, DType::F32, Context::cpu(0))])],
            0,
            None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("shape mismatch"), "{err}");
    let out = zeros(4, DType::F32, Context::cpu(0));
    kv.pull(&[(a, vec![out.clone()])], 0, None).expect("pull");
    assert_eq!(out.to_vec::<f32>().expect("read"), vec![1.0; 4]);
}

#[test]
fn integer_and_half_sums() {
    let kv = KVStore::new(false);
    let k = Key::Int(7);
    let ints: Vec<i32> = (0..70_000).collect();
    let v = NDArray::from_vec(Shape::new(vec![70_000]), &ints, Context::cpu(0)).expect("array");
    kv.init(&[(k.clone(), v.clone())], None).expect("init");
    kv.push(&[(k.clone(), vec![v.clone(), v.clone(), v])], 0, None)
        .expect("push");
    let out = zeros(70_000, DType::I32, Context::cpu(3));
    kv.pull(&[(k, vec![out.clone()])], 0, None).expect("pull");
    let got = out.to_vec::<i32>().expect("read");
    assert!(got.iter().enumerate().all(|(i, g)| *g == 3 * i as i32));

    let h: Vec<half::f16> = (0..300).map(|i| half::f16::from_f32(i as f32)).collect();
    let hv = NDArray::from_vec(Shape::new(vec![300]), &h, Context::cpu(0)).expect("array");
    let k = Key::Int(8);
    kv.init(&[(k.clone(), hv.clone())], None).expect("init");
    kv.push(&[(k.clone(), vec![hv.clone(), hv])], 0, None)
        .expect("push");
    let out = zeros(300, DType::F16, Context::cpu(0));
    kv.pull(&[(k, vec![out.clone()])], 0, None).expect("pull");
    let got = out.to_vec::<half::f16>().expect("read");
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, g)| g.to_f32() == 2.0 * i as f32));
}

/// The Python benchmark's workload without Python: 10 keys of 1M f32, 4 values pushed and 4
/// outputs pulled per key. `cargo test --release --test kvstore -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_report() {
    let (keys, n, dev) = (10usize, 1usize << 20, 4i32);
    let kv = KVStore::new(false);
    let ks: Vec<Key> = (0..keys as i64).map(Key::Int).collect();
    let init: Vec<(Key, NDArray)> = ks
        .iter()
        .map(|k| (k.clone(), zeros(n, DType::F32, Context::cpu(0))))
        .collect();
    kv.init(&init, None).expect("init");
    let vals: Vec<(Key, Vec<NDArray>)> = ks
        .iter()
        .map(|k| {
            let v = (0..dev).map(|d| filled(n, |_| 1.0, Context::cpu(d)));
            (k.clone(), v.collect())
        })
        .collect();
    let outs: Vec<(Key, Vec<NDArray>)> = ks
        .iter()
        .map(|k| {
            let o = (0..dev).map(|d| zeros(n, DType::F32, Context::cpu(d)));
            (k.clone(), o.collect())
        })
        .collect();
    let gb = (keys * 2 * dev as usize * n * 4) as f64 / 1e9;
    for phase in ["push", "pull", "both"] {
        let mut ts = Vec::new();
        for _ in 0..15 {
            let t = std::time::Instant::now();
            if phase != "pull" {
                kv.push(&vals, 0, None).expect("push");
            }
            if phase != "push" {
                kv.pull(&outs, 0, None).expect("pull");
            }
            oxnet::ndarray::waitall().expect("wait");
            ts.push(t.elapsed().as_secs_f64());
        }
        ts.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{phase}: min {:.2} ms, median {:.2} ms ({:.1} GB/s by the bench's count at the median)",
            ts[0] * 1e3,
            ts[7] * 1e3,
            gb / ts[7]
        );
    }
}

#[test]
fn pushpull_sums_into_store_and_outputs_in_one_op() {
    let n = 500_000;
    let kv = KVStore::new(false);
    let k = Key::Int(1);
    kv.init(&[(k.clone(), zeros(n, DType::F32, Context::cpu(0)))], None)
        .expect("init");
    let vals: Vec<NDArray> = (0..3)
        .map(|d| filled(n, |i| (i % 13) as f32 * (d + 1) as f32, Context::cpu(d)))
        .collect();
    // In place: the values are the outputs.
    kv.pushpull(
        &[(k.clone(), vals.clone())],
        &[(k.clone(), vals.clone())],
        0,
        None,
    )
    .expect("pushpull");
    let out = zeros(n, DType::F32, Context::cpu(2));
    kv.pull(&[(k.clone(), vec![out.clone()])], 0, None)
        .expect("pull");
    for a in vals.iter().chain(std::iter::once(&out)) {
        let got = a.to_vec::<f32>().expect("read");
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, g)| *g == 6.0 * (i % 13) as f32));
    }
    let err = kv
        .pushpull(
            &[(k.clone(), vals.clone())],
            &[(k, vec![zeros(3, DType::F32, Context::cpu(0))])],
            0,
            None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("shape mismatch"), "{err}");
}
