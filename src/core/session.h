/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the files of src/core: session phases, logging, the
 * slot table, waiting on the host clock, and the IPI layer. Not installed.
 */
#ifndef SMPBOOT_CORE_SESSION_H
#define SMPBOOT_CORE_SESSION_H

#include <smpboot/smpboot.h>

#include "../arch/arch.h"
#include "slot.h"

/*
 * The session behind the kernel's opaque struct smpboot storage. Only the
 * library's files see it; the kernel reaches what it needs through functions.
 */
struct smpboot_session {
    struct smpboot_host host;
    struct smpboot_config config;
    struct smpboot_cpu *cpus;
    uint32_t cpu_capacity;
    uint32_t cpu_count;
    uint32_t bsp_apic_id;
    uint32_t phase;           /* enum smpboot_phase; relaxed atomic accesses only */

    /* Slot table shared with the trampoline: below 4 GiB. */
    uint64_t slots_phys;
    size_t slots_pages;
    void *slots;

    /* The trampoline page (below 0xA0000) and the bootstrap page tables. */
    uint64_t tramp_phys;
    void *tramp_virt;
    bool tramp_mapped;
    uint64_t boot_tables_phys;
    size_t boot_tables_pages;

    /* Bring-up timing, host clock. */
    uint64_t start_ns;
    uint64_t all_online_ns;
    /* The INIT delay the last start used (config.init_delay_ns resolved). */
    uint64_t init_delay_ns;
    /* The bound the last start used (config.total_timeout_ns resolved; 0: none). */
    uint64_t total_timeout_ns;
    /* Where the last start's time went (smpboot_start_stats()); valid once has_stats. */
    struct smpboot_start_stats stats;
    bool has_stats;

    /* Identity address of the trampoline page, for the APs' INVLPG; set before any kick. */
    uint64_t ap_tlb_drop;
    /* The NMI-only IDT every AP runs on until its entry loads its own (vectors 0..2). */
    uint64_t nmi_idt[6];

    /*
     * Memory smpboot_finish() kept because an AP could not be reset: out of
     * reach of every later free, for good.
     */
    struct {
        uint64_t tramp_phys;
        uint64_t slots_phys;
        size_t slots_pages;
        uint64_t boot_tables_phys;
        size_t boot_tables_pages;
    } abandoned;
};

_Static_assert(sizeof(struct smpboot_session) <= sizeof(struct smpboot),
               "the session outgrew struct smpboot: raise SMPBOOT_SESSION_WORDS (an ABI change)");
_Static_assert(_Alignof(struct smpboot_session) <= _Alignof(struct smpboot),
               "struct smpboot's storage is not aligned enough for the session");

/* The kernel's storage is only ever read and written as a session, by the library. */
static inline struct smpboot_session *smpboot_session_of(struct smpboot *handle)
{
    return (struct smpboot_session *)(void *)handle;
}

static inline const struct smpboot_session *smpboot_session_of_const(const struct smpboot *handle)
{
    return (const struct smpboot_session *)(const void *)handle;
}

/* For the library's own calls of its public functions. */
static inline struct smpboot *smpboot_handle_of(struct smpboot_session *sb)
{
    return (struct smpboot *)(void *)sb;
}

/*
 * A session's phase. The values start at a magic number rather than 1 so
 * that smpboot_init() can tell a live session from zeroed storage (and,
 * most likely, from garbage).
 */
enum smpboot_phase {
    SMPBOOT_PHASE_UNINITIALIZED = 0,
    SMPBOOT_PHASE_READY = 0x5B00,  /* init done; CPUs may be added */
    SMPBOOT_PHASE_STARTING,        /* inside smpboot_start() */
    SMPBOOT_PHASE_STARTED,         /* start returned; finish pending */
    SMPBOOT_PHASE_FINISHED,        /* everything borrowed is given back (or abandoned) */
};

/* Any CPU may read the phase (the IPI calls) while the BSP changes it on a restart. */
static inline uint32_t smpboot_phase(const struct smpboot_session *sb)
{
    return __atomic_load_n(&sb->phase, __ATOMIC_RELAXED);
}

