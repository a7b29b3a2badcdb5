"""Neural-network benchmarks: oxnet executors side by side with numpy and PyTorch (when
installed) in one run. Medians of repeated timings; ratios oxnet vs peer.

    python benches/python/bench_nn.py [--quick]

Rows: FullyConnected 256x1024 -> 1024 forward+backward (ms/iter; numpy = its three GEMMs),
the inference of one sample through a 2048 -> 1000 layer in float32 and int8,
LeNet training step on batch 64 (samples/s; forward, backward, SGD update), a
ResNet-18-style basic block and a MobileNet depthwise-separable block forward+backward
(ms/iter; the basic block also in float16 and bfloat16), and the same block's inference in FP32
and after `mx.contrib.quantization.quantize_model` / `quantize_model_mkldnn` (INT8, naive
calibration; ms/iter, the INT8 rows' "vs np" column is their speed against FP32 in the same
run)."""
import argparse
import statistics
import time

import numpy as np

import oxnet as mx

try:
    import torch
    torch.set_num_threads(max(1, torch.get_num_threads()))
except ImportError:  # optional peer
    torch = None


def median_time(fn, repeat, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def row(name, unit, ours, numpy_v=None, torch_v=None, target=None, higher=True):
    def fmt(v):
        return "-" if v is None else ("%.2f" % v if v < 100 else "%.0f" % v)

    def ratio(peer):
        if peer is None:
            return "-"
        return "%.2fx" % (ours / peer if higher else peer / ours)
    print("%-40s %-10s %9s %9s %9s %8s %8s %10s" % (name, unit, fmt(ours), fmt(numpy_v), fmt(torch_v),
                                                    ratio(numpy_v), ratio(torch_v),
                                                    "-" if target is None else target))


def bench_fc(q):
    n, k, m = 256, 1024, 1024
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (n, k)).astype(np.float32)
    w = rng.uniform(-0.05, 0.05, (m, k)).astype(np.float32)
    b = np.zeros(m, np.float32)
    dy = rng.uniform(-1, 1, (n, m)).astype(np.float32)
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=m, name="fc")
    ex = fc.simple_bind(mx.cpu(), data=(n, k))
    ex.arg_dict["data"][:] = x
    ex.arg_dict["fc_weight"][:] = w
    head = mx.nd.array(dy)

    def ours():
        ex.forward(is_train=True)
        ex.backward(head)
        mx.nd.waitall()
    reps = 5 if q else 20
    t_ours = median_time(ours, reps) * 1e3

    def numpy_fc():
        y = x @ w.T + b
        dx = dy @ w
        dw = dy.T @ x
        db = dy.sum(0)
        return y, dx, dw, db
    t_np = median_time(numpy_fc, reps) * 1e3
    t_torch = None
    if torch is not None:
        tx = torch.tensor(x, requires_grad=True)
        lin = torch.nn.Linear(k, m)
        tdy = torch.tensor(dy)

        def torch_fc():
            lin.zero_grad()
            tx.grad = None
            lin(tx).backward(tdy)
        t_torch = median_time(torch_fc, reps) * 1e3
    row("FullyConnected 256x1024->1024 fwd+bwd", "ms/iter", t_ours, t_np, t_torch, "<= 5.5",
        higher=False)


def bench_fc_one_sample(q):
    """Inference of one sample through a 2048 -> 1000 layer (a classifier head), float32
    against numpy's matrix-vector product, and the quantized layer (its "vs np" column: speed
    against float32 in the same run)."""
    n, k, m = 1, 2048, 1000
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (n, k)).astype(np.float32)
    w = rng.uniform(-0.05, 0.05, (m, k)).astype(np.float32)
    b = rng.uniform(-0.05, 0.05, m).astype(np.float32)
    xs, ws, bs = mx.nd.array(x), mx.nd.array(w), mx.nd.array(b)
    reps = 50 if q else 500

    def ours():
        mx.nd.FullyConnected(xs, ws, bs, num_hidden=m).wait_to_read()
    t_ours = median_time(ours, reps) * 1e3
    t_np = median_time(lambda: x @ w.T + b, reps) * 1e3
    row("FullyConnected 1x2048->1000 inference", "ms/iter", t_ours, t_np, higher=False)
    xq = mx.nd.array(rng.randint(-127, 128, (n, k)), dtype="int8")
    wq = mx.nd.array(rng.randint(-127, 128, (m, k)), dtype="int8")
    one = [mx.nd.array([v]) for v in (-1.0, 1.0, -1.0, 1.0)]

    def int8():
        mx.nd.contrib.quantized_fully_connected(xq, wq, *one, num_hidden=m,
                                                no_bias=True)[0].wait_to_read()
    row("  int8 (vs np = vs float32)", "ms/iter", median_time(int8, reps) * 1e3, t_ours,
        higher=False)


