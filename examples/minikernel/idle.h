/*
 * How a CPU waits. Under QEMU's TCG each vCPU is a host thread, and with
 * more vCPUs than host cores a spinning vCPU takes time from the one that
 * does the work. So a waiting CPU halts until an interrupt: whoever ends
 * the wait (the BSP opening a gate) sends a wake-up IPI, and a one-shot
 * APIC timer bounds each nap in case none comes, so that every wait still
 * ends at its deadline. There is no periodic tick: with 254 APs waiting, a
 * 1 kHz tick on each is 254 000 interrupts a second for the host to
 * emulate. A CPU without a calibrated timer falls back to PAUSE.
 */
#ifndef MK_IDLE_H
#define MK_IDLE_H

#include <stdint.h>

#include <smpboot/barrier.h>

/* An AP is woken by IPI; its nap bound only matters if one is lost. */
#define IDLE_AP_NAP_US 100000u
/* The BSP waits for counters the APs bump without waking it, so it looks often. */
#define IDLE_BSP_NAP_US 1000u

/* Let this CPU halt in waits, each nap at most nap_us; idle_end() goes back to PAUSE. */
void idle_begin(uint32_t nap_us);
void idle_end(void);

/* A waiter for smpboot barriers and gates: clock_now_ns() and the nap above. */
struct smpboot_waiter idle_waiter(void);

#endif /* MK_IDLE_H */
