/* Per-AP timelines, and taking APs offline and starting them again. */
#include "fixture.h"

#define INIT_MODE 0x500u
#define MS 1000000ull

static void assert_timeline_ordered(const struct smpboot_cpu *cpu, uint64_t bringup_ns)
{
    const struct smpboot_timeline *t = &cpu->timeline;
    assert_true(t->kicked > 0);
    assert_true(t->trampoline > 0);
    assert_true(t->long_mode >= t->trampoline);
    assert_true(t->c_entry >= t->long_mode);
    assert_true(t->c_entry >= t->kicked);
    assert_true(t->online >= t->c_entry);
    assert_true(t->online <= bringup_ns);
}

static void test_timeline_is_filled_and_ordered(void **state)
{
    (void)state;
    fx_setup(0, false);
    for (uint32_t id = 1; id <= 6; id++)
        mock_add_ap(id, MOCK_AP_PROMPT);
    mock_add_ap(7, MOCK_AP_SILENT);
    fx.config.ap_timeout_ns = 30 * MS;
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    fx_join_and_check();
    uint64_t bringup = smpboot_bringup_ns(&fx.sb);
    for (uint32_t i = 1; i <= 6; i++)
        assert_timeline_ordered(smpboot_cpu_get(&fx.sb, i), bringup);
    /* The silent AP was kicked and reached nothing. */
    const struct smpboot_timeline *dead = &smpboot_cpu_find(&fx.sb, 7)->timeline;
    assert_true(dead->kicked > 0);
    assert_int_equal(dead->trampoline, 0);
    assert_int_equal(dead->c_entry, 0);
    assert_int_equal(dead->online, 0);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/* Three rounds in one session: each brings every AP up again from INIT. */
static void test_offline_and_restart_rounds(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        fx_setup(0, mode == 1);
        fx.config.mode = mode ? SMPBOOT_MODE_SERIAL : SMPBOOT_MODE_PARALLEL;
        for (uint32_t id = 2; id <= 10; id += 2)
            mock_add_ap(id, MOCK_AP_PROMPT);
        fx_init_and_add();
        uint64_t stack_pages = fx.config.stack_size / 4096;
        for (unsigned round = 1; round <= 3; round++) {
            assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
            fx_join_and_check();
            assert_int_equal(smpboot_online_count(&fx.sb), 6);
            assert_true(smpboot_bringup_ns(&fx.sb) > 0);
            for (uint32_t i = 1; i <= 5; i++) {
                assert_int_equal(fx_entries[i], round);
                assert_timeline_ordered(smpboot_cpu_get(&fx.sb, i), smpboot_bringup_ns(&fx.sb));
            }
            assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
            assert_int_equal(mock_pages_outstanding(), 5 * stack_pages);
            for (uint32_t i = 1; i <= 5; i++) {
                unsigned before = mock_icr_count();
                assert_int_equal(smpboot_offline(&fx.sb, i), SMPBOOT_OK);
                assert_int_equal(mock_icr_at(before)->delivery, INIT_MODE);
                assert_int_equal(mock_icr_at(before)->dest, smpboot_cpu_get(&fx.sb, i)->apic_id);
                assert_int_equal(smpboot_cpu_get(&fx.sb, i)->result, SMPBOOT_CPU_OFFLINE);
                assert_int_equal(smpboot_cpu_get(&fx.sb, i)->stack_top, 0);
            }
            assert_int_equal(mock_pages_outstanding(), 0);
            assert_int_equal(smpboot_online_count(&fx.sb), 1);
        }
        /* Each AP got exactly one INIT per start and one per offline. */
        assert_int_equal(fx_count_icr(2, INIT_MODE), 6);
    }
}

/* Two APs that answer at once, brought up and finished: the start of the restart tests. */
static void bring_up_two_prompt_aps(void)
{
    fx_setup(0, false);
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/* Only offline CPUs restart; the others keep running untouched. */
static void test_restart_only_offline_ones(void **state)
{
    (void)state;
    bring_up_two_prompt_aps();
    uintptr_t stack_of_2 = smpboot_cpu_find(&fx.sb, 2)->stack_top;
    assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_OK);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    assert_int_equal(fx_count_icr(2, INIT_MODE), 1);  /* never re-kicked */
    assert_int_equal(smpboot_cpu_find(&fx.sb, 2)->stack_top, stack_of_2);
    assert_int_equal(fx_entries[1], 2);
    assert_int_equal(fx_entries[2], 1);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    /* Nothing offline: another start is refused. */
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_BAD_STATE);
}

