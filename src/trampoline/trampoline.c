/* SPDX-License-Identifier: MIT */
/* Installing the AP trampoline in its page below 1 MiB, and taking it away. */
#include "trampoline.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../arch/arch.h"
#include "../core/slot.h"
#include "boot_tables.h"
#include "tramp_params.h"

/* Page 0 holds the real-mode IVT (and is SIPI vector 0, which some firmware rejects). */
#define TRAMP_PAGE_MIN 0x1000ull
/*
 * SIPI vectors 0xA0-0xBF are reserved, and 0xA0000 and up is video memory
 * and ROM, not RAM. The allocator's limit and our check use the same bound.
 */
#define TRAMP_PAGE_LIMIT 0xA0000ull
#define BELOW_4GIB (1ull << 32)

/* Control bits that show the BSP runs in long mode (the state the APs copy). */
#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)

/*
 * The AP's CR0 is fixed, as in Linux, not the BSP's: a BSP's TS (lazy FPU),
 * CD or NW would make the kernel's entry fault or run uncached.
 */
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define AP_CR0 (CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG)

/*
 * The CR4 bits an AP takes from the BSP: each one either needs no state
 * beyond the page tables and CPUID, or its state is in EFER/PAT, which the
 * AP takes too. Everything else (CET, FRED, PKS, LASS, UINTR, LAM_SUP, KL,
 * VMXE, SMXE, TSD, PCE, VME, PVI, any future bit) needs MSRs or memory the
 * AP does not have yet, or is the kernel's policy: its entry sets them.
 */
#define CR4_DE (1ull << 3)
#define CR4_PSE (1ull << 4)
#define CR4_MCE (1ull << 6)
#define CR4_PGE (1ull << 7)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_UMIP (1ull << 11)
#define CR4_FSGSBASE (1ull << 16)
#define CR4_PCIDE (1ull << 17)
#define CR4_OSXSAVE (1ull << 18)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define CR4_PKE (1ull << 22)
#define AP_CR4_FROM_BSP                                                                        \
    (CR4_DE | CR4_PSE | CR4_MCE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_UMIP |           \
     SMPBOOT_CR4_LA57 | CR4_FSGSBASE | CR4_PCIDE | CR4_OSXSAVE | CR4_SMEP | CR4_SMAP | CR4_PKE)

/* CR3's PCID field, meaningful only while CR4.PCIDE is set. */
#define CR3_PCID_MASK 0xFFFull

/*
 * The GDT every AP runs on from long mode on: the library's, read-only in
 * the kernel image, so it outlives the trampoline page. Same layout and
 * descriptors as the page's temporary GDT (from the same NASM values), with
 * the accessed bits preset so the CPU never writes it.
 */
static const uint64_t permanent_gdt[SMPBOOT_TRAMP_ASM_GDT_SIZE / 8] = {
    [0] = 0,
    [SMPBOOT_TRAMP_ASM_SEL_CODE64 / 8] = SMPBOOT_TRAMP_ASM_DESC_CODE64,
    [SMPBOOT_TRAMP_ASM_SEL_DATA / 8] = SMPBOOT_TRAMP_ASM_DESC_DATA,
    [SMPBOOT_TRAMP_ASM_SEL_CODE32 / 8] = SMPBOOT_TRAMP_ASM_DESC_CODE32,
};

#define CODE_WORDS (SMPBOOT_TRAMP_ASM_OFF_PARAMS / 8)
#define BLOB_WORDS (SMPBOOT_TRAMP_ASM_BLOB_SIZE / 8)

/*
 * Every write into the page's code and parameters (but the armed flag,
 * which its callers order on their own) goes through here and stores only
 * what differs, in 4-byte halves. An emulator that translates
 * guest code (QEMU's TCG) drops its translation of any code a store
 * overlaps, so a page rewritten in full would be translated anew by the
 * first AP of every bring-up; with this, a restart on the same page
 * rewrites only the parameters that changed, never the code. Halves,
 * because a store counts as a write to every byte it spans. Words, not
 * bytes, where instructions are counted (Bochs): a byte loop costs a few
 * instructions a byte. The page is reached as bytes (memcpy), so no
 * aliasing rule is at stake.
 */
static void store_if_changed(uint8_t *at, uint64_t value)
{
    for (size_t half = 0; half < 2; half++) {
        uint32_t want = (uint32_t)(value >> (32 * half));
        uint32_t have;
        __builtin_memcpy(&have, at + 4 * half, sizeof have);
        if (have != want) {
            __builtin_memcpy(at + 4 * half, &want, sizeof want);
        }
    }
}

