/* SPDX-License-Identifier: MIT */
/* Ready-made x2APIC access: register offset reg is MSR 0x800 + reg / 16. */
#include <smpboot/apic.h>

#define X2APIC_MSR_BASE 0x800u
#define X2APIC_MSR_ICR 0x830u

static uint32_t x2apic_read(void *ctx, uint32_t reg)
{
    (void)ctx;
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(X2APIC_MSR_BASE + reg / 16));
    return lo;
}

static void x2apic_write(void *ctx, uint32_t reg, uint32_t value)
{
    (void)ctx;
    __asm__ volatile("wrmsr" ::"c"(X2APIC_MSR_BASE + reg / 16), "a"(value), "d"(0u) : "memory");
}

/*
 * One WRMSR sends the IPI: the destination is in the high half. WRMSR to the
 * x2APIC range is not serializing, so fence first: the target must see every
 * store made before the IPI (the trampoline page, its slot).
 */
static void x2apic_write_icr(void *ctx, uint64_t icr)
{
    (void)ctx;
    __asm__ volatile("mfence; lfence" ::: "memory");
    __asm__ volatile("wrmsr" ::"c"(X2APIC_MSR_ICR), "a"((uint32_t)icr), "d"((uint32_t)(icr >> 32))
                     : "memory");
}

void smpboot_apic_use_x2apic(struct smpboot_apic_ops *ops)
{
    ops->ctx = 0;
    ops->read = x2apic_read;
    ops->write = x2apic_write;
    ops->write_icr = x2apic_write_icr;
}
