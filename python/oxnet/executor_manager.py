"""MXNet 1.x's first data-parallel trainer plumbing (``mx.executor_manager``): one executor per
device, each bound to its slice of the batch, as ``FeedForward`` used it before ``mx.mod``.

``oxnet.module.executor_group`` is the newer version of the same idea; the batch splitting,
slice loading and parameter averaging are shared with it.
"""
import logging

import numpy as np

from . import ndarray as nd
from .base import mx_real_t
from .io import DataDesc
from .module.executor_group import _average_into, _load_into, _split_input_slice

__all__ = ["DataParallelExecutorGroup", "DataParallelExecutorManager"]


def _check_arguments(symbol):
    """Raises ValueError when two distinct arguments (or auxiliary states) of ``symbol``
    share a name: executors index arrays by name, so one of them would be silently shadowed."""
    arg_names = symbol.list_arguments()
    seen = set()
    for name in arg_names:
        if name in seen:
            raise ValueError('Find duplicated argument name "%s", please make the weight name '
                             'non-duplicated(using name arguments), arguments are %s'
                             % (name, arg_names))
        seen.add(name)
    aux_names = symbol.list_auxiliary_states()
    seen = set()
    for name in aux_names:
        if name in seen:
            raise ValueError('Find duplicated auxiliary param name "%s", please make the weight '
                             'name non-duplicated(using name arguments), arguments are %s, '
                             'auxiliary params are %s' % (name, arg_names, aux_names))
        seen.add(name)


def _load_general(data, targets):
    """Copies each array of ``data`` into its target: one NDArray (the whole array), or a
    list of ``(slice, NDArray)`` pairs covering the batch (one per device)."""
    for d_src, d_targets in zip(data, targets):
        if isinstance(d_targets, nd.NDArray):
            d_src.copyto(d_targets)
            continue
        if d_targets[-1][0].stop != d_src.shape[0]:
            raise AssertionError("Batch size miss match. Expected %d, got %d"
                                 % (d_targets[-1][0].stop, d_src.shape[0]))
        _load_into([d_src], [[(islice, 0, dst) for islice, dst in d_targets]])


def _load_data(batch, targets):
    """Loads ``batch.data`` into sliced arrays (see ``_load_general``)."""
    _load_general(batch.data, targets)


def _load_label(batch, targets):
    """Loads ``batch.label`` into sliced arrays (see ``_load_general``)."""
    _load_general(batch.label, targets)


def _bind_exec(sym, ctx, input_shapes, param_names, need_grad=False, base_exec=None,
               shared_data_arrays=None, input_types=None, logger=logging):
    """Binds ``sym`` on ``ctx`` for ``input_shapes`` (name -> shape of the data and labels).

    Parameters (``param_names``) and auxiliary states are borrowed from ``base_exec`` when
    given, so buckets share weights. Inputs are taken from ``shared_data_arrays`` (name ->
    NDArray, filled in here) when the stored array is large enough, reshaped to fit.
    ``need_grad``: False, True (every argument but the inputs) or a set of names.
    """
    arg_shapes, _, aux_shapes = sym.infer_shape(**input_shapes)
    if arg_shapes is None:
        raise ValueError("_bind_exec: input_shapes %s do not determine every argument's shape"
                         % (input_shapes,))
    if input_types is None:
        input_types = {k: mx_real_t for k in input_shapes}
    arg_types, _, aux_types = sym.infer_type(**input_types)
    if arg_types is None:
        raise ValueError("_bind_exec: input_types %s do not determine every argument's dtype"
                         % (input_types,))

    arg_names = sym.list_arguments()
    grad_arrays = None if need_grad is False else {}
    if need_grad is False:
        need_grad = set()
    elif need_grad is True:
        need_grad = set(arg_names) - set(input_shapes.keys())
    elif not isinstance(need_grad, set):
        raise AssertionError("_bind_exec: need_grad must be boolean or set, got %r"
                             % (need_grad,))
    grad_req = {name: ("write" if name in need_grad else "null") for name in arg_names}

    arg_arrays = []
    for name, shape, dtype in zip(arg_names, arg_shapes, arg_types):
        if name in param_names:
            if base_exec is None:
                arr = nd.zeros(shape, ctx, dtype=dtype)
                if name in need_grad:
                    grad_arrays[name] = nd.zeros(shape, ctx, dtype=dtype)
            else:
                arr = base_exec.arg_dict[name]
                if arr.shape != tuple(shape) or np.dtype(arr.dtype) != np.dtype(dtype):
                    raise AssertionError(
                        "_bind_exec: parameter %s of base_exec is %s %s, the symbol needs %s %s"
                        % (name, arr.shape, np.dtype(arr.dtype), tuple(shape), np.dtype(dtype)))
                if name in need_grad:
                    grad_arrays[name] = base_exec.grad_dict[name]
        elif shared_data_arrays is not None and name in shared_data_arrays:
            arr = shared_data_arrays[name]
            if np.prod(arr.shape) >= np.prod(shape):
                if np.dtype(arr.dtype) != np.dtype(dtype):
                    raise AssertionError("_bind_exec: shared input %s is %s, the symbol needs %s"
                                         % (name, np.dtype(arr.dtype), np.dtype(dtype)))
                # A view of the leading elements: MXNet's reshape only accepts the same
                # size, so there a smaller bucket fails instead of sharing the buffer.
                arr = arr.reshape((-1,))[:int(np.prod(shape))].reshape(shape)
            else:
                logger.warning('bucketing: data "%s" has a shape %s, which is larger than '
                               'already allocated shape %s. Need to re-allocate. Consider '
                               'putting default_bucket_key to be the bucket taking the largest '
                               'input for better memory sharing.', name, shape, arr.shape)
                arr = nd.zeros(shape, ctx, dtype=dtype)
                # Later buckets reuse the larger array.
                shared_data_arrays[name] = arr
        else:
            arr = nd.zeros(shape, ctx, dtype=dtype)
            if shared_data_arrays is not None:
                shared_data_arrays[name] = arr
        arg_arrays.append(arr)

    if base_exec is None:
        aux_arrays = [nd.zeros(s, ctx, dtype=t) for s, t in zip(aux_shapes, aux_types)]
    else:
        for name, shape, dtype, a in zip(sym.list_auxiliary_states(), aux_shapes, aux_types,
                                         base_exec.aux_arrays):
            if a.shape != tuple(shape) or np.dtype(a.dtype) != np.dtype(dtype):
                raise AssertionError(
                    "_bind_exec: auxiliary state %s of base_exec is %s %s, the symbol needs %s %s"
                    % (name, a.shape, np.dtype(a.dtype), tuple(shape), np.dtype(dtype)))
        aux_arrays = list(base_exec.aux_arrays)

    return sym.bind(ctx=ctx, args=arg_arrays, args_grad=grad_arrays, aux_states=aux_arrays,
                    grad_req=grad_req, shared_exec=base_exec)


