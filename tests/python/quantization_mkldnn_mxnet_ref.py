"""Writes tests/python/data/quantization_mkldnn/ with Apache MXNet 1.9.1 (CPU wheel with oneDNN):
the FP32 nets and params test_quantization_mkldnn.py quantizes, each net's oneDNN fusion
(`get_backend_symbol('MKLDNN')` and `('MKLDNN_QUANTIZE')`), `quantize_model_mkldnn`'s symbol
JSON and params per case, the calibration tables, the FP32 and quantized outputs on a fixed
input, and the fusions of small graph patterns (patterns.json). Run from tests/python with
    MXNET_ENGINE_TYPE=NaiveEngine MXNET_SUBGRAPH_BACKEND=NONE /work/mxref/bin/python \
        quantization_mkldnn_mxnet_ref.py
(MXNET_SUBGRAPH_BACKEND=NONE: no bind-time fusion while calibrating or running, so the
executors see exactly the graphs saved). Never imported by the tests."""
import json
import os
import sys

import numpy as np
import mxnet as mx
from mxnet.contrib import quantization as q

# scipy is only checked for, never used, by MXNet's entropy path; the reference venv lacks it.
q.stats = object()

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'quantization_mkldnn')


def mlp():
    data = mx.sym.var('data')
    fc1 = mx.sym.FullyConnected(data, num_hidden=16, name='fc1')
    act = mx.sym.Activation(fc1, act_type='relu', name='relu1')
    fc2 = mx.sym.FullyConnected(act, num_hidden=8, name='fc2')
    sig = mx.sym.Activation(fc2, act_type='sigmoid', name='sig2')
    fc3 = mx.sym.FullyConnected(sig, num_hidden=5, name='fc3')
    return mx.sym.SoftmaxOutput(fc3, name='softmax'), (4, 12)


def cnn():
    data = mx.sym.var('data')
    c0 = mx.sym.Convolution(data, num_filter=8, kernel=(3, 3), pad=(1, 1), name='conv0')
    b0 = mx.sym.BatchNorm(c0, fix_gamma=False, name='bn0')
    r0 = mx.sym.Activation(b0, act_type='relu', name='relu0')
    p0 = mx.sym.Pooling(r0, kernel=(2, 2), stride=(2, 2), pool_type='max', name='pool0')
    c1 = mx.sym.Convolution(p0, num_filter=6, kernel=(3, 3), pad=(1, 1), name='conv1')
    r1 = mx.sym.Activation(c1, act_type='relu', name='relu1')
    fl = mx.sym.Flatten(r1, name='flatten0')
    fc = mx.sym.FullyConnected(fl, num_hidden=5, name='fc0')
    return mx.sym.SoftmaxOutput(fc, name='softmax'), (4, 3, 8, 8)


def res():
    """A ResNet basic block whose sum takes the shortcut as its first operand (MXNet moves it
    last in the fused node), then a conv+sum whose sum operand is the conv's own input."""
    data = mx.sym.var('data')
    c0 = mx.sym.Convolution(data, num_filter=8, kernel=(3, 3), pad=(1, 1), name='conv0')
    b0 = mx.sym.BatchNorm(c0, fix_gamma=False, name='bn0')
    r0 = mx.sym.Activation(b0, act_type='relu', name='relu0')
    c1 = mx.sym.Convolution(r0, num_filter=8, kernel=(3, 3), pad=(1, 1), no_bias=True,
                            name='conv1')
    b1 = mx.sym.BatchNorm(c1, fix_gamma=False, name='bn1')
    r1 = mx.sym.Activation(b1, act_type='relu', name='relu1')
    c2 = mx.sym.Convolution(r1, num_filter=8, kernel=(3, 3), pad=(1, 1), no_bias=True,
                            name='conv2')
    b2 = mx.sym.BatchNorm(c2, fix_gamma=False, name='bn2')
    add0 = mx.sym.elemwise_add(r0, b2, name='add0')
    r2 = mx.sym.Activation(add0, act_type='relu', name='relu2')
    c3 = mx.sym.Convolution(r2, num_filter=8, kernel=(1, 1), name='conv3')
    add1 = mx.sym.elemwise_add(c3, r2, name='add1')
    p = mx.sym.Pooling(add1, kernel=(1, 1), global_pool=True, pool_type='avg', name='pool0')
    fl = mx.sym.Flatten(p, name='flatten0')
    fc = mx.sym.FullyConnected(fl, num_hidden=5, name='fc0')
    return mx.sym.SoftmaxOutput(fc, name='softmax'), (4, 3, 6, 6)


