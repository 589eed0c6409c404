/*
 * The public surface a kernel meets first: the ABI key, the version, the
 * local-APIC precondition, the derived total bound, a reserved trampoline
 * page, named allocation failures and kernel-provided stacks.
 */
#include "fixture.h"

#include <smpboot/clock.h>
#include <smpboot/pagemap.h>

#include "core/tsc_clock.h"
#include "trampoline/trampoline_asm_offsets.h"

#include <stdio.h>
#include <string.h>

#define MS 1000000ull

static const struct smpboot_abi matching_abi = {
    SMPBOOT_VERSION,
    sizeof(struct smpboot),
    sizeof(struct smpboot_cpu),
    sizeof(struct smpboot_host),
    sizeof(struct smpboot_config),
};

static enum smpboot_status init_with(const struct smpboot_abi *abi)
{
    return smpboot_init_abi(abi, &fx.sb, &fx.host, &fx.config, fx.cpus, FIXTURE_MAX_CPUS);
}

/* A kernel built against other headers is refused before anything is written. */
static void test_abi_mismatch_is_refused(void **state)
{
    (void)state;
    const char *names[] = {"version", "sizeof(struct smpboot)", "sizeof(struct smpboot_cpu)",
                           "sizeof(struct smpboot_host)", "sizeof(struct smpboot_config)"};
    for (int which = 0; which < 5; which++) {
        fx_setup(0, false);
        fx_capture_log();
        struct smpboot_abi abi = matching_abi;
        uint32_t *field[] = {&abi.version, &abi.session_size, &abi.cpu_size, &abi.host_size,
                             &abi.config_size};
        *field[which] += 8;
        memset(&fx.sb, 0xA5, sizeof fx.sb);
        memset(fx.cpus, 0x5A, sizeof fx.cpus[0]);
        assert_int_equal(init_with(&abi), SMPBOOT_ERR_ABI_MISMATCH);
        for (size_t i = 0; i < sizeof fx.sb; i++)
            assert_int_equal(((const uint8_t *)&fx.sb)[i], 0xA5);
        assert_int_equal(((const uint8_t *)fx.cpus)[0], 0x5A);
        /* The log names what differs, unless host itself is what differs. */
        if (which != 3)
            assert_true(fx_logged(names[which]));
        else
            assert_false(fx_logged("smpboot"));
    }
    fx_setup(0, false);
    assert_int_equal(smpboot_init_abi(NULL, &fx.sb, &fx.host, &fx.config, fx.cpus, 4),
                     SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(init_with(&matching_abi), SMPBOOT_OK);
    /* smpboot_init() is the header's call with the header's key. */
    fx_setup(0, false);
    assert_int_equal(smpboot_init(&fx.sb, &fx.host, &fx.config, fx.cpus, 4), SMPBOOT_OK);
    assert_string_equal(smpboot_status_str(SMPBOOT_ERR_ABI_MISMATCH),
                        "headers and library do not match");
}

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(smpboot_version(), SMPBOOT_VERSION);
    assert_int_equal(smpboot_version(), SMPBOOT_VERSION_MAJOR * 10000 + SMPBOOT_VERSION_MINOR * 100
                                            + SMPBOOT_VERSION_PATCH);
    assert_true(smpboot_version() >= 100);
}

/* A reader of a memory dump finds the slot table through the word the session keeps it in. */
static void test_postmortem_slot_table(void **state)
{
    (void)state;
    fx_setup(0, false);
    mock_add_ap(1, MOCK_AP_PROMPT);
    fx_init_and_add();
    const uint64_t *word = smpboot_postmortem_slot_table(&fx.sb);
    assert_non_null(word);
    assert_true((const uint8_t *)word >= (const uint8_t *)&fx.sb
                && (const uint8_t *)(word + 1) <= (const uint8_t *)(&fx.sb + 1));
    assert_int_equal(*word, 0);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    assert_true(*word != 0);
    assert_true(mock_phys_is_allocated(*word, 64 * 2));
    const struct smpboot_slot *slots = mock_phys_to_virt(*word);
    assert_int_equal(slots[1].apic_id, 1);
    fx_join_and_check();
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    assert_int_equal(*word, 0);
    assert_null(smpboot_postmortem_slot_table(NULL));
}

