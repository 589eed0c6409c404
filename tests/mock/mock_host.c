#define _GNU_SOURCE
#include "mock_host.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/session.h"
#include "core/slot.h"
#include "mock_arch.h"

#define PAGE 4096u
#define LOW_PAGES (MOCK_LOW_BYTES / PAGE)
#define HIGH_PAGES (MOCK_HIGH_BYTES / PAGE)
#define MAX_ALLOCS 4096
#define MAX_MAPS 1024
#define MAX_EVENTS 16384
#define MAX_THREADS 1024

struct allocation {
    uint64_t phys;
    uint64_t pages;
};

struct mapping {
    uint64_t virt;
    uint64_t phys;
    uint64_t pages;
    uint32_t flags;
};

static struct {
    pthread_mutex_t lock;
    uint8_t *low;
    uint8_t *high;
    uint8_t low_used[LOW_PAGES];
    uint8_t high_used[HIGH_PAGES];
    struct allocation allocs[MAX_ALLOCS];
    unsigned alloc_count;
    unsigned alloc_calls;
    unsigned fail_alloc_at;
    uint64_t forced_low_page;
    bool force_low_page;
    struct mapping maps[MAX_MAPS];
    unsigned map_count;
    unsigned map_calls;
    unsigned fail_map_at;

    bool x2apic;
    uint32_t bsp;
    bool icr_stuck;
    uint64_t bsp_stall_ns;
    bool some_ap_won;
    uint64_t init_delay_ns;
    bool clock_stopped;
    uint64_t clock_stopped_at;
    uint64_t clock_offset;   /* atomic: the BSP moves it on every ICR write when icr_cost_ns is set */
    uint64_t icr_cost_ns;
    uint64_t alloc_cost_ns;  /* each alloc_frames call moves the clock this much */
    uint64_t bsp_clock_reads; /* host.now_ns calls on the BSP's thread (atomic) */
    uint64_t map_cost_ns;    /* each map call moves the clock this much */
    uint32_t esr;            /* raised by every IPI sent */
    uint32_t accept_error_dest;
    uint32_t esr_collected;  /* send errors since the last ESR write, not readable yet */
    uint32_t esr_readable;   /* what an ESR read returns: those the last ESR write latched */
    /* The BSP's APIC accesses (its thread only): see mock_apic_accesses(). */
    struct mock_apic_counts windows[MOCK_IPI_KINDS][MOCK_IPI_KINDS];
    struct mock_apic_counts open_window;
    enum mock_ipi_kind open_after;
    unsigned apic_accesses;
    struct mock_icr icr[MOCK_MAX_ICR];
    unsigned icr_count;
    struct mock_event events[MAX_EVENTS];
    unsigned event_count;

    struct mock_ap aps[MOCK_MAX_APS];
    unsigned ap_count;
    pthread_t threads[MAX_THREADS];
    unsigned thread_count;

    struct smpboot_session *sb;
    unsigned protocol_errors;
    char last_error[160];
} m = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local uint32_t current_cpu;
static _Thread_local bool current_cpu_set;
static _Thread_local uint32_t pending_icr_high;
/* On an AP thread: its CPU, and the reset generation the thread belongs to. */
static _Thread_local struct mock_ap *current_ap;
static _Thread_local uint32_t current_ap_resets;

static uint64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void protocol_error(const char *what)
{
    m.protocol_errors++;
    snprintf(m.last_error, sizeof m.last_error, "%s", what);
}

static void log_event(enum mock_event_kind kind, uint64_t a, uint64_t b)
{
    if (m.event_count < MAX_EVENTS)
        m.events[m.event_count++] = (struct mock_event){kind, a, b};
}

void mock_reset(uint32_t bsp_apic_id, bool x2apic)
{
    if (!m.low) {
        m.low = aligned_alloc(PAGE, MOCK_LOW_BYTES);
        m.high = aligned_alloc(PAGE, MOCK_HIGH_BYTES);
    }
    memset(m.low_used, 0, sizeof m.low_used);
    memset(m.high_used, 0, sizeof m.high_used);
    m.low_used[0] = 1;  /* page 0: real-mode IVT, never handed out */
    memset(m.low, 0xCC, 1 << 20);
    m.alloc_count = m.alloc_calls = m.fail_alloc_at = 0;
    m.force_low_page = false;
    m.map_count = m.map_calls = m.fail_map_at = 0;
    m.x2apic = x2apic;
    m.bsp = bsp_apic_id;
    m.icr_stuck = false;
    m.esr = 0;
    m.accept_error_dest = 0xFFFFFFFFu;
    m.esr_collected = m.esr_readable = 0;
    memset(m.windows, 0, sizeof m.windows);
    memset(&m.open_window, 0, sizeof m.open_window);
    m.open_after = MOCK_IPI_NONE;
    m.apic_accesses = 0;
    m.bsp_stall_ns = 0;
    m.some_ap_won = false;
    m.init_delay_ns = 0;
    m.clock_stopped = false;
    __atomic_store_n(&m.clock_offset, 0, __ATOMIC_RELEASE);
    m.icr_cost_ns = 0;
    m.alloc_cost_ns = 0;
    __atomic_store_n(&m.bsp_clock_reads, 0, __ATOMIC_RELAXED);
    m.map_cost_ns = 0;
    m.icr_count = m.event_count = 0;
    m.ap_count = 0;
    m.thread_count = 0;
    m.sb = NULL;
    m.protocol_errors = 0;
    m.last_error[0] = '\0';
    current_cpu = bsp_apic_id;
    current_cpu_set = true;
    current_ap = NULL;
}

