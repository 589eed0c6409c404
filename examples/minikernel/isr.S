/*
 * One entry stub per interrupt vector, and the common path into C.
 *
 * Each stub makes the stack look the same whatever the vector: the CPU
 * pushes an error code for some exceptions only, so the others push a 0 in
 * its place. Then the vector number, then all general registers, which is
 * struct trap_frame (traps.h) read from the bottom up.
 *
 * isr_stub_table[v] is the address of vector v's stub, for idt.c.
 */

/* Exceptions for which the CPU pushes an error code (SDM vol. 3, 6.13). */
#define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || \
                           (v) == 21 || (v) == 29 || (v) == 30)

    .section .rodata
    .balign 8
    .globl isr_stub_table
isr_stub_table:

    .text
    .set vector, 0
    .rept 256
    .balign 16
1:
    .if !HAS_ERROR_CODE(vector)
    pushq $0
    .endif
    pushq $vector
    jmp isr_common
    .pushsection .rodata
    .quad 1b
    .popsection
    .set vector, vector + 1
    .endr

/*
 * The CPU aligned RSP to 16 before pushing its 5 words; with the error code,
 * the vector and 15 registers that makes 22 words, so RSP is 16-byte aligned
 * at the call, as the ABI wants.
 */
isr_common:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rbx
    pushq %rbp
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    movq %rsp, %rdi
    call trap_dispatch
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rbp
    popq %rbx
    popq %rdx
    popq %rcx
    popq %rax
    addq $16, %rsp                  /* the vector and the error code */
    iretq

/* No executable stack needed: tell the linker so. */
    .section .note.GNU-stack, "", @progbits