/* No APIC, or a disabled one: refused before any allocation or IPI, and the session stays usable. */
static void test_no_local_apic_is_refused(void **state)
{
    (void)state;
    for (int disabled_only = 0; disabled_only < 2; disabled_only++) {
        fx_setup(0, false);
        fx_capture_log();
        mock_add_ap(1, MOCK_AP_PROMPT);
        fx_init_and_add();
        if (disabled_only)
            mock_arch_set_local_apic(true, 0xFEE00100u); /* BSP flag, EN clear */
        else
            mock_arch_set_local_apic(false, 0xFEE00900u);
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_NO_APIC);
        assert_int_equal(mock_alloc_calls(), 0);
        assert_int_equal(mock_icr_count(), 0);
        /* Without CPUID's APIC bit the MSR may not exist: it is not read. */
        assert_int_equal(mock_arch_apic_base_reads(), disabled_only ? 1 : 0);
        assert_true(fx_logged(disabled_only ? "IA32_APIC_BASE.EN clear" : "no local APIC"));
        assert_int_equal(smpboot_cpu_get(&fx.sb, 1)->result, SMPBOOT_CPU_NOT_STARTED);

        mock_arch_set_local_apic(true, 0xFEE00900u);
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
        fx_join_and_check();
        assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    }
    assert_string_equal(smpboot_status_str(SMPBOOT_ERR_NO_APIC), "no usable local APIC");
}

#define MANY_APS 300
/*
 * Simulated cost of each IPI, on a host with too few cores: INIT and SIPI
 * per AP make 36 s of host clock for 300 APs, more than the former fixed
 * 30 s default, and well inside the derived bound (81 s), so that the real
 * time a slow run (valgrind) adds cannot decide the outcome.
 */
#define SLOW_ICR_NS (60 * MS)

/* What a kernel does first thing: keep one low page out of its allocator for the trampoline. */
static uint64_t reserve_low_page(void)
{
    uint64_t page = 0;
    assert_int_equal(fx.host.alloc_frames(fx.host.ctx, 1, 0xA0000, 4096, &page), SMPBOOT_OK);
    return page;
}

static void start_many_slow_aps(uint64_t total_timeout_ns)
{
    fx_setup(0, true);  /* APIC IDs up to 300 */
    smpboot_entry_fn counting_entry = fx.config.entry;
    smpboot_config_default(&fx.config);
    fx.config.entry = counting_entry;
    fx.config.apic_mode = SMPBOOT_APIC_X2APIC;
    /*
     * 300 threads under valgrind on a loaded host: real time flows into the
     * mock clock too, so the per-AP bounds are the largest allowed. They are
     * bounds, not durations: the derived total then leaves minutes of margin,
     * while the fixed 10 s bound below is still cut short by the 18 s of
     * INITs alone.
     */
    fx.config.ap_timeout_ns = 60000 * MS;
    fx.config.online_timeout_ns = 60000 * MS;
    fx.config.total_timeout_ns = total_timeout_ns;
    /* 300 first-fit stacks would take every page below 0xA0000. */
    fx.config.trampoline_page = reserve_low_page();
    for (uint32_t id = 1; id <= MANY_APS; id++)
        mock_add_ap(id, MOCK_AP_PROMPT);
    mock_set_icr_cost(SLOW_ICR_NS);
    fx_init_and_add();
}

static unsigned count_results(enum smpboot_cpu_result result)
{
    unsigned n = 0;
    for (uint32_t i = 1; i < smpboot_cpu_count(&fx.sb); i++)
        n += smpboot_cpu_get(&fx.sb, i)->result == result;
    return n;
}

