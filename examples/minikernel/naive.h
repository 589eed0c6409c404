/*
 * REFERENCE, NOT A FEATURE: reference=naive-serial.
 *
 * What many hobby kernels do to start their APs, written without
 * libsmpboot so that the benchmark can compare the library against it: one
 * AP at a time, INIT, STARTUP, STARTUP back to back (no INIT delay, no
 * wait between the SIPIs, no retry), through the kernel's own local-APIC
 * code (lapic.c) and its own small trampoline (naive_trampoline.S), then
 * a spin on that AP's flag. The only bound is a generous one (10 s per AP)
 * so that a test cannot hang: an AP that misses it is sent INIT (so it
 * cannot run later on the next AP's stack) and reported as failed.
 *
 * The AP reaches 64-bit mode on the kernel's page tables and its own
 * stack, calls naive_ap_arrived(), which stamps the time and sets its flag,
 * and halts with interrupts off. That is the point at which libsmpboot's AP
 * goes ONLINE, which is where the library's bringup_us ends; the library's
 * AP then runs the kernel's entry and also halts (idle.c). bringup_us here
 * runs from the first INIT to the last AP's stamp.
 *
 * It prints the contract's round, per-CPU and summary lines (mode=serial),
 * and works with bench=R: between rounds every AP is sent INIT, back to
 * wait-for-SIPI, as smpboot_offline() does, outside the timed interval.
 */
#ifndef MK_NAIVE_H
#define MK_NAIVE_H

#include <smpboot/config.h>

#include "options.h"
#include "topology.h"

_Noreturn void naive_serial_run(const struct options *options, const struct topology *topology,
                                enum smpboot_apic_mode apic_mode);

#endif /* MK_NAIVE_H */
