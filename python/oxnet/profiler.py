"""``mx.profiler``: MXNet 1.x's profiler API. While it runs, the engine times every operator it
executes (each op of a bulk segment on its own); ``dump`` writes them as a Chrome trace
(``chrome://tracing``, Perfetto) and ``dumps`` prints the per-operator totals MXNet prints.
Domains, tasks, frames, events, counters and markers time Python code on the same clock."""
import atexit
import json
import os
import threading
import warnings

from . import _native
from .base import MXNetError

_OPERATOR = "operator"
_TRUE = ("1", "true", "True")


class _State:
    """Everything the profiler has collected (one per process, as in MXNet)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.config = {"filename": "profile.json", "aggregate_stats": False}
        self.running = False
        self.paused = False
        self.has_output = False  # run since the last finished dump: a trace to write
        self.trace = []       # Chrome trace events, in the order they were collected
        self.written = []     # the events of the trace file being written (continuous dump)
        self.stats = {}       # category -> name -> [count, total, min, max] (microseconds)

    def collect(self):
        """Moves the engine's op timings into the trace and the totals."""
        for name, start, dur, thread in _native.profiler_take():
            self.add_duration(_OPERATOR, name, start, dur, thread)

    def add_duration(self, cat, name, start, dur, thread):
        pid = 0 if cat == _OPERATOR else 1
        self.trace.append({"name": name, "cat": cat, "ph": "B", "ts": start, "pid": pid,
                           "tid": thread})
        self.trace.append({"name": name, "cat": cat, "ph": "E", "ts": start + dur, "pid": pid,
                           "tid": thread})
        if self.config["aggregate_stats"]:
            s = self.stats.setdefault(cat, {}).setdefault(name, [0, 0.0, dur, dur])
            s[0] += 1
            s[1] += dur
            s[2] = min(s[2], dur)
            s[3] = max(s[3], dur)

    def recording(self):
        return self.running and not self.paused


_state = _State()


@atexit.register
def _dump_at_exit():
    """MXNet writes the trace when the process ends: events profiled but never dumped are
    written to the configured file then, not lost."""
    with _state.lock:
        if _state.running:
            _state.collect()
        pending = bool(_state.trace)
    if pending and _state.has_output:
        dump(True)


def _thread_id():
    return threading.get_ident() & 0xFFFFFFFF


def set_config(**kwargs):
    """Configures the profiler: ``filename`` (where ``dump`` writes, default
    ``profile.json``) and ``aggregate_stats`` (keep the per-operator totals ``dumps`` prints).
    MXNet's other keys (``profile_all``, ``profile_symbolic``, ``profile_imperative``,
    ``profile_memory``, ``profile_api``, ``continuous_dump``, ``dump_period``,
    ``profile_process``) are accepted; every engine operator is profiled."""
    known = {"filename", "aggregate_stats", "profile_all", "profile_symbolic",
             "profile_imperative", "profile_memory", "profile_api", "continuous_dump",
             "dump_period", "profile_process"}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ValueError("profiler.set_config: unknown option(s) %s; known: %s"
                         % (", ".join(unknown), ", ".join(sorted(known))))
    with _state.lock:
        for k, v in kwargs.items():
            if k == "aggregate_stats":
                v = str(v) in _TRUE
            elif k == "filename":  # MXNet passes every value on as a string
                v = os.fspath(v) if isinstance(v, os.PathLike) else str(v)
            _state.config[k] = v


def profiler_set_config(mode="symbolic", filename="profile.json"):
    """Deprecated form of :func:`set_config`."""
    warnings.warn("profiler.profiler_set_config() is deprecated. "
                  "Please use profiler.set_config() instead")
    set_config(**{"profile_" + mode: True, "filename": filename})


def _check_process(profile_process):
    if profile_process not in ("worker", "server"):
        raise ValueError("profile_process must be 'worker' or 'server', got %r"
                         % (profile_process,))


