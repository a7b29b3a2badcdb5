"""dist_async converges: linear regression through Module.fit (kvstore = dist_async, the server
on rank 0 applies each worker's push on arrival). Every worker fits its own shard; afterwards
the server's weights are within tolerance of the true ones (numpy least squares as oracle)."""
import numpy as np

import oxnet as mx
from _common import create

kv = create("dist_async")
n, r = kv.num_workers, kv.rank
rng = np.random.RandomState(0)
w_true = rng.uniform(-1, 1, (1, 4)).astype(np.float32)
x = rng.uniform(-1, 1, (400 * n, 4)).astype(np.float32)
y = (x @ w_true.T).ravel() + 0.01 * rng.randn(400 * n).astype(np.float32)
part = slice(r * 400, (r + 1) * 400)                  # this worker's shard

data = mx.sym.Variable("data")
net = mx.sym.LinearRegressionOutput(mx.sym.FullyConnected(data, name="fc", num_hidden=1, no_bias=True),
                                    name="lro")
mod = mx.mod.Module(net, label_names=["lro_label"], context=mx.cpu())
mod.fit(mx.io.NDArrayIter(x[part], y[part], 20, label_name="lro_label"), num_epoch=4, kvstore=kv,
        arg_params={"fc_weight": mx.nd.zeros((1, 4))},
        optimizer="sgd", optimizer_params={"learning_rate": 0.2})
kv.barrier()                                          # every worker's pushes are applied
w = mx.nd.zeros((1, 4))
kv.pull("fc_weight", out=w)
w_ls = np.linalg.lstsq(x.astype(np.float64), y.astype(np.float64), rcond=None)[0]
np.testing.assert_allclose(w.asnumpy().ravel(), w_ls, atol=2e-2)
kv.barrier()
print("OK rank %d of %d (w %s, least squares %s)" % (r, n, w.asnumpy().ravel().round(3), w_ls.round(3)),
      flush=True)