class DataParallelExecutorGroup(object):
    """Executors of ``sym``, one per context in ``ctx``, each bound to ``slices[i]`` of the
    batch described by ``train_data`` (anything with ``provide_data``/``provide_label``).
    With ``shared_group``, parameters and input buffers are shared with that group (buckets).
    """

    def __init__(self, sym, arg_names, param_names, ctx, slices, train_data, shared_group=None):
        _check_arguments(sym)
        if shared_group is None:
            self.shared_data_arrays = [{} for _ in ctx]
        else:
            self.shared_data_arrays = shared_group.shared_data_arrays

        self.data_names = [x[0] for x in train_data.provide_data]
        self.label_names = [x[0] for x in train_data.provide_label]
        self.aux_names = sym.list_auxiliary_states()
        self.param_idx = [i for i in range(len(arg_names)) if arg_names[i] in param_names]
        self.param_names = [arg_names[i] for i in self.param_idx]

        self.train_execs = []
        for i, ctxi in enumerate(ctx):
            data_shapes = {}
            data_types = {}
            for x in train_data.provide_data + train_data.provide_label:
                data_shapes[x[0]] = tuple([slices[i].stop - slices[i].start] + list(x[1][1:]))
                # Plain (name, shape) tuples carry no dtype: MXNet's default applies.
                data_types[x[0]] = x.dtype if isinstance(x, DataDesc) else mx_real_t
            shared_exec = None if shared_group is None else shared_group.train_execs[i]
            self.train_execs.append(_bind_exec(sym, ctxi, data_shapes, self.param_names,
                                               need_grad=True, base_exec=shared_exec,
                                               shared_data_arrays=self.shared_data_arrays[i],
                                               input_types=data_types))

        self.data_arrays = [[(slices[i], e.arg_dict[name]) for i, e in enumerate(self.train_execs)]
                            for name in self.data_names]
        self.label_arrays = [[(slices[i], e.arg_dict[name])
                              for i, e in enumerate(self.train_execs)]
                             for name in self.label_names]
        self.param_arrays = [[e.arg_arrays[i] for e in self.train_execs] for i in self.param_idx]
        self.grad_arrays = [[e.grad_arrays[i] for e in self.train_execs] for i in self.param_idx]
        self.aux_arrays = [[e.aux_arrays[i] for e in self.train_execs]
                           for i in range(len(self.aux_names))]
        self.slices = slices

    def load_data_batch(self, data_batch):
        """Copies the batch's data and labels into every executor's slice."""
        _load_data(data_batch, self.data_arrays)
        _load_label(data_batch, self.label_arrays)

    def forward(self, is_train=False):
        """Runs forward on every executor."""
        for texec in self.train_execs:
            texec.forward(is_train=is_train)

    def backward(self):
        """Runs backward on every executor."""
        for texec in self.train_execs:
            texec.backward()

    def update_metric(self, metric, labels, pre_sliced=False):
        """Updates ``metric`` with each executor's outputs and its slice of ``labels``
        (``pre_sliced``: ``labels`` is already one list per executor)."""
        for k, (texec, islice) in enumerate(zip(self.train_execs, self.slices)):
            labels_slice = labels[k] if pre_sliced else [label[islice] for label in labels]
            metric.update(labels_slice, texec.outputs)


