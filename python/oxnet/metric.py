"""`mx.metric`: online evaluation metrics (MXNet 1.9.1 `python/mxnet/metric.py`).

A metric accumulates ``sum_metric`` and ``num_inst`` over ``update(labels, preds)`` calls and
reports ``sum_metric / num_inst``. Each metric keeps two copies of its statistics: the local
one, which ``reset_local`` clears (Speedometer does so after every log line), and the global
one, which only ``reset`` clears (Module logs it at the end of an epoch). Labels and
predictions are lists of NDArrays or numpy arrays (a single array is wrapped in a list).
"""
import json
import math
from collections import OrderedDict

import numpy

from .base import ValueAssertionError, numeric_types, string_types
from .registry import ClassRegistry
from .ndarray import NDArray

__all__ = ["EvalMetric", "CompositeEvalMetric", "Accuracy", "TopKAccuracy", "F1", "MCC",
           "Perplexity", "MAE", "MSE", "RMSE", "CrossEntropy", "NegativeLogLikelihood",
           "PearsonCorrelation", "PCC", "Loss", "Torch", "Caffe", "CustomMetric", "np",
           "create", "register", "alias", "check_label_shapes"]


def _asnumpy(x):
    return x.asnumpy() if isinstance(x, NDArray) else numpy.asarray(x)


def _shape_of(x):
    return tuple(x.shape) if hasattr(x, "shape") else len(x)


def check_label_shapes(labels, preds, wrap=False, shape=False):
    """Raises ValueError unless labels and preds have the same length (or, with
    ``shape=True``, the same shape); with ``wrap=True`` single arrays become one-element
    lists."""
    if wrap:
        # Wrapping first lets a single array pair with a one-element list.
        if isinstance(labels, (NDArray, numpy.ndarray)):
            labels = [labels]
        if isinstance(preds, (NDArray, numpy.ndarray)):
            preds = [preds]
    if shape:
        label_shape, pred_shape = _shape_of(labels), _shape_of(preds)
    else:
        label_shape, pred_shape = len(labels), len(preds)
    if label_shape != pred_shape:
        raise ValueError("Shape of labels {} does not match shape of predictions {}"
                         .format(label_shape, pred_shape))
    return labels, preds


class EvalMetric(object):
    """Base class: subclasses implement ``update``; ``name`` is what ``get`` reports.

    ``output_names`` / ``label_names`` select (and order) the arrays ``update_dict`` uses;
    None takes them all in dict order.
    """

    def __init__(self, name, output_names=None, label_names=None, **kwargs):
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self._has_global_stats = kwargs.pop("has_global_stats", False)
        self._kwargs = kwargs
        self.reset()

    def __str__(self):
        return "EvalMetric: {}".format(dict(self.get_name_value()))

    def get_config(self):
        """Constructor arguments from which ``mx.metric.create(**config)`` rebuilds it."""
        config = self._kwargs.copy()
        config.update({"metric": self.__class__.__name__, "name": self.name,
                       "output_names": self.output_names, "label_names": self.label_names})
        return config

    def update_dict(self, label, pred):
        """``update`` with name -> array dicts, filtered by label_names / output_names."""
        if self.output_names is not None:
            pred = [_pick_named(pred, name, "output") for name in self.output_names]
        else:
            pred = list(pred.values())
        if self.label_names is not None:
            label = [_pick_named(label, name, "label") for name in self.label_names]
        else:
            label = list(label.values())
        self.update(label, pred)

    def update(self, labels, preds):
        """Accumulates the statistics of one batch."""
        raise NotImplementedError("%s does not implement update" % self.__class__.__name__)

    def reset(self):
        """Clears local and global statistics."""
        self.num_inst = 0
        self.sum_metric = 0.0
        self.global_num_inst = 0
        self.global_sum_metric = 0.0

    def reset_local(self):
        """Clears the local statistics only."""
        self.num_inst = 0
        self.sum_metric = 0.0

    def get(self):
        """``(name, value)`` of the local statistics; NaN before any instance."""
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, self.sum_metric / self.num_inst)

    def get_global(self):
        """``(name, value)`` of the statistics since the last ``reset``."""
        if not self._has_global_stats:
            return self.get()
        if self.global_num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, self.global_sum_metric / self.global_num_inst)

    def get_name_value(self):
        """``get()`` as a list of ``(name, value)`` pairs."""
        return _zip_name_value(*self.get())

    def get_global_name_value(self):
        """``get_global()`` as a list of ``(name, value)`` pairs."""
        if not self._has_global_stats:
            return self.get_name_value()
        return _zip_name_value(*self.get_global())


