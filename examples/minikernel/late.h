/*
 * APs that must leave no trace: late ones (late_aps=1) and ones that never
 * answer (extra_apic=). With poisoning on (host.h), the stacks of every AP
 * that did not come online are watched from smpboot_start() to the moment
 * smpboot_finish() frees them, after its INIT: they must come back
 * untouched.
 *
 * late_aps=1 makes every AP late for real: a first bring-up gives each AP
 * 1 us to answer one SIPI, with no INIT delay and no retry, so the BSP has
 * given up before any AP reaches its slot. The APs still run the
 * trampoline, lose the compare-and-swap and park. Then:
 *   (a) each AP's result is TIMED_OUT;
 *   (b) smpboot_trampoline_entries() counts one entry per AP: they were
 *       late, not absent;
 *   (c) their stacks come back from smpboot_finish() untouched;
 *   (d) the kernel's entry never ran on them;
 * and smp.c then brings them up normally in a new session, checking that
 * the entry runs exactly once on each (no stray CPU).
 */
#ifndef MK_LATE_H
#define MK_LATE_H

#include <stddef.h>
#include <stdint.h>

#include <smpboot/smpboot.h>

/* The late profile: 1 us to answer one SIPI, no INIT delay, no SDM retry. */
void late_config(struct smpboot_config *config);

/*
 * Register the stacks of every AP that is not online (main and extra,
 * through the page tables, so the stack window works too) as ranges that
 * must come back untouched. Call between smpboot_start() and
 * smpboot_finish(); the number registered.
 */
uint32_t late_watch_unused_stacks(struct smpboot *sb, size_t extra_stack_size);

/* After smpboot_finish(): print what came back; the number of problems. */
uint32_t late_report_unused_stacks(void);

/*
 * late_aps=1: sb is initialised with late_config() and has its CPUs added.
 * Start, check (a), (b) and (d), finish, check (c). entry_runs counts the
 * kernel's entries by CPU index. Every problem is printed as an error; the
 * number of problems.
 */
uint32_t late_run(struct smpboot *sb, const uint32_t *entry_runs, uint32_t entry_slots,
                  size_t extra_stack_size);

#endif /* MK_LATE_H */
