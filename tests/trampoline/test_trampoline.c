/*
 * The trampoline installer against a fake kernel: what lands in the page,
 * what is mapped and allocated, the bootstrap page tables, and that every
 * failure path gives back everything it took.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_host.h"
#ifndef TEST_NO_WRITE_WATCH
#include "write_watch.h"
#endif
#include "mock_arch.h"
#include "trampoline/tramp_params.h"
#include "trampoline/trampoline.h"

#define PAGE 4096u
#define CR3_ADDRESS 0x000FFFFFFFFFF000ull
#define PTE_PRESENT (1ull << 0)
#define PTE_WRITABLE (1ull << 1)
#define PTE_USER (1ull << 2)
#define PTE_NX (1ull << 63)

#define SLOTS_PHYS 0x00ABC000ull
#define SLOT_COUNT 3u
#define KERNEL_TOP_HIGH (FAKE_HIGH_BASE + PAGE)  /* a kernel top-level table above 4 GiB */

/* The slots, then the arrival counter the trampoline's 32-bit code increments. */
static union {
    struct smpboot_slot slots[SLOT_COUNT + 1];
    uint8_t bytes[SLOT_COUNT * SMPBOOT_SLOT_SIZE + sizeof(uint32_t)];
} slot_storage;

struct fixture {
    struct fake_host fake;
    struct smpboot_session sb;
};

/* A BSP in long mode, with values that are easy to tell apart. */
static const struct smpboot_cpu_state bsp_state = {
    .cr0 = 0x80050033u,                   /* PG WP NE ET MP PE */
    .cr3 = 0x00123000u,
    .cr4 = 0x003406A0u,                   /* SMAP SMEP OSXSAVE ... PAE PGE */
    .efer = 0x00000D01u,                  /* NXE LMA LME SCE */
    .pat = 0x0007010600070406ull,
};

static void fixture_init(struct fixture *f, bool with_map, enum smpboot_apic_mode apic_mode)
{
    memset(f, 0, sizeof(*f));
    fake_host_init(&f->fake, &f->sb.host, with_map);
    f->sb.config.apic_mode = apic_mode;
    f->sb.cpu_count = SLOT_COUNT;
    f->sb.slots_phys = SLOTS_PHYS;
    f->sb.slots = slot_storage.slots;
    mock_arch_set_cpu_state(&bsp_state);
}

static void set_cr3(uint64_t cr3, uint64_t cr4)
{
    struct smpboot_cpu_state state = bsp_state;
    state.cr3 = cr3;
    state.cr4 = cr4;
    mock_arch_set_cpu_state(&state);
}

/* A kernel top-level table in the high region: entry i holds a recognisable value. */
static uint64_t *fill_kernel_top(struct fixture *f)
{
    uint64_t *top = fake_phys(&f->fake, KERNEL_TOP_HIGH);
    for (uint64_t i = 0; i < 512; i++)
        top[i] = 0x0000000300000003ull | (i << 12);
    return top;
}

static const struct smpboot_tramp_params *params_of(struct fixture *f)
{
    const uint8_t *page = fake_phys(&f->fake, f->sb.tramp_phys);
    return (const struct smpboot_tramp_params *)(page + SMPBOOT_TRAMP_ASM_OFF_PARAMS);
}

static void assert_nothing_held(struct fixture *f)
{
    assert_int_equal(fake_live_allocations(&f->fake), 0);
    assert_int_equal(fake_live_mappings(&f->fake), 0);
    assert_int_equal(f->fake.bad_frees, 0);
    assert_int_equal(f->fake.bad_unmaps, 0);
    assert_int_equal(f->sb.tramp_phys, 0);
    assert_null(f->sb.tramp_virt);
    assert_false(f->sb.tramp_mapped);
    assert_int_equal(f->sb.boot_tables_phys, 0);
    assert_int_equal(f->sb.boot_tables_pages, 0);
}

/*
 * What remove() leaves: the code as `installed` had it; the parameters
 * disarmed (armed and slot_count 0, the count pointed at the page's own
 * late_entries word), the page-relative pointers kept and everything of the
 * session gone; past the blob, what the page held before.
 */
