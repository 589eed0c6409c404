/*
 * From Multiboot to C: the Multiboot 1 and 2 headers, the 32-bit entry, and
 * the switch to long mode on early page tables.
 *
 * Two headers, one entry: QEMU's -kernel speaks only Multiboot 1; GRUB's
 * `multiboot2` command reads the Multiboot 2 header, and only Multiboot 2
 * passes the ACPI RSDP, which UEFI firmware keeps where no legacy scan
 * finds it. Either loader enters mk_entry32 in 32-bit protected mode,
 * paging off, EAX = its magic (0x2BADB002 or 0x36D76289), EBX = physical
 * address of its information structure. The code
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
#define MULTIBOOT2_HEADER_MAGIC 0xE85250D6
#define MULTIBOOT2_BOOTLOADER_MAGIC 0x36D76289
#define MULTIBOOT2_ARCH_I386 0
/* Multiboot 2 header tags (specification 2.0, 3.1.3-3.1.6). */
#define MB2_TAG_END 0
#define MB2_TAG_INFO_REQUEST 1
#define MB2_TAG_ADDRESS 2
#define MB2_TAG_ENTRY 3
#define MB2_TAG_OPTIONAL 1
/* Information tags asked for: command line, memory map, ACPI 1.0 and 2.0+ RSDP copies. */
#define MB2_INFO_CMDLINE 1
#define MB2_INFO_MMAP 6
#define MB2_INFO_ACPI_OLD 14
#define MB2_INFO_ACPI_NEW 15
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
#define CR4_LA57 (1 << 12)
#define MSR_EFER 0xC0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define CPUID_EXT_LM (1 << 29)
#define CPUID_EXT_NX (1 << 20)

#define SEL_CODE64 0x08
#define SEL_DATA 0x10
#define SEL_CODE32 0x18

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

    /*
     * Multiboot 2 (within the first 32 KiB, 8-byte aligned). The address tag
     * is the same "load these bytes here" kludge as bit 16 above, so GRUB
     * never reads the 64-bit ELF headers either. No EFI tags: GRUB then
     * exits boot services and enters in 32-bit protected mode on UEFI too.
     */
    .balign 8
multiboot2_header:
    .long MULTIBOOT2_HEADER_MAGIC
    .long MULTIBOOT2_ARCH_I386
    .long multiboot2_header_end - multiboot2_header
    .long (0 - (MULTIBOOT2_HEADER_MAGIC + MULTIBOOT2_ARCH_I386 + \
                (multiboot2_header_end - multiboot2_header))) & 0xFFFFFFFF
    /* Optional: a BIOS has no ACPI 2.0 RSDP to give, a UEFI machine maybe no 1.0 one. */
    .balign 8
    .short MB2_TAG_INFO_REQUEST, MB2_TAG_OPTIONAL
    .long 8 + 4 * 4
    .long MB2_INFO_CMDLINE, MB2_INFO_MMAP, MB2_INFO_ACPI_OLD, MB2_INFO_ACPI_NEW
    .balign 8
    .short MB2_TAG_ADDRESS, 0
    .long 24
    .long PHYS(multiboot2_header)   /* header_addr */
    .long PHYS(__image_start)       /* load_addr */
    .long PHYS(__data_end)          /* load_end_addr */
    .long PHYS(__bss_end)           /* bss_end_addr */
    .balign 8
    .short MB2_TAG_ENTRY, 0
    .long 12
    .long PHYS(mk_entry32)
    .balign 8
    .short MB2_TAG_END, 0
    .long 8
multiboot2_header_end:

    .section .text.boot, "ax"
    .code32
    .globl mk_entry32
mk_entry32:
    cli
    cld
    movl $PHYS(boot_stack_top), %esp
    /* ESI keeps the info pointer: neither CPUID, RDMSR nor REP STOSB touch it. */
    movl %ebx, %esi

    /* Which loader: kmain reads its information structure accordingly. .data is not cleared. */
    movl %eax, PHYS(boot_loader_magic)
    cmpl $MULTIBOOT_BOOTLOADER_MAGIC, %eax
    je 8f
    cmpl $MULTIBOOT2_BOOTLOADER_MAGIC, %eax
    movl $PHYS(msg_not_multiboot), %eax
    jne boot_fail32
