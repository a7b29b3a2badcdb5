//! Criterion benches of the CPU kernels through the op registry (what Python calls).
//! `cargo bench` — throughput is reported per element or per FLOP.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use oxnet::op::call_str;
use oxnet::{Context, NDArray, Shape};

fn arr(shape: &[usize]) -> NDArray {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|i| (i % 97) as f32 * 0.01).collect();
    NDArray::from_vec(Shape::new(shape.to_vec()), &v, Context::cpu(0)).expect("alloc")
}

fn int8(shape: &[usize]) -> NDArray {
    let n: usize = shape.iter().product();
    let v: Vec<i8> = (0..n).map(|i| (i % 251) as u8 as i8).collect();
    NDArray::from_vec(Shape::new(shape.to_vec()), &v, Context::cpu(0)).expect("alloc")
}

fn run(name: &str, inputs: &[NDArray], attrs: &[(&str, &str)]) {
    let out = call_str(name, inputs, attrs).expect("op");
    out[0].wait_to_read().expect("kernel");
}

fn elementwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("elementwise");
    for n in [1usize << 10, 1 << 20, 1 << 24] {
        let (a, b) = (arr(&[n]), arr(&[n]));
        g.throughput(Throughput::Bytes((3 * n * 4) as u64));
        g.bench_function(format!("add/{n}"), |bn| {
            bn.iter(|| run("elemwise_add", &[a.clone(), b.clone()], &[]))
        });
    }
    let (a, b) = (arr(&[1024, 1024]), arr(&[1, 1024]));
    g.throughput(Throughput::Bytes((2 * 1024 * 1024 * 4) as u64));
    g.bench_function("broadcast_mul/1024x1024*1x1024", |bn| {
        bn.iter(|| run("broadcast_mul", &[a.clone(), b.clone()], &[]))
    });
    g.finish();
}

fn reduce(c: &mut Criterion) {
    let mut g = c.benchmark_group("reduce");
    let a = arr(&[1 << 24]);
    g.throughput(Throughput::Bytes((4usize << 24) as u64));
    g.bench_function("sum/16M", |bn| {
        bn.iter(|| run("sum", std::slice::from_ref(&a), &[]))
    });
    let m = arr(&[4096, 4096]);
    g.throughput(Throughput::Bytes((4usize << 24) as u64));
    g.bench_function("sum_axis0/4096x4096", |bn| {
        bn.iter(|| run("sum", std::slice::from_ref(&m), &[("axis", "0")]))
    });
    g.finish();
}

fn gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    g.sample_size(10);
    for n in [128usize, 512, 1024] {
        let (a, b) = (arr(&[n, n]), arr(&[n, n]));
        g.throughput(Throughput::Elements((2 * n * n * n) as u64));
        g.bench_function(format!("dot/{n}"), |bn| {
            bn.iter(|| run("dot", &[a.clone(), b.clone()], &[]))
        });
    }
    // A layer on one sample and on four (inference; an RNN step): one pass over the weight.
    let w = arr(&[1000, 2048]);
    for batch in [1usize, 4] {
        let x = arr(&[batch, 2048]);
        g.throughput(Throughput::Elements((2 * batch * 2048 * 1000) as u64));
        g.bench_function(format!("fully_connected/{batch}x2048->1000"), |bn| {
            bn.iter(|| {
                run(
                    "FullyConnected",
                    &[x.clone(), w.clone()],
                    &[("num_hidden", "1000"), ("no_bias", "True")],
                )
            })
        });
    }
    // The same products in int8 with int32 accumulation (the quantized FullyConnected:
    // data · weightᵀ), ops per second next to float32's.
    let range =
        |v: f32| NDArray::from_vec(Shape::new(vec![1]), &[v], Context::cpu(0)).expect("alloc");
    let ranges = [range(-1.0), range(1.0), range(-1.0), range(1.0)];
    for n in [128usize, 512, 1024] {
        let mut ins = vec![int8(&[n, n]), int8(&[n, n])];
        ins.extend(ranges.iter().cloned());
        let nh = n.to_string();
        g.throughput(Throughput::Elements((2 * n * n * n) as u64));
        g.bench_function(format!("int8_fully_connected/{n}"), |bn| {
            bn.iter(|| {
                run(
                    "_contrib_quantized_fully_connected",
                    &ins,
                    &[("num_hidden", &nh), ("no_bias", "True")],
                )
            })
        });
    }
    g.finish();
}

/// A ResNet 3×3 layer (16×64×28×28, 64 filters, pad 1) in float32 and through the quantized
/// convolution (int8 data and weights, int32 sums): ops per second side by side; and
/// depthwise layers.
fn conv(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv");
    g.sample_size(10);
    let (n, ch, hw) = (16usize, 64usize, 28usize);
    let attrs = [
        ("kernel", "(3, 3)"),
        ("pad", "(1, 1)"),
        ("num_filter", "64"),
        ("no_bias", "True"),
    ];
    g.throughput(Throughput::Elements((2 * n * ch * hw * hw * ch * 9) as u64));
    let ins = [arr(&[n, ch, hw, hw]), arr(&[ch, ch, 3, 3])];
    g.bench_function("float32/16x64x28x28_3x3", |bn| {
        bn.iter(|| run("Convolution", &ins, &attrs))
    });
    let range =
        |v: f32| NDArray::from_vec(Shape::new(vec![1]), &[v], Context::cpu(0)).expect("alloc");
    let mut qins = vec![int8(&[n, ch, hw, hw]), int8(&[ch, ch, 3, 3])];
    qins.extend([range(-1.0), range(1.0), range(-1.0), range(1.0)]);
    g.bench_function("int8/16x64x28x28_3x3", |bn| {
        bn.iter(|| run("_contrib_quantized_conv", &qins, &attrs))
    });
    // MobileNet's depthwise 3x3 layers, from large planes to small ones
    for (ch, hw) in [(32usize, 112usize), (512, 14), (1024, 7)] {
        let groups = ch.to_string();
        let attrs = [
            ("kernel", "(3, 3)"),
            ("pad", "(1, 1)"),
            ("num_filter", groups.as_str()),
            ("num_group", groups.as_str()),
            ("no_bias", "True"),
        ];
        g.throughput(Throughput::Elements((2 * 8 * ch * hw * hw * 9) as u64));
        let ins = [arr(&[8, ch, hw, hw]), arr(&[ch, 1, 3, 3])];
        g.bench_function(format!("depthwise/8x{ch}x{hw}x{hw}_3x3"), |bn| {
            bn.iter(|| run("Convolution", &ins, &attrs))
        });
    }
    g.finish();
}

fn sort(c: &mut Criterion) {
    let mut g = c.benchmark_group("sort");
    let (rows, n) = (256usize, 4096usize);
    // Scrambled values: few ties, no order to exploit.
    let v: Vec<f32> = (0..rows * n)
        .map(|i| (i as u64 * 2654435761 % 1000003) as f32 - 5e5)
        .collect();
    let a = NDArray::from_vec(Shape::new(vec![rows, n]), &v, Context::cpu(0)).expect("alloc");
    g.throughput(Throughput::Elements((rows * n) as u64));
    for op in ["sort", "argsort"] {
        g.bench_function(format!("{op}/rows_{rows}x{n}"), |bn| {
            bn.iter(|| run(op, std::slice::from_ref(&a), &[]))
        });
    }
    g.finish();
}

criterion_group!(benches, elementwise, reduce, gemm, conv, sort);
criterion_main!(benches);
