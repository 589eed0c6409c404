/* What an AP does from libsmpboot's hand-over until it parks. See smp.h. */
#include "smp.h"

#include "console.h"
#include "cpu.h"
#include "idle.h"
#include "lapic.h"
#include "security.h"

/*
 * fault=ap_stack_overflow: recurse until the stack runs out. With
 * stack_guard=1 the push into the guard page faults, delivering that #PF
 * faults again on the same stack, and the CPU raises #DF, which runs on its
 * own IST stack and reports. The depth bound is far beyond any stack size.
 */
static uint64_t exhaust_stack(uint64_t depth)
{
    volatile uint8_t frame[512];
    frame[0] = (uint8_t)depth;
    if (depth > (1ull << 32))
        return frame[0];
    return exhaust_stack(depth + 1) + frame[0];
}

void ap_entry(struct smpboot_cpu *cpu)
{
    struct smp_shared *shared = cpu->arg;

    /* Before anything here changes them: the state libsmpboot handed over. */
    if (cpu->index < MAX_CPUS) {
        security_read_control(&shared->ap_control[cpu->index]);
        __atomic_fetch_add(&shared->entry_runs[cpu->index], 1u, __ATOMIC_RELEASE);
    }

    /* Then leave the temporary GDT in the trampoline page, which smpboot_finish() frees. */
    struct percpu *self = percpu_setup(cpu->index, cpu->apic_id, cpu->extra_stack_top[0]);
    cpu->user = self;
    /* INIT left this APIC software-disabled; enabled, it can take the wake-up tick. */
    lapic_enable_this_cpu();
    /* On our own IDT now: an NMI is counted, not fatal, so let the platform's reach us. */
    lapic_route_nmi();
    idle_begin();

    bool completed = true;
    if (smpboot_gate_wait(&shared->announce, shared->ap_wait_ns) != SMPBOOT_OK)
        completed = false;
    /* The per-CPU lines of the contract come from the last round only. */
    uint32_t round = __atomic_load_n(&shared->round, __ATOMIC_RELAXED);
    if (round == shared->rounds)
        kprintf("smpboot: cpu %u apic %u online\n", cpu->index, cpu->apic_id);
    else
        kprintf("minikernel: round %u: cpu %u apic %u online\n", round, cpu->index, cpu->apic_id);
    if (shared->fault == FAULT_AP_STACK_OVERFLOW && cpu->index == 1)
        (void)exhaust_stack(0);

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
