/*
 * What the kernel keeps from the Multiboot information: the command line and
 * the memory map, copied into the kernel's own storage at entry, so the
 * loader's structures may be overwritten once the frame allocator runs.
 */
#ifndef MK_BOOTINFO_H
#define MK_BOOTINFO_H

#include <stdint.h>

#define BOOTINFO_CMDLINE_MAX 512
#define BOOTINFO_MEMORY_RANGES_MAX 64

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
};

/*
 * Copy from the structure at info_phys. Must run while the boot page tables
 * are active (they map the first EARLY_MAP_LIMIT bytes). Panics if the
 * loader gave no usable memory information.
 */
void bootinfo_read(uint32_t info_phys, struct bootinfo *out);

#endif /* MK_BOOTINFO_H */
