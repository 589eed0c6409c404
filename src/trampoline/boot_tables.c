/* SPDX-License-Identifier: MIT */
/* Bootstrap page tables below 4 GiB for an AP whose kernel CR3 is above. */
#include "boot_tables.h"

#include <stddef.h>
#include <stdint.h>

#define BOOT_TABLES_LIMIT (1ull << 32)  /* a 32-bit MOV to CR3 must reach them */

#define PTE_PRESENT SMPBOOT_PTE_PRESENT
#define PTE_WRITABLE SMPBOOT_PTE_WRITABLE  /* on upper levels only: the leaf decides */

#define ENTRIES_PER_TABLE SMPBOOT_PTES_PER_TABLE
#define KERNEL_HALF_FIRST 256u          /* entries 256..511 map the upper half */

enum smpboot_status smpboot_boot_tables_build(struct smpboot_session *sb,
                                              const struct smpboot_cpu_state *cpu,
                                              uint64_t page, uint64_t *boot_cr3)
{
    const struct smpboot_host *host = &sb->host;
    uint32_t levels = smpboot_paging_levels(cpu);
    uint64_t tables_phys;

    /* One table per level, level `levels` first: tables_phys + i pages holds level levels - i. */
    enum smpboot_status status = smpboot_frames_alloc(sb, "bootstrap page tables", NULL, levels,
                                                      BOOT_TABLES_LIMIT, SMPBOOT_PAGE_SIZE,
                                                      &tables_phys);
    if (status != SMPBOOT_OK) {
        return status;
    }
    sb->boot_tables_phys = tables_phys;
    sb->boot_tables_pages = levels;
    if ((tables_phys & (SMPBOOT_PAGE_SIZE - 1u)) != 0 ||
        tables_phys + (uint64_t)levels * SMPBOOT_PAGE_SIZE > BOOT_TABLES_LIMIT) {
        return SMPBOOT_ERR_HOST;
    }

    const uint64_t *kernel_top = host->phys_to_virt(host->ctx, cpu->cr3 & SMPBOOT_CR3_ADDRESS_MASK);
    if (kernel_top == NULL) {
        return SMPBOOT_ERR_HOST;
    }

    for (uint32_t i = 0; i < levels; i++) {
        uint32_t level = levels - i;
        uint64_t table_phys = tables_phys + (uint64_t)i * SMPBOOT_PAGE_SIZE;
        uint64_t *table = host->phys_to_virt(host->ctx, table_phys);
        if (table == NULL) {
            return SMPBOOT_ERR_HOST;
        }
        for (uint32_t e = 0; e < ENTRIES_PER_TABLE; e++) {
            table[e] = 0;
        }
        if (i == 0) {
            /* The kernel's half, so the slot table and stacks stay reachable. */
            for (uint32_t e = KERNEL_HALF_FIRST; e < ENTRIES_PER_TABLE; e++) {
                table[e] = kernel_top[e];
            }
        }
        /* The page itself lies in the lower half (below 1 MiB): no clash with the copy. */
        if (level > 1u) {
            table[smpboot_pte_index(page, level)] = (table_phys + SMPBOOT_PAGE_SIZE) | PTE_PRESENT |
                                              PTE_WRITABLE;
        } else {
            /* Read+exec, supervisor only: not writable, no NX, no user bit. */
            table[smpboot_pte_index(page, level)] = page | PTE_PRESENT;
        }
    }

    *boot_cr3 = tables_phys;
    return SMPBOOT_OK;
}
