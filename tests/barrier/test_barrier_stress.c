/*
 * The barrier and the gate under real threads: more threads than cores, so
 * waiters are preempted mid-spin and rounds overlap in every order the
 * scheduler finds. Shared data is written with plain stores on purpose: only
 * the primitives' own ordering makes it visible, which is what the checks
 * (and, in the TSan build, ThreadSanitizer) verify.
 *
 * Threads never call CMocka asserts (they are not thread-safe); they count
 * failures, and the main thread asserts on the counts after joining.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "smpboot/barrier.h"

#define STRESS_THREADS 8
#define STRESS_ROUNDS 3000
#define GATE_TRIALS 300
/* A bound, not a timing expectation: generous enough for TSan on a busy machine. */
#define STRESS_WAIT_NS (20ull * 1000 * 1000 * 1000)

static uint64_t monotonic_now_ns(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* With more threads than cores, spinning without yielding starves the late arrivers. */
static void yield_relax(void *ctx)
{
    (void)ctx;
    sched_yield();
}

static const struct smpboot_waiter stress_waiter = {
    .ctx = NULL, .now_ns = monotonic_now_ns, .relax = yield_relax,
};

struct stress {
    struct smpboot_barrier barrier;
    uint32_t arrived[STRESS_THREADS];
    struct smpboot_gate gate;
    /* Plain (non-atomic) shared data, ordered only by the barrier or gate. */
    uint64_t slot[STRESS_THREADS];
    uint64_t payload[4];
    /* Failure counts, atomic because every thread adds to them. */
    unsigned wait_failures;
    unsigned stale_reads;
};

struct worker {
    struct stress *stress;
    uint32_t self;
};

static void count(unsigned *counter)
{
    __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static bool arrive(struct stress *s, uint32_t self)
{
    if (smpboot_barrier_wait(&s->barrier, self, STRESS_WAIT_NS) == SMPBOOT_OK)
        return true;
    /* Stop here; the others then time out in turn, so the test still ends. */
    count(&s->wait_failures);
    return false;
}

static uint64_t slot_value(uint64_t round, uint32_t thread)
{
    return round * STRESS_THREADS + thread + 1;
}

/*
 * Each round: write our slot, meet, check that every slot holds this round's
 * value, meet again so nobody overwrites a slot still being read.
 */
static void *barrier_worker(void *arg)
{
    struct worker *w = arg;
    struct stress *s = w->stress;

    for (uint64_t round = 0; round < STRESS_ROUNDS; round++) {
        s->slot[w->self] = slot_value(round, w->self);
        if (!arrive(s, w->self))
            break;
        for (uint32_t t = 0; t < STRESS_THREADS; t++) {
            if (s->slot[t] != slot_value(round, t))
                count(&s->stale_reads);
        }
        if (!arrive(s, w->self))
            break;
    }
    return NULL;
}

static void run_workers(struct stress *s, void *(*body)(void *))
{
    pthread_t threads[STRESS_THREADS];
    struct worker workers[STRESS_THREADS];

    for (uint32_t t = 0; t < STRESS_THREADS; t++) {
        workers[t] = (struct worker){ .stress = s, .self = t };
        assert_int_equal(pthread_create(&threads[t], NULL, body, &workers[t]), 0);
    }
    for (uint32_t t = 0; t < STRESS_THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
}

static void barrier_rounds_publish_every_write(void **state)
{
    (void)state;
    static struct stress s;

    s = (struct stress){ 0 };
    assert_int_equal(smpboot_barrier_init(&s.barrier, STRESS_THREADS, s.arrived, &stress_waiter),
                     SMPBOOT_OK);
    run_workers(&s, barrier_worker);

    assert_int_equal(s.wait_failures, 0);
    assert_int_equal(s.stale_reads, 0);
    assert_int_equal(s.barrier.generation, 2 * STRESS_ROUNDS);
    assert_int_equal(s.barrier.remaining, STRESS_THREADS);
}

/*
 * Each trial, a different thread fills the payload and opens the gate; the
 * others pass it and must see the whole payload. The barrier separates
 * trials so the gate is only re-initialised while nobody waits on it.
 */
static void *gate_worker(void *arg)
{
    struct worker *w = arg;
    struct stress *s = w->stress;

    for (uint64_t trial = 0; trial < GATE_TRIALS; trial++) {
        uint32_t opener = (uint32_t)(trial % STRESS_THREADS);

        if (w->self == opener) {
            for (size_t i = 0; i < 4; i++)
                s->payload[i] = trial * 4 + i;
            smpboot_gate_open(&s->gate);
        } else {
            if (smpboot_gate_wait(&s->gate, STRESS_WAIT_NS) != SMPBOOT_OK) {
                count(&s->wait_failures);
                break;
            }
            for (size_t i = 0; i < 4; i++) {
                if (s->payload[i] != trial * 4 + i)
                    count(&s->stale_reads);
            }
        }
        if (!arrive(s, w->self))
            break;
        if (w->self == opener &&
            smpboot_gate_init(&s->gate, &stress_waiter) != SMPBOOT_OK)
            count(&s->wait_failures);
        if (!arrive(s, w->self))
            break;
    }
    return NULL;
}

static void gate_publishes_opener_writes(void **state)
{
    (void)state;
    static struct stress s;

    s = (struct stress){ 0 };
    assert_int_equal(smpboot_barrier_init(&s.barrier, STRESS_THREADS, s.arrived, &stress_waiter),
                     SMPBOOT_OK);
    assert_int_equal(smpboot_gate_init(&s.gate, &stress_waiter), SMPBOOT_OK);
    run_workers(&s, gate_worker);

    assert_int_equal(s.wait_failures, 0);
    assert_int_equal(s.stale_reads, 0);
    assert_int_equal(s.barrier.generation, 2 * GATE_TRIALS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(barrier_rounds_publish_every_write),
        cmocka_unit_test(gate_publishes_opener_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
