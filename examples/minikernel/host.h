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

/*
 * Poisoning, for late_aps= and extra_apic=: while on, every frame handed to
 * libsmpboot is filled with a pattern. A range registered with
 * host_watch_untouched() (the stack of an AP that must never have run) is
 * checked when libsmpboot frees it: a byte off the pattern is reported as
 * an error. false when poisoning is off or the table is full.
 */
void host_poison_frames(bool on);
bool host_watch_untouched(uint64_t phys, uint64_t pages);

struct host_watch_report {
    uint32_t watched;          /* ranges registered */
    uint32_t freed_untouched;  /* freed with the pattern whole */
    uint32_t freed_touched;    /* freed with the pattern broken (each one reported) */
    uint32_t still_held;       /* not freed yet */
};
struct host_watch_report host_watch_results(void);

/*
 * entry_delay_ms=: every frame libsmpboot frees is filled with the same
 * pattern before it goes back to the allocator, so a CPU still reading a
 * freed frame (the trampoline page's GDT) reads garbage instead of the old
 * contents.
 */
void host_poison_freed_frames(bool on);

/* The last frame libsmpboot asked for below 1 MiB: its trampoline page (0 if none). */
uint64_t host_low_page(void);

/*
 * Note the slot table's address during the next smpboot_start(), and where
 * the kernel keeps it: the physical address of a u64 that holds the table's
 * physical address while it exists, 0 otherwise (postmortem=1).
 */
void host_note_slot_table(void);
uint64_t host_slot_table_holder(void);

/*
 * fault=stack_unmapped: map() calls for `pages` pages starting inside
 * [start, end) succeed but map nothing.
 */
void host_skip_map(uint64_t start, uint64_t end, uint64_t pages);
uint32_t host_maps_skipped(void);

#endif /* MK_HOST_H */