_REGISTRY = ClassRegistry(EvalMetric, "metric", "mx.metric.EvalMetric")


def _pick_named(arrays, name, kind):
    try:
        return arrays[name]
    except KeyError:
        raise KeyError("metric %s name %r not among the given %ss %s"
                       % (kind, name, kind, list(arrays))) from None


def _zip_name_value(name, value):
    if not isinstance(name, list):
        name = [name]
    if not isinstance(value, list):
        value = [value]
    return list(zip(name, value))


# ---- registry ---------------------------------------------------------------------------

def register(klass, name=None):
    """Registers an `EvalMetric` subclass under `name` (default: its class name), lower-cased
    (a decorator)."""
    return _REGISTRY.add(klass, name or klass.__name__)


def alias(*aliases):
    """Decorator registering an `EvalMetric` subclass under extra names."""
    return _REGISTRY.alias(*aliases)


def _create_registered(metric, *args, **kwargs):
    if isinstance(metric, EvalMetric):
        if args or kwargs:
            raise ValueError("metric %s is already an instance; extra arguments %r %r cannot "
                             "be applied" % (metric.name, args, kwargs))
        return metric
    if isinstance(metric, dict):
        return create(**metric)
    if not isinstance(metric, string_types):
        raise TypeError("metric must be a name, a callable, a list or an EvalMetric, got %r"
                        % (metric,))
    if metric.startswith("[") or metric.startswith("{"):
        if args or kwargs:
            raise ValueError("a JSON metric spec takes no extra arguments")
        loaded = json.loads(metric)
        if isinstance(loaded, dict):
            return create(**loaded)
        name, params = loaded
        return create(name, **params)
    key = metric.lower()
    if key not in _REGISTRY:
        raise ValueAssertionError("metric %r is not registered (registered: %s)"
                                  % (metric, ", ".join(sorted(_REGISTRY))))
    return _REGISTRY[key](*args, **kwargs)


def create(metric, *args, **kwargs):
    """Builds a metric from a registered name (plus constructor arguments), an EvalMetric
    (returned as is), a callable ``feval(label, pred)`` (a CustomMetric) or a list of any of
    these (a CompositeEvalMetric)."""
    if callable(metric):
        return CustomMetric(metric, *args, **kwargs)
    if isinstance(metric, list):
        composite = CompositeEvalMetric()
        for child in metric:
            composite.add(create(child, *args, **kwargs))
        return composite
    return _create_registered(metric, *args, **kwargs)


def _flatten_name_value(results):
    names, values = [], []
    for name, value in results:
        names.extend([name] if isinstance(name, string_types) else name)
        values.extend([value] if isinstance(value, numeric_types) else value)
    return (names, values)


@register
@alias("composite")
class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; ``get`` returns lists of names and values."""

    def __init__(self, metrics=None, name="composite", output_names=None, label_names=None):
        super(CompositeEvalMetric, self).__init__(name, output_names=output_names,
                                                  label_names=label_names, has_global_stats=True)
        self.metrics = [create(m) for m in (metrics or [])]

    def add(self, metric):
        """Appends a child metric (anything `create` accepts)."""
        self.metrics.append(create(metric))

    def get_metric(self, index):
        """The child metric at ``index``."""
        if not -len(self.metrics) <= index < len(self.metrics):
            raise ValueError("Metric index {} is out of range 0 and {}"
                             .format(index, len(self.metrics)))
        return self.metrics[index]

    def update_dict(self, labels, preds):
        if self.label_names is not None:
            labels = OrderedDict([kv for kv in labels.items() if kv[0] in self.label_names])
        if self.output_names is not None:
            preds = OrderedDict([kv for kv in preds.items() if kv[0] in self.output_names])
        for metric in self.metrics:
            metric.update_dict(labels, preds)

    def update(self, labels, preds):
        for metric in self.metrics:
            metric.update(labels, preds)

    def reset(self):
        # Called by EvalMetric.__init__ before self.metrics exists.
        for metric in getattr(self, "metrics", []):
            metric.reset()

    def reset_local(self):
        for metric in getattr(self, "metrics", []):
            metric.reset_local()

    def get(self):
        return _flatten_name_value(m.get() for m in self.metrics)

    def get_global(self):
        return _flatten_name_value(m.get_global() for m in self.metrics)

    def get_config(self):
        config = super(CompositeEvalMetric, self).get_config()
        config.update({"metrics": [m.get_config() for m in self.metrics]})
        return config


class _Accumulating(EvalMetric):
    """Adds each batch's contribution to the local and the global statistics alike."""

    def _add(self, value, count):
        # Sums in float64 over an epoch (as numpy 1.x promoted MXNet's float32 batch values).
        if isinstance(value, numpy.floating):
            value = float(value)
        self.sum_metric += value
        self.global_sum_metric += value
        self.num_inst += count
        self.global_num_inst += count


