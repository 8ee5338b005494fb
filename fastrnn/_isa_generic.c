/* The kernels on the baseline vectors of the machine the build targets:
 * 4 lanes of SSE2 (16 registers) on x86-64, of NEON (32 registers) on
 * ARM64, what the compiler makes of 4-lane vectors elsewhere. */
#define FASTRNN_VW 4
#if defined(__aarch64__)
#define FASTRNN_VREGS 32
#define FASTRNN_ISA_NAME "neon"
#define FASTRNN_PACKED_AUTO 1
#elif defined(__x86_64__)
#define FASTRNN_VREGS 16
#define FASTRNN_ISA_NAME "sse2"
#define FASTRNN_PACKED_AUTO 0
#else
#define FASTRNN_VREGS 16
#define FASTRNN_ISA_NAME "generic"
#define FASTRNN_PACKED_AUTO 0
#endif
#define FASTRNN_FUSED_AUTO 0   /* not measured on NEON: the unfused step + cell */
#define FASTRNN_AHEAD_AUTO 0, 0, 0   /* not measured on NEON */
#define FASTRNN_PACKED_INPUT_MAX 128   /* (not measured past min(P, 128) on NEON) */
#define FASTRNN_DOT_MAX_MACS 0   /* not measured on NEON: one-step calls packed */
#define FASTRNN_ISA_TABLE fastrnn_isa_generic
#include "_isa_kernels.h"