def set_state(state="stop", profile_process="worker"):
    """Starts (``'run'``) or stops (``'stop'``) profiling."""
    _check_process(profile_process)
    if state not in ("run", "stop"):
        raise ValueError("profiler.set_state: state must be 'run' or 'stop', got %r" % (state,))
    with _state.lock:
        _state.running = state == "run"
        _state.has_output |= _state.running
        if _state.running:  # MXNet: 'run' also ends a pause
            _state.paused = False
        _native.profiler_set_state(_state.recording())
        if not _state.running:
            _state.collect()


def profiler_set_state(state="stop"):
    """Deprecated form of :func:`set_state`."""
    warnings.warn("profiler.profiler_set_state() is deprecated. "
                  "Please use profiler.set_state() instead")
    set_state(state)


def pause(profile_process="worker"):
    """Stops recording until :func:`resume` (the profiler stays in its run state)."""
    _check_process(profile_process)
    with _state.lock:
        _state.paused = True
        _native.profiler_set_state(False)


def resume(profile_process="worker"):
    """Resumes recording after :func:`pause`."""
    _check_process(profile_process)
    with _state.lock:
        _state.paused = False
        _native.profiler_set_state(_state.recording())


def dump(finished=True, profile_process="worker"):
    """Writes the events collected so far to the configured file as a Chrome trace. After
    ``dump(finished=False)`` (profiling continues) the next dump writes the earlier events
    again with the new ones, so the file grows as MXNet's continuous dump does; ``finished``
    stops the profiler and completes the file (a later dump starts a new one)."""
    _check_process(profile_process)
    with _state.lock:
        if not _state.has_output:
            # MXNet's check: a second dump() would otherwise replace the trace just written
            # with an empty one
            raise MXNetError("profiler.dump: the profiler hasn't been run since the last "
                             "dump(); set_config and set_state('run') first")
        if finished:
            _state.running = False
            _native.profiler_set_state(False)
        _state.collect()
        meta = [{"name": "process_name", "ph": "M", "pid": 0, "args": {"name": _OPERATOR}},
                {"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "user"}}]
        _state.written.extend(_state.trace)
        _state.trace = []
        events = list(_state.written)
        filename = _state.config["filename"]
    with open(filename, "w") as f:
        json.dump({"traceEvents": meta + events, "displayTimeUnit": "ms"}, f)
    if finished:
        with _state.lock:
            del _state.written[:len(events)]
            _state.has_output = _state.running


def dump_profile():
    """Deprecated form of :func:`dump`."""
    warnings.warn("profiler.dump_profile() is deprecated. Please use profiler.dump() instead")
    dump(True)


_SORT_KEYS = {"total": 1, "avg": None, "min": 2, "max": 3, "count": 0}


def dumps(reset=False, format="table", sort_by="total", ascending=False):
    """The aggregate statistics (``set_config(aggregate_stats=True)``) as MXNet's table, or as
    JSON with ``format='json'``; times in milliseconds. Empty when statistics are off.
    ``reset`` clears them."""
    if format not in ("table", "json"):
        raise ValueError("profiler.dumps: format must be 'table' or 'json', got %r" % (format,))
    if sort_by not in _SORT_KEYS:
        raise ValueError("profiler.dumps: sort_by must be one of %s, got %r"
                         % (", ".join(_SORT_KEYS), sort_by))
    with _state.lock:
        _state.collect()
        stats = _state.stats
        if reset:
            _state.stats = {}
    if not _state.config["aggregate_stats"]:
        return ""
    index = _SORT_KEYS[sort_by]

    def key(item):
        c, total, lo, hi = item[1]
        return total / c if index is None else item[1][index]

    def rows(cat):
        return sorted(stats[cat].items(), key=key, reverse=not ascending)
    if format == "json":
        out = {"Time": {cat: {name: {"Count": c, "Total": t / 1e3, "Min": lo / 1e3,
                                     "Max": hi / 1e3, "Avg": t / c / 1e3}
                              for name, (c, t, lo, hi) in rows(cat)}
                        for cat in stats},
               "Unit": {"Time": "ms"}}
        return json.dumps(out, indent=4)
    lines = ["", "Profile Statistics:", "\tNote the difference in units for different entries."]
    for cat in stats:
        lines += [cat, "=================",
                  "%-30s%11s%17s%17s%17s%17s" % ("Name", "Total Count", "Time (ms)",
                                                  "Min Time (ms)", "Max Time (ms)",
                                                  "Avg Time (ms)"),
                  "%-30s%11s%17s%17s%17s%17s" % ("----", "-----------", "---------",
                                                  "-------------", "-------------",
                                                  "-------------")]
        for name, (c, t, lo, hi) in rows(cat):
            lines.append("%-30s%11d%17.4f%17.4f%17.4f%17.4f"
                         % (name, c, t / 1e3, lo / 1e3, hi / 1e3, t / c / 1e3))
        lines.append("")
    return "\n".join(lines) + "\n"


class Domain:
    """A category grouping tasks, frames, counters and markers in the trace and the table."""

    def __init__(self, name):
        self.name = name

    def __str__(self):
        return self.name

    def new_task(self, name):
        return Task(self, name)

    def new_frame(self, name):
        return Frame(self, name)

    def new_counter(self, name, value=None):
        return Counter(self, name, value)

    def new_marker(self, name):
        return Marker(self, name)


class _Duration:
    """A named span of Python code timed on the profiler's clock (start ... stop)."""

    def __init__(self, category, name):
        self._category = category
        self.name = name
        self._start = None

    def start(self):
        self._start = _native.profiler_now_us()

    def stop(self):
        if self._start is None:
            raise RuntimeError("profiler %s %r: stop() without start()"
                               % (type(self).__name__, self.name))
        end = _native.profiler_now_us()
        with _state.lock:
            if _state.recording():
                _state.add_duration(self._category, self.name, self._start,
                                    end - self._start, _thread_id())
        self._start = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def __str__(self):
        return self.name


class Task(_Duration):
    """A unit of work in a domain; all its passes add up to one row of statistics."""

    def __init__(self, domain, name):
        super().__init__(str(domain), name)


class Frame(_Duration):
    """A period in a domain (a video frame, a training step) shown on its own in the trace."""

    def __init__(self, domain, name):
        super().__init__(str(domain), name)


class Event(_Duration):
    """A timed region of the application, in the ``event`` category."""

    def __init__(self, name):
        super().__init__("event", name)


class Counter:
    """A value tracked over time (a 'C' series in the trace)."""

    def __init__(self, domain, name, value=None):
        self._domain = str(domain)
        self.name = name
        self._value = 0
        if value is not None:
            self.set_value(value)

    def _record(self):
        with _state.lock:
            if _state.recording():
                _state.trace.append({"name": self.name, "cat": self._domain, "ph": "C",
                                     "ts": _native.profiler_now_us(), "pid": 1,
                                     "tid": _thread_id(), "args": {self.name: self._value}})

    def set_value(self, value):
        self._value = int(value)
        self._record()

    def increment(self, delta=1):
        self.set_value(self._value + int(delta))

    def decrement(self, delta=1):
        self.set_value(self._value - int(delta))

    def __iadd__(self, delta):
        self.increment(delta)
        return self

    def __isub__(self, delta):
        self.decrement(delta)
        return self

    def __str__(self):
        return self.name


_MARKER_SCOPES = {"global": "g", "process": "p", "thread": "t", "task": "t", "marker": "t"}


class Marker:
    """An instant in time, marked across a scope ('global', 'process', 'thread', 'task',
    'marker')."""

    def __init__(self, domain, name):
        self._domain = str(domain)
        self.name = name

    def mark(self, scope="process"):
        if scope not in _MARKER_SCOPES:
            raise ValueError("profiler Marker.mark: scope must be one of %s, got %r"
                             % (", ".join(_MARKER_SCOPES), scope))
        with _state.lock:
            if _state.recording():
                _state.trace.append({"name": self.name, "cat": self._domain, "ph": "i",
                                     "ts": _native.profiler_now_us(), "pid": 1,
                                     "tid": _thread_id(), "s": _MARKER_SCOPES[scope]})
