/* SPDX-License-Identifier: MIT */
/* Reading the BSP's control registers: ring 0 only, hence kernel build only. */
#include "../arch.h"

#define MSR_EFER 0xC0000080u
#define MSR_PAT 0x00000277u
#define MSR_APIC_BASE 0x0000001Bu

static uint64_t read_msr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

uint64_t smpboot_arch_read_apic_base(void)
{
    return read_msr(MSR_APIC_BASE);
}

void smpboot_arch_read_cpu_state(struct smpboot_cpu_state *state)
{
    __asm__ volatile("mov %%cr0, %0" : "=r"(state->cr0));
    __asm__ volatile("mov %%cr3, %0" : "=r"(state->cr3));
    __asm__ volatile("mov %%cr4, %0" : "=r"(state->cr4));
    state->efer = read_msr(MSR_EFER);
    state->pat = read_msr(MSR_PAT);
}
