"""Recurrent kernels: one call runs every time step of one layer, all directions.

One way in. `Layer` checks a layer's weights and settings once, when it is
built (by a model's constructor, by the ONNX backend at prepare, or for one
run of a node whose weights come at run time); `Layer.run` checks only what a
call brings and runs the layer on buffers the caller gives. A model holds its
layers in a `Stack`, whose `forward` is the model's call: it checks the call
once, allocates the results and runs the layers in turn. Both fill a `Spec` (the
layer) and a `Call` (its buffers) and run `run_layer`: one scratch block per
call (kept for the next, see _scratch.h), then every direction in one
`with nogil:` block (the two directions of a bidirectional layer on two
threads, or a unidirectional layer's hidden units split between threads,
when it pays). Below it, the leaf functions take raw pointers and sizes,
never allocate and never raise. A float32 product runs on OpenBLAS, on
fastrnn's packed step kernel (_step.h) or, on CPUs with AMX tiles, on those
(_amx.h), as measured.

Shapes are written as suffixes: `x__ri` is (rows, input), `w_hh__hh` is (H, H),
`g` is the gate rows G*H (4H for LSTM, 3H for GRU) and `p` the LSTM's
projected size (H without projection).
A "row" is one (time step, batch item) pair. In time-major layout the row of
(t, n) is t*N + n; in batch-major layout it is n*L + t. The output shares the
input's row order; the gated layers' input projection scratch is time-major
when w is packed once for it (project_steps).

The source, by concern, in the order it is included: _k_decl.pxi (C
declarations), _k_cells.pxi (a direction's loops and cells), _k_paths.pxi
(which kernels a call takes), _k_run.pxi (Spec, Call, one direction),
_k_split.pxi (threads, AMX, the scratch of a call, run_layer), _k_layer.pxi
(Layer, Stack, the buffer checks), _k_call.pxi (a model's call checked and
run). The float32 kernels themselves are C:
_isa.h and the files it names.
"""

include "_k_decl.pxi"
include "_k_cells.pxi"
include "_k_paths.pxi"
include "_k_run.pxi"
include "_k_split.pxi"
include "_k_layer.pxi"
include "_k_call.pxi"
