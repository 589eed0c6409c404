/* SPDX-License-Identifier: MIT */
/*
 * AP stacks come from the kernel's alloc_stack when it has one, else from
 * the host's frames. Without a stack window those are used through the
 * direct map. With one, each stack is mapped at a fixed
 * place in the window, derived from the CPU's index, above an unmapped guard
 * page: the layout needs no allocator and the unmap needs no record.
 */
#include "session.h"

#define PAGE SMPBOOT_PAGE_SIZE

/* Window offset of stack `which` (0: the main stack, 1..: extra stacks) of CPU `index`, guard included. */
static uint64_t window_offset(const struct smpboot_session *sb, uint32_t index, uint32_t which)
{
    const struct smpboot_config *c = &sb->config;
    uint64_t offset = smpboot_stack_window_bytes(c, index);
    if (which > 0)
        offset += c->stack_size + PAGE + (uint64_t)(which - 1) * (c->extra_stack_size + PAGE);
    return offset;
}

static enum smpboot_status alloc_stack(struct smpboot_session *sb, const struct smpboot_cpu *cpu,
                                       uint32_t which, size_t bytes, uint64_t *phys, uintptr_t *top)
{
    const char *what = which ? "extra stack" : "stack";
    *phys = 0;
    if (sb->host.alloc_stack) {
        void *kernel_stack = sb->host.alloc_stack(sb->host.ctx, bytes);
        if (!kernel_stack) {
            smpboot_logf(sb, SMPBOOT_LOG_ERROR, "start: alloc_stack failed for the %s of APIC %u: %lu bytes",
                         what, cpu->apic_id, (unsigned long)bytes);
            return SMPBOOT_ERR_NO_MEMORY;
        }
        if ((uintptr_t)kernel_stack % 16) {
            sb->host.free_stack(sb->host.ctx, kernel_stack, bytes);
            smpboot_logf(sb, SMPBOOT_LOG_ERROR, "start: alloc_stack returned %lx: not 16-byte aligned",
                         (unsigned long)(uintptr_t)kernel_stack);
            return SMPBOOT_ERR_HOST;
        }
        /* bytes is a multiple of 4096 and the base 16-byte aligned: top - bytes is the base again. */
        *top = (uintptr_t)kernel_stack + bytes;
        return SMPBOOT_OK;
    }
    size_t pages = bytes / PAGE;
    enum smpboot_status status = smpboot_frames_alloc(sb, what, cpu, pages, UINT64_MAX, PAGE, phys);
    if (status != SMPBOOT_OK)
        return status;
    uintptr_t base;
    if (sb->config.stack_window) {
        base = (uintptr_t)(sb->config.stack_window + window_offset(sb, cpu->index, which) + PAGE);
        status = smpboot_host_map(sb, base, *phys, pages, SMPBOOT_MAP_WRITE);
        if (status != SMPBOOT_OK) {
            sb->host.free_frames(sb->host.ctx, *phys, pages);
            *phys = 0;
            return status;
        }
    } else {
        base = (uintptr_t)sb->host.phys_to_virt(sb->host.ctx, *phys);
    }
    *top = (base + bytes) & ~(uintptr_t)15;
    return SMPBOOT_OK;
}

static void free_stack(struct smpboot_session *sb, size_t bytes, uint64_t *phys, uintptr_t *top)
{
    size_t pages = bytes / PAGE;
    if (sb->host.free_stack) {
        sb->host.free_stack(sb->host.ctx, (void *)(*top - bytes), bytes);
        *top = 0;
        return;
    }
    if (sb->config.stack_window)
        smpboot_host_unmap(sb, (*top - bytes) & ~(uintptr_t)(PAGE - 1), pages);
    sb->host.free_frames(sb->host.ctx, *phys, pages);
    *phys = 0;
    *top = 0;
}

enum smpboot_status smpboot_stacks_alloc(struct smpboot_session *sb, struct smpboot_cpu *cpu)
{
    enum smpboot_status status = alloc_stack(sb, cpu, 0, sb->config.stack_size,
                                             &cpu->stack_phys, &cpu->stack_top);
    if (status != SMPBOOT_OK)
        return status;
    cpu->stack_size = sb->config.stack_size;
    for (uint32_t i = 0; i < sb->config.extra_stack_count; i++) {
        status = alloc_stack(sb, cpu, i + 1, sb->config.extra_stack_size,
                             &cpu->extra_stack_phys[i], &cpu->extra_stack_top[i]);
        if (status != SMPBOOT_OK) {
            smpboot_stacks_free(sb, cpu);
            return status;
        }
    }
    return SMPBOOT_OK;
}

/* Frees whatever part of the set was allocated; a zero top marks "none". */
void smpboot_stacks_free(struct smpboot_session *sb, struct smpboot_cpu *cpu)
{
    for (uint32_t i = 0; i < SMPBOOT_MAX_EXTRA_STACKS; i++)
        if (cpu->extra_stack_top[i])
            free_stack(sb, sb->config.extra_stack_size, &cpu->extra_stack_phys[i],
                       &cpu->extra_stack_top[i]);
    if (cpu->stack_top) {
        free_stack(sb, cpu->stack_size, &cpu->stack_phys, &cpu->stack_top);
        cpu->stack_size = 0;
    }
}
