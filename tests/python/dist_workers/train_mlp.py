"""dist_sync data-parallel training of the seed MLP with mx.mod.Module: each worker fits its
half of every global batch; the result must equal one process training on the global batches
(Module with no kvstore) and a numpy implementation of the same SGD steps.

With `feedforward`, the deprecated mx.model.FeedForward trains instead of Module (the seed's
distributed example; MXNet scales its gradients by 1/(batch * num_workers) as Module does).

usage: train_mlp.py dist_sync|dist_device_sync [module|feedforward]   (2 or more workers)"""
import sys
import warnings

import numpy as np

import oxnet as mx
from _common import create

B, DIM, HID, OUT, NB, EPOCHS, LR = 10, 5, 8, 3, 4, 2, 0.3


def mlp():
    data = mx.sym.Variable("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(data, name="fc1", num_hidden=HID), act_type="relu")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, name="fc2", num_hidden=OUT), name="softmax")


def params(seed=1):
    rng = np.random.RandomState(seed)
    return {"fc1_weight": rng.normal(0, 0.5, (HID, DIM)), "fc1_bias": rng.normal(0, 0.1, HID),
            "fc2_weight": rng.normal(0, 0.5, (OUT, HID)), "fc2_bias": rng.normal(0, 0.1, OUT)}


def numpy_sgd_step(p, x, y, lr):
    """Softmax cross-entropy MLP, gradient averaged over the batch (rescale_grad = 1/batch)."""
    h_pre = x @ p["fc1_weight"].T + p["fc1_bias"]
    h = np.maximum(h_pre, 0)
    z = h @ p["fc2_weight"].T + p["fc2_bias"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    dz = e / e.sum(axis=1, keepdims=True)
    dz[np.arange(len(y)), y.astype(int)] -= 1
    dz /= len(y)
    g = {"fc2_weight": dz.T @ h, "fc2_bias": dz.sum(0)}
    dh = (dz @ p["fc2_weight"]) * (h_pre > 0)
    g["fc1_weight"], g["fc1_bias"] = dh.T @ x, dh.sum(0)
    return {k: p[k] - lr * g[k] for k in p}


def fit(x, y, batch, kvstore, api="module"):
    if api == "feedforward":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ff = mx.model.FeedForward(mlp(), ctx=mx.cpu(), num_epoch=EPOCHS, optimizer="sgd",
                                      learning_rate=LR,
                                      arg_params={k: mx.nd.array(v) for k, v in params().items()})
            ff.fit(mx.io.NDArrayIter(x, y, batch), kvstore=kvstore)
        return {k: v.asnumpy() for k, v in ff.arg_params.items()}
    # dist_device_sync: two devices per worker, summed locally before the allreduce
    ctx = [mx.cpu(0), mx.cpu(1)] if kvstore is not None and "device" in kvstore.type else mx.cpu()
    mod = mx.mod.Module(mlp(), context=ctx)
    mod.fit(mx.io.NDArrayIter(x, y, batch), num_epoch=EPOCHS, kvstore=kvstore,
            arg_params={k: mx.nd.array(v) for k, v in params().items()},
            optimizer="sgd", optimizer_params={"learning_rate": LR})
    return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}


kv = create(sys.argv[1])
n, r = kv.num_workers, kv.rank
rng = np.random.RandomState(0)
G = B * n                                            # the global batch
x = rng.uniform(-1, 1, (NB * G, DIM)).astype(np.float32)
y = rng.randint(0, OUT, NB * G).astype(np.float32)
mine = np.concatenate([np.arange(i * G + r * B, i * G + (r + 1) * B) for i in range(NB)])
api = sys.argv[2] if len(sys.argv) > 2 else "module"
dist = fit(x[mine], y[mine], B, kv, api)

single = fit(x, y, G, None)                          # one process, the global batches
oracle = {k: v.astype(np.float64) for k, v in params().items()}
for _ in range(EPOCHS):
    for i in range(NB):
        oracle = numpy_sgd_step(oracle, x[i * G:(i + 1) * G].astype(np.float64), y[i * G:(i + 1) * G], LR)
moved = max(np.abs(oracle[k] - params()[k]).max() for k in oracle)
assert moved > 1e-2, "the oracle barely moved; the comparison would be vacuous"
for k in oracle:
    np.testing.assert_allclose(dist[k], single[k], rtol=1e-5, atol=1e-6, err_msg=k)
    np.testing.assert_allclose(dist[k], oracle[k], rtol=1e-4, atol=1e-5, err_msg=k)
# every worker ends with the same weights
allp = kv._sess.world.allgather(np.concatenate([dist[k].ravel() for k in sorted(dist)]))
assert all(np.array_equal(allp[0], a) for a in allp), "replicas diverged"
print("OK rank %d of %d (max change %.3f)" % (r, n, moved), flush=True)
