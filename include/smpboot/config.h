/* SPDX-License-Identifier: MIT */
/*
 * libsmpboot: bring-up policy.
 *
 * Everything that is a choice rather than a rule of the architecture lives
 * here. Start from smpboot_config_default() (parallel, INIT delay chosen from
 * the BSP's CPUID, SDM retry), smpboot_config_sdm() (the SDM sequence as
 * written) or smpboot_config_fast() (no INIT wait, one SIPI, SDM retry), then
 * change fields. docs/protocol.md states what each profile sends.
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
 * The kernel's AP entry, called as a normal SysV function on the AP's own
 * stack (cpu->stack_top) with interrupts disabled, the kernel's CR3, the
 * library's GDT (in the kernel image's .rodata: 0x08 code64, 0x10 data) and
 * the library's NMI-only IDT (an NMI is survived; any other exception is
 * fatal). The full machine state is in docs/protocol.md. It loads its own
 * GDT (reloading CS if its layout differs), IDT and TSS, then calls
 * smpboot_ap_ready(cpu) when config.ready_timeout_ns is nonzero. If it
 * returns, the AP is parked (interrupts off, HLT loop) for good.
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

/*
 * config.init_delay_ns: decide at smpboot_start() from the BSP's CPUID, by
 * Linux's rule (smp_quirk_init_udelay): 0 on Intel family >= 6, AMD family
 * >= 0xF, Hygon, or under a hypervisor (CPUID.1:ECX[31]); else 10 ms.
 */
#define SMPBOOT_INIT_DELAY_AUTO UINT64_MAX

/*
 * config.total_timeout_ns: derived at smpboot_start() from the number of APs
 * it starts, by smpboot_total_timeout_for() below, so that a large machine
 * is not cut short by a bound sized for a small one.
 */
#define SMPBOOT_TOTAL_TIMEOUT_AUTO UINT64_MAX
/*
 * What each AP adds to the derived total bound, for its IPIs and its share
 * of a host that runs many vCPUs on few cores (measured: 288 vCPUs under
 * nested KVM on 2 host cores took 23-25 s in all, about 85 ms each).
 */
#define SMPBOOT_TOTAL_TIMEOUT_PER_AP_NS 200000000ull /* 200 ms */

/*
 * The highest trampoline page: a SIPI vector names a page below 1 MiB, and
 * 0xA0000 and up is video memory and ROM (vectors 0xA0-0xBF are reserved).
 */
#define SMPBOOT_TRAMPOLINE_PAGE_MAX 0x9F000ull

/* Upper bounds of config fields, so that no sum or product can wrap. */
#define SMPBOOT_MAX_TOTAL_TIMEOUT_NS 3600000000000ull /* 1 hour */
#define SMPBOOT_MAX_STACK_SIZE ((size_t)16 << 20)      /* 16 MiB */

struct smpboot_config {
    /* All APs as one batch, or one at a time. */
    enum smpboot_bringup_mode mode;
    /* How the library addresses local APICs (the BSP's mode; the APs follow it). */
    enum smpboot_apic_mode apic_mode;

    /* Wait between the INIT and the first SIPI: 0..1 s, or SMPBOOT_INIT_DELAY_AUTO. */
    uint64_t init_delay_ns;
    /* SIPIs per attempt, 1..4; a SIPI is only sent to an AP that has not answered. */
    uint32_t sipi_count;
    /* Wait after each SIPI before the next one (cut short when all answered). */
    uint64_t sipi_spacing_ns;
    /*
     * If an AP has not answered retry_window_ns after its last SIPI, it gets
     * the full SDM sequence (INIT, 10 ms, SIPI, 200 us, SIPI) once more
     * before it is declared timed out. Its slot is held through that INIT
     * delay, so an AP that wakes meanwhile cannot run and then be reset.
     * Some hypervisors lose a SIPI sent too soon after INIT.
     */
    bool sdm_retry;
    /* With sdm_retry: 1 ns..60 s. Ignored otherwise. */
    uint64_t retry_window_ns;

