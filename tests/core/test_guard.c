/* Stacks in a kernel-given window, each above an unmapped guard page. */
#include "fixture.h"

#define WINDOW 0xFFFFC90000000000ull
#define PAGE 4096u

static void setup_window(unsigned aps)
{
    fx_setup(0, false);
    fx.config.stack_window = WINDOW;
    fx.config.extra_stack_count = 2;
    fx.config.extra_stack_size = 4096;
    for (uint32_t id = 1; id <= aps; id++)
        mock_add_ap(id * 3, MOCK_AP_PROMPT);
    fx_init_and_add();
}

static void assert_guarded(uintptr_t top, size_t bytes)
{
    uint64_t base = top - bytes;
    assert_int_equal(base % PAGE, 0);
    assert_true(base >= WINDOW + PAGE);
    assert_true(top <= WINDOW + smpboot_stack_window_bytes(&fx.config, fx_session()->cpu_count));
    for (uint64_t p = base; p < top; p += PAGE)
        assert_int_equal(mock_mapping_flags(p), SMPBOOT_MAP_WRITE);  /* writable, never exec */
    assert_int_equal(mock_mapping_flags(base - PAGE), -1);          /* the guard */
}

static void test_stacks_have_guard_pages(void **state)
{
    (void)state;
    setup_window(4);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    for (uint32_t i = 1; i <= 4; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&fx.sb, i);
        assert_guarded(cpu->stack_top, fx.config.stack_size);
        for (unsigned k = 0; k < 2; k++)
            assert_guarded(cpu->extra_stack_top[k], fx.config.extra_stack_size);
        /* The AP ran on the window address, not the direct map. */
        assert_int_equal(mock_ap_by_id(cpu->apic_id)->stack_top_seen, cpu->stack_top);
    }
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    /* 4 APs x 3 stacks stay mapped; the trampoline's identity map is gone. */
    assert_int_equal(mock_maps_outstanding(), 12);
    for (uint32_t i = 1; i <= 4; i++)
        assert_int_equal(smpboot_offline(&fx.sb, i), SMPBOOT_OK);
    assert_int_equal(mock_maps_outstanding(), 0);
    assert_int_equal(mock_pages_outstanding(), 0);
    if (mock_protocol_errors())
        fail_msg("%s", mock_last_protocol_error());
}

static void test_window_map_failure_rolls_back(void **state)
{
    (void)state;
    /* Maps: 3 stacks for each of 3 APs, then the trampoline page. */
    for (unsigned failing = 1; failing <= 10; failing++) {
        setup_window(3);
        mock_fail_map_call(failing);
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_MAP_FAILED);
        assert_int_equal(mock_maps_outstanding(), 0);
        assert_int_equal(mock_pages_outstanding(), 0);
        assert_int_equal(mock_icr_count(), 0);
        if (mock_protocol_errors())
            fail_msg("map call %u: %s", failing, mock_last_protocol_error());
    }
}

static void test_window_needs_map_and_alignment(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.stack_window = WINDOW;
    fx.host.map = NULL;
    fx.host.unmap = NULL;
    assert_int_equal(smpboot_init(&fx.sb, &fx.host, &fx.config, fx.cpus, 4),
                     SMPBOOT_ERR_MISSING_CALLBACK);
    fx_setup(0, false);
    fx.config.stack_window = WINDOW + 8;
    assert_int_equal(smpboot_init(&fx.sb, &fx.host, &fx.config, fx.cpus, 4), SMPBOOT_ERR_BAD_CONFIG);
    /* The window's size: one guard page per stack. */
    fx.config.stack_window = WINDOW;
    fx.config.stack_size = 8192;
    fx.config.extra_stack_count = 1;
    fx.config.extra_stack_size = 4096;
    assert_int_equal(smpboot_stack_window_bytes(&fx.config, 5), 4 * (8192 + 4096 + 4096 + 4096));
    assert_int_equal(smpboot_stack_window_bytes(&fx.config, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stacks_have_guard_pages),
        cmocka_unit_test(test_window_map_failure_rolls_back),
        cmocka_unit_test(test_window_needs_map_and_alignment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
