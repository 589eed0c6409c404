/* Late APs, and the memory no AP that failed may have touched. See late.h. */
#include "late.h"

#include "clock.h"
#include "console.h"
#include "host.h"
#include "idle.h"
#include "paging.h"

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define PAGE 4096u
/* The late APs get this long to reach the trampoline (TCG under load is slow to start a vCPU). */
#define ENTRY_WAIT_NS (2000 * NS_PER_MS)
/* Then this long more, to get from the entry count to their compare-and-swap and park. */
#define SETTLE_NS (50 * NS_PER_MS)

void late_config(struct smpboot_config *config)
{
    config->ap_timeout_ns = 1000;
    config->sipi_count = 1;
    config->init_delay_ns = 0;
    config->sdm_retry = false;
    config->total_timeout_ns = 0;
}

static bool watch_stack(uintptr_t top, size_t size)
{
    uint64_t phys;
    if (top == 0 || size == 0 || !paging_lookup((uint64_t)top - size, &phys, 0))
        return false;
    return host_watch_untouched(phys, size / PAGE);
}

uint32_t late_watch_unused_stacks(struct smpboot *sb, size_t extra_stack_size)
{
    uint32_t watched = 0;
    for (uint32_t i = 1; i < smpboot_cpu_count(sb); i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(sb, i);
        if (!cpu || cpu->result == SMPBOOT_CPU_ONLINE)
            continue;
        watched += watch_stack(cpu->stack_top, cpu->stack_size);
        for (uint32_t k = 0; k < SMPBOOT_MAX_EXTRA_STACKS; k++)
            watched += watch_stack(cpu->extra_stack_top[k], extra_stack_size);
    }
    return watched;
}

uint32_t late_report_unused_stacks(void)
{
    struct host_watch_report r = host_watch_results();
    kprintf("minikernel: untouched: %u stacks of APs that never came online: %u freed with the "
            "poison whole, %u written to, %u not freed\n",
            r.watched, r.freed_untouched, r.freed_touched, r.still_held);
    uint32_t problems = r.freed_touched;
    if (r.still_held) {
        kprintf("minikernel: error: untouched: smpboot_finish kept %u stacks of APs that are not "
                "online\n",
                r.still_held);
        problems++;
    }
    return problems;
}

static uint32_t entries_in(const uint32_t *entry_runs, uint32_t slots)
{
    uint32_t total = 0;
    for (uint32_t i = 0; i < slots; i++)
        total += __atomic_load_n(&entry_runs[i], __ATOMIC_ACQUIRE);
    return total;
}

/* Halt (1 ms naps) until `aps` trampoline entries or the bound. */
static uint64_t wait_for_entries(struct smpboot *sb, uint32_t aps)
{
    struct smpboot_waiter waiter = idle_waiter();
    uint64_t start = clock_now_ns();
    uint64_t reached = 0;
    idle_begin(IDLE_BSP_NAP_US);
    for (;;) {
        uint64_t now = clock_now_ns();
        if (!reached && smpboot_trampoline_entries(sb) >= aps)
            reached = now;
        if ((reached && now - reached >= SETTLE_NS) || now - start >= ENTRY_WAIT_NS + SETTLE_NS)
            break;
        waiter.relax(waiter.ctx);
    }
    idle_end();
    return reached ? reached - start : 0;
}

uint32_t late_run(struct smpboot *sb, const uint32_t *entry_runs, uint32_t entry_slots,
                  size_t extra_stack_size)
{
    uint32_t problems = 0;
    uint32_t aps = smpboot_cpu_count(sb) - 1;
    uint32_t entries_before = entries_in(entry_runs, entry_slots);

    host_defer_log(true);
    uint64_t t0 = clock_now_ns();
    enum smpboot_status status = smpboot_start(sb);
    uint64_t took = clock_now_ns() - t0;
    host_defer_log(false);
    host_flush_log();
    kprintf("minikernel: late_aps: smpboot_start: %s after %llu us (ap_timeout 1 us, 1 SIPI, no "
            "INIT delay)\n",
            smpboot_status_str(status), (unsigned long long)(took / NS_PER_US));

    /* (a) The BSP gave up on every AP. */
    uint32_t timed_out = 0;
    for (uint32_t i = 1; i <= aps; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(sb, i);
        if (cpu->result == SMPBOOT_CPU_TIMED_OUT) {
            timed_out++;
            continue;
        }
        kprintf("minikernel: error: late_aps: apic %u is %s, not timed out: it was not late\n",
                cpu->apic_id, smpboot_cpu_result_str(cpu->result));
        problems++;
    }

    /* (b) They did run the trampoline, after the verdict. */
    uint64_t reached_ns = wait_for_entries(sb, aps);
    uint32_t entries = smpboot_trampoline_entries(sb);
    kprintf("minikernel: late_aps: %u trampoline entries for %u APs (%s after %llu us), then "
            "%llu ms for them to lose their slot and park\n",
            entries, aps, reached_ns ? "all in" : "NOT all in",
            (unsigned long long)(reached_ns / NS_PER_US),
            (unsigned long long)(SETTLE_NS / NS_PER_MS));
    if (entries != aps) {
        kprintf("minikernel: error: late_aps: %u trampoline entries, expected exactly one per AP "
                "(%u)\n",
                entries, aps);
        problems++;
    }

    /* (d) None of them reached the kernel's entry. */
    uint32_t entry_calls = entries_in(entry_runs, entry_slots) - entries_before;
    if (entry_calls) {
        kprintf("minikernel: error: late_aps: the kernel's entry ran %u times\n", entry_calls);
        problems++;
    }

    /* (c) Their stacks: poisoned when allocated, checked when freed after INIT. */
    uint32_t watched = late_watch_unused_stacks(sb, extra_stack_size);
    status = smpboot_finish(sb);
    host_flush_log();
    if (status != SMPBOOT_OK) {
        kprintf("minikernel: error: late_aps: smpboot_finish: %s\n", smpboot_status_str(status));
        problems++;
    }
    problems += late_report_unused_stacks();
    if (watched == 0 && aps > 0) {
        kprintf("minikernel: error: late_aps: no stack could be watched\n");
        problems++;
    }
    entry_calls = entries_in(entry_runs, entry_slots) - entries_before;
    if (entry_calls) {
        kprintf("minikernel: error: late_aps: the kernel's entry ran %u times by the end\n",
                entry_calls);
        problems++;
    }

    kprintf("minikernel: late_aps: verdict: %s: %u of %u APs timed out, %u trampoline entries, "
            "%u entry calls, %u stacks freed untouched after INIT\n",
            problems ? "FAILED" : "every AP was late and left no trace", timed_out, aps, entries,
            entry_calls, host_watch_results().freed_untouched);
    return problems;
}
