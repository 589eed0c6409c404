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

/*
 * Whether this CPU has a local APIC that is on: CPUID.01H:EDX.APIC, then
 * IA32_APIC_BASE.EN (the MSR only exists when the CPUID bit says so). When
 * it is not, *why says which, and nothing may touch the APIC: its MMIO page
 * would be whatever RAM lies at the address, and the MSR may fault.
 */
bool lapic_present(const char **why);

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

/*
 * entry_delay_ms=: send this CPU an NMI (physical destination: the self
 * shorthand is not valid for NMIs) and wait, bounded, until the CPU has
 * pushed an interrupt frame below the stack pointer. true when it did: the
 * NMI was taken and its handler returned here. Usable on an AP before its
 * kernel setup: it touches only the ICR, which a software-disabled APIC
 * still sends from.
 */
bool lapic_self_nmi_seen(uint32_t own_apic_id);

/*
 * reference=naive-serial (naive.c): one INIT (assert, edge) or one STARTUP
 * IPI with `vector` to `apic_id`, then, in xAPIC mode, wait until the ICR
 * says it was sent. false only when it never does (bounded by a poll count).
 */
bool lapic_send_init(uint32_t apic_id);
bool lapic_send_startup(uint32_t apic_id, uint8_t vector);

bool lapic_ready(void);
uint32_t lapic_current_id(void);
void lapic_eoi(void);

/*
 * The APIC timer, used only to bound an idle CPU's nap (idle.c).
 * Calibrated once on the BSP against the TSC clock; its rate is the same on
 * every CPU.
 */
void lapic_timer_calibrate(void);
/* The initial count for a nap of `us`; 0 when the timer is uncalibrated or it does not fit. */
uint32_t lapic_timer_count_for(uint32_t us);
/* One interrupt after `count` timer ticks (divided by 16). */
void lapic_timer_start_oneshot(uint32_t count);
void lapic_timer_stop(void);

#endif /* MK_LAPIC_H */
