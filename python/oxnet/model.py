"""Checkpoints, the KVStore helpers shared by the trainers, and the deprecated
``mx.model.FeedForward`` (MXNet 1.x's ``mxnet.model``)."""
import functools
import importlib.util
import logging
import os
import time
import warnings
from collections import namedtuple

import numpy as np

from . import io
from . import kvstore as kvs
from . import metric
from . import ndarray as nd
from . import optimizer as opt
from . import symbol as sym
from .base import MXNetError
from .context import Context, cpu
from . import initializer as init
from .ndarray.ndarray import NDArray
# Names MXNet's model module re-exports, which user code reaches as mx.model.X.
from .base import mx_real_t
from .initializer import Uniform
from .io import DataDesc
from .optimizer import get_updater

# MXNet derives FeedForward from sklearn's BaseEstimator when sklearn imports (and then leaves
# SKLEARN_INSTALLED undefined); oxnet keeps a plain base class and only reports whether sklearn
# is installed, without paying for importing it.
BASE_ESTIMATOR = object
SKLEARN_INSTALLED = importlib.util.find_spec("sklearn") is not None

BatchEndParam = namedtuple("BatchEndParams", ["epoch", "nbatch", "eval_metric", "locals"])

# The biggest parameter (in elements) a 'local' store still updates itself; larger models
# update on the workers, whose copies are already where the gradients are (MXNet's rule).
_LOCAL_UPDATE_LIMIT = 1024 * 1024 * 16


def _create_kvstore(kvstore, num_device, arg_params):
    """(store or None, update_on_kvstore) for a trainer on ``num_device`` contexts."""
    update_on_kvstore = os.environ.get("MXNET_UPDATE_ON_KVSTORE", "1") != "0"
    if kvstore is None:
        kv = None
    elif isinstance(kvstore, kvs.KVStoreBase):
        kv = kvstore
    elif isinstance(kvstore, str):
        if num_device == 1 and "dist" not in kvstore:
            # One device needs no store: the updater runs on the device's own arrays.
            kv = None
        else:
            kv = kvs.create(kvstore)
            if kvstore == "local":
                sizes = [int(np.prod(p.shape)) for p in arg_params.values()]
                if sizes and max(sizes) > _LOCAL_UPDATE_LIMIT:
                    update_on_kvstore = False
    else:
        raise TypeError("kvstore must be a KVStore, str or None, not %s"
                        % type(kvstore).__name__)
    if kv is None:
        update_on_kvstore = False
    else:
        update_on_kvstore &= kv.is_capable(kvs.KVStoreBase.OPTIMIZER)
    return kv, update_on_kvstore


def _initialize_kvstore(kvstore, param_arrays, arg_params, param_names, update_on_kvstore):
    """Puts every parameter into the store; workers pull the store's value when it updates."""
    for idx, arrays in enumerate(param_arrays):
        name = param_names[idx]
        kvstore.init(name, arg_params[name])
        if update_on_kvstore:
            kvstore.pull(name, arrays, priority=-idx, ignore_sparse=False)


def _update_params_on_kvstore(param_arrays, grad_arrays, kvstore, param_names):
    """The store sums the gradients, updates its weights, and the workers pull them."""
    for index, (arg_list, grad_list) in enumerate(zip(param_arrays, grad_arrays)):
        if grad_list[0] is None:
            continue
        name = param_names[index]
        if opt._all_dense(grad_list, arg_list):
            kvstore.pushpull(name, grad_list, out=arg_list, priority=-index)
        else:
            kvstore.push(name, grad_list, priority=-index)
            kvstore.pull(name, arg_list, priority=-index, ignore_sparse=False)


