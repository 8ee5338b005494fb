/* The body of each fastrnn/_isa_*.c: every float32 kernel at the width that
 * file sets, and its table. FASTRNN_ISA_TABLE names the table,
 * FASTRNN_ISA_NAME the path, FASTRNN_PACKED_AUTO whether "auto" takes the
 * packed kernel on it, FASTRNN_FUSED_AUTO whether one-row steps take the
 * fused kernels, FASTRNN_AHEAD_AUTO where one-row steps project later
 * rows among their sums (input features from, to, steps from),
 * FASTRNN_PACKED_INPUT_MAX up to how many input features LSTM and GRU
 * layers project on the packed kernel, FASTRNN_DOT_MAX_MACS up to how many
 * multiply-adds per step a call of one step runs on dot_step (as measured:
 * tools/perf_notes.md). */
#include "_isa.h"
#include "_step.h"

const fastrnn_isa FASTRNN_ISA_TABLE = {
    FASTRNN_ISA_NAME,
    FASTRNN_VW,
    FASTRNN_FUSED_UNITS,
    FASTRNN_PACKED_AUTO,
    FASTRNN_FUSED_AUTO,
    FASTRNN_AHEAD_AUTO,  /* ahead_min_in, ahead_max_in, ahead_min_steps */
    FASTRNN_PACKED_INPUT_MAX,
    FASTRNN_DOT_MAX_MACS,
    fastrnn_packed_size,
    fastrnn_pack,
    fastrnn_recurrent_step_f32,
    fastrnn_dot_step_f32,
    fastrnn_lstm_step_row_f32,
    fastrnn_row_step_ahead_f32,
    fastrnn_gru_step_row_f32,
    fastrnn_lstm_cell_f32,
    fastrnn_gru_cell_f32,
    fastrnn_gru_reset_f32,
    fastrnn_gru_update_f32,
    fastrnn_bias_tanh_f32,
    fastrnn_bias_relu_f32,
    fastrnn_activation_array_f32,
};
