"""Variable-length batches (`lengths`, PackedSequence) and streaming, for every class.

Against torch's pack_padded_sequence(enforce_sorted=False) -> module ->
pad_packed_sequence(total_length=L), and against the classes' own results on
each sequence alone (which needs no torch): sequence n of a padded batch must
give what the model gives on input[:lengths[n]] by itself.
"""
import numpy as np
import pytest

import fastrnn
from reference import assert_close

CLASSES = {"rnn": fastrnn.RNN, "lstm": fastrnn.LSTM, "gru": fastrnn.GRU}


def _states(result):
    output, state = result
    return output, (list(state) if isinstance(state, tuple) else [state])


def _model(kind, dtype=np.float32, **kwargs):
    config = dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True) | kwargs
    return CLASSES[kind](**config, dtype=dtype, seed=7)


def _random_state(model, N, rng):
    D = model.num_directions * model.num_layers
    h0 = rng.standard_normal((D, N, model.proj_size or model.hidden_size)).astype(model.dtype)
    if isinstance(model, fastrnn.LSTM):
        return (h0, rng.standard_normal((D, N, model.hidden_size)).astype(model.dtype))
    return h0


def _select(state, n):
    """Batch item n of an hx (kept 3-D)."""
    if isinstance(state, tuple):
        return tuple(s[:, n:n + 1] for s in state)
    return None if state is None else state[:, n:n + 1]


CONFIGS = [
    dict(),
    dict(num_layers=1, bidirectional=False),
    dict(num_layers=3, bidirectional=False, batch_first=True),
    dict(batch_first=True, bias=False),
]


@pytest.mark.parametrize("kind", list(CLASSES))
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_hx", [False, True])
def test_each_sequence_is_computed_as_if_alone(kind, config, dtype, with_hx):
    rng = np.random.default_rng(0)
    model = _model(kind, dtype, **config)
    L, N = 7, 5
    lengths = np.array([7, 1, 4, 7, 3])  # unsorted, with the full length and 1
    x = rng.standard_normal((N, L, 3) if model.batch_first else (L, N, 3)).astype(dtype)
    hx = _random_state(model, N, rng) if with_hx else None
    output, states = _states(model(x, hx, lengths=lengths))
    for n, length in enumerate(lengths):
        alone = x[n:n + 1, :length] if model.batch_first else x[:length, n:n + 1]
        out_n, states_n = _states(model(alone, _select(hx, n)))
        got = output[n:n + 1, :length] if model.batch_first else output[:length, n:n + 1]
        assert_close(got, out_n, np.dtype(dtype).name, f"output of sequence {n}")
        padding = output[n, length:] if model.batch_first else output[length:, n]
        assert not padding.any(), "output past a sequence's length must be zero"
        for s, s_n in zip(states, states_n):
            assert_close(s[:, n:n + 1], s_n, np.dtype(dtype).name, f"state of sequence {n}")


