/* The calls' contracts: arguments, callbacks, config, phases, the after-boot IPIs, logging. */
#include "fixture.h"

#include <stdio.h>
#include <string.h>

#define MS 1000000ull

static void test_init_rejects_bad_arguments(void **state)
{
    (void)state;
    fx_setup(0, false);
    assert_int_equal(smpboot_init(NULL, &fx.host, &fx.config, fx.cpus, 4), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_init(&fx.sb, NULL, &fx.config, fx.cpus, 4), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_init(&fx.sb, &fx.host, NULL, fx.cpus, 4), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_init(&fx.sb, &fx.host, &fx.config, NULL, 4), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_init(&fx.sb, &fx.host, &fx.config, fx.cpus, 0), SMPBOOT_ERR_INVALID_ARGUMENT);
    /* Calls on a session that was never initialised. */
    assert_int_equal(smpboot_add_cpu(&fx.sb, 1), SMPBOOT_ERR_BAD_STATE);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_BAD_STATE);
    assert_int_equal(smpboot_start(NULL), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_finish(NULL), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_add_cpu(NULL, 1), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_null(smpboot_cpu_get(NULL, 0));
    assert_int_equal(smpboot_cpu_count(NULL), 0);
}

/* Each required callback NULL in turn; map without unmap; x2APIC without write_icr. */
static void test_init_rejects_missing_callbacks(void **state)
{
    (void)state;
    for (int which = 0; which < 9; which++) {
        fx_setup(0, false);
        struct smpboot_host h = fx.host;
        switch (which) {
        case 0: h.apic.read = NULL; break;
        case 1: h.apic.write = NULL; break;
        case 2: h.now_ns = NULL; break;
        case 3: h.alloc_frames = NULL; break;
        case 4: h.free_frames = NULL; break;
        case 5: h.phys_to_virt = NULL; break;
        case 6: h.map = NULL; break;   /* unmap still set */
        case 7: h.unmap = NULL; break; /* map still set */
        case 8:
            fx.config.apic_mode = SMPBOOT_APIC_X2APIC;
            h.apic.write_icr = NULL;
            break;
        }
        assert_int_equal(smpboot_init(&fx.sb, &h, &fx.config, fx.cpus, 4),
                         SMPBOOT_ERR_MISSING_CALLBACK);
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_BAD_STATE);
    }
    /* Optional ones may be NULL: log, relax, write_icr in xAPIC, map+unmap together. */
    fx_setup(0, false);
    fx.host.log = NULL;
    fx.host.relax = NULL;
    fx.host.apic.write_icr = NULL;
    fx.host.map = NULL;
    fx.host.unmap = NULL;
    mock_add_ap(1, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    assert_int_equal(mock_maps_outstanding(), 0);
}

static void test_config_checks(void **state)
{
    (void)state;
    struct smpboot_config good;
    smpboot_config_default(&good);
    assert_int_equal(smpboot_config_check(&good), SMPBOOT_ERR_BAD_CONFIG);  /* no entry yet */
    good.entry = (smpboot_entry_fn)1;
    assert_int_equal(smpboot_config_check(&good), SMPBOOT_OK);
    assert_int_equal(good.mode, SMPBOOT_MODE_PARALLEL);
    assert_true(good.init_delay_ns == SMPBOOT_INIT_DELAY_AUTO);
    assert_int_equal(good.sipi_count, 2);
    assert_int_equal(good.sipi_spacing_ns, 200000);
    assert_true(good.sdm_retry);
    assert_int_equal(good.ready_timeout_ns, 0);

    struct smpboot_config sdm;
    smpboot_config_sdm(&sdm);
    sdm.entry = good.entry;
    assert_int_equal(smpboot_config_check(&sdm), SMPBOOT_OK);
    assert_int_equal(sdm.init_delay_ns, 10 * MS);
    assert_int_equal(sdm.sipi_count, 2);
    assert_int_equal(sdm.sipi_spacing_ns, 200000);
    assert_false(sdm.sdm_retry);

    struct smpboot_config fast;
    smpboot_config_fast(&fast);
    fast.entry = good.entry;
    assert_int_equal(smpboot_config_check(&fast), SMPBOOT_OK);
    assert_int_equal(fast.init_delay_ns, 0);
    assert_true(fast.sdm_retry);

    assert_int_equal(smpboot_config_check(NULL), SMPBOOT_ERR_INVALID_ARGUMENT);
    for (int which = 0; which < 21; which++) {
        struct smpboot_config c = good;
        switch (which) {
        case 0: c.mode = 7; break;
        case 1: c.apic_mode = 9; break;
        case 2: c.sipi_count = 0; break;
        case 3: c.sipi_count = 5; break;
        case 4: c.ap_timeout_ns = 0; break;
        case 5: c.icr_timeout_ns = 0; break;
        case 6: c.stack_size = 0; break;
        case 7: c.stack_size = 5000; break;
        case 8: c.extra_stack_count = SMPBOOT_MAX_EXTRA_STACKS + 1; break;
        case 9: c.extra_stack_count = 1; c.extra_stack_size = 100; break;
        case 10: c.init_delay_ns = 10ull * 1000 * MS; break;  /* 10 s: a units mistake */
        case 11: c.sdm_retry = true; c.retry_window_ns = 0; break;
        case 12: c.entry = NULL; break;
        case 13: c.online_timeout_ns = 0; break;
        case 14: c.total_timeout_ns = SMPBOOT_TOTAL_TIMEOUT_AUTO - 1; break;  /* wraps any deadline */
        case 15: c.stack_size = (size_t)1 << 40; break;     /* window arithmetic would wrap */
        case 16: c.extra_stack_count = 1; c.extra_stack_size = (size_t)1 << 40; break;
        case 17: c.ready_timeout_ns = 61000 * MS; break;
        case 18: c.next_after_ready = true; c.ready_timeout_ns = MS; break;  /* parallel */
        case 19: c.next_after_ready = true; c.mode = SMPBOOT_MODE_SERIAL; break;  /* no bound */
        case 20: c.init_delay_ns = SMPBOOT_INIT_DELAY_AUTO - 1; break;
        }
        assert_int_equal(smpboot_config_check(&c), SMPBOOT_ERR_BAD_CONFIG);
        fx_setup(0, false);
        assert_int_equal(smpboot_init(&fx.sb, &fx.host, &c, fx.cpus, 4), SMPBOOT_ERR_BAD_CONFIG);
    }
}

