/* SPDX-License-Identifier: MIT */
/*
 * libsmpboot: one CPU as the library sees it, and what happened to it.
 *
 * The kernel provides the storage (an array of struct smpboot_cpu given to
 * smpboot_init()); the library fills it. Entries are sorted: index 0 is the
 * BSP, then the APs by ascending APIC ID, so logical numbers do not depend
 * on the order in which CPUs were added or came up. Fields are read-only
 * for the kernel, except `user`.
 */
#ifndef SMPBOOT_CPU_H
#define SMPBOOT_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

enum smpboot_cpu_result {
    SMPBOOT_CPU_NOT_STARTED = 0,  /* added, smpboot_start() not run yet */
    SMPBOOT_CPU_BSP = 1,          /* the bootstrap processor itself */
    SMPBOOT_CPU_ONLINE = 2,       /* reached C and was handed to the entry */
    SMPBOOT_CPU_TIMED_OUT = 3,    /* never answered any SIPI in time */
    SMPBOOT_CPU_STALLED = 4,      /* answered, then stopped (see progress) */
    SMPBOOT_CPU_SEND_FAILED = 5,  /* an IPI to it could not be sent (see esr) */
    SMPBOOT_CPU_UNREACHABLE = 6,  /* ID not addressable in this APIC mode */
    SMPBOOT_CPU_SKIPPED = 7,      /* never kicked: total timeout or earlier failure */
    SMPBOOT_CPU_REJECTED = 8,     /* refused: the reserved ID 0xFFFFFFFF */
    SMPBOOT_CPU_OFFLINE = 9,      /* taken offline by smpboot_offline(); may start again */
    /*
     * Went online, but its entry did not call smpboot_ap_ready() within
     * config.ready_timeout_ns. It runs kernel code, so it is not reset and
     * its stacks stay; a later smpboot_wait_ready() that sees it ready makes
     * it SMPBOOT_CPU_ONLINE again.
     */
    SMPBOOT_CPU_NOT_READY = 10,
};

/*
 * The last step an AP reported. The trampoline writes PROTECTED_MODE as soon
 * as it has found its slot (real mode cannot address the slot table), then
 * each later step in turn.
 */
enum smpboot_progress {
    SMPBOOT_PROGRESS_NONE = 0,            /* never seen */
    SMPBOOT_PROGRESS_PROTECTED_MODE = 1,  /* found its slot in 32-bit mode */
    SMPBOOT_PROGRESS_PAGING = 2,          /* about to enable paging */
    SMPBOOT_PROGRESS_LONG_MODE = 3,       /* executing 64-bit code */
    SMPBOOT_PROGRESS_KERNEL_CR3 = 4,      /* on the kernel's page tables */
    SMPBOOT_PROGRESS_STACK = 5,           /* on its own stack */
    SMPBOOT_PROGRESS_C = 6,               /* in the library's AP-side C code */
    SMPBOOT_PROGRESS_ONLINE = 7,          /* online, calling the entry */
    SMPBOOT_PROGRESS_READY = 8,           /* its entry called smpboot_ap_ready() */
};

/*
 * When an AP reached each step of its last bring-up, in nanoseconds of the
 * host clock since that smpboot_start() call; 0 means never reached. The
 * trampoline's steps are stamped with the TSC and converted by the BSP with
 * a ratio measured over the same bring-up.
 */
struct smpboot_timeline {
    uint64_t kicked;      /* the BSP sent its first INIT */
    uint64_t trampoline;  /* it won its slot in 32-bit mode */
    uint64_t long_mode;   /* 64-bit code, on the kernel's page tables */
    uint64_t c_entry;     /* in the library's AP-side C code */
    uint64_t online;      /* online, about to call the entry */
    uint64_t ready;       /* the BSP saw its smpboot_ap_ready() (0: not seen) */
};

struct smpboot_cpu {
    /* Logical number: 0 for the BSP, then APs by ascending APIC ID. */
    uint32_t index;
    /* 32-bit local APIC ID. */
    uint32_t apic_id;
    /*
     * Recorded by the BSP; final once smpboot_start() returns (an AP's entry
     * may see it unset), except that smpboot_wait_ready() and
     * smpboot_finish() turn ONLINE into NOT_READY and back.
     */
    enum smpboot_cpu_result result;
    /* The last step the BSP saw this AP reach. */
    enum smpboot_progress progress;
    /* ESR value when result is SMPBOOT_CPU_SEND_FAILED, else 0. */
    uint32_t esr;
    /* How many times the SDM sequence was sent in full (0, or 1 on sdm_retry). */
    uint32_t retries;

    /* Top of the AP's stack (virtual, 16-byte aligned); 0 for the BSP and when none is held. */
    uintptr_t stack_top;
    /* Its size in bytes. */
    size_t stack_size;
    /*
     * First physical address of the stack's frames (for guard windows, crash
     * dumps); 0 if none, or if host.alloc_stack provided the stack.
     */
    uint64_t stack_phys;
    /* Tops of config.extra_stack_count extra stacks, each extra_stack_size bytes; 0 if none. */
    uintptr_t extra_stack_top[SMPBOOT_MAX_EXTRA_STACKS];
    /* First physical address of each extra stack's frames; 0 if none. */
    uint64_t extra_stack_phys[SMPBOOT_MAX_EXTRA_STACKS];

    /* config.entry_arg, for the entry. */
    void *arg;
    /* Free for the kernel (a per-CPU pointer, say); the library never reads it. */
    void *user;

    /* Filled for every AP that was kicked; read it after smpboot_start(). */
    struct smpboot_timeline timeline;

    /*
     * smpboot_finish() could not reset this AP (its INIT failed, or the
     * clock stopped before the INIT could settle). Its stacks, the
     * trampoline page and the slot table are kept for good, never handed
     * back, and smpboot_start() refuses to restart. Never cleared.
     */
    bool not_reset;
    /*
     * Nonzero once the AP's entry called smpboot_ap_ready(). Written by the
     * AP (atomically); read it with __atomic_load_n(..., __ATOMIC_ACQUIRE),
     * or use result and progress after smpboot_wait_ready().
     */
    uint32_t said_ready;
};

const char *smpboot_cpu_result_str(enum smpboot_cpu_result result);
const char *smpboot_progress_str(enum smpboot_progress progress);

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_CPU_H */