def cat():
    """Two calibrated convs into one quantized concat (their ranges are aligned) and a
    quantized elemwise_mul of two FCs (its requantize and dequantize fold into it)."""
    data = mx.sym.var('data')
    c0 = mx.sym.Convolution(data, num_filter=4, kernel=(3, 3), pad=(1, 1), name='conv0')
    c1 = mx.sym.Convolution(data, num_filter=4, kernel=(1, 1), name='conv1')
    r1 = mx.sym.Activation(c1, act_type='relu', name='relu1')
    cc = mx.sym.Concat(c0, r1, dim=1, name='concat0')
    c2 = mx.sym.Convolution(cc, num_filter=4, kernel=(3, 3), stride=(2, 2), name='conv2')
    fl = mx.sym.Flatten(c2, name='flatten0')
    fa = mx.sym.FullyConnected(fl, num_hidden=6, name='fca')
    fb = mx.sym.FullyConnected(fl, num_hidden=6, name='fcb')
    m = mx.sym.elemwise_mul(fa, fb, name='mul0')
    fc = mx.sym.FullyConnected(m, num_hidden=5, name='fc0')
    return mx.sym.SoftmaxOutput(fc, name='softmax'), (4, 3, 6, 6)


NETS = {'mlp': mlp, 'cnn': cnn, 'res': res, 'cat': cat}

# (case name, net, quantize_model_mkldnn keyword arguments); excluded names are the fused
# nodes' names, the only ones quantize_model sees after the fusion
CASES = [
    ('mlp_none', 'mlp', dict(calib_mode='none')),
    ('mlp_naive', 'mlp', dict(calib_mode='naive')),
    ('mlp_naive_uint8', 'mlp', dict(calib_mode='naive', quantized_dtype='uint8')),
    ('mlp_naive_auto', 'mlp', dict(calib_mode='naive', quantized_dtype='auto')),
    ('mlp_entropy', 'mlp', dict(calib_mode='entropy')),
    ('mlp_naive_excl', 'mlp', dict(calib_mode='naive',
                                   excluded_sym_names=['sg_mkldnn_fully_connected_1'])),
    ('mlp_naive_channel', 'mlp', dict(calib_mode='naive', quantize_granularity='channel-wise')),
    ('cnn_none', 'cnn', dict(calib_mode='none')),
    ('cnn_naive', 'cnn', dict(calib_mode='naive')),
    ('cnn_naive_auto', 'cnn', dict(calib_mode='naive', quantized_dtype='auto')),
    ('cnn_naive_uint8', 'cnn', dict(calib_mode='naive', quantized_dtype='uint8')),
    ('cnn_entropy', 'cnn', dict(calib_mode='entropy')),
    ('cnn_naive_excl', 'cnn', dict(calib_mode='naive',
                                   excluded_sym_names=['sg_mkldnn_conv_act_1'])),
    ('cnn_naive_excl_op', 'cnn', dict(calib_mode='naive', excluded_op_names=['Pooling'])),
    ('cnn_naive_channel', 'cnn', dict(calib_mode='naive', quantize_granularity='channel-wise')),
    ('res_none', 'res', dict(calib_mode='none')),
    ('cat_none', 'cat', dict(calib_mode='none')),
    ('cat_naive', 'cat', dict(calib_mode='naive')),
    ('res_naive', 'res', dict(calib_mode='naive')),
    ('res_naive_auto', 'res', dict(calib_mode='naive', quantized_dtype='auto')),
    ('res_entropy', 'res', dict(calib_mode='entropy', quantized_dtype='auto')),
    ('res_naive_excl', 'res', dict(calib_mode='naive',
                                   excluded_sym_names=['sg_mkldnn_conv_bn_add_act_2'])),
]


