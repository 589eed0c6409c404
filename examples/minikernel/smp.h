/*
 * Bringing up the APs with libsmpboot, and what they do once up.
 *
 * BSP (smp_run)                          each AP (ap_entry)
 *   smpboot_init, add the MADT's CPUs
 *   smpboot_start   ---- timed ---->       load GDT/TSS/IDT, smpboot_ap_ready,
 *                                          enable APIC, wait at `announce`
 *   smpboot_wait_ready, smpboot_finish
 *   open `announce`, wake the APs          record that it passed `announce`
 *   wait at `checkin` (barrier)            arrive at `checkin` (no wait)
 *   print "smpboot: cpu I apic A online"
 *     for each AP that passed `announce`
 *   open `proceed`, wake the APs           wait at `proceed`, then park
 *   print the summary, power off
 *
 * With rounds=N the BSP then takes every AP offline (smpboot_offline) and
 * starts them again, N times in all; the summary describes the last round.
 *
 * The APs print nothing (but errors): the BSP prints every line, in order,
 * from what they recorded, so nothing is printed inside the timed region and
 * hundreds of CPUs never queue on the console. smpboot_wait_ready() returns once every AP runs
 * on its own tables (config.ready_timeout_ns); the barrier only tells the
 * summary that every AP went through every step.
 */
#ifndef MK_SMP_H
#define MK_SMP_H

#include <stdint.h>

#include <smpboot/smpboot.h>

#include "options.h"
#include "percpu.h"
#include "security.h"
#include "topology.h"

struct smp_shared {
    struct smpboot session;
    struct smpboot_gate announce;
    struct smpboot_barrier checkin;
    uint32_t checkin_arrivals[MAX_CPUS];
    struct smpboot_gate proceed;
    uint64_t ap_wait_ns;     /* bound on each AP-side wait */
    enum fault_choice fault; /* a failure to stage on CPU 1, for the tests */
    uint32_t rounds;         /* bring-ups in all (rounds=N) */
    uint32_t round;          /* the current one, 1-based; read by APs after `announce` */
    bool stacks_in_window;   /* config.stack_window set: libsmpboot maps the stacks */
    uint32_t aps_finished;   /* APs that went through every step; atomic */
    /* The round in which each CPU passed `announce`: the BSP prints its line from this. */
    uint32_t announced_round[MAX_CPUS];
    /* Entries into ap_entry this round, by CPU index: "no stray CPU" is 1 per online AP. */
    uint32_t entry_runs[MAX_CPUS];
    /* check_security=1: each AP's control registers, read first thing in its entry. */
    bool check_security;
    struct control_state ap_control[MAX_CPUS];
    /*
     * entry_delay_ms=: how long each AP's entry waits on libsmpboot's tables,
     * the flag the BSP sets once smpboot_finish() has freed (and poisoned)
     * the trampoline page, and the APs that then took their self-NMI.
     */
    uint64_t entry_delay_ns;
    bool trampoline_gone;
    uint32_t delayed_entries_survived;
};

_Noreturn void smp_run(const struct options *options, const struct topology *topology,
                       enum smpboot_apic_mode apic_mode, const struct smpboot_apic_ops *apic);

/* The entry libsmpboot calls on each AP (config.entry). */
void ap_entry(struct smpboot_cpu *cpu);

#endif /* MK_SMP_H */
