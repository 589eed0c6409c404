/*
 * REFERENCE, NOT A FEATURE: the trampoline of reference=naive-serial
 * (naive.c), written the way many hobby kernels write theirs. It shares
 * nothing with libsmpboot's trampoline.
 *
 * The BSP copies the bytes between naive_trampoline_start and
 * naive_trampoline_end to a page P below 1 MiB that is also identity mapped
 * in the kernel's page tables, fills in the parameters at the end (naive.c),
 * and sends INIT, SIPI, SIPI with vector P >> 12. The AP enters in real mode
 * at CS:IP = (P >> 4):0, goes to 32-bit protected mode, turns on paging with
 * the kernel's CR3 (so the BSP's tables must lie below 4 GiB), far-jumps to
 * 64-bit code, switches to its stack and calls entry(arg), which never
 * returns. No IDT: any exception on the way is a triple fault.
 *
 * Never executed where it is linked: it is data that naive.c copies.
 */
#define NT_OFFSET(label) ((label) - naive_trampoline_start)

#define CR0_PE 0x1
#define CR0_PG_WP 0x80010000
#define MSR_EFER 0xC0000080

#define SEL_CODE64 0x08
#define SEL_DATA 0x10
#define SEL_CODE32 0x18

    .section .rodata
    .balign 16
    .globl naive_trampoline_start
naive_trampoline_start:
    .code16
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    movzwl %ax, %ebx
    shll $4, %ebx                       /* EBX = P, kept to the end */
    lidtl NT_OFFSET(nt_null_idt)
    lgdtl NT_OFFSET(nt_gdt_pointer)
    movl %cr0, %eax
    orl $CR0_PE, %eax
    movl %eax, %cr0
    ljmpl *NT_OFFSET(nt_far32)

    .code32
    .globl naive_trampoline_code32
naive_trampoline_code32:
    movl $SEL_DATA, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl NT_OFFSET(naive_param_cr4)(%ebx), %eax
    movl %eax, %cr4
    movl NT_OFFSET(naive_param_cr3)(%ebx), %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    movl NT_OFFSET(naive_param_efer)(%ebx), %eax
    xorl %edx, %edx
    wrmsr
    movl %cr0, %eax
    orl $CR0_PG_WP, %eax
    movl %eax, %cr0
    ljmpl *NT_OFFSET(nt_far64)(%ebx)

    .code64
    .globl naive_trampoline_code64
naive_trampoline_code64:
    movl $SEL_DATA, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %ebx, %ebx                     /* the upper half is undefined after the switch */
    movq NT_OFFSET(naive_param_stack)(%rbx), %rsp
    movq NT_OFFSET(naive_param_arg)(%rbx), %rdi
    movq NT_OFFSET(naive_param_entry)(%rbx), %rax
    call *%rax
1:  cli
    hlt
    jmp 1b

    /* Accessed bits preset: the page is mapped read-only. */
    .balign 8
    .globl naive_trampoline_gdt
naive_trampoline_gdt:
    .quad 0
    .quad 0x00AF9B000000FFFF            /* 0x08: 64-bit code */
    .quad 0x00CF93000000FFFF            /* 0x10: flat data */
    .quad 0x00CF9B000000FFFF            /* 0x18: 32-bit code */
naive_trampoline_gdt_end:
nt_null_idt:
    .word 0
    .long 0
    .balign 4
nt_gdt_pointer:
    .word naive_trampoline_gdt_end - naive_trampoline_gdt - 1
    .globl naive_param_gdt_base
naive_param_gdt_base:                   /* P + offset of naive_trampoline_gdt */
    .long 0
    .balign 4
nt_far32:
    .globl naive_param_far32
naive_param_far32:                      /* P + offset of naive_trampoline_code32 */
    .long 0
    .word SEL_CODE32
    .balign 4
nt_far64:
    .globl naive_param_far64
naive_param_far64:                      /* P + offset of naive_trampoline_code64 */
    .long 0
    .word SEL_CODE64
    .balign 8
    .globl naive_param_cr3, naive_param_cr4, naive_param_efer
    .globl naive_param_stack, naive_param_entry, naive_param_arg
naive_param_cr3:
    .long 0
naive_param_cr4:
    .long 0
naive_param_efer:
    .long 0
    .long 0
naive_param_stack:
    .quad 0
naive_param_entry:
    .quad 0
naive_param_arg:
    .quad 0
    .globl naive_trampoline_end
naive_trampoline_end:

    .section .note.GNU-stack, "", @progbits