/* 300 APs whose IPIs take 36 s of host clock in all: the derived bound covers them. */
static void test_total_bound_scales_with_the_cpu_count(void **state)
{
    (void)state;
    struct smpboot_config profile;
    smpboot_config_default(&profile);
    profile.entry = fx.config.entry;
    assert_int_equal(profile.total_timeout_ns, SMPBOOT_TOTAL_TIMEOUT_AUTO);
    assert_int_equal(smpboot_config_check(&profile), SMPBOOT_OK);
    assert_true(smpboot_total_timeout_for(&profile, 300) >= 300 * SMPBOOT_TOTAL_TIMEOUT_PER_AP_NS);
    assert_true(smpboot_total_timeout_for(&profile, 300) > smpboot_total_timeout_for(&profile, 8));
    profile.mode = SMPBOOT_MODE_SERIAL;
    assert_int_equal(smpboot_total_timeout_for(&profile, UINT32_MAX), SMPBOOT_MAX_TOTAL_TIMEOUT_NS);
    profile.total_timeout_ns = 5 * MS;
    assert_int_equal(smpboot_total_timeout_for(&profile, 300), 5 * MS);

    /* A fixed bound sized for small machines cuts this one short (its INITs alone take 18 s). */
    start_many_slow_aps(10000 * MS);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_PARTIAL);
    assert_true(count_results(SMPBOOT_CPU_SKIPPED) > 0);
    assert_true(smpboot_online_count(&fx.sb) < MANY_APS + 1);
    fx_join_and_check();
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);

    /* The default profile's bound grows with the machine: every AP comes online. */
    start_many_slow_aps(SMPBOOT_TOTAL_TIMEOUT_AUTO);
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    assert_int_equal(smpboot_online_count(&fx.sb), MANY_APS + 1);
    fx_join_and_check();
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

static bool event_at(enum mock_event_kind kind, uint64_t phys)
{
    for (unsigned i = 0; i < mock_event_count(); i++)
        if (mock_event_at(i)->kind == kind && mock_event_at(i)->a == phys)
            return true;
    return false;
}

/* A page the kernel reserved is used as is: never allocated, never freed. */
static void test_reserved_trampoline_page(void **state)
{
    (void)state;
    const uint64_t unusable[] = {0xA0000, 0x100000, 0x9F800, 0x1800, 0x800, 0xFFFFF000};
    for (size_t i = 0; i < sizeof unusable / sizeof unusable[0]; i++) {
        fx_setup(0, false);
        fx.config.trampoline_page = unusable[i];
        assert_int_equal(smpboot_config_check(&fx.config), SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE);
        assert_int_equal(smpboot_init(&fx.sb, &fx.host, &fx.config, fx.cpus, 4),
                         SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE);
    }
    fx_setup(0, false);
    fx.config.trampoline_page = SMPBOOT_TRAMPOLINE_PAGE_MAX;
    assert_int_equal(smpboot_config_check(&fx.config), SMPBOOT_OK);

    for (int round = 0; round < 2; round++) {
        fx_setup(0, false);
        uint64_t page = reserve_low_page();
        fx.config.trampoline_page = page;
        mock_add_ap(1, MOCK_AP_PROMPT);
        mock_add_ap(2, MOCK_AP_PROMPT);
        fx_init_and_add();
        unsigned events_before = mock_event_count();
        uint64_t pages_before = mock_pages_outstanding();
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
        assert_int_equal(fx_session()->tramp_phys, page);
        assert_int_equal((uint64_t)fx_count_icr(1, SMPBOOT_ICR_STARTUP), 1);
        assert_int_equal((uint64_t)mock_icr_at((unsigned)fx_find_icr(0, 1, SMPBOOT_ICR_STARTUP))->vector << 12,
                         page);
        if (round == 1)
            assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_ERR_BAD_STATE);
        fx_join_and_check();
        assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
        if (round == 1) {
            /* A restart uses the same page again. */
            assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_OK);
            assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
            assert_int_equal(fx_session()->tramp_phys, page);
            fx_join_and_check();
            assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
        }
        for (unsigned i = events_before; i < mock_event_count(); i++)
            assert_false((mock_event_at(i)->kind == MOCK_EV_ALLOC || mock_event_at(i)->kind == MOCK_EV_FREE)
                         && mock_event_at(i)->a == page);
        assert_false(event_at(MOCK_EV_FREE, page));
        /* Still the kernel's, and left disarmed (docs/trampoline.md, "After finish"). */
        assert_true(mock_phys_is_allocated(page, 4096));
        uint32_t armed;
        memcpy(&armed, (const uint8_t *)mock_phys_to_virt(page) + SMPBOOT_TRAMP_ASM_OFF_PARAMS +
                           SMPBOOT_TRAMP_ASM_PARAM_ARMED, sizeof armed);
        assert_int_equal(armed, 0);
        /* Only the online APs' stacks (2 pages each) stay out. */
        assert_int_equal(mock_pages_outstanding(), pages_before + 2 * 2);
    }
}