static uint64_t blob_word(size_t index)
{
    uint64_t word;
    __builtin_memcpy(&word, smpboot_trampoline_blob + index * 8, sizeof word);
    return word;
}

/* One byte the installer patches into the code, at its page offset. */
struct code_patch {
    size_t offset;
    uint8_t value;
};

/*
 * The code words as this page needs them: the blob with the bytes that
 * depend on where the page is (the real-mode segment, the 32-bit NMI
 * gate's target) patched in. `patches` is sorted by offset.
 */
static void write_code(uint8_t *page, const struct code_patch *patches, size_t patch_count)
{
    size_t next = 0;
    for (size_t i = 0; i < CODE_WORDS; i++) {
        uint64_t word = blob_word(i);
        for (; next < patch_count && patches[next].offset / 8 == i; next++) {
            unsigned shift = (unsigned)(patches[next].offset % 8) * 8u;
            word = (word & ~(0xFFull << shift)) | ((uint64_t)patches[next].value << shift);
        }
        store_if_changed(page + i * 8, word);
    }
}

/* The parameter block, except `armed`, which each caller orders itself. */
static void write_params(uint8_t *page, const struct smpboot_tramp_params *params)
{
    const uint8_t *bytes = (const uint8_t *)params;
    for (size_t i = CODE_WORDS; i < BLOB_WORDS; i++) {
        uint64_t word;
        __builtin_memcpy(&word, bytes + (i - CODE_WORDS) * 8, sizeof word);
        store_if_changed(page + i * 8, word);
    }
}

static uint32_t *armed_flag(uint8_t *page)
{
    uint8_t *params = page + SMPBOOT_TRAMP_ASM_OFF_PARAMS;
    return (uint32_t *)(void *)(params + SMPBOOT_TRAMP_ASM_PARAM_ARMED);
}

/* The page's parameter block as it is now. */
static void read_params(const uint8_t *page, struct smpboot_tramp_params *params)
{
    __builtin_memcpy(params, page + SMPBOOT_TRAMP_ASM_OFF_PARAMS, sizeof *params);
}

/* The parameter block as the blob has it: the values the installer does not fill. */
static void blob_params(struct smpboot_tramp_params *params)
{
    __builtin_memcpy(params, smpboot_trampoline_blob + SMPBOOT_TRAMP_ASM_OFF_PARAMS, sizeof *params);
}

static bool bsp_in_long_mode(const struct smpboot_cpu_state *cpu)
{
    return (cpu->cr0 & (CR0_PE | CR0_PG)) == (CR0_PE | CR0_PG) && (cpu->cr4 & CR4_PAE) != 0 &&
           (cpu->efer & EFER_LME) != 0;
}

static bool page_is_usable(uint64_t page)
{
    return (page & (SMPBOOT_PAGE_SIZE - 1u)) == 0 && page >= TRAMP_PAGE_MIN &&
           page + SMPBOOT_PAGE_SIZE <= TRAMP_PAGE_LIMIT;
}

