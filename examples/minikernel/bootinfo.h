/*
 * What the kernel keeps from the Multiboot 1 or 2 information: the command
 * line, the memory map and (Multiboot 2 only) the loader's copy of the ACPI
 * RSDP, copied into the kernel's own storage at entry, so the loader's
 * structures may be overwritten once the frame allocator runs.
 */
#ifndef MK_BOOTINFO_H
#define MK_BOOTINFO_H

#include <stdint.h>

#define BOOTINFO_CMDLINE_MAX 512
#define BOOTINFO_MEMORY_RANGES_MAX 128
/* An ACPI 2.0+ RSDP is 36 bytes; the ACPI 1.0 one the first 20 of them. */
#define BOOTINFO_RSDP_MAX 36

struct memory_range {
    uint64_t base;
    uint64_t length;
    uint32_t type; /* MULTIBOOT_MEMORY_* */
};

struct bootinfo {
    char cmdline[BOOTINFO_CMDLINE_MAX];
    struct memory_range ranges[BOOTINFO_MEMORY_RANGES_MAX];
    uint32_t range_count;
    uint32_t ranges_dropped; /* entries beyond the table's capacity */
    const char *loader;      /* "Multiboot 1" or "Multiboot 2" */
    uint8_t rsdp[BOOTINFO_RSDP_MAX]; /* the loader's RSDP copy, newest revision */
    uint32_t rsdp_length;            /* 0: the loader gave none */
};

/*
 * Copy from the structure at info_phys, of the kind loader_magic names. Must
 * run while the boot page tables are active (they map the first
 * EARLY_MAP_LIMIT bytes). Panics if the loader gave no usable memory
 * information.
 */
void bootinfo_read(uint32_t loader_magic, uint32_t info_phys, struct bootinfo *out);

#endif /* MK_BOOTINFO_H */