static void assert_removed(const uint8_t *page, const uint8_t *installed)
{
    assert_memory_equal(page, installed, SMPBOOT_TRAMP_ASM_OFF_PARAMS);
    const struct smpboot_tramp_params *p =
        (const void *)(page + SMPBOOT_TRAMP_ASM_OFF_PARAMS);
    const struct smpboot_tramp_params *was =
        (const void *)(installed + SMPBOOT_TRAMP_ASM_OFF_PARAMS);
    uint32_t base = was->page_gdtr_base - SMPBOOT_TRAMP_ASM_OFF_GDT;
    assert_int_equal(p->armed, 0);
    assert_int_equal(p->slot_count, 0);
    assert_int_equal(p->entered_phys,
                     base + SMPBOOT_TRAMP_ASM_OFF_PARAMS + SMPBOOT_TRAMP_ASM_PARAM_LATE_ENTRIES);
    /* Kept: they follow from where the page is, not from the session. */
    assert_int_equal(p->page_gdtr_base, was->page_gdtr_base);
    assert_int_equal(p->page_gdtr_limit, was->page_gdtr_limit);
    assert_int_equal(p->jump32_offset, was->jump32_offset);
    assert_int_equal(p->jump32_selector, was->jump32_selector);
    assert_int_equal(p->jump64_offset, was->jump64_offset);
    assert_int_equal(p->page_idtr_base, was->page_idtr_base);
    /* Gone: anything that tells of the session. */
    const uint64_t gone[] = {p->x2apic, p->perm_gdtr_base, p->boot_cr3, p->cr3_before_pcide,
                             p->kernel_cr3, p->cr0, p->cr4, p->efer, p->pat, p->slots_phys,
                             p->slots_virt, p->ap_main, p->session_idtr_base};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        assert_int_equal(gone[i], 0);
    /* Past the blob: what the page held before, untouched. */
    assert_memory_equal(page + SMPBOOT_TRAMP_ASM_BLOB_SIZE, installed + SMPBOOT_TRAMP_ASM_BLOB_SIZE,
                        PAGE - SMPBOOT_TRAMP_ASM_BLOB_SIZE);
}

/* ---------------------------------------------------------------- */

static void test_blob_matches_its_layout(void **state)
{
    (void)state;
    size_t size = smpboot_trampoline_blob_size;
    assert_int_equal(size, SMPBOOT_TRAMP_ASM_BLOB_SIZE);
    assert_int_equal(sizeof(smpboot_trampoline_blob), size);
    assert_true(size <= PAGE);
    /* cli; cld; jmp far: the segment word is the last operand of that jump. */
    assert_int_equal(smpboot_trampoline_blob[0], 0xFA);
    assert_int_equal(smpboot_trampoline_blob[1], 0xFC);
    assert_int_equal(smpboot_trampoline_blob[SMPBOOT_TRAMP_ASM_OFF_REAL_MODE_SEGMENT_PATCH - 3],
                     0xEA);

    /* Protocol v2's selectors: the kernel's entry sees 0x08 and 0x10. */
    assert_int_equal(SMPBOOT_TRAMP_ASM_SEL_CODE64, 0x08);
    assert_int_equal(SMPBOOT_TRAMP_ASM_SEL_DATA, 0x10);
    assert_int_equal(SMPBOOT_TRAMP_ASM_SEL_CODE32, 0x18);

    /* The GDT: a null entry, then descriptors that are present and already accessed. */
    uint64_t gdt[4];
    assert_int_equal(SMPBOOT_TRAMP_ASM_GDT_SIZE, sizeof(gdt));
    memcpy(gdt, smpboot_trampoline_blob + SMPBOOT_TRAMP_ASM_OFF_GDT, sizeof(gdt));
    assert_int_equal(gdt[0], 0);
    for (int i = 1; i < 4; i++) {
        assert_true(gdt[i] & (1ull << 47));  /* present */
        assert_true(gdt[i] & (1ull << 40));  /* accessed: the CPU never writes the GDT */
    }
    uint64_t code32 = gdt[SMPBOOT_TRAMP_ASM_SEL_CODE32 / 8];
    uint64_t code64 = gdt[SMPBOOT_TRAMP_ASM_SEL_CODE64 / 8];
    assert_true(code32 & (1ull << 43));      /* code */
    assert_true(code32 & (1ull << 54));      /* D: 32-bit */
    assert_true(code64 & (1ull << 43));
    assert_true(code64 & (1ull << 53));      /* L: 64-bit */
    assert_false(code64 & (1ull << 54));     /* D must be clear with L */
    uint64_t data = gdt[SMPBOOT_TRAMP_ASM_SEL_DATA / 8];
    assert_false(data & (1ull << 43));       /* data */
    assert_true(data & (1ull << 41));        /* writable */

    const struct smpboot_tramp_params *p =
        (const void *)(smpboot_trampoline_blob + SMPBOOT_TRAMP_ASM_OFF_PARAMS);
    assert_int_equal(p->page_gdtr_limit, SMPBOOT_TRAMP_ASM_GDT_SIZE - 1);
    assert_int_equal(p->jump32_selector, SMPBOOT_TRAMP_ASM_SEL_CODE32);
    assert_int_equal(p->jump64_selector, SMPBOOT_TRAMP_ASM_SEL_CODE64);
    assert_int_equal(p->entered_phys, 0);
    assert_int_equal(p->armed, 0);  /* the blob alone parks every AP */

    /* The 32-bit NMI-only IDT: vectors 0 and 1 absent, vector 2 a present
     * 32-bit interrupt gate (DPL 0) into SEL_CODE32, offset left to the installer. */
    assert_int_equal(p->page_idtr_limit, 3 * 8 - 1);
    assert_int_equal(SMPBOOT_TRAMP_ASM_IDT32_SIZE, 3 * 8);
    uint64_t idt[3];
    memcpy(idt, smpboot_trampoline_blob + SMPBOOT_TRAMP_ASM_OFF_IDT32, sizeof(idt));
    assert_int_equal(idt[0], 0);
    assert_int_equal(idt[1], 0);
    assert_int_equal(SMPBOOT_TRAMP_ASM_OFF_IDT32_NMI_GATE, SMPBOOT_TRAMP_ASM_OFF_IDT32 + 16);
    assert_int_equal(idt[2], ((uint64_t)SMPBOOT_TRAMP_ASM_SEL_CODE32 << 16) | (0x8Eull << 40));
    /* Its handler is `ret 8` (C2 08 00), not IRETD: back where it hit, CS and EFLAGS dropped. */
    assert_int_equal(smpboot_trampoline_blob[SMPBOOT_TRAMP_ASM_OFF_NMI_RETURN32], 0xC2);
    assert_int_equal(smpboot_trampoline_blob[SMPBOOT_TRAMP_ASM_OFF_NMI_RETURN32 + 1], 8);
    assert_int_equal(smpboot_trampoline_blob[SMPBOOT_TRAMP_ASM_OFF_NMI_RETURN32 + 2], 0);

    /* The slot: 128 bytes, the last 64 the NMI stack, so ESP = slot end stays 16-aligned. */
    assert_int_equal(SMPBOOT_SLOT_SIZE, 128);
    assert_int_equal(sizeof(struct smpboot_slot), SMPBOOT_SLOT_SIZE);
    assert_int_equal(SMPBOOT_SLOT_OFF_NMI_STACK, 64);
    assert_int_equal(sizeof(((struct smpboot_slot *)0)->nmi_stack), SMPBOOT_SLOT_SIZE - 64);
    assert_int_equal(SMPBOOT_TRAMP_ASM_SLOT_SIZE, SMPBOOT_SLOT_SIZE);
}

