/* Installing the AP trampoline in its page below 1 MiB, and taking it away. */
#include "trampoline/trampoline.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "core/slot.h"
#include "trampoline/boot_tables.h"
#include "trampoline/tramp_params.h"

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

/* What remove() leaves in the page: `cli; hlt; jmp short 0` at offset 0 ... */
static const uint8_t halt_loop[] = {0xFA, 0xF4, 0xEB, 0xFC};
/* ... and HLT everywhere else, so a CPU landing anywhere stops there. */
#define HLT_OPCODE 0xF4u

static bool host_is_usable(const struct smpboot_host *host)
{
    if (host->alloc_frames == NULL || host->free_frames == NULL || host->phys_to_virt == NULL) {
        return false;
    }
    return (host->map == NULL) == (host->unmap == NULL);
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

static struct smpboot_tramp_params *params_in(void *page_virt)
{
    return (struct smpboot_tramp_params *)((uint8_t *)page_virt + SMPBOOT_TRAMP_ASM_OFF_PARAMS);
}

/* Copy the blob and fill in everything that depends on where it landed. */
static void write_blob(struct smpboot *sb, const struct smpboot_cpu_state *cpu, uint64_t boot_cr3)
{
    uint8_t *page = sb->tramp_virt;
    size_t size = (size_t)(smpboot_trampoline_blob_end - smpboot_trampoline_blob);
    uint32_t base = (uint32_t)sb->tramp_phys;

    for (size_t i = 0; i < size; i++) {
        page[i] = smpboot_trampoline_blob[i];
    }
    for (size_t i = size; i < SMPBOOT_PAGE_SIZE; i++) {
        page[i] = HLT_OPCODE;
    }

    /* The real-mode far jump's segment: the page's paragraph number. */
    uint16_t segment = (uint16_t)(base >> 4);
    page[SMPBOOT_TRAMP_ASM_OFF_REAL_MODE_SEGMENT_PATCH] = (uint8_t)segment;
    page[SMPBOOT_TRAMP_ASM_OFF_REAL_MODE_SEGMENT_PATCH + 1] = (uint8_t)(segment >> 8);

    struct smpboot_tramp_params *params = params_in(page);
    params->entered = 0;
    params->x2apic = sb->config.apic_mode == SMPBOOT_APIC_X2APIC ? 1u : 0u;
    params->gdtr_base = base + SMPBOOT_TRAMP_ASM_OFF_GDT;
    params->jump32_offset = base + SMPBOOT_TRAMP_ASM_OFF_PROTECTED_MODE_ENTRY;
    params->jump64_offset = base + SMPBOOT_TRAMP_ASM_OFF_LONG_MODE_ENTRY;
    params->boot_cr3 = boot_cr3;
    params->kernel_cr3 = cpu->cr3;
    params->cr0 = cpu->cr0;
    params->cr4 = cpu->cr4;
    params->efer = cpu->efer;
    params->pat = cpu->pat;
    params->slots_phys = sb->slots_phys;
    params->slots_virt = (uint64_t)(uintptr_t)sb->slots;
    params->slot_count = sb->cpu_count;
    params->ap_main = (uint64_t)(uintptr_t)&smpboot_ap_main;
}

enum smpboot_status smpboot_trampoline_install(struct smpboot *sb)
{
    if (sb == NULL) {
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    }
    if (!host_is_usable(&sb->host)) {
        return SMPBOOT_ERR_MISSING_CALLBACK;
    }
    /* Installed already, or the slot table is not built yet. */
    if (sb->tramp_phys != 0 || sb->tramp_virt != NULL || sb->slots == NULL || sb->cpu_count == 0) {
        return SMPBOOT_ERR_BAD_STATE;
    }
    /* The 32-bit code reads the whole table through physical addresses. */
    if (sb->slots_phys >= BELOW_4GIB ||
        (uint64_t)sb->cpu_count * SMPBOOT_SLOT_SIZE > BELOW_4GIB - sb->slots_phys) {
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    }
    /* The blob and its offsets come from one source: a mismatch is a stale build. */
    if ((size_t)(smpboot_trampoline_blob_end - smpboot_trampoline_blob) !=
        SMPBOOT_TRAMP_ASM_BLOB_SIZE) {
        return SMPBOOT_ERR_UNSUPPORTED;
    }

    struct smpboot_cpu_state cpu;
    smpboot_arch_read_cpu_state(&cpu);
    if (!bsp_in_long_mode(&cpu)) {
        return SMPBOOT_ERR_UNSUPPORTED;
    }

    const struct smpboot_host *host = &sb->host;
    uint64_t page;
    enum smpboot_status status =
        host->alloc_frames(host->ctx, 1, TRAMP_PAGE_LIMIT, SMPBOOT_PAGE_SIZE, &page);
    if (status != SMPBOOT_OK) {
        return status;
    }
    if (!page_is_usable(page)) {
        host->free_frames(host->ctx, page, 1);
        return SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE;
    }
    void *virt = host->phys_to_virt(host->ctx, page);
    if (virt == NULL) {
        host->free_frames(host->ctx, page, 1);
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

    write_blob(sb, &cpu, boot_cr3);

    /* Read+exec only: the library writes the page through phys_to_virt, never through this. */
    if (host->map != NULL) {
        status = host->map(host->ctx, page, page, 1, SMPBOOT_MAP_EXEC);
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

void smpboot_trampoline_remove(struct smpboot *sb)
{
    if (sb == NULL) {
        return;
    }
    const struct smpboot_host *host = &sb->host;

    if (sb->tramp_virt != NULL) {
        uint8_t *page = sb->tramp_virt;
        for (size_t i = 0; i < SMPBOOT_PAGE_SIZE; i++) {
            page[i] = HLT_OPCODE;
        }
        for (size_t i = 0; i < sizeof(halt_loop); i++) {
            page[i] = halt_loop[i];
        }
    }
    if (sb->tramp_mapped && host->unmap != NULL) {
        host->unmap(host->ctx, sb->tramp_phys, 1);
    }
    if (sb->tramp_phys != 0 && host->free_frames != NULL) {
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

uint8_t smpboot_trampoline_sipi_vector(const struct smpboot *sb)
{
    if (sb == NULL) {
        return 0;
    }
    return (uint8_t)(sb->tramp_phys >> 12);
}

uint32_t smpboot_trampoline_entered(const struct smpboot *sb)
{
    if (sb == NULL || sb->tramp_virt == NULL) {
        return 0;
    }
    /* APs increment it with LOCK INC; pair with an atomic load. */
    return __atomic_load_n(&params_in(sb->tramp_virt)->entered, __ATOMIC_ACQUIRE);
}
