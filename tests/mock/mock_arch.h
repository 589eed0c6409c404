/* Host stand-in for src/arch: canned control registers, parking ends the thread. */
#ifndef SMPBOOT_TESTS_MOCK_ARCH_H
#define SMPBOOT_TESTS_MOCK_ARCH_H

#include "arch/arch.h"

/* What smpboot_arch_read_cpu_state() reports from now on. */
void mock_arch_set_cpu_state(const struct smpboot_cpu_state *state);
/* How many times smpboot_arch_park() ran (each ended its thread). */
unsigned mock_arch_park_count(void);
void mock_arch_reset(void);

#endif
