"""Training callbacks for notebooks (``mx.notebook.callback``): ``PandasLogger`` records metrics
into pandas DataFrames, the ``Live*`` classes draw them with bokeh as training runs.

pandas and bokeh are optional: they are imported when a class that needs them is built, so
importing this module never fails and the error names the missing package.
"""
import datetime
import time
from collections import defaultdict

__all__ = ["PandasLogger", "LiveBokehChart", "LiveTimeSeries", "LiveLearningCurve",
           "args_wrapper"]


def _import_pandas(what):
    try:
        import pandas
    except ImportError as e:
        raise ImportError("%s needs pandas, which is not installed (pip install pandas)"
                          % what) from e
    return pandas


def _import_bokeh(what):
    try:
        import bokeh.io
        import bokeh.plotting
    except ImportError as e:
        raise ImportError("%s needs bokeh, which is not installed (pip install bokeh)"
                          % what) from e
    return bokeh


def _add_new_columns(dataframe, metrics):
    """Adds a column for every key of ``metrics`` the DataFrame does not have yet."""
    for col in set(metrics.keys()) - set(dataframe.columns):
        dataframe[col] = None


def _extend(base_data, new_data):
    """Appends the entries of ``new_data`` past the length of ``base_data`` (which the chart
    holds by reference, so it must grow in place)."""
    base_data.extend(new_data[len(base_data):])


class PandasLogger(object):
    """Records training statistics into three DataFrames: ``train`` (every ``frequent``
    batches), ``eval`` (each evaluation) and ``epoch`` (timings).

    Parameters
    ----------
    batch_size : int
        Samples per batch.
    frequent : int
        Training batches between two rows of ``train_df``.
    """

    def __init__(self, batch_size, frequent=50):
        pd = _import_pandas("mx.notebook.callback.PandasLogger")
        self.batch_size = batch_size
        self.frequent = frequent
        self._dataframes = {
            'train': pd.DataFrame(),
            'eval': pd.DataFrame(),
            'epoch': pd.DataFrame(),
        }
        self.last_time = time.time()
        self.start_time = datetime.datetime.now()
        self.last_epoch_time = datetime.datetime.now()

    @property
    def train_df(self):
        """Training metrics, one row every ``frequent`` batches."""
        return self._dataframes['train']

    @property
    def eval_df(self):
        """Validation metrics, one row per evaluation."""
        return self._dataframes['eval']

    @property
    def epoch_df(self):
        """Elapsed and per-epoch wall time, one row per epoch."""
        return self._dataframes['epoch']

    @property
    def all_dataframes(self):
        """The three DataFrames by name: ``train``, ``eval``, ``epoch``."""
        return self._dataframes

    def elapsed(self):
        """Time since this logger was created (a ``datetime.timedelta``)."""
        return datetime.datetime.now() - self.start_time

    def append_metrics(self, metrics, df_name):
        """Appends the dict ``metrics`` as a row of DataFrame ``df_name``, adding columns for
        new keys."""
        dataframe = self._dataframes[df_name]
        _add_new_columns(dataframe, metrics)
        dataframe.loc[len(dataframe)] = metrics

    def train_cb(self, param):
        """``batch_end_callback``: logs a row every ``frequent`` batches."""
        if param.nbatch % self.frequent == 0:
            self._process_batch(param, 'train')

    def eval_cb(self, param):
        """``eval_end_callback``: logs the evaluation's metrics."""
        self._process_batch(param, 'eval')

    def _process_batch(self, param, df_name):
        now = time.time()
        if param.eval_metric is not None:
            metrics = dict(param.eval_metric.get_name_value())
            param.eval_metric.reset()
        else:
            metrics = {}
        try:
            speed = self.frequent / (now - self.last_time)
        except ZeroDivisionError:
            speed = float('inf')
        # MXNet 1.9 stores batches/s under records_per_sec and records/s under
        # batches_per_sec; kept so notebooks written for it read the same columns.
        metrics['batches_per_sec'] = speed * self.batch_size
        metrics['records_per_sec'] = speed
        metrics['elapsed'] = self.elapsed()
        metrics['minibatch_count'] = param.nbatch
        metrics['epoch'] = param.epoch
        self.append_metrics(metrics, df_name)
        self.last_time = now

    def epoch_cb(self, *args):
        """``epoch_end_callback``: logs the elapsed and this epoch's wall time. The
        callback's arguments (epoch, symbol, arg_params, aux_params) are not used."""
        metrics = {}
        metrics['elapsed'] = self.elapsed()
        now = datetime.datetime.now()
        metrics['epoch_time'] = now - self.last_epoch_time
        self.append_metrics(metrics, 'epoch')
        self.last_epoch_time = now

    def callback_args(self):
        """Keyword arguments for ``fit`` that install every callback:
        ``model.fit(X=train, eval_data=test, **logger.callback_args())``."""
        return {
            'batch_end_callback': self.train_cb,
            'eval_end_callback': self.eval_cb,
            'epoch_end_callback': self.epoch_cb,
        }


