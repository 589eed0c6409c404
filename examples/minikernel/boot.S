/*
 * From Multiboot to C: the Multiboot 1 header, the 32-bit entry, and the
 * switch to long mode on early page tables.
 *
 * QEMU (-kernel) enters mk_entry32 in 32-bit protected mode, paging off,
 * EAX = 0x2BADB002, EBX = physical address of the Multiboot info. The code
 * is linked in the higher half but runs here at its physical address, so
 * every absolute reference goes through PHYS(); relative jumps need nothing.
 *
 * The early tables map the first 1 GiB three times, with 2 MiB pages:
 *   identity        so this code keeps running when paging comes on,
 *   KERNEL_VMA_BASE so the C code runs where it was linked,
 *   DIRECT_MAP_BASE so phys_to_virt() already works for low memory.
 * paging.c replaces them with the kernel's own tables (no identity map).
 */
#include "layout.h"

#define PHYS(sym) ((sym) - KERNEL_VMA_BASE)

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002
/* Bit 1: we want mem_* and the memory map. */
#define MULTIBOOT_WANT_MEMORY (1 << 1)
/*
 * Bit 16: load by the address fields of the header. QEMU 7.2 rejects a
 * 64-bit ELF ("Cannot load x86-64 image, give a 32bit one") unless this bit
 * is set, in which case it never looks at the ELF headers.
 */
#define MULTIBOOT_ADDRESS_FIELDS (1 << 16)
#define MULTIBOOT_FLAGS (MULTIBOOT_WANT_MEMORY | MULTIBOOT_ADDRESS_FIELDS)

#define PTE_PRESENT 0x1
#define PTE_WRITE 0x2
#define PTE_LARGE 0x80

#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xC0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define CPUID_EXT_LM (1 << 29)
#define CPUID_EXT_NX (1 << 20)

#define SEL_CODE64 0x08
#define SEL_DATA 0x10

#define COM1 0x3F8

    .section .multiboot, "a"
    .balign 4
multiboot_header:
    .long MULTIBOOT_HEADER_MAGIC
    .long MULTIBOOT_FLAGS
    .long (0 - (MULTIBOOT_HEADER_MAGIC + MULTIBOOT_FLAGS)) & 0xFFFFFFFF
    .long PHYS(multiboot_header)    /* header_addr */
    .long PHYS(__image_start)       /* load_addr: the file is copied from here... */
    .long PHYS(__data_end)          /* load_end_addr: ...to here */
    .long PHYS(__bss_end)           /* bss_end_addr: the loader zeroes up to here */
    .long PHYS(mk_entry32)          /* entry_addr */

    .section .text.boot, "ax"
    .code32
    .globl mk_entry32
mk_entry32:
    cli
    cld
    movl $PHYS(boot_stack_top), %esp
    /* ESI keeps the info pointer: neither CPUID, RDMSR nor REP STOSB touch it. */
    movl %ebx, %esi

    cmpl $MULTIBOOT_BOOTLOADER_MAGIC, %eax
    movl $PHYS(msg_not_multiboot), %eax
    jne boot_fail32

    /* Zero .bss ourselves: a loader that ignores bss_end_addr must not hurt us. */
    movl $PHYS(__bss_start), %edi
    movl $PHYS(__bss_end), %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb

    /* Long mode must exist; NX is used when it exists. */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    movl $PHYS(msg_no_long_mode), %eax
    jb boot_fail32
    movl $0x80000001, %eax
    cpuid
    testl $CPUID_EXT_LM, %edx
    movl $PHYS(msg_no_long_mode), %eax
    jz boot_fail32
    movl %edx, %ebp                 /* EBP: the extended feature bits, for NX below */

    /* The early page tables. */
    movl $PHYS(boot_pdpt_low) + PTE_PRESENT + PTE_WRITE, %eax
    movl %eax, PHYS(boot_pml4) + 0 * 8
    movl %eax, PHYS(boot_pml4) + 256 * 8      /* DIRECT_MAP_BASE */
    movl $PHYS(boot_pdpt_high) + PTE_PRESENT + PTE_WRITE, %eax
    movl %eax, PHYS(boot_pml4) + 511 * 8      /* KERNEL_VMA_BASE: PML4 slot 511... */
    movl $PHYS(boot_pd) + PTE_PRESENT + PTE_WRITE, %eax
    movl %eax, PHYS(boot_pdpt_low) + 0 * 8
    movl %eax, PHYS(boot_pdpt_high) + 510 * 8 /* ...PDPT slot 510 */

    movl $PHYS(boot_pd), %edi
    movl $PTE_PRESENT + PTE_WRITE + PTE_LARGE, %eax
    movl $512, %ecx
