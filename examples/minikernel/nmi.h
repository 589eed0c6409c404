/*
 * NMIs. Once a CPU runs on the kernel's IDT an NMI is harmless here: the
 * handler counts it per CPU and returns. From smpboot_ap_main() to the
 * kernel's IDT, libsmpboot's NMI-only IDT survives one (uncounted). Earlier
 * in the trampoline the IDT is empty, so an NMI there shuts the AP down (on
 * QEMU: resets or stops the machine); fault=nmi_during_bringup aims NMIs at
 * that whole window.
 */
#ifndef MK_NMI_H
#define MK_NMI_H

#include <stdbool.h>
#include <stdint.h>

/* From the NMI handler: one more NMI on this CPU. Lock-free, prints nothing. */
void nmi_record(void);

/* NMIs taken by the CPU with this logical index so far. */
uint64_t nmi_count(uint32_t index);

/* Print the counts (nothing when there were none and `always` is false). */
void nmi_report(uint32_t cpu_count, bool always);

/*
 * fault=nmi_during_bringup: a host.relax for libsmpboot that, on the BSP,
 * broadcasts an NMI to all other CPUs every NMI_BROADCAST_PERIOD_US while
 * libsmpboot waits, as a panic or NMI-watchdog path of a kernel would.
 * On other CPUs it only pauses.
 */
#define NMI_BROADCAST_PERIOD_US 20u
void nmi_broadcast_setup(uint32_t bsp_apic_id);
void nmi_broadcast_relax(void *ctx);
uint64_t nmi_broadcasts_sent(void);

#endif /* MK_NMI_H */
