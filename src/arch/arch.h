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

void smpboot_arch_read_cpu_state(struct smpboot_cpu_state *state);

/* The time-stamp counter (RDTSC is unprivileged unless CR4.TSD). */
uint64_t smpboot_arch_read_tsc(void);

/* One spin-wait step (PAUSE). */
void smpboot_arch_pause(void);

/* Stop this AP for good: interrupts off, HLT loop. */
_Noreturn void smpboot_arch_park(void);

#endif /* SMPBOOT_ARCH_ARCH_H */