void mock_add_ap(uint32_t apic_id, enum mock_ap_behavior behavior)
{
    m.aps[m.ap_count++] = (struct mock_ap){.apic_id = apic_id, .behavior = behavior};
}

void mock_attach(struct smpboot *sb)
{
    m.sb = smpboot_session_of(sb);
}

void mock_fail_alloc_call(unsigned n) { m.fail_alloc_at = n; }
void mock_fail_map_call(unsigned n) { m.fail_map_at = n; }
void mock_set_icr_stuck(bool stuck) { m.icr_stuck = stuck; }
void mock_set_esr(uint32_t value) { m.esr = value; }
void mock_set_accept_error(uint32_t dest) { m.accept_error_dest = dest; }
void mock_stall_bsp_once(uint64_t ns) { m.bsp_stall_ns = ns; }
void mock_set_init_delay(uint64_t ns) { m.init_delay_ns = ns; }
void mock_set_clock_now(uint64_t value)
{
    __atomic_store_n(&m.clock_offset, value - clock_ns(), __ATOMIC_RELEASE);
}

void mock_set_icr_cost(uint64_t ns) { m.icr_cost_ns = ns; }
void mock_set_alloc_cost(uint64_t ns) { m.alloc_cost_ns = ns; }
uint64_t mock_bsp_clock_reads(void) { return __atomic_load_n(&m.bsp_clock_reads, __ATOMIC_ACQUIRE); }
void mock_set_map_cost(uint64_t ns) { m.map_cost_ns = ns; }

void mock_stop_clock(void)
{
    m.clock_stopped_at = clock_ns() + __atomic_load_n(&m.clock_offset, __ATOMIC_ACQUIRE);
    __atomic_store_n(&m.clock_stopped, true, __ATOMIC_RELEASE);
}

void mock_force_low_page(uint64_t phys)
{
    m.forced_low_page = phys;
    m.force_low_page = true;
}

void mock_become_cpu(uint32_t apic_id)
{
    current_cpu = apic_id;
    current_cpu_set = true;
}

struct mock_ap *mock_ap_by_id(uint32_t apic_id)
{
    for (unsigned i = 0; i < m.ap_count; i++)
        if (m.aps[i].apic_id == apic_id)
            return &m.aps[i];
    return NULL;
}

unsigned mock_ap_count(void)
{
    return m.ap_count;
}

struct mock_ap *mock_ap_at(unsigned index)
{
    return index < m.ap_count ? &m.aps[index] : NULL;
}

/* ---- memory ---- */

void *mock_phys_to_virt(uint64_t phys)
{
    if (phys < MOCK_LOW_BYTES)
        return m.low + phys;
    if (phys >= MOCK_HIGH_BASE && phys < MOCK_HIGH_BASE + MOCK_HIGH_BYTES)
        return m.high + (phys - MOCK_HIGH_BASE);
    return NULL;
}

static bool run_free(const uint8_t *used, uint64_t first, uint64_t pages)
{
    for (uint64_t p = first; p < first + pages; p++)
        if (used[p])
            return false;
    return true;
}

static bool find_run(uint8_t *used, uint64_t total, uint64_t base, uint64_t pages, uint64_t limit,
                     uint64_t align, uint64_t *phys)
{
    uint64_t step = align / PAGE ? align / PAGE : 1;
    for (uint64_t p = 0; p + pages <= total; p += step) {
        uint64_t addr = base + p * PAGE;
        if (addr % align)
            continue;
        if (addr + pages * PAGE > limit)
            return false;
        if (run_free(used, p, pages)) {
            memset(used + p, 1, pages);
            *phys = addr;
            return true;
        }
    }
    return false;
}

