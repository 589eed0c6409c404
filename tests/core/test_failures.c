/* APs that misbehave and hosts that fail: every case ends, reports, and leaks nothing. */
#include "fixture.h"

#include <sched.h>
#include <string.h>

#define SIPI 0x600u
#define INIT_MODE 0x500u
#define MS 1000000ull

static void short_timeouts(void)
{
    fx.config.ap_timeout_ns = 30 * MS;
}

/* An AP that never answers times out; the others still come up. */
static void test_silent_ap_times_out(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        fx_setup(0, false);
        short_timeouts();
        fx.config.mode = mode ? SMPBOOT_MODE_SERIAL : SMPBOOT_MODE_PARALLEL;
        mock_add_ap(1, MOCK_AP_PROMPT);
        mock_add_ap(2, MOCK_AP_SILENT);
        mock_add_ap(3, MOCK_AP_PROMPT);
        fx_init_and_add();
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
        fx_join_and_check();
        assert_int_equal(smpboot_cpu_find(&fx.sb, 1)->result, SMPBOOT_CPU_ONLINE);
        assert_int_equal(smpboot_cpu_find(&fx.sb, 2)->result, SMPBOOT_CPU_TIMED_OUT);
        assert_int_equal(smpboot_cpu_find(&fx.sb, 2)->progress, SMPBOOT_PROGRESS_NONE);
        assert_int_equal(smpboot_cpu_find(&fx.sb, 3)->result, SMPBOOT_CPU_ONLINE);
        assert_int_equal(fx_count_icr(2, SIPI), fx.config.sipi_count);
        unsigned icr_before = mock_icr_count();
        assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
        /* finish resets the silent AP with INIT before freeing its stack. */
        assert_int_equal(fx_find_icr(icr_before, 2, INIT_MODE), (int)icr_before);
        assert_int_equal(mock_pages_outstanding(), 2 * (fx.config.stack_size / 4096));
        assert_int_equal(mock_maps_outstanding(), 0);
    }
}

/* A late AP loses its slot, parks without touching it, and its stack goes to nobody. */
static void test_late_ap_loses_and_parks(void **state)
{
    (void)state;
    fx_setup(0, false);
    short_timeouts();
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_LATE);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    struct smpboot_cpu *late = smpboot_cpu_find(&fx.sb, 2);
    assert_int_equal(late->result, SMPBOOT_CPU_TIMED_OUT);
    uint64_t late_stack = late->stack_phys;
    /* Let the late AP run its trampoline now, before finish. */
    uint64_t waited = 0;
    while (!__atomic_load_n(&mock_ap_by_id(2)->lost_slot, __ATOMIC_ACQUIRE) && waited++ < 20000000)
        sched_yield();
    assert_true(mock_ap_by_id(2)->lost_slot);
    fx_join_and_check();
    assert_int_equal(smpboot_trampoline_entries(NULL), 0);  /* the mock checks it left its slot untouched */
    assert_false(mock_ap_by_id(2)->won_slot);
    assert_int_equal(mock_ap_by_id(2)->entries, 0);
    assert_int_equal(mock_ap_by_id(2)->stack_top_seen, 0);
    assert_int_equal(fx_entries[late->index], 0);
    /* Its stack is no other CPU's stack. */
    assert_true(smpboot_cpu_find(&fx.sb, 1)->stack_phys != late_stack);

    unsigned events_before = mock_event_count();
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    /* The INIT to the late AP precedes the free of its stack. */
    int init_at = -1, free_at = -1;
    for (unsigned i = events_before; i < mock_event_count(); i++) {
        const struct mock_event *ev = mock_event_at(i);
        if (ev->kind == MOCK_EV_ICR && ev->a == 2 && ev->b == INIT_MODE && init_at < 0)
            init_at = (int)i;
        if (ev->kind == MOCK_EV_FREE && ev->a == late_stack)
            free_at = (int)i;
    }
    assert_true(init_at >= 0);
    assert_true(free_at > init_at);
}

