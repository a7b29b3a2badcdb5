"""``SVRGModule``: a Module trained with stochastic variance-reduced gradients.

Every ``update_freq`` epochs the current weights become the snapshot: a second Module on the
same symbol (``_mod_aux``) holds them and the mean over all batches of its batch gradient is
kept as the full gradient. Each step then uses
``grad(w, batch) - grad(snapshot, batch) + full_grad`` in place of ``grad(w, batch)``.
With several devices the full gradients are averaged through the KVStore under the keys
``<param>_full``."""
import logging
import time

from ... import initializer as init
from ... import metric as _metric
from ... import model as _model
from ... import ndarray as nd
from ... import optimizer as opt
from ...context import cpu
from ...module import Module
from .svrg_optimizer import _SVRGOptimizer


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


class SVRGModule(Module):
    """A Module whose ``fit`` and ``update`` apply SVRG; ``update_freq`` (a positive int) is
    the number of epochs between full-gradient snapshots. The other arguments are Module's."""

    def __init__(self, symbol, data_names=("data",), label_names=("softmax_label",),
                 logger=logging, context=None, work_load_list=None, fixed_param_names=None,
                 state_names=None, group2ctxs=None, compression_params=None, update_freq=None):
        context = cpu() if context is None else context
        super().__init__(symbol, data_names=data_names, label_names=label_names, logger=logger,
                         context=context, work_load_list=work_load_list,
                         fixed_param_names=fixed_param_names, state_names=state_names,
                         group2ctxs=group2ctxs, compression_params=compression_params)
        if not isinstance(update_freq, int) or isinstance(update_freq, bool):
            raise TypeError("SVRGModule: update_freq must be an int (epochs between full "
                            "gradient computations), got %r" % (update_freq,))
        if update_freq <= 0:
            raise ValueError("SVRGModule: update_freq must be positive, got %d" % update_freq)
        self.update_freq = update_freq
        self._mod_aux = Module(symbol, data_names, label_names, logger, context, work_load_list,
                               fixed_param_names, state_names, group2ctxs, compression_params)
        self._param_dict = None
        self._ctx_len = len(self._context)

    # -- binding ---------------------------------------------------------------------------
    def _reset_bind(self):
        super()._reset_bind()
        self._mod_aux._reset_bind()

    def reshape(self, data_shapes, label_shapes=None):
        super().reshape(data_shapes, label_shapes=label_shapes)
        self._mod_aux.reshape(data_shapes, label_shapes=label_shapes)

    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        super().bind(data_shapes, label_shapes, for_training, inputs_need_grad, force_rebind,
                     shared_module, grad_req)
        if for_training:
            self._mod_aux.bind(data_shapes, label_shapes, for_training, inputs_need_grad,
                               force_rebind, shared_module, grad_req)

    # -- optimizer -------------------------------------------------------------------------
    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False):
        """Wraps ``optimizer`` in an ``_SVRGOptimizer`` and, with a KVStore, adds the
        ``<param>_full`` keys."""
        if self.optimizer_initialized and not force_init:
            # Leave the full gradients and the store's keys as they are.
            self.logger.warning("optimizer already initialized, ignoring...")
            return
        arg_params = self.get_params()[0]
        self._param_dict = [{k: nd.zeros(v.shape, ctx=ctx) for k, v in arg_params.items()}
                            for ctx in self._context]
        svrg_opt = self._create_optimizer(_SVRGOptimizer.__name__, optimizer, kvstore,
                                          optimizer_params)
        super().init_optimizer(kvstore=kvstore, optimizer=svrg_opt,
                               optimizer_params=optimizer_params, force_init=force_init)
        if self._kvstore:
            group = self._exec_group
            for idx, arrays in enumerate(group.param_arrays):
                name = group.param_names[idx]
                self._kvstore.init(name + "_full", nd.zeros(self._arg_params[name].shape))
                if self._update_on_kvstore:
                    self._kvstore.pull(name + "_full", arrays, priority=-idx,
                                       ignore_sparse=False)

    def _create_optimizer(self, optimizer, default_opt, kvstore, optimizer_params):
        """The ``_SVRGOptimizer`` with the index -> name table Module would build, plus one
        entry per full-gradient key."""
        batch_size = self._exec_group.batch_size
        kv, update_on_kvstore = _model._create_kvstore(kvstore, self._ctx_len, self._arg_params)
        if kv and "dist" in kv.type and "_sync" in kv.type:
            batch_size *= kv.num_workers
        names = self._exec_group.param_names
        if update_on_kvstore:
            idx2name = dict(enumerate(names))
        else:
            n = self._ctx_len
            idx2name = {i * n + k: name for i, name in enumerate(names) for k in range(n)}
        for name in self._param_dict[0]:
            idx2name[max(idx2name) + 1 if idx2name else 0] = name + "_full"
        params = dict(optimizer_params)
        params.setdefault("rescale_grad", 1.0 / batch_size)
        params["default_optimizer"] = default_opt
        params["param_idx2name"] = idx2name
        return opt.create(optimizer, **params)

    # -- computation -----------------------------------------------------------------------
    def forward(self, data_batch, is_train=None):
        super().forward(data_batch, is_train)
        if is_train:
            self._mod_aux.forward(data_batch, is_train)

    def backward(self, out_grads=None):
        super().backward(out_grads)
        if self._mod_aux.binded:
            self._mod_aux.backward(out_grads)

    def update(self):
        """Replaces the gradients by their SVRG form, then applies the optimizer."""
        self._update_svrg_gradients()
        super().update()

    def update_full_grads(self, train_data):
        """Takes the current weights as the snapshot and stores the mean over the batches of
        ``train_data`` of the snapshot's gradient (a padded last batch counts as the fraction
        of it that is real data)."""
        names = self._exec_group.param_names
        arg, aux = self.get_params()
        self._mod_aux.set_params(arg_params=arg, aux_params=aux)
        # Start from zero: MXNet 1.9.1 keeps adding onto the previous snapshot's full gradient,
        # which makes every snapshot after the first wrong.
        for per_ctx in self._param_dict:
            for name in names:
                per_ctx[name][:] = 0
        train_data.reset()
        nbatch, padding = 0, 0
        for batch in train_data:
            self._mod_aux.forward(batch, is_train=True)
            self._mod_aux.backward()
            nbatch += 1
            for k in range(self._ctx_len):
                for index, name in enumerate(names):
                    self._param_dict[k][name] += self._mod_aux._exec_group.grad_arrays[index][k]
            padding = batch.pad or 0
        if nbatch == 0:
            raise ValueError("SVRGModule.update_full_grads: train_data gave no batches")
        true_num_batch = nbatch - padding / train_data.batch_size
        for name in names:
            grads = []
            for k in range(self._ctx_len):
                self._param_dict[k][name] /= true_num_batch
                grads.append(self._param_dict[k][name])
            if self._kvstore:
                self._accumulate_kvstore(name, grads)

    def _accumulate_kvstore(self, key, value):
        """Sums the devices' full gradients in the store, then gives each device the mean."""
        self._kvstore.push(key + "_full", value)
        self._kvstore._barrier()
        self._kvstore.pull(key + "_full", value, ignore_sparse=False)
        for k in range(self._ctx_len):
            self._param_dict[k][key] = value[k] / self._ctx_len

    def _update_svrg_gradients(self):
        group, aux_group = self._exec_group, self._mod_aux._exec_group
        for k in range(self._ctx_len):
            for index, name in enumerate(group.param_names):
                grad = group.grad_arrays[index][k]
                if grad is None:
                    continue
                grad -= aux_group.grad_arrays[index][k]
                grad += self._param_dict[k][name]

    def prepare(self, data_batch, sparse_row_id_fn=None):
        super().prepare(data_batch, sparse_row_id_fn=sparse_row_id_fn)
        self._mod_aux.prepare(data_batch, sparse_row_id_fn=sparse_row_id_fn)

    def fit(self, train_data, eval_data=None, eval_metric="acc", epoch_end_callback=None,
            batch_end_callback=None, kvstore="local", optimizer="sgd",
            optimizer_params=(("learning_rate", 0.01),), eval_end_callback=None,
            eval_batch_end_callback=None, initializer=None, arg_params=None, aux_params=None,
            allow_missing=False, force_rebind=False, force_init=False, begin_epoch=0,
            num_epoch=None, validation_metric=None, monitor=None, sparse_row_id_fn=None):
        """Module.fit with a full-gradient snapshot at every ``update_freq``-th epoch."""
        if num_epoch is None:
            raise ValueError("SVRGModule.fit: num_epoch is required")
        initializer = init.Uniform(0.01) if initializer is None else initializer
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
        if not isinstance(eval_metric, _metric.EvalMetric):
            eval_metric = _metric.create(eval_metric)
        for epoch in range(begin_epoch, num_epoch):
            eval_metric.reset()
            tic = time.time()
            if epoch % self.update_freq == 0:
                self.update_full_grads(train_data)
            train_data.reset()
            for nbatch, batch in enumerate(train_data):
                if monitor is not None:
                    monitor.tic()
                self.forward_backward(batch)
                self.update()
                self.update_metric(eval_metric, batch.label)
                if monitor is not None:
                    monitor.toc_print()
                if batch_end_callback is not None:
                    param = _model.BatchEndParam(epoch=epoch, nbatch=nbatch,
                                                 eval_metric=eval_metric, locals=locals())
                    for cb in _as_list(batch_end_callback):
                        cb(param)
            for name, val in eval_metric.get_name_value():
                self.logger.info("Epoch[%d] Train-%s=%f", epoch, name, val)
            self.logger.info("Epoch[%d] Time cost=%.3f", epoch, time.time() - tic)
            arg_params, aux_params = self.get_params()
            self.set_params(arg_params, aux_params)
            if epoch_end_callback is not None:
                for cb in _as_list(epoch_end_callback):
                    cb(epoch, self.symbol, arg_params, aux_params)
            if eval_data:
                res = self.score(eval_data, validation_metric,
                                 score_end_callback=eval_end_callback,
                                 batch_end_callback=eval_batch_end_callback, epoch=epoch)
                for name, val in res:
                    self.logger.info("Epoch[%d] Validation-%s=%f", epoch, name, val)
