/* SPDX-License-Identifier: MIT */
/*
 * libsmpboot: ready-made local-APIC access for the kernel build.
 *
 * A kernel that needs nothing special fills host.apic with one of these
 * instead of writing APIC code.
 */
#ifndef SMPBOOT_APIC_H
#define SMPBOOT_APIC_H

#include "host.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * xAPIC through MMIO. mmio is the kernel's virtual address of the local
 * APIC's 4 KiB register page (physical 0xFEE00000 unless relocated; map it
 * uncached). Its write_icr disables interrupts around the ICR_HIGH/ICR_LOW
 * pair and restores them after (ring 0; the host tests' build substitutes
 * the masking).
 */
void smpboot_apic_use_xapic(struct smpboot_apic_ops *ops, volatile void *mmio);

/*
 * x2APIC through MSRs 0x800-0x8FF. The calling CPU must already be in x2APIC
 * mode (IA32_APIC_BASE.EXTD set). Kernel build only: RDMSR/WRMSR are
 * privileged.
 */
void smpboot_apic_use_x2apic(struct smpboot_apic_ops *ops);

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_APIC_H */
