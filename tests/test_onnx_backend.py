"""fastrnn.onnx.backend's RNN nodes against onnxruntime, a numpy reference and torch.

- random RNN nodes (float32) against onnxruntime: every direction, layout and
  activation, with clip, sequence_lens, initial_h, absent outputs and the
  tensors as initializers or runtime inputs. onnxruntime refuses layout=1, so
  those nodes are compared with the layout-0 node on transposed data;
- float64 nodes (onnxruntime has no double RNN) against tests/onnx_reference.py,
  which is itself checked against onnxruntime in float32;
- activation parameters and their defaults, sequence length edge cases;
- graphs of shape ops around RNN nodes, each shape op at the opsets where its
  form changes, and graphs torch.onnx.export(dynamo=False) writes for nn.RNN;
- the backend API. Bad models and inputs: test_onnx_backend_errors.py; GRU and
  LSTM nodes: test_onnx_backend_gated.py. Shared helpers: onnx_nodes.py.
"""
import io
import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnx_reference
import reference
from fastrnn.onnx import backend
from fastrnn.onnx._load import InvalidModelError

from onnx_nodes import (ACTIVATIONS, DIRECTIONS, OUTPUT_MODES, SEQ_MODES, check_error, f32,
                        from_layout0, i64, make_model, random_parameters, rnn_arrays,
                        rnn_attributes, rnn_model, run_fastrnn, run_ort, simple_node,
                        to_layout0)


