/* Interrupt vectors the kernel uses. 0-31 are the CPU's exceptions. */
#ifndef MK_VECTORS_H
#define MK_VECTORS_H

/* The legacy 8259 PICs, remapped here and masked (pic.c), so a stray IRQ is harmless. */
#define VECTOR_PIC_FIRST 0x20
#define VECTOR_PIC_LAST 0x2F

/* The local APIC timer: it only wakes idle CPUs (see idle.c). */
#define VECTOR_TIMER 0xF0
/* A fixed IPI the BSP sends to wake APs idling at a gate. */
#define VECTOR_WAKE 0xF1
/* The local APIC's spurious vector; the low 4 bits must be 1 on old CPUs. */
#define VECTOR_SPURIOUS 0xFF

#endif /* MK_VECTORS_H */
