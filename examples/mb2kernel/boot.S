/*
 * mb2kernel: the Multiboot 2 header and the BSP's way from GRUB's 32-bit
 * protected mode to 64-bit C.
 *
 * GRUB (BIOS or UEFI) jumps to _start with paging off, interrupts off,
 * EAX = the Multiboot 2 magic and EBX = the information structure's physical
 * address; ESP, the GDT and the IDT are undefined (Multiboot 2 spec, 3.3).
 * We build page tables that identity-map the first 4 GiB, enter long mode
 * and call kmain(info). Every address in the kernel is its physical address
 * (linked at 1 MiB, -mcmodel=small), so nothing is relocated.
 */

#define MB2_HEADER_MAGIC 0xE85250D6
#define MB2_BOOT_MAGIC 0x36D76289
#define MB2_ARCH_I386 0

#define PTE_PRESENT 0x1
#define PTE_WRITE 0x2
#define PTE_PWT 0x8
#define PTE_PCD 0x10
#define PTE_LARGE 0x80

#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xC0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)

#define COM1 0x3F8
#define DEBUG_EXIT_PORT 0xF4
#define DEBUG_EXIT_FAILURE 0x11

    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_HEADER_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))

    /* Information request, optional (flags bit 0): a BIOS boot has no new
     * RSDP, a UEFI one may lack the old; GRUB would refuse a required tag it
     * cannot give. Command line, memory map, old RSDP, new RSDP. */
    .balign 8
    .short 1, 1
    .long 8 + 4 * 4
    .long 1, 6, 14, 15

    /* No EFI tags (types 7, 8, 9): GRUB then exits boot services and enters
     * us in 32-bit protected mode on UEFI as on BIOS. */

    .balign 8
    .short 0, 0
    .long 8
mb2_header_end:

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    /* Keep the loader's registers across the .bss clear. */
    mov %eax, %ebp
    mov %ebx, %esi

    /* GRUB zero-fills .bss from the ELF headers, but the kernel should not
     * depend on the loader for that. */
    mov $bss_start, %edi
    mov $bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    mov $boot_stack_top, %esp

    cmp $MB2_BOOT_MAGIC, %ebp
    jne .Lnot_multiboot2
    mov %esi, boot_info_phys

    /* Long mode: CPUID 0x80000001 EDX bit 29. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb .Lno_long_mode
    mov $0x80000001, %eax
    cpuid
    bt $29, %edx
    jnc .Lno_long_mode
    /* Remember NX for EFER below (EDX bit 20). */
    mov %edx, %ebx

    /* PML4[0] -> PDPT; PDPT[0..3] -> the four page directories. */
    mov $boot_pdpt, %eax
    or $(PTE_PRESENT | PTE_WRITE), %eax
    mov %eax, boot_pml4
    mov $boot_pd, %eax
    or $(PTE_PRESENT | PTE_WRITE), %eax
    xor %ecx, %ecx
1:  mov %eax, boot_pdpt(, %ecx, 8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jb 1b

    /* 2048 2 MiB pages, [0, 4 GiB). The last GiB holds the local APIC,
     * the I/O APIC and the HPET: it is mapped uncached (PCD|PWT). */
    xor %ecx, %ecx
    mov $(PTE_PRESENT | PTE_WRITE | PTE_LARGE), %eax
2:  mov %eax, %edx
    cmp $1536, %ecx
    jb 3f
    or $(PTE_PCD | PTE_PWT), %edx
3:  mov %edx, boot_pd(, %ecx, 8)
    add $0x200000, %eax
    inc %ecx
    cmp $2048, %ecx
    jb 2b

    /* The first 2 MiB in 4 KiB pages: the MTRRs make 0xA0000-0xFFFFF
     * uncached, and a large page straddling two memory types is undefined
     * (SDM vol. 3, 11.11.9). Page 0 stays unmapped to catch NULL. */
    mov $boot_pt_low, %eax
    or $(PTE_PRESENT | PTE_WRITE), %eax
    mov %eax, boot_pd
    mov $(4096 | PTE_PRESENT | PTE_WRITE), %eax
    mov $1, %ecx
4:  mov %eax, boot_pt_low(, %ecx, 8)
    add $4096, %eax
    inc %ecx
    cmp $512, %ecx
    jb 4b

    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    bt $20, %ebx
    jnc 5f
    or $EFER_NXE, %eax
5:  wrmsr
    mov %cr0, %eax
    or $(CR0_PE | CR0_WP | CR0_PG), %eax
    mov %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $long_mode_entry

.Lnot_multiboot2:
    mov $msg_not_multiboot2, %esi
    jmp fail32
.Lno_long_mode:
    mov $msg_no_long_mode, %esi
    jmp fail32

/* Print the NUL-terminated string at ESI on COM1, exit through
 * isa-debug-exit with the failure code, and halt if there is no such device. */
fail32:
    mov $COM1 + 5, %dx
1:  in %dx, %al
    test $0x20, %al
    jz 1b
    lodsb
    test %al, %al
    jz 2f
    mov $COM1, %dx
    out %al, %dx
    jmp fail32
2:  mov $DEBUG_EXIT_PORT, %dx
    mov $DEBUG_EXIT_FAILURE, %eax
    out %eax, %dx
3:  cli
    hlt
    jmp 3b

    .code64
long_mode_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    mov $boot_stack_top, %rsp
    xor %ebp, %ebp
    /* Upper register halves are undefined after the mode switch: reload. */
    mov boot_info_phys, %edi
    call kmain
1:  cli
    hlt
    jmp 1b

    .section .rodata
msg_not_multiboot2:
    .asciz "mb2kernel: panic: not started by a Multiboot 2 loader\r\n"
msg_no_long_mode:
    .asciz "mb2kernel: panic: this CPU has no long mode\r\n"

    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00AF9B000000FFFF /* 0x08: 64-bit code, accessed preset */
    .quad 0x00CF93000000FFFF /* 0x10: flat data, accessed preset */
boot_gdt_end:
boot_gdt_pointer:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .bss
    .balign 4096
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd: .skip 4 * 4096
boot_pt_low: .skip 4096
    .globl boot_stack_top
boot_stack: .skip 16384
boot_stack_top:
boot_info_phys: .skip 4

    .section .note.GNU-stack, "", @progbits