    /* How long an AP may take to answer (win its slot) after its last SIPI. 1 ns..60 s. */
    uint64_t ap_timeout_ns;
    /*
     * How long an AP that answered may take from the end of the answer wait
     * to going online (the trampoline's long-mode switch and the library's C
     * code). 1 ns..60 s.
     */
    uint64_t online_timeout_ns;
    /*
     * Bound on the whole smpboot_start() call: 0 (no bound beyond the per-AP
     * ones), 1 ns..SMPBOOT_MAX_TOTAL_TIMEOUT_NS, or SMPBOOT_TOTAL_TIMEOUT_AUTO
     * (the profiles' default: smpboot_total_timeout_for() of the APs started).
     * APs not yet kicked when it runs out end SMPBOOT_CPU_SKIPPED.
     */
    uint64_t total_timeout_ns;
    /* Bound on each wait for the xAPIC ICR to become idle. 1 ns..1 s. */
    uint64_t icr_timeout_ns;
    /*
     * 0: the entry never calls smpboot_ap_ready(), and nothing waits for it.
     * Otherwise 1 ns..60 s: how long smpboot_wait_ready() and
     * smpboot_finish() wait for every online AP to call it.
     */
    uint64_t ready_timeout_ns;
    /*
     * Serial mode only (SMPBOOT_ERR_BAD_CONFIG otherwise), and only with
     * ready_timeout_ns: AP n+1 is kicked only after AP n said ready or its
     * ready bound ran out.
     */
    bool next_after_ready;

    /* Bytes of stack per AP: a multiple of 4096, 4096..SMPBOOT_MAX_STACK_SIZE. */
    size_t stack_size;
    /* Extra stacks per AP (double fault, NMI, privilege): 0..SMPBOOT_MAX_EXTRA_STACKS. */
    uint32_t extra_stack_count;
    /* Bytes each, as stack_size; ignored when extra_stack_count is 0. */
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

    /*
     * 0: the library asks alloc_frames for the trampoline page at each
     * smpboot_start() and frees it in smpboot_finish(). Otherwise the
     * physical address of a page the kernel reserved for it: page-aligned,
     * 0x1000..SMPBOOT_TRAMPOLINE_PAGE_MAX, RAM that nothing else uses while
     * a bring-up runs (the library writes it, then leaves it disarmed: a
     * CPU started there parks; a page that kept the previous bring-up's
     * content gets only the words that changed, docs/trampoline.md),
     * readable and writable through phys_to_virt. The library never
     * allocates or frees it. Anything else: SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE.
     */
    uint64_t trampoline_page;

    /* Required: where each AP goes. */
    smpboot_entry_fn entry;
    /* What each AP finds in cpu->arg. */
    void *entry_arg;
};

/*
 * Parallel, xAPIC, INIT delay SMPBOOT_INIT_DELAY_AUTO, 2 SIPIs 200 us apart,
 * sdm_retry after 100 ms, 1 s for an AP to answer and 1 s more to go online,
 * SMPBOOT_TOTAL_TIMEOUT_AUTO in all, 16 KiB stacks, no ready handshake.
 * entry is left NULL: set it.
 */
void smpboot_config_default(struct smpboot_config *config);

/* As the default, but the SDM sequence as written: 10 ms, 2 SIPIs 200 us apart, no retry. */
void smpboot_config_sdm(struct smpboot_config *config);

/*
 * As the default, but no INIT wait, one SIPI and sdm_retry after 50 ms: for
 * CPUs known to need no INIT delay (recent Intel and AMD, hypervisors).
 */
void smpboot_config_fast(struct smpboot_config *config);

/*
 * The total bound SMPBOOT_TOTAL_TIMEOUT_AUTO stands for, when `ap_count` APs
 * are started with `config` (any other total_timeout_ns is returned as is):
 *
 *   batches x (init delay + (sipi_count - 1) x sipi_spacing_ns + answer
 *              + online_timeout_ns [+ ready_timeout_ns with next_after_ready])
 *   + ap_count x SMPBOOT_TOTAL_TIMEOUT_PER_AP_NS
 *
 * batches is 1 in parallel mode and ap_count in serial mode; answer is
 * ap_timeout_ns, plus retry_window_ns and the SDM attempt (10 ms + 200 us)
 * with sdm_retry; an SMPBOOT_INIT_DELAY_AUTO delay counts as 10 ms. Every
 * AP thus gets every per-AP bound in full. At most
 * SMPBOOT_MAX_TOTAL_TIMEOUT_NS. Fields as smpboot_config_check() bounds them.
 */
uint64_t smpboot_total_timeout_for(const struct smpboot_config *config, uint32_t ap_count);

/* Bytes of virtual window config.stack_window must reserve for `cpu_count` CPUs (BSP included). */
uint64_t smpboot_stack_window_bytes(const struct smpboot_config *config, uint32_t cpu_count);

/*
 * SMPBOOT_OK, SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE (trampoline_page), or
 * SMPBOOT_ERR_BAD_CONFIG (smpboot_init() logs the status).
 */
enum smpboot_status smpboot_config_check(const struct smpboot_config *config);

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_CONFIG_H */