static void test_install_remove_round_trip(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);

    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
    uint64_t page = f.sb.tramp_phys;
    assert_int_equal(page, FAKE_LOW_FIRST_FREE);
    assert_ptr_equal(f.sb.tramp_virt, fake_phys(&f.fake, page));
    assert_int_equal(f.fake.last_alloc_limit[0], 0xA0000);
    assert_int_equal(f.fake.alloc_calls, 1);  /* CR3 below 4 GiB: no bootstrap tables */
    assert_int_equal(f.sb.boot_tables_pages, 0);
    assert_int_equal(smpboot_trampoline_sipi_vector(&f.sb), page >> 12);

    /* The blob is there, except for the patched segment word and NMI gate offset. */
    const uint8_t *bytes = f.sb.tramp_virt;
    size_t patch = SMPBOOT_TRAMP_ASM_OFF_REAL_MODE_SEGMENT_PATCH;
    size_t gate = SMPBOOT_TRAMP_ASM_OFF_IDT32_NMI_GATE;
    assert_true(patch + 2 <= gate);
    assert_memory_equal(bytes, smpboot_trampoline_blob, patch);
    assert_int_equal(bytes[patch] | (bytes[patch + 1] << 8), page >> 4);
    assert_memory_equal(bytes + patch + 2, smpboot_trampoline_blob + patch + 2, gate - patch - 2);
    uint64_t nmi_return = page + SMPBOOT_TRAMP_ASM_OFF_NMI_RETURN32;
    uint64_t gate_word;
    memcpy(&gate_word, bytes + gate, sizeof(gate_word));
    assert_int_equal(gate_word, (nmi_return & 0xFFFF) |
                                    ((uint64_t)SMPBOOT_TRAMP_ASM_SEL_CODE32 << 16) |
                                    (0x8Eull << 40) | ((nmi_return >> 16) << 48));
    assert_memory_equal(bytes + gate + 8, smpboot_trampoline_blob + gate + 8,
                        SMPBOOT_TRAMP_ASM_OFF_PARAMS - gate - 8);
    /* Past the blob the page is not written: the fake's fresh frames hold 0xA5. */
    for (size_t i = SMPBOOT_TRAMP_ASM_BLOB_SIZE; i < PAGE; i++)
        assert_int_equal(bytes[i], 0xA5);

    const struct smpboot_tramp_params *p = params_of(&f);
    assert_int_equal(p->armed, SMPBOOT_TRAMP_ASM_ARMED_MAGIC);
    /* The arrival counter: right after the last slot, outside the page. */
    assert_int_equal(p->entered_phys, SLOTS_PHYS + SLOT_COUNT * SMPBOOT_SLOT_SIZE);
    assert_int_equal(p->x2apic, 0);
    assert_int_equal(p->page_gdtr_limit, SMPBOOT_TRAMP_ASM_GDT_SIZE - 1);
    assert_int_equal(p->page_gdtr_base, page + SMPBOOT_TRAMP_ASM_OFF_GDT);
    assert_int_equal(p->jump32_offset, page + SMPBOOT_TRAMP_ASM_OFF_PROTECTED_MODE_ENTRY);
    assert_int_equal(p->jump32_selector, SMPBOOT_TRAMP_ASM_SEL_CODE32);
    /* On the kernel's own tables from paging on: the entry that takes the stack and IDT first. */
    assert_int_equal(p->jump64_offset,
                     page + SMPBOOT_TRAMP_ASM_OFF_LONG_MODE_ENTRY_ON_KERNEL_TABLES);
    assert_int_equal(p->jump64_selector, SMPBOOT_TRAMP_ASM_SEL_CODE64);
    assert_int_equal(p->boot_cr3, bsp_state.cr3);
    assert_int_equal(p->cr3_before_pcide, bsp_state.cr3);
    assert_int_equal(p->kernel_cr3, bsp_state.cr3);
    assert_int_equal(p->cr0, bsp_state.cr0);
    assert_int_equal(p->cr4, bsp_state.cr4);
    assert_int_equal(p->efer, bsp_state.efer);
    assert_int_equal(p->pat, bsp_state.pat);
    assert_int_equal(p->slots_phys, SLOTS_PHYS);
    assert_int_equal(p->slots_virt, (uint64_t)(uintptr_t)slot_storage.slots);
    assert_int_equal(p->slot_count, SLOT_COUNT);
    assert_int_equal(p->ap_main, (uint64_t)(uintptr_t)&smpboot_ap_main);
    assert_int_equal(p->page_idtr_limit, 3 * 8 - 1);
    assert_int_equal(p->page_idtr_base, page + SMPBOOT_TRAMP_ASM_OFF_IDT32);
    /* The session's 64-bit NMI-only IDT, the one smpboot_ap_main keeps. */
    assert_int_equal(p->session_idtr_limit, sizeof(f.sb.nmi_idt) - 1);
    assert_int_equal(p->session_idtr_base, (uint64_t)(uintptr_t)f.sb.nmi_idt);

    /* Identity-mapped, executable, not writable. */
    assert_true(f.sb.tramp_mapped);
    assert_int_equal(f.fake.mapping_count, 1);
    assert_int_equal(f.fake.mappings[0].virt, page);
    assert_int_equal(f.fake.mappings[0].phys, page);
    assert_int_equal(f.fake.mappings[0].pages, 1);
    assert_int_equal(f.fake.mappings[0].flags, SMPBOOT_MAP_EXEC);

    uint8_t installed[PAGE];
    memcpy(installed, f.sb.tramp_virt, PAGE);
    smpboot_trampoline_remove(&f.sb);
    assert_removed(fake_phys(&f.fake, page), installed);
    assert_false(f.fake.mappings[0].live);
    assert_nothing_held(&f);

    /* Idempotent: a second remove touches nothing. */
    smpboot_trampoline_remove(&f.sb);
    assert_nothing_held(&f);
    assert_int_equal(f.fake.mapping_count, 1);
}

