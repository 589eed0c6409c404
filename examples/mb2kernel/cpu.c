/*
 * mb2kernel: descriptor tables, shared by all CPUs except for the TSS.
 *
 * GDT: 0x00 null, 0x08 64-bit code, 0x10 data, then one 16-byte TSS
 * descriptor per logical CPU from 0x18 (a TSS descriptor is marked busy
 * when loaded, so CPUs cannot share one). Each TSS gives the double fault
 * and the NMI their own stacks (IST1, IST2): a kernel-stack overflow then
 * still reaches the panic message instead of triple-faulting.
 *
 * IDT: the 32 exception vectors panic; NMI (2) and the spurious vector
 * (0xFF) return at once.
 */
#include "kernel.h"

#define SELECTOR_CODE 0x08u
#define SELECTOR_DATA 0x10u
#define SELECTOR_FIRST_TSS 0x18u

#define GDT_ENTRIES (3u + 2u * MB2_MAX_CPUS)
#define IDT_ENTRIES 256u
#define VECTOR_NMI 2u
#define VECTOR_DOUBLE_FAULT 8u
#define VECTOR_SPURIOUS 0xFFu
#define IST_DOUBLE_FAULT 1u
#define IST_NMI 2u

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t io_map_base;
} __attribute__((packed));

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attributes;
    uint16_t offset_middle;
    uint32_t offset_high;
    uint32_t reserved;
} __attribute__((packed));

struct descriptor_pointer {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

struct exception_frame {
    uint64_t vector;
    uint64_t error_code;
    uint64_t rip;
    uint64_t cs;
    uint64_t rflags;
    uint64_t rsp;
    uint64_t ss;
};

extern const uint64_t exception_stubs[32];
extern char interrupt_return_stub[];

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static struct idt_gate idt[IDT_ENTRIES] __attribute__((aligned(16)));
static struct tss tss[MB2_MAX_CPUS] __attribute__((aligned(16)));

void exception_handler(const struct exception_frame *frame);

static void set_gate(uint32_t vector, uint64_t handler, uint8_t ist)
{
    struct idt_gate *gate = &idt[vector];
    gate->offset_low = (uint16_t)handler;
    gate->selector = SELECTOR_CODE;
    gate->ist = ist;
    gate->type_attributes = 0x8E; /* present, DPL 0, 64-bit interrupt gate */
    gate->offset_middle = (uint16_t)(handler >> 16);
    gate->offset_high = (uint32_t)(handler >> 32);
    gate->reserved = 0;
}

void cpu_tables_init(void)
{
    gdt[0] = 0;
    /* Accessed bits preset: the CPU would otherwise write them on load. */
    gdt[1] = 0x00AF9B000000FFFFull; /* 64-bit code */
    gdt[2] = 0x00CF93000000FFFFull; /* flat data */
    for (uint32_t i = 0; i < MB2_MAX_CPUS; i++) {
        uint64_t base = (uintptr_t)&tss[i];
        uint64_t limit = sizeof(tss[i]) - 1;
        tss[i].io_map_base = sizeof(tss[i]); /* no I/O permission bitmap */
        gdt[3 + 2 * i] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) |
                         (0x89ull << 40) /* present, available 64-bit TSS */ |
                         (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
        gdt[3 + 2 * i + 1] = base >> 32;
    }
    for (uint32_t v = 0; v < 32; v++)
        set_gate(v, exception_stubs[v], v == VECTOR_DOUBLE_FAULT ? IST_DOUBLE_FAULT : 0);
    set_gate(VECTOR_NMI, (uintptr_t)interrupt_return_stub, IST_NMI);
    set_gate(VECTOR_SPURIOUS, (uintptr_t)interrupt_return_stub, 0);
}

void cpu_tables_load(uint32_t index, uintptr_t double_fault_stack_top, uintptr_t nmi_stack_top)
{
    if (index >= MB2_MAX_CPUS)
        panic("cpu: logical index %u beyond %u", index, MB2_MAX_CPUS);
    tss[index].ist[IST_DOUBLE_FAULT - 1] = double_fault_stack_top;
    tss[index].ist[IST_NMI - 1] = nmi_stack_top;

    struct descriptor_pointer gdtr = {sizeof(gdt) - 1, (uintptr_t)gdt};
    struct descriptor_pointer idtr = {sizeof(idt) - 1, (uintptr_t)idt};
    /*
     * After lgdt, CS still holds the descriptor cached from the old table:
     * a far return reloads it from ours. The layouts agree today (libsmpboot
     * enters the AP with 0x08 code, 0x10 data), but the reload keeps this
     * correct if either ever changes.
     */
    __asm__ volatile("lgdt %0\n\t"
                     "pushq %1\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movl %2, %%eax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%ss\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "movw %%ax, %%fs\n\t"
                     "movw %%ax, %%gs\n\t"
                     :
                     : "m"(gdtr), "i"(SELECTOR_CODE), "i"(SELECTOR_DATA)
                     : "rax", "memory");
    uint16_t tss_selector = (uint16_t)(SELECTOR_FIRST_TSS + 16u * index);
    __asm__ volatile("ltr %0" : : "r"(tss_selector) : "memory");
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

uint32_t cpu_current_apic_id(void)
{
    uint32_t a, b, c, d;
    cpuid(0, 0, &a, &b, &c, &d);
    if (a >= 0xB) {
        cpuid(0xB, 0, &a, &b, &c, &d);
        if (b != 0)
            return d; /* the full x2APIC ID */
    }
    cpuid(1, 0, &a, &b, &c, &d);
    return b >> 24;
}

void exception_handler(const struct exception_frame *frame)
{
    panic("exception %lu (error code %#lx) at rip %#lx, rsp %#lx, on the CPU with APIC ID %u",
          frame->vector, frame->error_code, frame->rip, frame->rsp, cpu_current_apic_id());
}