static void test_offline_errors(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.ap_timeout_ns = 30 * MS;
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_SILENT);
    fx_init_and_add();
    assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_ERR_BAD_STATE);  /* not started */
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    fx_join_and_check();
    assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_ERR_BAD_STATE);  /* before finish */
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    assert_int_equal(smpboot_offline(NULL, 1), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_offline(&fx.sb, 0), SMPBOOT_ERR_INVALID_ARGUMENT);  /* the BSP */
    assert_int_equal(smpboot_offline(&fx.sb, 2), SMPBOOT_ERR_INVALID_ARGUMENT);  /* not online */
    assert_int_equal(smpboot_offline(&fx.sb, 7), SMPBOOT_ERR_INVALID_ARGUMENT);
    mock_become_cpu(1);
    assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_ERR_NOT_BSP);
    mock_become_cpu(0);
    mock_set_icr_stuck(true);
    assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_ERR_IPI_BUSY);
    assert_int_equal(smpboot_cpu_get(&fx.sb, 1)->result, SMPBOOT_CPU_ONLINE);
    assert_true(smpboot_cpu_get(&fx.sb, 1)->stack_top != 0);  /* kept: it may still run */
    mock_set_icr_stuck(false);
    /* A failed restart (no memory) leaves the CPU offline and restartable. */
    assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_OK);
    mock_fail_alloc_call(mock_alloc_calls() + 1);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_NO_MEMORY);
    assert_int_equal(smpboot_cpu_get(&fx.sb, 1)->result, SMPBOOT_CPU_OFFLINE);
    assert_int_equal(mock_pages_outstanding(), 0);
    mock_fail_alloc_call(0);
    /* The silent AP is not offline, so only AP 1 starts; AP 2 stays timed out. */
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    fx_join_and_check();
    assert_int_equal(smpboot_cpu_get(&fx.sb, 1)->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(smpboot_cpu_get(&fx.sb, 2)->result, SMPBOOT_CPU_TIMED_OUT);
    assert_int_equal(fx_count_icr(2, INIT_MODE), 2);  /* its kick and finish's reset only */
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/* Offline frees the stacks only once its INIT has landed (the mock flags an early free). */
static void test_offline_waits_for_its_init(void **state)
{
    (void)state;
    bring_up_two_prompt_aps();
    mock_set_init_delay(2 * MS);
    assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_OK);
    fx_join_and_check();
    assert_int_equal(mock_ap_by_id(1)->inits, 2);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    assert_int_equal(fx_entries[1], 2);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
}

/*
 * finish could not reset an AP: what it might still use stays borrowed for
 * good. A later restart is refused up front, and frees none of it.
 */
static void test_restart_refused_while_a_cpu_is_not_reset(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.ap_timeout_ns = 30 * MS;
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_SILENT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    fx_join_and_check();
    uint64_t page = fx_session()->tramp_phys, slots = fx_session()->slots_phys;
    uint64_t stack = smpboot_cpu_find(&fx.sb, 2)->stack_phys;
    mock_set_esr(0x20);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_ERR_IPI_ERROR);
    mock_set_esr(0);
    assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_OK);
    uint64_t outstanding = mock_pages_outstanding();
    unsigned icrs = mock_icr_count();
    assert_true(smpboot_cpu_find(&fx.sb, 2)->not_reset);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_CPU_NOT_RESET);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_CPU_NOT_RESET);
    assert_int_equal(mock_icr_count(), icrs);
    assert_true(smpboot_cpu_find(&fx.sb, 2)->not_reset);  /* never cleared */
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);   /* idempotent, frees nothing */
    assert_true(mock_phys_is_allocated(page, 4096));
    assert_true(mock_phys_is_allocated(slots, 4096));
    assert_true(mock_phys_is_allocated(stack, 4096));
    assert_int_equal(mock_pages_outstanding(), outstanding);
    assert_int_equal(smpboot_cpu_get(&fx.sb, 1)->result, SMPBOOT_CPU_OFFLINE);
    /* A new init would wipe the not_reset marks, the abandoned record and the NMI IDT. */
    assert_int_equal(smpboot_init(&fx.sb, &fx.host, &fx.config, fx.cpus, FIXTURE_MAX_CPUS),
                     SMPBOOT_ERR_BAD_STATE);
    assert_true(smpboot_cpu_find(&fx.sb, 2)->not_reset);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_CPU_NOT_RESET);
    fx_join_and_check();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeline_is_filled_and_ordered),
        cmocka_unit_test(test_offline_and_restart_rounds),
        cmocka_unit_test(test_restart_only_offline_ones),
        cmocka_unit_test(test_offline_errors),
        cmocka_unit_test(test_offline_waits_for_its_init),
        cmocka_unit_test(test_restart_refused_while_a_cpu_is_not_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
