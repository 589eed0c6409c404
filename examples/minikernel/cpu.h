/*
 * Single instructions the kernel needs, as inline functions. Everything here
 * is privileged or I/O and only makes sense in ring 0.
 */
#ifndef MK_CPU_H
#define MK_CPU_H

#include <stdbool.h>
#include <stdint.h>

#define MSR_APIC_BASE 0x0000001Bu
#define MSR_EFER 0xC0000080u

#define EFER_NXE (1ull << 11)

static inline void outb(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline void outl(uint16_t port, uint32_t value)
{
    __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t value;
    __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "memory");
}

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(subleaf));
    return r;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_pause(void)
{
    __builtin_ia32_pause();
}

static inline void invlpg(uint64_t virt)
{
    __asm__ volatile("invlpg (%0)" : : "r"(virt) : "memory");
}

static inline uint64_t read_cr2(void)
{
    uint64_t value;
    __asm__ volatile("mov %%cr2, %0" : "=r"(value));
    return value;
}

static inline uint64_t read_cr3(void)
{
    uint64_t value;
    __asm__ volatile("mov %%cr3, %0" : "=r"(value));
    return value;
}

/* Also flushes every non-global TLB entry; the kernel uses no global pages. */
static inline void write_cr3(uint64_t value)
{
    __asm__ volatile("mov %0, %%cr3" : : "r"(value) : "memory");
}

/*
 * Sleep until an interrupt, then mask them again. STI delays interrupts by
 * one instruction, so one that is already pending is taken after HLT has
 * started and wakes it: no wake-up is lost between a caller's last check
 * (made with interrupts off) and the HLT.
 */
static inline void cpu_idle_until_interrupt(void)
{
    __asm__ volatile("sti; hlt; cli" : : : "memory");
}

static inline _Noreturn void cpu_halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt" : : : "memory");
}

#endif /* MK_CPU_H */
