"""The input projection inside the one-row steps (_step.h
fastrnn_row_step_ahead_f32, planned by _ahead in _k_split.pxi): one batch row
without lengths, each step's product of w_hh carrying a quarter of the next four
rows' projection. On every kernel path this CPU runs, forced (recurrent="ahead")
and counted (ahead_calls): the outputs are bitwise those of the projection before
the steps on the same kernels (path "packed", where that projects on the packed
kernel: I <= min(H, 128)), and close to OpenBLAS's elsewhere; where the plan does
not apply it does not run."""
import numpy as np
import pytest

import fastrnn
from fastrnn import _kernels, _testing
from kernel_calls import gated_call, run_gated

pytestmark = pytest.mark.usefixtures("each_isa")


@pytest.fixture(autouse=True)
def one_thread():
    previous = fastrnn.get_num_threads()
    fastrnn.set_num_threads(1)
    try:
        yield
    finally:
        fastrnn.set_num_threads(previous)


def _run_ahead(kind, args):
    before = _testing.ahead_calls()
    got = run_gated(kind, args, "ahead")
    return got, _testing.ahead_calls() - before


def _close(got, ref, tol=1e-5):
    # within tol of the output's scale (fastrnn's float32 promise is 1e-5)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=0, atol=tol * max(1.0, np.abs(r).max()))


def _flat(result):
    # a model's (output, h_n) or (output, (h_n, c_n)) as a list of arrays
    out, states = result
    return [out] + (list(states) if isinstance(states, tuple) else [states])


def _same(got, ref):
    for g, r in zip(got, ref):
        assert np.array_equal(g, r, equal_nan=True), np.nanmax(np.abs(g - r))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("L", [8, 9, 11, 13, 37])
@pytest.mark.parametrize("I, H", [(1, 8), (16, 24), (40, 64), (100, 100), (128, 128),
                                  (3, 200)])
@pytest.mark.parametrize("D", [1, 2])
def test_ahead_gives_the_bits_of_the_projection_before_the_steps(kind, L, I, H, D):
    args = gated_call(kind, np.float32, L=L, N=1, I=I, H=H, D=D, seed=L + I + H + D)
    got, ran = _run_ahead(kind, args)
    assert ran == D
    _same(got, run_gated(kind, args, "packed"))
    _close(got, run_gated(kind, args, "blas"))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("I, H", [(129, 64), (256, 32)])
def test_ahead_with_more_features_than_hidden_units(kind, I, H):
    # "packed" projects these on OpenBLAS: the same values up to summation order
    args = gated_call(kind, np.float32, L=10, N=1, I=I, H=H, seed=I + H)
    got, ran = _run_ahead(kind, args)
    assert ran == 1
    _close(got, run_gated(kind, args, "packed"))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_ahead_nan_inf_as_before(kind, bad):
    args = gated_call(kind, np.float32, L=12, N=1, I=16, H=32, seed=7)
    args["x"][5, 3] = bad
    got, ran = _run_ahead(kind, args)
    assert ran == 1
    _same(got, run_gated(kind, args, "packed"))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("case", ["lens", "short", "two rows", "f64", "not lbr", "proj",
                                  "too many features", "too many units"])
def test_ahead_only_where_it_applies(kind, case):
    kw = dict(L=12, N=1, I=16, H=32)
    dtype = np.float32
    if case == "lens":
        kw["lens"] = [12]
    elif case == "short":
        kw["L"] = 7
    elif case == "two rows":
        kw["N"] = 2
    elif case == "f64":
        dtype = np.float64
    elif case == "not lbr":
        if kind == "lstm":
            pytest.skip("GRU only")
        kw["lbr"] = False
    elif case == "proj":
        if kind == "gru":
            pytest.skip("LSTM only")
        kw["proj"] = 8
    elif case == "too many features":
        kw["I"] = 257
    else:
        kw["H"] = 257
    args = gated_call(kind, dtype, **kw)
    got, ran = _run_ahead(kind, args)
    assert ran == 0
    _close(got, run_gated(kind, args, "blas"), 1e-5 if dtype == np.float32 else 1e-10)


# Where each path measured the projection inside the steps faster than before
# them (tools/perf_notes.md): (input features from, to, steps from); None: never.
AUTO_RULES = {"avx512": (32, 256, 8), "avx2": (96, 128, 256)}


