/*
 * mb2kernel: how the kernel ends. Under QEMU with
 * `-device isa-debug-exit,iobase=0xf4,iosize=0x04`, a write to port 0xF4 ends
 * the emulator with status (value << 1) | 1; elsewhere the write does
 * nothing and the CPU halts.
 */
#include "kernel.h"

#define DEBUG_EXIT_PORT 0xF4u

void machine_exit(uint32_t code)
{
    outl(DEBUG_EXIT_PORT, code);
    kprintf("mb2kernel: no isa-debug-exit device; halting\n");
    for (;;)
        __asm__ volatile("cli; hlt");
}

void panic(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    kprintf("mb2kernel: panic: ");
    kvprintf(fmt, args);
    kprintf("\n");
    va_end(args);
    machine_exit(EXIT_FAILURE_CODE);
}
