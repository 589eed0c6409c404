/* SPDX-License-Identifier: MIT */
/*
 * The trampoline: the real-mode blob (asm/trampoline.asm) and the code that
 * installs it in a page below 1 MiB and takes it away again.
 */
#ifndef SMPBOOT_TRAMPOLINE_TRAMPOLINE_H
#define SMPBOOT_TRAMPOLINE_TRAMPOLINE_H

#include <stdint.h>

#include "../core/session.h"

/*
 * Needs sb->slots_phys/slots/cpu_count set (slot table built). Allocates the
 * trampoline page (below 0xA0000, checked: a usable SIPI page), or takes
 * config.trampoline_page, which it never frees, and, when the
 * kernel's CR3 is at or above 4 GiB, bootstrap page tables below 4 GiB;
 * writes the blob and its parameters (a fixed CR0, the BSP's CR4 bits in
 * the allowlist, its EFER/PAT/CR3, the library's permanent GDT, slot table,
 * arrival counter, x2APIC flag, smpboot_ap_main), storing only the words
 * that differ from what the page holds, and identity-maps the page read+exec
 * through host.map. Sets sb->tramp_*, sb->boot_tables_*. On failure releases
 * everything it took and returns the host's error. Own errors:
 * SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE (the page is not a usable SIPI page),
 * SMPBOOT_ERR_BAD_STATE (installed already, or no slot table),
 * SMPBOOT_ERR_INVALID_ARGUMENT (slot table reaching past 4 GiB),
 * SMPBOOT_ERR_UNSUPPORTED (BSP not in long
 * mode), SMPBOOT_ERR_HOST (phys_to_virt failed, or frames off limits).
 * Layout and step-by-step walk: docs/trampoline.md.
 */
enum smpboot_status smpboot_trampoline_install(struct smpboot_session *sb);

/*
 * Disarm the page and put the blob's own parameters back (docs/trampoline.md,
 * "After finish"), unmap it, free the page and the
 * bootstrap tables. Safe to call when nothing is installed.
 */
void smpboot_trampoline_remove(struct smpboot_session *sb);

/* The SIPI vector: the page number of the trampoline page. */
uint8_t smpboot_trampoline_sipi_vector(const struct smpboot_session *sb);

/* smpboot_trampoline_entries() (smpboot.h) reads the arrival counter after the slot table. */

#endif /* SMPBOOT_TRAMPOLINE_TRAMPOLINE_H */