static void test_phases(void **state)
{
    (void)state;
    fx_setup(3, false);
    mock_add_ap(1, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_cpu_get(&fx.sb, 0)->apic_id, 3);  /* BSP from its own APIC */

    /* From an AP: refused, and nothing happens. */
    mock_become_cpu(1);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_NOT_BSP);
    mock_become_cpu(3);
    assert_int_equal(mock_icr_count(), 0);

    assert_int_equal(smpboot_wait_ready(&fx.sb), SMPBOOT_ERR_BAD_STATE);  /* not started */
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_BAD_STATE);
    assert_int_equal(smpboot_add_cpu(&fx.sb, 9), SMPBOOT_ERR_BAD_STATE);
    /* A live session is not wiped: its APs still read it. */
    assert_int_equal(smpboot_init(&fx.sb, &fx.host, &fx.config, fx.cpus, 4), SMPBOOT_ERR_BAD_STATE);
    assert_int_equal(smpboot_wait_ready(&fx.sb), SMPBOOT_ERR_BAD_CONFIG);  /* no handshake configured */
    fx_join_and_check();
    mock_become_cpu(1);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_ERR_NOT_BSP);
    mock_become_cpu(3);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);  /* idempotent */
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_BAD_STATE);
    assert_int_equal(mock_maps_outstanding(), 0);

    /* Finish without start: nothing was borrowed. */
    fx_setup(0, false);
    fx_init_and_add();
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    assert_int_equal(mock_alloc_calls(), 0);
}

static void test_table_full(void **state)
{
    (void)state;
    fx_setup(0, false);
    assert_int_equal(smpboot_init(&fx.sb, &fx.host, &fx.config, fx.cpus, 3), SMPBOOT_OK);
    assert_int_equal(smpboot_add_cpu(&fx.sb, 4), SMPBOOT_OK);
    assert_int_equal(smpboot_add_cpu(&fx.sb, 2), SMPBOOT_OK);
    assert_int_equal(smpboot_add_cpu(&fx.sb, 8), SMPBOOT_ERR_TABLE_FULL);
    assert_int_equal(smpboot_add_cpu(&fx.sb, 4), SMPBOOT_OK);
    assert_int_equal(smpboot_cpu_count(&fx.sb), 3);
}