def _update_params(param_arrays, grad_arrays, updater, num_device, kvstore=None,
                   param_names=None):
    """Each device updates its own copy, after the store (if any) summed the gradients; one
    updater call per device with all its parameters (an aggregating optimizer fuses them)."""
    updates = [([], [], []) for _ in range(num_device)]
    for index, (arg_list, grad_list) in enumerate(zip(param_arrays, grad_arrays)):
        if grad_list[0] is None:
            continue
        if kvstore is not None:
            # One pushpull as MXNet's: the sum comes back into the gradients (a dist_sync
            # store receives it in place, a local one sums and writes in one pass).
            name = param_names[index]
            if opt._all_dense(grad_list, arg_list):
                kvstore.pushpull(name, grad_list, priority=-index)
            else:
                kvstore.push(name, grad_list, priority=-index)
                kvstore.pull(name, grad_list, priority=-index, ignore_sparse=False)
        for k, (w, g) in enumerate(zip(arg_list, grad_list)):
            # One optimizer state per (parameter, device): the copies stay independent.
            updates[k][0].append(index * num_device + k)
            updates[k][1].append(g)
            updates[k][2].append(w)
    for indices, grads, weights in updates:
        if indices:
            updater(indices, grads, weights)


def _multiple_callbacks(callbacks, *args, **kwargs):
    if callbacks is None:
        return
    if isinstance(callbacks, (list, tuple)):
        for cb in callbacks:
            cb(*args, **kwargs)
    else:
        callbacks(*args, **kwargs)


def _checkpoint_dict(arg_params, aux_params):
    """The ``arg:``/``aux:`` dict a .params file holds (args first, as MXNet writes)."""
    save_dict = {("arg:%s" % k): v.as_in_context(cpu()) for k, v in arg_params.items()}
    save_dict.update({("aux:%s" % k): v.as_in_context(cpu()) for k, v in aux_params.items()})
    return save_dict


def save_checkpoint(prefix, epoch, symbol, arg_params, aux_params, remove_amp_cast=True):
    """Writes ``prefix-symbol.json`` (unless ``symbol`` is None) and ``prefix-%04d.params``."""
    if symbol is not None:
        symbol.save("%s-symbol.json" % prefix, remove_amp_cast=remove_amp_cast)
    param_name = "%s-%04d.params" % (prefix, epoch)
    nd.save(param_name, _checkpoint_dict(arg_params, aux_params))
    logging.info('Saved checkpoint to "%s"', param_name)


def load_params(prefix, epoch):
    """(arg_params, aux_params) from ``prefix-%04d.params``."""
    return _split_params("%s-%04d.params" % (prefix, epoch))


def _split_params(fname, strict=False):
    """(arg_params, aux_params) of a .params file; other prefixes are skipped (or, when
    ``strict``, rejected as Module.load_params does)."""
    save_dict = nd.load(fname)
    arg_params, aux_params = {}, {}
    if not save_dict:
        logging.warning("Params file '%s' is empty", fname)
        return arg_params, aux_params
    if not isinstance(save_dict, dict):
        raise MXNetError("%s holds a list of arrays, not the arg:/aux: dict of a checkpoint"
                         % fname)
    for k, v in save_dict.items():
        tp, colon, name = k.partition(":")
        if not colon:  # MXNet's k.split(':', 1) fails on it too: not a checkpoint's key
            raise ValueError("Invalid param file %s: key %r has no arg:/aux: prefix" % (fname, k))
        if tp == "arg":
            arg_params[name] = v
        elif tp == "aux":
            aux_params[name] = v
        elif strict:
            raise ValueError("Invalid param file %s: key %r is neither arg: nor aux:" % (fname, k))
    return arg_params, aux_params


def load_checkpoint(prefix, epoch):
    """(symbol, arg_params, aux_params) saved by ``save_checkpoint``."""
    symbol = sym.load("%s-symbol.json" % prefix)
    arg_params, aux_params = load_params(prefix, epoch)
    return symbol, arg_params, aux_params


def _init_by_name(initializer, desc, arr):
    # The name-only call warns that it is deprecated: a caller's advice, not the user's.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        initializer(str(desc), arr)


def _as_contexts(ctx):
    if ctx is None:
        return [cpu()]
    if isinstance(ctx, Context):
        return [ctx]
    return list(ctx)


