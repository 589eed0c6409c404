/*
 * libsmpboot: bring-up policy.
 *
 * Everything that is a choice rather than a rule of the architecture lives
 * here. Start from smpboot_config_default() (the SDM sequence, parallel) or
 * smpboot_config_fast() (modern and virtual CPUs), then change fields.
 */
#ifndef SMPBOOT_CONFIG_H
#define SMPBOOT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct smpboot_cpu;

/*
 * The kernel's AP entry. Runs on the AP, on the AP's own stack (cpu->stack_top),
 * with interrupts disabled, the kernel's CR3, the BSP's CR0/CR4/EFER/PAT, and
 * a temporary GDT that lives in the trampoline page: load your own GDT, IDT
 * and TSS before smpboot_finish() runs on the BSP. If it returns, the AP is
 * parked (interrupts off, HLT loop) for good.
 */
typedef void (*smpboot_entry_fn)(struct smpboot_cpu *cpu);

enum smpboot_bringup_mode {
    /* All INITs, one INIT delay, all SIPIs, then wait for all. */
    SMPBOOT_MODE_PARALLEL = 0,
    /* One AP at a time: INIT, delay, SIPI(s), wait; then the next. */
    SMPBOOT_MODE_SERIAL = 1,
};

enum smpboot_apic_mode {
    SMPBOOT_APIC_XAPIC = 0,   /* 8-bit destinations; IDs 0..0xFE reachable */
    SMPBOOT_APIC_X2APIC = 1,  /* 32-bit destinations; APs enable x2APIC too */
};

/* Upper bound of config.extra_stack_count. */
#define SMPBOOT_MAX_EXTRA_STACKS 4u

/* The SDM's MP initialization delays (SDM vol. 3, 9.4.4.1). */
#define SMPBOOT_SDM_INIT_DELAY_NS   10000000ull /* 10 ms */
#define SMPBOOT_SDM_SIPI_SPACING_NS 200000ull   /* 200 us */

struct smpboot_config {
    enum smpboot_bringup_mode mode;
    enum smpboot_apic_mode apic_mode;

    /* Wait between the INIT and the first SIPI. 0 is allowed. */
    uint64_t init_delay_ns;
    /* SIPIs per attempt, 1..4; a SIPI is only sent to an AP that has not answered. */
    uint32_t sipi_count;
    /* Wait after each SIPI before the next one (cut short when all answered). */
    uint64_t sipi_spacing_ns;
    /*
     * If an AP has not answered this long after its last SIPI, it gets the
     * full SDM sequence (INIT, 10 ms, SIPI, 200 us, SIPI) once more before
     * it is declared timed out. For fast profiles: some hypervisors lose a
     * SIPI sent too soon after INIT.
     */
    bool sdm_retry;
    /*
     * With sdm_retry: how long after the fast attempt's last SIPI an AP may
     * take to answer before it gets the SDM sequence. Ignored otherwise.
     */
    uint64_t retry_window_ns;

    /* How long an AP may take to answer (win its slot) after its last SIPI. 1 ns..60 s. */
    uint64_t ap_timeout_ns;
    /*
     * How long an AP that answered may take from its release to going online
     * (the trampoline's long-mode switch and the library's C code). 1 ns..60 s.
     */
    uint64_t online_timeout_ns;
    /* Bound on the whole smpboot_start() call. 0 means no bound beyond the per-AP ones. */
    uint64_t total_timeout_ns;
    /* Bound on each wait for the xAPIC ICR to become idle. Must be > 0. */
    uint64_t icr_timeout_ns;

    /* Bytes of stack per AP: a multiple of 4096, at least 4096. */
    size_t stack_size;
    /* Extra stacks per AP (double fault, NMI, privilege): count and bytes each. */
    uint32_t extra_stack_count;
    size_t extra_stack_size;

    /*
     * Optional guard pages. 0: stacks are used through phys_to_virt and have
     * no guard. Otherwise the base of a virtual window the kernel reserves
     * for AP stacks (page-aligned, canonical, mapped by nothing else): the
     * library maps every stack there through host.map (read+write, no exec)
     * with one unmapped page below it, so an overflow faults instead of
     * corrupting. The window spans smpboot_stack_window_bytes().
     */
    uint64_t stack_window;

    /* Required: where each AP goes, and what it finds in cpu->arg. */
    smpboot_entry_fn entry;
    void *entry_arg;
};

/*
 * Parallel, xAPIC, the SDM delays (10 ms, 2 SIPIs 200 us apart), 1 s for an AP
 * to answer and 1 s more to go online, 30 s in all, 16 KiB stacks. entry is
 * left NULL: set it.
 */
void smpboot_config_default(struct smpboot_config *config);

/*
 * Parallel, no INIT wait, one SIPI, a short answer window, and sdm_retry on:
 * for CPUs that need no INIT delay (recent Intel and AMD, hypervisors).
 */
void smpboot_config_fast(struct smpboot_config *config);

/* Bytes of virtual window config.stack_window must reserve for `cpu_count` CPUs. */
uint64_t smpboot_stack_window_bytes(const struct smpboot_config *config, uint32_t cpu_count);

/* SMPBOOT_OK, or SMPBOOT_ERR_BAD_CONFIG (smpboot_init() logs which field). */
enum smpboot_status smpboot_config_check(const struct smpboot_config *config);

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_CONFIG_H */
