"""Writes tests/python/data/quantization/ with Apache MXNet 1.9.1 (CPU wheel, NaiveEngine):
the FP32 nets and params the tests quantize, MXNet's quantized symbol JSON and quantized
params for each case, the calibration tables, and the quantized/FP32 outputs on a fixed input.
Run with MXNET_ENGINE_TYPE=NaiveEngine MXNET_SUBGRAPH_BACKEND=NONE /work/mxref/bin/python:
the wheel is built with oneDNN, whose default bind-time fusion renames the layers the
calibration monitor sees (sg_mkldnn_fully_connected_eltwise_0_output), so calibration would
find no layer but `data`. Never imported by the tests."""
import json
import os
import sys

import numpy as np
import mxnet as mx
from mxnet.contrib import quantization as q

# scipy is only checked for, never used, by MXNet's entropy path; the reference venv lacks it.
q.stats = object()

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'quantization')


def mlp():
    data = mx.sym.var('data')
    fc1 = mx.sym.FullyConnected(data, num_hidden=16, name='fc1')
    act = mx.sym.Activation(fc1, act_type='relu', name='relu1')
    fc2 = mx.sym.FullyConnected(act, num_hidden=5, name='fc2')
    return mx.sym.SoftmaxOutput(fc2, name='softmax'), (2, 12)


def cnn():
    data = mx.sym.var('data')
    c0 = mx.sym.Convolution(data, num_filter=8, kernel=(3, 3), pad=(1, 1), name='conv0')
    b0 = mx.sym.BatchNorm(c0, fix_gamma=False, name='bn0')
    r0 = mx.sym.Activation(b0, act_type='relu', name='relu0')
    p0 = mx.sym.Pooling(r0, kernel=(2, 2), stride=(2, 2), pool_type='max', name='pool0')
    c1 = mx.sym.Convolution(p0, num_filter=4, kernel=(3, 3), pad=(1, 1), name='conv1')
    r1 = mx.sym.Activation(c1, act_type='relu', name='relu1')
    c2 = mx.sym.Convolution(p0, num_filter=4, kernel=(1, 1), name='conv2')
    r2 = mx.sym.Activation(c2, act_type='relu', name='relu2')
    cat = mx.sym.Concat(r1, r2, dim=1, name='concat0')
    c3 = mx.sym.Convolution(cat, num_filter=8, kernel=(1, 1), no_bias=True, name='conv3')
    add = mx.sym.elemwise_add(c3, p0, name='add0')
    p1 = mx.sym.Pooling(add, kernel=(2, 2), stride=(2, 2), pool_type='avg', name='pool1')
    fl = mx.sym.Flatten(p1, name='flatten0')
    fc = mx.sym.FullyConnected(fl, num_hidden=5, name='fc0')
    return mx.sym.SoftmaxOutput(fc, name='softmax'), (2, 3, 8, 8)


def edge():
    """Quantizable ops before the first and after the last FullyConnected: 'smart' leaves them
    FP32, 'full' quantizes them; a sigmoid (never quantized) between the two layers."""
    data = mx.sym.var('data')
    p = mx.sym.Pooling(data, kernel=(2, 2), stride=(2, 2), pool_type='max', name='pool_in')
    fl = mx.sym.Flatten(p, name='flatten_in')
    fc1 = mx.sym.FullyConnected(fl, num_hidden=6, name='fc1')
    sg = mx.sym.Activation(fc1, act_type='sigmoid', name='sig1')
    fc2 = mx.sym.FullyConnected(sg, num_hidden=5, name='fc2')
    r = mx.sym.Activation(fc2, act_type='relu', name='relu_out')
    return mx.sym.SoftmaxOutput(r, name='softmax'), (2, 2, 4, 4)


def branch():
    """fc1 feeds an FP32 op (sigmoid, visited first) and a quantized one (fc2): the FP32
    consumer gets `fc1_dequantize`, fc2 reads the requantized INT8 output directly."""
    data = mx.sym.var('data')
    fc1 = mx.sym.FullyConnected(data, num_hidden=6, name='fc1')
    sg = mx.sym.Activation(fc1, act_type='sigmoid', name='sig1')
    fc3 = mx.sym.FullyConnected(sg, num_hidden=5, name='fc3')
    fc2 = mx.sym.FullyConnected(fc1, num_hidden=5, name='fc2')
    add = mx.sym.elemwise_add(fc3, fc2, name='add0')
    return mx.sym.SoftmaxOutput(add, name='softmax'), (2, 7)


