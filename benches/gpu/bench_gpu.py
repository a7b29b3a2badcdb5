"""GPU benchmarks, oxnet beside PyTorch CUDA in the same run (medians; ratios printed).

GEMM 8192^3 (float32 with TF32 off on both sides, float16), a large elementwise add against
the device's copy ceiling, and training steps of LeNet and a ResNet-18 basic block.
"""
import statistics
import sys
import time

import numpy as np

import oxnet as mx

try:
    import torch
except ImportError:  # the oxnet numbers stand alone
    torch = None

COPY_CEILING_GBS = 4300.0  # H200 HBM3e, the reference
GPU = mx.gpu(0)


def median_time(fn, sync, reps=5, warmup=2):
    for _ in range(warmup):
        fn()
    sync()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def torch_sync():
    torch.cuda.synchronize()


def row(name, ours, theirs, unit):
    ratio = "" if theirs is None else "  torch %.1f %s  ratio %.2f" % (theirs, unit, ours / theirs)
    print("%-28s oxnet %.1f %s%s" % (name, ours, unit, ratio), flush=True)


def gemm(n, dtype):
    a = mx.nd.random.uniform(shape=(n, n), ctx=GPU).astype(dtype)
    b = mx.nd.random.uniform(shape=(n, n), ctx=GPU).astype(dtype)
    t = median_time(lambda: mx.nd.dot(a, b), mx.nd.waitall)
    ours = 2 * n ** 3 / t / 1e12
    theirs = None
    if torch is not None:
        torch.backends.cuda.matmul.allow_tf32 = False
        ta = torch.rand(n, n, device="cuda", dtype=getattr(torch, dtype))
        tb = torch.rand(n, n, device="cuda", dtype=getattr(torch, dtype))
        theirs = 2 * n ** 3 / median_time(lambda: ta @ tb, torch_sync) / 1e12
    row("gemm %d %s" % (n, dtype), ours, theirs, "TFLOP/s")


def add(n):
    a = mx.nd.ones((n,), ctx=GPU)
    b = mx.nd.ones((n,), ctx=GPU)
    out = mx.nd.empty((n,), ctx=GPU)
    t = median_time(lambda: mx.nd.elemwise_add(a, b, out=out), mx.nd.waitall, reps=10)
    ours = 3 * 4 * n / t / 1e9
    theirs = None
    if torch is not None:
        ta, tb = torch.ones(n, device="cuda"), torch.ones(n, device="cuda")
        to = torch.empty(n, device="cuda")
        theirs = 3 * 4 * n / median_time(lambda: torch.add(ta, tb, out=to), torch_sync,
                                         reps=10) / 1e9
    row("add %dM float32" % (n >> 20), ours, theirs, "GB/s")
    print("%-28s %.2f of the %.0f GB/s copy ceiling" % ("", ours / COPY_CEILING_GBS,
                                                       COPY_CEILING_GBS))


def conv(shape, num_filter, kernel, pad):
    """One Convolution's forward, and forward plus backward (data and weight gradients)."""
    x = mx.nd.random.uniform(shape=shape, ctx=GPU)
    w = mx.nd.random.uniform(shape=(num_filter, shape[1]) + kernel, ctx=GPU)
    x.attach_grad()
    w.attach_grad()

    def fwd():
        return mx.nd.Convolution(x, w, kernel=kernel, pad=pad, num_filter=num_filter,
                                 no_bias=True)

    def fwd_bwd():
        with mx.autograd.record():
            y = fwd()
        y.backward()
    flops = 2 * shape[0] * num_filter * np.prod(shape[1:]) * np.prod(kernel)  # pad keeps size
    ours = [flops * k / median_time(f, mx.nd.waitall) / 1e12 for f, k in ((fwd, 1), (fwd_bwd, 3))]
    theirs = [None, None]
    if torch is not None:
        torch.backends.cudnn.allow_tf32 = False
        tx = torch.rand(*shape, device="cuda", requires_grad=True)
        tw = torch.rand(num_filter, shape[1], *kernel, device="cuda", requires_grad=True)

        def tfwd():
            return torch.nn.functional.conv2d(tx, tw, padding=pad)
        theirs = [flops * k / median_time(f, torch_sync) / 1e12
                  for f, k in ((tfwd, 1), (lambda: tfwd().sum().backward(), 3))]
    for what, o, t in zip(("fwd", "fwd+bwd"), ours, theirs):
        row("conv %s %s" % ("x".join(map(str, shape)), what), o, t, "TFLOP/s")