def test_each_path_has_its_measured_rule():
    assert _kernels.one_row_rules()[1] == AUTO_RULES.get(_kernels.isa())


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("I, H, L", [(16, 64, 300), (32, 64, 20), (64, 256, 100),
                                     (96, 96, 300), (128, 128, 1000), (128, 128, 100),
                                     (160, 128, 300), (256, 200, 300), (128, 257, 300)])
def test_auto_takes_ahead_where_the_path_measured_it(kind, I, H, L):
    rule = AUTO_RULES.get(_kernels.isa())
    runs = rule is not None and rule[0] <= I <= rule[1] and L >= rule[2] and H <= 256
    m = (fastrnn.LSTM if kind == "lstm" else fastrnn.GRU)(I, H)
    x = np.random.default_rng(0).standard_normal((L, 1, I)).astype(np.float32)
    before = _testing.ahead_calls()
    m(x)
    assert (_testing.ahead_calls() - before == 1) == runs


@pytest.mark.parametrize("kind, H", [("lstm", 128), ("gru", 160)])  # (steps large enough to split)
def test_ahead_gives_the_bits_of_a_split_call(kind, H, split_unpaused):
    # one thread with the projection inside the steps; two with the hidden units split
    args = gated_call(kind, np.float32, L=37, N=1, I=128, H=H, seed=11)
    got, ran = _run_ahead(kind, args)
    assert ran == 1
    fastrnn.set_num_threads(2)
    before = _testing.split_calls()
    split = run_gated(kind, args, "packed")
    assert _testing.split_calls() - before == 1
    _same(got, split)



@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("I", [128, 200])
def test_auto_gives_one_threads_bits_on_two(kind, I, split_unpaused):
    # "auto" projects on the packed kernel where it may project inside the steps (past
    # min(P, 128) features too): one thread and a split call on two give the same bits
    m = (fastrnn.LSTM if kind == "lstm" else fastrnn.GRU)(I, 160)
    x = np.random.default_rng(5).standard_normal((300, 1, I)).astype(np.float32)
    rule = AUTO_RULES.get(_kernels.isa())
    before = _testing.ahead_calls()
    one = m(x)
    assert (_testing.ahead_calls() - before == 1) == (rule is not None and rule[0] <= I <= rule[1])
    fastrnn.set_num_threads(2)
    splits = m._kernel_layers[0].threads_for(300, 1) == 2
    assert splits == (_kernels.isa() != "sse2")  # (the split runs on the packed kernel)
    before = _testing.split_calls()
    two = m(x)
    assert _testing.split_calls() - before == int(splits)
    _same(_flat(one), _flat(two))

def test_ahead_in_both_directions_at_once():
    # a bidirectional layer's directions on two threads, each projecting inside its steps
    args = gated_call("lstm", np.float32, L=100, N=1, I=128, H=128, D=2, seed=12)
    one, ran = _run_ahead("lstm", args)
    assert ran == 2
    fastrnn.set_num_threads(2)
    two, ran = _run_ahead("lstm", args)
    assert ran == 2
    _same(two, one)


def test_python_threads_on_one_layer_with_ahead():
    # several Python threads running one Layer on the plan at once: the serial results
    import threading
    args = gated_call("gru", np.float32, L=40, N=1, I=64, H=96, seed=13)
    layer = _kernels.Layer("gru", args["w_ih"], args["w_hh"], args["b_ih"], args["b_hh"],
                           reverse=args["reverse"], act=args["act"], alpha=args["alpha"],
                           beta=args["beta"], clip=args["clip"], option=True, recurrent="ahead")
    xs = [np.random.default_rng(s).standard_normal(args["x"].shape).astype(np.float32)
          for s in range(6)]

    def run(x):
        out, hn = np.empty_like(args["out"]), np.empty_like(args["hn"])
        layer.run(x, out, None, None, hn, None, None, 40, False)
        return out, hn

    serial = [run(x) for x in xs]
    got = [None] * len(xs)
    before = _testing.ahead_calls()

    def worker(i):
        for _ in range(20):
            got[i] = run(xs[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _testing.ahead_calls() - before == 20 * len(xs)
    for g, s in zip(got, serial):
        _same(g, s)
