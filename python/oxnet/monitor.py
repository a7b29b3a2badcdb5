"""``mx.monitor.Monitor`` (``mx.mon``): statistics of the arrays inside executors every
``interval`` batches, for watching a network train (exploding activations, dead layers)."""
import logging
import math
import re

from .ndarray import NDArray


def _rms(x):
    """MXNet's default statistic: the norm over the square root of the size."""
    return x.norm() / math.sqrt(x.size)


class Monitor:
    """Collects ``stat_func(array)`` for every op output (and, with ``monitor_all``, every op
    input) whose name matches ``pattern``, plus the executors' arguments and auxiliary states,
    on the batches where ``tic`` falls on a multiple of ``interval``.

    ``install(exe)`` attaches it to an executor (``Module.install_monitor`` does it for a
    module); ``tic()`` before the forward pass, ``toc()`` after it returns
    ``[(batch, name, text)]`` and ``toc_print()`` logs them."""

    def __init__(self, interval, stat_func=None, pattern=".*", sort=False, monitor_all=False):
        if int(interval) < 1:
            raise ValueError("Monitor: interval must be a positive number of batches, got %r"
                             % (interval,))
        self.interval = int(interval)
        self.stat_func = _rms if stat_func is None else stat_func
        self.activated = False
        self.queue = []
        self.step = 0
        self.exes = []
        self.re_prog = re.compile(pattern)
        self.sort = sort
        self.monitor_all = monitor_all

    def stat_helper(self, name, array):
        """The executors' callback: keeps the statistic of one named array."""
        if not self.activated or not self.re_prog.match(name):
            return
        self.queue.append((self.step, name, self.stat_func(array)))

    def install(self, exe):
        """Attaches the monitor to executor ``exe``."""
        exe.set_monitor_callback(self.stat_helper, self.monitor_all)
        self.exes.append(exe)

    def tic(self):
        """Starts collecting when this batch falls on the interval."""
        if self.step % self.interval == 0:
            self.queue = []
            self.activated = True
        self.step += 1

    def toc(self):
        """Ends collecting for this batch; returns ``[(batch, name, text)]`` where ``text`` holds
        the statistic's values, each followed by a tab."""
        if not self.activated:
            return []
        for exe in self.exes:
            for names, arrays in ((exe._symbol.list_arguments(), exe.arg_arrays),
                                  (exe._symbol.list_auxiliary_states(), exe.aux_arrays)):
                for name, array in zip(names, arrays):
                    if self.re_prog.match(name):
                        self.queue.append((self.step, name, self.stat_func(array)))
        self.activated = False
        res = []
        queue = sorted(self.queue, key=lambda q: q[1]) if self.sort else self.queue
        for n, k, v_list in queue:
            if isinstance(v_list, NDArray):
                v_list = [v_list]
            text = ""
            for v in v_list:
                if not isinstance(v, NDArray):
                    raise TypeError("Monitor: stat_func must return an NDArray or a list of "
                                    "NDArrays, got %s for %s" % (type(v).__name__, k))
                text += (str(v.asscalar()) if v.shape in ((1,), ()) else str(v.asnumpy())) + "\t"
            res.append((n, k, text))
        self.queue = []
        return res

    def toc_print(self):
        """``toc`` and log each statistic."""
        for n, k, v in self.toc():
            logging.info("Batch: {:7d} {:30s} {:s}".format(n, k, v))
