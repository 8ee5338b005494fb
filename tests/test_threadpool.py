"""The thread count the ecosystem's tools control (fastrnn/_threadpool.py and
_kernels._default_threads): FASTRNN_NUM_THREADS, then OMP_NUM_THREADS, then
the usable cores; threadpoolctl's limits and info, whether threadpoolctl is
imported before fastrnn or after it."""
import os
import subprocess
import sys

import pytest

import fastrnn

threadpoolctl = pytest.importorskip("threadpoolctl")


def _threads_in_child(code="import fastrnn; print(fastrnn.get_num_threads())", **env):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("FASTRNN_NUM_THREADS", "OMP_NUM_THREADS")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**clean, **env}, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip(), run.stderr


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def test_default_follows_the_environment():
    assert _threads_in_child(FASTRNN_NUM_THREADS="3")[0] == "3"
    assert _threads_in_child(OMP_NUM_THREADS="1")[0] == "1"
    assert _threads_in_child(OMP_NUM_THREADS="5,2")[0] == "5"      # nested: the outer level
    # fastrnn's own variable first
    assert _threads_in_child(FASTRNN_NUM_THREADS="2", OMP_NUM_THREADS="1")[0] == "2"
    out, err = _threads_in_child(FASTRNN_NUM_THREADS="many", OMP_NUM_THREADS="1")
    assert out == "1" and "FASTRNN_NUM_THREADS='many' is not a positive number" in err
    out, err = _threads_in_child(OMP_NUM_THREADS="0")
    assert int(out) >= 1 and "OMP_NUM_THREADS='0'" in err


def test_threadpool_limits_reach_fastrnn(restore_threads):
    fastrnn.set_num_threads(2)
    with threadpoolctl.threadpool_limits(limits=1):
        assert fastrnn.get_num_threads() == 1
    assert fastrnn.get_num_threads() == 2
    with threadpoolctl.threadpool_limits(limits=1, user_api="fastrnn"):
        assert fastrnn.get_num_threads() == 1
    assert fastrnn.get_num_threads() == 2


def test_threadpool_info_lists_fastrnn(restore_threads):
    fastrnn.set_num_threads(3)
    ours = [info for info in threadpoolctl.threadpool_info() if info["user_api"] == "fastrnn"]
    assert len(ours) == 1
    assert ours[0]["num_threads"] == 3 and ours[0]["version"] == fastrnn.__version__
    assert os.path.basename(ours[0]["filepath"]).startswith("_kernels")


@pytest.mark.parametrize("order", ["threadpoolctl first", "fastrnn first"])
def test_registration_whatever_the_import_order(order):
    first, second = ("threadpoolctl", "fastrnn") if order == "threadpoolctl first" \
        else ("fastrnn", "threadpoolctl")
    code = (f"import {first}, {second}\n"
            "fastrnn.set_num_threads(2)\n"
            "with threadpoolctl.threadpool_limits(limits=1): print(fastrnn.get_num_threads())\n"
            "print(fastrnn.get_num_threads())\n"
            "print(sorted(i['user_api'] for i in threadpoolctl.threadpool_info()))")
    out, _ = _threads_in_child(code)
    lines = out.splitlines()
    assert lines[:2] == ["1", "2"]
    assert "fastrnn" in lines[2]


def test_import_fastrnn_imports_no_threadpoolctl():
    out, _ = _threads_in_child("import sys, fastrnn; print('threadpoolctl' in sys.modules)")
    assert out == "False"


@pytest.fixture
def restore_threads():
    before = fastrnn.get_num_threads()
    yield
    fastrnn.set_num_threads(before)