static enum smpboot_status host_alloc(void *ctx, size_t pages, uint64_t limit, uint64_t align,
                                      uint64_t *phys)
{
    (void)ctx;
    pthread_mutex_lock(&m.lock);
    enum smpboot_status status = SMPBOOT_OK;
    m.alloc_calls++;
    if (m.alloc_cost_ns)
        __atomic_add_fetch(&m.clock_offset, m.alloc_cost_ns, __ATOMIC_ACQ_REL);
    if (m.fail_alloc_at && m.alloc_calls == m.fail_alloc_at) {
        status = SMPBOOT_ERR_NO_MEMORY;
    } else if (m.force_low_page && limit <= (1u << 20)) {
        m.force_low_page = false;
        *phys = m.forced_low_page;
    } else if (!find_run(m.low_used, LOW_PAGES, 0, pages, limit, align, phys)
               && !find_run(m.high_used, HIGH_PAGES, MOCK_HIGH_BASE, pages, limit, align, phys)) {
        status = SMPBOOT_ERR_NO_MEMORY;
    }
    if (status == SMPBOOT_OK) {
        m.allocs[m.alloc_count++] = (struct allocation){*phys, pages};
        log_event(MOCK_EV_ALLOC, *phys, pages);
    }
    pthread_mutex_unlock(&m.lock);
    return status;
}

static void host_free(void *ctx, uint64_t phys, size_t pages)
{
    (void)ctx;
    pthread_mutex_lock(&m.lock);
    log_event(MOCK_EV_FREE, phys, pages);
    for (unsigned k = 0; k < m.ap_count; k++)
        if (m.aps[k].init_in_flight)
            protocol_error("frames freed while an INIT is still on its way");
    unsigned i;
    for (i = 0; i < m.alloc_count; i++)
        if (m.allocs[i].phys == phys)
            break;
    if (i == m.alloc_count) {
        protocol_error("free of a frame that was not allocated");
    } else {
        if (m.allocs[i].pages != pages)
            protocol_error("free with a page count that differs from the allocation");
        m.allocs[i] = m.allocs[--m.alloc_count];
        if (phys < MOCK_LOW_BYTES)
            memset(m.low_used + phys / PAGE, 0, pages);
        else if (phys >= MOCK_HIGH_BASE)
            memset(m.high_used + (phys - MOCK_HIGH_BASE) / PAGE, 0, pages);
    }
    pthread_mutex_unlock(&m.lock);
}

uint64_t mock_alloc_high_frame(void)
{
    uint64_t phys = 0;
    pthread_mutex_lock(&m.lock);
    find_run(m.high_used, HIGH_PAGES, MOCK_HIGH_BASE, 1, UINT64_MAX, PAGE, &phys);
    pthread_mutex_unlock(&m.lock);
    return phys;
}

bool mock_phys_is_allocated(uint64_t phys, uint64_t bytes)
{
    bool found = false;
    pthread_mutex_lock(&m.lock);
    for (unsigned i = 0; i < m.alloc_count; i++)
        if (phys >= m.allocs[i].phys && phys + bytes <= m.allocs[i].phys + m.allocs[i].pages * PAGE)
            found = true;
    pthread_mutex_unlock(&m.lock);
    return found;
}

uint64_t mock_pages_outstanding(void)
{
    uint64_t pages = 0;
    pthread_mutex_lock(&m.lock);
    for (unsigned i = 0; i < m.alloc_count; i++)
        pages += m.allocs[i].pages;
    pthread_mutex_unlock(&m.lock);
    return pages;
}

unsigned mock_alloc_calls(void) { return m.alloc_calls; }
unsigned mock_maps_outstanding(void) { return m.map_count; }

int mock_mapping_flags(uint64_t virt)
{
    int flags = -1;
    pthread_mutex_lock(&m.lock);
    for (unsigned i = 0; i < m.map_count; i++)
        if (virt >= m.maps[i].virt && virt < m.maps[i].virt + m.maps[i].pages * PAGE)
            flags = (int)m.maps[i].flags;
    pthread_mutex_unlock(&m.lock);
    return flags;
}

static void *host_phys_to_virt(void *ctx, uint64_t phys)
{
    (void)ctx;
    return mock_phys_to_virt(phys);
}

static enum smpboot_status host_map(void *ctx, uint64_t virt, uint64_t phys, size_t pages,
                                    uint32_t flags)
{
    (void)ctx;
    pthread_mutex_lock(&m.lock);
    enum smpboot_status status = SMPBOOT_OK;
    m.map_calls++;
    if (m.map_cost_ns)
        __atomic_add_fetch(&m.clock_offset, m.map_cost_ns, __ATOMIC_ACQ_REL);
    if (m.fail_map_at && m.map_calls == m.fail_map_at)
        status = SMPBOOT_ERR_MAP_FAILED;
    else
        m.maps[m.map_count++] = (struct mapping){virt, phys, pages, flags};
    if (status == SMPBOOT_OK)
        log_event(MOCK_EV_MAP, virt, pages);
    pthread_mutex_unlock(&m.lock);
    return status;
}