/* Fixed IPIs and the panic NMI go one by one to online CPUs only, never to self. */
static void test_after_boot_ipis(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.ap_timeout_ns = 30 * MS;
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_SILENT);
    mock_add_ap(3, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_send_ipi(&fx.sb, 1, 0x40), SMPBOOT_ERR_INVALID_ARGUMENT);  /* not started */
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    fx_join_and_check();
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);

    unsigned before = mock_icr_count();
    assert_int_equal(smpboot_send_ipi(&fx.sb, 1, 0x40), SMPBOOT_OK);
    const struct mock_icr *r = mock_icr_at(before);
    assert_int_equal(r->dest, 1);
    assert_int_equal(r->delivery, 0);
    assert_int_equal(r->vector, 0x40);
    assert_int_equal(smpboot_send_ipi(&fx.sb, 2, 0x40), SMPBOOT_ERR_INVALID_ARGUMENT);  /* timed out */
    assert_int_equal(smpboot_send_ipi(&fx.sb, 1, 0x10), SMPBOOT_ERR_INVALID_ARGUMENT);  /* reserved vector */
    assert_int_equal(smpboot_send_ipi(&fx.sb, 9, 0x40), SMPBOOT_ERR_INVALID_ARGUMENT);

    /* From CPU 3 (index 2): NMIs to 0 and 1, not to itself, not to the dead one. */
    before = mock_icr_count();
    mock_become_cpu(3);
    assert_int_equal(smpboot_nmi_others(&fx.sb), SMPBOOT_OK);
    mock_become_cpu(0);
    assert_int_equal(mock_icr_count() - before, 2);
    assert_int_equal(mock_icr_at(before)->dest, 0);
    assert_int_equal(mock_icr_at(before + 1)->dest, 1);
    for (unsigned i = before; i < mock_icr_count(); i++) {
        assert_int_equal(mock_icr_at(i)->delivery, 0x400);
        assert_int_equal(mock_icr_at(i)->shorthand, 0);
        assert_int_equal(mock_icr_at(i)->sender, 3);
    }
    mock_set_icr_stuck(true);
    assert_int_equal(smpboot_nmi_others(&fx.sb), SMPBOOT_ERR_IPI_BUSY);
}

static char log_lines[64][200];
static unsigned log_count;

static void capture_log(void *ctx, enum smpboot_log_level level, const char *message)
{
    (void)ctx;
    (void)level;
    if (log_count < 64)
        snprintf(log_lines[log_count++], sizeof log_lines[0], "%s", message);
}

static bool logged(const char *needle)
{
    for (unsigned i = 0; i < log_count; i++)
        if (strstr(log_lines[i], needle))
            return true;
    return false;
}

/* Failures are explained in words a kernel author can act on. */
static void test_log_messages(void **state)
{
    (void)state;
    log_count = 0;
    fx_setup(0, false);
    fx.host.log = capture_log;
    fx.config.ap_timeout_ns = 30 * MS;
    fx.config.online_timeout_ns = 30 * MS;  /* APIC 5 stalls on purpose */
    mock_add_ap(5, MOCK_AP_STALL);
    mock_add_ap(6, MOCK_AP_SILENT);
    mock_add_ap(300, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    fx_join_and_check();
    assert_true(logged("smpboot: APIC 5 stopped after entering long mode"));
    assert_true(logged("APIC 6 timed out"));
    assert_true(logged("APIC 300 cannot be addressed in xAPIC mode"));
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

static void test_names(void **state)
{
    (void)state;
    for (int s = 0; s <= SMPBOOT_ERR_CPU_NOT_RESET; s++)
        assert_string_not_equal(smpboot_status_str((enum smpboot_status)s), "unknown status");
    assert_string_equal(smpboot_status_str((enum smpboot_status)999), "unknown status");
    assert_string_equal(smpboot_status_str(SMPBOOT_ERR_PARTIAL), "some APs did not come online");
    for (int r = 0; r <= SMPBOOT_CPU_NOT_READY; r++)
        assert_string_not_equal(smpboot_cpu_result_str((enum smpboot_cpu_result)r), "unknown result");
    for (int p = 0; p <= SMPBOOT_PROGRESS_READY; p++)
        assert_string_not_equal(smpboot_progress_str((enum smpboot_progress)p), "an unknown step");
    /* Fixed values: kernels may log the number alone. */
    assert_int_equal(SMPBOOT_ERR_TIMEOUT, 10);
    assert_int_equal(SMPBOOT_ERR_HOST, 19);
    assert_int_equal(SMPBOOT_ERR_CLOCK_STUCK, 20);
    assert_int_equal(SMPBOOT_ERR_CPU_NOT_RESET, 21);
    assert_int_equal(SMPBOOT_CPU_NOT_READY, 10);
    assert_int_equal(SMPBOOT_PROGRESS_READY, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_arguments),
        cmocka_unit_test(test_init_rejects_missing_callbacks),
        cmocka_unit_test(test_config_checks),
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_table_full),
        cmocka_unit_test(test_after_boot_ipis),
        cmocka_unit_test(test_log_messages),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