/* A late AP that is reset by finish's INIT before it ever runs never touches anything. */
static void test_late_ap_reset_by_finish(void **state)
{
    (void)state;
    fx_setup(0, false);
    short_timeouts();
    mock_add_ap(3, MOCK_AP_LATE);
    fx_init_and_add();
    /* The mock's late thread waits for TIMED_OUT; finish's INIT resets it first or after. */
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    assert_false(mock_ap_by_id(3)->won_slot);
    assert_int_equal(mock_pages_outstanding(), 0);
}

/* An AP that answers the second SIPI only. */
static void test_second_sipi_needed(void **state)
{
    (void)state;
    fx_setup(0, false);
    mock_add_ap(1, MOCK_AP_SECOND_SIPI);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    assert_int_equal(fx_count_icr(1, SIPI), 2);
    assert_int_equal(smpboot_cpu_get(&fx.sb, 1)->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/*
 * An AP that reaches its slot only after the BSP's last SIPI claims it and
 * goes online on its own: no BSP step stands between claim and online.
 */
static void test_slow_ap_goes_online_by_itself(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        fx_setup(0, false);
        fx.config.mode = mode ? SMPBOOT_MODE_SERIAL : SMPBOOT_MODE_PARALLEL;
        mock_add_ap(1, MOCK_AP_PROMPT);
        mock_add_ap(2, MOCK_AP_SLOW);
        mock_add_ap(3, MOCK_AP_SLOW);
        fx_init_and_add();
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
        fx_join_and_check();
        for (uint32_t id = 2; id <= 3; id++) {
            assert_int_equal(smpboot_cpu_find(&fx.sb, id)->result, SMPBOOT_CPU_ONLINE);
            /* Silent until after both SIPIs; none was sent once it could run. */
            assert_int_equal(fx_count_icr(id, SIPI), 2);
        }
        assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    }
}

/* With one SIPI only, such an AP times out. */
static void test_one_sipi_not_enough(void **state)
{
    (void)state;
    fx_setup(0, false);
    short_timeouts();
    fx.config.sipi_count = 1;
    mock_add_ap(1, MOCK_AP_SECOND_SIPI);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    fx_join_and_check();
    assert_int_equal(smpboot_cpu_get(&fx.sb, 1)->result, SMPBOOT_CPU_TIMED_OUT);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/* The fixture with the fast profile (one SIPI, SDM retry after `retry_window_ns`). */
static void setup_fast_profile(uint64_t retry_window_ns)
{
    fx_setup(0, false);
    struct smpboot_config fast;
    smpboot_config_fast(&fast);
    fast.entry = fx.config.entry;
    fast.stack_size = fx.config.stack_size;
    fast.online_timeout_ns = fx.config.online_timeout_ns;
    fast.retry_window_ns = retry_window_ns;
    fx.config = fast;
}

/* The total bound ran out in the fast attempt's answer window: no retry overruns it. */
static void test_no_retry_past_the_total_bound(void **state)
{
    (void)state;
    setup_fast_profile(40 * MS);
    fx.config.total_timeout_ns = 20 * MS;   /* ends inside the retry window */
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_NEEDS_SDM);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    fx_join_and_check();
    assert_int_equal(fx_count_icr(2, INIT_MODE), 1);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 2)->retries, 0);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 2)->result, SMPBOOT_CPU_TIMED_OUT);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/* Fast profile: an AP that loses a SIPI sent too soon gets the SDM sequence once more. */
