/* The BSP's side of the bring-up. See smp.h. */
#include "smp.h"

#include "clock.h"
#include "console.h"
#include "format.h"
#include "frames.h"
#include "host.h"
#include "idle.h"
#include "lapic.h"
#include "late.h"
#include "layout.h"
#include "nmi.h"
#include "paging.h"
#include "power.h"
#include "vectors.h"

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
/*
 * Every wait below is a base plus a share per CPU: under TCG on 2 host
 * cores, 254 vCPUs share the time of 2, and a fixed bound that is ample for
 * 8 CPUs runs out at 255 while every CPU is fine.
 */
#define WAIT_PER_CPU_NS (50 * NS_PER_MS)
/* How long an AP's entry may take to load its tables and say ready (config.ready_timeout_ns). */
#define READY_TIMEOUT_NS (10 * NS_PER_S)
/* libsmpboot refuses a longer ready_timeout_ns. */
#define READY_TIMEOUT_MAX_NS (60 * NS_PER_S)
/* The BSP waits this long for every online AP to check in, then to finish. */
#define CHECKIN_TIMEOUT_NS (10 * NS_PER_S)
#define FINISH_TIMEOUT_NS (5 * NS_PER_S)
/* An AP waits for smpboot_start() to return: its own bound plus a margin. */
#define AP_WAIT_MARGIN_NS (10 * NS_PER_S)
/* Each AP gets one extra stack: its double-fault (IST1) stack. */
#define AP_DOUBLE_FAULT_STACK_SIZE 4096u

static struct smp_shared shared;
static struct smpboot_cpu cpu_table[MAX_CPUS];
static const struct options *run_options;
/* The configuration of the normal bring-up (late_aps=1 runs a different one first). */
static struct smpboot_config bringup_config;
/* Problems found by the kernel's own checks (late_aps, stray CPUs, security), all printed. */
static uint32_t check_problems;

static uint64_t scaled_wait_ns(uint64_t base_ns, uint32_t cpus)
{
    return base_ns + (uint64_t)cpus * WAIT_PER_CPU_NS;
}

static const char *mode_name(enum smpboot_bringup_mode mode)
{
    return mode == SMPBOOT_MODE_SERIAL ? "serial" : "parallel";
}

static void build_config(const struct options *options, enum smpboot_apic_mode apic_mode,
                         uint32_t cpus, struct smpboot_config *config)
{
    if (options->profile == PROFILE_FAST)
        smpboot_config_fast(config);
    else if (options->profile == PROFILE_SDM)
        smpboot_config_sdm(config);
    else
        smpboot_config_default(config);
    if (options->mode_set)
        config->mode = options->mode;
    if (options->init_delay_set)
        config->init_delay_ns = options->init_delay_us * NS_PER_US;
    if (options->ap_timeout_set) {
        config->ap_timeout_ns = options->ap_timeout_ms * NS_PER_MS;
        config->online_timeout_ns = options->ap_timeout_ms * NS_PER_MS;
    }
    config->apic_mode = apic_mode;
    config->extra_stack_count = 1;
    config->extra_stack_size = AP_DOUBLE_FAULT_STACK_SIZE;
    /* Guard pages: libsmpboot maps each stack into the window, an unmapped page below it. */
    if (options->stack_guard || options->fault == FAULT_STACK_UNMAPPED)
        config->stack_window = STACK_WINDOW_BASE;
    /*
     * The entry says ready once on its own tables, and smpboot_finish() waits
     * for that before it frees the trampoline page. entry_delay_ms= tests the
     * opposite: nothing waits, so the page goes while the entries still run
     * on what libsmpboot handed over.
     */
    uint64_t ready_ns = scaled_wait_ns(READY_TIMEOUT_NS, cpus);
    if (ready_ns > READY_TIMEOUT_MAX_NS)
        ready_ns = READY_TIMEOUT_MAX_NS;
    config->ready_timeout_ns = options->entry_delay_ms ? 0 : ready_ns;
    config->next_after_ready = options->next_after_ready && !options->entry_delay_ms;
    config->entry = ap_entry;
    config->entry_arg = &shared;
}

