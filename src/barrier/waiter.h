/* SPDX-License-Identifier: MIT */
/*
 * The bounded spin shared by the barrier and the gate: one place decides
 * how a waiter idles and when its time is up.
 */
#ifndef SMPBOOT_BARRIER_WAITER_H
#define SMPBOOT_BARRIER_WAITER_H

#include <stdbool.h>
#include <stdint.h>

#include "../arch/arch.h"
#include "smpboot/barrier.h"

/* When a wait started; the clock is not read at all for SMPBOOT_WAIT_FOREVER. */
struct smpboot_wait_clock {
    uint64_t start_ns;
    uint64_t timeout_ns;
};

static inline struct smpboot_wait_clock
smpboot_wait_clock_start(const struct smpboot_waiter *waiter, uint64_t timeout_ns)
{
    struct smpboot_wait_clock clock = { .start_ns = 0, .timeout_ns = timeout_ns };

    if (timeout_ns != SMPBOOT_WAIT_FOREVER)
        clock.start_ns = waiter->now_ns(waiter->ctx);
    return clock;
}

/*
 * Elapsed time is compared rather than a deadline computed, so no timeout
 * value can overflow start + timeout.
 */
static inline bool smpboot_wait_clock_expired(const struct smpboot_waiter *waiter,
                                              const struct smpboot_wait_clock *clock)
{
    if (clock->timeout_ns == SMPBOOT_WAIT_FOREVER)
        return false;
    return waiter->now_ns(waiter->ctx) - clock->start_ns >= clock->timeout_ns;
}

#endif /* SMPBOOT_BARRIER_WAITER_H */