/* Each allocation a start makes, failing in turn, is named in the log; nothing stays held. */
static void test_failed_allocations_are_named(void **state)
{
    (void)state;
    const char *named[] = {
        "alloc_frames failed for the stack of APIC 1: 2 pages below 0xffffffffffffffff, aligned 0x1000",
        "alloc_frames failed for the extra stack of APIC 1: 1 pages",
        "alloc_frames failed for the stack of APIC 7:",
        "alloc_frames failed for the extra stack of APIC 7:",
        "alloc_frames failed for the slot table: 1 pages below 0x100000000, aligned 0x1000",
        "alloc_frames failed for the trampoline page: 1 pages below 0xa0000, aligned 0x1000",
        "alloc_frames failed for the bootstrap page tables: 4 pages below 0x100000000",
    };
    for (unsigned n = 1; n <= 7; n++) {
        fx_setup(0, false);
        fx_capture_log();
        fx.config.extra_stack_count = 1;
        fx.config.extra_stack_size = 4096;
        if (n == 7) {
            /* The kernel's CR3 above 4 GiB: the trampoline needs tables of its own. */
            struct smpboot_cpu_state high = {
                .cr0 = 0x80050033u, .cr3 = mock_alloc_high_frame(), .cr4 = 0x6A0u,
                .efer = 0xD01u, .pat = 0x0007040600070406ull};
            mock_arch_set_cpu_state(&high);
        }
        mock_add_ap(1, MOCK_AP_PROMPT);
        mock_add_ap(7, MOCK_AP_PROMPT);
        fx_init_and_add();
        mock_fail_alloc_call(n);
        assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_NO_MEMORY);
        if (!fx_logged(named[n - 1]))
            fail_msg("allocation %u not named as \"%s\"", n, named[n - 1]);
        assert_true(fx_logged("setup failed (out of memory); nothing was sent"));
        assert_int_equal(mock_pages_outstanding(), 0);
        assert_int_equal(mock_icr_count(), 0);
    }
    struct smpboot_cpu_state normal = {.cr0 = 0x80050033u, .cr3 = 0x00101000u, .cr4 = 0x6A0u,
                                       .efer = 0xD01u, .pat = 0x0007040600070406ull};
    mock_arch_set_cpu_state(&normal);
}

/* Stacks from the kernel's heap: any frames, the library neither maps nor frees frames for them. */
static void test_stacks_from_the_kernel(void **state)
{
    (void)state;
    fx_setup(0, false);
    mock_use_heap_stacks(&fx.host, 0);
    fx.config.stack_window = 0xFFFFC00000000000ull;
    assert_int_equal(smpboot_init(&fx.sb, &fx.host, &fx.config, fx.cpus, 4), SMPBOOT_ERR_BAD_CONFIG);
    fx.config.stack_window = 0;
    fx.host.free_stack = NULL;
    assert_int_equal(smpboot_init(&fx.sb, &fx.host, &fx.config, fx.cpus, 4),
                     SMPBOOT_ERR_MISSING_CALLBACK);

    fx_setup(0, false);
    mock_use_heap_stacks(&fx.host, 0);
    fx.config.extra_stack_count = 2;
    fx.config.extra_stack_size = 4096;
    for (uint32_t id = 1; id <= 3; id++)
        mock_add_ap(id, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    assert_int_equal(mock_heap_stacks_outstanding(), 9);
    fx_join_and_check();
    for (uint32_t i = 1; i <= 3; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&fx.sb, i);
        assert_int_equal(cpu->stack_top % 16, 0);
        assert_int_equal(cpu->stack_phys, 0);
        assert_int_equal(cpu->extra_stack_phys[1], 0);
        assert_int_equal(mock_ap_by_id(cpu->apic_id)->stack_top_seen, cpu->stack_top);
        assert_int_equal(fx_entries[i], 1);
    }
    /* Frames went only to the slot table and the trampoline page. */
    assert_int_equal(mock_alloc_calls(), 2);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    assert_int_equal(smpboot_offline(&fx.sb, 2), SMPBOOT_OK);
    assert_int_equal(mock_heap_stacks_outstanding(), 6);
    assert_int_equal(smpboot_offline(&fx.sb, 1), SMPBOOT_OK);
    assert_int_equal(smpboot_offline(&fx.sb, 3), SMPBOOT_OK);
    assert_int_equal(mock_heap_stacks_outstanding(), 0);

    /* The kernel's allocator refuses the fourth stack: named, and the first three come back. */
    fx_setup(0, false);
    fx_capture_log();
    mock_use_heap_stacks(&fx.host, 4);
    fx.config.extra_stack_count = 2;
    fx.config.extra_stack_size = 4096;
    for (uint32_t id = 1; id <= 3; id++)
        mock_add_ap(id, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_ERR_NO_MEMORY);
    assert_true(fx_logged("alloc_stack failed for the stack of APIC 2: 8192 bytes"));
    assert_int_equal(mock_heap_stacks_outstanding(), 0);
    assert_int_equal(mock_pages_outstanding(), 0);
    assert_int_equal(mock_icr_count(), 0);
}

