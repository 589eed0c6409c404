/* Copying the Multiboot information out of the loader's memory. */
#include "bootinfo.h"

#include <stdbool.h>
#include <stddef.h>

#include "console.h"
#include "layout.h"
#include "multiboot.h"

/* The loader's data lies somewhere below 4 GiB; we can only read what boot.S mapped. */
static bool early_readable(uint64_t phys, uint64_t bytes)
{
    return phys < EARLY_MAP_LIMIT && bytes <= EARLY_MAP_LIMIT - phys;
}

static const void *early_virt(uint64_t phys)
{
    return (const void *)(uintptr_t)(DIRECT_MAP_BASE + phys);
}

static void copy_cmdline(uint32_t phys, struct bootinfo *out)
{
    const char *src = early_virt(phys);
    size_t i = 0;

    for (; i + 1 < sizeof(out->cmdline) && early_readable(phys + i, 1) && src[i]; i++)
        out->cmdline[i] = src[i];
    out->cmdline[i] = '\0';
}

static void add_range(struct bootinfo *out, uint64_t base, uint64_t length, uint32_t type)
{
    if (length == 0)
        return;
    if (out->range_count == BOOTINFO_MEMORY_RANGES_MAX) {
        out->ranges_dropped++;
        return;
    }
    out->ranges[out->range_count++] = (struct memory_range){ base, length, type };
}

static void copy_memory_map(const struct multiboot_info *info, struct bootinfo *out)
{
    uint64_t offset = 0;

    /* Each entry says its own size; stop at one that would run past the map. */
    while (offset + sizeof(struct multiboot_mmap_entry) <= info->mmap_length) {
        const struct multiboot_mmap_entry *entry = early_virt(info->mmap_addr + offset);
        if (entry->size < sizeof(*entry) - sizeof(entry->size))
            break;
        add_range(out, entry->base, entry->length, entry->type);
        offset += (uint64_t)entry->size + sizeof(entry->size);
    }
}

void bootinfo_read(uint32_t info_phys, struct bootinfo *out)
{
    if (!early_readable(info_phys, sizeof(struct multiboot_info)))
        panic("Multiboot information at 0x%x is beyond the boot mapping", info_phys);
    const struct multiboot_info *info = early_virt(info_phys);

    out->cmdline[0] = '\0';
    out->range_count = 0;
    out->ranges_dropped = 0;

    if ((info->flags & MULTIBOOT_INFO_CMDLINE) && early_readable(info->cmdline, 1))
        copy_cmdline(info->cmdline, out);

    if ((info->flags & MULTIBOOT_INFO_MEM_MAP) &&
        early_readable(info->mmap_addr, info->mmap_length)) {
        copy_memory_map(info, out);
    } else if (info->flags & MULTIBOOT_INFO_MEMORY) {
        /* No map: the two sizes describe conventional and extended memory. */
        add_range(out, 0, (uint64_t)info->mem_lower * 1024, MULTIBOOT_MEMORY_AVAILABLE);
        add_range(out, 0x100000, (uint64_t)info->mem_upper * 1024, MULTIBOOT_MEMORY_AVAILABLE);
    }
    if (out->range_count == 0)
        panic("the loader passed no memory map");
}