/* Microseconds, or "auto" when libsmpboot decides at smpboot_start() (its log says how). */
static void format_init_delay(uint64_t init_delay_ns, char *out, size_t size)
{
    if (init_delay_ns == SMPBOOT_INIT_DELAY_AUTO)
        format(out, size, "auto");
    else
        format(out, size, "%llu", (unsigned long long)(init_delay_ns / NS_PER_US));
}

/* Cut short the naps of APs idling at a gate (they would wake on their tick anyway). */
static void wake_online_aps(void)
{
    uint32_t count = smpboot_cpu_count(&shared.session);
    for (uint32_t i = 1; i < count; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&shared.session, i);
        if (cpu && cpu->result == SMPBOOT_CPU_ONLINE)
            (void)smpboot_send_ipi(&shared.session, i, VECTOR_WAKE);
    }
}

static void report_failed_cpus(void)
{
    uint32_t count = smpboot_cpu_count(&shared.session);
    for (uint32_t i = 0; i < count; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&shared.session, i);
        if (!cpu || cpu->result == SMPBOOT_CPU_ONLINE || cpu->result == SMPBOOT_CPU_BSP)
            continue;
        kprintf("smpboot: cpu %u apic %u %s (last step: %s, esr 0x%x, retries %u)\n", cpu->index,
                cpu->apic_id, smpboot_cpu_result_str(cpu->result),
                smpboot_progress_str(cpu->progress), cpu->esr, cpu->retries);
    }
}

/* When each AP reached each step, from libsmpboot's per-AP timeline. */
static void report_timelines(void)
{
    uint32_t count = smpboot_cpu_count(&shared.session);
    for (uint32_t i = 1; i < count; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&shared.session, i);
        if (!cpu)
            continue;
        const struct smpboot_timeline *t = &cpu->timeline;
        kprintf("minikernel: timeline us: cpu %u apic %u kicked %llu trampoline %llu "
                "long_mode %llu c %llu online %llu ready %llu\n",
                cpu->index, cpu->apic_id, (unsigned long long)(t->kicked / NS_PER_US),
                (unsigned long long)(t->trampoline / NS_PER_US),
                (unsigned long long)(t->long_mode / NS_PER_US),
                (unsigned long long)(t->c_entry / NS_PER_US),
                (unsigned long long)(t->online / NS_PER_US),
                (unsigned long long)(t->ready / NS_PER_US));
    }
}

/*
 * next_after_ready=1: the library kicks the APs one by one in index order,
 * each only once the one before it said ready. Checked on the library's own
 * timeline (both stamps are the BSP's clock), only among APs that said ready.
 */
static void check_next_after_ready(void)
{
    uint32_t count = smpboot_cpu_count(&shared.session), checked = 0;
    const struct smpboot_cpu *previous = 0;
    for (uint32_t i = 1; i < count; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&shared.session, i);
        if (previous && previous->timeline.ready != 0 && cpu->timeline.kicked != 0) {
            checked++;
            if (cpu->timeline.kicked < previous->timeline.ready) {
                kprintf("minikernel: error: next_after_ready: cpu %u was kicked at %llu us, "
                        "before cpu %u said ready at %llu us\n",
                        i, (unsigned long long)(cpu->timeline.kicked / NS_PER_US), previous->index,
                        (unsigned long long)(previous->timeline.ready / NS_PER_US));
                check_problems++;
            }
        }
        previous = cpu;
    }
    kprintf("minikernel: next_after_ready: %u APs after the first checked: each kicked after "
            "the one before it said ready%s\n",
            checked, check_problems ? " (or an error above)" : "");
}

