"""The kernels' hooks for fastrnn's tests and tools, in one place; not API.

What the kernels did: path_calls() (calls per instruction-set path),
split_calls() (calls whose hidden units ran split between threads),
fused_calls() (directions run on the fused one-row steps; recurrent="fused"
forces those wherever they apply), ahead_calls() (directions whose input
projection ran inside their one-row steps; recurrent="ahead" forces it wherever
it applies), packed_projections() (LSTM and GRU input projections run on the
packed kernel), packed_steps() (directions whose recurrent products ran on the
packed step kernel), dot_calls() (directions whose products ran on the weights
as they are, a call of one step; recurrent="dot" forces it), frozen_calls()
(directions whose products ran on a frozen Layer's weights, packed when it was
built, nothing packed by the call), common_calls()
(model calls the Stack ran as they came, without the model's checks and casts)
and rows_run() (rows given to layer calls).
Switches: set_split_pausing(on) (a starved split pauses splitting; off, every
split the plan makes runs), set_blas_repacks(on) ("auto" decides as if
OpenBLAS's core lacked (on) or had small-matrix kernels; blas_repacks() says
which it does now). Rules: use_packed_step(L, N, H) ("auto"'s choice of the
packed step kernel on the current path). The activations as the kernels
compute them: activation_f32(name, x, out).
"""
from fastrnn._kernels import (activation_f32, ahead_calls, blas_core, blas_repacks, common_calls,
                              dot_calls, frozen_calls, fused_calls, packed_projections,
                              packed_steps,
                              path_calls, rows_run, set_blas_repacks, set_split_pausing,
                              split_calls, use_packed_step)

__all__ = ["activation_f32", "ahead_calls", "blas_core", "blas_repacks", "common_calls",
           "dot_calls", "frozen_calls", "fused_calls", "packed_projections", "packed_steps", "path_calls",
           "rows_run", "set_blas_repacks", "set_split_pausing", "split_calls", "use_packed_step"]
