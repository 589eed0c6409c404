/*
 * A fixed-frequency hardware counter to calibrate the TSC against: the ACPI
 * PM timer or the HPET, and the PIT only when neither exists (hardware-
 * reduced ACPI, no ACPI at all): its count is the least reliable under
 * QEMU's TCG on a busy host.
 */
#ifndef MK_REFCLOCK_H
#define MK_REFCLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct refclock {
    const char *name;
    uint64_t hz;
    uint64_t mask;             /* the counter wraps from mask to 0 */
    uint64_t (*read)(void);
    char detail[48];           /* where it is, for the boot log */
};

/* The ACPI PM timer named by the FADT (3.579545 MHz, 24 or 32 bits). */
bool pmtimer_probe(struct refclock *out);

/* The HPET main counter named by the ACPI HPET table; enables it if needed. */
bool hpet_probe(struct refclock *out);

/* The 8254 PIT, channel 0 (1.193182 MHz, 16 bits). */
bool pit_probe(struct refclock *out);

#endif /* MK_REFCLOCK_H */