static void report_missing_checkins(void)
{
    uint32_t missing[16];
    uint32_t total = smpboot_barrier_missing(&shared.checkin, missing, 16);
    for (uint32_t i = 0; i < total && i < 16; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&shared.session, missing[i]);
        if (cpu)
            kprintf("minikernel: cpu %u apic %u (%s) never checked in\n", cpu->index, cpu->apic_id,
                    smpboot_cpu_result_str(cpu->result));
    }
    if (total > 16)
        kprintf("minikernel: ... and %u more never checked in\n", total - 16);
}

/*
 * The contract's per-CPU lines (earlier rounds: the kernel's own), printed by
 * the BSP in index order for every AP that recorded passing `announce`.
 */
static void print_announced_cpus(uint32_t round, uint32_t table_count)
{
    for (uint32_t i = 1; i < table_count && i < MAX_CPUS; i++) {
        if (__atomic_load_n(&shared.announced_round[i], __ATOMIC_ACQUIRE) != round)
            continue;
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&shared.session, i);
        if (round == shared.rounds)
            kprintf("smpboot: cpu %u apic %u online\n", cpu->index, cpu->apic_id);
        else
            kprintf("minikernel: round %u: cpu %u apic %u online\n", round, cpu->index,
                    cpu->apic_id);
    }
}

/* Wait, idling, until every online AP has finished its steps. */
static uint32_t wait_for_aps(uint32_t online_aps)
{
    struct smpboot_waiter waiter = idle_waiter();
    uint64_t start = clock_now_ns();
    uint32_t finished;

    while ((finished = __atomic_load_n(&shared.aps_finished, __ATOMIC_ACQUIRE)) < online_aps &&
           clock_now_ns() - start < scaled_wait_ns(FINISH_TIMEOUT_NS, online_aps))
        waiter.relax(waiter.ctx);
    return finished;
}

/*
 * No stray CPU: the entry ran exactly once on every online AP this round,
 * and never on one libsmpboot reports as failed.
 */
static uint32_t check_entry_runs(void)
{
    uint32_t problems = 0;
    uint32_t count = smpboot_cpu_count(&shared.session);
    for (uint32_t i = 1; i < count && i < MAX_CPUS; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&shared.session, i);
        uint32_t runs = __atomic_load_n(&shared.entry_runs[i], __ATOMIC_ACQUIRE);
        /* A NOT_READY AP went online and runs the entry; it just never said ready. */
        bool entered = cpu->result == SMPBOOT_CPU_ONLINE || cpu->result == SMPBOOT_CPU_NOT_READY;
        uint32_t want = entered ? 1u : 0u;
        if (runs == want)
            continue;
        kprintf("minikernel: error: the entry ran %u times on cpu %u apic %u (%s), expected %u\n",
                runs, i, cpu->apic_id, smpboot_cpu_result_str(cpu->result), want);
        problems++;
    }
    return problems;
}

static bool is_extra_id(uint32_t apic_id)
{
    for (uint32_t k = 0; k < run_options->extra_apic_count; k++)
        if (run_options->extra_apic[k] == apic_id)
            return true;
    return false;
}

/* extra_apic=: what became of each, and how long the call that gave up on it took. */
static void report_extra_ids(uint64_t call_ns)
{
    uint32_t count = smpboot_cpu_count(&shared.session);
    for (uint32_t i = 1; i < count; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&shared.session, i);
        if (!is_extra_id(cpu->apic_id))
            continue;
        char init_delay[24];
        format_init_delay(bringup_config.init_delay_ns, init_delay, sizeof(init_delay));
        kprintf("minikernel: extra apic %u: %s after a %llu us smpboot_start (ap_timeout %llu us, "
                "init delay %s us)\n",
                cpu->apic_id, smpboot_cpu_result_str(cpu->result),
                (unsigned long long)(call_ns / NS_PER_US),
                (unsigned long long)(bringup_config.ap_timeout_ns / NS_PER_US), init_delay);
    }
}

/*
 * An AP that did not come online will never check in: the BSP arrives in
 * its place (with no wait: the arrival counts even when the call times
 * out), so the online ones are not held up by it.
 */
