/*
 * The local APIC, in xAPIC (MMIO) or x2APIC (MSR) mode. Register access goes
 * through the smpboot_apic_ops that libsmpboot's apic.h fills in, so the
 * kernel and the library use the very same code on every CPU.
 */
#ifndef MK_LAPIC_H
#define MK_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include <smpboot/config.h>
#include <smpboot/host.h>

/* CPUID.1:ECX[21]. */
bool lapic_x2apic_supported(void);

/* IA32_APIC_BASE.EXTD: firmware may have left the BSP in x2APIC mode already. */
bool lapic_x2apic_enabled(void);

/*
 * On the BSP: switch to `mode` (x2APIC: set EXTD; xAPIC: map the register
 * page uncached), software-enable the APIC and fill *ops for libsmpboot.
 * expected_phys is the MADT's address, checked against IA32_APIC_BASE.
 */
void lapic_init_bsp(enum smpboot_apic_mode mode, uint64_t expected_phys,
                    struct smpboot_apic_ops *ops);

/* On an AP: INIT left its APIC software-disabled; enable it to take interrupts. */
void lapic_enable_this_cpu(void);

/*
 * Program LINT1 as an unmasked NMI input, as firmware does on the BSP. INIT
 * masks it again, which is why an NMI from the platform (QEMU's `nmi`
 * monitor command goes through LINT1) cannot reach an AP that was started
 * or taken offline with INIT until its kernel code runs this.
 */
void lapic_route_nmi(void);

/* An NMI to every other CPU (the all-excluding-self shorthand), as a panic path sends. */
void lapic_broadcast_nmi(void);

bool lapic_ready(void);
uint32_t lapic_current_id(void);
void lapic_eoi(void);

/*
 * The APIC timer, used only to wake idle CPUs. Calibrated once on the BSP
 * against the TSC clock; its rate is the same on every CPU.
 */
void lapic_timer_calibrate(void);
/* false when the timer could not be calibrated: callers then idle with PAUSE. */
bool lapic_timer_start_periodic(uint32_t period_us);
void lapic_timer_stop(void);

#endif /* MK_LAPIC_H */