1:  movl %eax, (%edi)                         /* high dword stays 0 from the bss clear */
    addl $0x200000, %eax
    addl $8, %edi
    loop 1b

    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $PHYS(boot_pml4), %eax
    movl %eax, %cr3

    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    testl $CPUID_EXT_NX, %ebp
    jz 2f
    /* NXE: without it the NX bit is reserved and paging.c must leave it clear. */
    orl $EFER_NXE, %eax
2:  wrmsr

    /* WP: read-only kernel pages stay read-only for ring 0 too. */
    movl %cr0, %eax
    orl $CR0_PG + CR0_WP, %eax
    movl %eax, %cr0

    /* Paging is on, in compatibility mode; a far jump into a 64-bit segment ends it. */
    lgdt PHYS(boot_gdt_pointer32)
    ljmp $SEL_CODE64, $PHYS(boot_entry64_low)

/* EAX: physical address of a NUL-terminated message. Print it, tell QEMU, halt. */
boot_fail32:
    movl %eax, %ebx
3:  movb (%ebx), %al
    testb %al, %al
    jz 5f
    movl $COM1 + 5, %edx
    movl $100000, %ecx
4:  inb %dx, %al                          /* wait (bounded) for the transmitter */
    testb $0x20, %al
    loopz 4b
    movb (%ebx), %al
    movl $COM1, %edx
    outb %al, %dx
    incl %ebx
    jmp 3b
5:  movl $QEMU_EXIT_FAILURE, %eax
    movl $QEMU_DEBUG_EXIT_PORT, %edx
    outl %eax, %dx
6:  hlt
    jmp 6b

    .code64
boot_entry64_low:
    movl $SEL_DATA, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    xorl %eax, %eax
    movl %eax, %fs
    movl %eax, %gs
    /* Leave the identity mapping for the addresses the kernel was linked at. */
    movabsq $boot_entry64_high, %rax
    jmp *%rax

    .text
boot_entry64_high:
    movq $boot_stack_top, %rsp
    /* The GDT again, by its virtual address: the identity map will go away. */
    lgdt boot_gdt_pointer64(%rip)
    xorl %ebp, %ebp
    movl %esi, %edi                 /* kmain(uint32_t multiboot_info_phys) */
    call kmain
7:  cli
    hlt
    jmp 7b

    .section .rodata
msg_not_multiboot:
    .asciz "minikernel: not started by a Multiboot loader\r\n"
msg_no_long_mode:
    .asciz "minikernel: this CPU has no long mode\r\n"

    /* In .data, not .rodata: the CPU sets the accessed bits when it loads a selector. */
    .data
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00AF9B000000FFFF        /* 0x08: 64-bit code, present, ring 0 */
    .quad 0x00CF93000000FFFF        /* 0x10: data, present, writable */
boot_gdt_end:

    .balign 8
boot_gdt_pointer32:
    .word boot_gdt_end - boot_gdt - 1
    .long PHYS(boot_gdt)

    .balign 8
boot_gdt_pointer64:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt

    .bss
    .balign 4096
boot_pml4:
    .skip 4096
boot_pdpt_low:
    .skip 4096
boot_pdpt_high:
    .skip 4096
boot_pd:
    .skip 4096
    .balign 16
boot_stack:
    .skip BOOT_STACK_SIZE
    .globl boot_stack_top
boot_stack_top:

/* No executable stack needed: tell the linker so. */
    .section .note.GNU-stack, "", @progbits