static void stand_in_for_failed_aps(void)
{
    uint32_t count = smpboot_cpu_count(&shared.session);
    for (uint32_t i = 1; i < count; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&shared.session, i);
        /* A NOT_READY AP runs the entry and checks in itself, or is reported missing. */
        if (cpu->result != SMPBOOT_CPU_ONLINE && cpu->result != SMPBOOT_CPU_NOT_READY)
            (void)smpboot_barrier_wait(&shared.checkin, i, 0);
    }
}

/* Back to the starting line for another round: fresh gates, barrier and count. */
static void reset_rendezvous(uint32_t participants)
{
    struct smpboot_waiter waiter = idle_waiter();
    __atomic_store_n(&shared.aps_finished, 0u, __ATOMIC_RELAXED);
    __atomic_store_n(&shared.trampoline_gone, false, __ATOMIC_RELAXED);
    __atomic_store_n(&shared.delayed_entries_survived, 0u, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < MAX_CPUS; i++)
        __atomic_store_n(&shared.entry_runs[i], 0u, __ATOMIC_RELAXED);
    if (smpboot_gate_init(&shared.announce, &waiter) != SMPBOOT_OK ||
        smpboot_gate_init(&shared.proceed, &waiter) != SMPBOOT_OK ||
        smpboot_barrier_init(&shared.checkin, participants, shared.checkin_arrivals, &waiter) !=
            SMPBOOT_OK)
        panic("cannot set up the AP barrier and gates");
}

/*
 * rounds=N, before each round after the first: every AP is parked (interrupts
 * off, HLT, no lock held), which is the standstill smpboot_offline() needs.
 */
static void take_aps_offline(void)
{
    uint32_t count = smpboot_cpu_count(&shared.session);
    for (uint32_t i = 1; i < count; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(&shared.session, i);
        if (!cpu || cpu->result != SMPBOOT_CPU_ONLINE)
            continue;
        enum smpboot_status status = smpboot_offline(&shared.session, i);
        if (status != SMPBOOT_OK)
            kprintf("minikernel: smpboot_offline(%u): %s\n", i, smpboot_status_str(status));
    }
    host_flush_log();
    /* Offline APs own nothing: every frame libsmpboot borrowed is back, every mapping gone. */
    if (host_pages_held() != 0 || host_pages_mapped() != 0)
        kprintf("minikernel: error: with every AP offline libsmpboot still holds %llu pages "
                "and maps %llu\n",
                (unsigned long long)host_pages_held(), (unsigned long long)host_pages_mapped());
}

struct round_result {
    uint32_t online;
    uint32_t finished; /* APs that went through every step */
    uint64_t bringup_us;
};

/*
 * smpboot_finish(), and the checks that need the moment itself: the stacks
 * of APs that did not come online are watched until it frees them, and
 * entry_delay_ms='s APs are told that the trampoline page is gone.
 */
static enum smpboot_status finish_bringup(struct smpboot *sb, uint64_t *held_before_finish)
{
    *held_before_finish = host_pages_held();
    bool watching = run_options->late_aps || run_options->extra_apic_count > 0;
    if (watching)
        late_watch_unused_stacks(sb, AP_DOUBLE_FAULT_STACK_SIZE);
    enum smpboot_status status = smpboot_finish(sb);
    __atomic_store_n(&shared.trampoline_gone, true, __ATOMIC_RELEASE);
    host_flush_log();
    if (watching)
        check_problems += late_report_unused_stacks();
    return status;
}

/* entry_delay_ms=: every online AP must have survived its delayed entry. */
static void report_delayed_entries(uint32_t online_aps)
{
    uint32_t survived = __atomic_load_n(&shared.delayed_entries_survived, __ATOMIC_ACQUIRE);
    kprintf("minikernel: entry_delay: %u of %u online APs waited %llu ms on libsmpboot's GDT and "
            "IDT, then reloaded their segment registers and took a self-NMI, after "
            "smpboot_finish() had freed and poisoned the trampoline page\n",
            survived, online_aps, (unsigned long long)(shared.entry_delay_ns / NS_PER_MS));
    if (survived != online_aps) {
        kprintf("minikernel: error: entry_delay: %u online APs did not survive their delayed "
                "entry\n",
                online_aps - survived);
        check_problems++;
    }
}

