/* What an AP does from libsmpboot's hand-over until it parks. See smp.h. */
#include "smp.h"

#include "clock.h"
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

/* Reload every segment register from the GDT in force, CS by a far return. */
static void reload_segment_registers(void)
{
    __asm__ volatile("movw %%ss, %%ax\n\t"
                     "movw %%ax, %%ss\n\t"
                     "movw %%ds, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%es, %%ax\n\t"
                     "movw %%ax, %%es\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "movw %%cs, %%ax\n\t"
                     "pushq %%rax\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     :
                     :
                     : "rax", "memory");
}

/*
 * entry_delay_ms=: still on the GDT and IDT libsmpboot handed over, wait
 * until the delay is over and the BSP has freed and poisoned the
 * trampoline page, then read the GDT (segment reloads) and the IDT (an
 * NMI). Both must be memory that outlives bring-up, or this CPU dies here.
 */
static void delayed_entry(struct smp_shared *shared, struct smpboot_cpu *cpu)
{
    uint64_t start = clock_now_ns();
    while (clock_now_ns() - start < shared->entry_delay_ns ||
           !__atomic_load_n(&shared->trampoline_gone, __ATOMIC_ACQUIRE)) {
        if (clock_now_ns() - start > shared->ap_wait_ns) {
            kprintf("minikernel: error: entry_delay: cpu %u apic %u: the trampoline page was "
                    "never freed\n",
                    cpu->index, cpu->apic_id);
            return;
        }
        cpu_pause();
    }
    reload_segment_registers();
    if (lapic_self_nmi_seen(cpu->apic_id))
        __atomic_fetch_add(&shared->delayed_entries_survived, 1u, __ATOMIC_RELEASE);
    else
        kprintf("minikernel: error: entry_delay: cpu %u apic %u sent itself an NMI and saw no "
                "interrupt frame\n",
                cpu->index, cpu->apic_id);
}

void ap_entry(struct smpboot_cpu *cpu)
{
    struct smp_shared *shared = cpu->arg;

    /* Before anything here changes them: the state libsmpboot handed over. */
    if (cpu->index < MAX_CPUS) {
        security_read_control(&shared->ap_control[cpu->index]);
        if (shared->check_security)
            security_read_mtrrs(&shared->ap_control[cpu->index].mtrr);
        __atomic_fetch_add(&shared->entry_runs[cpu->index], 1u, __ATOMIC_RELEASE);
    }
    if (shared->entry_delay_ns)
        delayed_entry(shared, cpu);

    /* Then leave the temporary GDT in the trampoline page, which smpboot_finish() frees. */
    struct percpu *self = percpu_setup(cpu->index, cpu->apic_id, cpu->extra_stack_top[0]);
    cpu->user = self;
    /* On our own GDT, TSS and IDT: nothing more is needed of the bring-up. */
    if (!shared->entry_delay_ns)
        smpboot_ap_ready(cpu);
    /* INIT left this APIC software-disabled; enabled, it can take the wake-up IPI. */
    lapic_enable_this_cpu();
    /* On our own IDT now: an NMI is counted, not fatal, so let the platform's reach us. */
    lapic_route_nmi();
    idle_begin(IDLE_AP_NAP_US);

    bool completed = true;
    if (smpboot_gate_wait(&shared->announce, shared->ap_wait_ns) != SMPBOOT_OK)
        completed = false;
    /*
     * Recorded, not printed: the BSP prints every CPU's line in order once
     * they checked in. 254 CPUs printing at once would queue on the console
     * lock at the UART's pace, and their waits would run out meanwhile.
     */
    uint32_t round = __atomic_load_n(&shared->round, __ATOMIC_RELAXED);
    if (cpu->index < MAX_CPUS)
        __atomic_store_n(&shared->announced_round[cpu->index], round, __ATOMIC_RELEASE);
    if (shared->fault == FAULT_AP_STACK_OVERFLOW && cpu->index == 1)
        (void)exhaust_stack(0);

    /*
     * Arrive without waiting (timeout 0: the arrival counts either way); the
     * BSP waits for the round to complete and then opens `proceed`, which
     * ends with a wake-up IPI, so no AP naps waiting for the last arrival.
     */
    enum smpboot_status checkin = smpboot_barrier_wait(&shared->checkin, cpu->index, 0);
    if (checkin != SMPBOOT_OK && checkin != SMPBOOT_ERR_TIMEOUT)
        completed = false;
    if (smpboot_gate_wait(&shared->proceed, shared->ap_wait_ns) != SMPBOOT_OK)
        completed = false;

    idle_end();
    if (completed)
        __atomic_fetch_add(&shared->aps_finished, 1u, __ATOMIC_RELEASE);
    /* Nothing to schedule in this kernel: park with interrupts off. */
    cpu_halt_forever();
}