# ---- classification -----------------------------------------------------------------------

@register
@alias("acc")
class Accuracy(_Accumulating):
    """Fraction of correct class indices; predictions whose shape differs from the label's
    are class scores and are argmax-ed along ``axis`` first."""

    def __init__(self, axis=1, name="accuracy", output_names=None, label_names=None):
        super(Accuracy, self).__init__(name, axis=axis, output_names=output_names,
                                       label_names=label_names, has_global_stats=True)
        self.axis = axis

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _asnumpy(label), _asnumpy(pred)
            if pred.shape != label.shape:
                pred = numpy.argmax(pred, axis=self.axis)
            # Truncating casts on both sides, as MXNet compares int32 class ids.
            pred = pred.astype("int32").ravel()
            label = label.astype("int32").ravel()
            if pred.shape != label.shape:
                raise ValueError("Accuracy: %d labels but %d predicted classes (label shape "
                                 "%s)" % (label.size, pred.size, label.shape))
            self._add((pred == label).sum(), len(pred))


@register
@alias("top_k_accuracy", "top_k_acc")
class TopKAccuracy(_Accumulating):
    """Fraction of samples whose label is among the ``top_k`` highest scores."""

    def __init__(self, top_k=1, name="top_k_accuracy", output_names=None, label_names=None):
        super(TopKAccuracy, self).__init__(name, top_k=top_k, output_names=output_names,
                                           label_names=label_names, has_global_stats=True)
        self.top_k = top_k
        if not self.top_k > 1:
            raise ValueAssertionError("Please use Accuracy if top_k is no more than 1 "
                                      "(got top_k=%r)" % (top_k,))
        self.name += "_%d" % self.top_k

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            pred = _asnumpy(pred).astype("float32")
            if pred.ndim > 2:
                raise ValueError("TopKAccuracy: predictions should be no more than 2 dims, "
                                 "got shape %s" % (pred.shape,))
            label = _asnumpy(label).astype("int32")
            if len(label) != len(pred):
                raise ValueError("TopKAccuracy: label shape %s does not match prediction "
                                 "shape %s" % (label.shape, pred.shape))
            if pred.shape[-1] < self.top_k:
                raise ValueError("TopKAccuracy: top_k=%d exceeds the %d classes of predictions "
                                 "of shape %s" % (self.top_k, pred.shape[-1], pred.shape))
            # The top_k largest occupy the last top_k positions of the partition, in any
            # order, which is all that membership needs.
            part = numpy.argpartition(pred, -self.top_k)
            if part.ndim == 1:
                correct = (part.ravel() == label.ravel()).sum()
            else:
                num_classes = part.shape[1]
                correct = sum((part[:, num_classes - 1 - j] == label.ravel()).sum()
                              for j in range(min(num_classes, self.top_k)))
            self._add(correct, part.shape[0])