/* The page's code and parameters, for where it landed and for this session. */
static void write_page(struct smpboot_session *sb, const struct smpboot_cpu_state *cpu, uint64_t boot_cr3)
{
    uint8_t *page = sb->tramp_virt;
    uint32_t base = (uint32_t)sb->tramp_phys;
    uint64_t ap_cr4 = (cpu->cr4 & AP_CR4_FROM_BSP) | CR4_PAE;

    /*
     * The real-mode far jump's segment (the page's paragraph number), then
     * the 32-bit NMI gate's target, split as a gate stores it: bits 15:0 at
     * bytes 0-1, bits 31:16 at bytes 6-7.
     */
    uint16_t segment = (uint16_t)(base >> 4);
    uint32_t nmi_return = base + SMPBOOT_TRAMP_ASM_OFF_NMI_RETURN32;
    const size_t segment_at = SMPBOOT_TRAMP_ASM_OFF_REAL_MODE_SEGMENT_PATCH;
    const size_t gate_at = SMPBOOT_TRAMP_ASM_OFF_IDT32_NMI_GATE;
    const struct code_patch patches[] = {
        {segment_at, (uint8_t)segment},
        {segment_at + 1, (uint8_t)(segment >> 8)},
        {gate_at, (uint8_t)nmi_return},
        {gate_at + 1, (uint8_t)(nmi_return >> 8)},
        {gate_at + 6, (uint8_t)(nmi_return >> 16)},
        {gate_at + 7, (uint8_t)(nmi_return >> 24)},
    };
    write_code(page, patches, sizeof patches / sizeof patches[0]);

    struct smpboot_tramp_params params;
    blob_params(&params);
    params.entered_phys =
        (uint32_t)(sb->slots_phys + (uint64_t)sb->cpu_count * SMPBOOT_SLOT_SIZE);
    params.x2apic = sb->config.apic_mode == SMPBOOT_APIC_X2APIC ? 1u : 0u;
    params.page_gdtr_base = base + SMPBOOT_TRAMP_ASM_OFF_GDT;
    params.jump32_offset = base + SMPBOOT_TRAMP_ASM_OFF_PROTECTED_MODE_ENTRY;
    /*
     * Bootstrap tables (built iff the kernel's top level is above 4 GiB) may
     * not map the AP's stack or the session's IDT: only then must the AP
     * wait for the kernel's CR3 before taking them, with NMIs fatal meanwhile.
     */
    params.jump64_offset = base + (sb->boot_tables_pages != 0
                                       ? SMPBOOT_TRAMP_ASM_OFF_LONG_MODE_ENTRY
                                       : SMPBOOT_TRAMP_ASM_OFF_LONG_MODE_ENTRY_ON_KERNEL_TABLES);
    params.perm_gdtr_limit = (uint16_t)(sizeof(permanent_gdt) - 1);
    params.perm_gdtr_base = (uint64_t)(uintptr_t)permanent_gdt;
    params.boot_cr3 = boot_cr3;
    /* Setting PCIDE needs CR3[11:0] = 0, and the load before it must flush under PCID 0. */
    params.cr3_before_pcide = (ap_cr4 & CR4_PCIDE) ? cpu->cr3 & ~CR3_PCID_MASK : cpu->cr3;
    params.kernel_cr3 = cpu->cr3;
    params.cr0 = AP_CR0;
    params.cr4 = ap_cr4;
    params.efer = cpu->efer;
    params.pat = cpu->pat;
    params.slots_phys = sb->slots_phys;
    params.slots_virt = (uint64_t)(uintptr_t)sb->slots;
    params.slot_count = sb->cpu_count;
    params.ap_main = (uint64_t)(uintptr_t)&smpboot_ap_main;
    params.page_idtr_base = base + SMPBOOT_TRAMP_ASM_OFF_IDT32;
    /* Its address is what counts here: smpboot_start() fills it before the first kick. */
    params.session_idtr_limit = (uint16_t)(sizeof(sb->nmi_idt) - 1);
    params.session_idtr_base = (uint64_t)(uintptr_t)sb->nmi_idt;
    /* Armed last, once everything else it guards is in place (release). */
    params.armed = __atomic_load_n(armed_flag(page), __ATOMIC_RELAXED);
    write_params(page, &params);
    __atomic_store_n(armed_flag(page), SMPBOOT_TRAMP_ASM_ARMED_MAGIC, __ATOMIC_RELEASE);
    /*
     * The rest of the page is not touched: every SIPI starts at offset 0,
     * and on some hypervisors each access to this page is a trap (the
     * nested KVM of docs/performance.md: about 5 us a word).
     */
}

enum smpboot_status smpboot_trampoline_install(struct smpboot_session *sb)
{
    if (sb == NULL) {
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    }
    /* The host was checked once, by smpboot_init(): the only way here is through a session. */
    /* Installed already, or the slot table is not built yet. */
    if (sb->tramp_phys != 0 || sb->tramp_virt != NULL || sb->slots == NULL || sb->cpu_count == 0) {
        return SMPBOOT_ERR_BAD_STATE;
    }
    /* The 32-bit code reads the whole table, arrival counter included, through physical addresses. */
    if (sb->slots_phys >= BELOW_4GIB ||
        (uint64_t)smpboot_slot_table_bytes(sb->cpu_count) > BELOW_4GIB - sb->slots_phys) {
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    }
    struct smpboot_cpu_state cpu;
    smpboot_arch_read_cpu_state(&cpu);
    if (!bsp_in_long_mode(&cpu)) {
        return SMPBOOT_ERR_UNSUPPORTED;
    }

    const struct smpboot_host *host = &sb->host;
    /* A page the kernel reserved is its own: never allocated or freed here. */
    uint64_t page = sb->config.trampoline_page;
    bool borrowed = page == 0;
    enum smpboot_status status;
    if (borrowed) {
        status = smpboot_frames_alloc(sb, "trampoline page", NULL, 1, TRAMP_PAGE_LIMIT,
                                      SMPBOOT_PAGE_SIZE, &page);
        if (status != SMPBOOT_OK) {
            return status;
        }
    }
    if (!page_is_usable(page)) {
        if (borrowed) {
            host->free_frames(host->ctx, page, 1);
        }
        return SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE;
    }
    void *virt = host->phys_to_virt(host->ctx, page);
    if (virt == NULL) {
        if (borrowed) {
            host->free_frames(host->ctx, page, 1);
        }
        return SMPBOOT_ERR_HOST;
    }
    /* From here on smpboot_trampoline_remove() releases whatever is recorded. */
    sb->tramp_phys = page;
    sb->tramp_virt = virt;