/*
 * One bring-up: start, wait until every AP said ready (it runs on its own
 * tables), finish, then let the APs announce themselves and check in. With
 * entry_delay_ms= nothing waits for ready: finish comes right after start.
 */
static struct round_result run_round(uint32_t round, uint32_t table_count)
{
    struct smpboot *sb = &shared.session;
    struct round_result result;
    bool ready_handshake = shared.entry_delay_ns == 0;
    enum smpboot_status ready_status = SMPBOOT_OK;
    uint64_t held_before_finish = 0;

    shared.round = round;
    /* The timed region: no output until smpboot_start() returns. */
    host_defer_log(true);
    uint64_t nmis_before = nmi_count(0);
    host_note_slot_table();
    uint64_t call_start = clock_now_ns();
    enum smpboot_status status = smpboot_start(sb);
    uint64_t call_ns = clock_now_ns() - call_start;
    uint64_t nmis_during = nmi_count(0) - nmis_before;
    if (ready_handshake)
        ready_status = smpboot_wait_ready(sb);
    enum smpboot_status finish_status = finish_bringup(sb, &held_before_finish);
    host_defer_log(false);
    result.bringup_us = smpboot_bringup_ns(sb) / NS_PER_US;
    host_flush_log();
    result.online = smpboot_online_count(sb);
    kprintf("minikernel: smpboot_start: %s, %u of %u CPUs online, last AP after %llu us\n",
            smpboot_status_str(status), result.online, table_count,
            (unsigned long long)result.bringup_us);
    if (ready_handshake)
        kprintf("minikernel: smpboot_wait_ready: %s\n", smpboot_status_str(ready_status));
    else
        kprintf("minikernel: entry_delay: smpboot_finish called right after smpboot_start, "
                "trampoline page 0x%llx freed and poisoned\n",
                (unsigned long long)host_low_page());
    if (bringup_config.next_after_ready)
        check_next_after_ready();
    /* One machine-readable line per round, for bench/ (bench=R). */
    kprintf("smpboot: round r=%u online=%u bringup_us=%llu\n", round, result.online,
            (unsigned long long)result.bringup_us);
    /* helper I: where the BSP's time in smpboot_start() went (docs/minikernel.md). */
    struct smpboot_start_stats stats;
    if (smpboot_start_stats(sb, &stats) == SMPBOOT_OK)
        kprintf("smpboot: stats r=%u total_ns=%llu setup_ns=%llu stacks_ns=%llu trampoline_ns=%llu "
                "ipi_ns=%llu ipis=%u mandatory_wait_ns=%llu ap_wait_ns=%llu ready_wait_ns=%llu "
                "last_sipi_ns=%llu\n",
                round, (unsigned long long)stats.total_ns, (unsigned long long)stats.setup_ns,
                (unsigned long long)stats.setup_stacks_ns,
                (unsigned long long)stats.setup_trampoline_ns, (unsigned long long)stats.ipi_send_ns,
                stats.ipis_sent, (unsigned long long)stats.mandatory_wait_ns,
                (unsigned long long)stats.ap_wait_ns, (unsigned long long)stats.ready_wait_ns,
                (unsigned long long)stats.last_sipi_ns);
    report_timelines();
    kprintf("minikernel: smpboot_start call took %llu us\n", (unsigned long long)(call_ns / NS_PER_US));
    if (nmis_during)
        kprintf("minikernel: nmi: the BSP took %llu NMIs inside smpboot_start (round %u)\n",
                (unsigned long long)nmis_during, round);
    report_extra_ids(call_ns);

    stand_in_for_failed_aps();

    if (round == shared.rounds)
        kprintf("smpboot: cpu 0 apic %u online (bsp)\n", smpboot_cpu_get(sb, 0)->apic_id);
    idle_begin(IDLE_BSP_NAP_US);
    smpboot_gate_open(&shared.announce);
    wake_online_aps();