static void host_unmap(void *ctx, uint64_t virt, size_t pages)
{
    (void)ctx;
    pthread_mutex_lock(&m.lock);
    log_event(MOCK_EV_UNMAP, virt, pages);
    unsigned i;
    for (i = 0; i < m.map_count; i++)
        if (m.maps[i].virt == virt && m.maps[i].pages == pages)
            break;
    if (i == m.map_count)
        protocol_error("unmap of a range that was not mapped");
    else
        m.maps[i] = m.maps[--m.map_count];
    pthread_mutex_unlock(&m.lock);
}

/* ---- the simulated trampoline and APs ---- */

struct ap_thread_args {
    struct mock_ap *ap;
    struct smpboot_slot *slot;
    uint32_t resets;  /* the AP's reset generation when the SIPI woke it */
};

/* The start of every AP thread: take its arguments and become that AP. */
static struct ap_thread_args adopt_ap_thread(void *arg)
{
    struct ap_thread_args args = *(struct ap_thread_args *)arg;
    free(arg);
    mock_become_cpu(args.ap->apic_id);
    current_ap = args.ap;
    current_ap_resets = args.resets;  /* its reset generation when the SIPI woke it */
    return args;
}

/* An INIT landed on this thread's CPU since it woke: the CPU is elsewhere now. */
static void cut_off_if_reset(void)
{
    if (current_ap && __atomic_load_n(&current_ap->resets, __ATOMIC_ACQUIRE) != current_ap_resets)
        pthread_exit(0);
}

static struct smpboot_slot *slot_for(uint32_t apic_id)
{
    struct smpboot_session *sb = m.sb;
    if (!sb || !sb->slots)
        return NULL;
    struct smpboot_slot *slots = sb->slots;
    for (uint32_t i = 0; i < sb->cpu_count; i++)
        if (slots[i].apic_id == apic_id)
            return &slots[i];
    return NULL;
}

/*
 * What the trampoline does in 32-bit mode: win the slot or touch nothing,
 * waiting while the BSP holds it for a re-INIT (asm/trampoline.asm).
 */
