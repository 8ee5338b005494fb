# What the kernels call: C declarations (BLAS, the ISA tables, threads, scratch, AMX) and the activation codes.
# Included by fastrnn/_kernels.pyx (one extension module).

from libc.math cimport tanh, tanhf, exp, expf, log1p, log1pf, fabs, fabsf, INFINITY
from libc.limits cimport INT_MAX
from libc.stdlib cimport free, malloc

cdef extern from "<stdlib.h>" nogil:
    int posix_memalign(void** memptr, size_t alignment, size_t size) noexcept
from libc.string cimport memcpy, memmove, memset
from cython cimport floating
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBuffer_IsContiguous,
                            PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_STRIDES, PyBUF_WRITABLE)

from fastrnn._blas cimport (
    CblasRowMajor, CblasNoTrans, CblasTrans,
    scipy_cblas_sgemm, scipy_cblas_dgemm, scipy_cblas_sgemv, scipy_cblas_dgemv,
    scipy_openblas_set_num_threads, scipy_openblas_get_corename,
)

# The kernels call BLAS once per time step on small matrices, where OpenBLAS's
# own thread pool costs more than it gains (measured 2.4x slower at batch 1,
# H=128). This copy of OpenBLAS is fastrnn's alone: numpy and scipy bundle
# their own, so this setting does not reach them.
scipy_openblas_set_num_threads(1)

cdef extern from "_isa.h" nogil:
    ctypedef struct fastrnn_ahead:
        const float* packed
        const float* x
        float* gx
        Py_ssize_t gx_ld
        Py_ssize_t rows, M, K, p0, p1
    ctypedef struct fastrnn_isa:
        const char* name
        int lanes
        int fused_units
        int packed_auto
        int fused_auto
        int ahead_min_in, ahead_max_in, ahead_min_steps
        int packed_input_max
        Py_ssize_t dot_max_macs
        Py_ssize_t (*packed_size)(Py_ssize_t M, Py_ssize_t K) noexcept nogil
        void (*pack)(const float* w, Py_ssize_t M, Py_ssize_t K, float* packed) noexcept nogil
        void (*recurrent_step)(const float* packed, const float* h, Py_ssize_t h_ld, float* c,
                               Py_ssize_t c_ld, Py_ssize_t N, Py_ssize_t M, Py_ssize_t K,
                               int accumulate, int backwards) noexcept nogil
        void (*dot_step)(const float* w, Py_ssize_t w_ld, const float* h, Py_ssize_t h_ld,
                         float* c, Py_ssize_t c_ld, Py_ssize_t N, Py_ssize_t M, Py_ssize_t K,
                         int accumulate) noexcept nogil
        void (*lstm_step_row)(const float* packed, const float* h_prev, const float* gx,
                              const float* b, float* c, float* h, Py_ssize_t H,
                              int backwards) noexcept nogil
        void (*row_step_ahead)(const float* packed, const float* h, float* c, Py_ssize_t M,
                               Py_ssize_t K, int backwards, const fastrnn_ahead* ahead) noexcept nogil
        void (*gru_step_row)(const float* packed, const float* h_prev, const float* gx,
                             const float* b, const float* b_hn, float* h, Py_ssize_t H,
                             int backwards) noexcept nogil
        void (*lstm_cell)(const float* gx, const float* gh, const float* b, float* c, float* h,
                          Py_ssize_t H) noexcept nogil
        void (*gru_cell)(const float* gx, const float* gh, const float* b, const float* b_hn,
                         const float* h_prev, float* h, Py_ssize_t H) noexcept nogil
        void (*gru_reset)(const float* gx, float* gh, const float* b, const float* h_prev,
                          float* rh, Py_ssize_t H) noexcept nogil
        void (*gru_update)(const float* gx, const float* gh, const float* b,
                           const float* h_prev, float* h, Py_ssize_t H) noexcept nogil
        void (*bias_tanh)(float* row, const float* b_ih, const float* b_hh, Py_ssize_t n) noexcept nogil
        void (*bias_relu)(float* row, const float* b_ih, const float* b_hh, Py_ssize_t n) noexcept nogil
        void (*activation_array)(const float* x, float* out, Py_ssize_t n, int which) noexcept nogil
    void fastrnn_prefetch(const void* p, Py_ssize_t bytes) noexcept
    void fastrnn_ahead_rows(const float* x, Py_ssize_t x_ld, Py_ssize_t rows, Py_ssize_t K,
                            float* xt) noexcept
    const fastrnn_isa* fastrnn_isa_find(const char* name, const char** why) noexcept
    int fastrnn_isa_supported(const fastrnn_isa** out, int max) noexcept

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    int pthread_create(pthread_t* thread, const void* attr, void* (*start)(void*) noexcept nogil,
                       void* arg) noexcept
    int pthread_join(pthread_t thread, void** retval) noexcept

