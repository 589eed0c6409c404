/* What an AP does from libsmpboot's hand-over until it parks. See smp.h. */
#include "smp.h"

#include "console.h"
#include "cpu.h"
#include "idle.h"
#include "lapic.h"

void ap_entry(struct smpboot_cpu *cpu)
{
    struct smp_shared *shared = cpu->arg;

    /* First: leave the temporary GDT in the trampoline page, which smpboot_finish() frees. */
    struct percpu *self = percpu_setup(cpu->index, cpu->apic_id, cpu->extra_stack_top[0]);
    cpu->user = self;
    /* INIT left this APIC software-disabled; enabled, it can take the wake-up tick. */
    lapic_enable_this_cpu();
    idle_begin();

    bool completed = true;
    if (smpboot_gate_wait(&shared->announce, shared->ap_wait_ns) != SMPBOOT_OK)
        completed = false;
    kprintf("smpboot: cpu %u apic %u online\n", cpu->index, cpu->apic_id);

    if (smpboot_barrier_wait(&shared->checkin, cpu->index, shared->ap_wait_ns) != SMPBOOT_OK)
        completed = false;
    if (smpboot_gate_wait(&shared->proceed, shared->ap_wait_ns) != SMPBOOT_OK)
        completed = false;

    idle_end();
    if (completed)
        __atomic_fetch_add(&shared->aps_finished, 1u, __ATOMIC_RELEASE);
    /* Nothing to schedule in this kernel: park with interrupts off. */
    cpu_halt_forever();
}
