/* A barrier for the few threads that share one recurrent layer's time steps.
 *
 * When a layer's hidden units are split between threads, every thread needs
 * the whole h_{t-1} before it starts step t: each step ends with this
 * barrier. A step takes microseconds, so the threads spin (pthread's barrier
 * sleeps in the kernel, ~10x the cost); after 256 pauses (~10 us) a waiting
 * thread yields its core at every turn, so that on a machine with more busy
 * threads than cores the thread it waits for gets to run.
 * Sense-reversing: the last thread to arrive resets the count and flips the
 * sense the others wait on; each thread keeps its own sense.
 */
#ifndef FASTRNN_BARRIER_H
#define FASTRNN_BARRIER_H

#include <pthread.h>
#include <sched.h>
#include <time.h>

static inline long long fastrnn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

typedef struct {
    int count;   /* threads arrived in this round */
    int sense;   /* flipped by the last thread of each round */
    int threads;
} fastrnn_barrier;

static inline void fastrnn_barrier_init(fastrnn_barrier *b, int threads)
{
    b->count = 0;
    b->sense = 0;
    b->threads = threads;
}

/* Kernel calls running now in this process, over every Python thread: a
 * call splits its work between threads only when it runs alone, and while
 * others run a waiting thread gives its core away at once. */
static int fastrnn_active_calls;

static inline int fastrnn_calls_enter(void)
{
    return __atomic_add_fetch(&fastrnn_active_calls, 1, __ATOMIC_ACQ_REL);
}

static inline void fastrnn_calls_leave(void)
{
    __atomic_sub_fetch(&fastrnn_active_calls, 1, __ATOMIC_ACQ_REL);
}

/* A counter of what the kernels ran (fastrnn._testing), from any thread. */
static inline void fastrnn_count(long long *counter)
{
    __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

/* Threads one kernel call may use (fastrnn.set_num_threads), read once per
 * call. Exported from the module (threadpoolctl's controller calls them,
 * see fastrnn/_threadpool.py). */
static int fastrnn_num_threads = 1;

__attribute__((visibility("default"))) int fastrnn_get_num_threads(void)
{
    return __atomic_load_n(&fastrnn_num_threads, __ATOMIC_RELAXED);
}

__attribute__((visibility("default"))) void fastrnn_set_num_threads(int n)
{
    if (n >= 1)
        __atomic_store_n(&fastrnn_num_threads, n, __ATOMIC_RELAXED);
}

/* Splitting is paused after a split call whose threads spent more than a
 * quarter of their time waiting past the spin budget: the machine's cores
 * are busy with other work (other processes, which the count above does
 * not see), and every step would wait for the scheduler. The pause starts
 * at 0.5 s and doubles while split calls keep starving, up to 30 s; a call
 * that does not starve resets it. */
static long long fastrnn_split_paused_until;
static long long fastrnn_split_pause;
static int fastrnn_split_pausing = 1;   /* 0: never pause (the tests that check a split ran) */

static inline int fastrnn_split_allowed(void)
{
    return fastrnn_now_ns() >= __atomic_load_n(&fastrnn_split_paused_until, __ATOMIC_RELAXED);
}

static inline void fastrnn_split_resume(void)
{
    __atomic_store_n(&fastrnn_split_pause, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fastrnn_split_paused_until, 0, __ATOMIC_RELAXED);
}

static inline void fastrnn_split_report(long long wall_ns, long long starved_ns, int threads)
{
    long long pause;
    if (4 * starved_ns <= wall_ns * threads || !__atomic_load_n(&fastrnn_split_pausing, __ATOMIC_RELAXED)) {
        __atomic_store_n(&fastrnn_split_pause, 0, __ATOMIC_RELAXED);
        return;
    }
    pause = __atomic_load_n(&fastrnn_split_pause, __ATOMIC_RELAXED);
    pause = pause ? (pause >= 15000000000LL ? 30000000000LL : 2 * pause) : 500000000LL;
    __atomic_store_n(&fastrnn_split_pause, pause, __ATOMIC_RELAXED);
    __atomic_store_n(&fastrnn_split_paused_until, fastrnn_now_ns() + pause, __ATOMIC_RELAXED);
}

/* Spin for a while, then give the core away: an oversubscribed machine
 * still moves on. */
static inline void fastrnn_spin(unsigned *spins)
{
    if (++*spins < 256 && __atomic_load_n(&fastrnn_active_calls, __ATOMIC_RELAXED) <= 1) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        sched_yield();
    }
}

/* Wait for every thread; *starved_ns grows by the time waited past the
 * spin budget (what fastrnn_split_report judges). */
static inline void fastrnn_barrier_wait(fastrnn_barrier *b, int *local_sense,
                                        long long *starved_ns)
{
    int sense = !*local_sense;
    unsigned spins = 0;
    long long since = 0;
    *local_sense = sense;
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == b->threads) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->sense, sense, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != sense) {
        fastrnn_spin(&spins);
        if (spins == 256)
            since = fastrnn_now_ns();
    }
    if (since)
        *starved_ns += fastrnn_now_ns() - since;
}

/* A start line: threads wait at it until the thread that started them
 * opens it with 1 (go) or -1 (not every thread could be started: return). */
static inline int fastrnn_start_wait(const int *line)
{
    unsigned spins = 0;
    int v;
    while ((v = __atomic_load_n(line, __ATOMIC_ACQUIRE)) == 0)
        fastrnn_spin(&spins);
    return v;
}

static inline void fastrnn_start_open(int *line, int value)
{
    __atomic_store_n(line, value, __ATOMIC_RELEASE);
}

/* Start a thread for slice k (1..) on the k-th of the process's CPUs after
 * the caller's, when there are that many: a thread that lives for one call
 * started where the scheduler first puts it often shared its creator's
 * core for the whole call (measured: a split LSTM B=1 H=256 call at 1.6 ms
 * instead of 0.66 in some processes). (Python.h defines _GNU_SOURCE.) */
static inline int fastrnn_thread_start(pthread_t *id, void *(*fn)(void *), void *arg, int k)
{
    int rc;
#if defined(__linux__) && defined(CPU_SET)
    pthread_attr_t attr;
    cpu_set_t allowed, one;
    int cur = sched_getcpu(), i, seen = 0, target = -1;
    if (cur >= 0 && sched_getaffinity(0, sizeof allowed, &allowed) == 0
            && CPU_ISSET(cur, &allowed) && CPU_COUNT(&allowed) > k) {
        for (i = 1; i < CPU_SETSIZE && target < 0; i++) {
            int cpu = (cur + i) % CPU_SETSIZE;
            if (CPU_ISSET(cpu, &allowed) && ++seen == k)
                target = cpu;
        }
    }
    if (target >= 0 && pthread_attr_init(&attr) == 0) {
        CPU_ZERO(&one);
        CPU_SET(target, &one);
        pthread_attr_setaffinity_np(&attr, sizeof one, &one);
        rc = pthread_create(id, &attr, fn, arg);
        pthread_attr_destroy(&attr);
        return rc;
    }
#endif
    rc = pthread_create(id, NULL, fn, arg);
    return rc;
}

#endif
