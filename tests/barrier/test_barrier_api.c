/*
 * The barrier and gate API, driven from one thread. A fake clock advances a
 * fixed step on every read, so timeouts are reached after a known number of
 * reads rather than after real time; the relax hook stands in for the other
 * CPUs when a test needs a wait to end some other way than by timing out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "smpboot/barrier.h"

struct fake_cpu {
    uint64_t now;
    uint64_t step;
    unsigned clock_reads;
    unsigned relaxes;
    /* On this relax call (1-based), run on_relax; 0 means never. */
    unsigned act_on_relax;
    void (*on_relax)(struct fake_cpu *cpu);
    struct smpboot_barrier *barrier;
    struct smpboot_gate *gate;
    enum smpboot_status other_status;
};

static uint64_t fake_now_ns(void *ctx)
{
    struct fake_cpu *cpu = ctx;

    cpu->clock_reads++;
    cpu->now += cpu->step;
    return cpu->now;
}

static void fake_relax(void *ctx)
{
    struct fake_cpu *cpu = ctx;

    cpu->relaxes++;
    if (cpu->on_relax && cpu->relaxes == cpu->act_on_relax)
        cpu->on_relax(cpu);
}

static struct smpboot_waiter fake_waiter(struct fake_cpu *cpu)
{
    struct smpboot_waiter waiter = { .ctx = cpu, .now_ns = fake_now_ns, .relax = fake_relax };
    return waiter;
}

static void fake_cpu_reset(struct fake_cpu *cpu)
{
    *cpu = (struct fake_cpu){ .now = 1000, .step = 100 };
}

/* ---- barrier: arguments ---- */

static void barrier_init_rejects_bad_arguments(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    struct smpboot_barrier barrier;
    uint32_t arrived[2];

    assert_int_equal(smpboot_barrier_init(NULL, 2, arrived, &waiter), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_barrier_init(&barrier, 0, arrived, &waiter),
                     SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_barrier_init(&barrier, 2, NULL, &waiter),
                     SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_barrier_init(&barrier, 2, arrived, NULL),
                     SMPBOOT_ERR_INVALID_ARGUMENT);

    waiter.now_ns = NULL;
    assert_int_equal(smpboot_barrier_init(&barrier, 2, arrived, &waiter),
                     SMPBOOT_ERR_MISSING_CALLBACK);

    /* relax is optional. */
    waiter = fake_waiter(&cpu);
    waiter.relax = NULL;
    assert_int_equal(smpboot_barrier_init(&barrier, 2, arrived, &waiter), SMPBOOT_OK);
}

static void barrier_wait_rejects_bad_arguments(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    struct smpboot_barrier barrier;
    uint32_t arrived[3];
    uint32_t missing[3];

    assert_int_equal(smpboot_barrier_wait(NULL, 0, 0), SMPBOOT_ERR_INVALID_ARGUMENT);

    struct smpboot_barrier zeroed = { 0 };
    assert_int_equal(smpboot_barrier_wait(&zeroed, 0, 0), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_barrier_missing(&zeroed, missing, 3), 0);
    assert_int_equal(smpboot_barrier_missing(NULL, missing, 3), 0);

    assert_int_equal(smpboot_barrier_init(&barrier, 3, arrived, &waiter), SMPBOOT_OK);
    assert_int_equal(smpboot_barrier_wait(&barrier, 3, 0), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_barrier_wait(&barrier, UINT32_MAX, 0), SMPBOOT_ERR_INVALID_ARGUMENT);

    barrier.waiter.now_ns = NULL;
    assert_int_equal(smpboot_barrier_wait(&barrier, 0, 0), SMPBOOT_ERR_MISSING_CALLBACK);

    /* None of the rejected calls counted as an arrival. */
    assert_int_equal(smpboot_barrier_missing(&barrier, missing, 3), 3);
    assert_int_equal(barrier.remaining, 3);
    assert_int_equal(cpu.clock_reads, 0);
}

/* ---- barrier: behaviour ---- */

