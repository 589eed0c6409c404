/*
 * libsmpboot: bring up the application processors of an x86_64 machine.
 *
 * The umbrella header. The sequence, all on the BSP:
 *
 *   struct smpboot sb;
 *   static struct smpboot_cpu cpus[MAX_CPUS];
 *   smpboot_init(&sb, &host, &config, cpus, MAX_CPUS);   // records the BSP
 *   smpboot_add_cpu(&sb, apic_id);                        // for each CPU, any order
 *   smpboot_start(&sb);                                   // INIT-SIPI-SIPI, bounded
 *   ... inspect smpboot_cpu_get(&sb, i)->result ...
 *   smpboot_finish(&sb);                                  // give back what was borrowed
 *
 * The kernel links libsmpboot.a and must provide memcpy, memset, memmove and
 * memcmp (the compiler may emit calls to them); the library calls nothing else.
 */
#ifndef SMPBOOT_SMPBOOT_H
#define SMPBOOT_SMPBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "barrier.h"
#include "config.h"
#include "cpu.h"
#include "host.h"
#include "madt.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMPBOOT_VERSION_MAJOR 0
#define SMPBOOT_VERSION_MINOR 1

/*
 * One bring-up session. The kernel provides the storage and must keep it
 * alive (and unmoved) as long as it uses the CPU table or the IPI helpers.
 * Every field is private to the library.
 */
struct smpboot {
    struct smpboot_host host;
    struct smpboot_config config;
    struct smpboot_cpu *cpus;
    uint32_t cpu_capacity;
    uint32_t cpu_count;
    uint32_t bsp_apic_id;
    uint32_t phase;           /* enum smpboot_phase (src/core/session.h) */

    /* Slot table shared with the trampoline: below 4 GiB. */
    uint64_t slots_phys;
    size_t slots_pages;
    void *slots;

    /* The trampoline page (below 1 MiB) and the bootstrap page tables. */
    uint64_t tramp_phys;
    void *tramp_virt;
    bool tramp_mapped;
    uint64_t boot_tables_phys;
    size_t boot_tables_pages;

    /* Bring-up timing, host clock. */
    uint64_t start_ns;
    uint64_t all_online_ns;
};

/*
 * Check host and config, read the BSP's APIC ID from its own local APIC and
 * enter it as CPU 0 in `cpus` (capacity >= 1 entries). Nothing is allocated.
 * Errors: SMPBOOT_ERR_INVALID_ARGUMENT, SMPBOOT_ERR_MISSING_CALLBACK,
 * SMPBOOT_ERR_BAD_CONFIG.
 */
enum smpboot_status smpboot_init(struct smpboot *sb, const struct smpboot_host *host,
                                 const struct smpboot_config *config,
                                 struct smpboot_cpu *cpus, uint32_t capacity);

/*
 * Add a CPU by APIC ID, in any order, before smpboot_start(). Adding the BSP's
 * ID or an ID already present is not an error. Errors: SMPBOOT_ERR_TABLE_FULL,
 * SMPBOOT_ERR_BAD_STATE (after start), SMPBOOT_ERR_INVALID_ARGUMENT.
 */
enum smpboot_status smpboot_add_cpu(struct smpboot *sb, uint32_t apic_id);

/*
 * Start every added AP. Returns when each is online or has failed, never
 * later than the configured bounds. After smpboot_finish(), it may be called
 * again to restart the CPUs taken offline with smpboot_offline() (only those). SMPBOOT_OK when all came online;
 * SMPBOOT_ERR_PARTIAL when some did not (see each CPU's result);
 * SMPBOOT_ERR_BAD_STATE when called twice (or after finish with no CPU offline); SMPBOOT_ERR_NOT_BSP from an AP;
 * a host callback's error (everything already allocated is then released);
 * SMPBOOT_ERR_IPI_BUSY when the ICR stayed busy (the rest are skipped).
 */
enum smpboot_status smpboot_start(struct smpboot *sb);

/*
 * After smpboot_start(): send INIT to every AP that did not come online (so
 * none can run late), overwrite the trampoline with a halt loop, remove the
 * identity mapping and free the trampoline page, the slot table, the
 * bootstrap tables and the stacks of the APs that are not online. The stacks
 * of online APs stay theirs. If an INIT cannot be sent, that AP's stack, the
 * trampoline page and the slot table are kept (leaked, never handed back
 * under a CPU that may still use them) and the IPI's error is returned.
 * Idempotent.
 */
enum smpboot_status smpboot_finish(struct smpboot *sb);

/*
 * Take one online AP offline: send it INIT (back to wait-for-SIPI) and free
 * its stacks. For CPU hotplug, suspend, kexec, or measuring bring-up again.
 * INIT stops the AP wherever it is, so the kernel must first bring it to a
 * standstill (e.g. interrupts off in a HLT loop, holding no lock). Only after
 * smpboot_finish(), only on the BSP. The CPU's result becomes
 * SMPBOOT_CPU_OFFLINE; a later smpboot_start() starts the offline CPUs again.
 * Errors: SMPBOOT_ERR_BAD_STATE, SMPBOOT_ERR_NOT_BSP, SMPBOOT_ERR_INVALID_ARGUMENT
 * (index 0, out of range, or not online), or the IPI's error (it stays online).
 */
enum smpboot_status smpboot_offline(struct smpboot *sb, uint32_t index);

/*
 * How many times an AP entered the trampoline (in real mode, before it knew
 * its slot) since the last smpboot_start(), late ones included; 0 after
 * smpboot_finish(). With the results it tells "never woke up" from "woke up
 * and lost its slot": a late AP leaves no other trace, by design.
 */
uint32_t smpboot_trampoline_entries(const struct smpboot *sb);

/* CPUs in the table (BSP included). */
uint32_t smpboot_cpu_count(const struct smpboot *sb);
/* Entry by logical index, or NULL. */
struct smpboot_cpu *smpboot_cpu_get(struct smpboot *sb, uint32_t index);
/* Entry by APIC ID, or NULL. */
struct smpboot_cpu *smpboot_cpu_find(struct smpboot *sb, uint32_t apic_id);
/* CPUs whose result is SMPBOOT_CPU_ONLINE or SMPBOOT_CPU_BSP. */
uint32_t smpboot_online_count(const struct smpboot *sb);
/* Nanoseconds from the last start call until the last AP came online (0 if none did). */
uint64_t smpboot_bringup_ns(const struct smpboot *sb);

/* After bring-up, from any online CPU. */

/*
 * A fixed-delivery IPI with `vector` (32..255) to the online CPU at `index`.
 * Errors: SMPBOOT_ERR_INVALID_ARGUMENT (vector, index, not online),
 * SMPBOOT_ERR_IPI_BUSY, SMPBOOT_ERR_IPI_ERROR.
 */
enum smpboot_status smpboot_send_ipi(struct smpboot *sb, uint32_t index, uint8_t vector);

/*
 * An NMI to every other online CPU, one by one (no shorthand, so CPUs that
 * were never started are not hit). For a panic stop: it keeps going past a
 * CPU whose send fails and returns the first error.
 */
enum smpboot_status smpboot_nmi_others(struct smpboot *sb);

/*
 * The trampoline's C landing point: called on the AP's own stack with its
 * slot. Not for kernels to call.
 */
void smpboot_ap_main(void *slot);

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_SMPBOOT_H */
