/* The BSP's side of the bring-up. See smp.h. */
#include "smp.h"

#include "clock.h"
#include "console.h"
#include "frames.h"
#include "host.h"
#include "idle.h"
#include "power.h"
#include "vectors.h"

#define NS_PER_US 1000ull
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
    config->apic_mode = apic_mode;
    config->extra_stack_count = 1;
    config->extra_stack_size = AP_DOUBLE_FAULT_STACK_SIZE;
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

_Noreturn void smp_run(const struct options *options, const struct topology *topology,
                       enum smpboot_apic_mode apic_mode, const struct smpboot_apic_ops *apic)
{
    struct smpboot *sb = &shared.session;
    struct smpboot_host host;
    struct smpboot_config config;

    host_build(&host, apic);
    build_config(options, apic_mode, &config);
    shared.ap_wait_ns = config.total_timeout_ns + AP_WAIT_MARGIN_NS;

    uint32_t expected = topology_expected(topology);
    enum smpboot_status status = smpboot_init(sb, &host, &config, cpu_table, MAX_CPUS);
    if (status != SMPBOOT_OK) {
        kprintf("minikernel: smpboot_init failed: %s\n", smpboot_status_str(status));
        console_print_last("smpboot: summary online=1 expected=%u failed=%u mode=%s bringup_us=0\n",
                           expected, expected - 1, mode_name(config.mode));
        power_off(false);
    }

    for (uint32_t i = 0; i < topology->stored; i++) {
        if (!topology->cpus[i].enabled)
            continue;
        status = smpboot_add_cpu(sb, topology->cpus[i].apic_id);
        if (status != SMPBOOT_OK)
            kprintf("minikernel: smpboot_add_cpu(%u) failed: %s\n", topology->cpus[i].apic_id,
                    smpboot_status_str(status));
    }
    uint32_t table_count = smpboot_cpu_count(sb);

    struct smpboot_waiter waiter = idle_waiter();
    if (smpboot_gate_init(&shared.announce, &waiter) != SMPBOOT_OK ||
        smpboot_gate_init(&shared.proceed, &waiter) != SMPBOOT_OK ||
        smpboot_barrier_init(&shared.checkin, table_count, shared.checkin_arrivals, &waiter) !=
            SMPBOOT_OK)
        panic("cannot set up the AP barrier and gates");

    kprintf("minikernel: starting %u APs: mode=%s apic=%s init_delay_us=%llu sipis=%u "
            "ap_timeout_ms=%llu\n",
            table_count - 1, mode_name(config.mode),
            apic_mode == SMPBOOT_APIC_X2APIC ? "x2apic" : "xapic",
            (unsigned long long)(config.init_delay_ns / NS_PER_US), config.sipi_count,
            (unsigned long long)(config.ap_timeout_ns / 1000000));

    /* The timed region: no output until smpboot_start() returns. */
    host_defer_log(true);
    status = smpboot_start(sb);
    host_defer_log(false);
    uint64_t bringup_us = smpboot_bringup_ns(sb) / NS_PER_US;
    host_flush_log();
    uint32_t online = smpboot_online_count(sb);
    kprintf("minikernel: smpboot_start: %s, %u of %u CPUs online, last AP after %llu us\n",
            smpboot_status_str(status), online, table_count, (unsigned long long)bringup_us);

    kprintf("smpboot: cpu 0 apic %u online (bsp)\n", smpboot_cpu_get(sb, 0)->apic_id);
    idle_begin();
    smpboot_gate_open(&shared.announce);
    wake_online_aps();

    if (smpboot_barrier_wait(&shared.checkin, 0, CHECKIN_TIMEOUT_NS) != SMPBOOT_OK)
        report_missing_checkins();

    uint64_t held_before_finish = host_pages_held();
    status = smpboot_finish(sb);
    host_flush_log();
    if (status != SMPBOOT_OK)
        kprintf("minikernel: smpboot_finish: %s\n", smpboot_status_str(status));
    kprintf("minikernel: memory: libsmpboot held %llu pages during bring-up, %llu after "
            "smpboot_finish (stacks of %u online APs)\n",
            (unsigned long long)held_before_finish, (unsigned long long)host_pages_held(),
            online - 1);
    if (online == 1 && host_pages_held() != 0)
        kprintf("minikernel: error: libsmpboot still holds %llu pages with no AP online\n",
                (unsigned long long)host_pages_held());

    smpboot_gate_open(&shared.proceed);
    wake_online_aps();
    uint32_t finished = wait_for_aps(online - 1);
    idle_end();

    report_failed_cpus();
    /* Every AP listed or added that did not go through all its steps. */
    uint32_t aps = (table_count > expected ? table_count : expected) - 1;
    uint32_t failed = aps - (finished < aps ? finished : aps);
    bool success = online == expected && failed == 0;
    console_print_last("smpboot: summary online=%u expected=%u failed=%u mode=%s bringup_us=%llu\n",
                       online, expected, failed, mode_name(config.mode),
                       (unsigned long long)bringup_us);
    power_off(success);
}
