/*
 * smpboot_start_stats(): where the BSP's time in smpboot_start() went. The
 * mock moves its clock by a fixed amount on each allocation, map and ICR
 * write, so each part has a lower bound that does not depend on the host.
 */
#include "fixture.h"

#include <string.h>

#define INIT_MODE 0x500u
#define SIPI 0x600u
#define MS 1000000ull

static void test_arguments_and_state(void **state)
{
    (void)state;
    struct smpboot_start_stats stats;
    fx_setup(0, false);
    mock_add_ap(1, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start_stats(&fx.sb, &stats), SMPBOOT_ERR_BAD_STATE);
    assert_int_equal(smpboot_start_stats(NULL, &stats), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_start_stats(&fx.sb, NULL), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    assert_int_equal(smpboot_start_stats(&fx.sb, &stats), SMPBOOT_OK);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    /* Still the last call's figures after finish. */
    struct smpboot_start_stats again;
    assert_int_equal(smpboot_start_stats(&fx.sb, &again), SMPBOOT_OK);
    assert_memory_equal(&stats, &again, sizeof stats);
}

/* Each part holds at least what the mock charged to it, and the parts fit in the whole. */
static void check_parts(unsigned aps, bool stack_window)
{
    const uint64_t alloc_cost = 1 * MS, map_cost = 2 * MS, icr_cost = 3 * MS;
    const uint64_t init_delay = 5 * MS;
    fx_setup(0, false);
    fx.config.init_delay_ns = init_delay;
    fx.config.extra_stack_count = 1;
    fx.config.extra_stack_size = 4096;
    if (stack_window)
        fx.config.stack_window = 0xffffc00000000000ull;
    for (unsigned i = 1; i <= aps; i++)
        mock_add_ap(i, MOCK_AP_PROMPT);
    fx_init_and_add();
    mock_set_alloc_cost(alloc_cost);
    mock_set_map_cost(map_cost);
    mock_set_icr_cost(icr_cost);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    mock_set_alloc_cost(0);
    mock_set_map_cost(0);
    mock_set_icr_cost(0);

    struct smpboot_start_stats s;
    assert_int_equal(smpboot_start_stats(&fx.sb, &s), SMPBOOT_OK);
    assert_int_equal(s.aps_started, aps);
    /* Every INIT and SIPI the mock saw, and only those, are counted. */
    unsigned sent = 0;
    for (unsigned i = 1; i <= aps; i++)
        sent += fx_count_icr(i, INIT_MODE) + fx_count_icr(i, SIPI);
    assert_int_equal(s.ipis_sent, sent);
    assert_int_equal(mock_icr_count(), sent);
    assert_true(s.ipi_send_ns >= (uint64_t)sent * icr_cost);

    /* Two stacks per AP, each one allocation (and one map with a window). */
    uint64_t per_stack = alloc_cost + (stack_window ? map_cost : 0);
    assert_true(s.setup_stacks_ns >= 2ull * aps * per_stack);
    /* The slot table and the trampoline page, then the page's identity mapping. */
    assert_true(s.setup_trampoline_ns >= 2 * alloc_cost + map_cost);
    assert_true(s.setup_ns >= s.setup_stacks_ns + s.setup_trampoline_ns);
    /* The set-up ends where the first AP's timeline begins: one clock reading. */
    uint64_t first_kick = UINT64_MAX;
    for (unsigned i = 1; i <= aps; i++) {
        uint64_t kicked = smpboot_cpu_get(&fx.sb, i)->timeline.kicked;
        if (kicked < first_kick)
            first_kick = kicked;
    }
    assert_int_equal(s.setup_ns, first_kick);

    assert_true(s.mandatory_wait_ns >= init_delay);
    assert_true(s.last_sipi_ns > s.setup_ns);
    assert_true(s.last_sipi_ns <= s.total_ns);
    assert_int_equal(s.ready_wait_ns, 0);
    assert_true(s.total_ns >= s.setup_ns + s.ipi_send_ns + s.mandatory_wait_ns + s.ap_wait_ns);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

static void test_parts_direct_map(void **state)
{
    (void)state;
    check_parts(3, false);
}

static void test_parts_stack_window(void **state)
{
    (void)state;
    check_parts(5, true);
}

/* A call that fails in its set-up sent nothing: all of it was set-up. */
static void test_failed_setup(void **state)
{
    (void)state;
    fx_setup(0, false);
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_PROMPT);
    fx_init_and_add();
    mock_fail_alloc_call(3);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_NO_MEMORY);
    struct smpboot_start_stats s;
    assert_int_equal(smpboot_start_stats(&fx.sb, &s), SMPBOOT_OK);
    assert_int_equal(s.ipis_sent, 0);
    assert_int_equal(s.ipi_send_ns, 0);
    assert_int_equal(s.last_sipi_ns, 0);
    assert_int_equal(s.setup_ns, s.total_ns);
    assert_int_equal(mock_icr_count(), 0);
}

