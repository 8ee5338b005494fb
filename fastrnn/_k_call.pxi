# A model's call, the one way into its layers: model_forward hands it to the
# model's Stack, whose forward takes the common call whole; anything else goes
# through _checked_forward, which checks it once with the model's named checks
# (torch's errors and messages), casts it and runs it. Included by
# fastrnn/_kernels.pyx, after _k_layer.pxi.

import numpy as _np


def model_forward(model, input, hx=None, lengths=None):
    """model(input, hx=None, lengths=None) of a fastrnn model: its Stack's
    forward. The models' __call__ (a method, as this function binds like
    one): no Python frame between the call and the kernels' checks."""
    cdef Stack s = model._stack
    return s.forward(model, input, hx, lengths, model.batch_first)


cdef object _checked_forward(Stack s, model, input, hx, lengths, bint batch_first):
    """forward's result for a call the common path does not take: a cast,
    a non-contiguous input, states to cast, lengths, a torch
    PackedSequence, or an error. The model's checks (_check_input, _check_hx, _check_lengths) run
    before any cast or kernel; the caller's arrays are never written."""
    cdef type kind = type(input)
    if kind.__name__ == "PackedSequence" and kind.__module__.startswith("torch"):
        return model._forward_packed(input, hx, lengths)  # (torch is not imported here)
    x, batched, batch_major, L, N = model._check_input(input)
    h0 = c0 = None
    if hx is not None:
        states = model._check_hx(hx, batched, N)
        h0 = _np.asarray(states[0], s.dtype, order="C")
        if s.lstm:
            c0 = _np.asarray(states[1], s.dtype, order="C")
    seq_lens = None if lengths is None else model._check_lengths(lengths, N, L)
    x = _np.asarray(x, s.dtype, order="C")
    if seq_lens is not None and (seq_lens < L).any():
        out, hn, cn = _run_lengths(s, x, h0, c0, seq_lens, batch_major, L, N)
    else:
        out, hn, cn = s._run_arrays(x, h0, c0, None, L, N, batch_major, False)
    if not batched:
        out, hn = out[:, 0, :], hn[:, 0, :]
        cn = cn[:, 0, :] if cn is not None else None
    return (out, hn) if not s.lstm else (out, (hn, cn))


cdef tuple _run_lengths(Stack s, x, h0, c0, seq_lens, bint batch_major, Py_ssize_t L,
                        Py_ssize_t N):
    """The layers on the rows that run only, as torch's PackedSequence: the
    batch ordered by decreasing length (stable), step t's rows those still
    running. The input projections and the recurrence then cover
    sum(lengths) rows rather than N * L; the output is scattered back to the
    caller's layout with zeros past each length. Returns (out, hn, cn)."""
    order = _np.argsort(-seq_lens, kind="stable")
    lens = _np.ascontiguousarray(seq_lens[order], _np.int32)
    # (t, j) of every row that runs, t-major: PackedSequence.data's order
    t, j = _np.nonzero(lens > _np.arange(L)[:, None])
    n = order[j]
    rows = n * L + t if batch_major else t * N + n
    packed = _np.take(x.reshape(L * N, -1), rows, axis=0)
    h0 = None if h0 is None else _np.take(h0, order, axis=1)
    c0 = None if c0 is None else _np.take(c0, order, axis=1)
    out, hn, cn = s._run_arrays(packed, h0, c0, lens, L, N, False, True)
    output = _np.zeros((L * N, out.shape[1]), s.dtype)
    output[rows] = out
    inverse = _np.empty_like(order)
    inverse[order] = _np.arange(N)
    hn = _np.take(hn, inverse, axis=1)
    cn = None if cn is None else _np.take(cn, inverse, axis=1)
    return output.reshape(x.shape[:2] + (out.shape[1],)), hn, cn