def patterns():
    """Small graphs probing which patterns the conv/FC selectors fuse."""
    d = mx.sym.var('data')

    def conv(x, name, **kw):
        return mx.sym.Convolution(x, num_filter=4, kernel=kw.pop('kernel', (3, 3)),
                                  pad=kw.pop('pad', (1, 1)), name=name, **kw)

    def bn(x, name):
        return mx.sym.BatchNorm(x, fix_gamma=False, name=name)

    def relu(x, name, act='relu'):
        return mx.sym.Activation(x, act_type=act, name=name)

    g = {}
    c = conv(d, 'c0')
    b = bn(c, 'b0')
    # BatchNorm read by the relu and by a pooling: conv+bn fuse, the relu stays out
    g['bn_two_consumers'] = mx.sym.Group([relu(b, 'r0'), mx.sym.Pooling(
        b, kernel=(2, 2), pool_type='max', name='p0')])
    c = conv(d, 'c0')
    # the conv read by the BatchNorm and by a relu: nothing fuses into it
    g['conv_two_consumers'] = mx.sym.Group([bn(c, 'b0'), relu(c, 'r0')])
    c = conv(d, 'c0')
    g['conv_bn_add_relu'] = relu(mx.sym.elemwise_add(bn(c, 'b0'), d, name='s0'), 'r0')
    c = conv(d, 'c0')
    g['add_conv_second'] = relu(mx.sym.elemwise_add(mx.sym.sqrt(d, name='q'), c, name='s0'),
                                'r0')
    c1 = conv(d, 'c1')
    c2 = conv(d, 'c2')
    # a sum of two convs: the second conv (in DFS order) takes the sum
    g['add_two_convs'] = mx.sym.elemwise_add(c1, c2, name='s0')
    c = conv(d, 'c0')
    g['conv_relu_sigmoid'] = relu(relu(c, 'r0'), 'r1', 'sigmoid')
    c = conv(d, 'c0')
    g['conv_sigmoid'] = relu(c, 'a0', 'sigmoid')
    g['conv_leaky'] = mx.sym.LeakyReLU(conv(d, 'c0'), act_type='leaky', name='a0')
    g['conv_clip'] = mx.sym.clip(conv(d, 'c0'), 0, 6, name='a0')
    g['conv1d'] = relu(mx.sym.Convolution(mx.sym.reshape(d, shape=(0, 0, -1)), num_filter=4,
                                          kernel=(3,), name='c0'), 'r0')
    c = conv(d, 'c0')
    # a cycle: the sum's other operand is computed from the conv (c0 -> q -> s0)
    g['add_cycle'] = mx.sym.elemwise_add(c, mx.sym.sqrt(c, name='q'), name='s0')
    f = mx.sym.FullyConnected(d, num_hidden=6, name='f0')
    g['fc_relu'] = relu(f, 'r0')
    f = mx.sym.FullyConnected(d, num_hidden=6, name='f0')
    g['fc_two_consumers'] = mx.sym.Group([mx.sym.sqrt(f, name='q'), relu(f, 'r0')])
    f = mx.sym.FullyConnected(d, num_hidden=6, name='f0')
    g['fc_square_tanh'] = mx.sym.square(relu(f, 'a0', 'tanh'), name='sq')
    f = mx.sym.FullyConnected(d, num_hidden=6, flatten=False, name='f0')
    g['fc_gelu'] = mx.sym.LeakyReLU(f, act_type='gelu', name='a0')
    f = mx.sym.FullyConnected(d, num_hidden=6, name='f0')
    g['fc_abs_clip'] = mx.sym.clip(mx.sym.abs(f, name='a0'), 0, 1, name='c')
    out = {}
    for name, s in g.items():
        out[name] = {'sym': json.loads(s.tojson())}
        for be in ('MKLDNN', 'MKLDNN_QUANTIZE'):
            out[name][be] = json.loads(s.get_backend_symbol(be).tojson())
    return out


