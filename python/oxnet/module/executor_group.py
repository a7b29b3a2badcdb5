"""One executor per context, each bound to its slice of the batch (data parallelism)."""
from collections import OrderedDict

import numpy as np

from .. import ndarray as nd
from ..base import MXNetError, ValueAssertionError
from ..context import Context
from ..executor import Executor, _storage_types, group_contexts
from ..io import DataDesc


def _split_input_slice(batch_size, work_load_list):
    """Slices of the batch in proportion to each device's workload."""
    total = float(sum(work_load_list))
    sizes = [int(round(w * batch_size / total)) for w in work_load_list]
    # Rounding may leave a few samples over or short: the last device absorbs them.
    sizes[-1] += batch_size - sum(sizes)
    slices, start = [], 0
    for size in sizes:
        stop = min(start + size, batch_size)
        if stop <= start:
            raise ValueError("Too many slices: batch size %d cannot be split over work loads %s"
                             % (batch_size, list(work_load_list)))
        slices.append(slice(start, stop))
        start = stop
    return slices


def _descs(shapes):
    """DataDesc list from DataDescs or (name, shape) tuples (None stays None)."""
    if shapes is None:
        return None
    return [d if isinstance(d, DataDesc) else DataDesc(*d) for d in shapes]


def _batch_axis(desc):
    return DataDesc.get_batch_axis(getattr(desc, "layout", None))


def _slice_along(array, axis, islice, full):
    if full:
        return array
    if axis == 0:
        return array[islice]
    return nd.slice_axis(array, axis=axis, begin=islice.start, end=islice.stop)


def _load_into(sources, targets):
    """Copies each source array into its per-device slices."""
    for src, dst in zip(sources, targets):
        for islice, axis, arr in dst:
            part = _slice_along(src, axis, islice, islice.stop - islice.start == src.shape[axis]
                                and islice.start == 0)
            if isinstance(part, np.ndarray):
                arr[:] = part
            elif part.context == arr.context and part.shape == arr.shape and part is not arr:
                part.copyto(arr)
            else:
                arr[:] = part.as_in_context(arr.context)


def _prepare_group2ctxs(group2ctxs, n):
    """One ``group2ctx`` dict (or None) per device from Module's ``group2ctxs``: a list of
    per-device dicts, or one dict whose values are a context or a list of 1 or ``n`` of them."""
    if group2ctxs is None:
        return [None] * n
    if isinstance(group2ctxs, (list, tuple)):
        if len(group2ctxs) != n:
            raise ValueError("group2ctxs has %d entries for %d contexts" % (len(group2ctxs), n))
        return list(group2ctxs)
    if not isinstance(group2ctxs, dict):
        raise TypeError("group2ctxs must be a dict or a list of dicts, got %s"
                        % type(group2ctxs).__name__)
    per_device = [{} for _ in range(n)]
    for group, ctxs in group2ctxs.items():
        if isinstance(ctxs, Context):
            ctxs = [ctxs]
        ctxs = list(ctxs)
        if len(ctxs) == 1:
            ctxs = ctxs * n
        if len(ctxs) != n:
            raise ValueError("group2ctxs[%r] has %d contexts; give 1 or %d (one per device)"
                             % (group, len(ctxs), n))
        for d, c in zip(per_device, ctxs):
            d[group] = c
    return per_device