static void test_fast_profile_falls_back_to_sdm(void **state)
{
    (void)state;
    setup_fast_profile(20 * MS);
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_NEEDS_SDM);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    struct smpboot_cpu *slow = smpboot_cpu_find(&fx.sb, 2);
    assert_int_equal(slow->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(slow->retries, 1);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 1)->retries, 0);
    /* AP 2: INIT, SIPI (lost), then INIT, 10 ms, SIPI (answered). AP 1: INIT, SIPI. */
    assert_int_equal(fx_count_icr(2, INIT_MODE), 2);
    assert_int_equal(fx_count_icr(1, INIT_MODE), 1);
    int second_init = fx_find_icr((unsigned)fx_find_icr(0, 2, INIT_MODE) + 1, 2, INIT_MODE);
    int last_sipi = fx_find_icr((unsigned)second_init, 2, SIPI);
    assert_true(second_init > 0 && last_sipi > second_init);
    assert_true(mock_icr_at(last_sipi)->at_ns - mock_icr_at(second_init)->at_ns
                >= SMPBOOT_SDM_INIT_DELAY_NS);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/*
 * The fast profile's re-INIT takes time to land. An AP whose trampoline
 * reaches its slot in that gap must not win it: it is about to be reset.
 * The slot stays HELD until the INIT has landed; the AP then answers the
 * retry's SIPI and comes online.
 */
static void test_reinit_holds_slot_until_init_lands(void **state)
{
    (void)state;
    setup_fast_profile(20 * MS);
    mock_set_init_delay(5 * MS);  /* below the SDM attempt's 10 ms INIT delay */
    mock_add_ap(1, MOCK_AP_CLAIMS_DURING_REINIT);
    mock_add_ap(2, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    struct smpboot_cpu *racer = smpboot_cpu_find(&fx.sb, 1);
    assert_int_equal(racer->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(racer->retries, 1);
    assert_int_equal(fx_entries[racer->index], 1);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 2)->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
}

/*
 * QEMU and KVM apply a SIPI still pending from the first attempt right after
 * the retry's INIT, so the AP reaches its slot while the BSP holds it. It
 * must wait for the slot to be armed again, not park: a parked CPU ignores
 * the retry's SIPIs and would time out (seen under TCG with 64 vCPUs on 2
 * host cores).
 */
static void test_stale_sipi_after_reinit_comes_online(void **state)
{
    (void)state;
    setup_fast_profile(20 * MS);
    mock_add_ap(1, MOCK_AP_STALE_SIPI_AFTER_REINIT);
    mock_add_ap(2, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    struct smpboot_cpu *stale = smpboot_cpu_find(&fx.sb, 1);
    assert_int_equal(stale->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(stale->retries, 1);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 2)->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
}

/* A clock that reads near UINT64_MAX: every deadline saturates, nothing is skipped. */
static void test_deadlines_saturate_near_clock_wrap(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.total_timeout_ns = 30000 * MS;
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_PROMPT);
    fx_init_and_add();
    mock_set_clock_now(UINT64_MAX - 20000 * MS);  /* start + total wraps */
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    assert_int_equal(smpboot_online_count(&fx.sb), 3);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/*
 * A clock that stops (a tick counter read with interrupts off): every
 * bounded wait would spin for ever. start reports it instead, and every AP
 * still gets a verdict.
 */
static void test_stopped_clock_is_an_error_not_a_hang(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.host.relax = NULL;  /* PAUSE: the poll bound passes quickly */
    mock_add_ap(1, MOCK_AP_SILENT);
    fx_init_and_add();
    mock_stop_clock();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_CLOCK_STUCK);
    fx_join_and_check();
    assert_int_equal(smpboot_cpu_find(&fx.sb, 1)->result, SMPBOOT_CPU_TIMED_OUT);
    /* finish's INIT cannot be timed either: what the AP might use is kept, not freed. */
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_ERR_CLOCK_STUCK);
    assert_true(smpboot_cpu_find(&fx.sb, 1)->not_reset);
    assert_true(mock_phys_is_allocated(fx_session()->abandoned.tramp_phys, 4096));
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_CPU_NOT_RESET);
}

/* The INIT delay of the default profile comes from the BSP's CPUID, and the log says which rule. */
static char delay_log[1024];

