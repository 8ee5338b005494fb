"""The claims of the project's seed texts, checked on fastrnn.RNN.

- "last_output == hidden": output[:, -1] equals h_n[-1] for the last layer
  of a unidirectional batch-first model (output[-1] when time-major).
- The windowed sequence example: np.arange(1, 8) with a second feature
  (+10), windows of 3 in batches of 2, fed batch-first (2, 3, 2) or
  permuted time-major (3, 2, 2): the same results, permuted.
- Shapes: output (N, L, D*H) batch-first and (L, N, D*H) otherwise;
  h_n (D*num_layers, N, H) in both.
- Bidirectional: the forward direction of the last layer ends at the last
  step, the reverse one at the first: output[:, -1, :H] == h_n[-2] and
  output[:, 0, H:] == h_n[-1].
"""
import numpy as np
import pytest

import fastrnn
import reference
from fastrnn.cli import windows


def _windows(seq_len=3):
    """The seed's dataset: windows of `seq_len` over 1..7 with features (x, x + 10)."""
    series = np.arange(1, 8).reshape(-1, 1)
    data = np.concatenate([series, series + 10], axis=1).astype(np.float32)  # (7, 2)
    # The seed's dataset keeps each window's next value as its label, so the
    # window that ends on the last value is not used: (4, 3, 2).
    return windows(data, seq_len)[:-1]


def _batches(batch_size=2):
    windows = _windows()
    return [windows[i:i + batch_size] for i in range(0, len(windows), batch_size)]


def test_window_data_is_the_seeds():
    batches = _batches()
    assert len(batches) == 2 and batches[0].shape == (2, 3, 2)
    np.testing.assert_array_equal(batches[0][0], [[1, 11], [2, 12], [3, 13]])
    np.testing.assert_array_equal(batches[0][1], [[2, 12], [3, 13], [4, 14]])
    np.testing.assert_array_equal(batches[1][1], [[4, 14], [5, 15], [6, 16]])
    time_major = batches[0].transpose(1, 0, 2)
    assert time_major.shape == (3, 2, 2)
    np.testing.assert_array_equal(time_major[0], [[1, 11], [2, 12]])
    np.testing.assert_array_equal(time_major[2], [[3, 13], [4, 14]])


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_last_output_is_last_layer_hidden_batch_first(num_layers, dtype):
    model = fastrnn.RNN(2, 16, num_layers=num_layers, batch_first=True, dtype=dtype, seed=0)
    for batch in _batches():
        output, h_n = model(batch)
        assert output.shape == (2, 3, 16) and h_n.shape == (num_layers, 2, 16)
        np.testing.assert_array_equal(output[:, -1], h_n[-1])
        # Not a trivial equality: the steps differ from each other.
        assert not np.array_equal(output[:, 0], output[:, -1])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_last_output_is_last_layer_hidden_time_major_and_unbatched(nonlinearity):
    model = fastrnn.RNN(2, 8, num_layers=2, nonlinearity=nonlinearity, seed=1)
    batch = _batches()[0].transpose(1, 0, 2)
    hx = np.full((2, 2, 8), 0.1, np.float32)
    for h0 in (None, hx):
        output, h_n = model(batch, h0)
        np.testing.assert_array_equal(output[-1], h_n[-1])
    output, h_n = model(_windows()[0])  # unbatched (L, H_in)
    assert output.shape == (3, 8) and h_n.shape == (2, 8)
    np.testing.assert_array_equal(output[-1], h_n[-1])


