/* SPDX-License-Identifier: MIT */
/*
 * smpboot_start(): the BSP side of INIT-SIPI-SIPI (protocol v2, slot.h).
 *
 * Serial and parallel bring-up are the same routine over a different batch
 * of CPUs: all APs at once, or one at a time. Within a batch: every INIT, one
 * INIT delay, SIPIs only to APs that have not answered, then waits that end
 * early once every AP has answered or gone online. Every wait is bounded by
 * the host clock, and ends early if that clock stops; the state word in each
 * slot is the only thing BSP and AP race on, always by compare-and-swap.
 */
#include "session.h"
#include "../arch/arch.h"
#include "../trampoline/trampoline.h"

struct attempt {
    uint64_t init_delay_ns;
    uint32_t sipi_count;
    uint64_t sipi_spacing_ns;
};

static const struct attempt sdm_attempt = {
    .init_delay_ns = SMPBOOT_SDM_INIT_DELAY_NS,
    .sipi_count = 2,
    .sipi_spacing_ns = SMPBOOT_SDM_SIPI_SPACING_NS,
};

struct engine {
    struct smpboot_session *sb;
    uint64_t total_deadline;
    uint8_t vector;
    bool icr_stuck;
    bool clock_stuck;
    bool first_init_sent;
    struct smpboot_watch watch;
    struct smpboot_start_stats *stats;
};

enum wait_goal {
    GOAL_TIME_ONLY,  /* sleep, but keep recording APs that go online */
    GOAL_ANSWERED,   /* every AP of the batch has answered */
    GOAL_ONLINE,     /* every answered AP is online */
};

static uint64_t now(struct engine *e)
{
    uint64_t t;
    if (!smpboot_watch_read(e->sb, &e->watch, &t) && !e->clock_stuck) {
        e->clock_stuck = true;
        smpboot_logf(e->sb, SMPBOOT_LOG_ERROR,
                     "start: host clock stopped at %lu ns (now_ns must advance with interrupts "
                     "off): every wait ends now",
                     (unsigned long)t);
    }
    return t;
}

static uint64_t deadline_after(struct engine *e, uint64_t ns)
{
    uint64_t d = smpboot_deadline(now(e), ns);
    return d < e->total_deadline ? d : e->total_deadline;
}

/* A step's host-clock time as the timeline stores it: since start, and never 0 once reached. */
static uint64_t since_start(const struct smpboot_session *sb, uint64_t t)
{
    return t > sb->start_ns ? t - sb->start_ns : 1;
}

static enum smpboot_cpu_result result_of(const struct smpboot_cpu *cpu)
{
    return __atomic_load_n(&cpu->result, __ATOMIC_ACQUIRE);
}

static uint32_t state_of(const struct smpboot_slot *slot)
{
    return __atomic_load_n(&slot->state, __ATOMIC_ACQUIRE);
}

