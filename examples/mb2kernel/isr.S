/*
 * mb2kernel: interrupt entry stubs. Every exception is fatal (the kernel
 * panics with the vector, error code and RIP); an NMI and the local APIC's
 * spurious vector are survived: they return at once.
 */
    .text
    .code64


    .macro exception_stub vector
    .balign 16
exception_stub_\vector:
    /* Exceptions that push an error code (SDM vol. 3, table 6-1) need no dummy. */
    .if (\vector == 8) || (\vector >= 10 && \vector <= 14) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
    .else
    pushq $0
    .endif
    pushq $\vector
    jmp exception_common
    .endm

    .altmacro
    .set vector, 0
    .rept 32
    exception_stub %vector
    .set vector, vector + 1
    .endr

exception_common:
    mov %rsp, %rdi
    and $-16, %rsp
    call exception_handler
1:  cli
    hlt
    jmp 1b

    .globl interrupt_return_stub
interrupt_return_stub:
    iretq

    .section .rodata
    .balign 8
    .globl exception_stubs
exception_stubs:
    .macro stub_address vector
    .quad exception_stub_\vector
    .endm
    .set vector, 0
    .rept 32
    stub_address %vector
    .set vector, vector + 1
    .endr

    .section .note.GNU-stack, "", @progbits
