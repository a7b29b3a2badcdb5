"""mx.profiler: engine op timings in a Chrome trace and MXNet's aggregate table, user domains,
pause/resume."""
import json
import subprocess
import sys

import numpy as np
import pytest

import oxnet as mx
from oxnet import _native


@pytest.fixture
def prof(tmp_path):
    path = tmp_path / "profile.json"
    mx.profiler.set_config(profile_all=True, aggregate_stats=True, filename=str(path))
    mx.profiler.set_state("stop")
    _dump_if_run()              # drops whatever earlier tests left
    mx.profiler.dumps(reset=True)
    yield path
    mx.profiler.set_state("stop")
    _dump_if_run()              # what a test left goes to its own file, not to exit's dump
    mx.profiler.set_config(aggregate_stats=False, filename="profile.json")


def _dump_if_run():
    try:
        mx.profiler.dump()
    except mx.MXNetError:
        pass                    # nothing ran since the last dump


def _ops(path):
    events = json.load(open(path))["traceEvents"]
    return [e for e in events if e.get("cat") == "operator"]


def test_ops_are_timed_inside_the_run_window(prof):
    a = mx.nd.array(np.random.rand(300, 300))
    mx.nd.waitall()
    t0 = _native.profiler_now_us()
    mx.profiler.set_state("run")
    b = mx.nd.dot(a, a)
    c = (b + 1).sum()
    c.wait_to_read()
    mx.profiler.set_state("stop")
    t1 = _native.profiler_now_us()
    mx.nd.dot(a, a).wait_to_read()  # after stop: not recorded
    mx.profiler.dump()
    ops = _ops(prof)
    begins = [e for e in ops if e["ph"] == "B"]
    ends = [e for e in ops if e["ph"] == "E"]
    assert sorted(e["name"] for e in begins) == ["_plus_scalar", "dot", "sum"]
    for b_, e_ in zip(begins, ends):
        assert b_["name"] == e_["name"] and b_["tid"] == e_["tid"]
        assert t0 <= b_["ts"] <= e_["ts"] <= t1
    # the ops ran one after another (each reads the previous one's result)
    order = sorted(begins, key=lambda e: e["ts"])
    assert [e["name"] for e in order] == ["dot", "_plus_scalar", "sum"]


def test_aggregate_table_and_json(prof):
    x = mx.nd.ones((10, 10))
    mx.nd.waitall()
    mx.profiler.set_state("run")
    for _ in range(3):
        x = x * 2
    x.wait_to_read()
    mx.profiler.set_state("stop")
    table = mx.profiler.dumps()
    assert "Profile Statistics:" in table
    lines = table.splitlines()
    head = lines.index("operator")
    assert lines[head + 2].split()[:3] == ["Name", "Total", "Count"]
    row = [ln for ln in lines[head:] if ln.startswith("_mul_scalar")]
    assert len(row) == 1 and row[0].split()[1] == "3"
    total, lo, hi, avg = map(float, row[0].split()[2:])
    assert lo <= avg <= hi and total == pytest.approx(3 * avg, rel=1e-3, abs=2e-4)
    stats = json.loads(mx.profiler.dumps(format="json", reset=True))
    assert stats["Time"]["operator"]["_mul_scalar"]["Count"] == 3
    assert mx.profiler.dumps().count("_mul_scalar") == 0   # reset


def test_executor_ops_are_profiled_one_by_one(prof):
    data = mx.sym.Variable("data")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=5, name="fc"),
                               name="sm")
    ex = net.simple_bind(mx.cpu(), data=(4, 3))
    mx.profiler.set_state("run")
    ex.forward(is_train=True)
    ex.backward()
    mx.nd.waitall()
    mx.profiler.set_state("stop")
    stats = json.loads(mx.profiler.dumps(format="json"))["Time"]["operator"]
    assert {"FullyConnected", "SoftmaxOutput", "_backward_FullyConnected"} <= set(stats)
    assert "bulk" not in stats and "WaitForVar" not in stats


def test_pause_resume_and_user_objects(prof):
    mx.profiler.set_state("run")
    mx.profiler.pause()
    (mx.nd.ones((2,)) * 3).wait_to_read()
    mx.profiler.resume()
    (mx.nd.ones((2,)) * 5).wait_to_read()
    dom = mx.profiler.Domain("mydomain")
    task = dom.new_task("mytask")
    task.start()
    task.stop()
    with mx.profiler.Event("myevent"):
        pass
    cnt = dom.new_counter("cnt", 5)
    cnt += 3
    cnt -= 1
    dom.new_marker("mk").mark("process")
    mx.profiler.set_state("stop")
    mx.profiler.dump()
    events = json.load(open(prof))["traceEvents"]
    ops = [e for e in events if e.get("cat") == "operator" and e["ph"] == "B"]
    assert [e["name"] for e in ops].count("_mul_scalar") == 1
    cats = {(e.get("cat"), e["name"], e["ph"]) for e in events}
    assert {("mydomain", "mytask", "B"), ("mydomain", "mytask", "E"),
            ("event", "myevent", "B"), ("mydomain", "mk", "i")} <= cats
    assert [e["args"]["cnt"] for e in events if e["name"] == "cnt"] == [5, 8, 7]
    table = mx.profiler.dumps()
    assert "mydomain" in table and "myevent" in table