class FeedForward(BASE_ESTIMATOR):
    """MXNet 1.x's deprecated feed-forward model: ``fit``/``predict``/``score`` over numpy
    arrays or data iterators (built on ``mx.mod.Module``).

    Extra keyword arguments (``learning_rate``, ``momentum``, ``wd``...) go to the optimizer.
    """

    def __init__(self, symbol, ctx=None, num_epoch=None, epoch_size=None, optimizer="sgd",
                 initializer=None, numpy_batch_size=128, arg_params=None,
                 aux_params=None, allow_extra_params=False, begin_epoch=0, **kwargs):
        warnings.warn("\033[91mmxnet.model.FeedForward has been deprecated. "
                      "Please use mxnet.mod.Module instead.\033[0m",
                      DeprecationWarning, stacklevel=2)
        if isinstance(symbol, sym.Symbol):
            self.symbol = symbol
            self.sym_gen = None
        else:
            if not callable(symbol):
                raise TypeError("FeedForward: symbol must be a Symbol or a callable sym_gen")
            self.symbol = None
            self.sym_gen = symbol
        self.arg_params = arg_params
        self.aux_params = aux_params
        self.allow_extra_params = allow_extra_params
        self.argument_checked = False
        if self.sym_gen is None:
            self._check_arguments()
        self.ctx = _as_contexts(ctx)
        self.num_epoch = num_epoch
        self.epoch_size = epoch_size
        self.kwargs = kwargs.copy()
        self.optimizer = optimizer
        # MXNet's default, Uniform(0.01), made per model (initializers keep no state).
        self.initializer = initializer if initializer is not None else init.Uniform(0.01)
        self.numpy_batch_size = numpy_batch_size
        self._pred_exec = None
        self.begin_epoch = begin_epoch

    def _check_arguments(self):
        if self.argument_checked:
            return
        # Imported here: executor_manager imports oxnet.module, which imports this module.
        from .executor_manager import _check_arguments
        _check_arguments(self.symbol)
        self.argument_checked = True
        if self.allow_extra_params:
            args = self.symbol.list_arguments()
            aux = self.symbol.list_auxiliary_states()
            if self.arg_params:
                self.arg_params = {k: v for k, v in self.arg_params.items() if k in args}
            if self.aux_params:
                self.aux_params = {k: v for k, v in self.aux_params.items() if k in aux}

    def __getstate__(self):
        this = self.__dict__.copy()
        this["_pred_exec"] = None
        return this

    def __setstate__(self, state):
        self.__dict__.update(state)

    # -- data ---------------------------------------------------------------------------------
    def _init_iter(self, X, y, is_train):
        if isinstance(X, (np.ndarray, NDArray)):
            if y is None:
                if is_train:
                    raise ValueError("y must be specified when X is numpy.ndarray")
                y = np.zeros(X.shape[0])
            if not isinstance(y, (np.ndarray, NDArray)):
                raise TypeError("y must be ndarray when X is numpy.ndarray")
            if X.shape[0] != y.shape[0]:
                raise ValueError("The numbers of data points and labels not equal: X has %d, "
                                 "y has %d" % (X.shape[0], y.shape[0]))
            if y.ndim == 2 and y.shape[1] == 1:
                y = y.reshape((y.shape[0],)) if isinstance(y, NDArray) else y.flatten()
            if y.ndim != 1:
                raise ValueError("Label must be 1D or 2D (with 2nd dimension being 1)")
            batch = min(X.shape[0], self.numpy_batch_size)
            if is_train:
                return io.NDArrayIter(X, y, batch, shuffle=True, last_batch_handle="roll_over")
            return io.NDArrayIter(X, y, batch, shuffle=False)
        if not isinstance(X, io.DataIter):
            raise TypeError("X must be DataIter, NDArray or numpy.ndarray")
        return X

    def _init_eval_iter(self, eval_data):
        """A DataIter from ``eval_data``: an iterator, or a (data, label) pair of arrays or
        lists, as MXNet takes it."""
        if eval_data is None or isinstance(eval_data, io.DataIter):
            return eval_data
        if isinstance(eval_data, (tuple, list)) and len(eval_data) == 2:
            data, label = eval_data
            if data is None:
                raise ValueError("Eval data is NONE")
            if label is None and isinstance(data, io.DataIter):
                return data
            data = np.array(data) if isinstance(data, list) else data
            label = np.array(label) if isinstance(label, list) else label
            return self._init_iter(data, label, is_train=True)
        raise TypeError("Eval data must be DataIter, or NDArray/numpy.ndarray/list pair "
                        "(i.e. tuple/list of length 2)")

    # -- the module that does the work -------------------------------------------------------
    def _symbol_for(self, data):
        if self.sym_gen is not None:
            return self.sym_gen(data.default_bucket_key)
        return self.symbol

    def _module(self, data, for_training, logger=None):
        from .module import Module
        symbol = self._symbol_for(data)
        data_names = [d[0] for d in data.provide_data]
        label_names = [d[0] for d in data.provide_label]
        args = symbol.list_arguments()
        label_names = [n for n in label_names if n in args]
        mod = Module(symbol, data_names=data_names, label_names=label_names or None,
                     context=self.ctx, logger=logger or logging)
        mod.bind(data_shapes=data.provide_data,
                 label_shapes=data.provide_label if label_names else None,
                 for_training=for_training)
        return mod

    def _init_optimizer(self, mod, kvstore):
        if isinstance(self.optimizer, opt.Optimizer):
            mod.init_optimizer(kvstore=kvstore, optimizer=self.optimizer)
            return
        # The module numbers the parameters as its updates do (inputs excluded, one index per
        # device unless the KVStore updates) and scales by the (global) batch size; the
        # constructor's extra keywords go to the optimizer, as in MXNet's FeedForward.fit.
        params = {k: v for k, v in self.kwargs.items() if k not in ("sym", "param_idx2name")}
        mod.init_optimizer(kvstore=kvstore, optimizer=self.optimizer, optimizer_params=params)
        self.kwargs["sym"] = mod.symbol
        self.kwargs["param_idx2name"] = dict(mod._optimizer.idx2name)

    def fit(self, X, y=None, eval_data=None, eval_metric="acc", epoch_end_callback=None,
            batch_end_callback=None, kvstore="local", logger=None, work_load_list=None,
            monitor=None, eval_end_callback=None, eval_batch_end_callback=None):
        """Trains for ``num_epoch`` epochs (logging as MXNet's FeedForward does)."""
        from .callback import LogValidationMetricsCallback
        if eval_end_callback is None:
            eval_end_callback = LogValidationMetricsCallback()
        data = self._init_iter(X, y, is_train=True)
        eval_data = self._init_eval_iter(eval_data)
        if self.num_epoch is None:
            raise ValueError("FeedForward.fit: num_epoch is not set (pass it to the constructor)")
        from .module.base_module import _fit_logger
        logger = _fit_logger(logger if logger is not None else logging)
        mod = self._module(data, for_training=True, logger=logger)
        symbol = mod.symbol
        self.symbol = symbol
        self._check_arguments()
        # MXNet's FeedForward initializes by name alone: its initializer never sees the
        # variables' `init=` attributes (which Module honours).
        initializer = self.initializer
        if initializer is not None:
            initializer = functools.partial(_init_by_name, self.initializer)
        mod.init_params(initializer=initializer, arg_params=self.arg_params,
                        aux_params=self.aux_params, allow_missing=True,
                        allow_extra=self.allow_extra_params)
        self._init_optimizer(mod, kvstore)
        if not isinstance(eval_metric, metric.EvalMetric):
            eval_metric = metric.create(eval_metric)
        logger.info("Start training with %s", str(self.ctx))
        self._train(mod, data, eval_data, eval_metric, logger, epoch_end_callback,
                    batch_end_callback, eval_end_callback, eval_batch_end_callback, monitor)
        self.arg_params, self.aux_params = mod.get_params()
        self._pred_exec = None
        return self

    def _train(self, mod, data, eval_data, eval_metric, logger, epoch_end_callback,
               batch_end_callback, eval_end_callback, eval_batch_end_callback, monitor):
        """MXNet's FeedForward loop: batch numbers start at 1, ``epoch_size`` batches make an
        epoch (the iterator is reset only when it runs out), no Train- lines."""
        if monitor is not None:
            mod.install_monitor(monitor)
        # MXNet resets once more before the first epoch: a shuffling iterator draws again, and
        # a seeded np.random then gives MXNet's sample order.
        data.reset()
        for epoch in range(self.begin_epoch, self.num_epoch):
            tic = time.time()
            eval_metric.reset()
            nbatch = 0
            while True:
                do_reset = True
                for batch in data:
                    if monitor is not None:
                        monitor.tic()
                    mod.forward_backward(batch)
                    mod.update()
                    mod.update_metric(eval_metric, batch.label)
                    if monitor is not None:
                        monitor.toc_print()
                    nbatch += 1
                    _multiple_callbacks(batch_end_callback,
                                        BatchEndParam(epoch=epoch, nbatch=nbatch,
                                                      eval_metric=eval_metric, locals=locals()))
                    if self.epoch_size is not None and nbatch >= self.epoch_size:
                        do_reset = False
                        break
                if do_reset:
                    logger.info("Epoch[%d] Resetting Data Iterator", epoch)
                    data.reset()
                if self.epoch_size is None or nbatch >= self.epoch_size:
                    break
            logger.info("Epoch[%d] Time cost=%.3f", epoch, time.time() - tic)
            arg_params, aux_params = mod.get_params()
            _multiple_callbacks(epoch_end_callback, epoch, mod.symbol, arg_params, aux_params)
            if eval_data:
                eval_metric.reset()
                eval_data.reset()
                total = 0
                for i, batch in enumerate(eval_data):
                    mod.forward(batch, is_train=False)
                    mod.update_metric(eval_metric, batch.label)
                    _multiple_callbacks(eval_batch_end_callback,
                                        BatchEndParam(epoch=epoch, nbatch=i,
                                                      eval_metric=eval_metric, locals=locals()))
                    total += 1
                _multiple_callbacks(eval_end_callback,
                                    BatchEndParam(epoch=epoch, nbatch=total,
                                                  eval_metric=eval_metric, locals=locals()))
                eval_data.reset()

    def _predictor(self, data):
        """MXNet's predictor: one executor on the first context, bound from the data shapes
        alone (a label the symbol reads is inferred and left zero) and kept while they stay
        the same; the current parameters are copied in on every call. Returns it and its data
        arrays."""
        symbol = self._symbol_for(data)
        descs = [d if isinstance(d, DataDesc) else DataDesc(*d) for d in data.provide_data]
        shapes = tuple((d.name, tuple(d.shape), np.dtype(d.dtype).str) for d in descs)
        cached = self._pred_exec
        if cached is None or cached[0] is not symbol or cached[1] != shapes:
            types = {k: v.dtype for k, v in (self.arg_params or {}).items()}
            types.update((d.name, d.dtype) for d in descs)
            ex = symbol.simple_bind(self.ctx[0], grad_req="null", type_dict=types,
                                    **{d.name: tuple(d.shape) for d in descs})
            self._pred_exec = (symbol, shapes, ex)
        ex = self._pred_exec[2]
        ex.copy_params_from(self.arg_params or {}, self.aux_params or {},
                            allow_extra_params=True)
        return ex, [ex.arg_dict[d.name] for d in descs]

    @staticmethod
    def _run(ex, data_arrays, batch):
        for src, dst in zip(batch.data, data_arrays):
            src.copyto(dst)
        ex.forward(is_train=False)
        return ex.outputs

    def predict(self, X, num_batch=None, return_data=False, reset=True):
        """Outputs for ``X`` (numpy arrays; a list when the model has several outputs)."""
        X = self._init_iter(X, None, is_train=False)
        if reset:
            X.reset()
        ex, data_arrays = self._predictor(X)
        outputs, datas, labels = None, [], []
        for i, batch in enumerate(X):
            keep = batch.data[0].shape[0] - (batch.pad or 0)
            outs = [o[:keep].asnumpy() for o in self._run(ex, data_arrays, batch)]
            if outputs is None:
                outputs = [[] for _ in outs]
            for store, o in zip(outputs, outs):
                store.append(o)
            if return_data:
                datas.append([d[:keep].asnumpy() for d in batch.data])
                labels.append([lb[:keep].asnumpy() for lb in batch.label or []])
            # Counted after the batch, as MXNet does: num_batch=0 predicts everything.
            if num_batch is not None and i + 1 == num_batch:
                break
        if outputs is None:
            raise ValueError("predict: the data iterator gave no batch")
        outputs = [np.concatenate(o) for o in outputs]
        if return_data:
            data = [np.concatenate([d[i] for d in datas]) for i in range(len(datas[0]))]
            label = [np.concatenate([lb[i] for lb in labels]) for i in range(len(labels[0]))]
            # Each of the three alone when single, as MXNet returns them (no label: []).
            return tuple(x[0] if len(x) == 1 else x for x in (outputs, data, label))
        return outputs[0] if len(outputs) == 1 else outputs

    def score(self, X, eval_metric="acc", num_batch=None, batch_end_callback=None, reset=True):
        """The metric over ``X`` (numpy X is scored against zero labels, as in MXNet)."""
        if not isinstance(eval_metric, metric.EvalMetric):
            eval_metric = metric.create(eval_metric)
        X = self._init_iter(X, None, is_train=False)
        if reset:
            X.reset()
        ex, data_arrays = self._predictor(X)
        eval_metric.reset()
        for i, batch in enumerate(X):
            if num_batch is not None and i == num_batch:
                break
            eval_metric.update(batch.label, self._run(ex, data_arrays, batch))
            if batch_end_callback is not None:
                _multiple_callbacks(batch_end_callback,
                                    BatchEndParam(epoch=0, nbatch=i, eval_metric=eval_metric,
                                                  locals=locals()))
        return eval_metric.get()[1]

    def save(self, prefix, epoch=None, remove_amp_cast=True):
        """``prefix-symbol.json`` and ``prefix-%04d.params`` (epoch defaults to num_epoch)."""
        if epoch is None:
            epoch = self.num_epoch
        if epoch is None:
            raise ValueError("FeedForward.save: give an epoch (num_epoch is not set)")
        save_checkpoint(prefix, epoch, self.symbol, self.arg_params, self.aux_params or {},
                        remove_amp_cast=remove_amp_cast)

    @staticmethod
    def load(prefix, epoch, ctx=None, **kwargs):
        """A model from a checkpoint, continuing at ``epoch``."""
        symbol, arg_params, aux_params = load_checkpoint(prefix, epoch)
        return FeedForward(symbol, ctx=ctx, arg_params=arg_params, aux_params=aux_params,
                           begin_epoch=epoch, **kwargs)

    @staticmethod
    def create(symbol, X, y=None, ctx=None, num_epoch=None, epoch_size=None, optimizer="sgd",
               initializer=None, eval_data=None, eval_metric="acc",
               epoch_end_callback=None, batch_end_callback=None, kvstore="local", logger=None,
               work_load_list=None, eval_end_callback=None, eval_batch_end_callback=None,
               **kwargs):
        """Constructs a model and fits it."""
        model = FeedForward(symbol, ctx=ctx, num_epoch=num_epoch, epoch_size=epoch_size,
                            optimizer=optimizer, initializer=initializer, **kwargs)
        model.fit(X, y, eval_data=eval_data, eval_metric=eval_metric,
                  epoch_end_callback=epoch_end_callback, batch_end_callback=batch_end_callback,
                  kvstore=kvstore, logger=logger, work_load_list=work_load_list,
                  eval_end_callback=eval_end_callback,
                  eval_batch_end_callback=eval_batch_end_callback)
        return model


# At the bottom: mx.callback imports this module, and this import must find the module defined.
from .callback import LogValidationMetricsCallback  # noqa: E402


# Re-exported as MXNet's model module does; imported last because executor_manager reaches this
# module again through mx.module.
from .executor_manager import DataParallelExecutorManager  # noqa: E402,F401
