"""Writes tests/python/data/quantization_mkldnn_selfatt/ with Apache MXNet 1.9.1 (CPU wheel with
oneDNN): how its MKLDNN backends fuse the interleaved self-attention products
(`_contrib_interleaved_matmul_selfatt_qk/valatt` -> `_sg_mkldnn_selfatt_qk/valatt`) and what
`quantize_model_mkldnn` makes of attention blocks. Run from tests/python with
    MXNET_ENGINE_TYPE=NaiveEngine MXNET_SUBGRAPH_BACKEND=NONE /work/mxref/bin/python \
        quantization_mkldnn_selfatt_mxnet_ref.py
(MXNET_SUBGRAPH_BACKEND=NONE: no bind-time fusion while calibrating or running). Never imported
by the tests. It writes:
- patterns.json: per small graph, its JSON, the input shapes, and the exact `tojson()` text of
  `get_backend_symbol('MKLDNN')` and of `('MKLDNN_QUANTIZE')` (null where the two are the same
  text, which keeps the file small); `disabled` is made in a child process with
  MXNET_DISABLE_MKLDNN_TRANSFORMER_OPT=1 (MXNet reads it once, when the backend is built);
- <net>-symbol.json + <net>-0000.params for the nets quantized, and per case
  <case>-quantized-symbol.json (compact) + <case>-quantized.params;
- reference.json: per case the net, kwargs, environment, calibration table, and the FP32 and
  INT8 outputs MXNet computes on the first calibration batch (or its error, where it refuses
  to bind the INT8 graph). Cases with an environment switch also run in a child process."""
import json
import os
import subprocess
import sys

import numpy as np
import mxnet as mx
from mxnet.contrib import quantization as q

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data',
                   'quantization_mkldnn_selfatt')
L, B, H, D = 4, 2, 2, 4  # sequence, batch, heads, head width
E = H * D


def _att(qkv, heads, prefix=''):
    att = mx.sym.contrib.interleaved_matmul_selfatt_qk(qkv, heads=heads, name=prefix + 'qk')
    att = mx.sym.softmax(att, axis=-1, name=prefix + 'sm')
    return mx.sym.contrib.interleaved_matmul_selfatt_valatt(qkv, att, heads=heads,
                                                            name=prefix + 'valatt')


def bert():
    """One BERT encoder layer (relu FFN; test_sg_mkldnn_fc_eltwise.py has gelu)."""
    data = mx.sym.var('data')
    qkv = mx.sym.FullyConnected(data, num_hidden=3 * E, flatten=False, name='qkv')
    proj = mx.sym.FullyConnected(_att(qkv, H), num_hidden=E, flatten=False, name='proj')
    ln1 = mx.sym.LayerNorm(mx.sym.elemwise_add(proj, data, name='add1'), axis=-1, name='ln1')
    f1 = mx.sym.FullyConnected(ln1, num_hidden=4 * E, flatten=False, name='ffn1')
    f1 = mx.sym.Activation(f1, act_type='relu', name='relu')
    f2 = mx.sym.FullyConnected(f1, num_hidden=E, flatten=False, name='ffn2')
    return mx.sym.LayerNorm(mx.sym.elemwise_add(f2, ln1, name='add2'), axis=-1, name='ln2'), \
        (L, B, E)


def bare():
    """The attention products straight on the input: they are quantized without an FC."""
    return _att(mx.sym.var('data'), H), (L, B, 3 * E)


def cat():
    """valatt and an FC into one quantized concat: MXNet aligns their ranges."""
    data = mx.sym.var('data')
    qkv = mx.sym.FullyConnected(data, num_hidden=3 * E, flatten=False, name='qkv')
    side = mx.sym.FullyConnected(data, num_hidden=E, flatten=False, name='side')
    c = mx.sym.Concat(_att(qkv, H), side, dim=2, name='cat')
    return mx.sym.FullyConnected(c, num_hidden=E, flatten=False, name='proj'), (L, B, E)


NETS = {'bert': bert, 'bare': bare, 'cat': cat}

