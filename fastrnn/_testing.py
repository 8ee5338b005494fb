"""The kernels' hooks for fastrnn's tests and tools, in one place; not API.

What the kernels did: path_calls() (calls per instruction-set path),
split_calls() (calls whose hidden units ran split between threads),
fused_calls() (directions run on the fused one-row steps; recurrent="fused"
forces those wherever they apply), ahead_calls() (directions whose input
projection ran inside their one-row steps; recurrent="ahead" forces it wherever
it applies), packed_projections() (LSTM and GRU input projections run on the
packed kernel), common_calls() (model calls the Stack ran as they came, without the
model's checks and casts) and rows_run() (rows given to layer calls).
Switches: set_split_pausing(on) (a starved split pauses splitting; off, every
split the plan makes runs). Rules: use_packed_step(L, N) ("auto"'s choice of
the packed step kernel on the current path). The activations as the kernels
compute them: activation_f32(name, x, out).
"""
from fastrnn._kernels import (activation_f32, ahead_calls, common_calls, fused_calls,
                              packed_projections, path_calls, rows_run, set_split_pausing,
                              split_calls, use_packed_step)

__all__ = ["activation_f32", "ahead_calls", "common_calls", "fused_calls", "packed_projections",
           "path_calls", "rows_run", "set_split_pausing", "split_calls", "use_packed_step"]