#define PTE_P 1ull
#define PTE_W 2ull
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000FFFFFFFFFF000ull

static uint64_t zeroed_frame(void)
{
    uint64_t phys = 0;
    assert_int_equal(fx.host.alloc_frames(fx.host.ctx, 1, UINT64_MAX, 4096, &phys), SMPBOOT_OK);
    memset(mock_phys_to_virt(phys), 0, 4096);
    return phys;
}

static uint64_t *entry_of(uint64_t table, uint64_t address, unsigned level)
{
    return (uint64_t *)mock_phys_to_virt(table) + ((address >> (12 + 9 * (level - 1))) & 511);
}

/* The leaf entry for `address` under `top`, walking `levels` levels; NULL when a table is missing. */
static uint64_t *leaf_of(uint64_t top, uint64_t address, unsigned levels)
{
    uint64_t table = top;
    for (unsigned level = levels; level > 1; level--) {
        uint64_t e = *entry_of(table, address, level);
        if (!(e & PTE_P))
            return NULL;
        assert_int_equal(e & (PTE_P | PTE_W), PTE_P | PTE_W);
        table = e & PTE_ADDR;
    }
    return entry_of(table, address, 1);
}

static bool table_is_empty(uint64_t table)
{
    const uint64_t *words = mock_phys_to_virt(table);
    for (int i = 0; i < 512; i++)
        if (words[i])
            return false;
    return true;
}

static void use_cr4(uint64_t cr4, uint64_t cr3)
{
    struct smpboot_cpu_state state = {.cr0 = 0x80050033u, .cr3 = cr3, .cr4 = cr4,
                                      .efer = 0xD01u, .pat = 0x0007040600070406ull};
    mock_arch_set_cpu_state(&state);
}

/* The ready-made mapper in an empty kernel table, 4 and 5 levels: it builds the chain and takes it all back. */
static void test_identity_map_builds_and_frees_its_tables(void **state)
{
    (void)state;
    for (unsigned levels = 4; levels <= 5; levels++) {
        fx_setup(0, false);
        uint64_t top = zeroed_frame();
        use_cr4(levels == 5 ? 0x6A0u | (1u << 12) : 0x6A0u, 0x00101000u);
        struct smpboot_identity_map mapper;
        smpboot_identity_map_use(&fx.host, &mapper, top);
        assert_ptr_equal(fx.host.map_ctx, &mapper);
        uint64_t before = mock_pages_outstanding();

        assert_int_equal(fx.host.map(fx.host.map_ctx, 0x8000, 0x8000, 1, SMPBOOT_MAP_EXEC), SMPBOOT_OK);
        assert_int_equal(mock_pages_outstanding(), before + (levels - 1));
        uint64_t *leaf = leaf_of(top, 0x8000, levels);
        assert_non_null(leaf);
        /* Read+exec, supervisor: no write, no user, no NX. */
        assert_int_equal(*leaf, 0x8000 | PTE_P);
        assert_int_equal(mock_arch_last_invlpg(), 0x8000);
        /* One mapping at a time, one identity page each. */
        assert_int_equal(fx.host.map(fx.host.map_ctx, 0x9000, 0x9000, 1, SMPBOOT_MAP_EXEC),
                         SMPBOOT_ERR_UNSUPPORTED);

        fx.host.unmap(fx.host.map_ctx, 0x8000, 1);
        assert_true(table_is_empty(top));
        assert_int_equal(mock_pages_outstanding(), before);

        /* Without exec, and NX enabled (EFER.NXE): the leaf gets NX; write when asked. */
        assert_int_equal(fx.host.map(fx.host.map_ctx, 0x8000, 0x8000, 1, SMPBOOT_MAP_WRITE), SMPBOOT_OK);
        assert_int_equal(*leaf_of(top, 0x8000, levels), 0x8000 | PTE_P | PTE_W | PTE_NX);
        fx.host.unmap(fx.host.map_ctx, 0x8000, 1);
        assert_true(table_is_empty(top));
    }
    use_cr4(0x6A0u, 0x00101000u);
    fx_join_and_check();
}

