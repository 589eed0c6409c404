/* SPDX-License-Identifier: MIT */
/*
 * libsmpboot: a ready-made host.now_ns for the kernel build: the TSC,
 * calibrated once on the BSP against a reference clock the kernel names.
 *
 * It reads only the TSC and its own calibration, so it is safe on an AP
 * before the kernel's entry (host.h): no lock, no interrupt, no IDT. It
 * needs a TSC that runs at a constant rate in every power state and is in
 * step across CPUs (CPUID.80000007H:EDX[8], "invariant TSC", as on every
 * x86_64 CPU of the last decade and under KVM); on other CPUs, use a clock
 * of your own.
 */
#ifndef SMPBOOT_CLOCK_H
#define SMPBOOT_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "host.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Use, on the BSP, before smpboot_init() (which copies the host):
 *
 *   static struct smpboot_tsc_clock clock;
 *   smpboot_tsc_clock_calibrate_pm_timer(&clock, port, wide);   // or _hpet, _pit
 *   smpboot_tsc_clock_use(&host, &clock);
 *
 * The library does not parse ACPI: the kernel finds the reference (FADT,
 * HPET table) and names it. Checking for an invariant TSC is the kernel's
 * too. A calibration that fails returns after at most 2^20 reads of a
 * reference that did not move. Nothing of the reference (port, mapping) is
 * used after the calibration returns.
 */

/* Words of storage in struct smpboot_tsc_clock. */
#define SMPBOOT_TSC_CLOCK_WORDS 4

/* The calibration: storage only, kept (unmoved) as long as host.now_ns uses it. */
struct smpboot_tsc_clock {
    uint64_t opaque[SMPBOOT_TSC_CLOCK_WORDS];
};

/*
 * Each measures the TSC over three rounds of 1/60 s of the reference (the
 * median wins, so one round stretched by an SMI or a preempted vCPU does
 * not count) on the calling CPU,
 * with interrupts as the caller has them (keep them off for an exact
 * figure). SMPBOOT_OK, SMPBOOT_ERR_INVALID_ARGUMENT, SMPBOOT_ERR_UNSUPPORTED
 * (the reference reports an impossible rate), or SMPBOOT_ERR_CLOCK_STUCK
 * (the reference or the TSC did not advance: a wrong port or address).
 */

/*
 * The ACPI PM timer (3.579545 MHz) at I/O port `port`: the FADT's
 * X_PM_TMR_BLK when it is nonzero and in I/O space, else PM_TMR_BLK. `wide`: the FADT's
 * TMR_VAL_EXT flag (a 32-bit counter; else 24 bits).
 */
enum smpboot_status smpboot_tsc_clock_calibrate_pm_timer(struct smpboot_tsc_clock *clock,
                                                         uint16_t port, bool wide);

/*
 * The HPET whose 1 KiB register block the kernel mapped (uncached) at
 * `mmio` (the ACPI HPET table's base address). The main counter is
 * started (general configuration ENABLE_CNF) if it was stopped; nothing
 * else is changed.
 */
enum smpboot_status smpboot_tsc_clock_calibrate_hpet(struct smpboot_tsc_clock *clock,
                                                     volatile void *mmio);

/*
 * The legacy PIT's channel 2 (1.193182 MHz; ports 0x42, 0x43, and the gate
 * in port 0x61, whose speaker bit is left off). For machines without ACPI
 * timers; channel 2 is left counting, with its gate (port 0x61 bit 0) set.
 */
enum smpboot_status smpboot_tsc_clock_calibrate_pit(struct smpboot_tsc_clock *clock);

/* The calibrated TSC rate in Hz (0 before a successful calibration). */
uint64_t smpboot_tsc_clock_hz(const struct smpboot_tsc_clock *clock);

/*
 * A host.now_ns: nanoseconds since the calibration. Its argument is the
 * clock: smpboot_tsc_clock_use() sets host.now_ns and host.clock_ctx.
 */
uint64_t smpboot_tsc_clock_now_ns(void *clock);

/* host->now_ns = smpboot_tsc_clock_now_ns, host->clock_ctx = clock. */
void smpboot_tsc_clock_use(struct smpboot_host *host, struct smpboot_tsc_clock *clock);

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_CLOCK_H */