def test_dumps_empty_without_aggregate_stats_and_bad_arguments(prof):
    mx.profiler.set_config(aggregate_stats=False)
    assert mx.profiler.dumps() == ""
    with pytest.raises(ValueError, match="unknown option"):
        mx.profiler.set_config(profile_everything=True)
    with pytest.raises(ValueError, match="state"):
        mx.profiler.set_state("go")
    with pytest.raises(ValueError, match="sort_by"):
        mx.profiler.dumps(sort_by="median")
    with pytest.raises(RuntimeError, match="stop"):
        mx.profiler.Event("e").stop()


def test_failed_dump_keeps_the_events(prof, tmp_path):
    mx.profiler.set_state("run")
    (mx.nd.ones((2,)) + 1).wait_to_read()
    mx.profiler.set_state("stop")
    mx.profiler.set_config(filename=str(tmp_path / "missing_dir" / "p.json"))
    with pytest.raises(OSError):
        mx.profiler.dump()
    mx.profiler.set_config(filename=str(prof))
    mx.profiler.dump()
    assert "_plus_scalar" in {e["name"] for e in _ops(prof)}


def test_continuous_dumps_keep_every_event(prof):
    # MXNet's continuous dump: each dump(finished=False) writes everything so far, so the
    # file only grows; dump() completes it and the next file starts afresh.
    mx.profiler.set_state("run")
    counts = []
    for i in range(3):
        (mx.nd.ones((2,)) * (i + 2)).wait_to_read()
        mx.profiler.dump(finished=False)
        counts.append([e["name"] for e in _ops(prof)].count("_mul_scalar"))
    assert counts == [2, 4, 6]   # a begin and an end event per op
    mx.profiler.dump()
    assert [e["name"] for e in _ops(prof)].count("_mul_scalar") == 6
    mx.profiler.set_state("run")
    (mx.nd.ones((2,)) * 5).wait_to_read()
    mx.profiler.dump()
    assert [e["name"] for e in _ops(prof)].count("_mul_scalar") == 2


def test_events_never_dumped_are_written_at_exit(tmp_path):
    # MXNet writes the trace when the process ends (example/profiler relies on it)
    path = tmp_path / "exit.json"
    script = ("import oxnet as mx\n"
              "mx.profiler.set_config(profile_all=True, filename=%r)\n"
              "mx.profiler.set_state('run')\n"
              "(mx.nd.ones((4,)) * 3).wait_to_read()\n" % str(path))
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "_mul_scalar" in {e["name"] for e in _ops(path)}


def test_dump_without_a_run_keeps_the_trace(prof):
    """MXNet raises "Profiler hasn't been run" rather than overwrite the trace file with an
    empty one; a dump(finished=False) keeps the profiler's output going."""
    with pytest.raises(mx.MXNetError, match="hasn't been run"):
        mx.profiler.dump()
    assert not prof.exists()
    mx.profiler.set_state("run")
    (mx.nd.ones((2,)) * 3).wait_to_read()
    mx.profiler.set_state("stop")
    mx.profiler.dump(finished=False)
    mx.profiler.dump()
    written = prof.read_text()
    assert "_mul_scalar" in {e["name"] for e in _ops(prof)}
    with pytest.raises(mx.MXNetError, match="hasn't been run"):
        mx.profiler.dump()
    assert prof.read_text() == written


def test_filename_is_a_string_as_in_mxnet(prof, tmp_path, monkeypatch):
    # MXNet passes config values on as strings: filename=3 names the file "3", it does not
    # write into file descriptor 3
    monkeypatch.chdir(tmp_path)
    mx.profiler.set_config(filename=3)
    mx.profiler.set_state("run")
    (mx.nd.ones((2,)) + 1).wait_to_read()
    mx.profiler.set_state("stop")
    mx.profiler.dump()
    assert (tmp_path / "3").exists()
    mx.profiler.set_config(filename=str(prof))


def test_run_ends_a_pause(prof):
    # MXNet 1.9.1: set_state('run') records again after a pause (with or without a stop)
    mx.profiler.set_state("run")
    mx.profiler.pause()
    (mx.nd.ones((2,)) * 7).wait_to_read()
    mx.profiler.set_state("stop")
    mx.profiler.set_state("run")
    (mx.nd.ones((2,)) + 7).wait_to_read()
    mx.profiler.set_state("stop")
    mx.profiler.dump()
    names = {e["name"] for e in _ops(prof)}
    assert "_plus_scalar" in names and "_mul_scalar" not in names
