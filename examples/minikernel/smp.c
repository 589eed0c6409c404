/* The BSP's side of the bring-up. See smp.h. */
#include "smp.h"

#include "clock.h"
#include "console.h"
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

static const char *mode_name(enum smpboot_bringup_mode mode)
{
    return mode == SMPBOOT_MODE_SERIAL ? "serial" : "parallel";
}

static void build_config(const struct options *options, enum smpboot_apic_mode apic_mode,
                         struct smpboot_config *config)
{
    if (options->profile == PROFILE_FAST)
        smpboot_config_fast(config);
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
    config->entry = ap_entry;
    config->entry_arg = &shared;
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
                "long_mode %llu c %llu online %llu\n",
                cpu->index, cpu->apic_id, (unsigned long long)(t->kicked / NS_PER_US),
                (unsigned long long)(t->trampoline / NS_PER_US),
                (unsigned long long)(t->long_mode / NS_PER_US),
                (unsigned long long)(t->c_entry / NS_PER_US),
                (unsigned long long)(t->online / NS_PER_US));
    }
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

/* Wait, idling, until every online AP has finished its steps. */
static uint32_t wait_for_aps(uint32_t online_aps)
{
    struct smpboot_waiter waiter = idle_waiter();
    uint64_t start = clock_now_ns();
    uint32_t finished;

    while ((finished = __atomic_load_n(&shared.aps_finished, __ATOMIC_ACQUIRE)) < online_aps &&
           clock_now_ns() - start < FINISH_TIMEOUT_NS)
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
        uint32_t want = cpu->result == SMPBOOT_CPU_ONLINE ? 1u : 0u;
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
        kprintf("minikernel: extra apic %u: %s after a %llu us smpboot_start (ap_timeout %llu us, "
                "init delay %llu us)\n",
                cpu->apic_id, smpboot_cpu_result_str(cpu->result),
                (unsigned long long)(call_ns / NS_PER_US),
                (unsigned long long)(bringup_config.ap_timeout_ns / NS_PER_US),
                (unsigned long long)(bringup_config.init_delay_ns / NS_PER_US));
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
        if (cpu->result != SMPBOOT_CPU_ONLINE)
            (void)smpboot_barrier_wait(&shared.checkin, i, 0);
    }
}

/* Back to the starting line for another round: fresh gates, barrier and count. */
static void reset_rendezvous(uint32_t participants)
{
    struct smpboot_waiter waiter = idle_waiter();
    __atomic_store_n(&shared.aps_finished, 0u, __ATOMIC_RELAXED);
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

/* One bring-up: start, let the APs announce themselves and check in, finish. */
static struct round_result run_round(uint32_t round, uint32_t table_count)
{
    struct smpboot *sb = &shared.session;
    struct round_result result;

    shared.round = round;
    /* The timed region: no output until smpboot_start() returns. */
    host_defer_log(true);
    uint64_t nmis_before = nmi_count(0);
    uint64_t call_start = clock_now_ns();
    enum smpboot_status status = smpboot_start(sb);
    uint64_t call_ns = clock_now_ns() - call_start;
    uint64_t nmis_during = nmi_count(0) - nmis_before;
    host_defer_log(false);
    result.bringup_us = smpboot_bringup_ns(sb) / NS_PER_US;
    host_flush_log();
    result.online = smpboot_online_count(sb);
    kprintf("minikernel: smpboot_start: %s, %u of %u CPUs online, last AP after %llu us\n",
            smpboot_status_str(status), result.online, table_count,
            (unsigned long long)result.bringup_us);
    /* One machine-readable line per round, for bench/ (bench=R). */
    kprintf("smpboot: round r=%u online=%u bringup_us=%llu\n", round, result.online,
            (unsigned long long)result.bringup_us);
    report_timelines();
    kprintf("minikernel: smpboot_start call took %llu us\n", (unsigned long long)(call_ns / NS_PER_US));
    if (nmis_during)
        kprintf("minikernel: nmi: the BSP took %llu NMIs inside smpboot_start (round %u)\n",
                (unsigned long long)nmis_during, round);
    report_extra_ids(call_ns);

    stand_in_for_failed_aps();

    if (round == shared.rounds)
        kprintf("smpboot: cpu 0 apic %u online (bsp)\n", smpboot_cpu_get(sb, 0)->apic_id);
    idle_begin();
    smpboot_gate_open(&shared.announce);
    wake_online_aps();

    if (smpboot_barrier_wait(&shared.checkin, 0, CHECKIN_TIMEOUT_NS) != SMPBOOT_OK)
        report_missing_checkins();

    uint64_t held_before_finish = host_pages_held();
    bool watching = run_options->late_aps || run_options->extra_apic_count > 0;
    if (watching)
        late_watch_unused_stacks(sb, AP_DOUBLE_FAULT_STACK_SIZE);
    status = smpboot_finish(sb);
    host_flush_log();
    if (watching)
        check_problems += late_report_unused_stacks();
    if (run_options->check_security)
        check_problems += security_check(&(struct security_inputs){
            .session = sb,
            .ap_control = shared.ap_control,
            .control_entries = MAX_CPUS,
            .trampoline_page = host_low_page(),
            .stack_guard = shared.stacks_in_window,
            .extra_stack_size = AP_DOUBLE_FAULT_STACK_SIZE,
            .extra_stack_count = 1,
        });
    if (status != SMPBOOT_OK)
        kprintf("minikernel: smpboot_finish: %s\n", smpboot_status_str(status));
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
 * slot table (struct smpboot.slots_phys holds its address during bring-up)
 * and which slot is whose. Printed before smpboot_start(), outside the timed
 * region.
 */
static void print_postmortem_map(void)
{
    struct smpboot *sb = &shared.session;
    uint64_t holder = (uint64_t)(uintptr_t)&sb->slots_phys - KERNEL_VMA_BASE;
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
    host_build(&host, apic);
    build_config(options, apic_mode, &config);
    bringup_config = config;
    shared.ap_wait_ns = config.total_timeout_ns + AP_WAIT_MARGIN_NS;
    shared.fault = options->fault;
    shared.rounds = options->rounds;
    shared.stacks_in_window = config.stack_window != 0;
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

    uint32_t expected = topology_expected(topology);
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

    kprintf("minikernel: starting %u APs: mode=%s apic=%s init_delay_us=%llu sipis=%u "
            "ap_timeout_ms=%llu stacks=%s\n",
            table_count - 1, mode_name(config.mode),
            apic_mode == SMPBOOT_APIC_X2APIC ? "x2apic" : "xapic",
            (unsigned long long)(config.init_delay_ns / NS_PER_US), config.sipi_count,
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
