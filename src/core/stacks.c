/* Stacks come from the host's frames and are reached through its direct map. */
#include "core/session.h"

static enum smpboot_status alloc_stack(struct smpboot *sb, size_t bytes, uint64_t *phys,
                                       uintptr_t *top)
{
    size_t pages = bytes / SMPBOOT_PAGE_SIZE;
    enum smpboot_status status =
        sb->host.alloc_frames(sb->host.ctx, pages, UINT64_MAX, SMPBOOT_PAGE_SIZE, phys);
    if (status != SMPBOOT_OK)
        return status;
    uintptr_t base = (uintptr_t)sb->host.phys_to_virt(sb->host.ctx, *phys);
    *top = (base + bytes) & ~(uintptr_t)15;
    return SMPBOOT_OK;
}

enum smpboot_status smpboot_stacks_alloc(struct smpboot *sb, struct smpboot_cpu *cpu)
{
    enum smpboot_status status =
        alloc_stack(sb, sb->config.stack_size, &cpu->priv_stack_phys, &cpu->stack_top);
    if (status != SMPBOOT_OK)
        return status;
    cpu->stack_size = sb->config.stack_size;
    for (uint32_t i = 0; i < sb->config.extra_stack_count; i++) {
        status = alloc_stack(sb, sb->config.extra_stack_size, &cpu->priv_extra_stack_phys[i],
                             &cpu->extra_stack_top[i]);
        if (status != SMPBOOT_OK) {
            smpboot_stacks_free(sb, cpu);
            return status;
        }
    }
    return SMPBOOT_OK;
}

/* Frees whatever part of the set was allocated; a zero top marks "none". */
void smpboot_stacks_free(struct smpboot *sb, struct smpboot_cpu *cpu)
{
    for (uint32_t i = 0; i < SMPBOOT_MAX_EXTRA_STACKS; i++) {
        if (cpu->extra_stack_top[i]) {
            sb->host.free_frames(sb->host.ctx, cpu->priv_extra_stack_phys[i],
                                 sb->config.extra_stack_size / SMPBOOT_PAGE_SIZE);
            cpu->extra_stack_top[i] = 0;
            cpu->priv_extra_stack_phys[i] = 0;
        }
    }
    if (cpu->stack_top) {
        sb->host.free_frames(sb->host.ctx, cpu->priv_stack_phys, cpu->stack_size / SMPBOOT_PAGE_SIZE);
        cpu->stack_top = 0;
        cpu->stack_size = 0;
        cpu->priv_stack_phys = 0;
    }
}