class LiveBokehChart(object):
    """Base class of charts redrawn in a notebook as training runs; subclasses define
    ``setup_chart`` and ``update_chart_data``. Metrics come from ``pandas_logger`` (a new
    ``PandasLogger(batch_size, frequent)`` when None); the chart is pushed at most every
    ``display_freq`` seconds on batches and always after an evaluation."""

    def __init__(self, pandas_logger, metric_name, display_freq=10, batch_size=None,
                 frequent=50):
        self._bokeh = _import_bokeh("mx.notebook.callback.%s" % type(self).__name__)
        if pandas_logger:
            self.pandas_logger = pandas_logger
        else:
            self.pandas_logger = PandasLogger(batch_size=batch_size, frequent=frequent)
        self.display_freq = display_freq
        self.last_update = time.time()
        self.metric_name = metric_name
        self._bokeh.io.output_notebook()
        self.handle = self.setup_chart()

    def setup_chart(self):
        """Draws the chart; returns the notebook handle that updates are pushed to."""
        raise NotImplementedError("Incomplete base class: LiveBokehChart must be sub-classed")

    def update_chart_data(self):
        """Copies new data into the chart's data sources."""
        raise NotImplementedError("Incomplete base class: LiveBokehChart must be sub-classed")

    def interval_elapsed(self):
        """Whether more than ``display_freq`` seconds passed since the last push."""
        return time.time() - self.last_update > self.display_freq

    def _push_render(self):
        self._bokeh.io.push_notebook(handle=self.handle)
        self.last_update = time.time()

    def _do_update(self):
        self.update_chart_data()
        self._push_render()

    def batch_cb(self, param):
        """``batch_end_callback``: redraws when ``display_freq`` seconds have passed."""
        if self.interval_elapsed():
            self._do_update()

    def eval_cb(self, param):
        """``eval_end_callback``: always redraws."""
        self._do_update()

    def callback_args(self):
        """Keyword arguments for ``fit`` that install this chart's callbacks."""
        return {
            'batch_end_callback': self.batch_cb,
            'eval_end_callback': self.eval_cb,
        }


def _figure(bokeh, **params):
    # bokeh 3 removed ``Figure``; ``figure`` exists in every version.
    return bokeh.plotting.figure(x_axis_type='datetime', **params)


class LiveTimeSeries(LiveBokehChart):
    """A line of values against elapsed time; add points with ``update_chart_data(value)``.
    ``fig_params`` go to bokeh's ``figure``."""

    def __init__(self, **fig_params):
        self.fig = _figure(_import_bokeh("mx.notebook.callback.LiveTimeSeries"),
                           x_axis_label='Elapsed time', **fig_params)
        super(LiveTimeSeries, self).__init__(None, None)

    def setup_chart(self):
        self.start_time = datetime.datetime.now()
        self.x_axis_val = []
        self.y_axis_val = []
        self.fig.line(self.x_axis_val, self.y_axis_val)
        return self._bokeh.plotting.show(self.fig, notebook_handle=True)

    def elapsed(self):
        """Time since the chart was set up."""
        return datetime.datetime.now() - self.start_time

    def update_chart_data(self, value):
        self.x_axis_val.append(self.elapsed())
        self.y_axis_val.append(value)
        self._push_render()


class LiveLearningCurve(LiveBokehChart):
    """Training and validation values of ``metric_name`` against training time, drawn as
    training runs (training points every ``frequent`` batches)."""

    def __init__(self, metric_name, display_freq=10, frequent=50):
        self.frequent = frequent
        self.start_time = datetime.datetime.now()
        self._data = {
            'train': {'elapsed': []},
            'eval': {'elapsed': []},
        }
        # MXNet passes ``frequent`` in the batch_size position here; the logger it builds
        # is unused by this chart, so the mix-up is harmless and kept.
        super(LiveLearningCurve, self).__init__(None, metric_name, display_freq, frequent)

    def setup_chart(self):
        self.fig = _figure(self._bokeh, x_axis_label='Training time')
        # The glyphs keep references to these lists; update_chart_data extends them in place.
        self.x_axis_val1 = []
        self.y_axis_val1 = []
        self.train1 = self.fig.line(self.x_axis_val1, self.y_axis_val1, line_dash='dotted',
                                    alpha=0.3, legend_label="train")
        self.train2 = self.fig.scatter(self.x_axis_val1, self.y_axis_val1, marker='circle',
                                       size=1.5, line_alpha=0.3, fill_alpha=0.3,
                                       legend_label="train")
        self.train2.visible = False
        self.x_axis_val2 = []
        self.y_axis_val2 = []
        self.valid1 = self.fig.line(self.x_axis_val2, self.y_axis_val2, line_color='green',
                                    line_width=2, legend_label="validation")
        self.valid2 = self.fig.scatter(self.x_axis_val2, self.y_axis_val2, marker='circle',
                                       line_color='green', line_width=2)
        self.fig.legend.location = "bottom_right"
        self.fig.yaxis.axis_label = self.metric_name
        return self._bokeh.plotting.show(self.fig, notebook_handle=True)

    def batch_cb(self, param):
        if param.nbatch % self.frequent == 0:
            self._process_batch(param, 'train')
        if self.interval_elapsed():
            self._do_update()

    def eval_cb(self, param):
        self._process_batch(param, 'eval')
        self._do_update()

    def _process_batch(self, param, df_name):
        if param.eval_metric is not None:
            metrics = dict(param.eval_metric.get_name_value())
            param.eval_metric.reset()
        else:
            metrics = {}
        metrics['elapsed'] = datetime.datetime.now() - self.start_time
        for key, value in metrics.items():
            self._data[df_name].setdefault(key, []).append(value)

    def update_chart_data(self):
        data = self._data['train']
        if data['elapsed']:
            _extend(self.x_axis_val1, data['elapsed'])
            _extend(self.y_axis_val1, data[self.metric_name])
        data = self._data['eval']
        if data['elapsed']:
            _extend(self.x_axis_val2, data['elapsed'])
            _extend(self.y_axis_val2, data[self.metric_name])
        # MXNet compares the number of recorded eval series (not points) with 10; kept.
        if len(data) > 10:
            self.train1.visible = False
            self.train2.visible = True


def args_wrapper(*args):
    """Merges the ``callback_args()`` of several callback objects into ``fit`` keyword
    arguments whose values are lists of callbacks."""
    out = defaultdict(list)
    for callback in args:
        for k, v in callback.callback_args().items():
            out[k].append(v)
    return dict(out)