# ------------------------------------------------------------------ random nodes vs onnxruntime
def random_node_cases():
    """directions x layouts x activations (66 cases), the other options spread over them.

    A bidirectional node's reverse direction gets a different activation. Within
    each (direction, layout) group of 11 cases the options cycle with different
    periods so that every value of every option appears in every group
    (test_random_cases_cover_every_option); sizes are drawn from a seeded rng.
    """
    cases = []
    groups = itertools.product(DIRECTIONS, (0, 1))
    for g, (direction, layout) in enumerate(groups):
        for k in range(len(ACTIVATIONS)):
            index = g * len(ACTIVATIONS) + k
            rng = np.random.default_rng(1000 + index)
            acts = [ACTIVATIONS[k]] + ([ACTIVATIONS[(k + 4) % len(ACTIVATIONS)]]
                                       if direction == "bidirectional" else [])
            cases.append(dict(
                id=f"{index}-{direction}-l{layout}-{'-'.join(acts)}",
                seed=index, direction=direction, layout=layout, activations=acts,
                clip=[None, "clip"][(k + g) % 2],
                seq=SEQ_MODES[(k // 2 + g) % 4],
                h0=bool((k // 3 + g) % 2),
                outputs=OUTPUT_MODES[(k + 2 * g) % 3],
                initializers=bool(((k + 1) // 2 + g) % 2),
                bias=(k + g) % 5 != 4,  # mostly with B
                hidden_size_attr=(k + g) % 6 != 5,  # mostly given
                opset=(14, 22)[(k // 4 + g) % 2],
                T=int(rng.integers(1, 7)), N=int(rng.integers(1, 5)),
                I=int(rng.integers(1, 6)), H=int(rng.integers(1, 7)),
            ))
    return cases


RANDOM_CASES = random_node_cases()


def test_random_cases_cover_every_option():
    options = {"clip": [None, "clip"], "seq": SEQ_MODES, "h0": [False, True],
               "outputs": OUTPUT_MODES, "initializers": [False, True], "bias": [False, True],
               "hidden_size_attr": [False, True], "opset": [14, 22]}
    for direction, layout in itertools.product(DIRECTIONS, (0, 1)):
        group = [c for c in RANDOM_CASES if c["direction"] == direction and c["layout"] == layout]
        assert {a for c in group for a in c["activations"]} == set(ACTIVATIONS)
        for key, values in options.items():
            seen = {c[key] for c in group}
            assert seen == set(values), (direction, layout, key, seen)
    assert any(c["N"] == 1 for c in RANDOM_CASES) and any(c["H"] == 1 for c in RANDOM_CASES)
    assert any(c["T"] == 1 for c in RANDOM_CASES) and any(c["I"] == 1 for c in RANDOM_CASES)


def build_random_case(case, dtype=np.float32):
    rng = np.random.default_rng(case["seed"])
    T, N, I, H = case["T"], case["N"], case["I"], case["H"]
    D = 2 if case["direction"] == "bidirectional" else 1
    lengths = {"none": None, "full": [T] * N,
               "short": rng.integers(1, T + 1, N),
               "with_zero": np.r_[0, rng.integers(0, T + 1, N - 1)] if N > 1 else [0]}[case["seq"]]
    arrays = rnn_arrays(rng, T, N, I, H, D, dtype, case["layout"], case["bias"], case["h0"],
                        lengths)
    params = [random_parameters(rng, name) for name in case["activations"]]
    alphas = [p[0] for p in params]
    betas = [p[1] for p in params]
    clip = f32(rng.uniform(0.5, 2.0)) if case["clip"] else None
    return arrays, alphas, betas, clip


@pytest.mark.parametrize("case", RANDOM_CASES, ids=[c["id"] for c in RANDOM_CASES])
def test_random_node_matches_onnxruntime(case):
    arrays, alphas, betas, clip = build_random_case(case)
    layout, outputs = case["layout"], case["outputs"]
    inits = ("W", "R", "B", "sequence_lens", "initial_h") if case["initializers"] else ()
    hidden = case["H"] if case["hidden_size_attr"] else None
    model, feeds = rnn_model(
        arrays, rnn_attributes(case["direction"], hidden, case["activations"], alphas, betas,
                               clip, layout),
        outputs, inits, case["opset"])
    got = run_fastrnn(model, feeds)

    # onnxruntime: layout 0, always with hidden_size (it requires it)
    arrays0 = to_layout0(arrays) if layout else arrays
    model0, feeds0 = rnn_model(
        arrays0, rnn_attributes(case["direction"], case["H"], case["activations"], alphas,
                                betas, clip), ("Y", "Y_h"), inits, case["opset"])
    expected = run_ort(model0, feeds0)
    if layout:
        expected = from_layout0(expected)

    ref_Y, ref_Y_h = onnx_reference.rnn(
        arrays["X"], arrays["W"], arrays["R"], arrays["B"], arrays["sequence_lens"],
        arrays["initial_h"], direction=case["direction"], activations=case["activations"],
        alphas=alphas, betas=betas, clip=clip, layout=layout)

    assert set(got) == {o for o in outputs if o}
    for name, ref in (("Y", ref_Y), ("Y_h", ref_Y_h)):
        ort_value = expected[name]
        # the reference agrees with onnxruntime (not recorded: not fastrnn's error)
        assert reference.normalized_error(ref, ort_value) <= 1e-5, name
        if name in got:
            assert got[name].dtype == np.float32
            check_error(got[name], ort_value, np.float32, f"{name} vs onnxruntime")
            check_error(got[name], ref, np.float32, f"{name} vs reference")


# ------------------------------------------------------------------ float64 vs reference
FLOAT64_CASES = [
    dict(direction=direction, layout=layout, activations=acts, seq=seq, h0=h0, clip=clip)
    for (direction, layout), (acts, seq, h0, clip) in zip(
        itertools.product(DIRECTIONS, (0, 1)) ,
        [(["Tanh"], "short", True, None), (["Relu"], "with_zero", False, 1.5),
         (["Softplus"], "none", True, 0.7), (["HardSigmoid"], "with_zero", True, None),
         (["Elu", "ScaledTanh"], "short", True, 1.2),
         (["Affine", "LeakyRelu"], "with_zero", True, None)])
] + [
    dict(direction=("reverse", "bidirectional", "forward")[i % 3], layout=i % 2,
         activations=[name] * (2 if i % 3 == 1 else 1), seq=SEQ_MODES[i % 4], h0=bool(i % 2 == 0),
         clip=None if i % 3 else 0.9)
    for i, name in enumerate(ACTIVATIONS)
]


@pytest.mark.parametrize("case", FLOAT64_CASES,
                         ids=[f"{i}-{c['direction']}-l{c['layout']}-{'-'.join(c['activations'])}"
                              for i, c in enumerate(FLOAT64_CASES)])
def test_float64_node_matches_reference(case):
    index = FLOAT64_CASES.index(case)
    rng = np.random.default_rng(500 + index)
    T, N, I, H = 5, 3, 4, 5
    D = 2 if case["direction"] == "bidirectional" else 1
    lengths = {"none": None, "full": [T] * N, "short": [T, 2, 1],
               "with_zero": [0, T, 3]}[case["seq"]]
    arrays = rnn_arrays(rng, T, N, I, H, D, np.float64, case["layout"], True, case["h0"], lengths)
    params = [random_parameters(rng, name) for name in case["activations"]]
    alphas, betas = [p[0] for p in params], [p[1] for p in params]
    clip = None if case["clip"] is None else f32(case["clip"])
    model, feeds = rnn_model(arrays, rnn_attributes(case["direction"], H, case["activations"],
                                                    alphas, betas, clip, case["layout"]),
                             initializers=("W", "R") if index % 2 else ())
    got = run_fastrnn(model, feeds)
    ref_Y, ref_Y_h = onnx_reference.rnn(
        arrays["X"], arrays["W"], arrays["R"], arrays["B"], arrays["sequence_lens"],
        arrays["initial_h"], direction=case["direction"], activations=case["activations"],
        alphas=alphas, betas=betas, clip=clip, layout=case["layout"])
    assert got["Y"].dtype == got["Y_h"].dtype == np.float64
    check_error(got["Y"], ref_Y, np.float64, "Y")
    check_error(got["Y_h"], ref_Y_h, np.float64, "Y_h")


# ------------------------------------------------------------------ activation parameters
def _single_node(rng, direction, attributes, T=4, N=3, I=3, H=4, dtype=np.float32, h0=True):
    D = 2 if direction == "bidirectional" else 1
    arrays = rnn_arrays(rng, T, N, I, H, D, dtype, h0=h0)
    attributes = dict(attributes, direction=direction, hidden_size=H)
    return arrays, rnn_model(arrays, attributes, opset=14)


@pytest.mark.parametrize("name, alpha, beta", [
    ("LeakyRelu", 0.01, None), ("HardSigmoid", 0.2, 0.5), ("Elu", 1.0, None)])
def test_defaults_shared_with_onnxruntime(name, alpha, beta):
    arrays, (model, feeds) = _single_node(np.random.default_rng(1), "bidirectional",
                                          dict(activations=[name, name]))
    got = run_fastrnn(model, feeds)
    expected = run_ort(model, feeds)
    ref_Y, _ = onnx_reference.rnn(arrays["X"], arrays["W"], arrays["R"], arrays["B"],
                                  initial_h=arrays["initial_h"], direction="bidirectional",
                                  activations=[name, name], alphas=[f32(alpha)] * 2,
                                  betas=[None if beta is None else f32(beta)] * 2)
    check_error(got["Y"], expected["Y"], np.float32, "Y vs onnxruntime")
    check_error(got["Y"], ref_Y, np.float32, "Y vs reference with the defaults")


def test_softplus_is_right_for_large_pre_activations():
    """log(1 + e^v) is v for large v; float32 exp overflows above ~88.7, and onnxruntime
    returns inf (then NaN) there. fastrnn agrees with the float64 reference."""
    rng = np.random.default_rng(4)
    T, N, I, H = 3, 4, 2, 3
    arrays = dict(X=rng.uniform(90, 500, (T, N, I)).astype(np.float32),
                  W=rng.uniform(0.5, 1, (1, H, I)).astype(np.float32),
                  R=(rng.uniform(-1, 1, (1, H, H)) / H).astype(np.float32),
                  B=None, sequence_lens=None, initial_h=None)
    arrays["X"][:, 0] = rng.uniform(-3, 3, (T, I))  # batch item 0 stays small
    model, feeds = rnn_model(arrays, dict(hidden_size=H, activations=["Softplus"]))
    ref_Y, ref_Y_h = onnx_reference.rnn(arrays["X"], arrays["W"], arrays["R"],
                                        activations=["Softplus"])
    assert ref_Y[:, :, 1:].min() > 88.8  # the overflowing range is reached
    got = run_fastrnn(model, feeds)
    assert np.isfinite(got["Y"]).all()
    check_error(got["Y"], ref_Y, np.float32, "Softplus Y vs float64 reference")
    check_error(got["Y_h"], ref_Y_h, np.float32, "Softplus Y_h vs float64 reference")
    # The difference the backend's docstring states: onnxruntime overflows on items
    # 1.., and still agrees on the small item 0.
    expected = run_ort(model, feeds)
    assert not np.isfinite(expected["Y"][:, :, 1:]).any()
    check_error(got["Y"][:, :, :1], expected["Y"][:, :, :1], np.float32, "small Softplus")


def test_relu_keeps_nan_as_torch_does():
    """The other stated difference: onnxruntime's Relu turns NaN into 0."""
    rng = np.random.default_rng(5)
    arrays = rnn_arrays(rng, 2, 2, 3, 4, 1, np.float32)
    arrays["X"][0, 0, 0] = np.nan
    model, feeds = rnn_model(arrays, dict(hidden_size=4, activations=["Relu"]))
    got = run_fastrnn(model, feeds)
    assert np.isnan(got["Y"][:, 0, 0]).all() and np.isfinite(got["Y"][:, 0, 1]).all()
    expected = run_ort(model, feeds)
    assert not np.isnan(expected["Y"]).any()
    check_error(got["Y"][:, :, 1], expected["Y"][:, :, 1], np.float32, "Relu Y, item 1")


@pytest.mark.parametrize("name, alpha, beta",
                         [("ThresholdedRelu", 1.0, None), ("Affine", 1.0, 0.0)])
def test_defaults_of_the_onnx_operators(name, alpha, beta):
    """ONNX: 'default values are the same as of corresponding ONNX operators'."""
    arrays, (model, feeds) = _single_node(np.random.default_rng(2), "forward",
                                          dict(activations=[name]), dtype=np.float64)
    got = run_fastrnn(model, feeds)
    ref_Y, ref_Y_h = onnx_reference.rnn(arrays["X"], arrays["W"], arrays["R"], arrays["B"],
                                        initial_h=arrays["initial_h"], activations=[name],
                                        alphas=[alpha], betas=[beta])
    check_error(got["Y"], ref_Y, np.float64, "Y")
    # onnxruntime uses 0 instead (a zero Affine, a ThresholdedRelu at 0): documented difference
    model32, feeds32 = rnn_model({k: None if v is None else v.astype(np.float32)
                                  for k, v in arrays.items()},
                                 dict(direction="forward", hidden_size=4, activations=[name]))
    ort_Y = run_ort(model32, feeds32)["Y"]
    zero_Y, _ = onnx_reference.rnn(arrays["X"], arrays["W"], arrays["R"], arrays["B"],
                                   initial_h=arrays["initial_h"], activations=[name],
                                   alphas=[0.0], betas=[0.0])
    assert reference.normalized_error(ort_Y, zero_Y) <= 1e-5
    assert reference.normalized_error(ort_Y, ref_Y) > 1e-3


def test_parameters_are_consumed_by_the_activations_that_take_them():
    """[Tanh, LeakyRelu] with alpha [0.2]: LeakyRelu takes 0.2 (onnxruntime agrees)."""
    rng = np.random.default_rng(3)
    cases = [
        (["Tanh", "LeakyRelu"], dict(activation_alpha=[0.2]), [None, 0.2], [None, None]),
        (["LeakyRelu", "HardSigmoid"], dict(activation_alpha=[0.3], activation_beta=[0.6]),
         [0.3, 0.2], [None, 0.6]),
        (["Affine", "Elu"], dict(activation_alpha=[0.7, 0.4], activation_beta=[0.1]),
         [0.7, 0.4], [0.1, None]),
        (["Softsign", "ScaledTanh"], dict(activation_alpha=[1.3], activation_beta=[0.8]),
         [None, 1.3], [None, 0.8]),
    ]
    for activations, lists, alphas, betas in cases:
        arrays, (model, feeds) = _single_node(rng, "bidirectional",
                                              dict(activations=activations, **lists))
        got = run_fastrnn(model, feeds)
        expected = run_ort(model, feeds)
        ref_Y, ref_Y_h = onnx_reference.rnn(
            arrays["X"], arrays["W"], arrays["R"], arrays["B"], initial_h=arrays["initial_h"],
            direction="bidirectional", activations=activations,
            alphas=[None if a is None else f32(a) for a in alphas],
            betas=[None if b is None else f32(b) for b in betas])
        for name, ref in (("Y", ref_Y), ("Y_h", ref_Y_h)):
            check_error(got[name], expected[name], np.float32, f"{activations} {name} vs ort")
            check_error(got[name], ref, np.float32, f"{activations} {name} vs reference")


def test_activation_names_ignore_case_and_repeated_default():
    rng = np.random.default_rng(4)
    arrays, (model, feeds) = _single_node(rng, "forward", dict(activations=["LeakyRelu"]))
    lower, _ = rnn_model(arrays, dict(direction="forward", hidden_size=4,
                                      activations=["leakyRELU"]))
    twice, _ = rnn_model(arrays, dict(direction="forward", hidden_size=4,
                                      activations=["LeakyRelu", "LeakyRelu"]))
    expected = run_fastrnn(model, feeds)["Y"]
    np.testing.assert_array_equal(run_fastrnn(lower, feeds)["Y"], expected)
    np.testing.assert_array_equal(run_fastrnn(twice, feeds)["Y"], expected)
    # the same defaults as a value written in the model
    written, _ = rnn_model(arrays, dict(direction="forward", hidden_size=4,
                                        activations=["LeakyRelu"], activation_alpha=[0.01]))
    np.testing.assert_array_equal(run_fastrnn(written, feeds)["Y"], expected)


def test_hidden_size_may_be_left_out():
    """The spec makes hidden_size optional (onnxruntime requires it): W's shape gives it."""
    rng = np.random.default_rng(5)
    arrays = rnn_arrays(rng, 4, 2, 3, 5, 2, np.float32, layout=1, h0=True)
    with_attr, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=5, layout=1))
    without, _ = rnn_model(arrays, dict(direction="bidirectional", layout=1))
    a, b = run_fastrnn(with_attr, feeds), run_fastrnn(without, feeds)
    np.testing.assert_array_equal(a["Y"], b["Y"])
    np.testing.assert_array_equal(a["Y_h"], b["Y_h"])
    with pytest.raises(Exception, match="hidden_size"):
        run_ort(without, feeds)


# ------------------------------------------------------------------ sequence lengths
@pytest.mark.parametrize("layout", [0, 1])
def test_sequence_length_zero(layout):
    """A sequence of length 0: Y and Y_h zero in both directions, whatever initial_h is."""
    rng = np.random.default_rng(6)
    T, N, H = 4, 3, 5
    arrays = rnn_arrays(rng, T, N, 2, H, 2, np.float32, layout=layout, h0=True,
                        lengths=[0, T, 2])
    arrays["initial_h"] += 3  # far from zero
    model, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=H,
                                          layout=layout))
    got = run_fastrnn(model, feeds)
    Y, Y_h = got["Y"], got["Y_h"]
    if layout:  # look at it in layout 0
        Y, Y_h = Y.transpose(1, 2, 0, 3), Y_h.transpose(1, 0, 2)
    assert np.all(Y[:, :, 0] == 0) and np.all(Y_h[:, 0] == 0)
    assert np.all(Y[2:, :, 2] == 0) and np.all(Y[:2, :, 2] != 0)
    assert np.all(Y_h[:, 1:] != 0)
    arrays0 = to_layout0(arrays) if layout else arrays
    model0, feeds0 = rnn_model(arrays0, dict(direction="bidirectional", hidden_size=H))
    expected = run_ort(model0, feeds0)
    assert np.all(expected["Y_h"][:, 0] == 0)  # onnxruntime's reading
    check_error(Y, expected["Y"], np.float32, "Y")
    check_error(Y_h, expected["Y_h"], np.float32, "Y_h")


@pytest.mark.parametrize("layout", [0, 1])
def test_empty_sequence_and_empty_batch(layout):
    rng = np.random.default_rng(7)
    for T, N in ((0, 3), (4, 0), (0, 0)):
        arrays = rnn_arrays(rng, T, N, 2, 3, 2, np.float64, layout=layout, h0=True,
                            lengths=[0] * N)
        model, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=3,
                                              layout=layout))
        got = run_fastrnn(model, feeds)
        assert got["Y"].shape == ((N, T, 2, 3) if layout else (T, 2, N, 3))
        assert got["Y_h"].shape == arrays["initial_h"].shape
        assert not np.any(got["Y_h"])  # no steps, no last output
        if layout == 0 and N:  # onnxruntime agrees (it refuses layout 1 and N = 0)
            f32_arrays = {k: None if v is None else v.astype(v.dtype if k == "sequence_lens"
                                                              else np.float32)
                          for k, v in arrays.items()}
            model32, feeds32 = rnn_model(f32_arrays, dict(direction="bidirectional",
                                                          hidden_size=3))
            expected = run_ort(model32, feeds32)
            assert expected["Y"].shape == got["Y"].shape and not np.any(expected["Y_h"])
        no_h0 = dict(arrays, initial_h=None)
        model, feeds = rnn_model(no_h0, dict(direction="bidirectional", hidden_size=3,
                                             layout=layout))
        got = run_fastrnn(model, feeds)
        assert got["Y_h"].shape == ((N, 2, 3) if layout else (2, N, 3))
        assert not np.any(got["Y_h"])


# ------------------------------------------------------------------ shape ops
SHAPE_OP_CASES = [
    # (id, op, opset, inputs (arrays; None = absent), attributes, number of outputs)
    ("transpose-perm", "Transpose", 13, [np.arange(24.).reshape(2, 3, 4)], dict(perm=[1, 2, 0]), 1),
    ("transpose-default", "Transpose", 1, [np.arange(24.).reshape(2, 3, 4)], {}, 1),
    ("reshape-zero-minus-one", "Reshape", 13, [np.arange(24.).reshape(2, 3, 4), i64(0, -1)],
     {}, 1),
    ("reshape-allowzero", "Reshape", 14, [np.zeros((0, 3)), i64(3, 0)], dict(allowzero=1), 1),
    ("reshape-v5", "Reshape", 5, [np.arange(6.), i64(2, 3)], {}, 1),
    ("squeeze-attr", "Squeeze", 11, [np.zeros((1, 3, 1))], dict(axes=[-1]), 1),
    ("squeeze-input", "Squeeze", 13, [np.zeros((1, 3, 1)), i64(0)], {}, 1),
    ("squeeze-all", "Squeeze", 13, [np.zeros((1, 3, 1))], {}, 1),
    ("unsqueeze-attr", "Unsqueeze", 9, [np.zeros((2, 3))], dict(axes=[0, 3]), 1),
    ("unsqueeze-input", "Unsqueeze", 13, [np.zeros((2, 3)), i64(-1, 1)], {}, 1),
    ("concat", "Concat", 13, [np.ones((2, 1)), np.zeros((2, 3))], dict(axis=-1), 1),
    ("slice-attrs", "Slice", 9, [np.arange(20.).reshape(4, 5)],
     dict(starts=[1, -3], ends=[1000, -1], axes=[0, 1]), 1),
    ("slice-inputs-steps", "Slice", 13, [np.arange(20.).reshape(4, 5), i64(-1, 4), i64(-1000, 0),
                                         i64(0, 1), i64(-2, -3)], {}, 1),
    ("slice-no-axes", "Slice", 10, [np.arange(20.).reshape(4, 5), i64(1), i64(3)], {}, 1),
    ("shape", "Shape", 13, [np.zeros((2, 3, 4))], {}, 1),
    ("shape-start-end", "Shape", 15, [np.zeros((2, 3, 4))], dict(start=-2, end=3), 1),
    ("gather-negative", "Gather", 13, [i64(5, 6, 7), np.array(-1, np.int64)], dict(axis=0), 1),
    ("gather-axis1", "Gather", 11, [np.arange(12.).reshape(3, 4), i64(3, 0)], dict(axis=1), 1),
    ("identity", "Identity", 14, [np.arange(3.)], {}, 1),
    ("cast", "Cast", 13, [np.array([1.7, -2.5, 3.0])], dict(to=TensorProto.INT32), 1),
    ("cast-to-float", "Cast", 6, [i64(1, 2)], dict(to=TensorProto.FLOAT), 1),
    ("constant-of-shape", "ConstantOfShape", 9, [i64(2, 3)],
     dict(value=numpy_helper.from_array(np.array([0.5], np.float32))), 1),
    ("constant-of-shape-default", "ConstantOfShape", 20, [i64(2)], {}, 1),
    ("split-attr", "Split", 11, [np.arange(10.)], dict(split=[3, 7]), 2),
    ("split-input", "Split", 13, [np.arange(12.).reshape(2, 6), i64(2, 4)], dict(axis=1), 2),
    ("split-equal", "Split", 13, [np.arange(12.).reshape(2, 6)], dict(axis=1), 3),
    ("split-num-outputs", "Split", 18, [np.arange(7.)], dict(num_outputs=3), 3),
    ("expand", "Expand", 13, [np.arange(3.).reshape(3, 1), i64(2, 1, 4)], {}, 1),
    # an LSTM's projection: Y [T, D, N, H] @ W_hr^T [D, H, P]
    ("matmul-broadcast", "MatMul", 13, [np.arange(60.).reshape(2, 2, 3, 5) / 10,
                                         np.arange(20.).reshape(2, 5, 2) / 7], {}, 1),
    ("matmul-1d", "MatMul", 9, [np.arange(3.), np.arange(6.).reshape(3, 2)], {}, 1),
    ("matmul-vector-right", "MatMul", 13, [np.arange(6.).reshape(2, 3), np.arange(3.)], {}, 1),
    # a projected bidirectional LSTM's backward h0 moved to each sequence's last step
    ("reverse-sequence", "ReverseSequence", 10, [np.arange(24.).reshape(4, 3, 2), i64(0, 1, 4)],
     dict(time_axis=0, batch_axis=1), 1),
    ("reverse-sequence-batch-major", "ReverseSequence", 10,
     [np.arange(24.).reshape(3, 4, 2), i64(4, 2, 3)], dict(time_axis=1, batch_axis=0), 1),
]


@pytest.mark.parametrize("name, op, opset, inputs, attributes, n_out", SHAPE_OP_CASES,
                         ids=[c[0] for c in SHAPE_OP_CASES])
def test_shape_op_matches_onnxruntime(name, op, opset, inputs, attributes, n_out):
    inputs = [v.astype(np.float32) if v.dtype == np.float64 else v for v in inputs]
    input_names = [f"in{i}" for i in range(len(inputs))]
    outputs = [f"out{i}" for i in range(n_out)]
    node = helper.make_node(op, input_names, outputs, **attributes)
    graph_inputs = [(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                    for n, v in zip(input_names, inputs)]
    model = make_model([node], graph_inputs, outputs, opset=opset)
    feeds = dict(zip(input_names, inputs))
    expected = run_ort(model, feeds)
    got = run_fastrnn(model, feeds)
    for key in outputs:
        assert got[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(got[key], expected[key])


def test_constant_forms():
    nodes = [helper.make_node("Constant", [], ["a"], value_ints=[1, 2]),
             helper.make_node("Constant", [], ["b"], value_float=2.5),
             helper.make_node("Constant", [], ["c"],
                              value=numpy_helper.from_array(np.eye(2, dtype=np.float32)))]
    model = make_model(nodes, [], ["a", "b", "c"], opset=13)
    got = backend.prepare(model).run([])
    expected = run_ort(model, {})
    for key in "abc":
        np.testing.assert_array_equal(got[key], expected[key])
        assert got[key].dtype == expected[key].dtype
    got[key][...] = 7  # outputs are the caller's: the next run is unchanged
    np.testing.assert_array_equal(backend.prepare(model).run([])["c"], np.eye(2))


def const(name, value):
    tensor = numpy_helper.from_array(np.asarray(value))
    return helper.make_node("Constant", [], [name], value=tensor)


def _graph_around_rnn(opset, seed):
    """A batch-first input through shape ops, a bidirectional RNN and back, as exporters write.

    Uses Shape/Gather/Unsqueeze/Concat/ConstantOfShape (zero state), Slice,
    Transpose, Reshape, Squeeze, Split, Cast, Expand and Identity.
    """
    rng = np.random.default_rng(seed)
    I, H = 3, 4
    W = rng.uniform(-1, 1, (2, H, I)).astype(np.float32)
    R = rng.uniform(-0.5, 0.5, (2, H, H)).astype(np.float32)
    B = rng.uniform(-0.5, 0.5, (2, 2 * H)).astype(np.float32)
    attr_axes = opset < 13

    def axes_node(op, data, out, axes):
        if attr_axes:
            return [helper.make_node(op, [data], [out], axes=axes)]
        return [helper.make_node("Constant", [], [out + "_axes"], value_ints=axes),
                helper.make_node(op, [data, out + "_axes"], [out])]

    nodes = [
        helper.make_node("Identity", ["input"], ["x_nti"]),
        helper.make_node("Transpose", ["x_nti"], ["x"], perm=[1, 0, 2]),  # [T, N, I]
        helper.make_node("Shape", ["x"], ["x_shape"]),
        const("one", np.array(1, np.int64)),
        helper.make_node("Gather", ["x_shape", "one"], ["batch"], axis=0),
        *axes_node("Unsqueeze", "batch", "batch_1d", [0]),
        const("two", i64(2)),
        const("hid", i64(H)),
        helper.make_node("Concat", ["two", "batch_1d", "hid"], ["h0_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["h0_shape"], ["h0"],
                         value=numpy_helper.from_array(np.array([0.25], np.float32))),
        # lengths [3, 5, 2, 4][:N]
        const("all_lens", i64(3, 5, 2, 4)),
        const("zero", i64(0)),
        helper.make_node("Slice", ["all_lens", "zero", "batch_1d"], ["lens64"]),
        helper.make_node("Cast", ["lens64"], ["lens"], to=TensorProto.INT32),
        helper.make_node("RNN", ["x", "W", "R", "B", "lens", "h0"], ["Y", "Y_h"],
                         hidden_size=H, direction="bidirectional", activations=["Tanh", "Relu"]),
        helper.make_node("Transpose", ["Y"], ["Y_tndh"], perm=[0, 2, 1, 3]),
        const("flat", i64(0, 0, -1)),
        helper.make_node("Reshape", ["Y_tndh", "flat"], ["seq"]),
        helper.make_node("Transpose", ["seq"], ["output"], perm=[1, 0, 2]),
    ]
    if opset < 13:
        nodes.append(helper.make_node("Split", ["Y_h"], ["h_fwd", "h_bwd"], axis=0, split=[1, 1]))
    else:
        nodes += [const("halves", i64(1, 1)),
                  helper.make_node("Split", ["Y_h", "halves"], ["h_fwd", "h_bwd"], axis=0)]
    nodes += axes_node("Squeeze", "h_bwd", "h_bwd_2d", [0])
    nodes += [helper.make_node("Shape", ["h_bwd_2d"], ["hb_shape"]),
              helper.make_node("Expand", ["h_fwd", "hb_shape"], ["h_fwd_expanded"]),
              const("starts", i64(1)),
              const("ends", i64(4)),
              const("axes", i64(1)),
              helper.make_node("Slice", ["output", "starts", "ends", "axes"], ["middle"])]
    model = make_model(
        nodes, [("input", TensorProto.FLOAT, ["N", "T", I])],
        [("output", TensorProto.FLOAT, None), ("h_fwd_expanded", TensorProto.FLOAT, None),
         ("h_bwd_2d", TensorProto.FLOAT, None), ("middle", TensorProto.FLOAT, None)],
        dict(W=W, R=R, B=B), opset)
    return model


@pytest.mark.parametrize("opset", [11, 13, 18])
def test_graph_of_shape_ops_around_rnn_matches_onnxruntime(opset):
    model = _graph_around_rnn(opset, opset)
    rep = backend.prepare(model)
    for N, T in ((2, 6), (1, 5)):
        x = np.random.default_rng(N * 10 + T).standard_normal((N, T, 3)).astype(np.float32)
        expected = run_ort(model, {"input": x})
        got = dict(zip(rep.output_names, rep.run([x])))
        for key in expected:
            check_error(got[key], expected[key], np.float32, key)


# ------------------------------------------------------------------ torch exports
TORCH_CASES = [
    dict(num_layers=1, bidirectional=False, batch_first=False, nonlinearity="tanh", bias=True,
         h0=False, opset=9),
    dict(num_layers=2, bidirectional=True, batch_first=True, nonlinearity="relu", bias=False,
         h0=True, opset=11),
    dict(num_layers=2, bidirectional=False, batch_first=True, nonlinearity="tanh", bias=True,
         h0=False, opset=13),
    dict(num_layers=3, bidirectional=True, batch_first=False, nonlinearity="tanh", bias=True,
         h0=True, opset=17),
    dict(num_layers=1, bidirectional=True, batch_first=True, nonlinearity="relu", bias=True,
         h0=False, opset=20),
]


@pytest.mark.parametrize("case", TORCH_CASES,
                         ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_torch_exported_rnn(case):
    torch = pytest.importorskip("torch")
    import warnings
    torch.manual_seed(0)
    module = torch.nn.RNN(3, 5, case["num_layers"], nonlinearity=case["nonlinearity"],
                          bias=case["bias"], batch_first=case["batch_first"],
                          bidirectional=case["bidirectional"]).eval()
    D = 2 if case["bidirectional"] else 1

    def example(N, L):
        x = torch.randn((N, L, 3) if case["batch_first"] else (L, N, 3))
        h0 = torch.randn(D * case["num_layers"], N, 5) * 0.5
        return (x, h0) if case["h0"] else (x,)

    names = ["input", "h0"] if case["h0"] else ["input"]
    axes = {"input": {0: "a", 1: "b"}}
    if case["h0"]:
        axes["h0"] = {1: "batch"}
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example(2, 4), f, dynamo=False, opset_version=case["opset"],
                          input_names=names, output_names=["output", "h_n"], dynamic_axes=axes)
    rep = backend.prepare(f.getvalue())
    for N, L in ((2, 4), (3, 7), (1, 1)):
        args = example(N, L)
        with torch.no_grad():
            output, h_n = module(*args)
        got = rep.run([a.numpy() for a in args])
        check_error(got["output"], output.numpy(), np.float32, "output vs torch")
        check_error(got["h_n"], h_n.numpy(), np.float32, "h_n vs torch")


# ------------------------------------------------------------------ backend API
def test_prepare_accepts_model_bytes_path_and_file(tmp_path):
    arrays, model, feeds = simple_node()
    expected = backend.prepare(model).run(feeds)
    path = tmp_path / "rnn.onnx"
    onnx.save(model, path)
    for source in (model.SerializeToString(), str(path), path, io.BytesIO(path.read_bytes())):
        got = backend.prepare(source).run(feeds)
        np.testing.assert_array_equal(got[0], expected[0])
    assert backend.prepare(model).input_names == ["X", "initial_h"]


def test_run_forms_and_named_outputs():
    arrays, model, feeds = simple_node()
    rep = backend.prepare(model)
    by_dict = rep.run(feeds)
    by_list = rep.run([feeds["X"], feeds["initial_h"]])
    np.testing.assert_array_equal(by_dict["Y"], by_list[0])
    np.testing.assert_array_equal(by_dict.Y_h, by_list[1])
    np.testing.assert_array_equal(backend.run_model(model, feeds)[1], by_list[1])
    one_input, _ = rnn_model(dict(arrays, initial_h=None), dict(direction="forward",
                                                                hidden_size=5),
                             initializers=("W", "R", "B"))
    assert backend.prepare(one_input).run(feeds["X"])[0].shape == (4, 1, 2, 5)
    # Python lists are converted to the declared type
    assert backend.prepare(one_input).run([feeds["X"].tolist()])[0].dtype == np.float32


def test_run_node():
    rng = np.random.default_rng(9)
    arrays = rnn_arrays(rng, 3, 2, 4, 5, 2, np.float64, layout=1, h0=True)
    node = helper.make_node("RNN", ["X", "W", "R", "", "", "initial_h"], ["", "Y_h"],
                            direction="bidirectional", hidden_size=5, layout=1,
                            activations=["Sigmoid", "Softsign"])
    (Y_h,) = backend.run_node(node, [arrays["X"], arrays["W"], arrays["R"], arrays["initial_h"]])
    _, ref_Y_h = onnx_reference.rnn(arrays["X"], arrays["W"], arrays["R"],
                                    initial_h=arrays["initial_h"], direction="bidirectional",
                                    activations=["Sigmoid", "Softsign"], layout=1)
    check_error(Y_h, ref_Y_h, np.float64, "Y_h")
    squeezed = backend.run_node(helper.make_node("Squeeze", ["x"], ["y"], axes=[0]),
                                [np.zeros((1, 2))], opset_version=11)
    assert squeezed[0].shape == (2,)


def test_devices():
    assert backend.supports_device("CPU")
    assert not backend.supports_device("CUDA")
    arrays, model, feeds = simple_node()
    with pytest.raises(ValueError, match="CPU only"):
        backend.prepare(model, "CUDA")
    with pytest.raises(TypeError, match="unexpected keyword"):
        backend.prepare(model, "CPU", optimize=True)
    assert backend.is_compatible(model)


def test_inputs_are_never_modified_and_outputs_are_fresh():
    rng = np.random.default_rng(10)
    for layout in (0, 1):
        arrays = rnn_arrays(rng, 4, 3, 2, 3, 2, np.float32, layout=layout, h0=True,
                            lengths=[4, 0, 2])
        model, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=3,
                                              layout=layout, clip=0.5))
        copies = {k: v.copy() for k, v in feeds.items()}
        outputs = backend.prepare(model).run(feeds)
        for name, value in feeds.items():
            np.testing.assert_array_equal(value, copies[name])
        for output in outputs:
            assert not any(np.may_share_memory(output, v) for v in feeds.values())
    # a graph that hands back an input and an initializer unchanged gives copies
    x = np.arange(3, dtype=np.float32)
    model = make_model([helper.make_node("Identity", ["x"], ["y"]),
                        helper.make_node("Reshape", ["w", "shape"], ["z"])],
                       [("x", TensorProto.FLOAT, [3])], ["y", "z"],
                       dict(w=np.ones((2, 2), np.float32), shape=i64(4)))
    rep = backend.prepare(model)
    y, z = rep.run([x])
    assert not np.may_share_memory(y, x)
    z[...] = 5
    np.testing.assert_array_equal(rep.run([x])[1], np.ones(4))


def test_outputs_are_separate_c_contiguous_arrays():
    """Nodes hand views along (a Y transposed to [T, D, N, H], Identity); what the caller
    gets is always its own C-contiguous, writeable array, never shared between outputs."""
    rng = np.random.default_rng(13)
    arrays = rnn_arrays(rng, 4, 3, 2, 3, 2, np.float32, h0=True)
    model, feeds = rnn_model(arrays, dict(direction="bidirectional", hidden_size=3),
                             initializers=("W", "R", "B"))
    graph = model.graph
    graph.node.extend([helper.make_node("Identity", ["Y"], ["Y_again"]),
                       helper.make_node("Transpose", ["Y"], ["Y_TNDH"], perm=[0, 2, 1, 3])])
    graph.output.extend([helper.make_empty_tensor_value_info("Y_again"),
                         helper.make_empty_tensor_value_info("Y_TNDH")])
    x_before = feeds["X"].flags.writeable
    Y, Y_h, Y_again, Y_TNDH = backend.prepare(model).run(feeds)
    assert feeds["X"].flags.writeable == x_before  # the caller's flags are left alone
    outputs = (Y, Y_h, Y_again, Y_TNDH)
    for a, b in itertools.combinations(outputs, 2):
        assert not np.may_share_memory(a, b)
    for output in outputs:
        assert output.flags.c_contiguous and output.flags.writeable
    np.testing.assert_array_equal(Y_again, Y)
    np.testing.assert_array_equal(Y_TNDH, Y.transpose(0, 2, 1, 3))
    ref_Y, ref_Y_h = onnx_reference.rnn(arrays["X"], arrays["W"], arrays["R"], arrays["B"],
                                        initial_h=arrays["initial_h"], direction="bidirectional")
    check_error(Y, ref_Y, np.float32, "Y")
    check_error(Y_h, ref_Y_h, np.float32, "Y_h")


def test_stored_weights_are_prepared_once_and_overridable_ones_are_not():
    """W, R, B stored in the model are checked and split when it is prepared; an
    initializer the graph also lists as an input is the caller's to replace."""
    rng = np.random.default_rng(14)
    arrays = rnn_arrays(rng, 5, 2, 3, 4, 2, np.float32, h0=True)
    attributes = dict(direction="bidirectional", hidden_size=4)
    stored, feeds = rnn_model(arrays, attributes, initializers=("W", "R", "B"))
    runtime, runtime_feeds = rnn_model(arrays, attributes)
    rep = backend.prepare(stored)
    for _ in range(2):  # the prepared tensors serve every run unchanged
        for got, want in zip(rep.run(feeds), backend.prepare(runtime).run(runtime_feeds)):
            np.testing.assert_array_equal(got, want)
    overridable = onnx.ModelProto()
    overridable.CopyFrom(stored)
    overridable.graph.input.append(helper.make_tensor_value_info("B", TensorProto.FLOAT, None))
    rep = backend.prepare(overridable)
    np.testing.assert_array_equal(rep.run(feeds)[0], backend.prepare(stored).run(feeds)[0])
    other_B = rng.uniform(-0.5, 0.5, arrays["B"].shape).astype(np.float32)
    got = rep.run(dict(feeds, B=other_B))
    want = backend.prepare(runtime).run(dict(runtime_feeds, B=other_B))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    # a stored W of another dtype than X is still refused at run time
    node = helper.make_node("RNN", ["X", "W", "R"], ["Y"], hidden_size=4,
                            direction="bidirectional")
    loose = make_model([node], ["X"], ["Y"], dict(W=arrays["W"], R=arrays["R"]))
    with pytest.raises(TypeError, match=r"W must have the dtype of X \(float64\), got float32"):
        backend.prepare(loose).run([arrays["X"].astype(np.float64)])



def test_a_repeated_call_of_a_stored_node_skips_only_checks_it_passed(monkeypatch):
    """A node with stored weights that ran X of a shape and dtype with nothing else
    skips the checks for that X the next time (they depend on it alone): the same
    results, while states, lengths, another shape, another dtype or a lower run
    limit take the checked way again."""
    import fastrnn.onnx

    checked = []
    real = backend.check_layer_sizes
    monkeypatch.setattr(backend, "check_layer_sizes",
                        lambda *args: (checked.append(args), real(*args)))
    attributes = dict(direction="bidirectional", hidden_size=4)
    arrays = rnn_arrays(np.random.default_rng(15), 5, 2, 3, 4, 2, np.float32)
    stored, _ = rnn_model(arrays, attributes, initializers=("W", "R", "B"))
    rep = backend.prepare(stored)
    x = arrays["X"]
    first = rep.run([x])
    assert len(checked) == 1
    again = rep.run([x.copy()])
    assert len(checked) == 1  # the shape it checked: straight to the kernels
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    rep.run([x[:, :1]])  # another shape is checked (and then known too)
    rep.run([x[:, :1]])
    assert len(checked) == 2
    with pytest.raises(TypeError, match=r"must be tensor\(float\)"):  # as on a first call
        rep.run([x.astype(np.float64)])
    # a lower run limit is honoured for a shape that passed under the higher one
    previous = fastrnn.onnx.set_limits(run_elements=8)
    try:
        with pytest.raises(fastrnn.onnx.LimitError, match="more than the 8 a run makes"):
            rep.run([x])
    finally:
        fastrnn.onnx.set_limits(**previous)
    np.testing.assert_array_equal(rep.run([x])[0], first[0])
    # with a state, every call is checked, and a wrong state is refused
    with_h0 = rnn_arrays(np.random.default_rng(15), 5, 2, 3, 4, 2, np.float32, h0=True)
    model, feeds = rnn_model(with_h0, attributes, initializers=("W", "R", "B"))
    rep = backend.prepare(model)
    checked.clear()
    for _ in range(2):
        rep.run(feeds)
    assert len(checked) == 2
    with pytest.raises(ValueError, match="initial_h must have shape"):
        rep.run(dict(feeds, initial_h=feeds["initial_h"][:, :1]))

def test_stored_shapes_and_bounds_are_read_when_prepared():
    """Reshape shapes and Slice bounds in the model (initializers or Constant nodes) are
    read and checked once: a bad one fails prepare, not every run."""
    x = ("x", TensorProto.FLOAT, None)
    bad_shape = make_model([helper.make_node("Reshape", ["x", "s"], ["y"])], [x], ["y"],
                           dict(s=i64(-1, -1)))
    with pytest.raises(InvalidModelError, match=r"node 0 \(Reshape\): shape \[-1, -1\] is not"):
        backend.prepare(bad_shape)
    float_shape = make_model([helper.make_node("Reshape", ["x", "s"], ["y"])], [x], ["y"],
                             dict(s=np.array([2.0, 3.0], np.float32)))
    with pytest.raises(InvalidModelError, match="shape must be an integer tensor"):
        backend.prepare(float_shape)
    zero_step = make_model(
        [helper.make_node("Constant", [], ["steps"], value_ints=[0]),
         helper.make_node("Slice", ["x", "starts", "ends", "", "steps"], ["y"])],
        [x], ["y"], dict(starts=i64(0), ends=i64(2)))
    with pytest.raises(InvalidModelError, match=r"node 1 \(Slice\): steps must not be 0"):
        backend.prepare(zero_step)
    lengths = make_model(
        [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])],
        [x], ["y"], dict(starts=i64(0, 1), ends=i64(2), axes=i64(0)))
    with pytest.raises(InvalidModelError, match="differ in length"):
        backend.prepare(lengths)
    # a good stored Slice serves inputs of any rank (one index per rank)
    good = make_model(
        [helper.make_node("Constant", [], ["ends"], value_ints=[-1]),
         helper.make_node("Slice", ["x", "starts", "ends"], ["y"])],
        [x], ["y"], dict(starts=i64(1)))
    rep = backend.prepare(good)
    for shape in ((5,), (4, 2), (3, 2, 2), (5,)):
        data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        np.testing.assert_array_equal(rep.run([data])[0], data[1:-1])
        assert run_ort(good, {"x": data})["y"].shape == data[1:-1].shape
