/* SPDX-License-Identifier: MIT */
/*
 * CPUID, interrupt masking, fences, the NMI-only IDT and INVLPG: kernel
 * build only (CLI, LIDT and INVLPG are privileged; the host tests link
 * tests/mock/mock_arch.c instead).
 */
#include "../arch.h"

#define RFLAGS_IF (1ull << 9)
#define GATE_INTERRUPT_PRESENT 0x8E00u  /* P=1, DPL=0, type 0xE (64-bit interrupt gate) */
#define NMI_VECTOR 2

/*
 * The NMI handler of the library's IDT. An NMI that reaches an AP before its
 * entry loaded an IDT (smpboot_nmi_others() in a panic, a watchdog) is
 * dropped: the AP carries on. Plain top-level assembly, so no prologue
 * touches the stack frame that IRETQ pops.
 */
__asm__(".pushsection .text\n"
        ".balign 16\n"
        "smpboot_arch_nmi_return:\n"
        "    iretq\n"
        ".popsection\n");
extern const char smpboot_arch_nmi_return[];

void smpboot_arch_cpuid(uint32_t leaf, uint32_t regs[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3])
                     : "a"(leaf), "c"(0u));
}

uint64_t smpboot_arch_irq_save(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
    return flags;
}

void smpboot_arch_irq_restore(uint64_t saved)
{
    if (saved & RFLAGS_IF)
        __asm__ volatile("sti" ::: "memory");
}

void smpboot_arch_store_fence(void)
{
    __asm__ volatile("mfence; lfence" ::: "memory");
}

void smpboot_arch_build_nmi_idt(uint64_t idt[6])
{
    uint64_t handler = (uint64_t)(uintptr_t)smpboot_arch_nmi_return;
    for (int i = 0; i < 6; i++)
        idt[i] = 0;  /* vectors 0 and 1 not present: as fatal as no IDT */
    idt[2 * NMI_VECTOR] = (handler & 0xFFFFu) | ((uint64_t)SMPBOOT_ARCH_CODE64_SELECTOR << 16)
                          | ((uint64_t)GATE_INTERRUPT_PRESENT << 32)
                          | ((handler >> 16) & 0xFFFFu) << 48;
    idt[2 * NMI_VECTOR + 1] = handler >> 32;
}

void smpboot_arch_load_nmi_idt(const uint64_t idt[6])
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr = {(uint16_t)(6 * sizeof(uint64_t) - 1), (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

void smpboot_arch_invlpg(uint64_t virt)
{
    __asm__ volatile("invlpg (%0)" : : "r"(virt) : "memory");
}
