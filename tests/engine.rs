//! Engine tests: random workloads on the threaded engine must give exactly the results of the
//! naive (synchronous) engine; errors poison dependents and are raised once.

use oxnet::engine::{Engine, EngineKind, Task, Var};
use oxnet::Error;
use std::borrow::Cow;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

fn leak(kind: EngineKind, threads: usize) -> &'static Engine {
    Box::leak(Box::new(Engine::new(kind, threads)))
}

/// xorshift for reproducible workloads without extra crates.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Runs a random program of `n_ops` ops over `n_vars` variables; returns the final values.
fn run_workload(engine: &'static Engine, seed: u64, n_vars: usize, n_ops: usize) -> Vec<i64> {
    let vars: Vec<Var> = (0..n_vars).map(|_| Var::new()).collect();
    let vals: Arc<Vec<AtomicI64>> =
        Arc::new((0..n_vars).map(|i| AtomicI64::new(i as i64)).collect());
    let mut rng = Rng(seed);
    for op in 0..n_ops {
        let n_reads = rng.below(4);
        let n_writes = 1 + rng.below(2);
        let reads: Vec<usize> = (0..n_reads).map(|_| rng.below(n_vars)).collect();
        let writes: Vec<usize> = (0..n_writes).map(|_| rng.below(n_vars)).collect();
        let spin = rng.below(200);
        let v = vals.clone();
        let (r2, w2) = (reads.clone(), writes.clone());
        engine.push(Task {
            name: Cow::Borrowed("random_op"),
            reads: reads.iter().map(|&i| vars[i].clone()).collect(),
            writes: writes.iter().map(|&i| vars[i].clone()).collect(),
            body: Box::new(move || {
                let mut acc = op as i64;
                for &r in &r2 {
                    acc = acc
                        .wrapping_mul(31)
                        .wrapping_add(v[r].load(Ordering::Relaxed));
                }
                for _ in 0..spin {
                    std::hint::spin_loop();
                }
                for &w in &w2 {
                    let old = v[w].load(Ordering::Relaxed);
                    v[w].store(old.wrapping_mul(7).wrapping_add(acc), Ordering::Relaxed);
                }
                Ok(())
            }),
            origin: None,
            cost: if op % 3 == 0 { 0 } else { usize::MAX / 2 },
            priority: (op % 5 == 0) as i32,
        });
    }
    engine.wait_all().expect("workload has no failing op");
    vals.iter().map(|a| a.load(Ordering::Relaxed)).collect()
}

#[test]
fn random_workloads_match_naive_engine() {
    let naive = leak(EngineKind::Naive, 1);
    let threaded = leak(EngineKind::Threaded, 4);
    for seed in 1..=12u64 {
        let (nv, no) = (2 + (seed as usize * 7) % 40, 3000);
        let expect = run_workload(naive, seed, nv, no);
        let got = run_workload(threaded, seed, nv, no);
        assert_eq!(expect, got, "seed {seed}");
    }
}

#[test]
fn concurrent_readers_overlap_and_writers_are_exclusive() {
    let engine = leak(EngineKind::Threaded, 4);
    let v = Var::new();
    let active = Arc::new(AtomicI64::new(0));
    let max_seen = Arc::new(AtomicI64::new(0));
    for i in 0..400 {
        let (a, m) = (active.clone(), max_seen.clone());
        let write = i % 50 == 0;
        engine.push(Task {
            name: Cow::Borrowed("rw"),
            reads: if write { vec![] } else { vec![v.clone()] },
            writes: if write { vec![v.clone()] } else { vec![] },
            body: Box::new(move || {
                let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                if write {
                    assert_eq!(now, 1, "a write ran alongside another op");
                }
                m.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_micros(200));
                a.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }),
            origin: None,
            cost: usize::MAX / 2,
            priority: 0,
        });
    }
    engine.wait_all().unwrap();
    assert!(
        max_seen.load(Ordering::SeqCst) >= 2,
        "reads never overlapped"
    );
}

#[test]
fn failures_poison_dependents_and_raise_once() {
    for kind in [EngineKind::Threaded, EngineKind::Naive] {
        let engine = leak(kind, 2);
        let (a, b, c) = (Var::new(), Var::new(), Var::new());
        let ran = Arc::new(AtomicI64::new(0));
        let push = |name: &'static str,
                    reads: Vec<Var>,
                    writes: Vec<Var>,
                    fail: bool,
                    ran: Arc<AtomicI64>| {
            engine.push(Task {
                name: Cow::Borrowed(name),
                reads,
                writes,
                body: Box::new(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    if fail {
                        Err(Error::Value("boom".into()))
                    } else if name == "panics" {
                        panic!("kernel bug")
                    } else {
                        Ok(())
                    }
                }),
                origin: None,
                cost: usize::MAX / 2,
                priority: 0,
            })
        };
        push("fails", vec![], vec![a.clone()], true, ran.clone());
        push(
            "reads_a",
            vec![a.clone()],
            vec![b.clone()],
            false,
            ran.clone(),
        );
        push("independent", vec![], vec![c.clone()], false, ran.clone());
        let err = engine.wait_var(&b).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("boom") && msg.contains("fails"), "{msg}");
        assert!(engine.wait_var(&b).is_ok(), "raised twice");
        assert!(engine.wait_var(&a).is_ok(), "the shared error was consumed");
        engine.wait_var(&c).unwrap();
        assert_eq!(
            ran.load(Ordering::SeqCst),
            2,
            "poisoned op must not run its body"
        );
        push("panics", vec![], vec![c.clone()], false, ran.clone());
        let err = engine.wait_all().unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        assert!(engine.wait_all().is_ok());
    }
}
