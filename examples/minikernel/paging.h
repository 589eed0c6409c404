/*
 * The kernel's page tables (4-level, or 5-level with paging=5; 4 KiB and
 * 2 MiB pages; layout.h shows the address space, the same with 5 levels).
 *
 * paging_init() builds them from scratch, replacing boot.S's early tables:
 * the image with per-section permissions, a direct map of all RAM, nothing
 * in the low half. Mappings made later (ACPI tables, MMIO, libsmpboot's
 * identity-mapped trampoline) go into the tables of the current CR3.
 */
#ifndef MK_PAGING_H
#define MK_PAGING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <smpboot/status.h>

#include "bootinfo.h"
#include "layout.h"

/* Access rights of a mapping. Present and readable are implied. */
#define PAGING_WRITE 0x1u
#define PAGING_EXEC 0x2u
#define PAGING_UNCACHED 0x4u

void paging_init(const struct bootinfo *info);

/* CPUID.07H:ECX.LA57: the CPU can translate with 5 levels. */
bool paging_la57_supported(void);

/*
 * paging=5: switch the early tables to 5 levels (CR4.LA57), so that
 * paging_init() and everything after build and walk 5-level tables. Only
 * before paging_init(). false (and nothing changed) when the CPU lacks LA57.
 */
bool paging_enable_five_levels(void);

/* 4 or 5. */
int paging_levels(void);

/*
 * Rebuild the whole hierarchy in frames at or above `min_phys` and switch
 * CR3 to it; the old tables are freed. Panics when memory runs out.
 */
void paging_move_tables(uint64_t min_phys);

/* Physical address of the top-level table in CR3. */
uint64_t paging_root(void);

/* True when EFER.NXE is on, so the NX bit can be used. */
bool paging_nx_enabled(void);

/*
 * Map `pages` 4 KiB pages at virt to phys. SMPBOOT_ERR_MAP_FAILED if any is
 * already mapped (nothing is left mapped then), SMPBOOT_ERR_NO_MEMORY if a
 * table cannot be allocated, SMPBOOT_ERR_INVALID_ARGUMENT for unaligned or
 * non-canonical addresses. Flushes each page with INVLPG.
 */
enum smpboot_status paging_map(uint64_t virt, uint64_t phys, size_t pages, uint32_t access);

/* Remove mappings made by paging_map() and flush them. Unmapped pages are skipped. */
void paging_unmap(uint64_t virt, size_t pages);

/*
 * Where `virt` leads in the current tables: its physical address and the
 * effective rights (PAGING_WRITE only if every level allows writes,
 * PAGING_EXEC unless some level sets NX). false when it is not mapped.
 */
bool paging_lookup(uint64_t virt, uint64_t *phys, uint32_t *access);

/* Every present leaf of the current tables, by ascending table index, with its effective rights. */
typedef void (*paging_leaf_fn)(void *ctx, uint64_t virt, uint64_t phys, uint64_t size,
                               uint32_t access);
void paging_for_each_leaf(paging_leaf_fn fn, void *ctx);

/* The direct-map address of a physical address. */
static inline void *phys_to_virt(uint64_t phys)
{
    return (void *)(uintptr_t)(DIRECT_MAP_BASE + phys);
}

/*
 * Make sure [phys, phys + bytes) is in the direct map (firmware tables may lie
 * in memory the map calls reserved) and return its direct-map address, or
 * NULL if memory for page tables ran out.
 */
void *paging_direct_map(uint64_t phys, uint64_t bytes);

/* Map device registers uncached in the MMIO window; NULL when the window is full. */
volatile void *paging_map_mmio(uint64_t phys, uint64_t bytes);

#endif /* MK_PAGING_H */