static bool claim(struct mock_ap *ap, struct smpboot_slot *slot)
{
    uint32_t expected = SMPBOOT_SLOT_KICKED;
    while (!__atomic_compare_exchange_n(&slot->state, &expected, SMPBOOT_SLOT_CLAIMED, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        if (expected != SMPBOOT_SLOT_HELD) {
            __atomic_store_n(&ap->lost_slot, true, __ATOMIC_RELEASE);
            return false;
        }
        if (current_ap == NULL) {
            /* On the BSP's thread (a SIPI's delivery): the BSP sends SIPIs to KICKED slots only. */
            protocol_error("a SIPI reached an AP whose slot is HELD");
            return false;
        }
        cut_off_if_reset();
        sched_yield();
        expected = SMPBOOT_SLOT_KICKED;
    }
    __atomic_store_n(&ap->won_slot, true, __ATOMIC_RELEASE);
    __atomic_store_n(&m.some_ap_won, true, __ATOMIC_RELEASE);
    __atomic_store_n(&slot->progress, SMPBOOT_PROGRESS_PROTECTED_MODE, __ATOMIC_RELEASE);
    slot->tsc_claimed = __builtin_ia32_rdtsc();
    __atomic_store_n(&slot->progress, SMPBOOT_PROGRESS_LONG_MODE, __ATOMIC_RELEASE);
    slot->tsc_long_mode = __builtin_ia32_rdtsc();
    if (ap->behavior == MOCK_AP_STALL)
        return false;
    uint64_t top = slot->stack_top;
    ap->stack_top_seen = top;
    if (top % 16)
        protocol_error("AP stack top not 16-byte aligned");
    __atomic_store_n(&slot->progress, SMPBOOT_PROGRESS_STACK, __ATOMIC_RELEASE);
    return true;
}

static void *ap_thread(void *arg)
{
    struct ap_thread_args args = adopt_ap_thread(arg);
    smpboot_ap_main(args.slot);
    protocol_error("smpboot_ap_main returned");
    return NULL;
}

/* A late AP: it reaches the trampoline only once the BSP has given up on it. */
static void *late_ap_thread(void *arg)
{
    struct ap_thread_args args = adopt_ap_thread(arg);
    uint64_t give_up = clock_ns() + 20ull * 1000000000ull;
    while (__atomic_load_n(&args.slot->state, __ATOMIC_ACQUIRE) != SMPBOOT_SLOT_TIMED_OUT) {
        if (__atomic_load_n(&args.ap->reset_while_late, __ATOMIC_ACQUIRE) || clock_ns() > give_up)
            return NULL;
        sched_yield();
    }
    uint32_t progress_before = __atomic_load_n(&args.slot->progress, __ATOMIC_ACQUIRE);
    if (claim(args.ap, args.slot))
        protocol_error("a late AP won its slot");
    if (__atomic_load_n(&args.slot->progress, __ATOMIC_ACQUIRE) != progress_before)
        protocol_error("a late AP wrote to its slot");
    return NULL;
}

/* A slow AP: its trampoline gets to the slot only once the BSP has sent every SIPI. */
static void *slow_ap_thread(void *arg)
{
    struct ap_thread_args args = adopt_ap_thread(arg);
    uint64_t give_up = clock_ns() + 20ull * 1000000000ull;
    while (__atomic_load_n(&args.ap->sipis_sent, __ATOMIC_ACQUIRE) < m.sb->config.sipi_count) {
        if (clock_ns() > give_up)
            return NULL;
        sched_yield();
    }
    if (claim(args.ap, args.slot))
        smpboot_ap_main(args.slot);
    return NULL;
}

/* MOCK_AP_CLAIMS_DURING_REINIT, first wake-up: see mock_host.h. */
static void *reinit_racer_thread(void *arg)
{
    struct ap_thread_args args = adopt_ap_thread(arg);
    uint64_t give_up = clock_ns() + 20ull * 1000000000ull;
    while (__atomic_load_n(&args.ap->inits_sent, __ATOMIC_ACQUIRE) < 2) {
        if (clock_ns() > give_up)
            return NULL;
        sched_yield();
    }
    /* The re-INIT is on its way: claim the slot as soon as it says KICKED. */
    while (__atomic_load_n(&args.slot->state, __ATOMIC_ACQUIRE) != SMPBOOT_SLOT_KICKED) {
        cut_off_if_reset();
        if (clock_ns() > give_up)
            return NULL;
        sched_yield();
    }
    cut_off_if_reset();
    if (!claim(args.ap, args.slot))
        return NULL;
    /* Still in the trampoline when that INIT lands: cut off there. */
    while (clock_ns() < give_up) {
        cut_off_if_reset();
        sched_yield();
    }
    protocol_error("the re-INIT never landed");
    return NULL;
}

/* MOCK_AP_STALE_SIPI_AFTER_REINIT: the trampoline run by the SIPI that outlived the re-INIT. */
static void *stale_sipi_thread(void *arg)
{
    struct ap_thread_args args = adopt_ap_thread(arg);
    if (claim(args.ap, args.slot))
        smpboot_ap_main(args.slot);
    return NULL;
}

static void spawn(void *(*fn)(void *), struct mock_ap *ap, struct smpboot_slot *slot)
{
    struct ap_thread_args *args = malloc(sizeof *args);
    *args = (struct ap_thread_args){ap, slot, __atomic_load_n(&ap->resets, __ATOMIC_ACQUIRE)};
    if (m.thread_count == MAX_THREADS || pthread_create(&m.threads[m.thread_count++], NULL, fn, args))
        protocol_error("cannot create an AP thread");
}

static void deliver_init(struct mock_ap *ap)
{
    ap->inits++;
    ap->init_in_flight = false;
    __atomic_add_fetch(&ap->resets, 1, __ATOMIC_ACQ_REL);
    ap->sipis = 0;
    ap->init_at_ns = clock_ns();
    if (ap->behavior == MOCK_AP_LATE)
        __atomic_store_n(&ap->reset_while_late, true, __ATOMIC_RELEASE);
    /* Back to wait-for-SIPI, wherever it was (its thread has parked: it ended). */
    ap->running = false;
    if (ap->behavior == MOCK_AP_STALE_SIPI_AFTER_REINIT && ap->inits == 2) {
        struct smpboot_slot *slot = slot_for(ap->apic_id);
        if (!slot) {
            protocol_error("an AP found no slot");
            return;
        }
        ap->running = true;
        spawn(stale_sipi_thread, ap, slot);
    }
}

static void deliver_sipi(struct mock_ap *ap, uint8_t vector)
{
    struct smpboot_session *sb = m.sb;
    if (ap->running)
        return;  /* only a CPU in wait-for-SIPI reacts */
    ap->sipis++;
    if (!sb || (uint64_t)vector << 12 != sb->tramp_phys) {
        protocol_error("SIPI vector does not point at the installed trampoline");
        return;
    }
    bool answers = false;
    switch (ap->behavior) {
    case MOCK_AP_PROMPT: answers = true; break;
    case MOCK_AP_SECOND_SIPI: answers = ap->sipis >= 2; break;
    case MOCK_AP_STALL: answers = true; break;
    case MOCK_AP_LATE: answers = true; break;
    case MOCK_AP_NEEDS_SDM: answers = clock_ns() - ap->init_at_ns >= 10000000ull; break;
    case MOCK_AP_SILENT: answers = false; break;
    case MOCK_AP_SLOW: answers = true; break;
    case MOCK_AP_CLAIMS_DURING_REINIT: answers = true; break;
    case MOCK_AP_STALE_SIPI_AFTER_REINIT: answers = false; break;
    }
    if (!answers)
        return;
    ap->running = true;
    struct smpboot_slot *slot = slot_for(ap->apic_id);
    if (!slot) {
        protocol_error("an AP found no slot");
        return;
    }
    if (ap->behavior == MOCK_AP_SLOW) {
        spawn(slow_ap_thread, ap, slot);
        return;
    }
    if (ap->behavior == MOCK_AP_CLAIMS_DURING_REINIT
        && __atomic_load_n(&ap->inits_sent, __ATOMIC_ACQUIRE) < 2) {
        spawn(reinit_racer_thread, ap, slot);
        return;
    }
    if (ap->behavior == MOCK_AP_LATE) {
        __atomic_store_n(&ap->reset_while_late, false, __ATOMIC_RELEASE);
        spawn(late_ap_thread, ap, slot);
        return;
    }
    if (claim(ap, slot))
        spawn(ap_thread, ap, slot);
}

static void deliver(uint32_t dest, uint32_t low)
{
    struct mock_icr rec = {
        .sender = current_cpu,
        .dest = dest,
        .delivery = low & 0x700u,
        .vector = (uint8_t)(low & 0xFFu),
        .level_assert = (low >> 14) & 1,
        .level_trigger = (low >> 15) & 1,
        .shorthand = (low >> 18) & 3,
        .logical = (low >> 11) & 1,
        .at_ns = clock_ns(),
    };
    if (m.icr_cost_ns)
        __atomic_add_fetch(&m.clock_offset, m.icr_cost_ns, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&m.lock);
    if (m.icr_count < MOCK_MAX_ICR)
        m.icr[m.icr_count++] = rec;
    log_event(MOCK_EV_ICR, dest, rec.delivery);
    /* Collected now, readable only after the next ESR write (SDM: "write, then read"). */
    m.esr_collected |= m.esr;
    if (dest == m.accept_error_dest)
        m.esr_collected |= 0x04u;
    if (rec.shorthand)
        protocol_error("IPI with a destination shorthand");
    if (dest == m.bsp && rec.delivery != 0x400u && rec.delivery != 0x000u)
        protocol_error("INIT or SIPI sent to the BSP");
    struct mock_ap *ap = mock_ap_by_id(dest);
    if (ap && rec.delivery == 0x500u) {
        __atomic_add_fetch(&ap->inits_sent, 1, __ATOMIC_ACQ_REL);
        if (m.init_delay_ns) {
            ap->init_in_flight = true;
            ap->init_lands_at_ns = rec.at_ns + m.init_delay_ns;
        } else {
            deliver_init(ap);
        }
    } else if (ap && rec.delivery == 0x600u) {
        __atomic_add_fetch(&ap->sipis_sent, 1, __ATOMIC_ACQ_REL);
        if (ap->init_in_flight)
            deliver_init(ap);  /* in order: the INIT before it lands first */
        deliver_sipi(ap, rec.vector);
    }
    pthread_mutex_unlock(&m.lock);
    /* The BSP descheduled right after the SIPI that woke an AP. */
    if (current_cpu == m.bsp && m.bsp_stall_ns && __atomic_load_n(&m.some_ap_won, __ATOMIC_ACQUIRE)) {
        struct timespec pause = {(time_t)(m.bsp_stall_ns / 1000000000ull),
                                 (long)(m.bsp_stall_ns % 1000000000ull)};
        m.bsp_stall_ns = 0;
        nanosleep(&pause, NULL);
    }
}

/* ---- local APIC ---- */

/* The APIC accesses counted are the BSP's own: never an AP thread's. */
static bool on_bsp_thread(void)
{
    return !current_ap && current_cpu == m.bsp;
}

static enum mock_apic_reg reg_index(uint32_t reg)
{
    switch (reg) {
    case SMPBOOT_APIC_REG_ID: return MOCK_REG_ID;
    case SMPBOOT_APIC_REG_ESR: return MOCK_REG_ESR;
    case SMPBOOT_APIC_REG_ICR_LOW: return MOCK_REG_ICR_LOW;
    case SMPBOOT_APIC_REG_ICR_HIGH: return MOCK_REG_ICR_HIGH;
    default: return MOCK_REG_OTHER;
    }
}

static enum mock_ipi_kind kind_of(uint32_t icr_low)
{
    switch (icr_low & 0x700u) {
    case 0x000u: return MOCK_IPI_FIXED;
    case 0x400u: return MOCK_IPI_NMI;
    case 0x500u: return MOCK_IPI_INIT;
    case 0x600u: return MOCK_IPI_SIPI;
    default: return MOCK_IPI_OTHER;
    }
}

static void count_access(enum mock_apic_reg reg, bool write)
{
    if (!on_bsp_thread())
        return;
    m.apic_accesses++;
    if (write)
        m.open_window.writes[reg]++;
    else
        m.open_window.reads[reg]++;
}

static void add_counts(struct mock_apic_counts *sum, const struct mock_apic_counts *c)
{
    sum->windows += c->windows;
    for (int r = 0; r < MOCK_REG_COUNT; r++) {
        sum->reads[r] += c->reads[r];
        sum->writes[r] += c->writes[r];
    }
}

/* The BSP wrote an IPI to the ICR (the write already counted): it ends the open window. */
static void close_window(uint32_t icr_low)
{
    if (!on_bsp_thread())
        return;
    enum mock_ipi_kind kind = kind_of(icr_low);
    m.open_window.windows = 1;
    add_counts(&m.windows[m.open_after][kind], &m.open_window);
    memset(&m.open_window, 0, sizeof m.open_window);
    m.open_after = kind;
}

static bool kind_matches(enum mock_ipi_kind kind, enum mock_ipi_kind query)
{
    return query == MOCK_IPI_ANY || kind == query;
}

struct mock_apic_counts mock_apic_accesses(enum mock_ipi_kind after, enum mock_ipi_kind before)
{
    struct mock_apic_counts sum;
    memset(&sum, 0, sizeof sum);
    for (int a = 0; a < MOCK_IPI_KINDS; a++)
        for (int b = 0; b < MOCK_IPI_KINDS; b++)
            if (kind_matches((enum mock_ipi_kind)a, after) && kind_matches((enum mock_ipi_kind)b, before))
                add_counts(&sum, &m.windows[a][b]);
    /* The open window: after the last IPI, no IPI behind it yet. */
    bool open_used = false;
    for (int r = 0; r < MOCK_REG_COUNT; r++)
        open_used = open_used || m.open_window.reads[r] || m.open_window.writes[r];
    if (open_used && kind_matches(m.open_after, after) && kind_matches(MOCK_IPI_NONE, before)) {
        add_counts(&sum, &m.open_window);
        sum.windows++;
    }
    return sum;
}

unsigned mock_apic_access_total(void)
{
    return m.apic_accesses;
}

static uint32_t apic_read(void *ctx, uint32_t reg)
{
    (void)ctx;
    count_access(reg_index(reg), false);
    switch (reg) {
    case SMPBOOT_APIC_REG_ID: return m.x2apic ? current_cpu : current_cpu << 24;
    case SMPBOOT_APIC_REG_ICR_LOW: return m.icr_stuck ? (1u << 12) : 0;
    case SMPBOOT_APIC_REG_ESR: {
        pthread_mutex_lock(&m.lock);
        uint32_t value = m.esr_readable;
        pthread_mutex_unlock(&m.lock);
        return value;
    }
    default: return 0;
    }
}

static void apic_write(void *ctx, uint32_t reg, uint32_t value)
{
    (void)ctx;
    count_access(reg_index(reg), true);
    if (reg == SMPBOOT_APIC_REG_ESR) {
        if (m.x2apic && value != 0)
            protocol_error("ESR written with a nonzero value in x2APIC mode (#GP)");
        /* The write latches what was collected since the last one, and starts afresh. */
        pthread_mutex_lock(&m.lock);
        m.esr_readable = m.esr_collected;
        m.esr_collected = 0;
        pthread_mutex_unlock(&m.lock);
    }
    if ((reg == SMPBOOT_APIC_REG_ICR_HIGH || reg == SMPBOOT_APIC_REG_ICR_LOW)
        && !mock_arch_irqs_masked())
        protocol_error("ICR written in two stores with interrupts on");
    if (reg == SMPBOOT_APIC_REG_ICR_HIGH) {
        if (m.x2apic)
            protocol_error("ICR_HIGH written in x2APIC mode");
        pending_icr_high = value;
    } else if (reg == SMPBOOT_APIC_REG_ICR_LOW) {
        if (m.x2apic)
            protocol_error("ICR_LOW written alone in x2APIC mode");
        else if (!m.icr_stuck)
            deliver(pending_icr_high >> 24, value);
        close_window(value);
    }
}

static void apic_write_icr(void *ctx, uint64_t icr)
{
    (void)ctx;
    count_access(MOCK_REG_ICR, true);
    if (!m.x2apic && (icr >> 32) > 0xFFu)
        protocol_error("xAPIC destination wider than 8 bits");
    if (m.x2apic && !mock_arch_take_fence())
        protocol_error("x2APIC ICR written without a store fence before it");
    if (!m.icr_stuck || m.x2apic)
        deliver((uint32_t)(icr >> 32), (uint32_t)icr);
    close_window((uint32_t)icr);
}

/* Every mock call is a moment at which a delayed INIT may land. */
static void land_due_inits(void)
{
    if (!m.init_delay_ns)
        return;
    pthread_mutex_lock(&m.lock);
    uint64_t t = clock_ns();
    for (unsigned i = 0; i < m.ap_count; i++)
        if (m.aps[i].init_in_flight && t >= m.aps[i].init_lands_at_ns)
            deliver_init(&m.aps[i]);
    pthread_mutex_unlock(&m.lock);
}

static uint64_t host_now(void *ctx)
{
    (void)ctx;
    if (current_cpu == m.bsp)
        __atomic_add_fetch(&m.bsp_clock_reads, 1, __ATOMIC_ACQ_REL);
    land_due_inits();
    cut_off_if_reset();
    if (__atomic_load_n(&m.clock_stopped, __ATOMIC_ACQUIRE))
        return m.clock_stopped_at;
    return clock_ns() + __atomic_load_n(&m.clock_offset, __ATOMIC_ACQUIRE);
}

static void host_relax(void *ctx)
{
    (void)ctx;
    land_due_inits();
    cut_off_if_reset();
    sched_yield();
}

void mock_fill_host(struct smpboot_host *host, bool with_write_icr)
{
    *host = (struct smpboot_host){
        .ctx = &m,
        .apic = {.ctx = &m, .read = apic_read, .write = apic_write,
                 .write_icr = with_write_icr ? apic_write_icr : NULL},
        .now_ns = host_now,
        .alloc_frames = host_alloc,
        .free_frames = host_free,
        .phys_to_virt = host_phys_to_virt,
        .map = host_map,
        .unmap = host_unmap,
        .log = NULL,
        .relax = host_relax,
    };
}

#define MAX_HEAP_STACKS 1024
static struct {
    void *base[MAX_HEAP_STACKS];
    size_t bytes[MAX_HEAP_STACKS];
    unsigned count;
    unsigned calls;
    unsigned fail_call;
} heap_stacks;

static void *heap_alloc_stack(void *ctx, size_t bytes)
{
    (void)ctx;
    if (++heap_stacks.calls == heap_stacks.fail_call || heap_stacks.count == MAX_HEAP_STACKS)
        return NULL;
    void *base = aligned_alloc(PAGE, bytes);
    heap_stacks.base[heap_stacks.count] = base;
    heap_stacks.bytes[heap_stacks.count++] = bytes;
    return base;
}

static void heap_free_stack(void *ctx, void *base, size_t bytes)
{
    (void)ctx;
    for (unsigned i = 0; i < heap_stacks.count; i++) {
        if (heap_stacks.base[i] != base)
            continue;
        if (heap_stacks.bytes[i] != bytes)
            protocol_error("free_stack with a size that differs from the allocation");
        free(base);
        heap_stacks.count--;
        heap_stacks.base[i] = heap_stacks.base[heap_stacks.count];
        heap_stacks.bytes[i] = heap_stacks.bytes[heap_stacks.count];
        return;
    }
    protocol_error("free_stack of a stack alloc_stack never returned");
}

void mock_use_heap_stacks(struct smpboot_host *host, unsigned fail_call)
{
    heap_stacks.calls = 0;
    heap_stacks.fail_call = fail_call;
    host->alloc_stack = heap_alloc_stack;
    host->free_stack = heap_free_stack;
}

unsigned mock_heap_stacks_outstanding(void)
{
    return heap_stacks.count;
}

bool mock_join_aps(void)
{
    uint64_t deadline = clock_ns() + 30ull * 1000000000ull;
    for (unsigned i = 0; i < m.thread_count; i++) {
        for (;;) {
            int rc = pthread_tryjoin_np(m.threads[i], NULL);
            if (rc == 0)
                break;
            if (clock_ns() > deadline)
                return false;
            sched_yield();
        }
    }
    m.thread_count = 0;
    return true;
}

unsigned mock_icr_count(void) { return m.icr_count; }
const struct mock_icr *mock_icr_at(unsigned index) { return index < m.icr_count ? &m.icr[index] : NULL; }
unsigned mock_event_count(void) { return m.event_count; }
const struct mock_event *mock_event_at(unsigned index) { return index < m.event_count ? &m.events[index] : NULL; }
unsigned mock_protocol_errors(void) { return m.protocol_errors; }
const char *mock_last_protocol_error(void) { return m.last_error; }