static void barrier_single_participant_never_waits(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    struct smpboot_barrier barrier;
    uint32_t arrived[1];

    assert_int_equal(smpboot_barrier_init(&barrier, 1, arrived, &waiter), SMPBOOT_OK);
    for (uint32_t round = 0; round < 5; round++) {
        assert_int_equal(barrier.generation, round);
        assert_int_equal(smpboot_barrier_wait(&barrier, 0, 0), SMPBOOT_OK);
    }
    assert_int_equal(barrier.generation, 5);
    assert_int_equal(cpu.relaxes, 0);
    /* A new round has begun, in which participant 0 has not arrived yet. */
    uint32_t missing[1] = { 99 };
    assert_int_equal(smpboot_barrier_missing(&barrier, missing, 1), 1);
    assert_int_equal(missing[0], 0);
}

static void barrier_timeout_names_missing_then_round_completes(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    struct smpboot_barrier barrier;
    uint32_t arrived[3];
    uint32_t missing[3] = { 99, 99, 99 };

    assert_int_equal(smpboot_barrier_init(&barrier, 3, arrived, &waiter), SMPBOOT_OK);
    assert_int_equal(smpboot_barrier_missing(&barrier, missing, 3), 3);
    assert_int_equal(missing[0], 0);
    assert_int_equal(missing[1], 1);
    assert_int_equal(missing[2], 2);

    /* 10 clock steps of 100 ns: the wait spins, then gives up. */
    assert_int_equal(smpboot_barrier_wait(&barrier, 0, 1000), SMPBOOT_ERR_TIMEOUT);
    assert_true(cpu.relaxes > 0);
    assert_true(cpu.now - 1000 >= 1000);
    assert_int_equal(smpboot_barrier_missing(&barrier, missing, 3), 2);
    assert_int_equal(missing[0], 1);
    assert_int_equal(missing[1], 2);

    /* Participant 1 polls (timeout 0): still waiting for 2. */
    assert_int_equal(smpboot_barrier_wait(&barrier, 1, 0), SMPBOOT_ERR_TIMEOUT);
    assert_int_equal(smpboot_barrier_missing(&barrier, missing, 3), 1);
    assert_int_equal(missing[0], 2);
    assert_int_equal(barrier.generation, 0);

    /* The last arrival completes the round despite the earlier timeouts. */
    assert_int_equal(smpboot_barrier_wait(&barrier, 2, 0), SMPBOOT_OK);
    assert_int_equal(barrier.generation, 1);
    assert_int_equal(barrier.remaining, 3);
    assert_int_equal(smpboot_barrier_missing(&barrier, missing, 3), 3);

    /* Participant 0 may now arrive in the next round. */
    assert_int_equal(smpboot_barrier_wait(&barrier, 0, 0), SMPBOOT_ERR_TIMEOUT);
    assert_int_equal(smpboot_barrier_missing(&barrier, missing, 3), 2);
    assert_int_equal(missing[0], 1);
    assert_int_equal(missing[1], 2);
}

static void barrier_missing_respects_capacity(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    struct smpboot_barrier barrier;
    uint32_t arrived[5];
    uint32_t missing[3] = { 99, 99, 99 };

    assert_int_equal(smpboot_barrier_init(&barrier, 5, arrived, &waiter), SMPBOOT_OK);
    assert_int_equal(smpboot_barrier_wait(&barrier, 1, 0), SMPBOOT_ERR_TIMEOUT);
    assert_int_equal(smpboot_barrier_wait(&barrier, 3, 0), SMPBOOT_ERR_TIMEOUT);

    assert_int_equal(smpboot_barrier_missing(&barrier, missing, 2), 3);
    assert_int_equal(missing[0], 0);
    assert_int_equal(missing[1], 2);
    assert_int_equal(missing[2], 99);

    assert_int_equal(smpboot_barrier_missing(&barrier, NULL, 0), 3);
    assert_int_equal(smpboot_barrier_missing(&barrier, NULL, 3), 3);
    assert_int_equal(smpboot_barrier_missing(&barrier, missing, 0), 3);
    assert_int_equal(missing[0], 0);
    assert_int_equal(missing[1], 2);
}