    if (smpboot_barrier_wait(&shared.checkin, 0, scaled_wait_ns(CHECKIN_TIMEOUT_NS, table_count)) !=
        SMPBOOT_OK)
        report_missing_checkins();
    print_announced_cpus(round, table_count);

    if (run_options->check_security)
        check_problems += security_check(&(struct security_inputs){
            .session = sb,
            .ap_control = shared.ap_control,
            .control_entries = MAX_CPUS,
            .trampoline_page = host_low_page(),
            .trampoline_poisoned = !ready_handshake,
            .stack_guard = shared.stacks_in_window,
            .extra_stack_size = AP_DOUBLE_FAULT_STACK_SIZE,
            .extra_stack_count = 1,
        });
    if (finish_status != SMPBOOT_OK)
        kprintf("minikernel: smpboot_finish: %s\n", smpboot_status_str(finish_status));
    kprintf("minikernel: memory: libsmpboot held %llu pages during bring-up, %llu after "
            "smpboot_finish (stacks of %u online APs)\n",
            (unsigned long long)held_before_finish, (unsigned long long)host_pages_held(),
            result.online - 1);
    if (result.online == 1 && host_pages_held() != 0)
        kprintf("minikernel: error: libsmpboot still holds %llu pages with no AP online\n",
                (unsigned long long)host_pages_held());
    /* The trampoline's identity mapping is gone; only window-mapped stacks may stay. */
    if (!shared.stacks_in_window && host_pages_mapped() != 0)
        kprintf("minikernel: error: libsmpboot still maps %llu pages after smpboot_finish\n",
                (unsigned long long)host_pages_mapped());

    smpboot_gate_open(&shared.proceed);
    wake_online_aps();
    result.finished = wait_for_aps(result.online - 1);
    idle_end();
    check_problems += check_entry_runs();
    if (shared.entry_delay_ns)
        report_delayed_entries(result.online - 1);
    return result;
}

/* Every CPU the MADT marks enabled, then the extra_apic= IDs. */
static void add_cpus(struct smpboot *sb, const struct topology *topology)
{
    for (uint32_t i = 0; i < topology->stored; i++) {
        if (!topology->cpus[i].enabled)
            continue;
        enum smpboot_status status = smpboot_add_cpu(sb, topology->cpus[i].apic_id);
        if (status != SMPBOOT_OK)
            kprintf("minikernel: smpboot_add_cpu(%u) failed: %s\n", topology->cpus[i].apic_id,
                    smpboot_status_str(status));
    }
    for (uint32_t k = 0; k < run_options->extra_apic_count; k++) {
        enum smpboot_status status = smpboot_add_cpu(sb, run_options->extra_apic[k]);
        if (status != SMPBOOT_OK)
            kprintf("minikernel: smpboot_add_cpu(%u) failed: %s\n", run_options->extra_apic[k],
                    smpboot_status_str(status));
    }
}

/* extra_apic=: say which IDs the MADT does not vouch for (they are not in `expected`). */
static void announce_extra_ids(const struct topology *topology)
{
    for (uint32_t k = 0; k < run_options->extra_apic_count; k++) {
        uint32_t id = run_options->extra_apic[k];
        const char *listed = "absent from the MADT or listed as not enabled";
        for (uint32_t i = 0; i < topology->stored; i++)
            if (topology->cpus[i].apic_id == id)
                listed = topology->cpus[i].enabled ? "enabled in the MADT: started as usual"
                                                   : "listed in the MADT as not enabled";
        kprintf("minikernel: extra apic %u: %s\n", id, listed);
    }
}

/*
 * fault=stack_unmapped:<apic>: libsmpboot maps CPU i's stacks in its part of
 * the window, [bytes(i), bytes(i+1)); skip the main stack's map() there.
 */
