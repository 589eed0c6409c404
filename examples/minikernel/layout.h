/*
 * The minikernel's address space, shared by boot.S, linker.ld (by value) and
 * the C code. Plain numbers only, so the assembler can include it too.
 *
 *   0xFFFF800000000000  direct map: physical address p is at DIRECT_MAP_BASE + p
 *   0xFFFFFF0000000000  AP stack window (stack_guard=1): libsmpboot maps there
 *   0xFFFFFFFF40000000  MMIO window: uncached mappings (local APIC, HPET), 1 GiB
 *   0xFFFFFFFF80000000  kernel image: physical p at KERNEL_VMA_BASE + p
 *
 * The low half stays empty once the kernel runs on its own page tables, so
 * the identity mapping that libsmpboot needs for its trampoline page is made
 * through the kernel's map callback, not inherited from boot.
 */
#ifndef MK_LAYOUT_H
#define MK_LAYOUT_H

#define KERNEL_VMA_BASE 0xFFFFFFFF80000000
/* Physical load address: QEMU's Multiboot loader puts the image here. */
#define KERNEL_PHYS_LOAD 0x100000

#define DIRECT_MAP_BASE 0xFFFF800000000000

/* One whole PML4 slot (512 GiB), so nothing else ever lands in it. */
#define STACK_WINDOW_BASE 0xFFFFFF0000000000
#define STACK_WINDOW_SIZE 0x8000000000

#define MMIO_WINDOW_BASE 0xFFFFFFFF40000000
#define MMIO_WINDOW_SIZE 0x40000000

/* Until paging_init() runs, only this much physical memory is mapped (boot.S). */
#define EARLY_MAP_LIMIT 0x40000000

#define BOOT_STACK_SIZE 16384

/* Exit codes for QEMU's isa-debug-exit device: QEMU exits with (v << 1) | 1. */
#define QEMU_EXIT_SUCCESS 0x10
#define QEMU_EXIT_FAILURE 0x11
#define QEMU_DEBUG_EXIT_PORT 0xF4

#endif /* MK_LAYOUT_H */
