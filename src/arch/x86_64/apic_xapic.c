/* SPDX-License-Identifier: MIT */
/* Ready-made xAPIC access through the MMIO page; plain loads and stores. */
#include <smpboot/apic.h>

#include "../arch.h"

static uint32_t xapic_read(void *ctx, uint32_t reg)
{
    volatile uint32_t *mmio = ctx;
    return mmio[reg / 4];
}

static void xapic_write(void *ctx, uint32_t reg, uint32_t value)
{
    volatile uint32_t *mmio = ctx;
    mmio[reg / 4] = value;
}

/*
 * ICR_HIGH first: writing ICR_LOW is what sends the IPI. Interrupts stay off
 * between the two stores: a handler that sent its own IPI in between would
 * redirect this one to its destination.
 */
static void xapic_write_icr(void *ctx, uint64_t icr)
{
    volatile uint32_t *mmio = ctx;
    uint64_t saved = smpboot_arch_irq_save();
    mmio[SMPBOOT_APIC_REG_ICR_HIGH / 4] = (uint32_t)(icr >> 32) << 24;
    mmio[SMPBOOT_APIC_REG_ICR_LOW / 4] = (uint32_t)icr;
    smpboot_arch_irq_restore(saved);
}

void smpboot_apic_use_xapic(struct smpboot_apic_ops *ops, volatile void *mmio)
{
    ops->ctx = (void *)(uintptr_t)mmio;
    ops->read = xapic_read;
    ops->write = xapic_write;
    ops->write_icr = xapic_write_icr;
}
