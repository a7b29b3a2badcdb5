"""Writes an RNN language-model checkpoint with real MXNet 1.9.1 for
tests/python/test_rnn_cell.py (mx.rnn.save_rnn_checkpoint: per-gate weights on disk).

Run with an MXNet 1.9.1 interpreter (never at test time):
    MXNET_ENGINE_TYPE=NaiveEngine /work/mxref/bin/python tests/data/make_golden_rnn.py
"""
import json
import os

import mxnet as mx
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "rnn")
VOCAB, EMBED, BATCH = 7, 4, 4


def make_stack():
    stack = mx.rnn.SequentialRNNCell()
    stack.add(mx.rnn.LSTMCell(6, prefix="lstm_l0_"))
    stack.add(mx.rnn.DropoutCell(0.2, prefix="drop_"))
    stack.add(mx.rnn.GRUCell(5, prefix="gru_l1_"))
    return stack


def make_sym_gen(stack):
    def sym_gen(seq_len):
        data = mx.sym.Variable("data")
        label = mx.sym.Variable("softmax_label")
        embed = mx.sym.Embedding(data=data, input_dim=VOCAB, output_dim=EMBED, name="embed")
        stack.reset()
        outputs, _ = stack.unroll(seq_len, inputs=embed, merge_outputs=True)
        pred = mx.sym.FullyConnected(mx.sym.Reshape(outputs, shape=(-1, 5)), num_hidden=VOCAB,
                                     name="pred")
        pred = mx.sym.SoftmaxOutput(pred, mx.sym.Reshape(label, shape=(-1,)), name="softmax")
        return pred, ("data",), ("softmax_label",)
    return sym_gen


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(0)
    mx.random.seed(0)
    np.random.seed(0)
    sents = [list(rng.randint(1, VOCAB, rng.randint(2, 6))) for _ in range(64)]
    it = mx.rnn.BucketSentenceIter(sents, BATCH, buckets=[3, 5], invalid_label=0)
    stack = make_stack()
    mod = mx.mod.BucketingModule(make_sym_gen(stack), default_bucket_key=5)
    mod.fit(it, num_epoch=1, optimizer="sgd", optimizer_params={"learning_rate": 0.5},
            initializer=mx.init.Xavier(), eval_metric=mx.metric.Perplexity(0))
    arg, aux = mod.get_params()
    prefix = os.path.join(OUT, "lm")
    mx.rnn.save_rnn_checkpoint(stack, prefix, 1, mod.symbol, arg, aux)
    expected = {"mxnet": mx.__version__, "params_keys": sorted(mx.nd.load(prefix + "-0001.params"))}
    for length in (3, 5):
        x = rng.randint(0, VOCAB, (BATCH, length)).astype(np.float32)
        batch = mx.io.DataBatch([mx.nd.array(x)], [mx.nd.zeros((BATCH, length))],
                                bucket_key=length,
                                provide_data=[mx.io.DataDesc("data", (BATCH, length))],
                                provide_label=[mx.io.DataDesc("softmax_label", (BATCH, length))])
        mod.forward(batch, is_train=False)
        np.save(os.path.join(OUT, "input_%d.npy" % length), x)
        np.save(os.path.join(OUT, "predict_%d.npy" % length), mod.get_outputs()[0].asnumpy())
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()