static void test_x2apic_flag(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, true, SMPBOOT_APIC_X2APIC);
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
    assert_int_equal(params_of(&f)->x2apic, 1);
    smpboot_trampoline_remove(&f.sb);
    assert_nothing_held(&f);
}

static void test_without_map_callbacks(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, false, SMPBOOT_APIC_XAPIC);
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
    assert_false(f.sb.tramp_mapped);
    assert_int_equal(f.fake.mapping_count, 0);
    uint64_t page = f.sb.tramp_phys;
    uint8_t installed[PAGE];
    memcpy(installed, f.sb.tramp_virt, PAGE);
    smpboot_trampoline_remove(&f.sb);
    assert_removed(fake_phys(&f.fake, page), installed);
    assert_nothing_held(&f);
}

static void test_entered_counter_and_vector(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
    assert_int_equal(smpboot_trampoline_entries(smpboot_handle_of(&f.sb)), 0);
    assert_int_equal(smpboot_trampoline_sipi_vector(&f.sb), 0);
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);

    /* What three APs' LOCK INC in 32-bit mode would leave, after the last slot. */
    uint32_t three = 3;
    memcpy(slot_storage.bytes + SLOT_COUNT * SMPBOOT_SLOT_SIZE, &three, sizeof three);
    assert_int_equal(smpboot_trampoline_entries(smpboot_handle_of(&f.sb)), 3);
    assert_int_equal(smpboot_trampoline_sipi_vector(&f.sb), FAKE_LOW_FIRST_FREE >> 12);

    smpboot_trampoline_remove(&f.sb);
    assert_int_equal(smpboot_trampoline_entries(smpboot_handle_of(&f.sb)), 0);
    assert_nothing_held(&f);
}

/*
 * A first install and remove on a kernel-reserved page, as one bring-up
 * leaves it for the next: returns the page, `installed` gets its image.
 */
static uint8_t *first_bring_up_on_reserved_page(struct fixture *f, uint8_t installed[PAGE])
{
    fixture_init(f, true, SMPBOOT_APIC_XAPIC);
    f->sb.config.trampoline_page = FAKE_LOW_FIRST_FREE + 4 * PAGE;
    assert_int_equal(smpboot_trampoline_install(&f->sb), SMPBOOT_OK);
    uint8_t *page = f->sb.tramp_virt;
    memcpy(installed, page, PAGE);
    smpboot_trampoline_remove(&f->sb);
    return page;
}