# (case, net, quantize_model_mkldnn kwargs, environment)
CASES = [
    ('bert_naive', 'bert', dict(calib_mode='naive', quantized_dtype='auto'), {}),
    ('bert_none', 'bert', dict(calib_mode='none', quantized_dtype='auto'), {}),
    ('bert_naive_int8', 'bert', dict(calib_mode='naive'), {}),
    ('bert_naive_full', 'bert', dict(calib_mode='naive', quantized_dtype='auto',
                                     quantize_mode='full'), {}),
    ('bert_naive_channel', 'bert', dict(calib_mode='naive', quantized_dtype='auto',
                                        quantize_granularity='channel-wise'), {}),
    ('bert_naive_excl_qk', 'bert', dict(calib_mode='naive', quantized_dtype='auto',
                                        excluded_sym_names=['sg_mkldnn_selfatt_qk_0']), {}),
    ('bert_naive_excl_valatt', 'bert', dict(
        calib_mode='naive', quantized_dtype='auto',
        excluded_sym_names=['sg_mkldnn_selfatt_valatt_1']), {}),
    ('bert_naive_no_float_output', 'bert', dict(calib_mode='naive', quantized_dtype='auto'),
     {'MXNET_DISABLE_MKLDNN_QTRANSFORMER_FLOAT_OUTPUT': '1'}),
    ('bert_naive_no_fold', 'bert', dict(calib_mode='naive', quantized_dtype='auto'),
     {'MXNET_DISABLE_MKLDNN_QTRANSFORMER_FUSE_ALL': '1'}),
    ('bert_naive_no_transformer', 'bert', dict(calib_mode='naive', quantized_dtype='auto'),
     {'MXNET_DISABLE_MKLDNN_TRANSFORMER_OPT': '1'}),
    ('bare_naive', 'bare', dict(calib_mode='naive', quantized_dtype='auto'), {}),
    ('cat_naive', 'cat', dict(calib_mode='naive', quantized_dtype='auto'), {}),
]


def patterns():
    """Small graphs: which attention products fuse, their names, attrs and subgraphs."""
    d = mx.sym.var('data')
    g = {}

    def fc(x, name, n=3 * E):
        return mx.sym.FullyConnected(x, num_hidden=n, flatten=False, name=name)

    # the graph of the task statement: heads=4 on a 3*64-wide projection
    g['block_h4'] = (_att(mx.sym.FullyConnected(d, num_hidden=3 * 64, flatten=False,
                                                name='qkv'), 4), {'data': (3, 2, 64)})
    g['block_proj_h2'] = (fc(_att(fc(d, 'qkv'), 2), 'proj', E), {'data': (L, B, E)})
    g['bare_h3'] = (_att(d, 3), {'data': (L, B, 18)})
    # valatt reads another projection than qk: each product still fuses on its own
    g['two_qkv'] = (mx.sym.contrib.interleaved_matmul_selfatt_valatt(
        fc(d, 'f2'), mx.sym.softmax(mx.sym.contrib.interleaved_matmul_selfatt_qk(
            fc(d, 'f1'), heads=2, name='qk'), axis=-1, name='sm'), heads=2, name='va'),
        {'data': (L, B, E)})
    # qk on an FC+relu, read by a sqrt and as a graph output, the relu an output too
    r = mx.sym.Activation(fc(d, 'f1'), act_type='relu', name='r')
    qk = mx.sym.contrib.interleaved_matmul_selfatt_qk(r, heads=2, name='qk')
    g['qk_shared'] = (mx.sym.Group([qk, mx.sym.sqrt(qk, name='q'), r]), {'data': (L, B, E)})
    g['valatt_same_input'] = (mx.sym.contrib.interleaved_matmul_selfatt_valatt(
        d, d, heads=1, name='va'), {'data': (3, 1, 9)})
    g['valatt_att_input'] = (mx.sym.contrib.interleaved_matmul_selfatt_valatt(
        d, mx.sym.var('att'), heads=2, name='va'), {'data': (L, B, 3 * E), 'att': (B * 2, L, L)})
    x = fc(_att(fc(d, 'l0_qkv'), 2, 'l0_'), 'l0_proj', E)
    g['two_layers'] = (fc(_att(fc(x, 'l1_qkv'), 4, 'l1_'), 'l1_proj', E), {'data': (L, B, E)})
    return {name: _pattern(s, shapes) for name, (s, shapes) in g.items()}


def _pattern(s, shapes):
    fused = {be: s.get_backend_symbol(be).tojson() for be in ('MKLDNN', 'MKLDNN_QUANTIZE')}
    return {'sym': json.loads(s.tojson()), 'shapes': shapes, 'MKLDNN': fused['MKLDNN'],
            'MKLDNN_QUANTIZE': None if fused['MKLDNN_QUANTIZE'] == fused['MKLDNN']
            else fused['MKLDNN_QUANTIZE']}