static void keep_delay_log(void *ctx, enum smpboot_log_level level, const char *message)
{
    (void)ctx;
    (void)level;
    strncat(delay_log, message, sizeof delay_log - strlen(delay_log) - 1);
    strncat(delay_log, "\n", sizeof delay_log - strlen(delay_log) - 1);
}

static void test_init_delay_from_cpuid(void **state)
{
    (void)state;
    const struct {
        const char *vendor;
        uint32_t eax;
        bool hypervisor;
        uint64_t delay;
        const char *rule;
    } cases[] = {
        {"GenuineIntel", 0x000906EAu, false, 0, "Intel family >= 6"},
        {"GenuineIntel", 0x00000543u, false, SMPBOOT_SDM_INIT_DELAY_NS, "the SDM's delay"},
        {"AuthenticAMD", 0x00A20F10u, false, 0, "AMD family >= 0xF"},
        {"AuthenticAMD", 0x00000500u, false, SMPBOOT_SDM_INIT_DELAY_NS, "the SDM's delay"},
        {"HygonGenuine", 0x00900F00u, false, 0, "Hygon"},
        {"GenuineIntel", 0x00000543u, true, 0, "a hypervisor"},
    };
    for (unsigned k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        delay_log[0] = '\0';
        fx_setup(0, false);
        struct smpboot_config defaults;
        smpboot_config_default(&defaults);
        defaults.entry = fx.config.entry;
        defaults.stack_size = fx.config.stack_size;
        defaults.ap_timeout_ns = fx.config.ap_timeout_ns;
        defaults.online_timeout_ns = fx.config.online_timeout_ns;
        fx.config = defaults;
        fx.host.log = keep_delay_log;
        mock_arch_set_cpuid(cases[k].vendor, cases[k].eax, cases[k].hypervisor);
        mock_add_ap(1, MOCK_AP_PROMPT);
        fx_init_and_add();
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
        fx_join_and_check();
        assert_int_equal(fx_session()->init_delay_ns, cases[k].delay);
        if (!strstr(delay_log, cases[k].rule))
            fail_msg("case %u: log does not name the rule \"%s\":\n%s", k, cases[k].rule, delay_log);
        assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    }
}

/* An AP that wins its slot and dies is reported with its last progress mark. */
static void test_stalled_ap_reports_progress(void **state)
{
    (void)state;
    fx_setup(0, false);
    short_timeouts();
    fx.config.online_timeout_ns = 30 * MS;  /* it never goes online: don't wait 20 s */
    mock_add_ap(1, MOCK_AP_STALL);
    mock_add_ap(2, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    fx_join_and_check();
    struct smpboot_cpu *cpu = smpboot_cpu_find(&fx.sb, 1);
    assert_int_equal(cpu->result, SMPBOOT_CPU_STALLED);
    assert_int_equal(cpu->progress, SMPBOOT_PROGRESS_LONG_MODE);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 2)->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    assert_int_equal(fx_count_icr(1, INIT_MODE), 2);  /* kicked, then reset by finish */
    assert_int_equal(mock_pages_outstanding(), fx.config.stack_size / 4096);
}