static bool swap_state(struct smpboot_slot *slot, uint32_t from, uint32_t to)
{
    return __atomic_compare_exchange_n(&slot->state, &from, to, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

/*
 * Kicked, and no result yet: the BSP still owes it a decision. Only the BSP
 * writes results, each after the state word has settled the matter.
 */
static bool in_flight(const struct engine *e, uint32_t i)
{
    return result_of(&e->sb->cpus[i]) == SMPBOOT_CPU_NOT_STARTED
           && state_of(smpboot_slot_at(e->sb, i)) != SMPBOOT_SLOT_IDLE;
}

static void set_result(struct smpboot_cpu *cpu, enum smpboot_cpu_result result)
{
    __atomic_store_n(&cpu->result, result, __ATOMIC_RELEASE);
}

/* The AP is ONLINE (seen with acquire): everything it wrote to its slot before is ours to read. */
static void record_online(struct smpboot_session *sb, uint32_t i)
{
    struct smpboot_cpu *cpu = &sb->cpus[i];
    const struct smpboot_slot *slot = smpboot_slot_at(sb, i);
    cpu->progress = SMPBOOT_PROGRESS_ONLINE;
    cpu->timeline.c_entry = since_start(sb, slot->c_entry_ns);
    cpu->timeline.online = since_start(sb, slot->c_entry_ns + slot->online_after_ns);
    set_result(cpu, SMPBOOT_CPU_ONLINE);
}

struct tally {
    uint32_t unanswered;
    uint32_t not_online;
};

/* One pass over the batch: record every AP that went online; count the rest. */
static struct tally poll_batch(struct engine *e, uint32_t first, uint32_t end)
{
    struct tally tally = {0, 0};
    for (uint32_t i = first; i < end; i++) {
        if (!in_flight(e, i))
            continue;
        switch (state_of(smpboot_slot_at(e->sb, i))) {
        case SMPBOOT_SLOT_KICKED:
        case SMPBOOT_SLOT_HELD:
            tally.unanswered++;
            break;
        case SMPBOOT_SLOT_CLAIMED:
            tally.not_online++;
            break;
        case SMPBOOT_SLOT_ONLINE:
            record_online(e->sb, i);
            break;
        default:
            break;
        }
    }
    return tally;
}

/*
 * Waits until `until` or the goal; the time it took is added to *spent (a
 * stats field), counted from the clock reading `until` was computed from.
 */
static void wait_batch(struct engine *e, uint32_t first, uint32_t end, uint64_t until,
                       enum wait_goal goal, uint64_t *spent)
{
    uint64_t began = e->watch.last, t = began;
    for (;;) {
        struct tally tally = poll_batch(e, first, end);
        if (goal == GOAL_ANSWERED && tally.unanswered == 0)
            break;
        if (goal == GOAL_ONLINE && tally.unanswered == 0 && tally.not_online == 0)
            break;
        t = now(e);
        if (t >= until || e->clock_stuck)
            break;
        smpboot_relax(e->sb);
    }
    *spent += t > began ? t - began : 0;
}

static void note_send_failure(struct engine *e, uint32_t i, enum smpboot_status status,
                              uint32_t esr, const char *what)
{
    struct smpboot_cpu *cpu = &e->sb->cpus[i];
    struct smpboot_slot *slot = smpboot_slot_at(e->sb, i);
    if (status == SMPBOOT_ERR_IPI_BUSY)
        e->icr_stuck = true;
    if (status == SMPBOOT_ERR_CLOCK_STUCK)
        e->clock_stuck = true;
    /* If it answered an earlier SIPI after all, the poll takes it from here. */
    if (!swap_state(slot, SMPBOOT_SLOT_KICKED, SMPBOOT_SLOT_TIMED_OUT)
        && !swap_state(slot, SMPBOOT_SLOT_HELD, SMPBOOT_SLOT_TIMED_OUT))
        return;
    cpu->esr = esr;
    set_result(cpu, SMPBOOT_CPU_SEND_FAILED);
    smpboot_logf(e->sb, SMPBOOT_LOG_ERROR, "APIC %u: %s IPI failed: %s (ESR %x)", cpu->apic_id,
                 what, smpboot_status_str(status), esr);
}

/* `began`: the clock just before the send. Returns the clock just after it. */
static uint64_t count_send(struct engine *e, uint64_t began)
{
    uint64_t t = now(e);
    e->stats->ipi_send_ns += t > began ? t - began : 0;
    e->stats->ipis_sent++;
    return t;
}

/* Unchecked by ESR (smpboot_sipi_send()): the INIT before it was checked. */
static enum smpboot_status send_sipi(struct engine *e, uint32_t i)
{
    if (e->icr_stuck)
        return SMPBOOT_ERR_IPI_BUSY;
    uint64_t began = now(e);
    enum smpboot_status status = smpboot_sipi_send(e->sb, e->sb->cpus[i].apic_id, e->vector);
    e->stats->last_sipi_ns = since_start(e->sb, count_send(e, began));
    return status;
}

static enum smpboot_status send_init(struct engine *e, uint32_t i, uint32_t *esr, uint64_t began)
{
    if (e->icr_stuck)
        return SMPBOOT_ERR_IPI_BUSY;
    if (!e->first_init_sent) {
        e->first_init_sent = true;
        e->stats->setup_ns = began > e->sb->start_ns ? began - e->sb->start_ns : 0;
    }
    enum smpboot_status status = smpboot_init_send(e->sb, e->sb->cpus[i].apic_id, esr, NULL);
    count_send(e, began);
    return status;
}

/*
 * INIT to each AP of the batch, the delay, then the SIPIs. A retry re-INITs
 * only the APs that still have not answered, holding their slot from before
 * the INIT until the INIT has certainly landed (SMPBOOT_INIT_SETTLE_NS), so
 * that one waking meanwhile loses its claim and is reset, never run twice.
 */
static void kick_batch(struct engine *e, uint32_t first, uint32_t end, const struct attempt *a,
                       bool retry)
{
    struct smpboot_session *sb = e->sb;
    uint32_t esr, inits_sent = 0;
    uint64_t t;

    for (uint32_t i = first; i < end; i++) {
        struct smpboot_cpu *cpu = &sb->cpus[i];
        struct smpboot_slot *slot = smpboot_slot_at(sb, i);
        if (result_of(cpu) != SMPBOOT_CPU_NOT_STARTED)
            continue;
        if (!retry) {
            if (state_of(slot) != SMPBOOT_SLOT_IDLE)
                continue;
            t = now(e);
            if (e->icr_stuck || e->clock_stuck || t >= e->total_deadline) {
                set_result(cpu, SMPBOOT_CPU_SKIPPED);
                continue;
            }
            cpu->timeline.kicked = since_start(sb, t);
            __atomic_store_n(&slot->state, SMPBOOT_SLOT_KICKED, __ATOMIC_RELEASE);
        } else if (!swap_state(slot, SMPBOOT_SLOT_KICKED, SMPBOOT_SLOT_HELD)) {
            continue;  /* answered meanwhile */
        } else {
            cpu->retries++;
            t = now(e);
        }
        enum smpboot_status status = send_init(e, i, &esr, t);
        if (status != SMPBOOT_OK)
            note_send_failure(e, i, status, esr, "INIT");
        else
            inits_sent++;
    }
    /* No AP of the batch got an INIT (refused, unreachable, failed sends): nothing to wait for. */
    if (inits_sent == 0)
        return;

    if (retry) {
        /* Not cut short by the total bound: a held slot is re-armed only once its INIT landed. */
        uint64_t hold = a->init_delay_ns > SMPBOOT_INIT_SETTLE_NS ? a->init_delay_ns
                                                                  : SMPBOOT_INIT_SETTLE_NS;
        wait_batch(e, first, end, smpboot_deadline(now(e), hold), GOAL_TIME_ONLY,
                   &e->stats->mandatory_wait_ns);
        if (e->clock_stuck)
            return;  /* the INITs could not be timed: the slots stay held, then time out */
        for (uint32_t i = first; i < end; i++)
            if (in_flight(e, i))
                swap_state(smpboot_slot_at(sb, i), SMPBOOT_SLOT_HELD, SMPBOOT_SLOT_KICKED);
    } else {
        wait_batch(e, first, end, deadline_after(e, a->init_delay_ns), GOAL_TIME_ONLY,
                   &e->stats->mandatory_wait_ns);
    }

    for (uint32_t round = 0; round < a->sipi_count; round++) {
        if (round > 0)
            wait_batch(e, first, end, deadline_after(e, a->sipi_spacing_ns), GOAL_ANSWERED,
                       &e->stats->mandatory_wait_ns);
        for (uint32_t i = first; i < end; i++) {
            if (!in_flight(e, i) || state_of(smpboot_slot_at(sb, i)) != SMPBOOT_SLOT_KICKED)
                continue;
            enum smpboot_status status = send_sipi(e, i);
            if (status != SMPBOOT_OK)
                note_send_failure(e, i, status, 0, "SIPI");
        }
    }
}

static bool any_unanswered(struct engine *e, uint32_t first, uint32_t end)
{
    return poll_batch(e, first, end).unanswered > 0;
}

/* Decide every AP of the batch that is still undecided. */
static void give_verdicts(struct engine *e, uint32_t first, uint32_t end)
{
    struct smpboot_session *sb = e->sb;
    for (uint32_t i = first; i < end; i++) {
        if (!in_flight(e, i))
            continue;
        struct smpboot_cpu *cpu = &sb->cpus[i];
        struct smpboot_slot *slot = smpboot_slot_at(sb, i);
        if (swap_state(slot, SMPBOOT_SLOT_KICKED, SMPBOOT_SLOT_TIMED_OUT)
            || swap_state(slot, SMPBOOT_SLOT_HELD, SMPBOOT_SLOT_TIMED_OUT)) {
            set_result(cpu, SMPBOOT_CPU_TIMED_OUT);
            smpboot_logf(sb, SMPBOOT_LOG_ERROR,
                         "APIC %u timed out: it never answered INIT-SIPI (%u APs entered the "
                         "trampoline in all)",
                         cpu->apic_id, smpboot_trampoline_entries(smpboot_handle_of(sb)));
        }
    }
    /* Those that answered in time: wait for them to go online. */
    wait_batch(e, first, end, deadline_after(e, sb->config.online_timeout_ns), GOAL_ONLINE,
               &e->stats->ap_wait_ns);
    for (uint32_t i = first; i < end; i++) {
        if (!in_flight(e, i))
            continue;
        /*
         * Answered but not online: give up on it by compare-and-swap, so that
         * it either went online just now (and the poll records it) or will
         * fail its own swap to ONLINE and park, never both.
         */
        struct smpboot_slot *slot = smpboot_slot_at(sb, i);
        struct smpboot_cpu *cpu = &sb->cpus[i];
        if (!swap_state(slot, SMPBOOT_SLOT_CLAIMED, SMPBOOT_SLOT_TIMED_OUT)) {
            poll_batch(e, i, i + 1);
            continue;
        }
        cpu->progress = __atomic_load_n(&slot->progress, __ATOMIC_ACQUIRE);
        set_result(cpu, SMPBOOT_CPU_STALLED);
        smpboot_logf(sb, SMPBOOT_LOG_ERROR, "APIC %u stopped after %s", cpu->apic_id,
                     smpboot_progress_str(cpu->progress));
    }
}

static void run_batch(struct engine *e, uint32_t first, uint32_t end)
{
    const struct smpboot_config *config = &e->sb->config;
    const struct attempt policy = {
        .init_delay_ns = e->sb->init_delay_ns,
        .sipi_count = config->sipi_count,
        .sipi_spacing_ns = config->sipi_spacing_ns,
    };

    kick_batch(e, first, end, &policy, false);
    uint64_t window = config->sdm_retry ? config->retry_window_ns : config->ap_timeout_ns;
    wait_batch(e, first, end, deadline_after(e, window), GOAL_ANSWERED, &e->stats->ap_wait_ns);

    /* A retry past the total bound would overrun it by its hold and wake APs only to time them out. */
    if (config->sdm_retry && !e->icr_stuck && !e->clock_stuck && now(e) < e->total_deadline
        && any_unanswered(e, first, end)) {
        smpboot_logf(e->sb, SMPBOOT_LOG_WARN, "some APs did not answer: retrying with the SDM sequence");
        kick_batch(e, first, end, &sdm_attempt, true);
        wait_batch(e, first, end, deadline_after(e, config->ap_timeout_ns), GOAL_ANSWERED,
                   &e->stats->ap_wait_ns);
    }
    give_verdicts(e, first, end);
}

/* IDs the library refuses before any IPI. */
static void screen_ids(struct smpboot_session *sb)
{
    for (uint32_t i = 1; i < sb->cpu_count; i++) {
        struct smpboot_cpu *cpu = &sb->cpus[i];
        if (cpu->result != SMPBOOT_CPU_NOT_STARTED)
            continue;
        if (cpu->apic_id == 0xFFFFFFFFu) {
            cpu->result = SMPBOOT_CPU_REJECTED;
            smpboot_logf(sb, SMPBOOT_LOG_ERROR, "APIC ID 0xffffffff is the broadcast ID: rejected");
        } else if (!smpboot_apic_id_reachable(sb, cpu->apic_id)) {
            cpu->result = SMPBOOT_CPU_UNREACHABLE;
            smpboot_logf(sb, SMPBOOT_LOG_ERROR, "APIC %u cannot be addressed in xAPIC mode",
                         cpu->apic_id);
        }
    }
}

/* Undo prepare(): only the CPUs about to start own stacks from it. */
static void release_borrowed(struct smpboot_session *sb)
{
    smpboot_trampoline_remove(sb);
    smpboot_slots_destroy(sb);
    for (uint32_t i = 1; i < sb->cpu_count; i++)
        if (sb->cpus[i].result == SMPBOOT_CPU_NOT_STARTED)
            smpboot_stacks_free(sb, &sb->cpus[i]);
}

static enum smpboot_status prepare(struct smpboot_session *sb)
{
    enum smpboot_status status = SMPBOOT_OK;
    uint64_t began = smpboot_now(sb);
    for (uint32_t i = 1; i < sb->cpu_count && status == SMPBOOT_OK; i++)
        if (sb->cpus[i].result == SMPBOOT_CPU_NOT_STARTED)
            status = smpboot_stacks_alloc(sb, &sb->cpus[i]);
    uint64_t stacks_done = smpboot_now(sb);
    if (status == SMPBOOT_OK)
        status = smpboot_slots_create(sb);
    if (status == SMPBOOT_OK)
        status = smpboot_trampoline_install(sb);
    uint64_t tramp_done = smpboot_now(sb);
    sb->stats.setup_stacks_ns = stacks_done > began ? stacks_done - began : 0;
    sb->stats.setup_trampoline_ns = tramp_done > stacks_done ? tramp_done - stacks_done : 0;
    if (status != SMPBOOT_OK) {
        smpboot_logf(sb, SMPBOOT_LOG_ERROR, "start: setup failed (%s); nothing was sent",
                     smpboot_status_str(status));
        release_borrowed(sb);
    }
    return status;
}

/* a * b / c without overflow, trading low bits of precision when it must. */
static uint64_t scale(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t product;
    while (__builtin_mul_overflow(a, b, &product)) {
        a >>= 1;
        c >>= 1;
    }
    return c ? product / c : 0;
}

/*
 * The trampoline stamps with the TSC; each AP turned its stamps into ticks
 * before its C entry, whose clock time it recorded. The BSP measured TSC
 * ticks per clock nanosecond over the bring-up: a step's time is the C
 * entry's minus its ticks converted.
 */
static void convert_trampoline_stamps(struct smpboot_session *sb, uint64_t start_tsc, uint64_t end_tsc,
                                      uint64_t end_ns)
{
    if (end_tsc <= start_tsc || end_ns <= sb->start_ns)
        return;
    uint64_t ticks = end_tsc - start_tsc, ns = end_ns - sb->start_ns;
    for (uint32_t i = 1; i < sb->cpu_count; i++) {
        struct smpboot_cpu *cpu = &sb->cpus[i];
        const struct smpboot_slot *slot = smpboot_slot_at(sb, i);
        /* Only an AP that went online has published its stamps. */
        if (result_of(cpu) != SMPBOOT_CPU_ONLINE || state_of(slot) != SMPBOOT_SLOT_ONLINE)
            continue;
        const uint64_t ticks_before[2] = {slot->tsc_claimed, slot->tsc_long_mode};
        uint64_t *steps[2] = {&cpu->timeline.trampoline, &cpu->timeline.long_mode};
        for (int k = 0; k < 2; k++) {
            if (!ticks_before[k])
                continue;
            uint64_t back = scale(ticks_before[k], ns, ticks);
            *steps[k] = back < slot->c_entry_ns ? since_start(sb, slot->c_entry_ns - back) : 1;
        }
    }
}

/* When the last AP went online, by the APs' own stamps. */
static uint64_t last_online_stamp(const struct smpboot_session *sb)
{
    uint64_t last = 0;
    for (uint32_t i = 1; i < sb->cpu_count; i++) {
        const struct smpboot_slot *slot = smpboot_slot_at(sb, i);
        uint64_t online = slot->c_entry_ns + slot->online_after_ns;
        if (state_of(slot) == SMPBOOT_SLOT_ONLINE && online > last)
            last = online;
    }
    return last;
}

/* After finish, a new start brings back exactly the CPUs taken offline. */
static void rearm_offline_cpus(struct smpboot_session *sb)
{
    for (uint32_t i = 1; i < sb->cpu_count; i++)
        if (sb->cpus[i].result == SMPBOOT_CPU_OFFLINE)
            sb->cpus[i].result = SMPBOOT_CPU_NOT_STARTED;
}

static bool has_offline_cpu(const struct smpboot_session *sb)
{
    for (uint32_t i = 1; i < sb->cpu_count; i++)
        if (sb->cpus[i].result == SMPBOOT_CPU_OFFLINE)
            return true;
    return false;
}

static bool has_unreset_cpu(const struct smpboot_session *sb)
{
    for (uint32_t i = 1; i < sb->cpu_count; i++)
        if (sb->cpus[i].not_reset)
            return true;
    return false;
}

static bool vendor_is(const uint32_t regs[4], const char *name)
{
    /* CPUID.0 spells the vendor in EBX, EDX, ECX order. */
    const uint32_t order[3] = {regs[1], regs[3], regs[2]};
    for (int i = 0; i < 12; i++)
        if ((char)(order[i / 4] >> (8 * (i % 4))) != name[i])
            return false;
    return true;
}

/*
 * config.init_delay_ns, with SMPBOOT_INIT_DELAY_AUTO decided from the BSP's
 * CPUID as Linux's smp_quirk_init_udelay() does: every CPU that can run
 * 64-bit code and a hypervisor's vCPUs need no INIT delay. sdm_retry covers
 * the exceptions.
 */
struct init_delay_choice {
    uint64_t delay_ns;
    const char *rule;  /* NULL: set by the configuration */
    uint32_t family;
};

/* Said once the APs are up: a log line costs the host time the first kick should not wait for. */
static void log_init_delay(const struct smpboot_session *sb, const struct init_delay_choice *choice)
{
    if (!choice->rule)
        smpboot_logf(sb, SMPBOOT_LOG_INFO, "INIT delay %lu ns: set by the configuration",
                     (unsigned long)choice->delay_ns);
    else
        smpboot_logf(sb, SMPBOOT_LOG_INFO, "INIT delay %lu ns by Linux's rule: %s (CPU family %x)",
                     (unsigned long)choice->delay_ns, choice->rule, choice->family);
}

static struct init_delay_choice choose_init_delay(const struct smpboot_session *sb)
{
    uint64_t configured = sb->config.init_delay_ns;
    if (configured != SMPBOOT_INIT_DELAY_AUTO)
        return (struct init_delay_choice){configured, NULL, 0};
    uint32_t vendor[4], leaf1[4] = {0, 0, 0, 0};
    smpboot_arch_cpuid(0, vendor);
    if (vendor[0] >= 1)
        smpboot_arch_cpuid(1, leaf1);
    uint32_t family = (leaf1[0] >> 8) & 0xFu;
    if (family == 0xFu)
        family += (leaf1[0] >> 20) & 0xFFu;
    const char *rule;
    uint64_t delay = 0;
    if (leaf1[2] & (1u << 31))
        rule = "a hypervisor (CPUID.1:ECX[31])";
    else if (vendor_is(vendor, "GenuineIntel") && family >= 6)
        rule = "Intel family >= 6";
    else if (vendor_is(vendor, "AuthenticAMD") && family >= 0xF)
        rule = "AMD family >= 0xF";
    else if (vendor_is(vendor, "HygonGenuine"))
        rule = "Hygon";
    else {
        rule = "no modern-CPU rule matched, the SDM's delay";
        delay = SMPBOOT_SDM_INIT_DELAY_NS;
    }
    return (struct init_delay_choice){delay, rule, family};
}

/*
 * Without a usable local APIC there is no INIT or SIPI to send, and the APIC
 * reads of the rest of the call return nothing meaningful. The MSR is read
 * only once CPUID says the APIC exists: without one it may not.
 */
static bool bsp_has_local_apic(const struct smpboot_session *sb)
{
    uint32_t leaf0[4], leaf1[4] = {0, 0, 0, 0};
    smpboot_arch_cpuid(0, leaf0);
    if (leaf0[0] >= 1)
        smpboot_arch_cpuid(1, leaf1);
    if (!(leaf1[3] & SMPBOOT_CPUID1_EDX_APIC)) {
        smpboot_logf(sb, SMPBOOT_LOG_ERROR,
                     "start: this CPU has no local APIC (CPUID.01H:EDX.APIC clear): nothing sent");
        return false;
    }
    if (!(smpboot_arch_read_apic_base() & SMPBOOT_APIC_BASE_ENABLE)) {
        smpboot_logf(sb, SMPBOOT_LOG_ERROR,
                     "start: the local APIC is disabled (IA32_APIC_BASE.EN clear): nothing sent");
        return false;
    }
    return true;
}

static uint32_t aps_to_start(const struct smpboot_session *sb)
{
    uint32_t count = 0;
    for (uint32_t i = 1; i < sb->cpu_count; i++)
        if (sb->cpus[i].result == SMPBOOT_CPU_NOT_STARTED || sb->cpus[i].result == SMPBOOT_CPU_OFFLINE)
            count++;
    return count;
}

/* next_after_ready: wait for AP i's ready. true when the clock stopped meanwhile. */
static bool wait_ready(struct engine *e, uint32_t i)
{
    uint64_t began = now(e);
    enum smpboot_status status = smpboot_ready_wait_range(
        e->sb, i, i + 1, deadline_after(e, e->sb->config.ready_timeout_ns));
    uint64_t t = now(e);
    e->stats->ready_wait_ns += t > began ? t - began : 0;
    return status == SMPBOOT_ERR_CLOCK_STUCK;
}

enum smpboot_status smpboot_start_stats(const struct smpboot *handle, struct smpboot_start_stats *stats)
{
    const struct smpboot_session *sb = smpboot_session_of_const(handle);
    if (!sb || !stats)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    uint32_t phase = smpboot_phase(sb);
    if (!sb->has_stats || phase == SMPBOOT_PHASE_STARTING)
        return SMPBOOT_ERR_BAD_STATE;
    *stats = sb->stats;
    return SMPBOOT_OK;
}

enum smpboot_status smpboot_start(struct smpboot *handle)
{
    struct smpboot_session *sb = smpboot_session_of(handle);
    if (!sb)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    uint32_t phase = smpboot_phase(sb);
    /* Memory an unreset AP may use is abandoned, and a restart could not avoid it: refuse. */
    if (phase == SMPBOOT_PHASE_FINISHED && has_unreset_cpu(sb))
        return SMPBOOT_ERR_CPU_NOT_RESET;
    bool restart = phase == SMPBOOT_PHASE_FINISHED && has_offline_cpu(sb);
    if (phase != SMPBOOT_PHASE_READY && !restart)
        return SMPBOOT_ERR_BAD_STATE;
    if (!bsp_has_local_apic(sb))
        return SMPBOOT_ERR_NO_APIC;
    if (smpboot_self_apic_id(sb) != sb->bsp_apic_id)
        return SMPBOOT_ERR_NOT_BSP;
    uint32_t starting = aps_to_start(sb);
    if (restart)
        rearm_offline_cpus(sb);

    smpboot_set_phase(sb, SMPBOOT_PHASE_STARTING);
    sb->start_ns = smpboot_now(sb);
    sb->stats = (struct smpboot_start_stats){.aps_started = starting};
    sb->has_stats = true;
    uint64_t start_tsc = smpboot_arch_read_tsc();
    sb->all_online_ns = 0;
    for (uint32_t i = 1; i < sb->cpu_count; i++) {
        struct smpboot_cpu *cpu = &sb->cpus[i];
        if (cpu->result != SMPBOOT_CPU_NOT_STARTED)
            continue;
        cpu->timeline = (struct smpboot_timeline){0, 0, 0, 0, 0, 0};
        cpu->progress = SMPBOOT_PROGRESS_NONE;
        cpu->retries = 0;
        cpu->esr = 0;
        __atomic_store_n(&cpu->said_ready, 0u, __ATOMIC_RELAXED);
    }
    screen_ids(sb);
    enum smpboot_status status = prepare(sb);
    if (status != SMPBOOT_OK) {
        /* Nothing was sent: the kernel may free memory and try again. */
        for (uint32_t i = 1; i < sb->cpu_count; i++) {
            enum smpboot_cpu_result *result = &sb->cpus[i].result;
            if (*result == SMPBOOT_CPU_UNREACHABLE || *result == SMPBOOT_CPU_REJECTED)
                *result = SMPBOOT_CPU_NOT_STARTED;
            else if (restart && *result == SMPBOOT_CPU_NOT_STARTED)
                *result = SMPBOOT_CPU_OFFLINE;
        }
        uint64_t failed_at = smpboot_now(sb);
        sb->stats.total_ns = failed_at > sb->start_ns ? failed_at - sb->start_ns : 0;
        sb->stats.setup_ns = sb->stats.total_ns;
        smpboot_set_phase(sb, restart ? SMPBOOT_PHASE_FINISHED : SMPBOOT_PHASE_READY);
        return status;
    }
    /* What every AP reads before going online, in place before the first kick publishes it. */
    struct init_delay_choice init_delay = choose_init_delay(sb);
    sb->init_delay_ns = init_delay.delay_ns;
    sb->ap_tlb_drop = sb->tramp_phys;
    smpboot_arch_build_nmi_idt(sb->nmi_idt);
    sb->total_timeout_ns = smpboot_total_timeout_for(&sb->config, starting);

    struct engine e = {
        .sb = sb,
        .total_deadline = sb->total_timeout_ns
                              ? smpboot_deadline(sb->start_ns, sb->total_timeout_ns)
                              : UINT64_MAX,
        .vector = smpboot_trampoline_sipi_vector(sb),
        .icr_stuck = false,
        .clock_stuck = false,
        .first_init_sent = false,
        .watch = {0, 0},
        .stats = &sb->stats,
    };
    if (sb->config.mode == SMPBOOT_MODE_PARALLEL) {
        run_batch(&e, 1, sb->cpu_count);
    } else {
        for (uint32_t i = 1; i < sb->cpu_count; i++) {
            run_batch(&e, i, i + 1);
            if (sb->config.next_after_ready && !e.clock_stuck
                && result_of(&sb->cpus[i]) == SMPBOOT_CPU_ONLINE
                && wait_ready(&e, i))
                e.clock_stuck = true;
        }
    }

    sb->all_online_ns = last_online_stamp(sb);
    uint64_t end_ns = smpboot_now(sb);
    convert_trampoline_stamps(sb, start_tsc, smpboot_arch_read_tsc(), end_ns);
    log_init_delay(sb, &init_delay);
    if (sb->config.total_timeout_ns == SMPBOOT_TOTAL_TIMEOUT_AUTO)
        smpboot_logf(sb, SMPBOOT_LOG_INFO, "total bound %lu ms for %u APs (SMPBOOT_TOTAL_TIMEOUT_AUTO)",
                     (unsigned long)(sb->total_timeout_ns / 1000000u), starting);
    sb->stats.total_ns = end_ns > sb->start_ns ? end_ns - sb->start_ns : 0;
    if (!e.first_init_sent)
        sb->stats.setup_ns = sb->stats.total_ns;
    smpboot_set_phase(sb, SMPBOOT_PHASE_STARTED);
    if (e.clock_stuck)
        return SMPBOOT_ERR_CLOCK_STUCK;
    if (e.icr_stuck)
        return SMPBOOT_ERR_IPI_BUSY;
    return smpboot_online_count(handle) == sb->cpu_count ? SMPBOOT_OK : SMPBOOT_ERR_PARTIAL;
}
