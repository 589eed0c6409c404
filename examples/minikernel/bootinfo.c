/* Copying the Multiboot information out of the loader's memory. */
#include "bootinfo.h"

#include <stdbool.h>
#include <stddef.h>

#include "console.h"
#include "layout.h"
#include "mem.h"
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

static void read_multiboot1(uint32_t info_phys, struct bootinfo *out)
{
    if (!early_readable(info_phys, sizeof(struct multiboot_info)))
        panic("Multiboot information at 0x%x is beyond the boot mapping", info_phys);
    const struct multiboot_info *info = early_virt(info_phys);

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
}

static void copy_multiboot2_mmap(const uint8_t *tag, uint32_t size, struct bootinfo *out)
{
    uint32_t entry_size;
    memcpy(&entry_size, tag + 8, sizeof(entry_size));
    if (entry_size < sizeof(struct multiboot2_mmap_entry))
        return;
    for (uint32_t offset = 16; offset + entry_size <= size; offset += entry_size) {
        struct multiboot2_mmap_entry entry;
        memcpy(&entry, tag + offset, sizeof(entry));
        add_range(out, entry.base, entry.length, entry.type);
    }
}

/* The ACPI 2.0+ copy wins over the 1.0 one: it also names the XSDT. */
static void copy_rsdp(const uint8_t *tag, uint32_t size, bool newer, struct bootinfo *out)
{
    uint32_t length = size - (uint32_t)sizeof(struct multiboot2_tag);
    if (out->rsdp_length > 0 && !newer)
        return;
    if (length > BOOTINFO_RSDP_MAX)
        length = BOOTINFO_RSDP_MAX;
    memcpy(out->rsdp, tag + sizeof(struct multiboot2_tag), length);
    out->rsdp_length = length;
}

static void read_multiboot2(uint32_t info_phys, struct bootinfo *out)
{
    uint32_t total;
    if (info_phys % 8 != 0 || !early_readable(info_phys, 8))
        panic("Multiboot 2 information at 0x%x is misaligned or beyond the boot mapping",
              info_phys);
    memcpy(&total, early_virt(info_phys), sizeof(total));
    if (total < 16 || !early_readable(info_phys, total))
        panic("Multiboot 2 information at 0x%x claims a bad size %u", info_phys, total);
    const uint8_t *info = early_virt(info_phys);

    /* Each tag within the total size, and no tag shorter than its header. */
    for (uint32_t offset = 8; offset + sizeof(struct multiboot2_tag) <= total;) {
        struct multiboot2_tag tag;
        memcpy(&tag, info + offset, sizeof(tag));
        if (tag.type == MULTIBOOT2_TAG_END || tag.size < sizeof(tag) || tag.size > total - offset)
            break;
        const uint8_t *body = info + offset;
        if (tag.type == MULTIBOOT2_TAG_CMDLINE)
            copy_cmdline(info_phys + offset + (uint32_t)sizeof(tag), out);
        else if (tag.type == MULTIBOOT2_TAG_MMAP)
            copy_multiboot2_mmap(body, tag.size, out);
        else if (tag.type == MULTIBOOT2_TAG_ACPI_OLD || tag.type == MULTIBOOT2_TAG_ACPI_NEW)
            copy_rsdp(body, tag.size, tag.type == MULTIBOOT2_TAG_ACPI_NEW, out);
        offset += (tag.size + 7u) & ~7u;
    }
}

void bootinfo_read(uint32_t loader_magic, uint32_t info_phys, struct bootinfo *out)
{
    out->cmdline[0] = '\0';
    out->range_count = 0;
    out->ranges_dropped = 0;
    out->rsdp_length = 0;

    if (loader_magic == MULTIBOOT2_LOADER_MAGIC) {
        out->loader = "Multiboot 2";
        read_multiboot2(info_phys, out);
    } else {
        out->loader = "Multiboot 1";
        read_multiboot1(info_phys, out);
    }
    if (out->range_count == 0)
        panic("the loader passed no memory map");
}
