"""Writes tests/python/data/quantized_rnn/ with Apache MXNet 1.9.1 (CPU wheel with oneDNN): a
Gluon two-layer LSTM with a Dense head as Gluon exports it (`lstm-symbol.json`, `lstm-0000.params`),
`quantize_model_mkldnn`'s symbol for it (naive calibration on the input below) and the FP32 and
quantized outputs on that input (`outputs.json`). Run from tests/python with
    MXNET_SUBGRAPH_BACKEND=NONE /work/mxref/bin/python quantized_rnn_mxnet_ref.py
Never imported by the tests."""
import json
import os

import numpy as np
import mxnet as mx
from mxnet.gluon import nn, rnn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'quantized_rnn')


def data():
    """Same as test_quantized_rnn.gluon_input: (T, N, I) = (5, 3, 6) in [-1, 1]."""
    return np.sin(np.arange(90) * 0.61).reshape(5, 3, 6).astype(np.float32)


def main():
    mx.random.seed(0)
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(rnn.LSTM(4, input_size=6, layout='TNC', num_layers=2))
        net.add(nn.Dense(3, flatten=False))
    net.initialize(mx.init.Normal(0.3))
    net.hybridize()
    x = mx.nd.array(data())
    net(x)
    prefix = os.path.join(OUT, 'lstm')
    net.export(prefix)
    sym, args, aux = mx.model.load_checkpoint(prefix, 0)
    calib = mx.io.NDArrayIter(data(), batch_size=5)
    qsym, qargs, qaux = mx.contrib.quantization.quantize_model_mkldnn(
        sym, args, aux, ctx=mx.cpu(), calib_mode='naive', calib_data=calib,
        quantized_dtype='auto', quantize_mode='full', num_calib_examples=5, label_names=())
    qsym.save(prefix + '-quantized-symbol.json')
    run = lambda s, a, b: s.bind(mx.cpu(), dict(a, data=x), aux_states=b,  # noqa: E731
                                 grad_req='null').forward()[0].asnumpy()
    with open(os.path.join(OUT, 'outputs.json'), 'w') as f:
        json.dump({'fp32': run(sym, args, aux).ravel().tolist(),
                   'int8': run(qsym, qargs, qaux).ravel().tolist()}, f)


if __name__ == '__main__':
    main()