#ifndef TEST_NO_WRITE_WATCH
/*
 * A second bring-up on the same page (the usual case: a kernel-reserved
 * page, or an allocator that hands the freed page out again) stores only
 * the parameters that changed: an emulator that translates guest code keeps
 * its translation of the code. Remove touches only the parameters.
 */
static void test_reinstall_writes_only_what_changed(void **state)
{
    (void)state;
    const size_t params = SMPBOOT_TRAMP_ASM_OFF_PARAMS;
    const size_t blob_end = SMPBOOT_TRAMP_ASM_BLOB_SIZE;
    struct fixture f;
    uint8_t installed[PAGE];
    uint8_t *page = first_bring_up_on_reserved_page(&f, installed);

    write_watch_begin(page);
    enum smpboot_status status = smpboot_trampoline_install(&f.sb);
    write_watch_end();
    assert_int_equal(status, SMPBOOT_OK);
    assert_memory_equal(page, installed, PAGE);
    /* The parameters, armed again: nothing else. */
    assert_true(write_watch_written(params, blob_end - params));
    for (size_t at = 0; at < PAGE; at += 4)
        if ((at < params || at >= blob_end) && write_watch_written(at, 4))
            fail_msg("install rewrote offset 0x%zx, which held its value already", at);

    write_watch_begin(page);
    smpboot_trampoline_remove(&f.sb);
    write_watch_end();
    for (size_t at = 0; at < PAGE; at += 4)
        if ((at < params || at >= blob_end) && write_watch_written(at, 4))
            fail_msg("remove wrote offset 0x%zx, outside the parameters", at);
    assert_removed(page, installed);
    assert_nothing_held(&f);
}
#endif

/*
 * Whatever the kernel left in the page between two bring-ups, install
 * writes the blob's image again; past the blob it leaves the kernel's bytes.
 */
static void test_reinstall_repairs_a_reused_page(void **state)
{
    (void)state;
    struct fixture f;
    uint8_t installed[PAGE];
    uint8_t *page = first_bring_up_on_reserved_page(&f, installed);

    page[0x10] ^= 0xFF;                              /* code */
    page[SMPBOOT_TRAMP_ASM_OFF_PARAMS + 3] = 0x5A;   /* parameters */
    page[PAGE - 1] = 0;                              /* past the blob: the kernel's */
    installed[PAGE - 1] = 0;
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
    assert_memory_equal(page, installed, PAGE);
    smpboot_trampoline_remove(&f.sb);
    assert_removed(page, installed);
    assert_nothing_held(&f);
}

static void test_bad_page_is_refused(void **state)
{
    (void)state;
    /* Page 0 (the IVT), the first reserved vector, unaligned, above the limit. */
    static const uint64_t bad_pages[] = {0x0, 0xA0000, 0x8800, 0x9FFFF, 0xB8000, 0xFF000};
    for (size_t i = 0; i < sizeof(bad_pages) / sizeof(bad_pages[0]); i++) {
        struct fixture f;
        fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
        f.fake.hand_out_bad_page = true;
        f.fake.bad_page = bad_pages[i];
        assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE);
        assert_int_equal(f.fake.allocation_count, 1);
        assert_int_equal(f.fake.mapping_count, 0);
        assert_nothing_held(&f);
    }
}

static void test_highest_usable_page_is_accepted(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
    f.fake.hand_out_bad_page = true;
    f.fake.bad_page = 0x9F000;  /* vector 0x9F: the last one below the reserved range */
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
    assert_int_equal(smpboot_trampoline_sipi_vector(&f.sb), 0x9F);
    smpboot_trampoline_remove(&f.sb);
    assert_nothing_held(&f);
}

static void test_page_allocation_failure(void **state)
{
    (void)state;
    static const enum smpboot_status errors[] = {SMPBOOT_ERR_NO_MEMORY, SMPBOOT_ERR_HOST};
    for (size_t i = 0; i < 2; i++) {
        struct fixture f;
        fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
        f.fake.fail_alloc_call = 1;
        f.fake.fail_alloc_status = errors[i];
        assert_int_equal(smpboot_trampoline_install(&f.sb), errors[i]);
        assert_int_equal(f.fake.mapping_count, 0);
        assert_nothing_held(&f);
    }
}

static void test_table_allocation_failure(void **state)
{
    (void)state;
    for (unsigned call = 1; call <= 2; call++) {
        struct fixture f;
        fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
        fill_kernel_top(&f);
        set_cr3(KERNEL_TOP_HIGH, bsp_state.cr4);
        f.fake.fail_alloc_call = call;
        f.fake.fail_alloc_status = SMPBOOT_ERR_NO_MEMORY;
        assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_ERR_NO_MEMORY);
        assert_int_equal(f.fake.alloc_calls, call);
        assert_int_equal(f.fake.mapping_count, 0);
        assert_nothing_held(&f);
    }
}

