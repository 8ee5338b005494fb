/* Kernel scratch kept between calls.
 *
 * A call's scratch (the input projection of every step, packed weights,
 * the outputs between layers) can be tens of MB. Freed, glibc returns a
 * block that large to the OS, and the next call's fresh pages fault in
 * again: 8-10% of an LSTM call at B = 64, L = 50, H = 512 went to the
 * kernel's page faults (perf). So the last blocks given back, up to
 * FASTRNN_SCRATCH_KEEP bytes each, wait in two slots for the next call;
 * concurrent calls take and give them with atomic exchanges, and a call
 * that finds no block large enough allocates its own.
 *
 * Blocks are 64-byte aligned; the 64 bytes before one hold its size.
 */
#ifndef FASTRNN_SCRATCH_H
#define FASTRNN_SCRATCH_H

#include <stddef.h>
#include <stdlib.h>

#define FASTRNN_SCRATCH_KEEP ((size_t)64 << 20)
#define FASTRNN_SCRATCH_SLOTS 2

static char *fastrnn_scratch_slot[FASTRNN_SCRATCH_SLOTS];

static inline size_t fastrnn_scratch_size(const char *block)
{
    return *(const size_t *)(block - 64);
}

/* A 64-byte aligned block of at least `size` bytes, or NULL. */
static void *fastrnn_scratch_take(size_t size)
{
    char *block, *empty = NULL;
    void *raw;
    int i;
    for (i = 0; i < FASTRNN_SCRATCH_SLOTS; i++) {
        block = __atomic_exchange_n(&fastrnn_scratch_slot[i], empty, __ATOMIC_ACQ_REL);
        if (block == NULL)
            continue;
        if (fastrnn_scratch_size(block) >= size)
            return block;
        /* too small for this call: back where it was, if the slot is still free */
        if (!__atomic_compare_exchange_n(&fastrnn_scratch_slot[i], &empty, block, 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            free(block - 64);
        empty = NULL;
    }
    if (size > (size_t)-1 - 64 || posix_memalign(&raw, 64, size + 64) != 0)
        return NULL;
    block = (char *)raw + 64;
    *(size_t *)raw = size;
    return block;
}

/* Give back a block from fastrnn_scratch_take (NULL: nothing). */
static void fastrnn_scratch_give(void *p)
{
    char *block = (char *)p, *old, *empty;
    int i;
    if (block == NULL)
        return;
    if (fastrnn_scratch_size(block) <= FASTRNN_SCRATCH_KEEP) {
        for (i = 0; i < FASTRNN_SCRATCH_SLOTS; i++) {
            empty = NULL;
            if (__atomic_compare_exchange_n(&fastrnn_scratch_slot[i], &empty, block, 0,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return;
        }
        /* both slots full: keep the larger blocks. A block still in a slot
         * is not ours to read (another call may take and free it at any
         * moment), so take it out first, then put the larger back. */
        for (i = 0; i < FASTRNN_SCRATCH_SLOTS; i++) {
            old = __atomic_exchange_n(&fastrnn_scratch_slot[i], (char *)NULL, __ATOMIC_ACQ_REL);
            if (old != NULL) {
                if (fastrnn_scratch_size(old) > fastrnn_scratch_size(block)) {
                    empty = old;
                    old = block;
                    block = empty;
                }
                free(old - 64);  /* the smaller one */
            }
            empty = NULL;
            if (__atomic_compare_exchange_n(&fastrnn_scratch_slot[i], &empty, block, 0,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return;
        }
    }
    free(block - 64);
}

/* Free the blocks kept (for tests and memory checks). */
static void fastrnn_scratch_release(void)
{
    int i;
    char *block;
    for (i = 0; i < FASTRNN_SCRATCH_SLOTS; i++) {
        block = __atomic_exchange_n(&fastrnn_scratch_slot[i], (char *)NULL, __ATOMIC_ACQ_REL);
        if (block != NULL)
            free(block - 64);
    }
}

#endif