cdef extern from "_barrier.h" nogil:
    ctypedef struct fastrnn_barrier:
        pass
    void fastrnn_barrier_init(fastrnn_barrier* b, int threads) noexcept
    void fastrnn_barrier_wait(fastrnn_barrier* b, int* local_sense,
                              long long* starved_ns) noexcept
    long long fastrnn_now_ns() noexcept
    int fastrnn_split_allowed() noexcept
    void fastrnn_split_resume() noexcept
    int fastrnn_split_pausing
    int fastrnn_get_num_threads() noexcept
    void fastrnn_set_num_threads(int n) noexcept
    int fastrnn_thread_start(pthread_t* id, void* (*fn)(void*) noexcept nogil, void* arg,
                             int k) noexcept
    void fastrnn_split_report(long long wall_ns, long long starved_ns, int threads) noexcept
    int fastrnn_start_wait(const int* line) noexcept
    void fastrnn_start_open(int* line, int value) noexcept
    void fastrnn_count(long long* counter) noexcept
    int fastrnn_calls_enter() noexcept
    void fastrnn_calls_leave() noexcept

# Directions run on the fused one-row steps (fastrnn._testing.fused_calls).
cdef long long _fused_calls = 0
# Directions whose input projection ran inside their steps (ahead_calls).
cdef long long _ahead_calls = 0
# LSTM and GRU input projections run on the packed kernel (packed_projections).
cdef long long _packed_projections = 0
# Unsplit directions whose recurrent products ran on the packed kernel (packed_steps).
cdef long long _packed_steps = 0
# Directions whose products ran on w as it is (dot_calls).
cdef long long _dot_calls = 0
# Directions whose products ran on a frozen Layer's packed weights (frozen_calls).
cdef long long _frozen_calls = 0
cdef long long _common_calls = 0

cdef extern from "_scratch.h" nogil:
    void* fastrnn_scratch_take(size_t size) noexcept
    void fastrnn_scratch_give(void* block) noexcept
    void fastrnn_scratch_release() noexcept

cdef extern from "_amx.h" nogil:
    ctypedef unsigned short uint16_t
    int fastrnn_amx_init() noexcept
    Py_ssize_t fastrnn_amx_packed_size(Py_ssize_t M, Py_ssize_t K) noexcept
    Py_ssize_t fastrnn_amx_split_size(Py_ssize_t rows, Py_ssize_t K) noexcept
    int fastrnn_amx_pack(const float* w, Py_ssize_t M, Py_ssize_t K, uint16_t* out) noexcept
    int fastrnn_amx_finite(const float* w, Py_ssize_t n) noexcept
    Py_ssize_t fastrnn_amx_matmul(const float* a, Py_ssize_t a_ld, Py_ssize_t N, Py_ssize_t K,
                                  const uint16_t* w, Py_ssize_t M, float* c, Py_ssize_t c_ld,
                                  int accumulate, uint16_t* scratch, int backwards) noexcept
    enum: FASTRNN_AMX_CHUNK

# Activation codes, in the order ONNX lists them. `fastrnn.rnn` and the ONNX
# backend map names to these numbers through ACTIVATIONS.
cdef enum Activation:
    ACT_RELU = 0
    ACT_TANH = 1
    ACT_SIGMOID = 2
    ACT_AFFINE = 3
    ACT_LEAKY_RELU = 4
    ACT_THRESHOLDED_RELU = 5
    ACT_SCALED_TANH = 6
    ACT_HARD_SIGMOID = 7
    ACT_ELU = 8
    ACT_SOFTSIGN = 9
    ACT_SOFTPLUS = 10

ACTIVATIONS = {
    "relu": ACT_RELU, "tanh": ACT_TANH, "sigmoid": ACT_SIGMOID,
    "affine": ACT_AFFINE, "leakyrelu": ACT_LEAKY_RELU,
    "thresholdedrelu": ACT_THRESHOLDED_RELU, "scaledtanh": ACT_SCALED_TANH,
    "hardsigmoid": ACT_HARD_SIGMOID, "elu": ACT_ELU, "softsign": ACT_SOFTSIGN,
    "softplus": ACT_SOFTPLUS,
}

# Bytes of x per chunk of rows of an input projection on the packed kernel
# (input_projection): a chunk's rows stay in L2 while every column block of
# w passes over them (tools/perf_notes.md, input projection).
DEF PROJECT_CHUNK_BYTES = 262144
