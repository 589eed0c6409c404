/* GDT, TSS and IDT: building and loading. */
#include "descriptors.h"

#include <stddef.h>

#include "mem.h"

struct descriptor_pointer {
    uint16_t limit;
    uint64_t base;
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

#define GDT_CODE64 0x00AF9B000000FFFFull /* present, ring 0, execute/read, long mode, accessed */
#define GDT_DATA 0x00CF93000000FFFFull   /* present, ring 0, read/write, accessed */
#define TSS_TYPE_AVAILABLE 0x89u         /* present, 64-bit TSS, available */
#define IDT_INTERRUPT_GATE 0x8Eu         /* present, ring 0, interrupt gate: IF cleared on entry */
#define IDT_VECTORS 256
#define VECTOR_DOUBLE_FAULT 8

static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));

extern const uint64_t isr_stub_table[IDT_VECTORS];

void descriptors_load_gdt(struct cpu_descriptors *tables, uintptr_t double_fault_stack_top)
{
    memset(&tables->tss, 0, sizeof(tables->tss));
    tables->tss.ist[IST_DOUBLE_FAULT - 1] = double_fault_stack_top;
    /* No I/O permission bitmap: the base points past the TSS limit. */
    tables->tss.io_map_base = sizeof(tables->tss);

    uint64_t base = (uint64_t)(uintptr_t)&tables->tss;
    uint64_t limit = sizeof(tables->tss) - 1;
    tables->gdt[0] = 0;
    tables->gdt[1] = GDT_CODE64;
    tables->gdt[2] = GDT_DATA;
    tables->gdt[3] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) |
                     ((uint64_t)TSS_TYPE_AVAILABLE << 40) | (((limit >> 16) & 0xF) << 48) |
                     (((base >> 24) & 0xFF) << 56);
    tables->gdt[4] = base >> 32;

    struct descriptor_pointer pointer = { sizeof(tables->gdt) - 1,
                                          (uint64_t)(uintptr_t)tables->gdt };
    __asm__ volatile("lgdt %0" : : "m"(pointer) : "memory");
    /* CS can only be reloaded by a far transfer: return to the next line through it. */
    __asm__ volatile("pushq %[code]\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movl %[data], %%eax\n\t"
                     "movl %%eax, %%ds\n\t"
                     "movl %%eax, %%es\n\t"
                     "movl %%eax, %%ss\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "movl %%eax, %%fs\n\t"
                     "movl %%eax, %%gs\n\t"
                     :
                     : [code] "i"(SELECTOR_KERNEL_CODE), [data] "i"(SELECTOR_KERNEL_DATA)
                     : "rax", "memory");
    __asm__ volatile("ltr %w0" : : "r"((uint16_t)SELECTOR_TSS) : "memory");
}

void descriptors_init_idt(void)
{
    for (unsigned v = 0; v < IDT_VECTORS; v++) {
        uint64_t handler = isr_stub_table[v];
        idt[v] = (struct idt_gate){
            .offset_low = (uint16_t)handler,
            .selector = SELECTOR_KERNEL_CODE,
            .ist = v == VECTOR_DOUBLE_FAULT ? IST_DOUBLE_FAULT : 0,
            .type_attributes = IDT_INTERRUPT_GATE,
            .offset_middle = (uint16_t)(handler >> 16),
            .offset_high = (uint32_t)(handler >> 32),
            .reserved = 0,
        };
    }
}

void descriptors_load_idt(void)
{
    struct descriptor_pointer pointer = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(pointer) : "memory");
}