static void barrier_double_arrival_is_bad_state(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    struct smpboot_barrier barrier;
    uint32_t arrived[2];
    uint32_t missing[2];

    assert_int_equal(smpboot_barrier_init(&barrier, 2, arrived, &waiter), SMPBOOT_OK);
    assert_int_equal(smpboot_barrier_wait(&barrier, 0, 500), SMPBOOT_ERR_TIMEOUT);

    unsigned reads_before = cpu.clock_reads;
    assert_int_equal(smpboot_barrier_wait(&barrier, 0, 500), SMPBOOT_ERR_BAD_STATE);
    assert_int_equal(smpboot_barrier_wait(&barrier, 0, SMPBOOT_WAIT_FOREVER),
                     SMPBOOT_ERR_BAD_STATE);
    /* Rejected at once: no waiting, and the round is unchanged. */
    assert_int_equal(cpu.clock_reads, reads_before);
    assert_int_equal(barrier.generation, 0);
    assert_int_equal(barrier.remaining, 1);
    assert_int_equal(smpboot_barrier_missing(&barrier, missing, 2), 1);
    assert_int_equal(missing[0], 1);

    assert_int_equal(smpboot_barrier_wait(&barrier, 1, 0), SMPBOOT_OK);
    assert_int_equal(barrier.generation, 1);
}

/* Called from the waiter's relax hook: the other participant turns up. */
static void other_participant_arrives(struct fake_cpu *cpu)
{
    cpu->other_status = smpboot_barrier_wait(cpu->barrier, 1, 0);
}

static void barrier_wait_forever_waits_without_clock(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    struct smpboot_barrier barrier;
    uint32_t arrived[2];

    assert_int_equal(smpboot_barrier_init(&barrier, 2, arrived, &waiter), SMPBOOT_OK);
    cpu.barrier = &barrier;
    cpu.on_relax = other_participant_arrives;
    cpu.act_on_relax = 50;
    cpu.other_status = SMPBOOT_ERR_HOST;

    assert_int_equal(smpboot_barrier_wait(&barrier, 0, SMPBOOT_WAIT_FOREVER), SMPBOOT_OK);
    assert_int_equal(cpu.other_status, SMPBOOT_OK);
    assert_int_equal(cpu.relaxes, 50);
    assert_int_equal(cpu.clock_reads, 0);
    assert_int_equal(barrier.generation, 1);
}

static void barrier_huge_timeout_does_not_overflow(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    /* start + timeout would wrap past zero and expire at once. */
    cpu.now = UINT64_MAX - 1000;
    cpu.step = 100;
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    struct smpboot_barrier barrier;
    uint32_t arrived[2];

    assert_int_equal(smpboot_barrier_init(&barrier, 2, arrived, &waiter), SMPBOOT_OK);
    cpu.barrier = &barrier;
    cpu.on_relax = other_participant_arrives;
    cpu.act_on_relax = 30;

    assert_int_equal(smpboot_barrier_wait(&barrier, 0, UINT64_MAX - 1), SMPBOOT_OK);
    assert_int_equal(cpu.relaxes, 30);
    assert_int_equal(cpu.other_status, SMPBOOT_OK);
    /* The clock itself wrapped during the wait, and that did not end it either. */
    assert_true(cpu.now < 10000);
}

static void barrier_default_relax_is_pause(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    waiter.relax = NULL;
    struct smpboot_barrier barrier;
    uint32_t arrived[2];

    assert_int_equal(smpboot_barrier_init(&barrier, 2, arrived, &waiter), SMPBOOT_OK);
    assert_int_equal(smpboot_barrier_wait(&barrier, 0, 2000), SMPBOOT_ERR_TIMEOUT);
    /* It spun (one clock read per step), without calling a hook. */
    assert_true(cpu.clock_reads >= 20);
    assert_int_equal(cpu.relaxes, 0);
}

/* ---- gate ---- */

static void gate_rejects_bad_arguments(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    struct smpboot_gate gate;

    assert_int_equal(smpboot_gate_init(NULL, &waiter), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_gate_init(&gate, NULL), SMPBOOT_ERR_INVALID_ARGUMENT);
    waiter.now_ns = NULL;
    assert_int_equal(smpboot_gate_init(&gate, &waiter), SMPBOOT_ERR_MISSING_CALLBACK);

    assert_int_equal(smpboot_gate_wait(NULL, 0), SMPBOOT_ERR_INVALID_ARGUMENT);
    struct smpboot_gate zeroed = { 0 };
    assert_int_equal(smpboot_gate_wait(&zeroed, 0), SMPBOOT_ERR_MISSING_CALLBACK);

    assert_false(smpboot_gate_is_open(NULL));
    smpboot_gate_open(NULL);
}

