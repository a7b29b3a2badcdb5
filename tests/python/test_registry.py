"""Walks the operator registry: every op documented, generated in mx.nd, defaults parse."""
import inspect

import oxnet as mx
from oxnet import _native


def test_every_op_is_documented_and_generated():
    ops = _native.list_ops()
    assert len(ops) > 150
    for name, doc, params, inputs, variadic, _group in ops:
        assert doc and len(doc) > 10, name
        f = getattr(mx.nd._internal, name)
        assert f.__doc__.startswith(doc)
        if not name.startswith("_"):
            assert getattr(mx.nd, name) is not None
        if not variadic:
            sig = inspect.signature(f)
            for i in inputs:
                assert i in sig.parameters, (name, i)


def test_aliases_resolve():
    for alias, target in _native.list_aliases():
        assert getattr(mx.nd._internal, alias).__doc__ == getattr(mx.nd._internal, target).__doc__


def test_unknown_and_missing_params():
    import pytest
    with pytest.raises(mx.MXNetError, match="Cannot find argument 'bogus'"):
        mx.nd.clip(mx.nd.ones(2), a_min=0, a_max=1, bogus=3)
    with pytest.raises(mx.MXNetError, match="Required parameter a_max"):
        mx.nd.clip(mx.nd.ones(2), a_min=0)
    # MXNet 1.9.1 ignores whatever an op without parameters is given.
    assert mx.nd.abs(mx.nd.array([-2.0]), foo=3).asnumpy().tolist() == [2.0]
