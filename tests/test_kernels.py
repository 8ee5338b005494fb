"""The kernels' one entry, fastrnn._kernels.Layer (through kernel_calls): inconsistent
weights and calls refused with clear errors instead of reading out of bounds, every path
against numpy and against each other."""

import numpy as np
import pytest

from fastrnn import _testing

import kernel_calls
from kernel_calls import gated_call, run_gated

F = np.float32


def layer_args(L=3, N=2, I=4, H=5, D=1, **overrides):
    """rnn_layer's arguments in order: a consistent call, with `overrides` replacing some."""
    defaults = dict(
        x=lambda: np.zeros((L * N, I), F), out=lambda: np.zeros((L * N, D * H), F),
        w_ih=lambda: np.zeros((D, H, I), F), w_hh=lambda: np.zeros((D, H, H), F),
        b_ih=lambda: None, b_hh=lambda: None, h0=lambda: None,
        hn=lambda: np.zeros((D, N, H), F), lens=lambda: None, L=lambda: L,
        batch_major=lambda: False, reverse=lambda: np.zeros(D, np.int32),
        act=lambda: np.ones(D, np.int32), alpha=lambda: np.zeros(D), beta=lambda: np.zeros(D),
        clip=lambda: np.inf)
    return [overrides[k] if k in overrides else make() for k, make in defaults.items()]


def test_consistent_call_runs():
    args = layer_args(b_ih=np.ones((1, 5), F), b_hh=np.ones((1, 5), F))
    kernel_calls.rnn_layer(*args)
    assert np.allclose(args[1], np.tanh(2.0))


@pytest.mark.parametrize("overrides, message", [
    (dict(x=np.zeros((5, 4), F)), "x must have shape"),
    (dict(out=np.zeros((6, 4), F)), "out must have shape"),
    (dict(w_hh=np.zeros((1, 5, 4), F)), "w_hh must have shape"),
    (dict(hn=np.zeros((1, 2, 4), F)), "hn must have shape"),
    (dict(b_ih=np.zeros((1, 5), F)), "give both biases or neither"),
    (dict(b_ih=np.zeros((1, 4), F), b_hh=np.zeros((1, 4), F)), "b_ih must have shape"),
    (dict(h0=np.zeros((1, 2, 4), F)), "h0 must have shape"),
    (dict(act=np.array([11], np.int32)), "unknown activation code"),
    (dict(reverse=np.zeros(0, np.int32)), r"reverse must have shape \(1,\)"),
    (dict(lens=np.array([1, 4], np.int32)), r"seq_lens\[1\] = 4 is outside 0..3"),
    (dict(lens=np.array([1], np.int32)), r"seq_lens must have shape \(2,\)"),
    (dict(L=0, x=np.zeros((0, 4), F), out=np.zeros((0, 5), F)), "must be positive"),
])
def test_inconsistent_calls_raise(overrides, message):
    with pytest.raises(ValueError, match=message):
        kernel_calls.rnn_layer(*layer_args(**overrides))


@pytest.mark.parametrize("batch_major", [False, True])
def test_sizes_that_would_wrap_around_are_refused(batch_major):
    # L * N = 2**64 wraps to 0 in 64-bit arithmetic: zero-row x and out would
    # have matched, and the time loop would have written past out.
    args = layer_args(L=2**62, x=np.zeros((0, 4), F), out=np.zeros((0, 5), F),
                      hn=np.zeros((1, 4, 5), F), batch_major=batch_major)
    with pytest.raises(ValueError, match="32-bit"):
        kernel_calls.rnn_layer(*args)


def test_mixed_dtypes_are_refused():
    args = layer_args()
    args[1] = args[1].astype(np.float64)
    with pytest.raises((TypeError, ValueError)):
        kernel_calls.rnn_layer(*args)


