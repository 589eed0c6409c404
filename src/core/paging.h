/* SPDX-License-Identifier: MIT */
/*
 * x86_64 page-table entries, shared by the two places the library writes
 * page tables: the bootstrap tables (src/trampoline/boot_tables.c) and the
 * ready-made identity mapper (pagemap.c).
 */
#ifndef SMPBOOT_CORE_PAGING_H
#define SMPBOOT_CORE_PAGING_H

#include <stdint.h>

#include "../arch/arch.h"

#define SMPBOOT_PTE_PRESENT (1ull << 0)
#define SMPBOOT_PTE_WRITABLE (1ull << 1)
#define SMPBOOT_PTE_LARGE (1ull << 7)       /* PS: a 1 GiB or 2 MiB page at levels 3 and 2 */
#define SMPBOOT_PTE_NX (1ull << 63)
#define SMPBOOT_PTE_ADDRESS 0x000FFFFFFFFFF000ull
#define SMPBOOT_PTES_PER_TABLE 512u

/* CR3 bits 51:12: the top-level table's physical address, without flags or PCID. */
#define SMPBOOT_CR3_ADDRESS_MASK SMPBOOT_PTE_ADDRESS

#define SMPBOOT_EFER_NXE (1ull << 11)

static inline uint32_t smpboot_paging_levels(const struct smpboot_cpu_state *cpu)
{
    return (cpu->cr4 & SMPBOOT_CR4_LA57) ? 5u : 4u;
}

/* Index of `address` in a table of `level` (1 = page table, 4 = PML4, 5 = PML5). */
static inline uint32_t smpboot_pte_index(uint64_t address, uint32_t level)
{
    return (uint32_t)(address >> (12u + 9u * (level - 1u))) & (SMPBOOT_PTES_PER_TABLE - 1u);
}

#endif /* SMPBOOT_CORE_PAGING_H */
