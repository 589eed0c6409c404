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
#define CPUID_1_EDX_APIC (1u << 9)

/* Registers not in host.h, at their xAPIC offsets (x2APIC: MSR 0x800 + offset / 16). */
#define REG_TPR 0x080u
#define REG_LVT_TIMER 0x320u
#define REG_TIMER_INITIAL 0x380u
#define REG_TIMER_CURRENT 0x390u
#define REG_TIMER_DIVIDE 0x3E0u
#define REG_LVT_LINT1 0x360u

#define SVR_ENABLE (1u << 8)
#define LVT_MASKED (1u << 16)
#define TIMER_DIVIDE_BY_16 0x3u
#define DELIVERY_NMI (4u << 8)
#define DELIVERY_INIT (5u << 8)
#define DELIVERY_STARTUP (6u << 8)
#define ICR_SEND_PENDING (1u << 12)
/* Far beyond any real send; only there so that a stuck ICR cannot hang the caller. */
#define ICR_IDLE_POLLS 10000000u
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

bool lapic_present(const char **why)
{
    if (!(cpuid(1, 0).edx & CPUID_1_EDX_APIC)) {
        *why = "CPUID.01H:EDX.APIC is clear: this CPU has no local APIC";
        return false;
    }
    /* Firmware that turned it off globally knows something; do not turn it back on. */
    if (!(rdmsr(MSR_APIC_BASE) & APIC_BASE_ENABLE)) {
        *why = "IA32_APIC_BASE.EN is clear: the firmware disabled the local APIC";
        return false;
    }
    *why = "";
    return true;
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

/*
 * Fill the 512 bytes below the 16-byte-aligned stack pointer (rdi) with a
 * pattern, send the NMI (the instruction between), then poll until the
 * slot where the CPU saves RSP in an interrupt frame holds our RSP. All in
 * one asm statement: nothing else may push below RSP meanwhile.
 */
#define SELF_NMI_FILL                                                                              \
    "movq %%rsp, %%rdi\n\t"                                                                       \
    "andq $-16, %%rdi\n\t"                                                                        \
    "leaq -512(%%rdi), %%r8\n"                                                                     \
    "1:\n\t"                                                                                      \
    "movq %[pattern], (%%r8)\n\t"                                                                 \
    "addq $8, %%r8\n\t"                                                                           \
    "cmpq %%rdi, %%r8\n\t"                                                                        \
    "jb 1b\n\t"
#define SELF_NMI_WAIT                                                                              \
    "movq %[bound], %%r9\n"                                                                        \
    "2:\n\t"                                                                                      \
    "cmpq %%rsp, -16(%%rdi)\n\t"                                                                  \
    "je 3f\n\t"                                                                                   \
    "pause\n\t"                                                                                   \
    "decq %%r9\n\t"                                                                               \
    "jnz 2b\n"                                                                                     \
    "3:\n\t"                                                                                      \
    "movq %%r9, %[left]\n\t"
#define SELF_NMI_PATTERN 0x21214E4F53494F50ull /* "POISON!!" */
#define SELF_NMI_POLLS (1ull << 26)

bool lapic_self_nmi_seen(uint32_t own_apic_id)
{
    uint32_t low = ICR_LEVEL_ASSERT | DELIVERY_NMI; /* physical destination, no shorthand */
    uint64_t left;
    if (x2apic_mode) {
        __asm__ volatile(SELF_NMI_FILL "wrmsr\n\t" SELF_NMI_WAIT
                         : [left] "=r"(left)
                         : [pattern] "r"(SELF_NMI_PATTERN), [bound] "r"(SELF_NMI_POLLS),
                           "c"(0x800u + SMPBOOT_APIC_REG_ICR_LOW / 16), "a"(low),
                           "d"(own_apic_id)
                         : "rdi", "r8", "r9", "memory", "cc");
    } else {
        volatile uint8_t *mmio = ops.ctx;
        __asm__ volatile(SELF_NMI_FILL "movl %[high], (%[icr_high])\n\t"
                                       "movl %[low], (%[icr_low])\n\t" SELF_NMI_WAIT
                         : [left] "=r"(left)
                         : [pattern] "r"(SELF_NMI_PATTERN), [bound] "r"(SELF_NMI_POLLS),
                           [high] "r"(own_apic_id << 24), [low] "r"(low),
                           [icr_high] "r"(mmio + SMPBOOT_APIC_REG_ICR_HIGH),
                           [icr_low] "r"(mmio + SMPBOOT_APIC_REG_ICR_LOW)
                         : "rdi", "r8", "r9", "memory", "cc");
    }
    return left != 0;
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

/* One IPI to `apic_id`; in xAPIC mode, wait (bounded) for the send to finish. */
static bool send_ipi(uint32_t apic_id, uint32_t low)
{
    if (ops.write_icr) {
        ops.write_icr(ops.ctx, ((uint64_t)apic_id << 32) | low);
    } else {
        reg_write(SMPBOOT_APIC_REG_ICR_HIGH, apic_id << 24);
        reg_write(SMPBOOT_APIC_REG_ICR_LOW, low);
    }
    if (x2apic_mode)
        return true; /* x2APIC has no send-pending bit */
    for (uint32_t i = 0; i < ICR_IDLE_POLLS; i++) {
        if (!(reg_read(SMPBOOT_APIC_REG_ICR_LOW) & ICR_SEND_PENDING))
            return true;
        cpu_pause();
    }
    return false;
}

bool lapic_send_init(uint32_t apic_id)
{
    return send_ipi(apic_id, DELIVERY_INIT | ICR_LEVEL_ASSERT);
}

bool lapic_send_startup(uint32_t apic_id, uint8_t vector)
{
    return send_ipi(apic_id, DELIVERY_STARTUP | ICR_LEVEL_ASSERT | vector);
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

uint32_t lapic_timer_count_for(uint32_t us)
{
    uint64_t count = timer_ticks_per_10ms * us / 10000;
    return count > 0xFFFFFFFFull ? 0 : (uint32_t)count;
}

void lapic_timer_start_oneshot(uint32_t count)
{
    reg_write(REG_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    reg_write(REG_LVT_TIMER, VECTOR_TIMER); /* one-shot, unmasked */
    reg_write(REG_TIMER_INITIAL, count);
}

void lapic_timer_stop(void)
{
    reg_write(REG_LVT_TIMER, LVT_MASKED | VECTOR_TIMER);
    reg_write(REG_TIMER_INITIAL, 0);
}