def params_for(sym, shape):
    """Seeded FP32 params (the tests load the saved file, never regenerate these)."""
    rng = np.random.RandomState(42)
    arg_shapes, _, aux_shapes = sym.infer_shape(data=shape)
    args, auxs = {}, {}
    for name, s in zip(sym.list_arguments(), arg_shapes):
        if name in ('data', 'softmax_label'):
            continue
        args[name] = mx.nd.array(rng.normal(scale=0.4, size=s).astype('float32'))
    for name, s in zip(sym.list_auxiliary_states(), aux_shapes):
        v = rng.uniform(0.5, 1.5, size=s) if 'var' in name else rng.normal(scale=0.1, size=s)
        auxs[name] = mx.nd.array(v.astype('float32'))
    return args, auxs


def calib_data(shape):
    """Same generator as test_quantization_mkldnn.calib_arrays: 16 examples, batch 4."""
    rng = np.random.RandomState(7)
    x = rng.normal(size=(16,) + shape[1:]).astype('float32')
    y = rng.randint(0, 5, size=(16,)).astype('float32')
    return x, y


def forward(sym, args, auxs, x):
    ex = sym.simple_bind(mx.cpu(), data=x.shape, softmax_label=(x.shape[0],), grad_req='null',
                         type_dict=dict({k: v.dtype for k, v in args.items()},
                                        data='float32', softmax_label='float32'))
    ex.copy_params_from(args, auxs, allow_extra_params=True)
    return ex.forward(is_train=False, data=mx.nd.array(x))[0].asnumpy().tolist()


def main():
    os.makedirs(OUT, exist_ok=True)
    report = {}
    for net, fn in NETS.items():
        sym, shape = fn()
        args, auxs = params_for(sym, shape)
        sym.save(os.path.join(OUT, '%s-symbol.json' % net))
        for be in ('MKLDNN', 'MKLDNN_QUANTIZE'):
            sym.get_backend_symbol(be).save(os.path.join(OUT, '%s-%s-symbol.json' % (net, be)))
        save = {'arg:' + k: v for k, v in args.items()}
        save.update({'aux:' + k: v for k, v in auxs.items()})
        mx.nd.save(os.path.join(OUT, '%s-0000.params' % net), save)
    for case, net, kw in CASES:
        sym, shape = NETS[net]()
        args, auxs = q._load_params(os.path.join(OUT, '%s-0000.params' % net))
        x, y = calib_data(shape)
        it = mx.io.NDArrayIter(x, y, batch_size=4, label_name='softmax_label')
        th = {}
        orig_calib = q._calibrate_quantized_sym

        def spy(qsym, th_dict):
            th.update({k: [float(v[0]), float(v[1])] for k, v in th_dict.items()})
            return orig_calib(qsym, th_dict)
        q._calibrate_quantized_sym = spy
        qsym, qargs, qauxs = q.quantize_model_mkldnn(sym, args, auxs, ctx=mx.cpu(),
                                                     calib_data=it, **kw)
        q._calibrate_quantized_sym = orig_calib
        qsym.save(os.path.join(OUT, '%s-quantized-symbol.json' % case))
        mx.nd.save(os.path.join(OUT, '%s-quantized.params' % case), qargs)
        # outputs on the first calibration batch: FP32 and quantized (oneDNN kernels)
        outs = {}
        for tag, s, a in (('fp32', sym, args), ('int8', qsym, qargs)):
            try:
                outs[tag] = forward(s, a, auxs, x[:4])
            except mx.base.MXNetError as err:
                outs[tag] = str(err).strip().splitlines()[-1]
        report[case] = dict(net=net, kwargs=kw, th_dict=th, outputs=outs)
        print(case, 'th', sorted(th))
    with open(os.path.join(OUT, 'reference.json'), 'w') as f:
        json.dump(report, f, indent=1, sort_keys=True)
    with open(os.path.join(OUT, 'patterns.json'), 'w') as f:
        json.dump(patterns(), f, sort_keys=True)


if __name__ == '__main__':
    sys.exit(main())