8:

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
    movl boot_loader_magic(%rip), %edi  /* kmain(uint32_t loader_magic, */
                                        /*       uint32_t info_phys): ESI */
    call kmain
7:  cli
    hlt
    jmp 7b

/*
 * void boot_switch_to_la57(void): paging=5. CR4.LA57 can only change while
 * paging is off, and the command line is only parsed in C, so the BSP
 * leaves long mode once, briefly, on the early tables: to 32-bit code on the
 * identity map, paging off, LA57 on, CR3 = a 5-level root whose first and
 * last entries both lead to boot_pml4 (so the identity map, the direct map
 * and the kernel stay where they are), paging on, back to 64-bit code. Only
 * before paging_init(): it relies on boot.S's identity map of the first
 * 1 GiB. The caller checked CPUID for LA57. Runs with interrupts off and
 * touches no stack in 32-bit code; its own GDT for the 32-bit selector,
 * then the caller's GDT again (its 0x08 and 0x10 are the same).
 */
    .globl boot_switch_to_la57
boot_switch_to_la57:
    pushfq
    cli
    pushq %rbx
    sgdt saved_gdt_pointer(%rip)
    lgdt boot_gdt_pointer64(%rip)
    movq $PHYS(boot_pml4) + PTE_PRESENT + PTE_WRITE, %rax
    movq %rax, boot_pml5 + 0 * 8(%rip)
    movq %rax, boot_pml5 + 511 * 8(%rip)
    /* Onto the identity map (the boot tables map the first 1 GiB), then to 32-bit code. */
    pushq $SEL_CODE32
    pushq $PHYS(la57_code32)
    lretq
    .code32
la57_code32:
    movl %cr0, %eax
    andl $~CR0_PG, %eax
    movl %eax, %cr0                 /* paging off: long mode is inactive now */
    movl %cr4, %eax
    orl $CR4_LA57, %eax
    movl %eax, %cr4
    movl $PHYS(boot_pml5), %eax
    movl %eax, %cr3
    movl %cr0, %eax
    orl $CR0_PG, %eax
    movl %eax, %cr0                 /* EFER.LME is still set: long mode, 5 levels */
    ljmp $SEL_CODE64, $PHYS(la57_code64_low)
    .code64
la57_code64_low:
    movabsq $la57_code64_high, %rax
    jmp *%rax
la57_code64_high:
    lgdt saved_gdt_pointer(%rip)
    popq %rbx
    popfq
    ret

    .section .rodata
msg_not_multiboot:
    .asciz "minikernel: not started by a Multiboot loader\r\n"
msg_no_long_mode:
    .asciz "minikernel: this CPU has no long mode\r\n"

    /* In .data, not .rodata: the CPU sets the accessed bits when it loads a selector. */
    .data
    .balign 4
boot_loader_magic:
    .long 0

    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00AF9B000000FFFF        /* 0x08: 64-bit code, present, ring 0 */
    .quad 0x00CF93000000FFFF        /* 0x10: data, present, writable */
    .quad 0x00CF9B000000FFFF        /* 0x18: 32-bit code, for boot_switch_to_la57 */
boot_gdt_end:

    .balign 8
boot_gdt_pointer32:
    .word boot_gdt_end - boot_gdt - 1
    .long PHYS(boot_gdt)

    .balign 8
boot_gdt_pointer64:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt

    .balign 8
saved_gdt_pointer:
    .skip 10

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
boot_pml5:                          /* paging=5 only: see boot_switch_to_la57 */
    .skip 4096
    .balign 16
boot_stack:
    .skip BOOT_STACK_SIZE
    .globl boot_stack_top
boot_stack_top:

/* No executable stack needed: tell the linker so. */
    .section .note.GNU-stack, "", @progbits