def emb():
    """Embedding (its indices stay FP32, only the table is quantized) and elemwise_mul."""
    data = mx.sym.var('data')
    e = mx.sym.Embedding(data, input_dim=5, output_dim=3, name='emb0')
    fl = mx.sym.Flatten(e, name='flatten0')
    fa = mx.sym.FullyConnected(fl, num_hidden=4, name='fca')
    fb = mx.sym.FullyConnected(fl, num_hidden=4, name='fcb')
    m = mx.sym.elemwise_mul(fa, fb, name='mul0')
    fc = mx.sym.FullyConnected(m, num_hidden=5, name='fc')
    return mx.sym.SoftmaxOutput(fc, name='softmax'), (2, 4)


NETS = {'mlp': mlp, 'cnn': cnn, 'edge': edge, 'branch': branch, 'emb': emb}

# (case name, net, quantize_model keyword arguments)
CASES = [
    ('mlp_none', 'mlp', dict(calib_mode='none')),
    ('mlp_none_full', 'mlp', dict(calib_mode='none', quantize_mode='full')),
    ('mlp_naive', 'mlp', dict(calib_mode='naive')),
    ('mlp_naive_uint8', 'mlp', dict(calib_mode='naive', quantized_dtype='uint8')),
    ('mlp_naive_auto', 'mlp', dict(calib_mode='naive', quantized_dtype='auto')),
    ('mlp_naive_excl_fc2', 'mlp', dict(calib_mode='naive', excluded_sym_names=['fc2'])),
    ('mlp_entropy', 'mlp', dict(calib_mode='entropy')),
    ('cnn_none', 'cnn', dict(calib_mode='none')),
    ('cnn_none_full', 'cnn', dict(calib_mode='none', quantize_mode='full')),
    ('cnn_naive', 'cnn', dict(calib_mode='naive')),
    ('cnn_naive_full', 'cnn', dict(calib_mode='naive', quantize_mode='full')),
    ('cnn_naive_auto', 'cnn', dict(calib_mode='naive', quantized_dtype='auto', num_calib_examples=8)),
    ('cnn_naive_excl_pool', 'cnn', dict(calib_mode='naive', excluded_op_names=['Pooling'],
                                        excluded_sym_names=['conv2'])),
    ('cnn_entropy', 'cnn', dict(calib_mode='entropy')),
    ('cnn_naive_channel', 'cnn', dict(calib_mode='naive', quantize_granularity='channel-wise')),
    ('edge_none', 'edge', dict(calib_mode='none')),
    ('branch_naive', 'branch', dict(calib_mode='naive')),
    ('emb_naive', 'emb', dict(calib_mode='naive')),
    ('emb_none_full', 'emb', dict(calib_mode='none', quantize_mode='full')),
    ('edge_none_full', 'edge', dict(calib_mode='none', quantize_mode='full')),
    ('edge_naive_full', 'edge', dict(calib_mode='naive', quantize_mode='full')),
]


def params_for(sym, shape):
    """Seeded FP32 params (the tests load the saved file, never regenerate these)."""
    rng = np.random.RandomState(42)
    arg_shapes, _, aux_shapes = sym.infer_shape(data=shape)
    args, auxs = {}, {}
    for name, s in zip(sym.list_arguments(), arg_shapes):
        if name in ('data', 'softmax_label'):
            continue
        args[name] = mx.nd.array(rng.normal(scale=0.5, size=s).astype('float32'))
    for name, s in zip(sym.list_auxiliary_states(), aux_shapes):
        v = rng.uniform(0.5, 1.5, size=s) if 'var' in name else rng.normal(scale=0.1, size=s)
        auxs[name] = mx.nd.array(v.astype('float32'))
    return args, auxs


