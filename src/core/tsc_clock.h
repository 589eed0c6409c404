/* SPDX-License-Identifier: MIT */
/*
 * The portable half of the ready-made TSC clock (clock.h): the measurement
 * loop and the arithmetic. The kernel build's reference readers
 * (src/arch/x86_64/clock_refs.c) feed it; the host tests feed it fakes.
 */
#ifndef SMPBOOT_CORE_TSC_CLOCK_H
#define SMPBOOT_CORE_TSC_CLOCK_H

#include <smpboot/clock.h>

/* A free-running reference counter and the TSC to measure against it. */
struct smpboot_clock_source {
    uint64_t (*read)(const void *ctx);  /* the counter, counting up */
    const void *ctx;
    uint32_t bits;                      /* its width: it wraps at 2^bits */
    uint64_t hz;                        /* its rate */
    uint64_t (*read_tsc)(void);
};

/* Reference reads without progress after which the measurement gives up. */
#define SMPBOOT_CLOCK_SOURCE_STALL_READS (1u << 20)

/*
 * Count the TSC over three rounds of `hz / 60` ticks of the reference
 * (1/60 s each), summing the wrapped differences of consecutive reads, and
 * store the median rate and the conversion in `clock`. SMPBOOT_ERR_CLOCK_STUCK when the reference stands
 * still for SMPBOOT_CLOCK_SOURCE_STALL_READS reads, or the TSC did not
 * move; SMPBOOT_ERR_UNSUPPORTED when the source is unusable (bits outside
 * 8..64, hz outside 1 kHz..10 GHz).
 */
enum smpboot_status smpboot_tsc_clock_measure(struct smpboot_tsc_clock *clock,
                                              const struct smpboot_clock_source *source);

/* ns for `ticks` TSC ticks at the clock's rate (exact to 1 ns in 2^32, no overflow). */
uint64_t smpboot_tsc_clock_ticks_to_ns(const struct smpboot_tsc_clock *clock, uint64_t ticks);

#endif /* SMPBOOT_CORE_TSC_CLOCK_H */