static void test_map_failure(void **state)
{
    (void)state;
    static const uint64_t cr3s[] = {0x00123000u, KERNEL_TOP_HIGH};
    for (size_t i = 0; i < 2; i++) {
        struct fixture f;
        fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
        fill_kernel_top(&f);
        set_cr3(cr3s[i], bsp_state.cr4);
        f.fake.map_status = SMPBOOT_ERR_MAP_FAILED;
        assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_ERR_MAP_FAILED);
        assert_int_equal(f.fake.alloc_calls, i == 0 ? 1 : 2);
        assert_nothing_held(&f);

        /* The host's own code comes back unchanged. */
        fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
        f.fake.map_status = SMPBOOT_ERR_NO_MEMORY;
        assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_ERR_NO_MEMORY);
        assert_nothing_held(&f);
    }
}

static void test_unreadable_kernel_table(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
    set_cr3(KERNEL_TOP_HIGH, bsp_state.cr4);
    f.fake.unreadable_phys = KERNEL_TOP_HIGH;
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_ERR_HOST);
    assert_nothing_held(&f);
}

/*
 * Walk the bootstrap tables from boot_cr3 to the trampoline page; check
 * each step is present, supervisor-only and below 4 GiB, and return the leaf.
 */
static uint64_t walk_to_leaf(struct fixture *f, uint64_t cr3, unsigned levels, uint64_t va)
{
    uint64_t table = cr3;
    for (unsigned level = levels; level >= 1; level--) {
        assert_true(table + PAGE <= (1ull << 32));
        const uint64_t *entries = fake_phys(&f->fake, table);
        assert_non_null(entries);
        uint64_t entry = entries[(va >> (12 + 9 * (level - 1))) & 511];
        assert_true(entry & PTE_PRESENT);
        assert_false(entry & PTE_USER);
        assert_false(entry & PTE_NX);
        if (level == 1)
            return entry;
        assert_true(entry & PTE_WRITABLE);
        table = entry & CR3_ADDRESS;
    }
    fail();
    return 0;
}

static void check_boot_tables(uint64_t cr4, unsigned levels)
{
    struct fixture f;
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
    const uint64_t *kernel_top = fill_kernel_top(&f);
    uint64_t kernel_cr3 = KERNEL_TOP_HIGH | 0x18;  /* PWT|PCD: flag bits stay the kernel's */
    set_cr3(kernel_cr3, cr4);

    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
    uint64_t page = f.sb.tramp_phys;
    const struct smpboot_tramp_params *p = params_of(&f);
    assert_int_equal(f.fake.alloc_calls, 2);
    assert_int_equal(f.fake.last_alloc_limit[1], 1ull << 32);
    assert_int_equal(f.sb.boot_tables_pages, levels);
    assert_int_equal(p->boot_cr3, f.sb.boot_tables_phys);
    assert_true(p->boot_cr3 < (1ull << 32));
    assert_int_equal(p->boot_cr3 & 0xFFF, 0);
    assert_int_equal(p->kernel_cr3, kernel_cr3);
    assert_int_equal(p->cr4, cr4);
    /* The stack and IDT may be mapped only by the kernel's tables: the entry that switches first. */
    assert_int_equal(p->jump64_offset, page + SMPBOOT_TRAMP_ASM_OFF_LONG_MODE_ENTRY);

    /* The page maps to itself, read+exec only. */
    uint64_t leaf = walk_to_leaf(&f, p->boot_cr3, levels, page);
    assert_int_equal(leaf & CR3_ADDRESS, page);
    assert_false(leaf & PTE_WRITABLE);

    /* The top level: the kernel's upper half, and in the lower half only our entry 0. */
    const uint64_t *top = fake_phys(&f.fake, p->boot_cr3);
    assert_memory_equal(top + 256, kernel_top + 256, 256 * sizeof(uint64_t));
    for (unsigned i = 1; i < 256; i++)
        assert_int_equal(top[i], 0);
    /* Every table below holds exactly the one entry on the path. */
    uint64_t table = top[0] & CR3_ADDRESS;
    for (unsigned level = levels - 1; level >= 1; level--) {
        const uint64_t *entries = fake_phys(&f.fake, table);
        unsigned used = 0;
        for (unsigned i = 0; i < 512; i++)
            used += entries[i] != 0;
        assert_int_equal(used, 1);
        table = entries[(page >> (12 + 9 * (level - 1))) & 511] & CR3_ADDRESS;
    }

    uint8_t installed[PAGE];
    memcpy(installed, f.sb.tramp_virt, PAGE);
    smpboot_trampoline_remove(&f.sb);
    assert_removed(fake_phys(&f.fake, page), installed);
    assert_nothing_held(&f);
}

static void test_boot_tables_4_level(void **state)
{
    (void)state;
    check_boot_tables(bsp_state.cr4, 4);
}

static void test_boot_tables_5_level(void **state)
{
    (void)state;
    check_boot_tables(bsp_state.cr4 | SMPBOOT_CR4_LA57, 5);
}