/* The kernel's own tables are used and kept; only what the mapper added goes. */
static void test_identity_map_keeps_the_kernels_tables(void **state)
{
    (void)state;
    fx_setup(0, false);
    uint64_t top = zeroed_frame(), pdpt = zeroed_frame(), pd = zeroed_frame();
    *entry_of(top, 0x8000, 4) = pdpt | PTE_P | PTE_W;
    *entry_of(pdpt, 0x8000, 3) = pd | PTE_P | PTE_W;
    /* CR3 is the kernel's top table, flags and PCID bits included: 0 means "read CR3". */
    use_cr4(0x6A0u, top | 0x18);
    struct smpboot_identity_map mapper;
    smpboot_identity_map_use(&fx.host, &mapper, 0);
    uint64_t before = mock_pages_outstanding();
    assert_int_equal(fx.host.map(fx.host.map_ctx, 0x8000, 0x8000, 1, SMPBOOT_MAP_EXEC), SMPBOOT_OK);
    assert_int_equal(mock_pages_outstanding(), before + 1);  /* the page table only */
    fx.host.unmap(fx.host.map_ctx, 0x8000, 1);
    assert_int_equal(mock_pages_outstanding(), before);
    assert_int_equal(*entry_of(top, 0x8000, 4), pdpt | PTE_P | PTE_W);
    assert_int_equal(*entry_of(pdpt, 0x8000, 3), pd | PTE_P | PTE_W);
    assert_true(table_is_empty(pd));

    /* Refusals leave nothing behind. */
    assert_int_equal(fx.host.map(fx.host.map_ctx, 0x8000, 0x9000, 1, SMPBOOT_MAP_EXEC),
                     SMPBOOT_ERR_UNSUPPORTED);
    assert_int_equal(fx.host.map(fx.host.map_ctx, 0x8000, 0x8000, 2, SMPBOOT_MAP_EXEC),
                     SMPBOOT_ERR_UNSUPPORTED);
    *entry_of(pd, 0x8000, 2) = 0 | PTE_P | PTE_W | PTE_PS;  /* a 2 MiB page covers it */
    assert_int_equal(fx.host.map(fx.host.map_ctx, 0x8000, 0x8000, 1, SMPBOOT_MAP_EXEC),
                     SMPBOOT_ERR_MAP_FAILED);
    *entry_of(pd, 0x8000, 2) = 0;
    /* Already mapped by the kernel: not replaced, and the page table it made is freed again. */
    uint64_t pt = zeroed_frame();
    *entry_of(pd, 0x8000, 2) = pt | PTE_P | PTE_W;
    *entry_of(pt, 0x8000, 1) = 0x8000 | PTE_P;
    assert_int_equal(fx.host.map(fx.host.map_ctx, 0x8000, 0x8000, 1, SMPBOOT_MAP_EXEC),
                     SMPBOOT_ERR_MAP_FAILED);
    *entry_of(pd, 0x8000, 2) = 0;
    fx.host.free_frames(fx.host.ctx, pt, 1);
    before = mock_pages_outstanding();
    /* The allocator fails for the page table: nothing is added. */
    mock_fail_alloc_call(mock_alloc_calls() + 1);
    assert_int_equal(fx.host.map(fx.host.map_ctx, 0x8000, 0x8000, 1, SMPBOOT_MAP_EXEC),
                     SMPBOOT_ERR_NO_MEMORY);
    mock_fail_alloc_call(0);
    assert_int_equal(mock_pages_outstanding(), before);
    assert_true(table_is_empty(pd));
    /* In an empty top table, a failure at the second table frees the first. */
    uint64_t empty_top = zeroed_frame();
    smpboot_identity_map_use(&fx.host, &mapper, empty_top);
    before = mock_pages_outstanding();
    mock_fail_alloc_call(mock_alloc_calls() + 2);
    assert_int_equal(fx.host.map(fx.host.map_ctx, 0x8000, 0x8000, 1, SMPBOOT_MAP_EXEC),
                     SMPBOOT_ERR_NO_MEMORY);
    mock_fail_alloc_call(0);
    assert_int_equal(mock_pages_outstanding(), before);
    assert_true(table_is_empty(empty_top));
    use_cr4(0x6A0u, 0x00101000u);
}