/* A BSP descheduled right after the SIPI: the AP goes online without it. */
static void test_ap_goes_online_while_bsp_is_away(void **state)
{
    (void)state;
    fx_setup(0, false);
    mock_add_ap(1, MOCK_AP_PROMPT);
    fx_init_and_add();
    mock_stall_bsp_once(200 * MS);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    struct smpboot_cpu *cpu = smpboot_cpu_get(&fx.sb, 1);
    assert_int_equal(cpu->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(cpu->progress, SMPBOOT_PROGRESS_ONLINE);
    assert_int_equal(fx_entries[1], 1);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/* An ICR that never goes idle: bounded, reported, nothing else sent. */
static void test_icr_stuck(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.icr_timeout_ns = 2 * MS;
    short_timeouts();
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_PROMPT);
    fx_init_and_add();
    mock_set_icr_stuck(true);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_IPI_BUSY);
    fx_join_and_check();
    assert_int_equal(mock_icr_count(), 0);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 1)->result, SMPBOOT_CPU_SEND_FAILED);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 2)->result, SMPBOOT_CPU_SKIPPED);
    assert_int_equal(smpboot_online_count(&fx.sb), 1);
    /*
     * finish cannot INIT it either: it keeps what that AP might still use (its
     * stack, the trampoline page and its mapping, the slot table) rather than
     * hand it back to the kernel. Only the skipped AP's stack is freed.
     */
    uint64_t page = fx_session()->tramp_phys;
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_ERR_IPI_BUSY);
    assert_int_equal(mock_pages_outstanding(), fx.config.stack_size / 4096 + 1 + 1);
    assert_int_equal(mock_maps_outstanding(), 1);
    assert_true(mock_phys_is_allocated(page, 4096));
    assert_int_equal(fx_session()->abandoned.tramp_phys, page);
    assert_true(smpboot_cpu_find(&fx.sb, 1)->not_reset);
    assert_false(smpboot_cpu_find(&fx.sb, 2)->not_reset);
}

/*
 * ESR send errors are reported per AP with the register value. The one a
 * bring-up can meet is an accept error (P6/Pentium APIC bus, Bochs): no APIC
 * has that ID. It shows at the INIT, which fails that AP there: no SIPI
 * follows, in every profile, and the others come up.
 */
static void test_esr_error(void **state)
{
    (void)state;
    for (int profile = 0; profile < 3; profile++) {
        if (profile == 0) {
            fx_setup(0, false);
        } else {
            setup_fast_profile(20 * MS);
            if (profile == 2) {
                struct smpboot_config defaults;
                smpboot_config_default(&defaults);
                defaults.entry = fx.config.entry;
                defaults.stack_size = fx.config.stack_size;
                defaults.online_timeout_ns = fx.config.online_timeout_ns;
                fx.config = defaults;
            }
        }
        short_timeouts();
        fx_capture_log();
        mock_add_ap(1, MOCK_AP_PROMPT);
        fx_init_and_add();
        assert_int_equal(smpboot_add_cpu(&fx.sb, 5), SMPBOOT_OK);  /* in the table, not on the bus */
        mock_set_accept_error(5);
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
        struct smpboot_cpu *absent = smpboot_cpu_find(&fx.sb, 5);
        assert_int_equal(absent->result, SMPBOOT_CPU_SEND_FAILED);
        assert_int_equal(absent->esr, 0x04);
        assert_true(fx_logged("APIC 5: INIT IPI failed"));
        assert_int_equal(fx_count_icr(5, INIT_MODE), 1);
        assert_int_equal(fx_count_icr(5, SIPI), 0);
        assert_int_equal(smpboot_cpu_find(&fx.sb, 1)->result, SMPBOOT_CPU_ONLINE);
        assert_int_equal(smpboot_cpu_find(&fx.sb, 1)->esr, 0);
        fx_join_and_check();  /* AP 1's entry has returned: finish may free its slot */
        mock_set_accept_error(0xFFFFFFFFu);
        assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
        assert_int_equal(mock_pages_outstanding(), fx.config.stack_size / 4096);
    }
}

/* The overall bound: CPUs not reached in time are skipped, never kicked. */
static void test_total_timeout_skips(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.mode = SMPBOOT_MODE_SERIAL;
    fx.config.ap_timeout_ns = 40 * MS;
    fx.config.total_timeout_ns = 60 * MS;
    mock_add_ap(1, MOCK_AP_SILENT);
    mock_add_ap(2, MOCK_AP_SILENT);
    mock_add_ap(3, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    fx_join_and_check();
    assert_int_equal(smpboot_cpu_find(&fx.sb, 1)->result, SMPBOOT_CPU_TIMED_OUT);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 3)->result, SMPBOOT_CPU_SKIPPED);
    assert_int_equal(fx_count_icr(3, INIT_MODE), 0);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    assert_int_equal(mock_pages_outstanding(), 0);
}

