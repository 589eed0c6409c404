/* SPDX-License-Identifier: MIT */
/*
 * Bootstrap page tables: used when the kernel's top-level page table lies
 * at or above 4 GiB, where an AP's 32-bit MOV to CR3 cannot reach it.
 */
#ifndef SMPBOOT_TRAMPOLINE_BOOT_TABLES_H
#define SMPBOOT_TRAMPOLINE_BOOT_TABLES_H

#include <stdint.h>

#include "../core/session.h"

#include "../arch/arch.h"
#include "../core/paging.h"

/*
 * Allocate (below 4 GiB) and fill one table per paging level: a top-level
 * table whose upper half (entries 256..511, the kernel's half) is copied
 * from the kernel's, and a chain down to a page table that identity-maps
 * `page` read+exec, supervisor only. 4 levels, or 5 with CR4.LA57.
 * Records the frames in sb->boot_tables_phys/pages as soon as it holds
 * them (smpboot_trampoline_remove() frees them) and stores the top table's
 * address in *boot_cr3. Errors: the host's allocation error;
 * SMPBOOT_ERR_HOST if the host returns frames that break its contract or
 * phys_to_virt() fails.
 */
enum smpboot_status smpboot_boot_tables_build(struct smpboot_session *sb,
                                              const struct smpboot_cpu_state *cpu,
                                              uint64_t page, uint64_t *boot_cr3);

#endif /* SMPBOOT_TRAMPOLINE_BOOT_TABLES_H */
