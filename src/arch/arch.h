/* SPDX-License-Identifier: MIT */
/*
 * What the library needs from the CPU it runs on, beyond the host callbacks.
 * The kernel build implements it in src/arch/x86_64/; the host (unit test)
 * build links tests/mock/mock_arch.c instead, which is why these are plain
 * functions rather than inline assembly in the callers.
 */
#ifndef SMPBOOT_ARCH_ARCH_H
#define SMPBOOT_ARCH_ARCH_H

#include <stdint.h>

/* The BSP control state every AP must get. */
struct smpboot_cpu_state {
    uint64_t cr0;
    uint64_t cr3;
    uint64_t cr4;
    uint64_t efer;
    uint64_t pat;
};

#define SMPBOOT_CR4_LA57 (1ull << 12)

/* The 64-bit code selector of the library's GDT (and of the trampoline's). */
#define SMPBOOT_ARCH_CODE64_SELECTOR 0x08u

void smpboot_arch_read_cpu_state(struct smpboot_cpu_state *state);

/* The time-stamp counter (RDTSC is unprivileged unless CR4.TSD). */
uint64_t smpboot_arch_read_tsc(void);

/* One spin-wait step (PAUSE). */
void smpboot_arch_pause(void);

/* One step of every library wait: the kernel's relax callback when it gave one, else PAUSE. */
static inline void smpboot_arch_relax(void (*relax)(void *ctx), void *ctx)
{
    if (relax)
        relax(ctx);
    else
        smpboot_arch_pause();
}

/* Stop this AP for good: interrupts off, HLT loop. */
_Noreturn void smpboot_arch_park(void);

/* CPUID leaf `leaf`, subleaf 0: regs = {EAX, EBX, ECX, EDX}. */
void smpboot_arch_cpuid(uint32_t leaf, uint32_t regs[4]);

/* CPUID.01H:EDX.APIC: the CPU has a local APIC (clear too while IA32_APIC_BASE.EN is). */
#define SMPBOOT_CPUID1_EDX_APIC (1u << 9)
/* IA32_APIC_BASE.EN: the local APIC is globally enabled. */
#define SMPBOOT_APIC_BASE_ENABLE (1ull << 11)

/* IA32_APIC_BASE (MSR 0x1B). Only read when CPUID says the CPU has a local APIC. */
uint64_t smpboot_arch_read_apic_base(void);

/* Disable interrupts on this CPU; returns what smpboot_arch_irq_restore() needs. */
uint64_t smpboot_arch_irq_save(void);
/* Re-enable interrupts if they were on at the matching save. */
void smpboot_arch_irq_restore(uint64_t saved);

/* Make every earlier store visible before a following WRMSR (mfence; lfence). */
void smpboot_arch_store_fence(void);

/*
 * Fill `idt` (3 gates, 48 bytes) with an interrupt gate for vector 2 only,
 * to a handler that just returns (IRETQ), code selector
 * SMPBOOT_ARCH_CODE64_SELECTOR. Called on the BSP.
 */
void smpboot_arch_build_nmi_idt(uint64_t idt[6]);
/* LIDT that table on the calling CPU. */
void smpboot_arch_load_nmi_idt(const uint64_t idt[6]);

/* Drop this CPU's translation of one virtual address (INVLPG). */
void smpboot_arch_invlpg(uint64_t virt);

#endif /* SMPBOOT_ARCH_ARCH_H */