static void test_low_cr3_flags_are_masked(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
    uint64_t kernel_cr3 = 0x00123000u | 0x18 | (1ull << 62);  /* PWT|PCD and a LAM bit */
    set_cr3(kernel_cr3, bsp_state.cr4);
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
    assert_int_equal(params_of(&f)->boot_cr3, 0x00123000u);
    assert_int_equal(params_of(&f)->kernel_cr3, kernel_cr3);
    assert_int_equal(f.sb.boot_tables_pages, 0);
    smpboot_trampoline_remove(&f.sb);
    assert_nothing_held(&f);
}

static void test_bad_calls(void **state)
{
    (void)state;
    struct fixture f;

    assert_int_equal(smpboot_trampoline_install(NULL), SMPBOOT_ERR_INVALID_ARGUMENT);
    smpboot_trampoline_remove(NULL);
    assert_int_equal(smpboot_trampoline_entries(NULL), 0);
    assert_int_equal(smpboot_trampoline_sipi_vector(NULL), 0);

    /* Missing callbacks are smpboot_init()'s to refuse (tests/core, test_api). */
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
    f.sb.slots = NULL;  /* the slot table is not built yet */
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_ERR_BAD_STATE);
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
    f.sb.slots_phys = (1ull << 32) - SMPBOOT_SLOT_SIZE;  /* the table's end crosses 4 GiB */
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(f.fake.alloc_calls, 0);
    /* The slots end at 4 GiB exactly, the arrival count after them does not fit. */
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
    f.sb.slots_phys = (1ull << 32) - (uint64_t)SLOT_COUNT * SMPBOOT_SLOT_SIZE;
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(f.fake.alloc_calls, 0);

    /* A BSP that is not in long mode has no state for the APs to copy. */
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
    struct smpboot_cpu_state legacy = bsp_state;
    legacy.efer = 0;
    mock_arch_set_cpu_state(&legacy);
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_ERR_UNSUPPORTED);
    assert_int_equal(f.fake.alloc_calls, 0);

    /* Twice: refused, and the first installation stays intact. */
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
    uint64_t page = f.sb.tramp_phys;
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_ERR_BAD_STATE);
    assert_int_equal(f.sb.tramp_phys, page);
    assert_int_equal(fake_live_allocations(&f.fake), 1);
    smpboot_trampoline_remove(&f.sb);
    assert_nothing_held(&f);
}

/* CR0 bits, named as in the SDM. */
#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)

static void test_cr0_is_fixed(void **state)
{
    (void)state;
    /* The BSP's CR0 in every shape a kernel may have it: lazy FPU, caches off, no WP or AM. */
    static const uint64_t bsp_cr0s[] = {
        CR0_PG | CR0_PE,
        CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE | CR0_TS,
        CR0_PG | CR0_CD | CR0_NW | CR0_EM | CR0_PE,
        0xFFFFFFFFull,
    };
    const uint64_t fixed = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
    for (size_t i = 0; i < sizeof(bsp_cr0s) / sizeof(bsp_cr0s[0]); i++) {
        struct fixture f;
        fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
        struct smpboot_cpu_state bsp = bsp_state;
        bsp.cr0 = bsp_cr0s[i];
        mock_arch_set_cpu_state(&bsp);
        assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
        assert_int_equal(params_of(&f)->cr0, fixed);
        smpboot_trampoline_remove(&f.sb);
        assert_nothing_held(&f);
    }
}

/* CR4 bits the AP may take from the BSP (protocol v2), named as in the SDM. */
static const unsigned cr4_allowed_bits[] = {
    3,   /* DE */
    4,   /* PSE */
    5,   /* PAE: always set */
    6,   /* MCE */
    7,   /* PGE */
    9,   /* OSFXSR */
    10,  /* OSXMMEXCPT */
    11,  /* UMIP */
    12,  /* LA57 */
    16,  /* FSGSBASE */
    17,  /* PCIDE */
    18,  /* OSXSAVE */
    20,  /* SMEP */
    21,  /* SMAP */
    22,  /* PKE */
};

static bool cr4_bit_allowed(unsigned bit)
{
    for (size_t i = 0; i < sizeof(cr4_allowed_bits) / sizeof(cr4_allowed_bits[0]); i++)
        if (cr4_allowed_bits[i] == bit)
            return true;
    return false;
}

static void test_cr4_allowlist(void **state)
{
    (void)state;
    const uint64_t pae = 1ull << 5;
    /* Each bit alone next to PAE: copied if allowed, dropped otherwise (CET 23, FRED 32, ...). */
    for (unsigned bit = 0; bit < 64; bit++) {
        struct fixture f;
        fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
        set_cr3(0x00123000u, pae | (1ull << bit));
        assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
        uint64_t want = pae | (cr4_bit_allowed(bit) ? 1ull << bit : 0);
        if (params_of(&f)->cr4 != want)
            print_error("CR4 bit %u\n", bit);
        assert_int_equal(params_of(&f)->cr4, want);
        smpboot_trampoline_remove(&f.sb);
        assert_nothing_held(&f);
    }
    /* All at once: exactly the allowlist survives. */
    struct fixture f;
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
    set_cr3(0x00123000u, ~0ull);
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
    uint64_t allowed = 0;
    for (size_t i = 0; i < sizeof(cr4_allowed_bits) / sizeof(cr4_allowed_bits[0]); i++)
        allowed |= 1ull << cr4_allowed_bits[i];
    assert_int_equal(params_of(&f)->cr4, allowed);
    smpboot_trampoline_remove(&f.sb);
    assert_nothing_held(&f);
}

