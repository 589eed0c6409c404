/*
 * mb2kernel: a lower-half, identity-mapped x86_64 kernel that GRUB loads
 * with Multiboot 2 (BIOS or UEFI) and that brings up every CPU with
 * libsmpboot. What the files share.
 */
#ifndef MB2KERNEL_KERNEL_H
#define MB2KERNEL_KERNEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <smpboot/smpboot.h>

#define MB2_MAX_CPUS 64u
#define PAGE_SIZE 4096u

/* boot.S identity-maps [0, 4 GiB) and nothing else: every physical address
 * the kernel touches must lie below this. */
#define IDENTITY_MAP_LIMIT 0x100000000ul
#define LOW_MEMORY_LIMIT 0x100000ull
/* boot.S maps [3 GiB, 4 GiB) uncached: MMIO (local APIC, HPET) lives there. */
#define UNCACHED_WINDOW_BASE 0xC0000000ul

/* Linker-script symbols. */
extern char kernel_image_start[];
extern char kernel_image_end[];

/* --- port I/O, MSRs, CPUID --- */
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
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b,
                         uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(subleaf));
}
static inline void cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}

#define MSR_IA32_APIC_BASE 0x1Bu
#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_X2APIC (1ull << 10)

/* --- string.c: what libsmpboot and the compiler expect from the kernel --- */
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memset(void *dst, int value, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* --- console.c: COM1, polled --- */
void console_init(void);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list args);

/* --- exit.c --- */
/* isa-debug-exit: QEMU exits with (code << 1) | 1. */
#define EXIT_SUCCESS_CODE 0x10u /* QEMU status 33 */
#define EXIT_FAILURE_CODE 0x11u /* QEMU status 35 */
__attribute__((noreturn)) void machine_exit(uint32_t code);
__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt, ...);

/* --- bootinfo.c: the Multiboot 2 information --- */
#define MB2_MEMORY_AVAILABLE 1u

struct mb2_memory_region {
    uint64_t base;
    uint64_t length;
    uint32_t type;
};

struct boot_info {
    uint64_t info_phys;  /* the information structure itself, to keep out of the allocator */
    uint64_t info_size;
    char command_line[256];
    struct mb2_memory_region memory[128];
    uint32_t memory_count;
    bool memory_truncated;
    /* Copies of the RSDP from the ACPI tags (36 bytes is the ACPI 2.0+ size). */
    uint8_t rsdp_new[36];
    bool has_rsdp_new;
    uint8_t rsdp_old[20];
    bool has_rsdp_old;
};

void bootinfo_parse(uint64_t info_phys, struct boot_info *info);
/* Value of `key=` in the command line, copied into out; false when absent. */
bool bootinfo_option(const struct boot_info *info, const char *key, char *out, size_t out_size);
/* Whether two NUL-terminated strings are equal (option values). */
bool string_equal(const char *a, const char *b);

/* --- frames.c: physical memory --- */
void frames_init(const struct boot_info *info);
uint64_t frames_low_reserve(void);
enum smpboot_status frames_alloc(void *ctx, size_t pages, uint64_t limit, uint64_t align,
                                 uint64_t *phys);
void frames_free(void *ctx, uint64_t phys, size_t pages);
uint64_t frames_free_pages(void);

/* --- acpi.c --- */
struct acpi_sdt_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __attribute__((packed));

/* false when neither RSDP tag holds a valid RSDP. */
bool acpi_init(const struct boot_info *info);
/* The first table with this signature whose checksum holds, or NULL. */
const struct acpi_sdt_header *acpi_find(const char signature[4]);

/* --- clock.c --- */
/* Calibrates libsmpboot's TSC clock (choice: the clock= option, NULL for
 * auto) and sets host->now_ns and host->clock_ctx; panics when it cannot. */
void clock_init(struct smpboot_host *host, const char *choice);

/* --- cpu.c: descriptor tables --- */
void cpu_tables_init(void);
/* Loads the GDT (reloading every segment register), the TSS of logical CPU
 * `index` with its interrupt stacks, and the IDT. */
void cpu_tables_load(uint32_t index, uintptr_t double_fault_stack_top, uintptr_t nmi_stack_top);
uint32_t cpu_current_apic_id(void);

#endif /* MB2KERNEL_KERNEL_H */