def disabled_pattern():
    return dict(_pattern(bert()[0], {'data': (L, B, E)}),
                env={'MXNET_DISABLE_MKLDNN_TRANSFORMER_OPT': '1'})


def params_for(sym, shape):
    rng = np.random.RandomState(42)
    arg_shapes, _, _ = sym.infer_shape(data=shape)
    args = {}
    for name, s in zip(sym.list_arguments(), arg_shapes):
        if name == 'data':
            continue
        v = rng.normal(scale=0.3, size=s)
        if name.endswith('_gamma'):
            v = 1 + v / 3
        args[name] = mx.nd.array(v.astype('float32'))
    return args


def calib_data(shape):
    """Same generator as test_quantization_mkldnn_selfatt.calib_array: four batches of L."""
    return np.random.RandomState(7).normal(size=(4 * shape[0],) + shape[1:]).astype('float32')


def forward(sym, args, x):
    ex = sym.simple_bind(mx.cpu(), data=x.shape, grad_req='null',
                         type_dict=dict({k: v.dtype for k, v in args.items()}, data='float32'))
    ex.copy_params_from(args, {}, allow_extra_params=True)
    return ex.forward(is_train=False, data=mx.nd.array(x))[0].asnumpy().tolist()


def run_case(case):
    _, net, kw, _ = next(c for c in CASES if c[0] == case)
    sym, shape = NETS[net]()
    saved = mx.nd.load(os.path.join(OUT, '%s-0000.params' % net))
    # a net without params (bare) saves an empty file, which loads as an empty list
    args = {k[4:]: v for k, v in (saved or {}).items()}
    x = calib_data(shape)
    it = mx.io.NDArrayIter(x, batch_size=shape[0])
    th = {}
    orig_calib = q._calibrate_quantized_sym

    def spy(qsym, th_dict):
        th.update({k: [float(v[0]), float(v[1])] for k, v in th_dict.items()})
        return orig_calib(qsym, th_dict)
    q._calibrate_quantized_sym = spy
    qsym, qargs, _ = q.quantize_model_mkldnn(sym, args, {}, ctx=mx.cpu(), calib_data=it,
                                             label_names=None, **kw)
    q._calibrate_quantized_sym = orig_calib
    with open(os.path.join(OUT, '%s-quantized-symbol.json' % case), 'w') as f:
        json.dump(json.loads(qsym.tojson()), f, separators=(',', ':'))
    mx.nd.save(os.path.join(OUT, '%s-quantized.params' % case), qargs)
    outs = {}
    for tag, s, a in (('fp32', sym, args), ('int8', qsym, qargs)):
        try:
            outs[tag] = forward(s, a, x[:shape[0]])
        except (mx.base.MXNetError, RuntimeError) as err:
            # simple_bind wraps the MXNetError of type inference in a RuntimeError
            outs[tag] = str(err).strip().splitlines()[-1]
    return dict(net=net, kwargs=kw, th_dict=th, outputs=outs)


def _child(args, env):
    """Runs this script with `args` and `env` added; returns the JSON it prints last."""
    res = subprocess.run([sys.executable, os.path.abspath(__file__)] + args,
                         env=dict(os.environ, **env), check=True, stdout=subprocess.PIPE)
    return json.loads(res.stdout.decode().strip().splitlines()[-1])


def main():
    if sys.argv[1:2] == ['--case']:
        print(json.dumps(run_case(sys.argv[2])))
        return 0
    if sys.argv[1:2] == ['--disabled']:
        print(json.dumps(disabled_pattern()))
        return 0
    os.makedirs(OUT, exist_ok=True)
    for net, fn in NETS.items():
        sym, shape = fn()
        sym.save(os.path.join(OUT, '%s-symbol.json' % net))
        mx.nd.save(os.path.join(OUT, '%s-0000.params' % net),
                   {'arg:' + k: v for k, v in params_for(sym, shape).items()})
    report = {}
    for case, _, _, env in CASES:
        report[case] = _child(['--case', case], env) if env else run_case(case)
        report[case]['env'] = env
        print(case, report[case]['outputs']['int8'] if isinstance(
            report[case]['outputs']['int8'], str) else 'ran')
    with open(os.path.join(OUT, 'reference.json'), 'w') as f:
        json.dump(report, f, sort_keys=True)
    pats = patterns()
    pats['disabled'] = _child(['--disabled'], {'MXNET_DISABLE_MKLDNN_TRANSFORMER_OPT': '1'})
    with open(os.path.join(OUT, 'patterns.json'), 'w') as f:
        json.dump(pats, f, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
