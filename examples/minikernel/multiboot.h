/*
 * The parts of the Multiboot 1 information structure the kernel reads, as
 * the loader lays them out in memory (Multiboot Specification 0.6.96, 3.3).
 */
#ifndef MK_MULTIBOOT_H
#define MK_MULTIBOOT_H

#include <stdint.h>

#define MULTIBOOT_INFO_MEMORY (1u << 0)   /* mem_lower / mem_upper valid */
#define MULTIBOOT_INFO_CMDLINE (1u << 2)  /* cmdline valid */
#define MULTIBOOT_INFO_MEM_MAP (1u << 6)  /* mmap_* valid */

struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower;  /* KiB below 1 MiB */
    uint32_t mem_upper;  /* KiB from 1 MiB to the first hole */
    uint32_t boot_device;
    uint32_t cmdline;    /* physical address of a NUL-terminated string */
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length; /* bytes */
    uint32_t mmap_addr;   /* physical address of the first entry */
} __attribute__((packed));

/*
 * One memory-map entry. `size` counts the bytes after itself, so the next
 * entry starts size + 4 bytes further on.
 */
struct multiboot_mmap_entry {
    uint32_t size;
    uint64_t base;
    uint64_t length;
    uint32_t type;
} __attribute__((packed));

/* Memory-map types (they are the E820 types). */
#define MULTIBOOT_MEMORY_AVAILABLE 1
#define MULTIBOOT_MEMORY_RESERVED 2
#define MULTIBOOT_MEMORY_ACPI_RECLAIMABLE 3
#define MULTIBOOT_MEMORY_NVS 4
#define MULTIBOOT_MEMORY_BAD 5

#endif /* MK_MULTIBOOT_H */