static void stage_unmapped_stack(const struct smpboot_config *config)
{
    struct smpboot *sb = &shared.session;
    const struct smpboot_cpu *cpu = smpboot_cpu_find(sb, run_options->fault_apic);
    if (!cpu || cpu->index == 0) {
        kprintf("minikernel: error: fault=stack_unmapped: apic %u is not an AP here\n",
                run_options->fault_apic);
        return;
    }
    uint64_t start = config->stack_window + smpboot_stack_window_bytes(config, cpu->index);
    uint64_t end = config->stack_window + smpboot_stack_window_bytes(config, cpu->index + 1);
    host_skip_map(start, end, config->stack_size / SMPBOOT_PAGE_SIZE);
    kprintf("minikernel: fault: the stack of apic %u (cpu %u) will not be mapped: its first push "
            "faults with the trampoline's empty IDT, a triple fault\n",
            cpu->apic_id, cpu->index);
}

/*
 * postmortem=1: where a runner that stops QEMU on a triple fault finds the
 * slot table (host.c notes its address while it exists)
 * and which slot is whose. Printed before smpboot_start(), outside the timed
 * region.
 */
static void print_postmortem_map(void)
{
    struct smpboot *sb = &shared.session;
    uint64_t holder = host_slot_table_holder();
    kprintf("minikernel: postmortem: slots_phys is kept at physical 0x%llx\n",
            (unsigned long long)holder);
    for (uint32_t i = 0; i < smpboot_cpu_count(sb); i++)
        kprintf("minikernel: postmortem: slot %u apic %u\n", i, smpboot_cpu_get(sb, i)->apic_id);
}

/* late_aps=1: a bring-up in which every AP is late, in a session of its own. */
static void run_late_session(const struct smpboot_host *host, const struct topology *topology)
{
    struct smpboot_config late = bringup_config;
    late_config(&late);
    struct smpboot *sb = &shared.session;
    enum smpboot_status status = smpboot_init(sb, host, &late, cpu_table, MAX_CPUS);
    if (status != SMPBOOT_OK) {
        kprintf("minikernel: error: late_aps: smpboot_init: %s\n", smpboot_status_str(status));
        check_problems++;
        return;
    }
    add_cpus(sb, topology);
    check_problems += late_run(sb, shared.entry_runs, MAX_CPUS, AP_DOUBLE_FAULT_STACK_SIZE);
    kprintf("minikernel: late_aps: now the normal bring-up, in a new session\n");
}

_Noreturn void smp_run(const struct options *options, const struct topology *topology,
                       enum smpboot_apic_mode apic_mode, const struct smpboot_apic_ops *apic)
{
    struct smpboot *sb = &shared.session;
    struct smpboot_host host;
    struct smpboot_config config;

    run_options = options;
    if (options->next_after_ready && options->entry_delay_ms)
        kprintf("minikernel: warning: next_after_ready=1 ignored: with entry_delay_ms= no entry "
                "says ready\n");
    host_build(&host, apic);
    uint32_t expected = topology_expected(topology);
    build_config(options, apic_mode, expected + options->extra_apic_count, &config);
    bringup_config = config;
    /* An AP waits through smpboot_start(), the ready wait and the BSP's printing. */
    shared.ap_wait_ns =
        smpboot_total_timeout_for(&config, expected + options->extra_apic_count)
        + config.ready_timeout_ns
        + scaled_wait_ns(AP_WAIT_MARGIN_NS, expected + options->extra_apic_count);
    shared.fault = options->fault;
    shared.rounds = options->rounds;
    shared.stacks_in_window = config.stack_window != 0;
    shared.check_security = options->check_security;
    shared.entry_delay_ns = options->entry_delay_ms * NS_PER_MS;
    if (shared.entry_delay_ns) {
        host_poison_freed_frames(true);
        kprintf("minikernel: entry_delay: each AP's entry waits %u ms on libsmpboot's GDT and "
                "IDT; smpboot_finish() runs right after smpboot_start(); freed frames are "
                "poisoned\n",
                options->entry_delay_ms);
    }
    if (options->fault == FAULT_NMI_DURING_BRINGUP) {
        nmi_broadcast_setup(lapic_current_id());
        host.relax = nmi_broadcast_relax;
        kprintf("minikernel: fault: the BSP broadcasts an NMI every %u us while libsmpboot "
                "waits\n",
                NMI_BROADCAST_PERIOD_US);
    }
    /* Frames of APs that never run must come back as they were handed out. */
    if (options->late_aps || options->extra_apic_count > 0)
        host_poison_frames(true);