/* Serial with next_after_ready: the ready waits are counted apart from the AP waits. */
static void test_ready_wait_counted(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.mode = SMPBOOT_MODE_SERIAL;
    fx.config.ready_timeout_ns = 1000 * MS;
    fx.config.next_after_ready = true;
    fx_entry_says_ready = true;
    for (unsigned i = 1; i <= 3; i++)
        mock_add_ap(i, MOCK_AP_PROMPT);
    fx_init_and_add();
    mock_set_icr_cost(1 * MS);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    mock_set_icr_cost(0);
    struct smpboot_start_stats s;
    assert_int_equal(smpboot_start_stats(&fx.sb, &s), SMPBOOT_OK);
    assert_int_equal(s.ipis_sent, 6);
    assert_true(s.total_ns >= s.setup_ns + s.ipi_send_ns + s.mandatory_wait_ns + s.ap_wait_ns
                                  + s.ready_wait_ns);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/*
 * The policy's log lines (the INIT delay's rule, the total bound) cost the
 * host time before the first kick; they are said once the APs are up.
 */
static unsigned icrs_when_init_delay_logged;
static bool init_delay_logged;

static void log_records_icr_count(void *ctx, enum smpboot_log_level level, const char *message)
{
    (void)ctx;
    (void)level;
    if (strstr(message, "INIT delay") && !init_delay_logged) {
        init_delay_logged = true;
        icrs_when_init_delay_logged = mock_icr_count();
    }
}

static void test_policy_logged_after_the_kicks(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.init_delay_ns = SMPBOOT_INIT_DELAY_AUTO;
    fx.config.total_timeout_ns = SMPBOOT_TOTAL_TIMEOUT_AUTO;
    fx.host.log = log_records_icr_count;
    init_delay_logged = false;
    for (unsigned i = 1; i <= 4; i++)
        mock_add_ap(i, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    assert_true(init_delay_logged);
    assert_int_equal(icrs_when_init_delay_logged, mock_icr_count());
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/*
 * The BSP's own cost per IPI: with the ICR idle at the first look (xAPIC),
 * a send reads no clock at all; the clock is only for bounding a busy ICR.
 */
static void test_idle_icr_send_reads_no_clock(void **state)
{
    (void)state;
    fx_setup(0, false);
    mock_add_ap(1, MOCK_AP_PROMPT);
    fx_init_and_add();
    uint64_t before = mock_bsp_clock_reads();
    uint32_t esr = 1;
    assert_int_equal(smpboot_ipi_send(fx_session(), 1, SMPBOOT_ICR_NMI | SMPBOOT_ICR_LEVEL_ASSERT, &esr),
                     SMPBOOT_OK);
    assert_int_equal(esr, 0);
    assert_int_equal(mock_bsp_clock_reads() - before, 0);
    assert_int_equal(mock_icr_count(), 1);
    /* A busy ICR is still bounded by the clock. */
    mock_set_icr_stuck(true);
    fx.config.icr_timeout_ns = 1000000;
    fx_session()->config.icr_timeout_ns = 1000000;
    assert_int_equal(smpboot_ipi_send(fx_session(), 1, SMPBOOT_ICR_NMI | SMPBOOT_ICR_LEVEL_ASSERT, &esr),
                     SMPBOOT_ERR_IPI_BUSY);
    assert_true(mock_bsp_clock_reads() - before > 0);
    mock_set_icr_stuck(false);
}

/*
 * A batch in which no INIT went out (the only AP is unreachable in xAPIC
 * mode) waits no INIT delay: there is nothing to wait for.
 */
static void test_no_init_no_policy_wait(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.init_delay_ns = 50 * MS;
    fx_init_and_add();
    assert_int_equal(smpboot_add_cpu(&fx.sb, 0x1FF), SMPBOOT_OK);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 0x1FF)->result, SMPBOOT_CPU_UNREACHABLE);
    struct smpboot_start_stats s;
    assert_int_equal(smpboot_start_stats(&fx.sb, &s), SMPBOOT_OK);
    assert_int_equal(s.ipis_sent, 0);
    assert_int_equal(s.mandatory_wait_ns, 0);
    assert_int_equal(mock_icr_count(), 0);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments_and_state),
        cmocka_unit_test(test_parts_direct_map),
        cmocka_unit_test(test_parts_stack_window),
        cmocka_unit_test(test_failed_setup),
        cmocka_unit_test(test_ready_wait_counted),
        cmocka_unit_test(test_policy_logged_after_the_kicks),
        cmocka_unit_test(test_idle_icr_send_reads_no_clock),
        cmocka_unit_test(test_no_init_no_policy_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
