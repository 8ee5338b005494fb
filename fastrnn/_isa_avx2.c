/* The kernels on AVX2 with FMA: 8 lanes, 16 vector registers (x86-64 only). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTRNN_TARGET __attribute__((target("avx2,fma")))
#define FASTRNN_VW 8
#define FASTRNN_VREGS 16
#define FASTRNN_FMA 1
#define FASTRNN_AHEAD_AUTO 96, 128, 256   /* 1.02-1.14x there; 0.92-1.07x elsewhere */
#define FASTRNN_PACKED_INPUT_MAX 512   /* 1.00-1.06x OpenBLAS; 0.95x at 1024 */
#define FASTRNN_DOT_MAX_MACS 3200000   /* GRU B=4 H=512 (3.1M) faster, LSTM (4.2M) not */
#define FASTRNN_ISA_TABLE fastrnn_isa_avx2
#define FASTRNN_ISA_NAME "avx2"
#define FASTRNN_PACKED_AUTO 1
#define FASTRNN_FUSED_AUTO 0   /* 0.55-0.9x the unfused step + cell */
#include "_isa_kernels.h"
#else
typedef int fastrnn_isa_avx2_absent; /* (an empty file is not ISO C) */
#endif
