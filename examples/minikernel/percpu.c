/* Per-CPU areas: a static array, one entry per logical CPU. */
#include "percpu.h"

#include "console.h"
#include "cpu.h"

#define MSR_GS_BASE 0xC0000101u

static struct percpu cpus[MAX_CPUS];

struct percpu *percpu_setup(uint32_t index, uint32_t apic_id, uintptr_t df_stack_top)
{
    if (index >= MAX_CPUS)
        panic("cpu index %u beyond MAX_CPUS", index);
    struct percpu *self = &cpus[index];
    self->self = self;
    self->index = index;
    self->apic_id = apic_id;
    self->nap_timer_count = 0;

    descriptors_load_gdt(&self->descriptors, df_stack_top);
    /* After the GDT: loading a segment register may change the GS base. */
    wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)self);
    descriptors_load_idt();
    return self;
}
