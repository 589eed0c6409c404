/* PAUSE is unprivileged, so the same spin step serves the kernel and the host tests. */
#include "arch/arch.h"

void smpboot_arch_pause(void)
{
    __builtin_ia32_pause();
}