static void gate_times_out_while_closed(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    struct smpboot_gate gate;

    assert_int_equal(smpboot_gate_init(&gate, &waiter), SMPBOOT_OK);
    assert_false(smpboot_gate_is_open(&gate));
    assert_int_equal(smpboot_gate_wait(&gate, 0), SMPBOOT_ERR_TIMEOUT);
    assert_int_equal(smpboot_gate_wait(&gate, 1000), SMPBOOT_ERR_TIMEOUT);
    assert_true(cpu.relaxes > 0);
    assert_false(smpboot_gate_is_open(&gate));

    waiter.relax = NULL;
    assert_int_equal(smpboot_gate_init(&gate, &waiter), SMPBOOT_OK);
    unsigned relaxes_before = cpu.relaxes;
    assert_int_equal(smpboot_gate_wait(&gate, 1000), SMPBOOT_ERR_TIMEOUT);
    assert_int_equal(cpu.relaxes, relaxes_before);
}

static void gate_open_lets_everyone_pass(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    struct smpboot_gate gate;

    assert_int_equal(smpboot_gate_init(&gate, &waiter), SMPBOOT_OK);
    smpboot_gate_open(&gate);
    assert_true(smpboot_gate_is_open(&gate));
    assert_int_equal(smpboot_gate_wait(&gate, 0), SMPBOOT_OK);
    assert_int_equal(smpboot_gate_wait(&gate, SMPBOOT_WAIT_FOREVER), SMPBOOT_OK);
    /* Open for good: opening again changes nothing. */
    smpboot_gate_open(&gate);
    assert_true(smpboot_gate_is_open(&gate));
    assert_int_equal(smpboot_gate_wait(&gate, 0), SMPBOOT_OK);
    assert_int_equal(cpu.relaxes, 0);

    /* Re-initialising closes it again. */
    assert_int_equal(smpboot_gate_init(&gate, &waiter), SMPBOOT_OK);
    assert_false(smpboot_gate_is_open(&gate));
}

static void opener_opens_gate(struct fake_cpu *cpu)
{
    smpboot_gate_open(cpu->gate);
}

static void gate_opened_while_waiting(void **state)
{
    (void)state;
    struct fake_cpu cpu;
    fake_cpu_reset(&cpu);
    struct smpboot_waiter waiter = fake_waiter(&cpu);
    struct smpboot_gate gate;

    assert_int_equal(smpboot_gate_init(&gate, &waiter), SMPBOOT_OK);
    cpu.gate = &gate;
    cpu.on_relax = opener_opens_gate;
    cpu.act_on_relax = 7;

    assert_int_equal(smpboot_gate_wait(&gate, SMPBOOT_WAIT_FOREVER), SMPBOOT_OK);
    assert_int_equal(cpu.relaxes, 7);
    assert_int_equal(cpu.clock_reads, 0);

    assert_int_equal(smpboot_gate_init(&gate, &waiter), SMPBOOT_OK);
    cpu.relaxes = 0;
    cpu.act_on_relax = 3;
    assert_int_equal(smpboot_gate_wait(&gate, 1000000), SMPBOOT_OK);
    assert_int_equal(cpu.relaxes, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(barrier_init_rejects_bad_arguments),
        cmocka_unit_test(barrier_wait_rejects_bad_arguments),
        cmocka_unit_test(barrier_single_participant_never_waits),
        cmocka_unit_test(barrier_timeout_names_missing_then_round_completes),
        cmocka_unit_test(barrier_missing_respects_capacity),
        cmocka_unit_test(barrier_double_arrival_is_bad_state),
        cmocka_unit_test(barrier_wait_forever_waits_without_clock),
        cmocka_unit_test(barrier_huge_timeout_does_not_overflow),
        cmocka_unit_test(barrier_default_relax_is_pause),
        cmocka_unit_test(gate_rejects_bad_arguments),
        cmocka_unit_test(gate_times_out_while_closed),
        cmocka_unit_test(gate_open_lets_everyone_pass),
        cmocka_unit_test(gate_opened_while_waiting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
