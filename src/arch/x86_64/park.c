/* SPDX-License-Identifier: MIT */
/* An AP with nothing left to run: no interrupt can wake it into stale code. */
#include "../arch.h"

_Noreturn void smpboot_arch_park(void)
{
    for (;;)
        __asm__ volatile("cli; hlt" ::: "memory");
}
