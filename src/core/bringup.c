/*
 * smpboot_start(): the BSP side of INIT-SIPI-SIPI.
 *
 * Serial and parallel bring-up are the same routine over a different batch
 * of CPUs: all APs at once, or one at a time. Within a batch: every INIT, one
 * INIT delay, SIPIs only to APs that have not answered, then waits that end
 * early once every AP has answered or gone online. Every wait is bounded by
 * the host clock; the state word in each slot is the only thing BSP and AP
 * race on, always by compare-and-swap.
 */
#include "core/session.h"
#include "arch/arch.h"
#include "trampoline/trampoline.h"

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
    struct smpboot *sb;
    uint64_t total_deadline;
    uint8_t vector;
    bool icr_stuck;
};

enum wait_goal {
    GOAL_TIME_ONLY,  /* sleep, but keep releasing APs that answer */
    GOAL_ANSWERED,   /* every AP of the batch has answered */
    GOAL_ONLINE,     /* every answered AP is online */
};

static uint64_t now(const struct engine *e)
{
    return e->sb->host.now_ns(e->sb->host.ctx);
}

static uint64_t deadline_after(const struct engine *e, uint64_t ns)
{
    uint64_t t = now(e);
    uint64_t d = (UINT64_MAX - t < ns) ? UINT64_MAX : t + ns;
    return d < e->total_deadline ? d : e->total_deadline;
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

/* The AP is ONLINE (seen with acquire): everything it wrote before is ours to read. */
static void record_online(struct smpboot *sb, uint32_t i)
{
    struct smpboot_cpu *cpu = &sb->cpus[i];
    const struct smpboot_slot *slot = smpboot_slot_at(sb, i);
    cpu->progress = SMPBOOT_PROGRESS_ONLINE;
    cpu->timeline.c_entry = cpu->priv_c_entry_ns - sb->start_ns;
    cpu->timeline.online = slot->online_ns - sb->start_ns;
    set_result(cpu, SMPBOOT_CPU_ONLINE);
}

struct tally {
    uint32_t unanswered;
    uint32_t not_online;
};

/* One pass over the batch: release every AP that answered; count the rest. */
static struct tally poll_batch(struct engine *e, uint32_t first, uint32_t end)
{
    struct tally tally = {0, 0};
    for (uint32_t i = first; i < end; i++) {
        if (!in_flight(e, i))
            continue;
        struct smpboot_slot *slot = smpboot_slot_at(e->sb, i);
        switch (state_of(slot)) {
        case SMPBOOT_SLOT_KICKED:
        case SMPBOOT_SLOT_HELD:
        case SMPBOOT_SLOT_SIPIS_DONE:
            tally.unanswered++;
            break;
        case SMPBOOT_SLOT_ARRIVED:
            /* No SIPI goes to an AP once it answered, so it may go on now. */
            swap_state(slot, SMPBOOT_SLOT_ARRIVED, SMPBOOT_SLOT_RELEASED);
            tally.not_online++;
            break;
        case SMPBOOT_SLOT_RELEASED:
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

static void wait_batch(struct engine *e, uint32_t first, uint32_t end, uint64_t until,
                       enum wait_goal goal)
{
    for (;;) {
        struct tally tally = poll_batch(e, first, end);
        if (goal == GOAL_ANSWERED && tally.unanswered == 0)
            return;
        if (goal == GOAL_ONLINE && tally.unanswered == 0 && tally.not_online == 0)
            return;
        if (now(e) >= until)
            return;
        smpboot_relax(e->sb);
    }
}

static void note_send_failure(struct engine *e, uint32_t i, enum smpboot_status status,
                              uint32_t esr, const char *what)
{
    struct smpboot_cpu *cpu = &e->sb->cpus[i];
    if (status == SMPBOOT_ERR_IPI_BUSY)
        e->icr_stuck = true;
    /* If it answered an earlier SIPI after all, the poll takes it from here. */
    if (!swap_state(smpboot_slot_at(e->sb, i), SMPBOOT_SLOT_KICKED, SMPBOOT_SLOT_TIMED_OUT))
        return;
    cpu->esr = esr;
    set_result(cpu, SMPBOOT_CPU_SEND_FAILED);
    smpboot_logf(e->sb, SMPBOOT_LOG_ERROR, "APIC %u: %s IPI failed: %s (ESR %x)", cpu->apic_id,
                 what, smpboot_status_str(status), esr);
}

static enum smpboot_status send(struct engine *e, uint32_t i, uint32_t icr_low, uint32_t *esr)
{
    if (e->icr_stuck)
        return SMPBOOT_ERR_IPI_BUSY;
    return smpboot_ipi_send(e->sb, e->sb->cpus[i].apic_id, icr_low, esr);
}

/*
 * INIT to each AP of the batch, the delay, then the SIPIs. A retry re-INITs
 * only the APs that still have not answered, holding their slot meanwhile so
 * that one arriving at that very moment loses and is reset, never run twice.
 */
static void kick_batch(struct engine *e, uint32_t first, uint32_t end, const struct attempt *a,
                       bool retry)
{
    struct smpboot *sb = e->sb;
    uint32_t esr;

    for (uint32_t i = first; i < end; i++) {
        struct smpboot_cpu *cpu = &sb->cpus[i];
        struct smpboot_slot *slot = smpboot_slot_at(sb, i);
        if (result_of(cpu) != SMPBOOT_CPU_NOT_STARTED)
            continue;
        if (!retry) {
            if (state_of(slot) != SMPBOOT_SLOT_IDLE)
                continue;
            if (e->icr_stuck || now(e) >= e->total_deadline) {
                set_result(cpu, SMPBOOT_CPU_SKIPPED);
                continue;
            }
            cpu->timeline.kicked = now(e) - sb->start_ns;
            __atomic_store_n(&slot->state, SMPBOOT_SLOT_KICKED, __ATOMIC_RELEASE);
        } else if (!swap_state(slot, SMPBOOT_SLOT_KICKED, SMPBOOT_SLOT_HELD)
                   && !swap_state(slot, SMPBOOT_SLOT_SIPIS_DONE, SMPBOOT_SLOT_HELD)) {
            continue;  /* answered meanwhile */
        }
        enum smpboot_status status = send(e, i, SMPBOOT_ICR_INIT | SMPBOOT_ICR_LEVEL_ASSERT, &esr);
        if (retry) {
            cpu->retries++;
            swap_state(slot, SMPBOOT_SLOT_HELD, SMPBOOT_SLOT_KICKED);
        }
        if (status != SMPBOOT_OK)
            note_send_failure(e, i, status, esr, "INIT");
    }

    wait_batch(e, first, end, deadline_after(e, a->init_delay_ns), GOAL_TIME_ONLY);

    for (uint32_t round = 0; round < a->sipi_count; round++) {
        if (round > 0)
            wait_batch(e, first, end, deadline_after(e, a->sipi_spacing_ns), GOAL_ANSWERED);
        for (uint32_t i = first; i < end; i++) {
            if (!in_flight(e, i) || state_of(smpboot_slot_at(sb, i)) != SMPBOOT_SLOT_KICKED)
                continue;
            enum smpboot_status status =
                send(e, i, SMPBOOT_ICR_STARTUP | SMPBOOT_ICR_LEVEL_ASSERT | e->vector, &esr);
            if (status != SMPBOOT_OK)
                note_send_failure(e, i, status, esr, "SIPI");
        }
    }
    /*
     * Every SIPI of this attempt is out: an AP that arrives from now on may
     * release itself instead of waiting (spinning) for the BSP to notice it.
     */
    for (uint32_t i = first; i < end; i++)
        if (in_flight(e, i))
            swap_state(smpboot_slot_at(sb, i), SMPBOOT_SLOT_KICKED, SMPBOOT_SLOT_SIPIS_DONE);
}

static bool any_unanswered(struct engine *e, uint32_t first, uint32_t end)
{
    return poll_batch(e, first, end).unanswered > 0;
}

/* Decide every AP of the batch that is still undecided. */
static void give_verdicts(struct engine *e, uint32_t first, uint32_t end)
{
    struct smpboot *sb = e->sb;
    for (uint32_t i = first; i < end; i++) {
        if (!in_flight(e, i))
            continue;
        struct smpboot_cpu *cpu = &sb->cpus[i];
        struct smpboot_slot *slot = smpboot_slot_at(sb, i);
        if (swap_state(slot, SMPBOOT_SLOT_KICKED, SMPBOOT_SLOT_TIMED_OUT)
            || swap_state(slot, SMPBOOT_SLOT_SIPIS_DONE, SMPBOOT_SLOT_TIMED_OUT)) {
            set_result(cpu, SMPBOOT_CPU_TIMED_OUT);
            smpboot_logf(sb, SMPBOOT_LOG_ERROR,
                         "APIC %u timed out: it never answered INIT-SIPI (%u APs entered the "
                         "trampoline in all)",
                         cpu->apic_id, smpboot_trampoline_entered(sb));
        }
    }
    /* Those that answered in time: release them and wait for them to go online. */
    wait_batch(e, first, end, deadline_after(e, sb->config.online_timeout_ns), GOAL_ONLINE);
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
        if (!swap_state(slot, SMPBOOT_SLOT_RELEASED, SMPBOOT_SLOT_TIMED_OUT)
            && !swap_state(slot, SMPBOOT_SLOT_ARRIVED, SMPBOOT_SLOT_TIMED_OUT)) {
            poll_batch(e, i, i + 1);
            continue;
        }
        /* From here the AP can only park: its C-entry stamp may still be unwritten. */
        cpu->progress = __atomic_load_n(&slot->progress, __ATOMIC_ACQUIRE);
        set_result(cpu, SMPBOOT_CPU_STALLED);
        if (__atomic_load_n(&slot->ap_flags, __ATOMIC_ACQUIRE) & SMPBOOT_SLOT_AP_GAVE_UP)
            smpboot_logf(sb, SMPBOOT_LOG_ERROR,
                         "APIC %u reached C but was not released in time (the BSP was late) "
                         "and parked itself",
                         cpu->apic_id);
        else
            smpboot_logf(sb, SMPBOOT_LOG_ERROR, "APIC %u stopped after %s", cpu->apic_id,
                         smpboot_progress_str(cpu->progress));
    }
}

static void run_batch(struct engine *e, uint32_t first, uint32_t end)
{
    const struct smpboot_config *config = &e->sb->config;
    const struct attempt policy = {
        .init_delay_ns = config->init_delay_ns,
        .sipi_count = config->sipi_count,
        .sipi_spacing_ns = config->sipi_spacing_ns,
    };

    kick_batch(e, first, end, &policy, false);
    uint64_t window = config->sdm_retry ? config->retry_window_ns : config->ap_timeout_ns;
    wait_batch(e, first, end, deadline_after(e, window), GOAL_ANSWERED);

    if (config->sdm_retry && !e->icr_stuck && any_unanswered(e, first, end)) {
        smpboot_logf(e->sb, SMPBOOT_LOG_WARN, "fast start missed some APs: retrying with the SDM sequence");
        kick_batch(e, first, end, &sdm_attempt, true);
        wait_batch(e, first, end, deadline_after(e, config->ap_timeout_ns), GOAL_ANSWERED);
    }
    give_verdicts(e, first, end);
}

/* IDs the library refuses before any IPI. */
static void screen_ids(struct smpboot *sb)
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
static void release_borrowed(struct smpboot *sb)
{
    smpboot_trampoline_remove(sb);
    smpboot_slots_destroy(sb);
    for (uint32_t i = 1; i < sb->cpu_count; i++)
        if (sb->cpus[i].result == SMPBOOT_CPU_NOT_STARTED)
            smpboot_stacks_free(sb, &sb->cpus[i]);
}

static enum smpboot_status prepare(struct smpboot *sb)
{
    enum smpboot_status status = SMPBOOT_OK;
    for (uint32_t i = 1; i < sb->cpu_count && status == SMPBOOT_OK; i++)
        if (sb->cpus[i].result == SMPBOOT_CPU_NOT_STARTED)
            status = smpboot_stacks_alloc(sb, &sb->cpus[i]);
    if (status == SMPBOOT_OK)
        status = smpboot_slots_create(sb);
    if (status == SMPBOOT_OK)
        status = smpboot_trampoline_install(sb);
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
 * The trampoline stamps with the TSC. Each AP's C code took a (clock, TSC)
 * pair; the BSP measured TSC ticks per clock nanosecond over the bring-up.
 * A step's time is then the pair's clock minus the ticks since the step.
 */
static void convert_trampoline_stamps(struct smpboot *sb, uint64_t start_tsc, uint64_t end_tsc,
                                      uint64_t end_ns)
{
    uint64_t ticks = end_tsc - start_tsc, ns = end_ns - sb->start_ns;
    if (end_tsc <= start_tsc || ns == 0)
        return;
    for (uint32_t i = 1; i < sb->cpu_count; i++) {
        struct smpboot_cpu *cpu = &sb->cpus[i];
        const struct smpboot_slot *slot = smpboot_slot_at(sb, i);
        /* Only an AP that went online has published its (clock, TSC) pair. */
        if (result_of(cpu) != SMPBOOT_CPU_ONLINE || state_of(slot) != SMPBOOT_SLOT_ONLINE)
            continue;
        const uint64_t stamps[2] = {slot->tsc_claimed, slot->tsc_long_mode};
        uint64_t *steps[2] = {&cpu->timeline.trampoline, &cpu->timeline.long_mode};
        for (int k = 0; k < 2; k++) {
            if (!stamps[k] || stamps[k] > cpu->priv_c_entry_tsc)
                continue;
            uint64_t back = scale(cpu->priv_c_entry_tsc - stamps[k], ns, ticks);
            uint64_t at = cpu->priv_c_entry_ns - back;
            *steps[k] = at > sb->start_ns ? at - sb->start_ns : 1;
        }
    }
}

/* When the last AP went online, by the APs' own stamps. */
static uint64_t last_online_stamp(const struct smpboot *sb)
{
    uint64_t last = 0;
    for (uint32_t i = 1; i < sb->cpu_count; i++) {
        const struct smpboot_slot *slot = smpboot_slot_at(sb, i);
        if (state_of(slot) == SMPBOOT_SLOT_ONLINE && slot->online_ns > last)
            last = slot->online_ns;
    }
    return last;
}

/* After finish, a new start brings back exactly the CPUs taken offline. */
static bool rearm_offline_cpus(struct smpboot *sb)
{
    bool any = false;
    for (uint32_t i = 1; i < sb->cpu_count; i++) {
        struct smpboot_cpu *cpu = &sb->cpus[i];
        if (cpu->result != SMPBOOT_CPU_OFFLINE)
            continue;
        cpu->result = SMPBOOT_CPU_NOT_STARTED;
        any = true;
    }
    return any;
}

static bool has_offline_cpu(const struct smpboot *sb)
{
    for (uint32_t i = 1; i < sb->cpu_count; i++)
        if (sb->cpus[i].result == SMPBOOT_CPU_OFFLINE)
            return true;
    return false;
}

enum smpboot_status smpboot_start(struct smpboot *sb)
{
    if (!sb)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    bool restart = sb->phase == SMPBOOT_PHASE_FINISHED && has_offline_cpu(sb);
    if (sb->phase != SMPBOOT_PHASE_READY && !restart)
        return SMPBOOT_ERR_BAD_STATE;
    if (smpboot_self_apic_id(sb) != sb->bsp_apic_id)
        return SMPBOOT_ERR_NOT_BSP;
    if (restart)
        rearm_offline_cpus(sb);

    sb->phase = SMPBOOT_PHASE_STARTING;
    sb->start_ns = sb->host.now_ns(sb->host.ctx);
    uint64_t start_tsc = smpboot_arch_read_tsc();
    sb->all_online_ns = 0;
    for (uint32_t i = 1; i < sb->cpu_count; i++) {
        struct smpboot_cpu *cpu = &sb->cpus[i];
        if (cpu->result != SMPBOOT_CPU_NOT_STARTED)
            continue;
        cpu->timeline = (struct smpboot_timeline){0, 0, 0, 0, 0};
        cpu->priv_c_entry_ns = cpu->priv_c_entry_tsc = 0;
        cpu->progress = SMPBOOT_PROGRESS_NONE;
        cpu->retries = 0;
        cpu->esr = 0;
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
        sb->phase = restart ? SMPBOOT_PHASE_FINISHED : SMPBOOT_PHASE_READY;
        return status;
    }

    struct engine e = {
        .sb = sb,
        .total_deadline = sb->config.total_timeout_ns
                              ? sb->start_ns + sb->config.total_timeout_ns
                              : UINT64_MAX,
        .vector = smpboot_trampoline_sipi_vector(sb),
        .icr_stuck = false,
    };
    if (sb->config.mode == SMPBOOT_MODE_PARALLEL) {
        run_batch(&e, 1, sb->cpu_count);
    } else {
        for (uint32_t i = 1; i < sb->cpu_count; i++)
            run_batch(&e, i, i + 1);
    }

    sb->all_online_ns = last_online_stamp(sb);
    convert_trampoline_stamps(sb, start_tsc, smpboot_arch_read_tsc(), sb->host.now_ns(sb->host.ctx));
    sb->phase = SMPBOOT_PHASE_STARTED;
    if (e.icr_stuck)
        return SMPBOOT_ERR_IPI_BUSY;
    return smpboot_online_count(sb) == sb->cpu_count ? SMPBOOT_OK : SMPBOOT_ERR_PARTIAL;
}
