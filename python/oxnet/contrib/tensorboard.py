"""``mx.contrib.tensorboard``: a callback writing evaluation metrics as TensorBoard scalars."""
import importlib

__all__ = ["LogMetricsCallback"]

# Packages providing a ``SummaryWriter(logdir)`` with ``add_scalar(name, value, global_step)``,
# in order of preference (mxboard is what MXNet 1.9.1 uses).
_WRITER_MODULES = ("mxboard", "tensorboardX", "torch.utils.tensorboard")


def _summary_writer_class():
    for mod in _WRITER_MODULES:
        try:
            return importlib.import_module(mod).SummaryWriter
        except ImportError:
            continue
    raise ImportError("mx.contrib.tensorboard.LogMetricsCallback needs a TensorBoard writer: "
                      "install mxboard (`pip install mxboard`) or tensorboardX "
                      "(`pip install tensorboardX`); none of %s could be imported"
                      % ", ".join(_WRITER_MODULES))


class LogMetricsCallback:
    """A batch- or epoch-end callback that logs each metric of ``param.eval_metric`` as a
    scalar at step ``param.epoch`` to TensorBoard event files under ``logging_dir``; names
    get ``prefix + '-'`` in front when a prefix is given."""

    def __init__(self, logging_dir, prefix=None):
        self.prefix = prefix
        self.summary_writer = _summary_writer_class()(logging_dir)

    def __call__(self, param):
        if param.eval_metric is None:
            return
        for name, value in param.eval_metric.get_name_value():
            if self.prefix is not None:
                name = "%s-%s" % (self.prefix, name)
            self.summary_writer.add_scalar(name, value, global_step=param.epoch)
