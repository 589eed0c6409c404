/*
 * The kernel's clock: the TSC, calibrated once at boot against the ACPI PM
 * timer or the HPET, else taken at the rate CPUID states, else calibrated
 * against the PIT; scaled to nanoseconds. Readable from any CPU without a
 * lock, which is what libsmpboot's now_ns needs; the TSCs of all CPUs must
 * agree (true under QEMU, and on hardware with an invariant, synchronised TSC).
 */
#ifndef MK_CLOCK_H
#define MK_CLOCK_H

#include <stdint.h>

#include "options.h"

/* Calibrate. Panics when no reference counter works. */
void clock_init(enum clock_choice choice);

/* Nanoseconds since clock_init(); 0 before it. */
uint64_t clock_now_ns(void);

/* Busy-wait (with PAUSE) for at least `ns`. */
void clock_delay_ns(uint64_t ns);

uint64_t clock_tsc_hz(void);

#endif /* MK_CLOCK_H */
