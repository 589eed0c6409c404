/*
 * The minikernel's side of libsmpboot's contract (struct smpboot_host): frames
 * from frames.c, mappings from paging.c, time from clock.c, log lines to the
 * console. It also checks the contract from our side: every free must match
 * an earlier allocation exactly, every unmap an earlier map, and after
 * smpboot_finish() only the stacks of online APs may still be held (and,
 * with a stack window, mapped).
 */
#ifndef MK_HOST_H
#define MK_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include <smpboot/host.h>

void host_build(struct smpboot_host *host, const struct smpboot_apic_ops *apic);

/*
 * While deferred, libsmpboot's log lines are kept in a buffer instead of
 * printed, so no serial output falls inside the timed bring-up.
 */
void host_defer_log(bool defer);
void host_flush_log(void);

/*
 * Frames libsmpboot holds right now, pages it has mapped through host.map,
 * and host contract violations seen so far. Each free must give back one
 * earlier allocation whole, each unmap undo one earlier map exactly.
 */
uint64_t host_pages_held(void);
uint64_t host_pages_mapped(void);
uint32_t host_contract_errors(void);

#endif /* MK_HOST_H */
