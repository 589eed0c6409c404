/*
 * Per-CPU data, found through the GS base: each CPU points GS at its own
 * struct percpu, whose first field points back at it, so percpu_self() is a
 * single load. Indexed like libsmpboot's CPU table: 0 is the BSP.
 */
#ifndef MK_PERCPU_H
#define MK_PERCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "descriptors.h"

/* Upper bound on CPUs (QEMU 7.2's q35 allows 288). */
#define MAX_CPUS 512

struct percpu {
    struct percpu *self; /* must stay first: percpu_self() reads %gs:0 */
    uint32_t index;
    uint32_t apic_id;
    /* Nonzero: waits halt, each nap bounded by a one-shot timer of this count (idle.c). */
    uint32_t nap_timer_count;
    struct cpu_descriptors descriptors;
};

/*
 * On the CPU itself: load its GDT and TSS (the double-fault stack is
 * df_stack_top), point GS at its struct percpu, load the IDT.
 */
struct percpu *percpu_setup(uint32_t index, uint32_t apic_id, uintptr_t df_stack_top);

static inline struct percpu *percpu_self(void)
{
    struct percpu *self;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(self));
    return self;
}

#endif /* MK_PERCPU_H */
