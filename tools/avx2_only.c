/* avx2_only.so: make this process see an x86-64 CPU without AVX-512 and AMX.
 *
 * Loaded with LD_PRELOAD, it turns on CPUID faulting for the process
 * (arch_prctl ARCH_SET_CPUID, Linux >= 4.12, CPUs that list `cpuid_fault` in
 * /proc/cpuinfo), so that every CPUID instruction traps.  The SIGSEGV handler
 * runs the real CPUID with faulting briefly off, clears the AVX-512 and AMX
 * feature bits, and steps over the instruction.  Every library that asks the
 * CPU what it has -- onnxruntime's MLAS, torch's ATen and oneDNN, OpenBLAS,
 * numpy and fastrnn itself -- then chooses its AVX2 code, as on an AVX2-only
 * machine of the same microarchitecture.  Only a benchmark tool: see
 * tools/bench_avx2_only.sh.  CPUID faulting is per thread and inherited by
 * threads created later; glibc's own choices (made before this library loads)
 * are not changed.  Only Python processes are masked: a child such as gcc,
 * which installs a SIGSEGV handler of its own, runs as it is.
 *
 * Build and run: tools/bench_avx2_only.sh COMMAND...
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static struct sigaction previous;
static volatile int active;

static void set_faulting(int on)
{
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1);
}

/* Leaf 7 subleaf 0: EBX avx512f(16) dq(17) ifma(21) pf(26) er(27) cd(28)
 * bw(30) vl(31); ECX vbmi(1) vbmi2(6) vnni(11) bitalg(12) vpopcntdq(14);
 * EDX 4vnniw(2) 4fmaps(3) vp2intersect(8) fp16(23) amx-bf16(22) amx-tile(24)
 * amx-int8(25).  Leaf 7 subleaf 1: EAX avx512_bf16(5).  Leaf 0xD subleaf 0:
 * XCR0-supported bits of the opmask/ZMM (5-7) and tile (17-18) state. */
static void mask(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    if (leaf == 7 && sub == 0) {
        r[1] &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) |
                  (1u << 28) | (1u << 30) | (1u << 31));
        r[2] &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        r[3] &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) |
                  (1u << 24) | (1u << 25));
    } else if (leaf == 7 && sub == 1) {
        r[0] &= ~(1u << 5);
    } else if (leaf == 0xD && sub == 0) {
        r[0] &= ~((1u << 5) | (1u << 6) | (1u << 7) | (1u << 17) | (1u << 18));
    }
}

static void on_segv(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    greg_t *g = uc->uc_mcontext.gregs;
    const unsigned char *pc = (const unsigned char *)g[REG_RIP];
    if (active && pc[0] == 0x0F && pc[1] == 0xA2) {
        uint32_t r[4];
        uint32_t leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX];
        set_faulting(0);
        __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
        set_faulting(1);
        mask(leaf, sub, r);
        g[REG_RAX] = r[0];
        g[REG_RBX] = r[1];
        g[REG_RCX] = r[2];
        g[REG_RDX] = r[3];
        g[REG_RIP] += 2;
        return;
    }
    /* Not ours: hand the fault to whoever had SIGSEGV before. */
    sigaction(SIGSEGV, &previous, NULL);
    if (previous.sa_flags & SA_SIGINFO && previous.sa_sigaction)
        previous.sa_sigaction(sig, info, context);
    else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN)
        previous.sa_handler(sig);
}

__attribute__((constructor)) static void start(void)
{
    struct sigaction sa;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = 0;
    if (strstr(strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe, "python") == NULL)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &previous) != 0)
        return;
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
        perror("avx2_only: arch_prctl(ARCH_SET_CPUID) (no cpuid_fault on this CPU?)");
        sigaction(SIGSEGV, &previous, NULL);
        return;
    }
    active = 1;
    if (getenv("AVX2_ONLY_VERBOSE"))
        fprintf(stderr, "avx2_only: CPUID faulting on, AVX-512 and AMX hidden\n");
}
