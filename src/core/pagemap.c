/* SPDX-License-Identifier: MIT */
/*
 * The ready-made identity mapper (pagemap.h): one page at a time, at its
 * identity address, in the kernel's own tables. It remembers from which
 * level down it built the chain, so that unmap frees exactly the tables it
 * created and never one of the kernel's.
 */
#include <smpboot/pagemap.h>

#include "paging.h"
#include "../arch/arch.h"

struct identity_map {
    void *ctx;
    enum smpboot_status (*alloc_frames)(void *ctx, size_t pages, uint64_t limit, uint64_t align,
                                        uint64_t *phys);
    void (*free_frames)(void *ctx, uint64_t phys, size_t pages);
    void *(*phys_to_virt)(void *ctx, uint64_t phys);
    uint64_t top_table_phys;  /* 0: CR3 at each map */
    uint64_t mapped;          /* the page mapped now; 0: none (page 0 is never asked for) */
    uint64_t mapped_top;      /* the top-level table it was mapped in */
    uint32_t mapped_levels;
    /* Tables at this level and below were created by map() (0: none). */
    uint32_t created_from_level;
};

_Static_assert(sizeof(struct identity_map) <= sizeof(struct smpboot_identity_map),
               "raise SMPBOOT_IDENTITY_MAP_WORDS");
_Static_assert(_Alignof(struct identity_map) <= _Alignof(struct smpboot_identity_map),
               "struct smpboot_identity_map is not aligned enough");

static uint64_t *table_at(const struct identity_map *m, uint64_t phys)
{
    return m->phys_to_virt(m->ctx, phys);
}

/* The table `level` holds for `page` below `table`'s entry, or 0 when absent. */
static uint64_t next_table(const struct identity_map *m, uint64_t table, uint64_t page,
                           uint32_t level)
{
    uint64_t entry = table_at(m, table)[smpboot_pte_index(page, level)];
    return (entry & SMPBOOT_PTE_PRESENT) ? entry & SMPBOOT_PTE_ADDRESS : 0;
}

/* Free the created tables from level `from` down, clearing the entry above each. */
static void free_created(struct identity_map *m, uint64_t top, uint32_t levels, uint64_t page,
                         uint32_t from)
{
    /* Walk down to the table above the first created one, then unlink and free below it. */
    uint64_t parent = top;
    for (uint32_t level = levels; level > from + 1; level--)
        parent = next_table(m, parent, page, level);
    uint64_t *parent_entry = &table_at(m, parent)[smpboot_pte_index(page, from + 1)];
    uint64_t chain[5];
    uint32_t count = 0;
    uint64_t table = *parent_entry & SMPBOOT_PTE_ADDRESS;
    for (uint32_t level = from; level >= 1 && table; level--) {
        chain[count++] = table;
        table = level > 1 ? next_table(m, table, page, level) : 0;
    }
    *parent_entry = 0;
    smpboot_arch_invlpg(page);
    for (uint32_t i = 0; i < count; i++)
        m->free_frames(m->ctx, chain[i], 1);
}

static enum smpboot_status identity_map(void *ctx, uint64_t virt, uint64_t phys, size_t pages,
                                        uint32_t flags)
{
    struct identity_map *m = ctx;
    if (pages != 1 || virt != phys || phys % SMPBOOT_PAGE_SIZE || m->mapped)
        return SMPBOOT_ERR_UNSUPPORTED;
    struct smpboot_cpu_state cpu;
    smpboot_arch_read_cpu_state(&cpu);
    uint32_t levels = smpboot_paging_levels(&cpu);
    uint64_t top = m->top_table_phys ? m->top_table_phys : cpu.cr3 & SMPBOOT_CR3_ADDRESS_MASK;

    uint64_t table = top;
    uint32_t created_from = 0;
    for (uint32_t level = levels; level > 1; level--) {
        uint64_t *entry = &table_at(m, table)[smpboot_pte_index(phys, level)];
        if ((*entry & SMPBOOT_PTE_PRESENT) && (*entry & SMPBOOT_PTE_LARGE) && level <= 3) {
            if (created_from)
                free_created(m, top, levels, phys, created_from);
            return SMPBOOT_ERR_MAP_FAILED;
        }
        if (!(*entry & SMPBOOT_PTE_PRESENT)) {
            uint64_t fresh;
            enum smpboot_status status = m->alloc_frames(m->ctx, 1, UINT64_MAX, SMPBOOT_PAGE_SIZE,
                                                         &fresh);
            if (status != SMPBOOT_OK) {
                if (created_from)
                    free_created(m, top, levels, phys, created_from);
                return status;
            }
            uint64_t *words = table_at(m, fresh);
            for (uint32_t i = 0; i < SMPBOOT_PTES_PER_TABLE; i++)
                words[i] = 0;
            /* Upper levels grant everything: the leaf alone decides. */
            *entry = fresh | SMPBOOT_PTE_PRESENT | SMPBOOT_PTE_WRITABLE;
            if (!created_from)
                created_from = level - 1;
        }
        table = *entry & SMPBOOT_PTE_ADDRESS;
    }
    uint64_t *leaf = &table_at(m, table)[smpboot_pte_index(phys, 1)];
    if (*leaf & SMPBOOT_PTE_PRESENT) {
        if (created_from)
            free_created(m, top, levels, phys, created_from);
        return SMPBOOT_ERR_MAP_FAILED;  /* the kernel's own mapping: not ours to replace */
    }
    uint64_t entry = phys | SMPBOOT_PTE_PRESENT;
    if (flags & SMPBOOT_MAP_WRITE)
        entry |= SMPBOOT_PTE_WRITABLE;
    if (!(flags & SMPBOOT_MAP_EXEC) && (cpu.efer & SMPBOOT_EFER_NXE))
        entry |= SMPBOOT_PTE_NX;
    *leaf = entry;
    smpboot_arch_invlpg(phys);
    m->mapped = phys;
    m->mapped_top = top;
    m->mapped_levels = levels;
    m->created_from_level = created_from;
    return SMPBOOT_OK;
}

static void identity_unmap(void *ctx, uint64_t virt, size_t pages)
{
    struct identity_map *m = ctx;
    if (pages != 1 || virt != m->mapped || !m->mapped)
        return;  /* not a range map() made: nothing of ours to undo */
    uint64_t table = m->mapped_top;
    for (uint32_t level = m->mapped_levels; level > 1 && table; level--)
        table = next_table(m, table, virt, level);
    if (table)
        table_at(m, table)[smpboot_pte_index(virt, 1)] = 0;
    smpboot_arch_invlpg(virt);
    if (m->created_from_level)
        free_created(m, m->mapped_top, m->mapped_levels, virt, m->created_from_level);
    m->mapped = 0;
    m->created_from_level = 0;
}

void smpboot_identity_map_use(struct smpboot_host *host, struct smpboot_identity_map *state,
                              uint64_t top_table_phys)
{
    if (!host || !state)
        return;
    struct identity_map *m = (struct identity_map *)(void *)state;
    *m = (struct identity_map){
        .ctx = host->ctx,
        .alloc_frames = host->alloc_frames,
        .free_frames = host->free_frames,
        .phys_to_virt = host->phys_to_virt,
        .top_table_phys = top_table_phys & SMPBOOT_PTE_ADDRESS,
    };
    host->map = identity_map;
    host->unmap = identity_unmap;
    host->map_ctx = m;
}