class DataParallelExecutorManager(object):
    """Splits each batch of ``train_data`` over ``ctx`` in proportion to ``work_load_list``
    (equal by default) and runs one executor per device. With ``sym_gen`` (bucketing), a group
    is bound per ``bucket_key`` on first use, sharing parameters with the default bucket's."""

    def __init__(self, symbol, ctx, train_data, arg_names, param_names, aux_names,
                 work_load_list=None, logger=None, sym_gen=None):
        if logger is None:
            logger = logging
        num_device = len(ctx)
        logger.info('Start training with %s', str(ctx))
        if work_load_list is None:
            work_load_list = [1] * num_device
        if not isinstance(work_load_list, list) or len(work_load_list) != num_device:
            raise AssertionError("Invalid settings for work load. work_load_list must be a list "
                                 "with one entry per context (%d), got %r"
                                 % (num_device, work_load_list))
        self.slices = _split_input_slice(train_data.batch_size, work_load_list)
        self.arg_names = arg_names
        self.param_names = param_names
        self.aux_names = aux_names
        self.ctx = ctx
        self.execgrp = DataParallelExecutorGroup(symbol, self.arg_names, self.param_names,
                                                 self.ctx, self.slices, train_data)
        self.symbol = symbol
        self.sym_gen = sym_gen
        self.curr_execgrp = None  # chosen by load_data_batch
        if self.sym_gen is not None:
            self.execgrp_bucket = {train_data.default_bucket_key: self.execgrp}

    def install_monitor(self, monitor):
        """Installs ``monitor`` on every executor (not supported with bucketing)."""
        if self.sym_gen is not None:
            raise NotImplementedError("Monitoring is not implemented for bucketing")
        for train_exec in self.execgrp.train_execs:
            monitor.install(train_exec)

    def set_params(self, arg_params, aux_params):
        """Copies ``arg_params``/``aux_params`` (name -> NDArray) into every executor."""
        for texec in self.execgrp.train_execs:
            texec.copy_params_from(arg_params, aux_params)

    def copy_to(self, arg_params, aux_params):
        """Writes the devices' average of each parameter and auxiliary state into
        ``arg_params``/``aux_params`` (name -> NDArray, updated in place)."""
        for name, block in zip(self.param_names, self.param_arrays):
            _average_into(block, arg_params[name])
        for name, block in zip(self.aux_names, self.aux_arrays):
            _average_into(block, aux_params[name])

    @property
    def param_arrays(self):
        """Per parameter, its array on each device (shared by every bucket's group)."""
        return self.execgrp.param_arrays

    @property
    def grad_arrays(self):
        """Per parameter, its gradient on each device (shared by every bucket's group)."""
        return self.execgrp.grad_arrays

    @property
    def aux_arrays(self):
        """Per auxiliary state, its array on each device (shared by every bucket's group)."""
        return self.execgrp.aux_arrays

    def load_data_batch(self, data_batch):
        """Selects the batch's bucket (binding it on first use) and loads the batch into it."""
        if self.sym_gen is not None:
            key = data_batch.bucket_key
            if key not in self.execgrp_bucket:
                self.execgrp_bucket[key] = DataParallelExecutorGroup(
                    self.sym_gen(key), self.arg_names, self.param_names, self.ctx, self.slices,
                    data_batch, shared_group=self.execgrp)
            self.curr_execgrp = self.execgrp_bucket[key]
        else:
            self.curr_execgrp = self.execgrp
        self.curr_execgrp.load_data_batch(data_batch)

    def forward(self, is_train=False):
        """Runs forward on the current bucket's executors."""
        self.curr_execgrp.forward(is_train=is_train)

    def backward(self):
        """Runs backward on the current bucket's executors."""
        self.curr_execgrp.backward()

    def update_metric(self, metric, labels, pre_sliced=False):
        """Updates ``metric`` with the current bucket's outputs."""
        self.curr_execgrp.update_metric(metric, labels, pre_sliced)