    if (options->check_security)
        security_enrich_bsp_state();

    announce_extra_ids(topology);
    if (options->late_aps)
        run_late_session(&host, topology);

    enum smpboot_status status = smpboot_init(sb, &host, &config, cpu_table, MAX_CPUS);
    if (status != SMPBOOT_OK) {
        kprintf("minikernel: smpboot_init failed: %s\n", smpboot_status_str(status));
        console_print_last("smpboot: summary online=1 expected=%u failed=%u mode=%s bringup_us=0\n",
                           expected, expected - 1, mode_name(config.mode));
        power_off(false);
    }
    add_cpus(sb, topology);
    uint32_t table_count = smpboot_cpu_count(sb);
    if (config.stack_window &&
        smpboot_stack_window_bytes(&config, table_count) > STACK_WINDOW_SIZE)
        panic("the AP stack window is too small for %u CPUs", table_count);
    if (options->fault == FAULT_STACK_UNMAPPED)
        stage_unmapped_stack(&config);

    char init_delay[24];
    format_init_delay(config.init_delay_ns, init_delay, sizeof(init_delay));
    kprintf("minikernel: starting %u APs: mode=%s apic=%s init_delay_us=%s sipis=%u "
            "ap_timeout_ms=%llu stacks=%s\n",
            table_count - 1, mode_name(config.mode),
            apic_mode == SMPBOOT_APIC_X2APIC ? "x2apic" : "xapic", init_delay, config.sipi_count,
            (unsigned long long)(config.ap_timeout_ns / NS_PER_MS),
            config.stack_window ? "guarded window" : "direct map");
    if (options->postmortem || options->fault == FAULT_STACK_UNMAPPED ||
        options->fault == FAULT_NMI_DURING_BRINGUP)
        print_postmortem_map();

    struct round_result last = { 0, 0, 0 };
    /* With no AP there is nothing to take offline and start again. */
    if (table_count == 1 && shared.rounds > 1) {
        kprintf("minikernel: bench: no AP to start again: one round, not %u\n", shared.rounds);
        shared.rounds = 1;
    }
    for (uint32_t round = 1; round <= shared.rounds; round++) {
        if (round > 1) {
            take_aps_offline();
            kprintf("minikernel: round %u of %u: starting the APs again\n", round, shared.rounds);
        }
        reset_rendezvous(table_count);
        last = run_round(round, table_count);
    }

    report_failed_cpus();
    if (options->fault == FAULT_NMI_DURING_BRINGUP)
        kprintf("minikernel: fault: %llu NMI broadcasts sent during bring-up\n",
                (unsigned long long)nmi_broadcasts_sent());
    nmi_report(table_count, options->fault == FAULT_NMI_DURING_BRINGUP);
    if (check_problems)
        kprintf("minikernel: error: %u problems found by the kernel's own checks (see above)\n",
                check_problems);
    /*
     * Every AP listed or added that did not go through all its steps (last
     * round). extra_apic= IDs count here but not in `expected`, which is what
     * the firmware vouches for.
     */
    uint32_t aps = (table_count > expected ? table_count : expected) - 1;
    uint32_t failed = aps - (last.finished < aps ? last.finished : aps);
    bool success = last.online == expected && failed == 0;
    console_print_last("smpboot: summary online=%u expected=%u failed=%u mode=%s bringup_us=%llu\n",
                       last.online, expected, failed, mode_name(config.mode),
                       (unsigned long long)last.bringup_us);
    power_off(success);
}