def lenet_symbol():
    data = mx.sym.Variable("data")
    c1 = mx.sym.Convolution(data, kernel=(5, 5), num_filter=20, name="conv1")
    a1 = mx.sym.Activation(c1, act_type="tanh")
    p1 = mx.sym.Pooling(a1, pool_type="max", kernel=(2, 2), stride=(2, 2))
    c2 = mx.sym.Convolution(p1, kernel=(5, 5), num_filter=50, name="conv2")
    a2 = mx.sym.Activation(c2, act_type="tanh")
    p2 = mx.sym.Pooling(a2, pool_type="max", kernel=(2, 2), stride=(2, 2))
    f = mx.sym.Flatten(p2)
    h = mx.sym.FullyConnected(f, num_hidden=500, name="fc1")
    a3 = mx.sym.Activation(h, act_type="tanh")
    o = mx.sym.FullyConnected(a3, num_hidden=10, name="fc2")
    return mx.sym.SoftmaxOutput(o, name="softmax")


def bench_lenet(q):
    batch = 64
    rng = np.random.RandomState(0)
    x = rng.uniform(0, 1, (batch, 1, 28, 28)).astype(np.float32)
    y = rng.randint(0, 10, batch).astype(np.float32)
    net = lenet_symbol()
    # As mx.mod.Module binds it: no gradient for the data and the label.
    req = {n: ("null" if n in ("data", "softmax_label") else "write") for n in net.list_arguments()}
    ex = net.simple_bind(mx.cpu(), grad_req=req, data=(batch, 1, 28, 28), softmax_label=(batch,))
    for name, arr in ex.arg_dict.items():
        if name.endswith("weight"):  # He-style scale by fan-in
            arr[:] = rng.normal(0, (2.0 / (arr.size / arr.shape[0])) ** 0.5, arr.shape)
    ex.arg_dict["data"][:] = x
    ex.arg_dict["softmax_label"][:] = y
    params = [(ex.arg_dict[n], ex.grad_dict[n]) for n in net.list_arguments()
              if n not in ("data", "softmax_label")]

    def ours():
        ex.forward(is_train=True)
        ex.backward()
        for w, g in params:
            mx.nd.sgd_update(w, g, lr=0.01, rescale_grad=1.0 / batch, out=w)
        mx.nd.waitall()
    reps = 5 if q else 20
    t_ours = median_time(ours, reps)
    t_torch = None
    if torch is not None:
        nn = torch.nn
        model = nn.Sequential(nn.Conv2d(1, 20, 5), nn.Tanh(), nn.MaxPool2d(2, 2),
                              nn.Conv2d(20, 50, 5), nn.Tanh(), nn.MaxPool2d(2, 2), nn.Flatten(),
                              nn.Linear(800, 500), nn.Tanh(), nn.Linear(500, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        tx, ty = torch.tensor(x), torch.tensor(y).long()
        lossf = nn.CrossEntropyLoss()

        def torch_step():
            opt.zero_grad()
            lossf(model(tx), ty).backward()
            opt.step()
        t_torch = median_time(torch_step, reps)
    row("LeNet training step, batch 64", "samples/s", batch / t_ours, None,
        None if t_torch is None else batch / t_torch, ">= 1.2x torch")


def train_pass_ms(ex, head, reps):
    """Median ms of a forward + backward pass of executor ``ex`` with head gradient ``head``."""
    def step():
        ex.forward(is_train=True)
        ex.backward(head)
        mx.nd.waitall()
    return median_time(step, reps) * 1e3


def bench_resblock(q):
    """The block in float32 against PyTorch, then in float16 and bfloat16 (their "vs np" column:
    speed against float32 in the same run)."""
    batch, ch, hw = 16, 64, 28
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (batch, ch, hw, hw)).astype(np.float32)
    out = resblock_symbol(ch)
    reps = 3 if q else 10
    times = []
    for dt in ("float32", "float16", "bfloat16"):
        ex = out.simple_bind(mx.cpu(), data=x.shape, type_dict={"data": dt})
        for name, arr in ex.arg_dict.items():
            v = x if name == "data" else rng.normal(0, 0.05, arr.shape) + (1 if "gamma" in name else 0)
            arr[:] = mx.nd.array(v).astype(arr.dtype)
        times.append(train_pass_ms(ex, mx.nd.ones(x.shape, dtype=dt), reps))
    t_torch = None
    if torch is not None:
        nn = torch.nn
        c1t, c2t = nn.Conv2d(ch, ch, 3, padding=1, bias=False), nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        b1t, b2t = nn.BatchNorm2d(ch), nn.BatchNorm2d(ch)
        tx = torch.tensor(x, requires_grad=True)
        th = torch.ones(batch, ch, hw, hw)

        def torch_block():
            tx.grad = None
            y = torch.relu(b2t(c2t(torch.relu(b1t(c1t(tx))))) + tx)
            y.backward(th)
        t_torch = median_time(torch_block, reps) * 1e3
    row("ResNet basic block 16x64x28x28 fwd+bwd", "ms/iter", times[0], None, t_torch, higher=False)
    row("  float16 (vs np = vs float32)", "ms/iter", times[1], times[0], higher=False)
    row("  bfloat16 (vs np = vs float32)", "ms/iter", times[2], times[0], higher=False)


def bench_separable(q):
    """MobileNet's depthwise-separable block: 3x3 depthwise conv, BN, ReLU, 1x1 conv, BN, ReLU."""
    batch, ch, out_ch, hw = 8, 32, 64, 112
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (batch, ch, hw, hw)).astype(np.float32)
    data = mx.sym.Variable("data")
    dw = mx.sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=ch, num_group=ch,
                            no_bias=True, name="dw")
    r1 = mx.sym.Activation(mx.sym.BatchNorm(dw, fix_gamma=False, name="bn1"), act_type="relu")
    pw = mx.sym.Convolution(r1, kernel=(1, 1), num_filter=out_ch, no_bias=True, name="pw")
    out = mx.sym.Activation(mx.sym.BatchNorm(pw, fix_gamma=False, name="bn2"), act_type="relu")
    ex = out.simple_bind(mx.cpu(), data=x.shape)
    for name, arr in ex.arg_dict.items():
        arr[:] = x if name == "data" else rng.normal(0, 0.1, arr.shape) + (1 if "gamma" in name else 0)
    head = mx.nd.ones((batch, out_ch, hw, hw))

    reps = 3 if q else 10
    t_ours = train_pass_ms(ex, head, reps)
    t_torch = None
    if torch is not None:
        nn = torch.nn
        block = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1, groups=ch, bias=False),
                              nn.BatchNorm2d(ch), nn.ReLU(),
                              nn.Conv2d(ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU())
        tx = torch.tensor(x, requires_grad=True)
        th = torch.ones(batch, out_ch, hw, hw)

        def torch_block():
            tx.grad = None
            block(tx).backward(th)
        t_torch = median_time(torch_block, reps) * 1e3
    row("MobileNet separable block 8x32x112x112", "ms/iter", t_ours, None, t_torch, higher=False)


