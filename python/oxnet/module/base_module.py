"""What every module shares: the training loop (``fit``), ``score``, ``predict``, and
parameter files."""
import logging
import numbers
import sys
import time
import warnings

import numpy as np

from .. import metric
from .. import ndarray as nd
from .. import initializer as init
from ..io import DataBatch
from .executor_group import _descs
from ..model import BatchEndParam, _checkpoint_dict, _split_params
from ..ndarray.ndarray import NDArray

_FIT_LOGGER = "oxnet.fit"


def _as_list(obj):
    if obj is None:
        return []
    if isinstance(obj, (list, tuple)):
        return list(obj)
    return [obj]


def _check_input_names(symbol, names, typename, throw):
    """Warns (or raises) when a data/label name is not an argument of the symbol."""
    args = symbol.list_arguments()
    for name in names:
        if name in args:
            continue
        candidates = [a for a in args if not a.endswith(("_weight", "_bias", "_gamma", "_beta"))]
        msg = ("You created Module with Module(..., %s_names=%s) but input with name '%s' is "
               "not found in symbol.list_arguments(). Did you mean one of:\n\t%s"
               % (typename, str(names), name, "\n\t".join(candidates)))
        if throw:
            raise ValueError(msg)
        # A warning, as MXNet's: a logging call here would configure the root logger before
        # the script's own logging.basicConfig, which then does nothing.
        warnings.warn(msg)


def _parse_data_desc(data_names, label_names, data_shapes, label_shapes):
    """DataDesc lists for the data and label shapes, checked against the module's names."""
    def as_descs(shapes):
        descs = _descs(shapes)
        for d in descs:
            if not (isinstance(d.shape, (tuple, list))
                    and all(isinstance(x, numbers.Integral) and x >= 0 for x in d.shape)):
                raise TypeError("bind: the shape of %r must be a tuple of non-negative ints, "
                                "got %s" % (d.name, type(d.shape).__name__ if not
                                            isinstance(d.shape, (tuple, list)) else d.shape))
        return descs

    data_shapes = as_descs(data_shapes)
    got = [d.name for d in data_shapes]
    if sorted(got) != sorted(data_names):
        raise ValueError("Data provided by data_shapes don't match names specified by "
                         "data_names (%s vs. %s)" % (str(data_shapes), str(list(data_names))))
    if label_shapes is not None:
        label_shapes = as_descs(label_shapes)
        got = [d.name for d in label_shapes]
        if label_names and sorted(got) != sorted(label_names):
            raise ValueError("Data provided by label_shapes don't match names specified by "
                             "label_names (%s vs. %s)" % (str(label_shapes), str(list(label_names))))
    else:
        label_shapes = None if not label_names else None
    return data_shapes, label_shapes


def _fit_logger(logger):
    """MXNet logs training progress at INFO, which an unconfigured Python drops: then oxnet
    prints it itself, so ``fit`` is never silent."""
    if logger is not logging and logger is not logging.getLogger():
        return logger
    root = logging.getLogger()
    if root.handlers:
        return logger
    own = logging.getLogger(_FIT_LOGGER)
    if not own.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        own.addHandler(handler)
        own.setLevel(logging.INFO)
        own.propagate = False
    return own


def _num_batches(data):
    """Batches per epoch when the iterator can tell (for the progress bar's total)."""
    num = getattr(data, "num_data", None)
    batch = getattr(data, "batch_size", None)
    if not num or not batch:
        return None
    if getattr(data, "last_batch_handle", "pad") == "discard":
        return num // batch
    return -(-num // batch)


class _Progress:
    """A tqdm bar over one epoch's batches, showing the running training metric."""

    def __init__(self, enabled, total, epoch):
        self.bar = None
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc="Epoch %d" % epoch, unit="batch", leave=True,
                            dynamic_ncols=True)

    def step(self, eval_metric, every):
        if self.bar is None:
            return
        self.bar.update(1)
        if self.bar.n % every == 0:
            self.bar.set_postfix(dict(eval_metric.get_name_value()), refresh=False)

    def close(self, eval_metric):
        if self.bar is not None:
            self.bar.set_postfix(dict(eval_metric.get_name_value()))
            self.bar.close()