static inline void smpboot_set_phase(struct smpboot_session *sb, enum smpboot_phase phase)
{
    __atomic_store_n(&sb->phase, (uint32_t)phase, __ATOMIC_RELAXED);
}

/* printf-like, for %s %u %x %lu %lx %% only; silent when host.log is NULL. */
void smpboot_logf(const struct smpboot_session *sb, enum smpboot_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* host.relax, or PAUSE. */
static inline void smpboot_relax(const struct smpboot_session *sb)
{
    smpboot_arch_relax(sb->host.relax, sb->host.ctx);
}

/* The calling CPU's APIC ID, read from its own local APIC. */
uint32_t smpboot_self_apic_id(const struct smpboot_session *sb);

static inline struct smpboot_slot *smpboot_slot_at(const struct smpboot_session *sb, uint32_t index)
{
    return (struct smpboot_slot *)sb->slots + index;
}

/*
 * host.alloc_frames, and on failure a log line naming the allocation: `what`
 * ("trampoline page", "stack", ...), of `owner`'s APIC when not NULL, and
 * the request. Returns the host's status.
 */
enum smpboot_status smpboot_frames_alloc(const struct smpboot_session *sb, const char *what,
                                         const struct smpboot_cpu *owner, size_t pages,
                                         uint64_t limit, uint64_t align, uint64_t *phys);

/* host.now_ns, with host.clock_ctx when set. */
static inline uint64_t smpboot_now(const struct smpboot_session *sb)
{
    return sb->host.now_ns(sb->host.clock_ctx ? sb->host.clock_ctx : sb->host.ctx);
}

/* host.map and host.unmap, with host.map_ctx when set. */
static inline enum smpboot_status smpboot_host_map(const struct smpboot_session *sb, uint64_t virt,
                                                   uint64_t phys, size_t pages, uint32_t flags)
{
    void *ctx = sb->host.map_ctx ? sb->host.map_ctx : sb->host.ctx;
    return sb->host.map(ctx, virt, phys, pages, flags);
}

static inline void smpboot_host_unmap(const struct smpboot_session *sb, uint64_t virt, size_t pages)
{
    sb->host.unmap(sb->host.map_ctx ? sb->host.map_ctx : sb->host.ctx, virt, pages);
}

/* Slot table: one slot per CPU table entry, in frames below 4 GiB. */
enum smpboot_status smpboot_slots_create(struct smpboot_session *sb);
void smpboot_slots_destroy(struct smpboot_session *sb);

/* Per-AP stacks (and extra stacks) from the host's frames. */
enum smpboot_status smpboot_stacks_alloc(struct smpboot_session *sb, struct smpboot_cpu *cpu);
void smpboot_stacks_free(struct smpboot_session *sb, struct smpboot_cpu *cpu);

/* ---- waiting on the host clock (wait.c) ---- */

/* now + ns, or UINT64_MAX when that would wrap. */
static inline uint64_t smpboot_deadline(uint64_t now, uint64_t ns)
{
    return UINT64_MAX - now < ns ? UINT64_MAX : now + ns;
}

/*
 * One wait's view of the clock: it notices a clock that stands still.
 * Start each wait with a zeroed watch.
 */
struct smpboot_watch {
    uint64_t last;
    uint32_t unchanged;
};

/*
 * Read host.now_ns into *now. false once it returned the same value
 * SMPBOOT_CLOCK_STALL_POLLS times in a row: the caller ends its wait with
 * SMPBOOT_ERR_CLOCK_STUCK.
 */
bool smpboot_watch_read(const struct smpboot_session *sb, struct smpboot_watch *watch, uint64_t *now);

/*
 * Spin (relaxing) until host.now_ns reaches `until`. SMPBOOT_OK, or
 * SMPBOOT_ERR_CLOCK_STUCK when the clock stopped first.
 */
enum smpboot_status smpboot_wait_until(const struct smpboot_session *sb, uint64_t until);

/* ---- IPIs (ipi.c) ---- */

/* ICR low-word encodings (SDM vol. 3, 11.6.1). */
#define SMPBOOT_ICR_FIXED 0x000u
#define SMPBOOT_ICR_NMI 0x400u
#define SMPBOOT_ICR_INIT 0x500u
#define SMPBOOT_ICR_STARTUP 0x600u
#define SMPBOOT_ICR_DELIVERY_PENDING (1u << 12)
#define SMPBOOT_ICR_LEVEL_ASSERT (1u << 14)

/* True when `apic_id` can be named as a destination in the configured mode. */
bool smpboot_apic_id_reachable(const struct smpboot_session *sb, uint32_t apic_id);

/*
 * Send one IPI to one APIC ID, no shorthand, fully checked: wait (bounded)
 * for the ICR to be idle, clear ESR, write (interrupts off meanwhile), wait
 * again, read ESR.
 * SMPBOOT_OK, UNREACHABLE, IPI_BUSY, CLOCK_STUCK, or IPI_ERROR with the ESR's
 * send-error bits in *esr (may be NULL).
 */
enum smpboot_status smpboot_ipi_send(const struct smpboot_session *sb, uint32_t apic_id, uint32_t icr_low,
                                     uint32_t *esr);

/*
 * The bring-up's STARTUP IPI (vector: the trampoline's page number): the
 * idle check and the ICR write, interrupts off around it, and no ESR access
 * (the INIT before it to the same APIC ID reports any error a SIPI could
 * meet). SMPBOOT_OK, UNREACHABLE, IPI_BUSY or CLOCK_STUCK.
 */
enum smpboot_status smpboot_sipi_send(const struct smpboot_session *sb, uint32_t apic_id, uint8_t vector);

/* ---- INIT (init_ipi.c): one sender, one settle rule ---- */

/*
 * How long after an INIT left the ICR nothing it guards is released: not
 * the stacks or pages the reset CPU might still touch, not a held slot it
 * might claim. The SDM's INIT delay: the one figure the architecture gives
 * for an INIT to take effect.
 */
#define SMPBOOT_INIT_SETTLE_NS SMPBOOT_SDM_INIT_DELAY_NS

/* INIT (assert, edge) to one APIC ID; *sent_ns (may be NULL) gets the send time. */
enum smpboot_status smpboot_init_send(const struct smpboot_session *sb, uint32_t apic_id, uint32_t *esr,
                                      uint64_t *sent_ns);

/* Wait until SMPBOOT_INIT_SETTLE_NS after `last_sent_ns`. SMPBOOT_OK or SMPBOOT_ERR_CLOCK_STUCK. */
enum smpboot_status smpboot_init_settle(const struct smpboot_session *sb, uint64_t last_sent_ns);

/* ---- the ready handshake (ready.c) ---- */

/*
 * Wait until `deadline` for the online APs among [first, end) to say ready;
 * record READY or NOT_READY. SMPBOOT_OK, SMPBOOT_ERR_PARTIAL or
 * SMPBOOT_ERR_CLOCK_STUCK.
 */
enum smpboot_status smpboot_ready_wait_range(struct smpboot_session *sb, uint32_t first, uint32_t end,
                                             uint64_t deadline);

/* Online and (with a ready handshake) ready, or the BSP: what smpboot_online_count() counts. */
static inline bool smpboot_cpu_is_online(const struct smpboot_cpu *cpu)
{
    enum smpboot_cpu_result result = __atomic_load_n(&cpu->result, __ATOMIC_ACQUIRE);
    return result == SMPBOOT_CPU_ONLINE || result == SMPBOOT_CPU_BSP;
}

/* Online, whether or not its entry said ready yet: it runs kernel code. */
static inline bool smpboot_cpu_runs_kernel(const struct smpboot_cpu *cpu)
{
    enum smpboot_cpu_result result = __atomic_load_n(&cpu->result, __ATOMIC_ACQUIRE);
    return result == SMPBOOT_CPU_ONLINE || result == SMPBOOT_CPU_NOT_READY;
}

#endif /* SMPBOOT_CORE_SESSION_H */