    /* An AP loads CR3 in 32-bit mode: the kernel's tables qualify only below 4 GiB. */
    uint64_t boot_cr3 = cpu.cr3 & SMPBOOT_CR3_ADDRESS_MASK;
    if (boot_cr3 >= BELOW_4GIB) {
        status = smpboot_boot_tables_build(sb, &cpu, page, &boot_cr3);
        if (status != SMPBOOT_OK) {
            goto fail;
        }
    }

    write_page(sb, &cpu, boot_cr3);

    /* Read+exec only: the library writes the page through phys_to_virt, never through this. */
    if (host->map != NULL) {
        status = smpboot_host_map(sb, page, page, 1, SMPBOOT_MAP_EXEC);
        if (status != SMPBOOT_OK) {
            goto fail;
        }
        sb->tramp_mapped = true;
    }
    return SMPBOOT_OK;

fail:
    smpboot_trampoline_remove(sb);
    return status;
}

/*
 * Disarmed first, so that a CPU that a stray SIPI starts here parks in real
 * mode (asm/trampoline.asm). One that got past that check just before finds
 * no slot to scan and counts itself in the page's own late_entries word,
 * not in the slot table, which is about to be freed; the page-relative far
 * pointers and table images stay valid on its way. Then every other field
 * of the session goes (its CR3s, kernel and slot table addresses), so
 * nothing of it stays in the page. The code stays as the next install
 * would write it (store_if_changed).
 */
static void disarm_page(uint8_t *page, uint32_t page_phys)
{
    /* x86 keeps stores in order (TSO): the fences only hold the compiler to it. */
    __atomic_store_n(armed_flag(page), 0u, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    struct smpboot_tramp_params params;
    read_params(page, &params);
    params.armed = 0;
    params.slot_count = 0;
    params.entered_phys =
        page_phys + SMPBOOT_TRAMP_ASM_OFF_PARAMS + SMPBOOT_TRAMP_ASM_PARAM_LATE_ENTRIES;
    write_params(page, &params);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    /* The blob's own block (every field of the session 0), with what the page keeps. */
    struct smpboot_tramp_params left;
    blob_params(&left);
    left.entered_phys = params.entered_phys;
    left.page_gdtr_base = params.page_gdtr_base;
    left.jump32_offset = params.jump32_offset;
    left.jump64_offset = params.jump64_offset;
    left.page_idtr_base = params.page_idtr_base;
    write_params(page, &left);
}

void smpboot_trampoline_remove(struct smpboot_session *sb)
{
    if (sb == NULL) {
        return;
    }
    const struct smpboot_host *host = &sb->host;

    if (sb->tramp_virt != NULL) {
        disarm_page(sb->tramp_virt, (uint32_t)sb->tramp_phys);
    }
    if (sb->tramp_mapped && host->unmap != NULL) {
        smpboot_host_unmap(sb, sb->tramp_phys, 1);
    }
    if (sb->tramp_phys != 0 && sb->config.trampoline_page == 0 && host->free_frames != NULL) {
        host->free_frames(host->ctx, sb->tramp_phys, 1);
    }
    if (sb->boot_tables_pages != 0 && host->free_frames != NULL) {
        host->free_frames(host->ctx, sb->boot_tables_phys, sb->boot_tables_pages);
    }

    sb->tramp_mapped = false;
    sb->tramp_phys = 0;
    sb->tramp_virt = NULL;
    sb->boot_tables_phys = 0;
    sb->boot_tables_pages = 0;
}

uint8_t smpboot_trampoline_sipi_vector(const struct smpboot_session *sb)
{
    if (sb == NULL) {
        return 0;
    }
    return (uint8_t)(sb->tramp_phys >> 12);
}

uint32_t smpboot_trampoline_entries(const struct smpboot *handle)
{
    const struct smpboot_session *sb = smpboot_session_of_const(handle);
    if (sb == NULL || sb->tramp_virt == NULL || sb->slots == NULL) {
        return 0;
    }
    /* APs increment it with LOCK INC; pair with an atomic load. */
    return __atomic_load_n(smpboot_slot_table_entered(sb->slots, sb->cpu_count), __ATOMIC_ACQUIRE);
}
