/* The IPI sequence on the wire, CPU counts, ID layouts and APIC modes. */
#include "fixture.h"

#include <sched.h>

#define SIPI 0x600u
#define INIT_MODE 0x500u

static void bring_up_all_prompt(unsigned aps, uint32_t stride, bool x2apic)
{
    fx_setup(0, x2apic);
    for (unsigned i = 1; i <= aps; i++)
        mock_add_ap(i * stride, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    assert_int_equal(smpboot_online_count(&fx.sb), aps + 1);
    fx_join_and_check();
    for (unsigned i = 1; i <= aps; i++) {
        struct smpboot_cpu *cpu = smpboot_cpu_get(&fx.sb, i);
        assert_non_null(cpu);
        assert_int_equal(cpu->apic_id, i * stride);
        assert_int_equal(cpu->result, SMPBOOT_CPU_ONLINE);
        assert_int_equal(cpu->progress, SMPBOOT_PROGRESS_ONLINE);
        assert_int_equal(fx_entries[i], 1);
        assert_int_equal(mock_ap_by_id(i * stride)->stack_top_seen, cpu->stack_top);
        /* Exactly one INIT and one SIPI each: every AP answered the first. */
        assert_int_equal(fx_count_icr(i * stride, INIT_MODE), 1);
        assert_int_equal(fx_count_icr(i * stride, SIPI), 1);
    }
    assert_int_equal(fx_entries[0], 0);  /* the entry never runs on the BSP */
    assert_true(smpboot_bringup_ns(&fx.sb) > 0);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    /* Only the online APs' stacks remain borrowed. */
    assert_int_equal(mock_pages_outstanding(), aps * (fx.config.stack_size / 4096));
    assert_int_equal(mock_maps_outstanding(), 0);
}

static void test_one_ap(void **state) { (void)state; bring_up_all_prompt(1, 1, false); }
static void test_two_aps(void **state) { (void)state; bring_up_all_prompt(2, 1, false); }
static void test_seven_aps(void **state) { (void)state; bring_up_all_prompt(7, 1, false); }
static void test_64_aps(void **state) { (void)state; bring_up_all_prompt(64, 1, false); }
static void test_sparse_ids(void **state) { (void)state; bring_up_all_prompt(12, 7, false); }
static void test_64_aps_x2apic_sparse(void **state) { (void)state; bring_up_all_prompt(64, 37, true); }

/* Serial: INIT a, delay, SIPI a, (a answers: no second SIPI), then b. */
static void test_serial_sequence_sdm(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.mode = SMPBOOT_MODE_SERIAL;
    fx.config.init_delay_ns = SMPBOOT_SDM_INIT_DELAY_NS;
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_SECOND_SIPI);
    mock_add_ap(3, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();

    /* On the wire: INIT 1, SIPI 1, INIT 2, SIPI 2, SIPI 2, INIT 3, SIPI 3. */
    const uint32_t want_dest[] = {1, 1, 2, 2, 2, 3, 3};
    const uint32_t want_mode[] = {INIT_MODE, SIPI, INIT_MODE, SIPI, SIPI, INIT_MODE, SIPI};
    fx_assert_wire(want_dest, want_mode, 7);
    /* The SDM delay: each first SIPI at least 10 ms after its INIT. */
    assert_true(mock_icr_at(1)->at_ns - mock_icr_at(0)->at_ns >= SMPBOOT_SDM_INIT_DELAY_NS);
    assert_true(mock_icr_at(3)->at_ns - mock_icr_at(2)->at_ns >= SMPBOOT_SDM_INIT_DELAY_NS);
    /* The second SIPI to AP 2 only after the spacing. */
    assert_true(mock_icr_at(4)->at_ns - mock_icr_at(3)->at_ns >= SMPBOOT_SDM_SIPI_SPACING_NS);
    /* Serial: AP 2 was online before AP 3 got its INIT. */
    assert_int_equal(mock_ap_by_id(2)->sipis, 2);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/* Parallel: all INITs, one delay, all SIPIs, a second SIPI only to the late one. */
static void test_parallel_sequence_sdm(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.init_delay_ns = SMPBOOT_SDM_INIT_DELAY_NS;
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_SECOND_SIPI);
    mock_add_ap(3, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();

    const uint32_t want_dest[] = {1, 2, 3, 1, 2, 3, 2};
    const uint32_t want_mode[] = {INIT_MODE, INIT_MODE, INIT_MODE, SIPI, SIPI, SIPI, SIPI};
    fx_assert_wire(want_dest, want_mode, 7);
    /* One INIT delay for all of them, counted from the last INIT. */
    assert_true(mock_icr_at(3)->at_ns - mock_icr_at(2)->at_ns >= SMPBOOT_SDM_INIT_DELAY_NS);
    assert_true(mock_icr_at(6)->at_ns - mock_icr_at(5)->at_ns >= SMPBOOT_SDM_SIPI_SPACING_NS);
    for (uint32_t i = 1; i <= 3; i++)
        assert_int_equal(smpboot_cpu_get(&fx.sb, i)->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/* Logical numbers follow APIC IDs, not the order of adding or of arrival. */
static void test_numbering_is_sorted(void **state)
{
    (void)state;
    fx_setup(5, false);
    const uint32_t ids[] = {40, 3, 17, 0, 9};
    for (unsigned i = 0; i < 5; i++)
        mock_add_ap(ids[i], MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_add_cpu(&fx.sb, 5), SMPBOOT_OK);  /* the BSP: no duplicate */
    assert_int_equal(smpboot_add_cpu(&fx.sb, 17), SMPBOOT_OK); /* already there */
    assert_int_equal(smpboot_cpu_count(&fx.sb), 6);
    const uint32_t sorted[] = {5, 0, 3, 9, 17, 40};
    for (uint32_t i = 0; i < 6; i++) {
        assert_int_equal(smpboot_cpu_get(&fx.sb, i)->apic_id, sorted[i]);
        assert_int_equal(smpboot_cpu_get(&fx.sb, i)->index, i);
        assert_ptr_equal(smpboot_cpu_find(&fx.sb, sorted[i]), smpboot_cpu_get(&fx.sb, i));
    }
    assert_null(smpboot_cpu_find(&fx.sb, 6));
    assert_int_equal(smpboot_cpu_get(&fx.sb, 0)->result, SMPBOOT_CPU_BSP);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    assert_int_equal(fx_count_icr(5, INIT_MODE), 0);  /* never an IPI to the BSP */
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/* xAPIC: 255 is the broadcast address and 256 does not fit: unreachable, never sent. */
static void test_ids_255_256_xapic(void **state)
{
    (void)state;
    fx_setup(0, false);
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(254, MOCK_AP_PROMPT);
    mock_add_ap(255, MOCK_AP_PROMPT);
    mock_add_ap(256, MOCK_AP_PROMPT);
    mock_fill_host(&fx.host, false);  /* no write_icr: the ICR_HIGH/ICR_LOW fallback */
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    fx_join_and_check();
    assert_int_equal(smpboot_cpu_find(&fx.sb, 254)->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 255)->result, SMPBOOT_CPU_UNREACHABLE);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 256)->result, SMPBOOT_CPU_UNREACHABLE);
    for (unsigned i = 0; i < mock_icr_count(); i++)
        assert_true(mock_icr_at(i)->dest < 255);
    assert_int_equal(smpboot_online_count(&fx.sb), 3);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    /* Unreachable CPUs never got a stack that outlives finish. */
    assert_int_equal(mock_pages_outstanding(), 2 * (fx.config.stack_size / 4096));
}

/* x2APIC: 255 and 256 are ordinary 32-bit IDs; 0xFFFFFFFF is refused. */
static void test_ids_255_256_x2apic(void **state)
{
    (void)state;
    fx_setup(0, true);
    mock_add_ap(255, MOCK_AP_PROMPT);
    mock_add_ap(256, MOCK_AP_PROMPT);
    mock_add_ap(0x12345, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_add_cpu(&fx.sb, 0xFFFFFFFFu), SMPBOOT_OK);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    fx_join_and_check();
    assert_int_equal(smpboot_cpu_find(&fx.sb, 255)->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 256)->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 0x12345)->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(smpboot_cpu_find(&fx.sb, 0xFFFFFFFFu)->result, SMPBOOT_CPU_REJECTED);
    assert_int_equal(fx_count_icr(0xFFFFFFFFu, INIT_MODE), 0);
    assert_int_equal(fx_count_icr(256, SIPI), 1);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/* Extra stacks reach the entry, distinct and aligned. */
static void test_extra_stacks(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.extra_stack_count = 3;
    fx.config.extra_stack_size = 4096;
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    for (uint32_t i = 1; i <= 2; i++) {
        struct smpboot_cpu *cpu = smpboot_cpu_get(&fx.sb, i);
        for (unsigned k = 0; k < 3; k++) {
            assert_true(cpu->extra_stack_top[k] != 0);
            assert_int_equal(cpu->extra_stack_top[k] % 16, 0);
            assert_true(cpu->extra_stack_top[k] != cpu->stack_top);
        }
        assert_int_equal(cpu->extra_stack_top[3], 0);
    }
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    assert_int_equal(mock_pages_outstanding(), 2 * (2 + 3));
}

/* The ready handshake: entries that say ready are recorded so. */
static void test_ready_handshake(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.ready_timeout_ns = 20000000000ull;  /* a bound, not a duration */
    fx_entry_says_ready = true;
    for (uint32_t id = 1; id <= 4; id++)
        mock_add_ap(id, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    assert_int_equal(smpboot_wait_ready(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    for (uint32_t i = 1; i <= 4; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&fx.sb, i);
        assert_int_equal(cpu->result, SMPBOOT_CPU_ONLINE);
        assert_int_equal(cpu->progress, SMPBOOT_PROGRESS_READY);
        assert_true(cpu->timeline.ready >= cpu->timeline.online);
    }
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/*
 * An entry that never says ready: the wait is bounded, the AP is NOT_READY,
 * and since it runs kernel code finish neither resets it nor frees its
 * stacks. It still takes a panic NMI, but no fixed IPI. Once it says ready,
 * a later wait makes it ONLINE again.
 */
static void test_entry_never_ready(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.ready_timeout_ns = 20000000;  /* 20 ms: it never comes */
    mock_add_ap(1, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    assert_int_equal(smpboot_wait_ready(&fx.sb), SMPBOOT_ERR_PARTIAL);
    struct smpboot_cpu *cpu = smpboot_cpu_get(&fx.sb, 1);
    assert_int_equal(cpu->result, SMPBOOT_CPU_NOT_READY);
    unsigned before = mock_icr_count();
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    assert_int_equal(mock_icr_count(), before);  /* no INIT */
    assert_true(cpu->stack_top != 0);
    assert_int_equal(mock_pages_outstanding(), fx.config.stack_size / 4096);
    assert_int_equal(smpboot_send_ipi(&fx.sb, 1, 0x40), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_nmi_others(&fx.sb), SMPBOOT_OK);
    assert_int_equal(mock_icr_at(before)->delivery, 0x400u);
    smpboot_ap_ready(cpu);  /* as its entry would, late */
    assert_int_equal(smpboot_wait_ready(&fx.sb), SMPBOOT_OK);
    assert_int_equal(cpu->result, SMPBOOT_CPU_ONLINE);
    assert_int_equal(cpu->progress, SMPBOOT_PROGRESS_READY);
    assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_OK);
    assert_int_equal(mock_pages_outstanding(), 0);
}

/* ICR records when each AP said ready, by logical index. */
static unsigned icrs_at_ready[8];

/*
 * Says ready only once the BSP has sent another IPI, or after a short
 * bound: with next_after_ready the BSP sends nothing until then.
 */
static void entry_ready_after_next_ipi(struct smpboot_cpu *cpu)
{
    unsigned seen = mock_icr_count();
    for (unsigned spins = 0; spins < 20000 && mock_icr_count() == seen; spins++)
        sched_yield();
    icrs_at_ready[cpu->index] = mock_icr_count();
    smpboot_ap_ready(cpu);
}

static void test_next_after_ready_orders_the_kicks(void **state)
{
    (void)state;
    fx_setup(0, false);
    fx.config.mode = SMPBOOT_MODE_SERIAL;
    fx.config.ready_timeout_ns = 20000000000ull;
    fx.config.next_after_ready = true;
    fx.config.entry = entry_ready_after_next_ipi;
    for (uint32_t id = 1; id <= 3; id++)
        mock_add_ap(id, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    for (uint32_t i = 1; i <= 3; i++)
        assert_int_equal(smpboot_cpu_get(&fx.sb, i)->progress, SMPBOOT_PROGRESS_READY);
    /* AP n+1's INIT went out only after AP n said ready. */
    for (uint32_t id = 1; id < 3; id++) {
        int next_init = fx_find_icr(0, id + 1, INIT_MODE);
        assert_true(next_init >= 0);
        assert_true((unsigned)next_init >= icrs_at_ready[id]);
    }
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

/*
 * What the BSP's APIC costs per AP. Under a hypervisor every xAPIC access
 * is an exit, so the counts are the cost. The INIT keeps the full check
 * (ICR idle, ESR clear, write, ICR idle, ESR latch and read: it is where an
 * absent APIC shows); a SIPI is the idle check and the write, nothing else.
 */
enum apic_setup { XAPIC_TWO_STORES, XAPIC_WRITE_ICR, X2APIC };

static void setup_for_costs(enum apic_setup apic, bool fast, bool serial)
{
    fx_setup(0, apic == X2APIC);
    mock_fill_host(&fx.host, apic != XAPIC_TWO_STORES);
    struct smpboot_config profile;
    if (fast)
        smpboot_config_fast(&profile);
    else
        smpboot_config_default(&profile);
    profile.apic_mode = fx.config.apic_mode;
    profile.entry = fx.config.entry;
    profile.stack_size = fx.config.stack_size;
    profile.online_timeout_ns = fx.config.online_timeout_ns;
    profile.mode = serial ? SMPBOOT_MODE_SERIAL : SMPBOOT_MODE_PARALLEL;
    fx.config = profile;
}

/* One IPI's ICR write, as the setup makes it: two stores, or one write_icr call. */
static void assert_icr_writes(const struct mock_apic_counts *c, enum apic_setup apic, unsigned sends)
{
    if (apic == XAPIC_TWO_STORES) {
        assert_int_equal(c->writes[MOCK_REG_ICR_HIGH], sends);
        assert_int_equal(c->writes[MOCK_REG_ICR_LOW], sends);
        assert_int_equal(c->writes[MOCK_REG_ICR], 0);
    } else {
        assert_int_equal(c->writes[MOCK_REG_ICR_HIGH], 0);
        assert_int_equal(c->writes[MOCK_REG_ICR_LOW], 0);
        assert_int_equal(c->writes[MOCK_REG_ICR], sends);
    }
}

static void check_start_costs(enum apic_setup apic, bool fast, bool serial)
{
    const unsigned aps = 4;
    /* x2APIC has no delivery-status bit: no ICR read at all. */
    const unsigned icr_check = apic == X2APIC ? 0 : 1;
    setup_for_costs(apic, fast, serial);
    for (uint32_t id = 1; id <= aps; id++)
        mock_add_ap(id, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    for (uint32_t id = 1; id <= aps; id++) {
        assert_int_equal(fx_count_icr(id, INIT_MODE), 1);
        assert_int_equal(fx_count_icr(id, SIPI), 1);
    }

    /* Parallel: SIPI after SIPI. Each window is the second SIPI's idle check and write only. */
    struct mock_apic_counts c = mock_apic_accesses(MOCK_IPI_SIPI, MOCK_IPI_SIPI);
    assert_int_equal(c.windows, serial ? 0 : aps - 1);
    assert_int_equal(c.reads[MOCK_REG_ICR_LOW], icr_check * c.windows);
    assert_int_equal(c.reads[MOCK_REG_ESR], 0);
    assert_int_equal(c.writes[MOCK_REG_ESR], 0);
    assert_icr_writes(&c, apic, c.windows);

    /* Serial: SIPI, then the next AP's INIT. The SIPI leaves nothing behind; the INIT clears ESR. */
    c = mock_apic_accesses(MOCK_IPI_SIPI, MOCK_IPI_INIT);
    assert_int_equal(c.windows, serial ? aps - 1 : 0);
    assert_int_equal(c.reads[MOCK_REG_ICR_LOW], icr_check * c.windows);
    assert_int_equal(c.reads[MOCK_REG_ESR], 0);
    assert_int_equal(c.writes[MOCK_REG_ESR], c.windows);

    /* INIT, then a SIPI: the INIT's idle wait and ESR latch and read, then the SIPI's check. */
    c = mock_apic_accesses(MOCK_IPI_INIT, MOCK_IPI_SIPI);
    assert_int_equal(c.windows, serial ? aps : 1);
    assert_int_equal(c.reads[MOCK_REG_ICR_LOW], 2 * icr_check * c.windows);
    assert_int_equal(c.writes[MOCK_REG_ESR], c.windows);
    assert_int_equal(c.reads[MOCK_REG_ESR], c.windows);

    /* Nothing after the last SIPI: no idle wait, no ESR. */
    c = mock_apic_accesses(MOCK_IPI_SIPI, MOCK_IPI_NONE);
    assert_int_equal(c.windows, 0);

    /*
     * Per AP, in all: the INIT's 2 ESR writes and 1 read, no ESR access for
     * the SIPI; ICR reads, 2 for the INIT and 1 for the SIPI (xAPIC).
     */
    c = mock_apic_accesses(MOCK_IPI_ANY, MOCK_IPI_ANY);
    assert_int_equal(c.writes[MOCK_REG_ESR], 2 * aps);
    assert_int_equal(c.reads[MOCK_REG_ESR], aps);
    assert_int_equal(c.reads[MOCK_REG_ICR_LOW], 3 * icr_check * aps);
    assert_icr_writes(&c, apic, 2 * aps);
    assert_int_equal(c.reads[MOCK_REG_ICR_HIGH] + c.reads[MOCK_REG_ICR], 0);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
}

static void test_sipi_makes_no_esr_access(void **state)
{
    (void)state;
    const enum apic_setup setups[] = {XAPIC_TWO_STORES, XAPIC_WRITE_ICR, X2APIC};
    for (unsigned k = 0; k < 3; k++)
        for (int fast = 0; fast < 2; fast++)
            for (int serial = 0; serial < 2; serial++)
                check_start_costs(setups[k], fast, serial);
}

/* One IPI's idle wait, ESR latch and read: the tail of a fully checked send. */
static void assert_full_check_tail(const struct mock_apic_counts *c, unsigned icr_check)
{
    assert_int_equal(c->windows, 1);
    assert_int_equal(c->reads[MOCK_REG_ICR_LOW], icr_check);
    assert_int_equal(c->writes[MOCK_REG_ESR], 1);
    assert_int_equal(c->reads[MOCK_REG_ESR], 1);
}

/* Every sender but the bring-up's SIPIs keeps the full check: a fixed IPI, NMIs, offline's INIT. */
static void test_other_senders_keep_the_esr_check(void **state)
{
    (void)state;
    for (int x2apic = 0; x2apic < 2; x2apic++) {
        const unsigned icr_check = x2apic ? 0 : 1;
        setup_for_costs(x2apic ? X2APIC : XAPIC_TWO_STORES, false, false);
        mock_add_ap(1, MOCK_AP_PROMPT);
        mock_add_ap(2, MOCK_AP_PROMPT);
        fx_init_and_add();
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
        fx_join_and_check();

        assert_int_equal(smpboot_send_ipi(&fx.sb, 1, 0x40), SMPBOOT_OK);
        struct mock_apic_counts c = mock_apic_accesses(MOCK_IPI_SIPI, MOCK_IPI_FIXED);
        assert_int_equal(c.writes[MOCK_REG_ESR], 1);  /* its clear */
        c = mock_apic_accesses(MOCK_IPI_FIXED, MOCK_IPI_NONE);
        assert_full_check_tail(&c, icr_check);

        assert_int_equal(smpboot_nmi_others(&fx.sb), SMPBOOT_OK);
        c = mock_apic_accesses(MOCK_IPI_NMI, MOCK_IPI_NMI);  /* the first NMI's tail, the second's head */
        assert_int_equal(c.windows, 1);
        assert_int_equal(c.writes[MOCK_REG_ESR], 2);
        assert_int_equal(c.reads[MOCK_REG_ESR], 1);
        c = mock_apic_accesses(MOCK_IPI_NMI, MOCK_IPI_NONE);
        assert_full_check_tail(&c, icr_check);

        assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
        assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_OK);
        c = mock_apic_accesses(MOCK_IPI_NMI, MOCK_IPI_INIT);
        assert_int_equal(c.writes[MOCK_REG_ESR], 2);  /* the NMI's latch, the INIT's clear */
        c = mock_apic_accesses(MOCK_IPI_INIT, MOCK_IPI_NONE);
        assert_full_check_tail(&c, icr_check);
        fx_join_and_check();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_ap),
        cmocka_unit_test(test_two_aps),
        cmocka_unit_test(test_seven_aps),
        cmocka_unit_test(test_64_aps),
        cmocka_unit_test(test_sparse_ids),
        cmocka_unit_test(test_64_aps_x2apic_sparse),
        cmocka_unit_test(test_serial_sequence_sdm),
        cmocka_unit_test(test_parallel_sequence_sdm),
        cmocka_unit_test(test_numbering_is_sorted),
        cmocka_unit_test(test_ids_255_256_xapic),
        cmocka_unit_test(test_ids_255_256_x2apic),
        cmocka_unit_test(test_extra_stacks),
        cmocka_unit_test(test_ready_handshake),
        cmocka_unit_test(test_entry_never_ready),
        cmocka_unit_test(test_next_after_ready_orders_the_kicks),
        cmocka_unit_test(test_sipi_makes_no_esr_access),
        cmocka_unit_test(test_other_senders_keep_the_esr_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
