/* Idling with HLT and the APIC timer. See idle.h. */
#include "idle.h"

#include "clock.h"
#include "cpu.h"
#include "lapic.h"
#include "percpu.h"

void idle_begin(void)
{
    percpu_self()->wake_timer_running = lapic_timer_start_periodic(IDLE_TICK_US);
}

void idle_end(void)
{
    lapic_timer_stop();
    percpu_self()->wake_timer_running = false;
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
    if (percpu_self()->wake_timer_running)
        cpu_idle_until_interrupt();
    else
        cpu_pause();
}

struct smpboot_waiter idle_waiter(void)
{
    return (struct smpboot_waiter){ .ctx = 0, .now_ns = waiter_now_ns, .relax = waiter_relax };
}