class _BinaryStats(object):
    """True/false positive/negative counts of a binary classifier (local and global)."""

    _FIELDS = ("tp", "fp", "fn", "tn")

    def __init__(self):
        self.reset_stats()

    def update_binary_stats(self, label, pred):
        pred = _asnumpy(pred)
        label = _asnumpy(label).astype("int32")
        if len(label) != len(pred):
            raise ValueError("label shape %s does not match prediction shape %s"
                             % (label.shape, pred.shape))
        if len(numpy.unique(label)) > 2:
            raise ValueError("%s currently only supports binary classification (labels seen: "
                             "%s)" % (self._owner, numpy.unique(label).tolist()))
        pred_true = numpy.argmax(pred, axis=1) == 1
        label_true = label == 1
        counts = {"tp": (pred_true & label_true).sum(), "fp": (pred_true & ~label_true).sum(),
                  "fn": (~pred_true & label_true).sum(), "tn": (~pred_true & ~label_true).sum()}
        for key, value in counts.items():
            self.local[key] += int(value)
            self.glob[key] += int(value)

    def local_reset_stats(self):
        self.local = dict.fromkeys(self._FIELDS, 0)

    def reset_stats(self):
        self.local_reset_stats()
        self.glob = dict.fromkeys(self._FIELDS, 0)

    def stats(self, use_global=False):
        return self.glob if use_global else self.local

    def total(self, use_global=False):
        return sum(self.stats(use_global).values())

    def fscore(self, use_global=False):
        s = self.stats(use_global)
        precision = s["tp"] / float(s["tp"] + s["fp"]) if s["tp"] + s["fp"] > 0 else 0.0
        recall = s["tp"] / float(s["tp"] + s["fn"]) if s["tp"] + s["fn"] > 0 else 0.0
        if precision + recall == 0:
            return 0.0
        return 2 * precision * recall / (precision + recall)

    def matthewscc(self, use_global=False):
        s = self.stats(use_global)
        if not self.total(use_global):
            return 0.0
        tp, fp, fn, tn = (float(s[k]) for k in ("tp", "fp", "fn", "tn"))
        # Zero factors of the denominator count as 1, so one-class batches give 0, not NaN.
        denom = 1.0
        for term in (tp + fp, tp + fn, tn + fp, tn + fn):
            if term != 0.0:
                denom *= term
        return (tp * tn - fp * fn) / math.sqrt(denom)


class _BinaryMetric(EvalMetric):
    """F1 and MCC: ``average='macro'`` averages the per-update score, ``'micro'`` scores
    the pooled counts since the last reset."""

    def __init__(self, name, output_names, label_names, average):
        if average not in ("macro", "micro"):
            raise ValueError("average must be 'macro' or 'micro', got %r" % (average,))
        self.average = average
        self._stats = _BinaryStats()
        self._stats._owner = self.__class__.__name__
        super(_BinaryMetric, self).__init__(name, output_names=output_names,
                                            label_names=label_names, has_global_stats=True)

    def _score(self, use_global):
        raise NotImplementedError

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            self._stats.update_binary_stats(label, pred)
        if self.average == "macro":
            self.sum_metric += self._score(False)
            self.global_sum_metric += self._score(True)
            self.num_inst += 1
            self.global_num_inst += 1
            self._stats.reset_stats()
        else:
            self.sum_metric = self._score(False) * self._stats.total(False)
            self.global_sum_metric = self._score(True) * self._stats.total(True)
            self.num_inst = self._stats.total(False)
            self.global_num_inst = self._stats.total(True)

    def reset(self):
        self.sum_metric = 0.0
        self.num_inst = 0
        self.global_sum_metric = 0.0
        self.global_num_inst = 0
        self._stats.reset_stats()

    def reset_local(self):
        self.sum_metric = 0.0
        self.num_inst = 0
        self._stats.local_reset_stats()


@register
class F1(_BinaryMetric):
    """F1 score of a binary classifier (class 1 positive; predictions are class scores)."""

    def __init__(self, name="f1", output_names=None, label_names=None, average="macro"):
        super(F1, self).__init__(name, output_names, label_names, average)

    def _score(self, use_global):
        return self._stats.fscore(use_global)


@register
class MCC(_BinaryMetric):
    """Matthews correlation coefficient of a binary classifier."""

    def __init__(self, name="mcc", output_names=None, label_names=None, average="macro"):
        super(MCC, self).__init__(name, output_names, label_names, average)

    def _score(self, use_global):
        return self._stats.matthewscc(use_global)