/* A whole bring-up with the ready-made mapper as host.map: mapped while APs start, gone after. */
static void test_identity_map_in_a_bring_up(void **state)
{
    (void)state;
    fx_setup(0, false);
    uint64_t top = zeroed_frame();
    struct smpboot_identity_map mapper;
    smpboot_identity_map_use(&fx.host, &mapper, top);
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_PROMPT);
    fx_init_and_add();
    uint64_t before = mock_pages_outstanding();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    uint64_t page = fx_session()->tramp_phys;
    uint64_t *leaf = leaf_of(top, page, 4);
    assert_non_null(leaf);
    assert_int_equal(*leaf, page | PTE_P);
    fx_join_and_check();
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
    assert_true(table_is_empty(top));
    assert_int_equal(mock_pages_outstanding(), before + 2 * 2);  /* the online APs' stacks */
    /* The mock's own map callback saw nothing: the mapper did it all. */
    assert_int_equal(mock_maps_outstanding(), 0);
    for (unsigned i = 0; i < mock_event_count(); i++)
        assert_true(mock_event_at(i)->kind != MOCK_EV_MAP);
}

/*
 * A simulated machine for the clock: time moves 1 us at every read of the
 * TSC or the reference; the counters follow it at their own rates.
 */
static struct {
    uint64_t ns;
    uint64_t tsc_hz;
    uint64_t ref_hz;
    uint64_t ref_offset;  /* where the reference counter starts, to make it wrap */
    bool ref_stuck;
    bool tsc_stuck;
} sim;

static uint64_t sim_counter(uint64_t hz)
{
    return (uint64_t)((__extension__(unsigned __int128)sim.ns * hz) / 1000000000u);
}

static uint64_t sim_read_tsc(void)
{
    sim.ns += 1000;
    return sim.tsc_stuck ? 12345 : sim_counter(sim.tsc_hz);
}

static uint64_t sim_read_ref(const void *ctx)
{
    (void)ctx;
    sim.ns += 1000;
    return sim.ref_stuck ? 77 : sim_counter(sim.ref_hz) + sim.ref_offset;
}

static enum smpboot_status sim_measure(struct smpboot_tsc_clock *clock, uint32_t bits, uint64_t ref_hz,
                                       uint64_t tsc_hz, uint64_t ref_offset)
{
    sim.ns = 0;
    sim.tsc_hz = tsc_hz;
    sim.ref_hz = ref_hz;
    sim.ref_offset = ref_offset;
    const struct smpboot_clock_source source = {
        .read = sim_read_ref, .ctx = NULL, .bits = bits, .hz = ref_hz, .read_tsc = sim_read_tsc};
    return smpboot_tsc_clock_measure(clock, &source);
}

static void assert_close(uint64_t value, uint64_t expected, uint64_t parts_per_million)
{
    uint64_t diff = value > expected ? value - expected : expected - value;
    if (diff > expected / 1000000 * parts_per_million)
        fail_msg("%llu is not within %llu ppm of %llu", (unsigned long long)value,
                 (unsigned long long)parts_per_million, (unsigned long long)expected);
}