@pytest.mark.parametrize("kind", list(CLASSES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_match_torch_packed_sequences(kind, dtype, batch_first):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(0)
    kwargs = dict(input_size=3, hidden_size=6, num_layers=2, bidirectional=True,
                  batch_first=batch_first)
    if kind == "lstm":
        kwargs["proj_size"] = 4
    module = getattr(torch.nn, kind.upper())(**kwargs).to(tdtype)
    model = CLASSES[kind].from_torch(module)
    L, N = 9, 6
    lengths = [4, 9, 1, 6, 9, 2]
    x = torch.randn((N, L, 3) if batch_first else (L, N, 3), dtype=tdtype)
    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first,
                                  enforce_sorted=False)
    with torch.no_grad():
        out_packed, state = module(packed)
    expected, _ = pad_packed_sequence(out_packed, batch_first=batch_first, total_length=L)
    expected_states = list(state) if isinstance(state, tuple) else [state]
    output, states = _states(model(x.numpy(), lengths=lengths))
    name = np.dtype(dtype).name
    assert_close(output, expected.numpy(), name, "output")
    for got, want in zip(states, expected_states):
        assert_close(got, want.numpy(), name, "state")

    # A PackedSequence goes in and comes out, as in torch.
    got_packed, got_states = _states(model(packed))
    assert type(got_packed).__name__ == "PackedSequence"
    assert torch.equal(got_packed.batch_sizes, out_packed.batch_sizes)
    assert torch.equal(got_packed.sorted_indices, out_packed.sorted_indices)
    assert_close(got_packed.data.numpy(), out_packed.data.numpy(), name, "packed data")
    for got, want in zip(got_states, expected_states):
        assert_close(got, want.numpy(), name, "state")


def test_packed_sequence_with_initial_state():
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence

    torch.manual_seed(1)
    module = torch.nn.GRU(3, 5, 2)
    model = fastrnn.GRU.from_torch(module)
    x = torch.randn(6, 4, 3)
    h0 = torch.randn(2, 4, 5)
    packed = pack_padded_sequence(x, torch.tensor([2, 6, 3, 5]), enforce_sorted=False)
    with torch.no_grad():
        expected = module(packed, h0)
    got = model(packed, h0.numpy())
    assert_close(got[0].data.numpy(), expected[0].data.numpy(), "float32", "packed data")
    assert_close(got[1], expected[1].numpy(), "float32", "h_n")
    with pytest.raises(ValueError, match="lengths or a PackedSequence, not both"):
        model(packed, lengths=[1, 2, 3, 4])


@pytest.mark.parametrize("kind", list(CLASSES))
def test_full_lengths_equal_no_lengths(kind):
    model = _model(kind)
    x = np.random.default_rng(2).standard_normal((6, 4, 3)).astype(np.float32)
    a_out, a_states = _states(model(x))
    b_out, b_states = _states(model(x, lengths=[6, 6, 6, 6]))
    np.testing.assert_array_equal(a_out, b_out)
    for a, b in zip(a_states, b_states):
        np.testing.assert_array_equal(a, b)


def test_unbatched_input_takes_one_length():
    model = _model("lstm")
    x = np.random.default_rng(3).standard_normal((6, 3)).astype(np.float32)
    out, (h, c) = model(x, lengths=4)
    ref_out, (ref_h, ref_c) = model(x[:4])
    np.testing.assert_allclose(out[:4], ref_out, atol=1e-6)
    assert not out[4:].any()
    np.testing.assert_allclose(h, ref_h, atol=1e-6)
    out2, _ = model(x, lengths=[4])
    np.testing.assert_array_equal(out, out2)


@pytest.mark.parametrize("lengths, match", [
    ([0, 3, 2], r"between 1 and the sequence length 4, got \[0\] at positions \[0\]"),
    ([5, 3, 2], r"between 1 and the sequence length 4, got \[5\]"),
    ([-1, 3, 2], r"got \[-1\]"),
    ([3, 2], r"expected shape \(3,\), got \(2,\)"),
    ([[3, 2, 1]], r"expected shape \(3,\), got \(1, 3\)"),
    ([3.0, 2.0, 1.0], "must hold integers, got dtype float64"),
    ([True, True, True], "got dtype bool"),
    (["3", "2", "1"], "must hold real numbers"),
    (3, r"expected shape \(3,\), got \(\)"),
])
def test_bad_lengths_are_refused_before_any_kernel(lengths, match, no_kernel):
    x = np.zeros((4, 3, 3), np.float32)
    for kind in CLASSES:
        with pytest.raises(ValueError, match=match):
            _model(kind)(x, lengths=lengths)
    assert no_kernel() == 0


def test_lengths_are_not_modified():
    lengths = np.array([3, 1, 2], np.int64)
    _model("gru")(np.ones((3, 3, 3), np.float32), lengths=lengths)
    assert lengths.tolist() == [3, 1, 2] and lengths.dtype == np.int64


# ============================================================== streaming
@pytest.mark.parametrize("kind", list(CLASSES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunks", [[1] * 9, [4, 5], [2, 1, 6], [9]])
def test_streaming_in_chunks_equals_one_call(kind, dtype, chunks):
    model = _model(kind, dtype, bidirectional=False, batch_first=True)
    x = np.random.default_rng(4).standard_normal((2, sum(chunks), 3)).astype(dtype)
    whole_out, whole_state = model(x)
    state, outputs, start = None, [], 0
    for size in chunks:
        out, state = model(x[:, start:start + size], state)
        outputs.append(out)
        start += size
    name = np.dtype(dtype).name
    assert_close(np.concatenate(outputs, axis=1), whole_out, name, "streamed output")
    for got, want in zip(_states((None, state))[1], _states((None, whole_state))[1]):
        assert_close(got, want, name, "streamed state")


@pytest.mark.parametrize("kind", list(CLASSES))
def test_streaming_unbatched_one_step_at_a_time(kind):
    model = _model(kind, num_layers=2, bidirectional=False)
    x = np.random.default_rng(5).standard_normal((12, 3)).astype(np.float32)
    whole_out, _ = model(x)
    state, steps = None, []
    for t in range(len(x)):
        out, state = model(x[t:t + 1], state)
        steps.append(out)
    assert_close(np.concatenate(steps), whole_out, "float32", "streamed output")


def test_packed_sorted_input_comes_back_packed_sorted():
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence

    module = torch.nn.LSTM(3, 4)
    model = fastrnn.LSTM.from_torch(module)
    x = torch.randn(5, 3, 3)
    packed = pack_padded_sequence(x, torch.tensor([5, 3, 2]), enforce_sorted=True)
    with torch.no_grad():
        expected, _ = module(packed)
    got, _ = model(packed)
    assert got.sorted_indices is None and expected.sorted_indices is None
    assert torch.equal(got.batch_sizes, expected.batch_sizes)


def test_an_empty_batch_takes_an_empty_lengths_list():
    model = _model("gru")
    out, h_n = model(np.zeros((4, 0, 3), np.float32), lengths=[])
    assert out.shape == (4, 0, 10) and h_n.shape == (4, 0, 5)