/* The GDT the AP ends on is the library's, not the page's, and says the same. */
static void test_permanent_gdt(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
    assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
    const struct smpboot_tramp_params *p = params_of(&f);
    uintptr_t page_virt = (uintptr_t)f.sb.tramp_virt;
    uint64_t base = p->perm_gdtr_base;
    assert_int_equal(p->perm_gdtr_limit, SMPBOOT_TRAMP_ASM_GDT_SIZE - 1);
    assert_int_equal(base % 8, 0);
    assert_false(base >= f.sb.tramp_phys && base < f.sb.tramp_phys + PAGE);
    assert_false(base >= page_virt && base < page_virt + PAGE);
    /* Byte for byte the page's temporary GDT, so the switch needs no CS reload. */
    assert_memory_equal((const void *)(uintptr_t)base,
                        smpboot_trampoline_blob + SMPBOOT_TRAMP_ASM_OFF_GDT,
                        SMPBOOT_TRAMP_ASM_GDT_SIZE);
    /* The same for every session: it is the library's, read-only. */
    struct fixture g;
    smpboot_trampoline_remove(&f.sb);
    fixture_init(&g, true, SMPBOOT_APIC_X2APIC);
    assert_int_equal(smpboot_trampoline_install(&g.sb), SMPBOOT_OK);
    assert_int_equal(params_of(&g)->perm_gdtr_base, base);
    smpboot_trampoline_remove(&g.sb);
    assert_nothing_held(&g);
}

/* The CR3 the AP loads while PCIDE is still clear: no PCID bits, which PCIDE=0 would misread. */
static void test_cr3_before_pcide(void **state)
{
    (void)state;
    const uint64_t pcide = 1ull << 17;
    static const struct {
        uint64_t cr3, cr4, before;
    } cases[] = {
        {0x00123000u | 0x005, bsp_state.cr4 | pcide, 0x00123000u},
        {0x00123000u | 0xFFF | (1ull << 62), bsp_state.cr4 | pcide, 0x00123000u | (1ull << 62)},
        {0x00123000u, bsp_state.cr4 | pcide, 0x00123000u},
        /* Without PCIDE the low bits are PWT/PCD: the kernel's, loaded as they are. */
        {0x00123000u | 0x18, bsp_state.cr4, 0x00123000u | 0x18},
        {KERNEL_TOP_HIGH | 0x7, bsp_state.cr4 | pcide, KERNEL_TOP_HIGH},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture f;
        fixture_init(&f, true, SMPBOOT_APIC_XAPIC);
        fill_kernel_top(&f);
        set_cr3(cases[i].cr3, cases[i].cr4);
        assert_int_equal(smpboot_trampoline_install(&f.sb), SMPBOOT_OK);
        assert_int_equal(params_of(&f)->cr3_before_pcide, cases[i].before);
        assert_int_equal(params_of(&f)->kernel_cr3, cases[i].cr3);
        assert_int_equal(params_of(&f)->cr4 & pcide, cases[i].cr4 & pcide);
        smpboot_trampoline_remove(&f.sb);
        assert_nothing_held(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blob_matches_its_layout),
        cmocka_unit_test(test_install_remove_round_trip),
        cmocka_unit_test(test_x2apic_flag),
        cmocka_unit_test(test_without_map_callbacks),
        cmocka_unit_test(test_entered_counter_and_vector),
#ifndef TEST_NO_WRITE_WATCH
        cmocka_unit_test(test_reinstall_writes_only_what_changed),
#endif
        cmocka_unit_test(test_reinstall_repairs_a_reused_page),
        cmocka_unit_test(test_bad_page_is_refused),
        cmocka_unit_test(test_highest_usable_page_is_accepted),
        cmocka_unit_test(test_page_allocation_failure),
        cmocka_unit_test(test_table_allocation_failure),
        cmocka_unit_test(test_map_failure),
        cmocka_unit_test(test_unreadable_kernel_table),
        cmocka_unit_test(test_boot_tables_4_level),
        cmocka_unit_test(test_boot_tables_5_level),
        cmocka_unit_test(test_low_cr3_flags_are_masked),
        cmocka_unit_test(test_bad_calls),
        cmocka_unit_test(test_cr0_is_fixed),
        cmocka_unit_test(test_cr4_allowlist),
        cmocka_unit_test(test_permanent_gdt),
        cmocka_unit_test(test_cr3_before_pcide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
