# The one place fastrnn declares BLAS.
#
# These are the `scipy_`-prefixed CBLAS symbols of the OpenBLAS shipped in the
# `scipy-openblas32` wheel (32-bit integers: every size and leading dimension
# passed here must fit in an int; the Python layer checks that).

cdef extern from "cblas.h" nogil:
    ctypedef int blasint

    enum CBLAS_ORDER:
        CblasRowMajor
        CblasColMajor

    enum CBLAS_TRANSPOSE:
        CblasNoTrans
        CblasTrans

    # Level 2: y = alpha * op(A) @ x + beta * y
    void scipy_cblas_sgemv(CBLAS_ORDER order, CBLAS_TRANSPOSE trans,
                           blasint m, blasint n, float alpha,
                           const float *a, blasint lda,
                           const float *x, blasint incx,
                           float beta, float *y, blasint incy) noexcept
    void scipy_cblas_dgemv(CBLAS_ORDER order, CBLAS_TRANSPOSE trans,
                           blasint m, blasint n, double alpha,
                           const double *a, blasint lda,
                           const double *x, blasint incx,
                           double beta, double *y, blasint incy) noexcept

    # Level 3: C = alpha * op(A) @ op(B) + beta * C
    void scipy_cblas_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE transa,
                           CBLAS_TRANSPOSE transb, blasint m, blasint n,
                           blasint k, float alpha, const float *a, blasint lda,
                           const float *b, blasint ldb,
                           float beta, float *c, blasint ldc) noexcept
    void scipy_cblas_dgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE transa,
                           CBLAS_TRANSPOSE transb, blasint m, blasint n,
                           blasint k, double alpha, const double *a, blasint lda,
                           const double *b, blasint ldb,
                           double beta, double *c, blasint ldc) noexcept

    # Threading of OpenBLAS's own pool
    void scipy_openblas_set_num_threads(int num_threads) noexcept
    int scipy_openblas_get_num_threads() noexcept
    # The kernels' core OpenBLAS chose for this CPU ("Haswell", "SkylakeX", ...)
    char* scipy_openblas_get_corename() noexcept