def run_layer(recurrent, L, N, I, H, D, batch_major, bias, h0, lens, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((L * N, I)).astype(F)
    w_ih = (rng.standard_normal((D, H, I)) / np.sqrt(I)).astype(F)
    w_hh = (rng.standard_normal((D, H, H)) / np.sqrt(H)).astype(F)
    b = [rng.standard_normal((D, H)).astype(F) for _ in range(2)] if bias else [None, None]
    h = rng.standard_normal((D, N, H)).astype(F) if h0 else None
    seq = rng.integers(0, L + 1, N).astype(np.int32) if lens else None
    out, hn = np.empty((L * N, D * H), F), np.empty((D, N, H), F)
    kernel_calls.rnn_layer(x, out, w_ih, w_hh, b[0], b[1], h, hn, seq, L, batch_major,
                       np.array([0, 1][:D], np.int32), np.ones(D, np.int32),
                       np.zeros(D), np.zeros(D), np.inf, recurrent=recurrent)
    return out, hn


# H on both sides of the 16- and 32-wide panel edges, N on both sides of the
# 4-row blocks, both layouts, lengths, h0, two directions.
PATH_CASES = [
    (7, N, 5, H, D, bm, bias, h0, lens)
    for N, H, D, bm, bias, h0, lens in [
        (1, 1, 1, False, True, False, False), (2, 15, 2, True, True, True, False),
        (3, 16, 1, False, False, True, True), (4, 17, 2, False, True, False, True),
        (5, 31, 1, True, True, True, True), (6, 32, 2, False, False, False, False),
        (7, 33, 1, True, True, False, False), (8, 47, 2, True, True, True, True),
        (9, 63, 1, False, True, True, False), (4, 64, 2, True, False, True, True),
        (1, 65, 1, False, True, True, True), (13, 100, 2, False, True, True, False),
    ]
]


@pytest.mark.parametrize("case", PATH_CASES, ids=lambda c: "L{}-N{}-I{}-H{}-D{}-bm{}-b{}-h{}-len{}".format(*c))
def test_packed_step_agrees_with_blas(case):
    out_blas, hn_blas = run_layer("blas", *case)
    out_packed, hn_packed = run_layer("packed", *case)
    scale = max(1.0, np.abs(out_blas).max())
    assert np.abs(out_packed - out_blas).max() <= 1e-5 * scale
    assert np.abs(hn_packed - hn_blas).max() <= 1e-5 * scale
    assert not np.array_equal(out_packed, np.zeros_like(out_packed))


def test_auto_follows_each_paths_rule(amx_off, each_isa, each_blas_rule):
    # "auto" takes the packed kernel from 8 rows (L*N) on every path but
    # x86-64's baseline (SSE2), which keeps OpenBLAS; shorter calls take it
    # too where OpenBLAS packs at every call (each_blas_rule): from one step
    # of two rows, and from two steps of one row up to 64 hidden units
    packed = each_isa != "sse2"
    repacks = packed and each_blas_rule
    assert _testing.use_packed_step(100, 16, 256) == packed      # N >= 2
    assert _testing.use_packed_step(100, 64, 1024) == packed
    assert _testing.use_packed_step(100, 1, 1024) == packed      # one row too, whatever H
    assert _testing.use_packed_step(8, 1, 1024) == packed
    assert _testing.use_packed_step(3, 2, 256) == repacks        # short: by the BLAS core
    assert _testing.use_packed_step(1, 2, 1024) == repacks
    assert _testing.use_packed_step(7, 1, 64) == repacks
    assert _testing.use_packed_step(2, 1, 32) == repacks
    assert not _testing.use_packed_step(7, 1, 65)
    assert not _testing.use_packed_step(1, 1, 32)                # sgemv's
    assert not _testing.use_packed_step(1, 1, 256)
    case = (30, 16, 5, 40, 1, False, True, True, False)
    assert np.array_equal(run_layer("auto", *case)[0],
                          run_layer("packed" if packed else "blas", *case)[0])
    for kind in ("lstm", "gru"):
        args = gated_call(kind, np.float32, L=9, N=3, I=4, H=20, seed=5)
        for auto, other in zip(run_gated(kind, args, "auto"),
                               run_gated(kind, args, "packed" if packed else "blas")):
            assert np.array_equal(auto, other)


@pytest.mark.parametrize("L, N, H", [(1, 3, 40), (3, 2, 100), (2, 1, 64), (1, 1, 64),
                                     (4, 1, 100)])
def test_short_calls_take_the_kernel_the_blas_core_calls_for(amx_off, each_isa, each_blas_rule,
                                                              L, N, H):
    # a short call runs where use_packed_step says (the packed kernel's
    # count), with that path's bits
    packed = _testing.use_packed_step(L, N, H)
    assert packed == (each_isa != "sse2" and each_blas_rule and (N >= 2 or L >= 2 and H <= 64))
    case = (L, N, 24, H, 1, False, True, True, False)
    before = _testing.packed_steps()
    auto = run_layer("auto", *case)[0]
    assert _testing.packed_steps() - before == packed
    assert np.array_equal(auto, run_layer("packed" if packed else "blas", *case)[0])
    for kind in ("lstm", "gru"):
        args = gated_call(kind, np.float32, L=L, N=N, I=24, H=H, seed=3)
        before = _testing.packed_steps()
        auto = run_gated(kind, args, "auto")
        assert _testing.packed_steps() - before == packed
        for got, want in zip(auto, run_gated(kind, args, "packed" if packed else "blas")):
            assert np.array_equal(got, want)


@pytest.mark.parametrize("case", PATH_CASES, ids=lambda c: "L{}-N{}-I{}-H{}-D{}-bm{}-b{}-h{}-len{}".format(*c))
def test_products_on_the_weights_as_they_are_agree_with_blas(case, each_isa):
    # recurrent="dot": every product on w as it is (dot_step), nothing packed
    D = case[4]
    before = _testing.dot_calls()
    out_dot, hn_dot = run_layer("dot", *case)
    assert _testing.dot_calls() - before == D
    out_blas, hn_blas = run_layer("blas", *case)
    scale = max(1.0, np.abs(out_blas).max())
    assert np.abs(out_dot - out_blas).max() <= 1e-5 * scale
    assert np.abs(hn_dot - hn_blas).max() <= 1e-5 * scale


@pytest.mark.parametrize("kind, options", [
    ("lstm", {}), ("lstm", dict(proj=7)), ("lstm", dict(peep=True, D=2)),
    ("lstm", dict(lens=[1, 3, 0, 2], batch_major=True)), ("gru", {}), ("gru", dict(lbr=False)),
    ("gru", dict(D=2, lens=[3, 3, 1, 2]))])
def test_gated_products_on_the_weights_as_they_are_agree_with_blas(kind, options, each_isa):
    args = gated_call(kind, np.float32, L=3, N=4, I=21, H=37, seed=11, **options)
    before = _testing.dot_calls()
    got = run_gated(kind, args, "dot")
    assert _testing.dot_calls() - before == options.get("D", 1)
    for a, b in zip(got, run_gated(kind, args, "blas")):
        scale = max(1.0, np.nanmax(np.abs(b)))
        assert np.nanmax(np.abs(a - b)) <= 1e-5 * scale


# Multiply-adds of w_hh per step up to which "auto" runs a call of one step on
# the weights as they are, as each path measured it (0: never; SSE2's "auto"
# keeps OpenBLAS, NEON's is not measured).
DOT_MAX_MACS = {"avx512": 4200000, "avx2": 3200000, "sse2": 0, "neon": 0}


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_auto_runs_one_step_of_a_few_rows_on_the_weights_as_they_are(amx_off, each_isa, kind):
    # LSTM and GRU calls of one step, 2..4 rows, w_hh of at least 3 * 256 * 256
    # weights, and up to the path's measured multiply-adds per step
    # (tools/perf_notes.md, "Calls of one step")
    G = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    for L, N, H in [(1, 2, 256), (1, 4, 300), (1, 1, 256), (1, 5, 256), (1, 3, 255),
                    (1, 3, 221), (1, 3, 222), (2, 3, 256), (1, 4, 512), (1, 2, 512)]:
        macs = N * G * H * H
        want = (kind != "rnn" and L == 1 and 2 <= N <= 4 and G * H * H >= 3 * 256 * 256
                and macs <= DOT_MAX_MACS[each_isa])
        if kind == "rnn":
            case = (L, N, 16, H, 1, False, True, True, False)
            before = _testing.dot_calls()
            auto = run_layer("auto", *case)[0]
            assert _testing.dot_calls() - before == want
            continue
        args = gated_call(kind, np.float32, L=L, N=N, I=16, H=H, seed=N)
        before = _testing.dot_calls()
        auto = run_gated(kind, args, "auto")
        assert _testing.dot_calls() - before == want, (L, N, H)
        if want:
            for a, b in zip(auto, run_gated(kind, args, "dot")):
                assert np.array_equal(a, b)


def test_the_blas_rule_follows_openblas_core():
    # OpenBLAS's x86-64 cores other than SkylakeX and its successors have no
    # small-matrix kernels: they pack at every sgemm (tools/perf_notes.md)
    import platform
    core = _testing.blas_core()
    small = core.lower() in ("skylakex", "cooperlake", "sapphirerapids")
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    assert _testing.blas_repacks() == (x86 and not small)


# Input features up to which LSTM and GRU layers project on the packed kernel
# (beside I <= min(P, 128)), as each path measured it (tools/perf_notes.md).
PACKED_INPUT_MAX = {"avx512": 1024, "avx2": 512, "neon": 128}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("I", [64, 200, 512, 513, 1024, 1025])
def test_gated_projection_on_the_packed_kernel_by_each_paths_rule(amx_off, each_isa, kind, I):
    # a bidirectional layer (never split): its two projections on the packed kernel
    # up to the path's measured size, on OpenBLAS beyond; the same values either way
    args = gated_call(kind, np.float32, L=12, N=4, I=I, H=40, D=2, seed=I)
    before = _testing.packed_projections()
    got = run_gated(kind, args, "auto")
    packed = each_isa != "sse2" and I <= PACKED_INPUT_MAX[each_isa]
    assert _testing.packed_projections() - before == (2 if packed else 0)
    for a, b in zip(got, run_gated(kind, args, "blas")):
        assert np.abs(a - b).max() <= 1e-5 * max(1.0, np.abs(b).max())
        assert np.abs(b).max() > 0.1

def test_unknown_recurrent_path_is_refused():
    with pytest.raises(ValueError, match="recurrent must be"):
        kernel_calls.rnn_layer(*layer_args(), recurrent="fast")


# ---------------------------------------------------------------- LSTM and GRU
# lstm_layer and gru_layer against the numpy ONNX operators of
# tests/onnx_reference.py (in float64), and LSTM projections against the numpy
# torch LSTM of tests/reference.py. The kernels take torch's gate order; the
# ONNX operators want theirs.
import onnx_reference  # noqa: E402
import reference  # noqa: E402

LSTM_ONNX_ORDER = [0, 3, 1, 2]  # ONNX (i, o, f, c) as blocks of torch's (i, f, g, o)
GRU_ONNX_ORDER = [1, 0, 2]      # ONNX (z, r, h) as blocks of torch's (r, z, n)
PEEP_ONNX_ORDER = [0, 2, 1]     # ONNX P (i, o, f) as blocks of the kernel's (i, f, o)

def onnx_order(w, order):
    """Gate blocks of w (D, G*H, ...) reordered."""
    D, G = w.shape[0], len(order)
    return w.reshape(D, G, w.shape[1] // G, *w.shape[2:])[:, order].reshape(w.shape)


def onnx_expected(kind, args):
    """(out, hn[, cn]) from tests/onnx_reference in float64, in the kernel's shapes."""
    D, N = args["hn"].shape[:2]
    L = args["L"]
    G = 4 if kind == "lstm" else 3
    order = LSTM_ONNX_ORDER if kind == "lstm" else GRU_ONNX_ORDER
    f64 = {k: (np.asarray(v, np.float64) if isinstance(v, np.ndarray) and v.dtype.kind == "f"
               else v) for k, v in args.items()}
    layout = 1 if args["batch_major"] else 0
    X = f64["x"].reshape((N, L, -1) if layout else (L, N, -1))
    W, R = onnx_order(f64["w_ih"], order), onnx_order(f64["w_hh"], order)
    B = None
    if args["b_ih"] is not None:
        B = np.concatenate([onnx_order(f64["b_ih"], order), onnx_order(f64["b_hh"], order)], 1)

    def state(s):
        return None if s is None else (s.transpose(1, 0, 2) if layout else s)

    names = [onnx_reference.ACTIVATIONS[c] for c in args["act"][0]]
    takes = [(n in onnx_reference.TAKES_ALPHA, n in onnx_reference.TAKES_BETA) for n in names]
    common = dict(
        direction="bidirectional" if D == 2 else ("reverse" if args["reverse"][0] else "forward"),
        activations=[names] * D,
        alphas=[[a if t[0] else None for a, t in zip(args["alpha"][d], takes)] for d in range(D)],
        betas=[[b if t[1] else None for b, t in zip(args["beta"][d], takes)] for d in range(D)],
        clip=None if np.isinf(args["clip"]) else args["clip"], layout=layout)
    if kind == "lstm":
        P = None
        if args["peep"] is not None:
            P = f64["peep"][:, PEEP_ONNX_ORDER].reshape(D, 3 * G // 4 * f64["peep"].shape[2])
        Y, *finals = onnx_reference.lstm(X, W, R, B, args["lens"], state(f64["h0"]),
                                         state(f64["c0"]), P, input_forget=args["option"],
                                         **common)
        initial = [f64["h0"], f64["c0"]]
    else:
        Y, *finals = onnx_reference.gru(X, W, R, B, args["lens"], state(f64["h0"]),
                                        linear_before_reset=args["option"], **common)
        initial = [f64["h0"]]
    if layout:
        out = Y.reshape(N * L, -1)
        finals = [s.transpose(1, 0, 2) for s in finals]
    else:
        out = Y.transpose(0, 2, 1, 3).reshape(L * N, -1)
    if args["lens"] is not None:
        # The kernels keep the initial state of a sequence without steps,
        # where ONNX (onnxruntime) reports zero.
        empty = args["lens"] == 0
        for final, init in zip(finals, initial):
            final[:, empty] = 0 if init is None else init[:, empty]
    return (out, *finals)


def torch_lstm_expected(args):
    """(out, hn, cn) of a default-activation LSTM (with projection) from the numpy
    torch LSTM of tests/reference.py, one sequence at a time for the lengths."""
    D, N, P = args["hn"].shape
    H, L = args["cn"].shape[2], args["L"]
    x = args["x"].astype(np.float64)
    x = x.reshape(N, L, -1).transpose(1, 0, 2) if args["batch_major"] else x.reshape(L, N, -1)
    state = {}
    for d, suffix in enumerate(["_l0", "_l0_reverse"][:D]):
        state["weight_ih" + suffix], state["weight_hh" + suffix] = args["w_ih"][d], args["w_hh"][d]
        state["bias_ih" + suffix] = args["b_ih"][d] if args["b_ih"] is not None else np.zeros(4 * H)
        state["bias_hh" + suffix] = args["b_hh"][d] if args["b_hh"] is not None else np.zeros(4 * H)
        state["weight_hr" + suffix] = args["w_hr"][d]
    config = dict(hidden_size=H, num_layers=1, bias=True, batch_first=False,
                  bidirectional=D == 2, proj_size=P)
    h0 = np.zeros((D, N, P)) if args["h0"] is None else args["h0"].astype(np.float64)
    c0 = np.zeros((D, N, H)) if args["c0"] is None else args["c0"].astype(np.float64)
    out, hn, cn = np.zeros((L, N, D * P)), h0.copy(), c0.copy()
    lens = [L] * N if args["lens"] is None else args["lens"]
    for n in range(N):
        if lens[n] == 0:
            continue
        y, (h, c) = reference.lstm_forward(state, config, x[:lens[n], n:n + 1],
                                           (h0[:, n:n + 1], c0[:, n:n + 1]))
        out[:lens[n], n], hn[:, n], cn[:, n] = y[:, 0], h[:, 0], c[:, 0]
    out = out.transpose(1, 0, 2).reshape(N * L, -1) if args["batch_major"] else out.reshape(L * N, -1)
    return out, hn, cn


def check_gated(kind, args, recurrent):
    dtype = args["x"].dtype
    if kind == "lstm" and args["w_hr"] is not None:
        expected = torch_lstm_expected(args)
    else:
        expected = onnx_expected(kind, args)
    got = run_gated(kind, args, recurrent)
    for what, g, e in zip(["out", "hn", "cn"], got, expected):
        reference.assert_close(g, e, dtype, what=f"{kind} {what}", kind=kind)
    return got


def _gated_cases(kind, count, seed):
    """A seeded sample of the option grid, with every option on and off somewhere."""
    rng = np.random.default_rng(seed)
    names = list(onnx_reference.ACTIVATIONS)
    cases = []
    for k in range(count):
        L, N = int(rng.choice([1, 2, 7])), int(rng.choice([1, 2, 3, 4, 5, 9]))
        H, I = int(rng.choice([1, 3, 16, 33])), int(rng.choice([1, 4, 17]))
        D = int(rng.choice([1, 2]))
        opts = dict(L=L, N=N, I=I, H=H, D=D, reverse=D == 1 and bool(k % 3 == 1),
                    batch_major=bool(k % 2), bias=bool(k % 4 != 3), h0=bool(k % 3 != 2),
                    c0=bool(k % 5 != 4), seed=seed * 1000 + k)
        if k % 3 == 0:
            # non-default activations (see float32_comparable for float32)
            # every name in every position over the cases, half the gates bounded
            m = k // 3
            gate = sorted(BOUNDED_GATES)[m // 2 % 4] if m % 2 == 0 else names[(5 * m + 1) % 11]
            opts["acts"] = [gate, names[m % 11], names[(7 * m + 3) % 11]][:3 if kind == "lstm" else 2]
            if opts["acts"][0] not in BOUNDED_GATES:
                # gates above 1 grow the state geometrically: a few steps only
                opts["L"] = L = min(L, 2)
        if k % 5 == 1:
            opts["clip"] = float(rng.choice([0.3, 1.5]))
        if k % 4 == 2:
            opts["lens"] = [int(v) for v in rng.integers(0, L + 1, N)]
            opts["lens"][0] = L
            opts["lens"][-1] = 0 if N > 1 else L
        if kind == "lstm":
            opts["peep"] = k % 4 == 1
            opts["input_forget"] = k % 6 == 5
        else:
            opts["lbr"] = k % 2 == 0 if k % 4 < 2 else k % 2 == 1
        cases.append(opts)
    return cases


def _case_label(opts):
    skip = {"seed"}
    return "-".join(f"{k}{v}" if not isinstance(v, bool) else (k if v else "")
                    for k, v in opts.items() if k not in skip and v not in (None, False)
                    ).replace(" ", "").replace("'", "")


# Sizes at the edges of the packed kernel's panels (16, 32 columns) and row
# blocks (4 rows), with 1-wide everything.
EDGE_SIZES = [dict(L=1, N=1, I=1, H=1), dict(L=3, N=5, I=3, H=3), dict(L=4, N=4, I=2, H=8),
              dict(L=2, N=3, I=5, H=100), dict(L=5, N=1, I=7, H=33)]


def _all_cases(kind):
    cases = _gated_cases(kind, 36, seed=1 if kind == "lstm" else 2)
    for sizes in EDGE_SIZES:
        cases.append(dict(sizes, D=2, batch_major=True))
        cases.append(dict(sizes, D=1, reverse=True, h0=False, c0=False, bias=False))
    if kind == "lstm":
        # projections (torch: 0 < proj_size < hidden_size), checked against the
        # torch reference (default activations)
        proj_sizes = [dict(L=1, N=1, I=1, H=2)] + EDGE_SIZES[1:]
        for k, sizes in enumerate(proj_sizes):
            cases.append(dict(sizes, D=1 + k % 2, proj=[1, 2, 5, 17, 3][k], batch_major=k > 2,
                              h0=k % 2 == 0, c0=k != 1,
                              lens=None if k % 2 else [sizes["L"]] + [0] * (sizes["N"] - 1)))
    else:
        for sizes in EDGE_SIZES:
            cases.append(dict(sizes, D=2, lbr=False, lens=[sizes["L"]] * sizes["N"]))
    return cases


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_gated_layers_follow_the_references(kind, dtype):
    # One test per kind and dtype loops over its cases so that the file stays
    # fast; a failure names the case.
    for opts in _all_cases(kind):
        if dtype == np.float32 and not float32_comparable(opts.get("acts")):
            continue
        args = gated_call(kind, dtype, **opts)
        paths = ["blas", "packed"] if dtype == np.float32 else ["blas"]
        results = []
        for path in paths:
            try:
                results.append(check_gated(kind, args, path))
            except AssertionError as error:
                raise AssertionError(f"{kind} {_case_label(opts)} {path}: {error}") from None
        if len(results) == 2:
            for a, b in zip(*results):
                assert np.abs(a - b).max() <= 1e-5 * max(1.0, np.abs(a).max())


# Gate activations (ONNX's f) that keep every gate within [-1, 1].
BOUNDED_GATES = {"Sigmoid", "HardSigmoid", "Softsign", "Tanh"}


def float32_comparable(acts):
    """Whether a float32 run can be held to 1e-5 of the exact result.

    An unbounded gate activation (a forget or update gate above 1) lets the
    state grow geometrically and float32 rounding with it, and ThresholdedRelu
    jumps by alpha at its threshold, where a float32 rounding is not an error:
    those cases run in float64 only (same kernels, tolerance 1e-10).
    """
    return acts is None or (acts[0] in BOUNDED_GATES and "ThresholdedRelu" not in acts)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_float32_and_float64_cases_both_cover_activations(kind):
    cases = _all_cases(kind)
    f32 = [o for o in cases if o.get("acts") and float32_comparable(o["acts"])]
    f64 = [o for o in cases if o.get("acts") and not float32_comparable(o["acts"])]
    assert len(f32) >= 3 and len(f64) >= 3
    assert set().union(*(o.get("acts") or [] for o in cases)) == set(onnx_reference.ACTIVATIONS)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gated_grid_covers_every_option(kind):
    cases = _all_cases(kind)

    def some(pred):
        return any(pred(o) for o in cases) and not all(pred(o) for o in cases)

    assert some(lambda o: o["D"] == 2) and some(lambda o: o.get("reverse"))
    assert some(lambda o: o.get("batch_major")) and some(lambda o: o.get("bias", True))
    assert some(lambda o: o.get("h0", True)) and some(lambda o: o.get("clip", np.inf) < np.inf)
    assert some(lambda o: o.get("lens") is not None and 0 in o["lens"])
    assert some(lambda o: o.get("acts") is not None)
    assert {o["H"] for o in cases} >= {1, 3, 33, 100}
    if kind == "lstm":
        assert some(lambda o: o.get("peep")) and some(lambda o: o.get("input_forget"))
        assert some(lambda o: o.get("proj")) and some(lambda o: o.get("c0", True))
    else:
        assert some(lambda o: o.get("lbr", True))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_default_float32_path_matches_torch_defaults_without_bias_clip(kind):
    # The vectorised float32 loops run only for the default activations; the
    # same call with clip = 1e30 (no effect on the values) takes the generic
    # scalar path: both agree with each other and with the reference.
    args = gated_call(kind, np.float32, L=6, N=5, I=4, H=37, D=2, batch_major=True,
                      lens=[6, 0, 3, 6, 1], seed=7)
    fast = check_gated(kind, args, "blas")
    generic = check_gated(kind, dict(args, clip=1e30), "blas")
    for a, b in zip(fast, generic):
        assert np.abs(a - b).max() <= 2e-6 * max(1.0, np.abs(a).max())


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gated_inputs_are_not_modified(kind):
    args = gated_call(kind, np.float32, L=4, N=3, I=5, H=6, D=2, lens=[4, 0, 2],
                      peep=kind == "lstm", proj=3 if kind == "lstm" else 0, seed=3)
    if kind == "lstm":
        args["w_hr"] = None if args["peep"] is None else args["w_hr"]
    before = {k: v.copy() for k, v in args.items() if isinstance(v, np.ndarray)}
    for path in ("blas", "packed"):
        run_gated(kind, args, path)
        for k, v in before.items():
            assert np.array_equal(args[k], v, equal_nan=True), k


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("N", [1, 2, 3, 4, 5, 6, 7, 11])
def test_packed_step_past_one_k_slice(kind, N):
    # H = 260: K beyond one 256-deep slice (sums carried across slices), an
    # odd number of 32-column panels (a last panel alone), every row-block
    # size, and odd and even steps (the kernel takes its column pairs
    # backwards on odd steps): agrees with BLAS.
    args = gated_call(kind, np.float32, L=4, N=N, I=3, H=260, D=2, seed=5 + N)
    packed, blas = run_gated(kind, args, "packed"), run_gated(kind, args, "blas")
    for a, b in zip(packed, blas):
        assert np.abs(a - b).max() <= 1e-5 * max(1.0, np.abs(b).max())
        assert np.abs(b).max() > 0.1


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gated_float64_uses_every_path_name(kind):
    # float64 has no packed kernel: "packed" is accepted and runs BLAS.
    args = gated_call(kind, np.float64, L=3, N=4, I=2, H=5, seed=4)
    a = run_gated(kind, args, "packed")
    b = run_gated(kind, args, "blas")
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


def _gated_args(kind, **overrides):
    args = gated_call(kind, np.float32, L=3, N=2, I=4, H=5, D=1, seed=0)
    args.update(overrides)
    return list(args.values())


F4 = np.float32
LSTM_BAD_CALLS = [
    (dict(x=np.zeros((5, 4), F4)), r"x must have shape \(6, 4\)( \(or 3-D with 6 rows\))?, got \(5, 4\)"),
    (dict(out=np.zeros((6, 4), F4)), r"out must have shape \(6, 5\)( \(or 3-D with 6 rows\))?, got \(6, 4\)"),
    (dict(w_ih=np.zeros((1, 19, 4), F4)), r"w_ih must have 4\*hidden_size rows, got 19"),
    (dict(w_hh=np.zeros((1, 20, 4), F4)), r"w_hh must have shape \(1, 20, 5\)"),
    (dict(b_ih=None), "give both biases or neither"),
    (dict(b_hh=np.zeros((1, 16), F4)), r"b_hh must have shape \(1, 20\), got \(1, 16\)"),
    (dict(w_hr=np.zeros((1, 3, 4), F4)), r"w_hr must have shape \(1, 3, 5\)"),
    (dict(peep=np.zeros((1, 4, 5), F4)), r"peep must have shape \(1, 3, 5\)"),
    (dict(h0=np.zeros((1, 2, 4), F4)), r"h0 must have shape \(1, 2, 5\)"),
    (dict(c0=np.zeros((2, 2, 5), F4)), r"c0 must have shape \(1, 2, 5\)"),
    (dict(hn=np.zeros((1, 2, 4), F4)), r"hn must have shape \(1, 2, 5\)"),
    (dict(cn=np.zeros((1, 3, 5), F4)), r"cn must have shape \(1, 2, 5\)"),
    (dict(lens=np.array([1], np.int32)), r"seq_lens must have shape \(2,\), got \(1,\)"),
    (dict(lens=np.array([1, 4], np.int32)), r"seq_lens\[1\] = 4 is outside 0..3"),
    (dict(lens=np.array([-1, 1], np.int32)), r"seq_lens\[0\] = -1 is outside 0..3"),
    (dict(reverse=np.zeros(2, np.int32)), r"reverse must have shape \(1,\), got \(2,\)"),
    (dict(act=np.ones((1, 2), np.int32)), r"act must have shape \(1, 3\), got \(1, 2\)"),
    (dict(act=np.array([[2, 1, 11]], np.int32)), r"unknown activation code 11 at act\[0, 2\]"),
    (dict(alpha=np.zeros((2, 3))), r"alpha must have shape \(1, 3\), got \(2, 3\)"),
    (dict(beta=np.zeros(3).reshape(3, 1)), r"beta must have shape \(1, 3\), got \(3, 1\)"),
    (dict(L=0, x=np.zeros((0, 4), F4), out=np.zeros((0, 5), F4)), "L=0, N=2 must be positive"),
]
GRU_BAD_CALLS = [
    (dict(x=np.zeros((6, 3), F4)), r"x must have shape \(6, 4\)( \(or 3-D with 6 rows\))?, got \(6, 3\)"),
    (dict(out=np.zeros((7, 5), F4)), r"out must have shape \(6, 5\)( \(or 3-D with 6 rows\))?, got \(7, 5\)"),
    (dict(w_ih=np.zeros((1, 16, 4), F4)), r"w_ih must have 3\*hidden_size rows, got 16"),
    (dict(w_hh=np.zeros((1, 15, 6), F4)), r"w_hh must have shape \(1, 15, 5\)"),
    (dict(b_hh=None), "give both biases or neither"),
    (dict(b_ih=np.zeros((1, 5), F4)), r"b_ih must have shape \(1, 15\), got \(1, 5\)"),
    (dict(h0=np.zeros((1, 1, 5), F4)), r"h0 must have shape \(1, 2, 5\)"),
    (dict(hn=np.zeros((2, 2, 5), F4)), r"hn must have shape \(1, 2, 5\)"),
    (dict(lens=np.array([3, 3, 3], np.int32)), r"seq_lens must have shape \(2,\)"),
    (dict(lens=np.array([0, 9], np.int32)), r"seq_lens\[1\] = 9 is outside 0..3"),
    (dict(reverse=np.zeros(0, np.int32)), r"reverse must have shape \(1,\), got \(0,\)"),
    (dict(act=np.ones((1, 3), np.int32)), r"act must have shape \(1, 2\), got \(1, 3\)"),
    (dict(act=np.array([[-1, 1]], np.int32)), r"unknown activation code -1 at act\[0, 0\]"),
    (dict(alpha=np.zeros((1, 1))), r"alpha must have shape \(1, 2\), got \(1, 1\)"),
    (dict(beta=np.zeros((0, 2))), r"beta must have shape \(1, 2\), got \(0, 2\)"),
    (dict(L=0, x=np.zeros((0, 4), F4), out=np.zeros((0, 5), F4)), "L=0, N=2 must be positive"),
]


@pytest.mark.parametrize("overrides, message", LSTM_BAD_CALLS)
def test_lstm_inconsistent_calls_raise(overrides, message):
    overrides = {"w_hr": None, **overrides}
    if "w_hr" in overrides and overrides["w_hr"] is not None:
        # a projection to 3: everything else sized for it
        overrides.update(out=np.zeros((6, 3), F4), w_hh=np.zeros((1, 20, 3), F4),
                         hn=np.zeros((1, 2, 3), F4))
    out = _gated_args("lstm", **overrides)
    with pytest.raises(ValueError, match=r"Layer(\.run)?: " + message):
        kernel_calls.lstm_layer(*out)


@pytest.mark.parametrize("overrides, message", GRU_BAD_CALLS)
def test_gru_inconsistent_calls_raise(overrides, message):
    with pytest.raises(ValueError, match=r"Layer(\.run)?: " + message):
        kernel_calls.gru_layer(*_gated_args("gru", **overrides))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("batch_major", [False, True])
def test_gated_sizes_that_would_wrap_around_are_refused(kind, batch_major):
    overrides = dict(L=2**62, x=np.zeros((0, 4), F4), out=np.zeros((0, 5), F4),
                     hn=np.zeros((1, 4, 5), F4), h0=None, batch_major=batch_major)
    if kind == "lstm":
        overrides.update(cn=np.zeros((1, 4, 5), F4), c0=None)
    layer = kernel_calls.lstm_layer if kind == "lstm" else kernel_calls.gru_layer
    with pytest.raises(ValueError, match="32-bit"):
        layer(*_gated_args(kind, **overrides))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gated_unknown_recurrent_path_and_mixed_dtypes_are_refused(kind):
    layer = kernel_calls.lstm_layer if kind == "lstm" else kernel_calls.gru_layer
    with pytest.raises(ValueError, match="recurrent must be"):
        layer(*_gated_args(kind), recurrent="fast")
    args = _gated_args(kind)
    args[1] = args[1].astype(np.float64)
    with pytest.raises((TypeError, ValueError)):
        layer(*args)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gated_batch_of_zero_runs(kind):
    args = gated_call(kind, np.float32, L=3, N=0, I=2, H=4, h0=False, c0=False)
    results = run_gated(kind, args, "auto")
    # nothing to compute: every result is empty, with the batch axis of 0
    assert results and all(r.size == 0 for r in results)
    assert results[0].shape[0] == 0 and all(0 in r.shape for r in results)