class DataParallelExecutorGroup:
    """Binds ``symbol`` once per context; parameters live in each executor, gradients are
    reduced by the module (through a KVStore when there are several devices)."""

    def __init__(self, symbol, contexts, workload, data_shapes, label_shapes, param_names,
                 for_training, inputs_need_grad, shared_group=None, logger=None,
                 fixed_param_names=None, grad_req="write", state_names=None, group2ctxs=None):
        self.symbol = symbol
        self.contexts = list(contexts)
        self.group2ctxs = _prepare_group2ctxs(group2ctxs, len(self.contexts))
        self.workload = list(workload)
        self.param_names = list(param_names)
        self.arg_names = symbol.list_arguments()
        self.aux_names = symbol.list_auxiliary_states()
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self.logger = logger
        self.fixed_param_names = set(fixed_param_names or [])
        self.state_names = list(state_names or [])
        self.shared_group = shared_group
        self.output_names = symbol.list_outputs()
        # An output's batch axis comes from its `__layout__` attribute (-1: none, every device
        # has the whole output), as in MXNet.
        self.output_layouts = [DataDesc.get_batch_axis(symbol[name].attr("__layout__"))
                               for name in self.output_names]
        data_shapes, label_shapes = _descs(data_shapes), _descs(label_shapes)
        self.grad_req = self._grad_reqs(grad_req, data_shapes, label_shapes)
        self.execs = []
        self._monitor = None
        self.bind_exec(data_shapes, label_shapes, shared_group)

    def _grad_reqs(self, grad_req, data_shapes, label_shapes):
        data_names = [d.name for d in data_shapes]
        if isinstance(grad_req, dict):
            return {n: grad_req.get(n, "null") for n in self.arg_names}
        if isinstance(grad_req, (list, tuple)):
            return dict(zip(self.arg_names, grad_req))
        reqs = {}
        for name in self.arg_names:
            if not self.for_training:
                reqs[name] = "null"
            elif name in self.param_names:
                reqs[name] = "null" if name in self.fixed_param_names else grad_req
            elif name in data_names:
                reqs[name] = grad_req if self.inputs_need_grad else "null"
            else:
                reqs[name] = "null"
        return reqs

    def decide_slices(self, data_shapes):
        if not data_shapes:
            raise ValueError("the module has no data: give at least one data shape")
        sizes = set()
        for desc in data_shapes:
            axis = _batch_axis(desc)
            if axis >= 0:
                sizes.add(desc.shape[axis])
        if len(sizes) != 1:
            # MXNet asserts here; code that catches its AssertionError catches this too.
            shapes = ", ".join("%s%s" % (d.name, tuple(d.shape)) for d in data_shapes)
            raise ValueAssertionError("all data must have the same batch size: %s" % shapes)
        self.batch_size = sizes.pop()
        self.slices = _split_input_slice(self.batch_size, self.workload)
        return [_batch_axis(d) for d in data_shapes]

    def _sliced_shape(self, shapes, k):
        out = []
        for desc in shapes:
            shape = list(desc.shape)
            axis = _batch_axis(desc)
            if axis >= 0:
                shape[axis] = self.slices[k].stop - self.slices[k].start
            out.append(DataDesc(desc.name, tuple(shape), desc.dtype, desc.layout))
        return out

    def bind_exec(self, data_shapes, label_shapes, shared_group=None, reshape=False):
        """(Re)binds one executor per context; arrays of the same name and shape in the shared
        group (or the previous executors, when reshaping) are reused, not copied."""
        data_shapes, label_shapes = _descs(data_shapes), _descs(label_shapes)
        self.data_layouts = self.decide_slices(data_shapes)
        self.label_layouts = [_batch_axis(d) for d in (label_shapes or [])]
        self.data_shapes = data_shapes
        self.label_shapes = label_shapes
        self.data_names = [d.name for d in data_shapes]
        self.label_names = [d.name for d in (label_shapes or [])]
        old = self.execs if reshape else None
        execs = []
        for k in range(len(self.contexts)):
            share = old[k] if old else (shared_group.execs[k] if shared_group else None)
            execs.append(self._bind_ith_exec(k, data_shapes, label_shapes, share))
        self.execs = execs
        self._collect_arrays()
        if old and self._monitor is not None:
            # The reshaped executors replace the old ones in the installed monitor.
            self._monitor.exes = [e for e in self._monitor.exes if all(e is not o for o in old)]
            self.install_monitor(self._monitor)

    def reshape(self, data_shapes, label_shapes):
        if data_shapes == self.data_shapes and label_shapes == self.label_shapes:
            return
        self.bind_exec(data_shapes, label_shapes, reshape=True)

    def _bind_ith_exec(self, k, data_shapes, label_shapes, shared_exec):
        ctx = self.contexts[k]
        shapes = self._sliced_shape(data_shapes, k) + self._sliced_shape(label_shapes or [], k)
        input_shapes = {d.name: d.shape for d in shapes}
        input_types = {d.name: d.dtype for d in shapes}
        arg_shapes, _, aux_shapes = self.symbol.infer_shape(**input_shapes)
        if arg_shapes is None:
            raise ValueError("shape inference failed for inputs %s" % input_shapes)
        arg_types, _, aux_types = self.symbol.infer_type(**input_types)
        if arg_types is None:
            arg_types = [np.float32] * len(arg_shapes)
            aux_types = [np.float32] * len(aux_shapes)
        shared_args = shared_exec.arg_dict if shared_exec is not None else {}
        # An inference-only shared executor (e.g. another bucket bound with for_training=False)
        # has no gradient arrays to share.
        shared_grads = shared_exec.grad_dict \
            if shared_exec is not None and shared_exec.grad_arrays is not None else {}
        shared_aux = shared_exec.aux_dict if shared_exec is not None else {}

        group2ctx = self.group2ctxs[k]
        arg_ctxs = dict(zip(self.arg_names,
                            group_contexts(self.symbol, self.arg_names, ctx, group2ctx)))
        arg_ctxs.update(zip(self.aux_names,
                            group_contexts(self.symbol, self.aux_names, ctx, group2ctx)))

        # Parameters and states are shared, so new input shapes must not change theirs (MXNet
        # refuses too); a new array would silently start from zeros.
        kept = [(n, s, shared_args.get(n)) for n, s in zip(self.arg_names, arg_shapes)
                if n in self.param_names]
        kept += [(n, s, shared_aux.get(n)) for n, s in zip(self.aux_names, aux_shapes)]
        for name, shape, have in kept:
            if have is not None and have.shape != tuple(shape):
                raise MXNetError(
                    "Shape of unspecified arg: %s changed from %s to %s for inputs %s: "
                    "parameters keep their shape (check the network or the batch's shapes)"
                    % (name, have.shape, tuple(shape), input_shapes))

        def reuse(pool, name, shape, dtype, stype="default"):
            arr = pool.get(name)
            if arr is not None and arr.shape == tuple(shape) and arr.stype == stype \
                    and np.dtype(arr.dtype) == np.dtype(dtype):
                return arr
            return nd.zeros(shape, ctx=arg_ctxs[name], dtype=dtype, stype=stype)

        arg_stypes, grad_stypes = _storage_types(self.symbol, self.arg_names, None)
        args, grads, reqs = [], [], []
        for name, shape, dtype, stype, gstype in zip(self.arg_names, arg_shapes, arg_types,
                                                     arg_stypes, grad_stypes):
            # Parameters are shared with the shared group (buckets share weights); inputs are
            # per executor unless a reshape keeps their shape.
            pool = shared_args if (name in self.param_names or shared_exec is not None) else {}
            args.append(reuse(pool, name, shape, dtype, stype))
            req = self.grad_req.get(name, "null")
            reqs.append(req)
            grads.append(None if req == "null" else reuse(shared_grads, name, shape, dtype, gstype))
        aux = [reuse(shared_aux, n, s, t) for n, s, t in zip(self.aux_names, aux_shapes, aux_types)]
        any_grad = any(g is not None for g in grads)
        return Executor(self.symbol, ctx, args, grads if any_grad else None,
                        reqs if any_grad else ["null"] * len(reqs), aux, group2ctx)

    def _collect_arrays(self):
        execs = self.execs
        self.data_arrays = [[(self.slices[k], ax, e.arg_dict[name]) for k, e in enumerate(execs)]
                            for name, ax in zip(self.data_names, self.data_layouts)]
        self.label_arrays = [[(self.slices[k], ax, e.arg_dict[name]) for k, e in enumerate(execs)]
                             for name, ax in zip(self.label_names, self.label_layouts)
                             if name in execs[0].arg_dict]
        # MXNet's per-context input arrays (data and labels), the ones a shared group reuses.
        self.shared_data_arrays = [{n: e.arg_dict[n] for n in self.data_names + self.label_names
                                    if n in e.arg_dict} for e in execs]
        idx = [self.arg_names.index(n) for n in self.param_names]
        self.param_arrays = [[e.arg_arrays[i] for e in execs] for i in idx]
        if self.for_training:
            self.grad_arrays = [[e.grad_arrays[i] if e.grad_arrays is not None else None
                                 for e in execs] for i in idx]
        else:
            self.grad_arrays = None
        data_idx = [self.arg_names.index(n) for n in self.data_names]
        if self.inputs_need_grad:
            # grad_req 'null' binds no gradient arrays: MXNet then gives None input gradients.
            self.input_grad_arrays = [[e.grad_arrays[i] if e.grad_arrays is not None else None
                                       for e in execs] for i in data_idx]
        else:
            self.input_grad_arrays = None
        self.aux_arrays = [[e.aux_arrays[i] for e in execs] for i in range(len(self.aux_names))]
        self.state_arrays = [[e.arg_dict[name] for e in execs] for name in self.state_names]

    # -- parameters --------------------------------------------------------------------------
    def set_params(self, arg_params, aux_params, allow_extra=False):
        for e in self.execs:
            e.copy_params_from(arg_params, aux_params, allow_extra_params=allow_extra)

    def get_params(self, arg_params, aux_params):
        """Averages each parameter over the devices into ``arg_params``/``aux_params``."""
        for name, block in zip(self.param_names, self.param_arrays):
            _average_into(block, arg_params[name])
        for name, block in zip(self.aux_names, self.aux_arrays):
            _average_into(block, aux_params[name])

    # -- running -----------------------------------------------------------------------------
    def forward(self, data_batch, is_train=None):
        _load_into(data_batch.data, self.data_arrays)
        if is_train is None:
            is_train = self.for_training
        if self.label_arrays and data_batch.label:
            _load_into(data_batch.label, self.label_arrays)
        for e in self.execs:
            e.forward(is_train=is_train)

    def backward(self, out_grads=None):
        if not self.for_training:
            raise ValueError("re-bind with for_training=True to run backward")
        for k, (e, islice) in enumerate(zip(self.execs, self.slices)):
            grads = None
            if out_grads is not None:
                grads = []
                for grad, axis in zip(out_grads, self.output_layouts):
                    whole = len(self.execs) == 1 or axis < 0
                    part = _slice_along(grad, axis, islice, whole)
                    grads.append(part.as_in_context(self.contexts[k]))
            e.backward(out_grads=grads)

    def get_outputs(self, merge_multi_context=True, begin=0, end=None):
        if end is None:
            end = len(self.output_names)
        outputs = [[e.outputs[i] for e in self.execs] for i in range(begin, end)]
        if merge_multi_context:
            return _merge(outputs, self.output_layouts[begin:end])
        return outputs

    def get_output_shapes(self):
        """[(name, shape)] of the merged outputs: the batch axis spans the whole batch."""
        shapes = []
        for name, out, axis in zip(self.output_names, self.execs[0].outputs, self.output_layouts):
            shape = list(out.shape)
            if axis >= 0:
                shape[axis] = self.batch_size
            shapes.append((name, tuple(shape)))
        return shapes

    def get_input_grads(self, merge_multi_context=True):
        if not self.inputs_need_grad:
            raise ValueError("bind with inputs_need_grad=True to get input gradients")
        if merge_multi_context:
            return _merge(self.input_grad_arrays, self.data_layouts)
        return self.input_grad_arrays

    def get_states(self, merge_multi_context=True):
        if merge_multi_context:
            return _merge(self.state_arrays, [0] * len(self.state_arrays))
        return self.state_arrays

    def set_states(self, states=None, value=None):
        if states is not None:
            for blocks, targets in zip(states, self.state_arrays):
                for src, dst in zip(blocks, targets):
                    src.copyto(dst)
        else:
            for targets in self.state_arrays:
                for dst in targets:
                    dst[:] = value

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        for k, (e, islice) in enumerate(zip(self.execs, self.slices)):
            if pre_sliced:
                labels_k = labels[k]
            else:
                # Each device's rows, as MXNet's: a label longer than the bound batch is cut.
                labels_k = []
                for lb, ax in zip(labels, self.label_layouts or [0] * len(labels)):
                    ax = max(ax, 0)
                    whole = islice.start == 0 and islice.stop >= lb.shape[ax]
                    labels_k.append(_slice_along(lb, ax, islice, whole))
            eval_metric.update_dict(OrderedDict(zip(self.label_names, labels_k)),
                                    OrderedDict(zip(self.output_names, e.outputs)))

    def install_monitor(self, mon):
        self._monitor = mon
        for e in self.execs:
            mon.install(e)


def _average_into(block, target):
    if len(block) == 1:
        value = block[0]
    else:
        value = block[0].as_in_context(target.context)
        for w in block[1:]:
            value = value + w.as_in_context(target.context)
        value = value / len(block)
    if np.dtype(value.dtype) != np.dtype(target.dtype):
        value = value.astype(target.dtype)
    if value is not target:
        value.copyto(target)


def _merge(blocks, axes):
    """One array per output: the devices' parts joined on its batch axis (or, without one,
    the first device's)."""
    out = []
    for parts, axis in zip(blocks, axes):
        if len(parts) == 1 or axis < 0 or parts[0] is None:
            out.append(parts[0])
        else:
            ctx = parts[0].context
            out.append(nd.concat(*[p.as_in_context(ctx) for p in parts], dim=axis))
    return out