class BaseModule:
    """The module life cycle: bind → init_params → init_optimizer → forward/backward/update."""

    def __init__(self, logger=logging):
        self.logger = logger
        self.binded = False
        self.for_training = False
        self.inputs_need_grad = False
        self.params_initialized = False
        self.optimizer_initialized = False
        self._symbol = None
        self._total_exec_bytes = 0

    # -- high level --------------------------------------------------------------------------
    def forward_backward(self, data_batch):
        self.forward(data_batch, is_train=True)
        self.backward()

    def score(self, eval_data, eval_metric, num_batch=None, batch_end_callback=None,
              score_end_callback=None, reset=True, epoch=0, sparse_row_id_fn=None):
        """``[(name, value)]`` of ``eval_metric`` over ``eval_data`` (padding is counted, as
        in MXNet)."""
        assert self.binded and self.params_initialized
        if reset:
            eval_data.reset()
        if not isinstance(eval_metric, metric.EvalMetric):
            eval_metric = metric.create(eval_metric)
        eval_metric.reset()
        actual_num_batch = 0
        for nbatch, eval_batch in enumerate(eval_data):
            if num_batch is not None and nbatch == num_batch:
                break
            self.prepare(eval_batch, sparse_row_id_fn=sparse_row_id_fn)
            self.forward(eval_batch, is_train=False)
            if isinstance(eval_batch, list):
                self.update_metric(eval_metric, [eb.label for eb in eval_batch], pre_sliced=True)
            else:
                self.update_metric(eval_metric, eval_batch.label)
            for cb in _as_list(batch_end_callback):
                cb(BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=eval_metric,
                                 locals=locals()))
            actual_num_batch += 1
        for cb in _as_list(score_end_callback):
            cb(BatchEndParam(epoch=epoch, nbatch=actual_num_batch, eval_metric=eval_metric,
                             locals=locals()))
        return eval_metric.get_name_value()

    def iter_predict(self, eval_data, num_batch=None, reset=True, sparse_row_id_fn=None):
        """Yields ``(outputs, i_batch, batch)`` with the padding removed."""
        assert self.binded and self.params_initialized
        if reset:
            eval_data.reset()
        for nbatch, eval_batch in enumerate(eval_data):
            if num_batch is not None and nbatch == num_batch:
                break
            self.prepare(eval_batch, sparse_row_id_fn=sparse_row_id_fn)
            self.forward(eval_batch, is_train=False)
            pad = eval_batch.pad or 0
            outputs = [out[0:out.shape[0] - pad] for out in self.get_outputs()]
            yield outputs, nbatch, eval_batch

    def predict(self, eval_data, num_batch=None, merge_batches=True, reset=True,
                always_output_list=False, sparse_row_id_fn=None):
        """The outputs over ``eval_data``, batches joined and padding removed."""
        assert self.binded and self.params_initialized
        if isinstance(eval_data, (NDArray, np.ndarray)):
            if isinstance(eval_data, np.ndarray):
                eval_data = nd.array(eval_data)
            self.forward(DataBatch([eval_data]))
            return self.get_outputs()[0]
        # Copies: the next forward overwrites the executor's output arrays.
        output_list = [[out.copy() for out in outputs] for outputs, _, _ in
                       self.iter_predict(eval_data, num_batch, reset, sparse_row_id_fn)]
        if not output_list:
            return output_list
        if not merge_batches:
            return output_list
        num_outputs = len(output_list[0])
        for out in output_list:
            if len(out) != num_outputs:
                raise ValueError("Cannot merge batches, as num of outputs is not the same in "
                                 "mini-batches. Maybe bucketing is used?")
        merged = [nd.concat(*[out[i] for out in output_list], dim=0) if len(output_list) > 1
                  else output_list[0][i] for i in range(num_outputs)]
        if num_outputs == 1 and not always_output_list:
            return merged[0]
        return merged

    def fit(self, train_data, eval_data=None, eval_metric="acc", epoch_end_callback=None,
            batch_end_callback=None, kvstore="local", optimizer="sgd",
            optimizer_params=(("learning_rate", 0.01),), eval_end_callback=None,
            eval_batch_end_callback=None, initializer=None, arg_params=None,
            aux_params=None, allow_missing=False, force_rebind=False, force_init=False,
            begin_epoch=0, num_epoch=None, validation_metric=None, monitor=None,
            sparse_row_id_fn=None, progress_bar=None):
        """Trains for ``num_epoch`` epochs, logging MXNet's per-epoch lines.

        ``progress_bar``: a tqdm bar per epoch; by default shown when stdout is a terminal.
        """
        assert num_epoch is not None, "please specify number of epochs"
        if initializer is None:
            initializer = init.Uniform(0.01)
        self.bind(data_shapes=train_data.provide_data, label_shapes=train_data.provide_label,
                  for_training=True, force_rebind=force_rebind)
        if monitor is not None:
            self.install_monitor(monitor)
        self.init_params(initializer=initializer, arg_params=arg_params, aux_params=aux_params,
                         allow_missing=allow_missing, force_init=force_init)
        self.init_optimizer(kvstore=kvstore, optimizer=optimizer,
                            optimizer_params=optimizer_params)
        if validation_metric is None:
            validation_metric = eval_metric
        if not isinstance(eval_metric, metric.EvalMetric):
            eval_metric = metric.create(eval_metric)
        if progress_bar is None:
            progress_bar = sys.stdout.isatty()
        logger = _fit_logger(self.logger)
        total = _num_batches(train_data)
        for epoch in range(begin_epoch, num_epoch):
            tic = time.time()
            eval_metric.reset()
            bar = _Progress(progress_bar, total, epoch)
            nbatch = 0
            data_iter = iter(train_data)
            end_of_batch = False
            next_data_batch = next(data_iter)
            while not end_of_batch:
                data_batch = next_data_batch
                if monitor is not None:
                    monitor.tic()
                self.forward_backward(data_batch)
                self.update()
                if isinstance(data_batch, list):
                    self.update_metric(eval_metric, [db.label for db in data_batch],
                                       pre_sliced=True)
                else:
                    self.update_metric(eval_metric, data_batch.label)
                try:
                    # Fetched before the callbacks so the iterator works while they run.
                    next_data_batch = next(data_iter)
                    self.prepare(next_data_batch, sparse_row_id_fn=sparse_row_id_fn)
                except StopIteration:
                    end_of_batch = True
                if monitor is not None:
                    monitor.toc_print()
                if end_of_batch:
                    eval_name_vals = eval_metric.get_global_name_value()
                for cb in _as_list(batch_end_callback):
                    cb(BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=eval_metric,
                                     locals=locals()))
                bar.step(eval_metric, 10)
                nbatch += 1
            bar.close(eval_metric)
            for name, val in eval_name_vals:
                logger.info("Epoch[%d] Train-%s=%f", epoch, name, val)
            logger.info("Epoch[%d] Time cost=%.3f", epoch, time.time() - tic)
            arg_params_, aux_params_ = self.get_params()
            self.set_params(arg_params_, aux_params_)
            for cb in _as_list(epoch_end_callback):
                cb(epoch, self.symbol, arg_params_, aux_params_)
            if eval_data:
                res = self.score(eval_data, validation_metric,
                                 score_end_callback=eval_end_callback,
                                 batch_end_callback=eval_batch_end_callback, epoch=epoch)
                for name, val in res:
                    logger.info("Epoch[%d] Validation-%s=%f", epoch, name, val)
            train_data.reset()

    # -- parameters on disk ------------------------------------------------------------------
    def save_params(self, fname):
        """Saves ``arg:``/``aux:`` parameters (MXNet's .params dict)."""
        nd.save(fname, _checkpoint_dict(*self.get_params()))

    def load_params(self, fname):
        """Loads parameters saved by ``save_params`` (or any checkpoint .params file)."""
        self.set_params(*_split_params(fname, strict=True))

    # -- what every module implements (MXNet's abstract interface) ---------------------------
    @property
    def data_names(self):
        raise NotImplementedError()

    @property
    def output_names(self):
        raise NotImplementedError()

    @property
    def data_shapes(self):
        raise NotImplementedError()

    @property
    def label_shapes(self):
        raise NotImplementedError()

    @property
    def output_shapes(self):
        raise NotImplementedError()

    def get_params(self):
        raise NotImplementedError()

    def init_params(self, initializer=None, arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False):
        raise NotImplementedError()

    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        raise NotImplementedError()

    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False):
        raise NotImplementedError()

    def forward(self, data_batch, is_train=None):
        raise NotImplementedError()

    def backward(self, out_grads=None):
        raise NotImplementedError()

    def get_outputs(self, merge_multi_context=True):
        raise NotImplementedError()

    def get_input_grads(self, merge_multi_context=True):
        raise NotImplementedError()

    def update(self):
        raise NotImplementedError()

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        raise NotImplementedError()

    # -- defaults for modules that have nothing to do ----------------------------------------
    def prepare(self, data_batch, sparse_row_id_fn=None):
        """Nothing to prepare: MXNet pulls the rows `sparse_row_id_fn` names of row_sparse
        parameters here; oxnet's stores pull every row of them after each update."""

    def install_monitor(self, mon):
        raise NotImplementedError()

    @property
    def symbol(self):
        return self._symbol

    def get_states(self, merge_multi_context=True):
        assert self.binded and self.params_initialized
        assert not merge_multi_context
        return []

    def set_states(self, states=None, value=None):
        assert self.binded and self.params_initialized
        assert not states and not value

    def set_params(self, arg_params, aux_params, allow_missing=False, force_init=True,
                   allow_extra=False):
        """Assigns parameter values (all of them unless ``allow_missing``)."""
        if not allow_missing:
            self.init_params(initializer=None, arg_params=arg_params, aux_params=aux_params,
                             allow_missing=allow_missing, force_init=force_init,
                             allow_extra=allow_extra)
            return
        if self.params_initialized and not force_init:
            warnings.warn("Parameters already initialized and force_init=False. "
                          "set_params call ignored.", stacklevel=2)
            return
        self._assign_params(arg_params, aux_params, allow_extra)
        self._params_dirty = True
        self.params_initialized = True

    def _assign_params(self, arg_params, aux_params, allow_extra):
        """Copies the given values in, leaving the others as they are."""
        self.init_params(initializer=None, arg_params=arg_params, aux_params=aux_params,
                         allow_missing=True, force_init=True, allow_extra=allow_extra)

