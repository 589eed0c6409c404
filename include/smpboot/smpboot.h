/* SPDX-License-Identifier: MIT */
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
 *   smpboot_finish(&sb);                                  // waits for ready, gives back memory
 *   ... inspect smpboot_cpu_get(&sb, i)->result ...
 *
 * and on each AP, in config.entry: load the kernel's GDT, IDT and TSS, then
 * smpboot_ap_ready(cpu) (when config.ready_timeout_ns is nonzero).
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
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SMPBOOT_VERSION_MAJOR, _MINOR, _PATCH and SMPBOOT_VERSION. */

/*
 * Words of storage in struct smpboot. The library asserts at build time that
 * its session fits; growing it is an ABI change (SMPBOOT_VERSION moves).
 */
#define SMPBOOT_SESSION_WORDS 128

/*
 * One bring-up session: storage only. The kernel provides it and must keep
 * it alive (and unmoved) as long as it uses the CPU table or the IPI
 * helpers, and as long as any AP may take an NMI on the library's IDT (until
 * its entry loaded its own), which lives in it. Give smpboot_init() zeroed
 * storage or a session it initialised before. The words are the library's:
 * everything a kernel may read goes through the functions below.
 */
struct smpboot {
    uint64_t opaque[SMPBOOT_SESSION_WORDS];
};

/*
 * What the kernel was compiled against, as smpboot_init() passes it to the
 * archive it links. Members are only ever appended; `version` stays first.
 */
struct smpboot_abi {
    uint32_t version;       /* SMPBOOT_VERSION */
    uint32_t session_size;  /* sizeof(struct smpboot) */
    uint32_t cpu_size;      /* sizeof(struct smpboot_cpu) */
    uint32_t host_size;     /* sizeof(struct smpboot_host) */
    uint32_t config_size;   /* sizeof(struct smpboot_config) */
};

/* The library's SMPBOOT_VERSION, as built into the archive. */
uint32_t smpboot_version(void);

/*
 * smpboot_init() without the header's ABI key filled in: call smpboot_init().
 * SMPBOOT_ERR_ABI_MISMATCH (and a log line naming what differs) when `abi`
 * is not what the archive was built with; otherwise as smpboot_init().
 */
enum smpboot_status smpboot_init_abi(const struct smpboot_abi *abi, struct smpboot *sb,
                                     const struct smpboot_host *host,
                                     const struct smpboot_config *config,
                                     struct smpboot_cpu *cpus, uint32_t capacity);

/*
 * Check host and config, read the BSP's APIC ID from its own local APIC and
 * enter it as CPU 0 in `cpus` (capacity >= 1 entries). Nothing is allocated.
 * Errors: SMPBOOT_ERR_ABI_MISMATCH (the kernel was compiled against other
 * headers than the archive it links: the version or a struct size differs),
 * SMPBOOT_ERR_INVALID_ARGUMENT, SMPBOOT_ERR_MISSING_CALLBACK,
 * SMPBOOT_ERR_BAD_CONFIG (also: the stack window for `capacity` CPUs would
 * wrap the address space), SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE
 * (config.trampoline_page), SMPBOOT_ERR_BAD_STATE (`sb` is a session inside
 * or after smpboot_start() and before smpboot_finish(), or a finished one
 * with a CPU that could not be reset or is NOT_READY: APs may still use it).
 */
static inline enum smpboot_status smpboot_init(struct smpboot *sb, const struct smpboot_host *host,
                                               const struct smpboot_config *config,
                                               struct smpboot_cpu *cpus, uint32_t capacity)
{
    const struct smpboot_abi abi = {
        (uint32_t)SMPBOOT_VERSION,
        (uint32_t)sizeof(struct smpboot),
        (uint32_t)sizeof(struct smpboot_cpu),
        (uint32_t)sizeof(struct smpboot_host),
        (uint32_t)sizeof(struct smpboot_config),
    };
    return smpboot_init_abi(&abi, sb, host, config, cpus, capacity);
}

/*
 * Add a CPU by APIC ID, in any order, before smpboot_start(). Adding the BSP's
 * ID or an ID already present is not an error. Errors: SMPBOOT_ERR_TABLE_FULL,
 * SMPBOOT_ERR_BAD_STATE (after start), SMPBOOT_ERR_INVALID_ARGUMENT.
 */
enum smpboot_status smpboot_add_cpu(struct smpboot *sb, uint32_t apic_id);

