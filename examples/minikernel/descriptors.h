/*
 * Per-CPU descriptor tables: a GDT and a TSS for each CPU, and the IDT they
 * all share.
 *
 * An AP must load these first thing: libsmpboot lands it on a temporary GDT
 * inside the trampoline page, which smpboot_finish() takes away.
 */
#ifndef MK_DESCRIPTORS_H
#define MK_DESCRIPTORS_H

#include <stdint.h>

#define SELECTOR_KERNEL_CODE 0x08
#define SELECTOR_KERNEL_DATA 0x10
#define SELECTOR_TSS 0x18

/* The double-fault handler runs on its own stack (IST1): the fault may be a blown stack. */
#define IST_DOUBLE_FAULT 1

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t io_map_base;
} __attribute__((packed));

struct cpu_descriptors {
    /* null, kernel code, kernel data, TSS (two slots: a 16-byte descriptor) */
    uint64_t gdt[5];
    struct tss tss;
} __attribute__((aligned(16)));

/* Fill and load this CPU's GDT and TSS, and reload every segment register. */
void descriptors_load_gdt(struct cpu_descriptors *tables, uintptr_t double_fault_stack_top);

/* Build the shared IDT (once, on the BSP). */
void descriptors_init_idt(void);

/* Load the shared IDT on this CPU. */
void descriptors_load_idt(void);

#endif /* MK_DESCRIPTORS_H */