/* Every host allocation or mapping failing in turn: its error back, nothing kept, retry works. */
static void test_each_callback_failure_rolls_back(void **state)
{
    (void)state;
    /* Count the calls of a clean run first. */
    fx_setup(0, false);
    fx.config.extra_stack_count = 1;
    fx.config.extra_stack_size = 4096;
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    unsigned allocs = mock_alloc_calls();
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    assert_true(allocs >= 6);  /* 2 x (stack + extra), slots, trampoline page */

    for (unsigned failing = 1; failing <= allocs + 1; failing++) {
        bool map_fails = failing == allocs + 1;
        fx_setup(0, false);
        fx.config.extra_stack_count = 1;
        fx.config.extra_stack_size = 4096;
        mock_add_ap(1, MOCK_AP_PROMPT);
        mock_add_ap(2, MOCK_AP_PROMPT);
        fx_init_and_add();
        if (map_fails)
            mock_fail_map_call(1);
        else
            mock_fail_alloc_call(failing);
        enum smpboot_status status = smpboot_start(&fx.sb);
        assert_int_equal(status, map_fails ? SMPBOOT_ERR_MAP_FAILED : SMPBOOT_ERR_NO_MEMORY);
        assert_int_equal(mock_pages_outstanding(), 0);
        assert_int_equal(mock_maps_outstanding(), 0);
        assert_int_equal(mock_icr_count(), 0);  /* nothing was sent */
        if (mock_protocol_errors())
            fail_msg("call %u: %s", failing, mock_last_protocol_error());
        for (uint32_t i = 1; i < 3; i++)
            assert_int_equal(smpboot_cpu_get(&fx.sb, i)->stack_top, 0);
        /* The failure is not fatal: with memory back, start works. */
        mock_fail_alloc_call(0);
        mock_fail_map_call(0);
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
        fx_join_and_check();
        assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    }
}

/* A trampoline page the host should not have given: refused, freed, clear error. */
static void test_bad_trampoline_page(void **state)
{
    (void)state;
    const uint64_t bad_pages[] = {0x0, 0xA0000, 0x8800 /* unaligned */};
    for (unsigned k = 0; k < 3; k++) {
        fx_setup(0, false);
        mock_add_ap(1, MOCK_AP_PROMPT);
        fx_init_and_add();
        mock_force_low_page(bad_pages[k]);
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE);
        assert_int_equal(mock_pages_outstanding(), 0);
        assert_int_equal(mock_icr_count(), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_silent_ap_times_out),
        cmocka_unit_test(test_late_ap_loses_and_parks),
        cmocka_unit_test(test_late_ap_reset_by_finish),
        cmocka_unit_test(test_second_sipi_needed),
        cmocka_unit_test(test_slow_ap_goes_online_by_itself),
        cmocka_unit_test(test_one_sipi_not_enough),
        cmocka_unit_test(test_fast_profile_falls_back_to_sdm),
        cmocka_unit_test(test_no_retry_past_the_total_bound),
        cmocka_unit_test(test_reinit_holds_slot_until_init_lands),
        cmocka_unit_test(test_stale_sipi_after_reinit_comes_online),
        cmocka_unit_test(test_deadlines_saturate_near_clock_wrap),
        cmocka_unit_test(test_stopped_clock_is_an_error_not_a_hang),
        cmocka_unit_test(test_stalled_ap_reports_progress),
        cmocka_unit_test(test_ap_goes_online_while_bsp_is_away),
        cmocka_unit_test(test_init_delay_from_cpuid),
        cmocka_unit_test(test_icr_stuck),
        cmocka_unit_test(test_esr_error),
        cmocka_unit_test(test_total_timeout_skips),
        cmocka_unit_test(test_each_callback_failure_rolls_back),
        cmocka_unit_test(test_bad_trampoline_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