def calib_data(net, shape):
    """Same generator as test_quantization.calib_arrays: 16 examples, batch 4."""
    rng = np.random.RandomState(7)
    x = rng.normal(size=(16,) + shape[1:]).astype('float32')
    if net == 'emb':  # the Embedding reads indices 0..4
        x = rng.randint(0, 5, size=(16,) + shape[1:]).astype('float32')
    y = rng.randint(0, 5, size=(16,)).astype('float32')
    return x, y


def main():
    os.makedirs(OUT, exist_ok=True)
    report = {}
    for net, fn in NETS.items():
        sym, shape = fn()
        args, auxs = params_for(sym, shape)
        sym.save(os.path.join(OUT, '%s-symbol.json' % net))
        save = {'arg:' + k: v for k, v in args.items()}
        save.update({'aux:' + k: v for k, v in auxs.items()})
        mx.nd.save(os.path.join(OUT, '%s-0000.params' % net), save)
    for case, net, kw in CASES:
        sym, shape = NETS[net]()
        args, auxs = q._load_params(os.path.join(OUT, '%s-0000.params' % net))
        x, y = calib_data(net, shape)
        it = mx.io.NDArrayIter(x, y, batch_size=4, label_name='softmax_label')
        _, calib_layer = q._quantize_symbol(
            sym, mx.cpu(), excluded_symbols=kw.get('excluded_sym_names'),
            excluded_operators=kw.get('excluded_op_names'), offline_params=list(args),
            quantized_dtype=kw.get('quantized_dtype', 'int8'),
            quantize_mode=kw.get('quantize_mode', 'smart'))
        th = {}
        orig_calib = q._calibrate_quantized_sym

        def spy(qsym, th_dict):
            th.update({k: [float(v[0]), float(v[1])] for k, v in th_dict.items()})
            return orig_calib(qsym, th_dict)
        q._calibrate_quantized_sym = spy
        qsym, qargs, qauxs = q.quantize_model(sym, args, auxs, ctx=mx.cpu(), calib_data=it, **kw)
        q._calibrate_quantized_sym = orig_calib
        qsym.save(os.path.join(OUT, '%s-quantized-symbol.json' % case))
        mx.nd.save(os.path.join(OUT, '%s-quantized.params' % case), qargs)
        # outputs on the first calibration batch: FP32 and quantized (oneDNN kernels)
        xin = x[:4]
        outs = {}
        for tag, s, a in (('fp32', sym, args), ('int8', qsym, qargs)):
            ex = s.simple_bind(mx.cpu(), data=xin.shape, softmax_label=(4,), grad_req='null',
                               type_dict=dict({k: v.dtype for k, v in a.items()},
                                              data='float32', softmax_label='float32'))
            ex.copy_params_from(a, auxs, allow_extra_params=True)
            try:
                outs[tag] = ex.forward(is_train=False, data=mx.nd.array(xin))[0].asnumpy().tolist()
            except mx.base.MXNetError as err:  # oneDNN's quantized conv wants uint8 data
                outs[tag] = str(err).strip().splitlines()[-1]
        report[case] = dict(net=net, kwargs=kw, calib_layer=calib_layer, th_dict=th, outputs=outs)
        print(case, 'calib_layer', calib_layer)
        print(case, 'th', th)
    # calibrate_entropy on the documented example
    np.random.seed(0)
    v = np.random.normal(size=10000).astype('float32')
    h, e = np.histogram(v, bins=2001, range=(-4, 4))
    t, d = mx.nd.contrib.calibrate_entropy(mx.nd.array(h), mx.nd.array(e), num_quantized_bins=255)
    report['_calibrate_entropy_example'] = [float(t.asnumpy()[0]), float(d.asnumpy()[0])]
    # calibrate_entropy on a one-sided (relu-like) histogram with the uint8 bin count
    np.random.seed(1)
    v = np.abs(np.random.normal(size=5000)).astype('float32')
    h, e = np.histogram(v, bins=1001, range=(-3, 3))
    t, d = mx.nd.contrib.calibrate_entropy(mx.nd.array(h), mx.nd.array(e), num_quantized_bins=511)
    report['_calibrate_entropy_relu'] = [float(t.asnumpy()[0]), float(d.asnumpy()[0])]
    with open(os.path.join(OUT, 'reference.json'), 'w') as f:
        json.dump(report, f, indent=1, sort_keys=True)


if __name__ == '__main__':
    sys.exit(main())
