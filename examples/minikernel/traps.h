/*
 * The C side of interrupt handling. isr.S saves the state below and calls
 * trap_dispatch() for every vector.
 */
#ifndef MK_TRAPS_H
#define MK_TRAPS_H

#include <stdint.h>

/* The stack as isr.S leaves it, lowest address first. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t vector;
    uint64_t error_code; /* 0 when the CPU pushes none */
    /* Pushed by the CPU. */
    uint64_t rip, cs, rflags, rsp, ss;
};

void trap_dispatch(struct trap_frame *frame);

#endif /* MK_TRAPS_H */