def lenet():
    data = mx.sym.var("data")
    c1 = mx.sym.Activation(mx.sym.Convolution(data, kernel=(5, 5), num_filter=20), act_type="tanh")
    p1 = mx.sym.Pooling(c1, pool_type="max", kernel=(2, 2), stride=(2, 2))
    c2 = mx.sym.Activation(mx.sym.Convolution(p1, kernel=(5, 5), num_filter=50), act_type="tanh")
    p2 = mx.sym.Pooling(c2, pool_type="max", kernel=(2, 2), stride=(2, 2))
    f1 = mx.sym.Activation(mx.sym.FullyConnected(mx.sym.flatten(p2), num_hidden=500),
                           act_type="tanh")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(f1, num_hidden=10), name="softmax")


def resnet_block():
    data = mx.sym.var("data")
    x = data
    for i in range(2):
        x = mx.sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=64, no_bias=True,
                               name="conv%d" % i)
        x = mx.sym.BatchNorm(x, name="bn%d" % i)
        if i == 0:
            x = mx.sym.Activation(x, act_type="relu")
    x = mx.sym.Activation(x + data, act_type="relu")
    pooled = mx.sym.Pooling(x, global_pool=True, pool_type="avg", kernel=(1, 1))
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.flatten(pooled), num_hidden=10),
                                name="softmax")


def train_step(name, sym, shape, torch_model):
    batch = shape[0]
    mod = mx.mod.Module(sym, context=GPU)
    mod.bind(data_shapes=[("data", shape)], label_shapes=[("softmax_label", (batch,))])
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.01,
                                                          "momentum": 0.9})
    db = mx.io.DataBatch([mx.nd.random.uniform(shape=shape, ctx=GPU)],
                         [mx.nd.zeros((batch,), ctx=GPU)])

    def step():
        mod.forward_backward(db)
        mod.update()
    ours = batch / median_time(step, mx.nd.waitall, reps=5, warmup=2)
    # Where a step's time goes: the forward pass alone, forward and backward, the update.
    fwd = median_time(lambda: mod.forward(db, is_train=True), mx.nd.waitall)
    fb = median_time(lambda: mod.forward_backward(db), mx.nd.waitall)
    print("%-28s forward %.2f ms, +backward %.2f ms, +update %.2f ms" % (
        "", fwd * 1e3, (fb - fwd) * 1e3, (batch / ours - fb) * 1e3))
    theirs = None
    if torch is not None:
        torch.backends.cudnn.allow_tf32 = False  # exact float32 on both sides, as for GEMM
        torch.backends.cuda.matmul.allow_tf32 = False
        m = torch_model().cuda()
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        x = torch.rand(*shape, device="cuda")
        y = torch.zeros(batch, dtype=torch.long, device="cuda")

        def tstep():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(x), y).backward()
            opt.step()
        theirs = batch / median_time(tstep, torch_sync, reps=10, warmup=3)
    row(name, ours, theirs, "samples/s")


def torch_lenet():
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 20, 5), nn.Tanh(), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5),
                         nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 500),
                         nn.Tanh(), nn.Linear(500, 10))


def torch_resnet_block():
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.c0, self.b0 = nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64)
            self.c1, self.b1 = nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            h = torch.relu(self.b0(self.c0(x)))
            h = torch.relu(self.b1(self.c1(h)) + x)
            return self.fc(h.mean(dim=(2, 3)))
    return Block()


def main():
    if mx.context.num_gpus() == 0:
        print("no CUDA GPU found (mx.context.num_gpus() == 0): nothing to measure")
        return 0
    print("oxnet GPU benchmarks; torch %s" % (torch.__version__ if torch else "not installed"))
    gemm(8192, "float32")
    gemm(8192, "float16")
    add(256 << 20)
    conv((32, 64, 56, 56), 64, (3, 3), (1, 1))
    conv((128, 20, 12, 12), 50, (5, 5), (2, 2))
    train_step("lenet step b128", lenet(), (128, 1, 28, 28), torch_lenet)
    train_step("resnet18 block step b32", resnet_block(), (32, 64, 56, 56), torch_resnet_block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
