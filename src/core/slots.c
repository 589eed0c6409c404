/* SPDX-License-Identifier: MIT */
/* The slot table lives below 4 GiB: the trampoline reads it before paging. */
#include "session.h"

#define FOUR_GIB (1ull << 32)

enum smpboot_status smpboot_slots_create(struct smpboot_session *sb)
{
    size_t bytes = smpboot_slot_table_bytes(sb->cpu_count);
    size_t pages = (bytes + SMPBOOT_PAGE_SIZE - 1) / SMPBOOT_PAGE_SIZE;
    uint64_t phys = 0;
    enum smpboot_status status =
        smpboot_frames_alloc(sb, "slot table", NULL, pages, FOUR_GIB, SMPBOOT_PAGE_SIZE, &phys);
    if (status != SMPBOOT_OK)
        return status;
    if (phys % SMPBOOT_PAGE_SIZE || phys + pages * SMPBOOT_PAGE_SIZE > FOUR_GIB) {
        sb->host.free_frames(sb->host.ctx, phys, pages);
        smpboot_logf(sb, SMPBOOT_LOG_ERROR, "slot table frames at %lx break the 4 GiB limit",
                     (unsigned long)phys);
        return SMPBOOT_ERR_HOST;
    }
    sb->slots_phys = phys;
    sb->slots_pages = pages;
    sb->slots = sb->host.phys_to_virt(sb->host.ctx, phys);

    struct smpboot_slot *slots = sb->slots;
    for (uint32_t i = 0; i < sb->cpu_count; i++) {
        slots[i] = (struct smpboot_slot){
            .apic_id = sb->cpus[i].apic_id,
            .state = SMPBOOT_SLOT_IDLE,
            .stack_top = sb->cpus[i].stack_top,
            .cpu = (uint64_t)(uintptr_t)&sb->cpus[i],
            .session = (uint64_t)(uintptr_t)sb,
        };
    }
    /*
     * The arrival counter after the last slot starts at 0. Nothing else
     * past the slots is read (the APs scan slot_count slots), and on some
     * hypervisors every word touched costs a trap, so nothing else is written.
     */
    *smpboot_slot_table_entered(sb->slots, sb->cpu_count) = 0;
    return SMPBOOT_OK;
}

void smpboot_slots_destroy(struct smpboot_session *sb)
{
    if (!sb->slots_pages)
        return;
    sb->host.free_frames(sb->host.ctx, sb->slots_phys, sb->slots_pages);
    sb->slots = NULL;
    sb->slots_phys = 0;
    sb->slots_pages = 0;
}