/*
 * Start every added AP. Returns when each is online or has failed, never
 * later than the configured bounds.
 *
 * "Online" means the AP won its slot's swap to ONLINE and is about to call
 * the entry: when start returns, an entry may not have run one instruction
 * yet. Until an entry loaded its own IDT, the AP survives an NMI (the
 * library's NMI-only IDT, so smpboot_nmi_others() is safe) but nothing else:
 * use smpboot_wait_ready() (or smpboot_finish()) before sending it anything
 * but an NMI.
 *
 * After smpboot_finish(), it may be called again to restart the CPUs taken
 * offline with smpboot_offline() (only those).
 *
 * SMPBOOT_OK when all came online; SMPBOOT_ERR_PARTIAL when some did not
 * (see each CPU's result); SMPBOOT_ERR_BAD_STATE when called twice, or after
 * finish with no CPU offline; SMPBOOT_ERR_CPU_NOT_RESET when finish could not
 * reset some AP (nothing is done); SMPBOOT_ERR_NOT_BSP from an AP; a host
 * callback's error (everything already allocated is then released);
 * SMPBOOT_ERR_IPI_BUSY when the ICR stayed busy (the rest are skipped);
 * SMPBOOT_ERR_CLOCK_STUCK when host.now_ns stopped (every AP still gets a
 * verdict); SMPBOOT_ERR_NO_APIC when the BSP has no local APIC or it is
 * disabled in IA32_APIC_BASE (checked first: nothing is allocated or sent,
 * and the session may be started again).
 */
enum smpboot_status smpboot_start(struct smpboot *sb);

/*
 * BSP, after smpboot_start(): wait, at most config.ready_timeout_ns, until
 * every online AP's entry called smpboot_ap_ready(). An AP that did not
 * becomes SMPBOOT_CPU_NOT_READY; one that did gets progress READY and
 * timeline.ready. SMPBOOT_OK when every online AP is ready,
 * SMPBOOT_ERR_PARTIAL when some is not, SMPBOOT_ERR_BAD_CONFIG when
 * ready_timeout_ns is 0, SMPBOOT_ERR_BAD_STATE before start,
 * SMPBOOT_ERR_NOT_BSP, SMPBOOT_ERR_CLOCK_STUCK, SMPBOOT_ERR_INVALID_ARGUMENT.
 */
enum smpboot_status smpboot_wait_ready(struct smpboot *sb);

/*
 * AP side, from the entry: this AP needs nothing more of the bring-up (its
 * own GDT, IDT and TSS are loaded). Call it once. It only stores a flag in
 * *cpu; a NULL cpu is ignored.
 */
void smpboot_ap_ready(struct smpboot_cpu *cpu);

/*
 * After smpboot_start(): when config.ready_timeout_ns is nonzero, first wait
 * (bounded) as smpboot_wait_ready() does. Then send INIT to every AP that
 * did not come online (so none can run late on real hardware; under QEMU
 * and KVM a SIPI still pending can restart one, which then parks:
 * docs/protocol.md, "A SIPI that outlives an INIT"), wait for those INITs to land,
 * disarm the trampoline page and clear its parameters, so that a CPU a
 * stray SIPI starts there parks having written nothing (docs/trampoline.md,
 * "After finish"), remove the identity mapping and
 * free the trampoline page (unless config.trampoline_page named the
 * kernel's own), the slot table, the bootstrap tables and the
 * stacks of the APs that are not online. The stacks of online APs (ready or
 * not) stay theirs.
 *
 * If an AP cannot be reset (its INIT fails, or the clock stops before the
 * INIT could land), its stacks, the trampoline page and the slot table are
 * kept for good (never handed back under a CPU that may still use them), its
 * not_reset flag is set, later restarts are refused, and the error
 * (the IPI's, or SMPBOOT_ERR_CLOCK_STUCK) is returned. Idempotent.
 */
enum smpboot_status smpboot_finish(struct smpboot *sb);

/*
 * Take one online (or not-ready) AP offline: send it INIT (back to
 * wait-for-SIPI), wait for the INIT to land, and free its stacks. For CPU
 * hotplug, suspend, kexec, or measuring bring-up again. INIT stops the AP
 * wherever it is, so the kernel must first bring it to a standstill
 * (interrupts off in a HLT loop, holding no lock) and leave VMX operation
 * (INIT is blocked in VMX root operation). Only after smpboot_finish(), only
 * on the BSP. The CPU's result becomes SMPBOOT_CPU_OFFLINE; a later
 * smpboot_start() starts the offline CPUs again. Errors:
 * SMPBOOT_ERR_BAD_STATE, SMPBOOT_ERR_NOT_BSP, SMPBOOT_ERR_INVALID_ARGUMENT
 * (index 0, out of range, or not online), the IPI's error (it stays online),
 * SMPBOOT_ERR_CLOCK_STUCK (the INIT went out but could not be timed: the
 * stacks are kept, not_reset is set).
 */
enum smpboot_status smpboot_offline(struct smpboot *sb, uint32_t index);

