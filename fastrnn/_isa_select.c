/* Which table of kernels runs: the best this CPU has, or the one asked for. */
#include <string.h>

#include "_isa.h"

extern const fastrnn_isa fastrnn_isa_generic;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTRNN_X86 1
extern const fastrnn_isa fastrnn_isa_avx512, fastrnn_isa_avx2;
#endif

int fastrnn_cpu_avx512f(void)
{
#ifdef FASTRNN_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

int fastrnn_cpu_avx2_fma(void)
{
#ifdef FASTRNN_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int fastrnn_isa_supported(const fastrnn_isa **out, int max)
{
    int n = 0;
#ifdef FASTRNN_X86
    if (fastrnn_cpu_avx512f() && n < max)
        out[n++] = &fastrnn_isa_avx512;
    if (fastrnn_cpu_avx2_fma() && n < max)
        out[n++] = &fastrnn_isa_avx2;
#endif
    if (n < max)
        out[n++] = &fastrnn_isa_generic;
    return n;
}

const fastrnn_isa *fastrnn_isa_find(const char *name, const char **why)
{
    const fastrnn_isa *all[3];
    int n = fastrnn_isa_supported(all, 3), i;
    if (name == NULL || name[0] == '\0' || strcmp(name, "auto") == 0)
        return all[0];
    for (i = 0; i < n; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
#ifdef FASTRNN_X86
    if (strcmp(name, "avx512") == 0) {
        *why = "this CPU has no AVX-512F";
        return NULL;
    }
    if (strcmp(name, "avx2") == 0) {
        *why = "this CPU has no AVX2 with FMA";
        return NULL;
    }
#endif
    *why = "no such path in this build";
    return NULL;
}