@register
class Perplexity(_Accumulating):
    """``exp`` of the mean negative log-probability of the labels; entries equal to
    ``ignore_label`` are left out (None keeps all)."""

    def __init__(self, ignore_label, axis=-1, name="perplexity", output_names=None,
                 label_names=None):
        super(Perplexity, self).__init__(name, ignore_label=ignore_label,
                                         output_names=output_names, label_names=label_names,
                                         has_global_stats=True)
        self.ignore_label = ignore_label
        self.axis = axis

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        loss, num = 0.0, 0
        for label, pred in zip(labels, preds):
            label, pred = _asnumpy(label), _asnumpy(pred)
            if label.size * pred.shape[self.axis] != pred.size:
                raise ValueError("Perplexity: label shape %s does not match prediction shape "
                                 "%s (one label per row along axis %d)"
                                 % (label.shape, pred.shape, self.axis))
            label = label.reshape(-1)
            scores = numpy.moveaxis(pred, self.axis, -1).reshape(-1, pred.shape[self.axis])
            # MXNet's pick clips out-of-range indices (ignore_label=-1 picks class 0).
            index = numpy.clip(label.astype("int64"), 0, scores.shape[1] - 1)
            prob = scores[numpy.arange(len(index)), index]
            if self.ignore_label is not None:
                ignore = label == self.ignore_label
                num -= int(ignore.sum())
                prob = numpy.where(ignore, 1.0, prob)
            loss -= float(numpy.log(numpy.maximum(1e-10, prob)).sum())
            num += prob.size
        self._add(loss, num)

    def get(self):
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.sum_metric / self.num_inst))

    def get_global(self):
        if self.global_num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.global_sum_metric / self.global_num_inst))


# ---- regression -------------------------------------------------------------------------

def _as_columns(label, pred):
    label, pred = _asnumpy(label), _asnumpy(pred)
    if label.ndim == 1:
        label = label.reshape(label.shape[0], 1)
    if pred.ndim == 1:
        pred = pred.reshape(pred.shape[0], 1)
    try:
        return numpy.broadcast_arrays(label, pred)
    except ValueError:
        raise ValueError("label shape %s does not match prediction shape %s"
                         % (label.shape, pred.shape)) from None


class _PerBatchMean(_Accumulating):
    """Regression metrics averaged over updates: each (label, pred) pair counts once,
    whatever its size (so RMSE is the mean of per-batch RMSEs)."""

    def __init__(self, name, output_names=None, label_names=None):
        super(_PerBatchMean, self).__init__(name, output_names=output_names,
                                            label_names=label_names, has_global_stats=True)

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _as_columns(label, pred)
            self._add(self._batch_value(label, pred), 1)


@register
class MAE(_PerBatchMean):
    """Mean absolute error."""

    def __init__(self, name="mae", output_names=None, label_names=None):
        super(MAE, self).__init__(name, output_names, label_names)

    @staticmethod
    def _batch_value(label, pred):
        return numpy.abs(label - pred).mean()


@register
class MSE(_PerBatchMean):
    """Mean squared error."""

    def __init__(self, name="mse", output_names=None, label_names=None):
        super(MSE, self).__init__(name, output_names, label_names)

    @staticmethod
    def _batch_value(label, pred):
        return ((label - pred) ** 2.0).mean()


@register
class RMSE(_PerBatchMean):
    """Root mean squared error."""

    def __init__(self, name="rmse", output_names=None, label_names=None):
        super(RMSE, self).__init__(name, output_names, label_names)

    @staticmethod
    def _batch_value(label, pred):
        return numpy.sqrt(((label - pred) ** 2.0).mean())


class _LabelLogLoss(_Accumulating):
    """Mean of ``-log(p[label] + eps)`` over samples; predictions are (N, classes)
    probabilities."""

    def __init__(self, eps, name, output_names, label_names):
        super(_LabelLogLoss, self).__init__(name, eps=eps, output_names=output_names,
                                            label_names=label_names, has_global_stats=True)
        self.eps = eps

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _asnumpy(label).ravel(), _asnumpy(pred)
            if pred.ndim != 2 or label.shape[0] != pred.shape[0]:
                raise ValueError("%s: label shape %s does not match prediction shape %s "
                                 "(expected one label per row of a 2-D prediction)"
                                 % (self.__class__.__name__, label.shape, pred.shape))
            prob = pred[numpy.arange(label.shape[0]), numpy.int64(label)]
            self._add((-numpy.log(prob + self.eps)).sum(), label.shape[0])


