/* Local APIC setup, EOI and timer. See lapic.h. */
#include "lapic.h"

#include <smpboot/apic.h>

#include "clock.h"
#include "console.h"
#include "cpu.h"
#include "paging.h"
#include "vectors.h"

#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_X2APIC (1ull << 10)
#define APIC_BASE_ADDRESS 0x000FFFFFFFFFF000ull
#define CPUID_1_ECX_X2APIC (1u << 21)

/* Registers not in host.h, at their xAPIC offsets (x2APIC: MSR 0x800 + offset / 16). */
#define REG_TPR 0x080u
#define REG_LVT_TIMER 0x320u
#define REG_TIMER_INITIAL 0x380u
#define REG_TIMER_CURRENT 0x390u
#define REG_TIMER_DIVIDE 0x3E0u
#define REG_LVT_LINT1 0x360u

#define SVR_ENABLE (1u << 8)
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define TIMER_DIVIDE_BY_16 0x3u
#define DELIVERY_NMI (4u << 8)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_ALL_EXCLUDING_SELF (3u << 18)
#define CALIBRATION_NS 10000000ull /* 10 ms */

static struct smpboot_apic_ops ops;
static bool x2apic_mode;
static bool ready;
static uint64_t timer_ticks_per_10ms;

static uint32_t reg_read(uint32_t reg)
{
    return ops.read(ops.ctx, reg);
}

static void reg_write(uint32_t reg, uint32_t value)
{
    ops.write(ops.ctx, reg, value);
}

bool lapic_x2apic_supported(void)
{
    return (cpuid(1, 0).ecx & CPUID_1_ECX_X2APIC) != 0;
}

bool lapic_x2apic_enabled(void)
{
    return (rdmsr(MSR_APIC_BASE) & APIC_BASE_X2APIC) != 0;
}

void lapic_enable_this_cpu(void)
{
    reg_write(REG_TPR, 0); /* accept every priority */
    uint32_t svr = reg_read(SMPBOOT_APIC_REG_SVR);
    reg_write(SMPBOOT_APIC_REG_SVR, (svr & ~0xFFu) | SVR_ENABLE | VECTOR_SPURIOUS);
}

void lapic_route_nmi(void)
{
    /* Edge-triggered, unmasked; the vector field is ignored for NMI delivery. */
    reg_write(REG_LVT_LINT1, DELIVERY_NMI);
}

void lapic_broadcast_nmi(void)
{
    uint32_t low = ICR_ALL_EXCLUDING_SELF | ICR_LEVEL_ASSERT | DELIVERY_NMI;
    /* A shorthand ignores the destination: the low half alone sends it. */
    if (ops.write_icr)
        ops.write_icr(ops.ctx, low);
    else
        reg_write(SMPBOOT_APIC_REG_ICR_LOW, low);
}

void lapic_init_bsp(enum smpboot_apic_mode mode, uint64_t expected_phys,
                    struct smpboot_apic_ops *out)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    uint64_t phys = base & APIC_BASE_ADDRESS;

    if (expected_phys && expected_phys != phys)
        kprintf("minikernel: warning: MADT says the local APIC is at 0x%llx, the MSR 0x%llx\n",
                (unsigned long long)expected_phys, (unsigned long long)phys);

    if (mode == SMPBOOT_APIC_X2APIC) {
        /* xAPIC -> x2APIC is allowed directly (the reverse needs a disable first). */
        if (!(base & APIC_BASE_X2APIC))
            wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
        smpboot_apic_use_x2apic(&ops);
        x2apic_mode = true;
    } else {
        volatile void *mmio = paging_map_mmio(phys, SMPBOOT_PAGE_SIZE);
        if (!mmio)
            panic("cannot map the local APIC at 0x%llx", (unsigned long long)phys);
        if (!(base & APIC_BASE_ENABLE))
            wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
        smpboot_apic_use_xapic(&ops, mmio);
        x2apic_mode = false;
    }
    ready = true;
    lapic_enable_this_cpu();
    lapic_route_nmi();
    *out = ops;
    kprintf("minikernel: lapic: %s mode, BSP apic %u, registers at 0x%llx\n",
            x2apic_mode ? "x2APIC" : "xAPIC", lapic_current_id(), (unsigned long long)phys);
}

bool lapic_ready(void)
{
    return ready;
}

uint32_t lapic_current_id(void)
{
    uint32_t id = reg_read(SMPBOOT_APIC_REG_ID);
    return x2apic_mode ? id : id >> 24;
}

void lapic_eoi(void)
{
    reg_write(SMPBOOT_APIC_REG_EOI, 0);
}

void lapic_timer_calibrate(void)
{
    reg_write(REG_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    reg_write(REG_LVT_TIMER, LVT_MASKED | VECTOR_TIMER);
    reg_write(REG_TIMER_INITIAL, 0xFFFFFFFFu);
    clock_delay_ns(CALIBRATION_NS);
    uint32_t remaining = reg_read(REG_TIMER_CURRENT);
    reg_write(REG_TIMER_INITIAL, 0);
    timer_ticks_per_10ms = 0xFFFFFFFFull - remaining;
    kprintf("minikernel: lapic: timer %llu kHz (divided by 16)\n",
            (unsigned long long)(timer_ticks_per_10ms / 10));
}

bool lapic_timer_start_periodic(uint32_t period_us)
{
    uint64_t count = timer_ticks_per_10ms * period_us / 10000;
    if (count == 0 || count > 0xFFFFFFFFull)
        return false;
    reg_write(REG_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    reg_write(REG_LVT_TIMER, LVT_TIMER_PERIODIC | VECTOR_TIMER);
    reg_write(REG_TIMER_INITIAL, (uint32_t)count);
    return true;
}

void lapic_timer_stop(void)
{
    reg_write(REG_LVT_TIMER, LVT_MASKED | VECTOR_TIMER);
    reg_write(REG_TIMER_INITIAL, 0);
}
