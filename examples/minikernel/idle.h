/*
 * How a CPU waits. Under QEMU's TCG each vCPU is a host thread, and with
 * more vCPUs than host cores a spinning vCPU takes time from the one that
 * does the work. So a waiting CPU halts until an interrupt: its APIC timer
 * ticks every IDLE_TICK_US to bound the nap, and a wake-up IPI cuts it short.
 * A CPU without a running timer falls back to PAUSE.
 */
#ifndef MK_IDLE_H
#define MK_IDLE_H

#include <smpboot/barrier.h>

#define IDLE_TICK_US 1000u

/* Start / stop this CPU's wake-up tick. */
void idle_begin(void);
void idle_end(void);

/* A waiter for smpboot barriers and gates: clock_now_ns() and the nap above. */
struct smpboot_waiter idle_waiter(void);

#endif /* MK_IDLE_H */