/*
 * How many times an AP entered the trampoline (counted on reaching its
 * 32-bit code, before it knew its slot) since the last smpboot_start(), late
 * ones included; 0 after
 * smpboot_finish(). With the results it tells "never woke up" from "woke up
 * and lost its slot": a late AP leaves no other trace, by design.
 */
uint32_t smpboot_trampoline_entries(const struct smpboot *sb);

/*
 * For a post-mortem reader of memory (a debugger, a hypervisor's memory
 * dump after a triple fault): where in `sb` the slot table's physical
 * address is kept while a bring-up runs (0 before smpboot_start() and after
 * smpboot_finish()). The slot layout is src/core/slot.h's.
 */
const uint64_t *smpboot_postmortem_slot_table(const struct smpboot *sb);

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

/*
 * Where the BSP's time went in the last smpboot_start() call, by the host
 * clock, in nanoseconds. The parts are disjoint; what total_ns holds beyond
 * their sum is the library's bookkeeping between them (polls, verdicts, log
 * lines). The APs' own steps are in each CPU's timeline.
 */
struct smpboot_start_stats {
    /* The whole call. */
    uint64_t total_ns;
    /*
     * From the call until the first INIT went to the ICR: the checks, the
     * stacks, the slot table, the trampoline page and its identity mapping.
     * With nothing to start, the whole call.
     */
    uint64_t setup_ns;
    /* Of setup_ns: the APs' stacks (host.alloc_frames or alloc_stack, and map with a window). */
    uint64_t setup_stacks_ns;
    /* Of setup_ns: the slot table, the trampoline page written and identity-mapped. */
    uint64_t setup_trampoline_ns;
    /*
     * Inside INIT and SIPI sends: the ICR write, the waits for it to be idle,
     * and for INITs the ESR check (a SIPI reads no ESR: docs/protocol.md).
     */
    uint64_t ipi_send_ns;
    /*
     * In the waits the policy imposes whatever the APs do: the INIT delay,
     * the spacing before a second SIPI (cut short once every AP answered),
     * and the SDM retry's INIT delay.
     */
    uint64_t mandatory_wait_ns;
    /* Waiting for the APs to answer and go online: their path and the host's scheduling. */
    uint64_t ap_wait_ns;
    /* next_after_ready: waiting for each AP's smpboot_ap_ready() before the next kick. */
    uint64_t ready_wait_ns;
    /* When the call sent its last SIPI, since the call (0: none sent). */
    uint64_t last_sipi_ns;
    /* INIT and SIPI IPIs the call sent (each to one AP). */
    uint32_t ipis_sent;
    /* APs the call tried to start (kicked, or refused before a kick). */
    uint32_t aps_started;
};

/*
 * Copy the last smpboot_start() call's figures to *stats (a call that
 * failed in its set-up sent nothing: its total_ns is its setup_ns, with the
 * parts it got through). SMPBOOT_OK;
 * SMPBOOT_ERR_BAD_STATE before any call got past its first checks, or
 * while one runs; SMPBOOT_ERR_INVALID_ARGUMENT for a NULL argument.
 */
enum smpboot_status smpboot_start_stats(const struct smpboot *sb, struct smpboot_start_stats *stats);

/* After bring-up, from any online CPU. */

/*
 * A fixed-delivery IPI with `vector` (32..255) to the online CPU at `index`
 * (the BSP, or an AP whose result is SMPBOOT_CPU_ONLINE; with a ready
 * handshake, an AP counts as said ready only once smpboot_wait_ready() or
 * smpboot_finish() saw it: before that, an interrupt sent to an AP whose
 * entry has not loaded its IDT stays pending while its IF is 0, and is
 * fatal once it sets IF without one). The ICR writes run with interrupts off on
 * the calling CPU. Errors: SMPBOOT_ERR_INVALID_ARGUMENT (vector, index, not
 * online, before start), SMPBOOT_ERR_UNREACHABLE, SMPBOOT_ERR_IPI_BUSY,
 * SMPBOOT_ERR_IPI_ERROR, SMPBOOT_ERR_CLOCK_STUCK.
 */
enum smpboot_status smpboot_send_ipi(struct smpboot *sb, uint32_t index, uint8_t vector);

/*
 * An NMI to every other CPU that runs (online or not ready), one by one (no
 * shorthand, so CPUs that were never started are not hit). Safe right after
 * smpboot_start(): an AP whose entry has not loaded an IDT yet runs on the
 * library's NMI-only IDT. For a panic stop: it keeps going past a CPU whose
 * send fails and returns the first error (as smpboot_send_ipi()). Run as an
 * NMI handler over an IPI send of the same CPU, it may corrupt that send.
 */
enum smpboot_status smpboot_nmi_others(struct smpboot *sb);

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_SMPBOOT_H */
