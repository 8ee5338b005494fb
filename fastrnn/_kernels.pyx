"""Recurrent kernels: one call runs every time step of one layer, all directions.

Ways in, one core. `Layer` checks a layer's weights and settings once, when
the model is built; a model holds its layers in a `Stack`, whose `run` and
`forward` check only what a call brings, allocate the results and run the
layers in turn (`Layer.run` runs one layer on buffers the caller gives). The
entry points `rnn_layer`, `lstm_layer` and `gru_layer` (the ONNX backend's,
the tests') take typed memoryviews and check every shape on every call. All
fill a `Spec` (the layer) and a `Call` (its buffers) and run `run_layer`: one
scratch block per call (kept for the next, see _scratch.h), then every
direction in one `with nogil:` block (the
two directions of a bidirectional layer on two threads, or a unidirectional
layer's hidden units split between threads, when it pays). Below it, the leaf
functions take raw pointers and sizes, never allocate and never raise. A
float32 product runs on OpenBLAS, on fastrnn's packed step kernel
(_recurrent.h) or, on CPUs with AMX tiles, on those (_amx.h), as measured.

Shapes are written as suffixes: `x__ri` is (rows, input), `w_hh__hh` is (H, H),
`g` is the gate rows G*H (4H for LSTM, 3H for GRU) and `p` the LSTM's
projected size (H without projection).
A "row" is one (time step, batch item) pair. In time-major layout the row of
(t, n) is t*N + n; in batch-major layout it is n*L + t. The input and output
buffers share that row order, so the input projection of every time step is a
single GEMM whatever the layout.

The source, by concern, in the order it is included: _k_decl.pxi (C
declarations), _k_cells.pxi (a direction's loops and cells), _k_paths.pxi
(which kernels a call takes), _k_run.pxi (Spec, Call, one direction),
_k_split.pxi (threads, AMX, the scratch of a call, run_layer), _k_entry.pxi
(the per-call entry points), _k_layer.pxi (Layer, Stack). The float32 kernels
themselves are C: _isa.h and the files it names.
"""

include "_k_decl.pxi"
include "_k_cells.pxi"
include "_k_paths.pxi"
include "_k_run.pxi"
include "_k_split.pxi"
include "_k_entry.pxi"
include "_k_layer.pxi"