/* The TSC measured against each reference's width and rate, counters wrapping mid-window. */
static void test_tsc_clock_arithmetic(void **state)
{
    (void)state;
    struct smpboot_tsc_clock clock;
    const struct {
        uint32_t bits;
        uint64_t hz;
        uint64_t offset;
    } refs[] = {
        {24, 3579545, (1u << 24) - 1000},             /* PM timer, 24 bits, wraps at once */
        {32, 3579545, 0xFFFFFFFFull - 5000},          /* PM timer, 32 bits */
        {64, 14318180, UINT64_MAX - 10000},           /* HPET, 64 bits */
        {32, 100000000, 0},                           /* HPET at its fastest (10 ns) */
        {16, 1193182, 0xFFF0},                        /* PIT channel 2: wraps every 55 ms */
    };
    const uint64_t tsc_rates[] = {1000000000ull, 2894563000ull, 4700000000ull};
    for (size_t r = 0; r < sizeof refs / sizeof refs[0]; r++) {
        for (size_t t = 0; t < sizeof tsc_rates / sizeof tsc_rates[0]; t++) {
            memset(&clock, 0, sizeof clock);
            assert_int_equal(sim_measure(&clock, refs[r].bits, refs[r].hz, tsc_rates[t], refs[r].offset),
                             SMPBOOT_OK);
            /* 50 ms against a 1 us read step: within a few tens of ppm. */
            assert_close(smpboot_tsc_clock_hz(&clock), tsc_rates[t], 100);
            /* The conversion: one second, and ten years, of ticks. */
            assert_close(smpboot_tsc_clock_ticks_to_ns(&clock, tsc_rates[t]), 1000000000ull, 100);
            uint64_t ten_years = 10ull * 365 * 24 * 3600;
            assert_close(smpboot_tsc_clock_ticks_to_ns(&clock, tsc_rates[t] * ten_years),
                         ten_years * 1000000000ull, 100);
        }
    }
    /* Never wraps: saturates. */
    assert_int_equal(smpboot_tsc_clock_ticks_to_ns(&clock, UINT64_MAX) > 1000000000ull * 3600 * 24 * 365,
                     true);

    /* A reference that stands still (a wrong port) ends the measurement, bounded. */
    sim.ref_stuck = true;
    assert_int_equal(sim_measure(&clock, 24, 3579545, 2000000000ull, 0), SMPBOOT_ERR_CLOCK_STUCK);
    sim.ref_stuck = false;
    sim.tsc_stuck = true;
    assert_int_equal(sim_measure(&clock, 24, 3579545, 2000000000ull, 0), SMPBOOT_ERR_CLOCK_STUCK);
    sim.tsc_stuck = false;
    /* Impossible sources. */
    assert_int_equal(sim_measure(&clock, 4, 3579545, 2000000000ull, 0), SMPBOOT_ERR_UNSUPPORTED);
    assert_int_equal(sim_measure(&clock, 65, 3579545, 2000000000ull, 0), SMPBOOT_ERR_UNSUPPORTED);
    assert_int_equal(sim_measure(&clock, 32, 10, 2000000000ull, 0), SMPBOOT_ERR_UNSUPPORTED);
    assert_int_equal(smpboot_tsc_clock_measure(NULL, NULL), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(smpboot_tsc_clock_hz(NULL), 0);
}

/* As host.now_ns: it gets its calibration through clock_ctx, and the engine uses it. */
static void test_tsc_clock_as_host_clock(void **state)
{
    (void)state;
    struct smpboot_tsc_clock clock;
    /* Calibrated against the real TSC's own rate as "reference": any rate will do here. */
    assert_int_equal(sim_measure(&clock, 32, 3579545, 3000000000ull, 0), SMPBOOT_OK);
    fx_setup(0, false);
    smpboot_tsc_clock_use(&fx.host, &clock);
    assert_ptr_equal(fx.host.clock_ctx, &clock);
    assert_ptr_equal(fx.host.now_ns, smpboot_tsc_clock_now_ns);
    uint64_t a = fx.host.now_ns(fx.host.clock_ctx);
    uint64_t b = fx.host.now_ns(fx.host.clock_ctx);
    assert_true(b >= a);
    mock_add_ap(1, MOCK_AP_PROMPT);
    mock_add_ap(2, MOCK_AP_PROMPT);
    fx_init_and_add();
    assert_int_equal(smpboot_start(&fx.sb), SMPBOOT_OK);
    fx_join_and_check();
    assert_true(smpboot_cpu_get(&fx.sb, 1)->timeline.online > 0);
    assert_int_equal(smpboot_finish(&fx.sb), SMPBOOT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abi_mismatch_is_refused),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_postmortem_slot_table),
        cmocka_unit_test(test_no_local_apic_is_refused),
        cmocka_unit_test(test_total_bound_scales_with_the_cpu_count),
        cmocka_unit_test(test_reserved_trampoline_page),
        cmocka_unit_test(test_failed_allocations_are_named),
        cmocka_unit_test(test_stacks_from_the_kernel),
        cmocka_unit_test(test_identity_map_builds_and_frees_its_tables),
        cmocka_unit_test(test_identity_map_keeps_the_kernels_tables),
        cmocka_unit_test(test_identity_map_in_a_bring_up),
        cmocka_unit_test(test_tsc_clock_arithmetic),
        cmocka_unit_test(test_tsc_clock_as_host_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