@pytest.mark.parametrize("bidirectional", [False, True])
def test_window_batches_batch_first_and_time_major_agree(bidirectional):
    """Input type 2 (2, 3, 2) batch-first and input type 1 (3, 2, 2) time-major."""
    batch_first = fastrnn.RNN(2, 8, num_layers=2, bidirectional=bidirectional, batch_first=True,
                              seed=4)
    time_major = fastrnn.RNN(2, 8, num_layers=2, bidirectional=bidirectional, seed=5)
    time_major.load_state_dict(batch_first.state_dict())
    D = 2 if bidirectional else 1
    for batch in _batches():
        out_bf, h_bf = batch_first(batch)
        out_tm, h_tm = time_major(batch.transpose(1, 0, 2))
        assert out_bf.shape == (2, 3, D * 8) and out_tm.shape == (3, 2, D * 8)
        assert h_bf.shape == h_tm.shape == (D * 2, 2, 8)
        # The same rows in another order: equal up to the last bits, which
        # OpenBLAS's sums may change with a row's place (its Haswell kernels do;
        # fastrnn's packed kernel does not, see input_projection).
        np.testing.assert_allclose(out_bf, out_tm.transpose(1, 0, 2), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(h_bf, h_tm, rtol=1e-6, atol=1e-6)
        # And they are the RNN's results, not just consistent with each other.
        ref_out, ref_h = reference.rnn_forward(
            batch_first.state_dict(), dict(num_layers=2, bidirectional=bidirectional,
                                           nonlinearity="tanh", bias=True, hidden_size=8,
                                           batch_first=True), batch)
        reference.assert_close(out_bf, ref_out, np.float32)
        reference.assert_close(h_bf, ref_h, np.float32)


@pytest.mark.parametrize("batch_first, expected", [(False, (3, 2, 128)), (True, (2, 3, 128))])
def test_seed_output_shapes_hidden_128(batch_first, expected):
    """seq_len 3, batch 2, hidden 128, unidirectional: the seed's two output shapes."""
    model = fastrnn.RNN(2, 128, batch_first=batch_first, seed=0)
    batch = _batches()[0]
    output, h_n = model(batch if batch_first else batch.transpose(1, 0, 2))
    assert output.shape == expected
    assert h_n.shape == (1, 2, 128)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("batch_first", [False, True])
def test_bidirectional_shapes(num_layers, batch_first):
    N, L, H = 2, 3, 5
    model = fastrnn.RNN(2, H, num_layers=num_layers, bidirectional=True,
                        batch_first=batch_first, seed=0)
    batch = _batches()[0]
    output, h_n = model(batch if batch_first else batch.transpose(1, 0, 2))
    assert h_n.shape == (2 * num_layers, N, H)
    assert output.shape == ((N, L, 2 * H) if batch_first else (L, N, 2 * H))


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bidirectional_ends(num_layers, dtype):
    H = 6
    model = fastrnn.RNN(2, H, num_layers=num_layers, bidirectional=True, batch_first=True,
                        dtype=dtype, seed=2)
    for batch in _batches():
        output, h_n = model(batch)
        np.testing.assert_array_equal(output[:, -1, :H], h_n[-2])  # forward ends at t = L-1
        np.testing.assert_array_equal(output[:, 0, H:], h_n[-1])   # reverse ends at t = 0
        # The tempting wrong pairings do not hold.
        assert not np.array_equal(output[:, -1, H:], h_n[-1])
        assert not np.array_equal(output[:, 0, :H], h_n[-2])


def test_seed_hidden_for_the_next_layer():
    """num_layers=2, bidirectional: hidden_ is (4, BS, H); its last two rows are the last layer."""
    model = fastrnn.RNN(2, 7, num_layers=2, bidirectional=True, batch_first=True, seed=3)
    output, h_n = model(_batches()[1])
    assert h_n.shape == (4, 2, 7)
    last_layer = np.concatenate([h_n[-2], h_n[-1]], axis=1)
    np.testing.assert_array_equal(last_layer[:, :7], output[:, -1, :7])
    np.testing.assert_array_equal(last_layer[:, 7:], output[:, 0, 7:])


@pytest.mark.parametrize("bidirectional", [False, True])
def test_window_example_equals_torch(bidirectional):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.RNN(2, 8, num_layers=2, bidirectional=bidirectional, batch_first=True)
    model = fastrnn.RNN.from_torch(module)
    for batch in _batches():
        with torch.no_grad():
            expected_output, expected_h_n = module(torch.from_numpy(batch))
        output, h_n = model(batch)
        reference.assert_close(output, expected_output.numpy(), np.float32)
        reference.assert_close(h_n, expected_h_n.numpy(), np.float32)
