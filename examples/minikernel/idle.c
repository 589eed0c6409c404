/* Idling with HLT and a one-shot APIC timer. See idle.h. */
#include "idle.h"

#include "clock.h"
#include "cpu.h"
#include "lapic.h"
#include "percpu.h"

void idle_begin(uint32_t nap_us)
{
    percpu_self()->nap_timer_count = lapic_timer_count_for(nap_us);
}

void idle_end(void)
{
    lapic_timer_stop();
    percpu_self()->nap_timer_count = 0;
}

static uint64_t waiter_now_ns(void *ctx)
{
    (void)ctx;
    return clock_now_ns();
}

/* Called with interrupts off, after the waiter's last check: see cpu_idle_until_interrupt(). */
static void waiter_relax(void *ctx)
{
    (void)ctx;
    uint32_t count = percpu_self()->nap_timer_count;
    if (count) {
        /* Re-armed every nap: an IPI that ended the last one left it running. */
        lapic_timer_start_oneshot(count);
        cpu_idle_until_interrupt();
    } else {
        cpu_pause();
    }
}

struct smpboot_waiter idle_waiter(void)
{
    return (struct smpboot_waiter){ .ctx = 0, .now_ns = waiter_now_ns, .relax = waiter_relax };
}