def resblock_symbol(ch):
    data = mx.sym.Variable("data")
    c1 = mx.sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=ch, no_bias=True, name="c1")
    b1 = mx.sym.BatchNorm(c1, fix_gamma=False, name="bn1")
    r1 = mx.sym.Activation(b1, act_type="relu")
    c2 = mx.sym.Convolution(r1, kernel=(3, 3), pad=(1, 1), num_filter=ch, no_bias=True, name="c2")
    b2 = mx.sym.BatchNorm(c2, fix_gamma=False, name="bn2")
    return mx.sym.Activation(b2 + data, act_type="relu")


def bench_int8_resblock(q):
    from oxnet.contrib.quantization import quantize_model, quantize_model_mkldnn
    batch, ch, hw = 16, 64, 28
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (batch, ch, hw, hw)).astype(np.float32)
    sym = resblock_symbol(ch)
    shapes = dict(zip(sym.list_arguments(), sym.infer_shape(data=x.shape)[0]))
    args = {n: mx.nd.array(rng.normal(0, 0.05, s) + (1 if "gamma" in n else 0))
            for n, s in shapes.items() if n != "data"}
    aux = {n: mx.nd.array(np.ones(s) if "var" in n else np.zeros(s))
           for n, s in zip(sym.list_auxiliary_states(), sym.infer_shape(data=x.shape)[2])}
    calib = mx.io.NDArrayIter(x, batch_size=batch)
    models = [(sym, args, aux)]
    for quantize in (quantize_model, quantize_model_mkldnn):
        calib.reset()
        models.append(quantize(sym, args, aux, label_names=(), calib_mode="naive",
                               calib_data=calib, num_calib_examples=batch))
    reps = 3 if q else 10
    times = []
    for s, a, b in models:
        ex = s.simple_bind(mx.cpu(), data=x.shape, grad_req="null")
        ex.copy_params_from(a, b, allow_extra_params=True)
        ex.arg_dict["data"][:] = x

        def infer():
            ex.forward(is_train=False)
            mx.nd.waitall()
        times.append(median_time(infer, reps) * 1e3)
    row("ResNet block 16x64x28x28 inference FP32", "ms/iter", times[0], higher=False)
    row("  INT8 quantize_model (vs np = vs FP32)", "ms/iter", times[1], times[0], higher=False)
    row("  INT8 quantize_model_mkldnn (fused)", "ms/iter", times[2], times[0], higher=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    q = ap.parse_args().quick
    print("%-40s %-10s %9s %9s %9s %8s %8s %10s" % ("benchmark", "unit", "oxnet", "numpy", "torch",
                                                    "vs np", "vs torch", "target"))
    bench_fc(q)
    bench_fc_one_sample(q)
    bench_lenet(q)
    bench_resblock(q)
    bench_separable(q)
    bench_int8_resblock(q)


if __name__ == "__main__":
    main()