@register
@alias("ce")
class CrossEntropy(_LabelLogLoss):
    """Cross entropy of class probabilities against class-index labels."""

    def __init__(self, eps=1e-12, name="cross-entropy", output_names=None, label_names=None):
        super(CrossEntropy, self).__init__(eps, name, output_names, label_names)


@register
@alias("nll_loss")
class NegativeLogLikelihood(_LabelLogLoss):
    """Negative log-likelihood of class-index labels."""

    def __init__(self, eps=1e-12, name="nll-loss", output_names=None, label_names=None):
        super(NegativeLogLikelihood, self).__init__(eps, name, output_names, label_names)


@register
@alias("pearsonr")
class PearsonCorrelation(EvalMetric):
    """Pearson correlation of predictions with labels: ``'macro'`` averages per-update
    coefficients, ``'micro'`` computes one coefficient over everything since the last reset
    (streaming, Welford's update)."""

    def __init__(self, name="pearsonr", output_names=None, label_names=None, average="macro"):
        if average not in ("macro", "micro"):
            raise ValueError("average must be 'macro' or 'micro', got %r" % (average,))
        self.average = average
        super(PearsonCorrelation, self).__init__(name, output_names=output_names,
                                                 label_names=label_names,
                                                 has_global_stats=True)

    def reset_micro(self):
        self._sse_p = self._mean_p = self._pred_nums = 0
        self._sse_l = self._mean_l = self._label_nums = 0
        self._conv = 0

    def reset(self):
        super(PearsonCorrelation, self).reset()
        if self.average == "micro":
            self.reset_micro()

    @staticmethod
    def update_variance(new_values, count, mean, m_2):
        """Welford's streaming update of (count, mean, sum of squared deviations)."""
        count += len(new_values)
        delta = new_values - mean
        mean += numpy.sum(delta / count)
        m_2 += numpy.sum(delta * (new_values - mean))
        return count, mean, m_2

    def update_cov(self, label, pred):
        # Uses the label mean already including this batch and the prediction mean before it,
        # which is the pairing MXNet uses (exact for a single batch).
        self._conv = self._conv + numpy.sum((label - self._mean_l) * (pred - self._mean_p))

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            check_label_shapes(label, pred, False, True)
            label = _asnumpy(label).ravel().astype(numpy.float64)
            pred = _asnumpy(pred).ravel().astype(numpy.float64)
            self.num_inst += 1
            self.global_num_inst += 1
            if self.average == "macro":
                corr = numpy.corrcoef(pred, label)[0, 1]
                self.sum_metric += corr
                self.global_sum_metric += corr
            else:
                self._label_nums, self._mean_l, self._sse_l = self.update_variance(
                    label, self._label_nums, self._mean_l, self._sse_l)
                self.update_cov(label, pred)
                self._pred_nums, self._mean_p, self._sse_p = self.update_variance(
                    pred, self._pred_nums, self._mean_p, self._sse_p)

    def get(self):
        if self.num_inst == 0:
            return (self.name, float("nan"))
        if self.average == "macro":
            return (self.name, self.sum_metric / self.num_inst)
        n = self._label_nums
        return (self.name, self._conv / ((n - 1) * numpy.sqrt(self._sse_p / (n - 1))
                                         * numpy.sqrt(self._sse_l / (n - 1))))


