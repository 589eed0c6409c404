/*
 * The parts of the Multiboot 1 information structure the kernel reads, as
 * the loader lays them out in memory (Multiboot Specification 0.6.96, 3.3),
 * and of the Multiboot 2 one (Multiboot2 Specification 2.0, 3.6).
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

#define MULTIBOOT1_LOADER_MAGIC 0x2BADB002u
#define MULTIBOOT2_LOADER_MAGIC 0x36D76289u

/*
 * Multiboot 2: a u32 total size and a reserved u32, then tags, each 8-byte
 * aligned, until one of type 0.
 */
struct multiboot2_tag {
    uint32_t type;
    uint32_t size; /* of this tag, header included, before padding */
};

#define MULTIBOOT2_TAG_END 0
#define MULTIBOOT2_TAG_CMDLINE 1  /* a NUL-terminated string follows */
#define MULTIBOOT2_TAG_MMAP 6     /* u32 entry_size, u32 entry_version, entries */
#define MULTIBOOT2_TAG_ACPI_OLD 14 /* a copy of the ACPI 1.0 RSDP follows */
#define MULTIBOOT2_TAG_ACPI_NEW 15 /* a copy of the ACPI 2.0+ RSDP follows */

struct multiboot2_mmap_entry {
    uint64_t base;
    uint64_t length;
    uint32_t type; /* the E820 types, as above */
    uint32_t reserved;
};

#endif /* MK_MULTIBOOT_H */
