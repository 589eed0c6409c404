/* Counting NMIs, and the staged NMI broadcast. See nmi.h. */
#include "nmi.h"

#include "clock.h"
#include "console.h"
#include "cpu.h"
#include "lapic.h"
#include "percpu.h"

#define MSR_GS_BASE 0xC0000101u
#define NS_PER_US 1000ull

static uint64_t counts[MAX_CPUS];
/* NMIs on a CPU whose GS base does not point at its per-CPU area yet. */
static uint64_t early_count;

static uint32_t broadcast_from;
static uint64_t last_broadcast_ns;
static uint64_t broadcasts;

void nmi_record(void)
{
    /* The BSP before percpu_setup() has no GS base; %gs:0 would fault. */
    if (rdmsr(MSR_GS_BASE) == 0) {
        __atomic_fetch_add(&early_count, 1, __ATOMIC_RELAXED);
        return;
    }
    uint32_t index = percpu_self()->index;
    if (index < MAX_CPUS)
        __atomic_fetch_add(&counts[index], 1, __ATOMIC_RELAXED);
}

uint64_t nmi_count(uint32_t index)
{
    return index < MAX_CPUS ? __atomic_load_n(&counts[index], __ATOMIC_RELAXED) : 0;
}

void nmi_report(uint32_t cpu_count, bool always)
{
    uint64_t total = __atomic_load_n(&early_count, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < cpu_count && i < MAX_CPUS; i++)
        total += nmi_count(i);
    if (total == 0 && !always)
        return;
    kprintf("minikernel: nmi: %llu NMIs taken in all, each counted and ignored (%llu before the "
            "per-CPU area existed)\n",
            (unsigned long long)total, (unsigned long long)early_count);
    for (uint32_t i = 0; i < cpu_count && i < MAX_CPUS; i++)
        kprintf("minikernel: nmi: cpu %u took %llu\n", i, (unsigned long long)nmi_count(i));
}

void nmi_broadcast_setup(uint32_t bsp_apic_id)
{
    broadcast_from = bsp_apic_id;
    last_broadcast_ns = 0;
    broadcasts = 0;
}

void nmi_broadcast_relax(void *ctx)
{
    (void)ctx;
    cpu_pause();
    /* libsmpboot calls relax on the APs too, before the kernel's entry: they stay quiet. */
    if (lapic_current_id() != broadcast_from)
        return;
    uint64_t now = clock_now_ns();
    if (now - last_broadcast_ns < NMI_BROADCAST_PERIOD_US * NS_PER_US)
        return;
    last_broadcast_ns = now;
    broadcasts++;
    lapic_broadcast_nmi();
}

uint64_t nmi_broadcasts_sent(void)
{
    return broadcasts;
}