@register
class PCC(EvalMetric):
    """Multiclass Matthews correlation from a confusion matrix that grows with the largest
    class index seen."""

    def __init__(self, name="pcc", output_names=None, label_names=None, has_global_stats=True):
        self.k = 2
        super(PCC, self).__init__(name=name, output_names=output_names,
                                  label_names=label_names, has_global_stats=has_global_stats)

    def _grow(self, inc):
        self.lcm = numpy.pad(self.lcm, ((0, inc), (0, inc)), "constant", constant_values=0)
        self.gcm = numpy.pad(self.gcm, ((0, inc), (0, inc)), "constant", constant_values=0)
        self.k += inc

    @staticmethod
    def _calc_mcc(cmat):
        n = cmat.sum()
        x = cmat.sum(axis=1)
        y = cmat.sum(axis=0)
        cov_xx = numpy.sum(x * (n - x))
        cov_yy = numpy.sum(y * (n - y))
        if cov_xx == 0 or cov_yy == 0:
            return float("nan")
        cov_xy = numpy.sum(cmat.diagonal() * n - x * y)
        return cov_xy / (cov_xx * cov_yy) ** 0.5

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label = _asnumpy(label).astype("int32")
            pred = _asnumpy(pred)
            pred = pred.argmax(axis=1) if pred.shape != label.shape else pred.astype("int32")
            n = max(pred.max(), label.max())
            if n >= self.k:
                self._grow(int(n) + 1 - self.k)
            bcm = numpy.zeros((self.k, self.k))
            numpy.add.at(bcm, (pred.ravel(), label.ravel()), 1)
            self.lcm += bcm
            self.gcm += bcm
        self.num_inst += 1
        self.global_num_inst += 1

    # The confusion matrices are the state; the sums are derived from them.
    @property
    def sum_metric(self):
        return self._calc_mcc(self.lcm) * self.num_inst

    @property
    def global_sum_metric(self):
        return self._calc_mcc(self.gcm) * self.global_num_inst

    def reset(self):
        self.global_num_inst = 0.0
        self.gcm = numpy.zeros((self.k, self.k))
        self.reset_local()

    def reset_local(self):
        self.num_inst = 0.0
        self.lcm = numpy.zeros((self.k, self.k))


@register
class Loss(_Accumulating):
    """Mean of the prediction values themselves (for outputs that are already losses);
    labels are ignored."""

    def __init__(self, name="loss", output_names=None, label_names=None):
        super(Loss, self).__init__(name, output_names=output_names, label_names=label_names,
                                   has_global_stats=True)

    def update(self, _, preds):
        if isinstance(preds, (NDArray, numpy.ndarray)):
            preds = [preds]
        for pred in preds:
            pred = _asnumpy(pred)
            self._add(float(pred.sum()), pred.size)


@register
class Torch(Loss):
    """Loss under the name 'torch' (MXNet's Torch-plugin criterions)."""

    def __init__(self, name="torch", output_names=None, label_names=None):
        super(Torch, self).__init__(name, output_names=output_names, label_names=label_names)


@register
class Caffe(Loss):
    """Loss under the name 'caffe' (MXNet's Caffe-plugin criterions)."""

    def __init__(self, name="caffe", output_names=None, label_names=None):
        super(Caffe, self).__init__(name, output_names=output_names, label_names=label_names)


@register
class CustomMetric(_Accumulating):
    """``feval(label, pred)`` on numpy arrays per pair, returning a value (counted once) or
    a ``(sum_metric, num_inst)`` tuple. ``allow_extra_outputs`` lets preds outnumber labels
    (extra outputs such as RNN states are ignored)."""

    def __init__(self, feval, name=None, allow_extra_outputs=False, output_names=None,
                 label_names=None):
        if name is None:
            name = feval.__name__
            if "<" in name:
                name = "custom(%s)" % name
        super(CustomMetric, self).__init__(name, feval=feval,
                                           allow_extra_outputs=allow_extra_outputs,
                                           output_names=output_names, label_names=label_names,
                                           has_global_stats=True)
        self._feval = feval
        self._allow_extra_outputs = allow_extra_outputs

    def update(self, labels, preds):
        if not self._allow_extra_outputs:
            labels, preds = check_label_shapes(labels, preds, True)
        for pred, label in zip(preds, labels):
            reval = self._feval(_asnumpy(label), _asnumpy(pred))
            if isinstance(reval, tuple):
                self._add(*reval)
            else:
                self._add(reval, 1)

    def get_config(self):
        raise NotImplementedError("CustomMetric cannot be serialized")


def np(numpy_feval, name=None, allow_extra_outputs=False):  # noqa: shadows numpy on purpose
    """A CustomMetric from ``numpy_feval(label, pred)`` returning a float."""
    def feval(label, pred):
        return numpy_feval(label, pred)
    feval.__name__ = numpy_feval.__name__
    return CustomMetric(feval, name, allow_extra_outputs)
