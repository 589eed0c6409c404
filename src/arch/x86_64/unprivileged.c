/* SPDX-License-Identifier: MIT */
/* PAUSE and RDTSC are unprivileged: the same code serves the kernel and the host tests. */
#include "../arch.h"

void smpboot_arch_pause(void)
{
    __builtin_ia32_pause();
}

uint64_t smpboot_arch_read_tsc(void)
{
    return __builtin_ia32_rdtsc();
}
