/* The kernels on AVX-512F: 16 lanes, 32 vector registers (x86-64 only). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTRNN_TARGET __attribute__((target("avx512f")))
#define FASTRNN_VW 16
#define FASTRNN_VREGS 32
#define FASTRNN_AHEAD_AUTO 32, 256, 8   /* 0.99-1.29x wherever it runs */
#define FASTRNN_DOT_MAX_MACS 4200000   /* measured up to LSTM B=4 H=512 */
#define FASTRNN_PACKED_INPUT_MAX 1024   /* 1.00-1.05x OpenBLAS up to there */
#define FASTRNN_ISA_TABLE fastrnn_isa_avx512
#define FASTRNN_ISA_NAME "avx512"
#define FASTRNN_PACKED_AUTO 1
#define FASTRNN_FUSED_AUTO 1
#include "_isa_kernels.h"
#else
typedef int fastrnn_isa_avx512_absent; /* (an empty file is not ISO C) */
#endif
