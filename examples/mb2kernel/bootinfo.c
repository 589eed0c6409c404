/*
 * mb2kernel: read the Multiboot 2 information structure once, at boot, and
 * copy what the kernel needs. After that the structure's memory is only
 * kept out of the frame allocator.
 *
 * Layout (Multiboot 2 spec, 3.6): u32 total_size, u32 reserved, then tags
 * {u32 type, u32 size, payload}, each starting 8-byte aligned, up to an end
 * tag of type 0. The walk is bounded by total_size at every step.
 */
#include "kernel.h"

#define TAG_END 0u
#define TAG_COMMAND_LINE 1u
#define TAG_MEMORY_MAP 6u
#define TAG_ACPI_OLD 14u
#define TAG_ACPI_NEW 15u

struct tag_header {
    uint32_t type;
    uint32_t size;
};

struct memory_map_tag {
    uint32_t type;
    uint32_t size;
    uint32_t entry_size;
    uint32_t entry_version;
};

struct memory_map_entry {
    uint64_t base;
    uint64_t length;
    uint32_t type;
    uint32_t reserved;
};

void bootinfo_parse(uint64_t info_phys, struct boot_info *info)
{
    memset(info, 0, sizeof(*info));
    if (info_phys == 0 || info_phys % 8 != 0 || info_phys >= IDENTITY_MAP_LIMIT)
        panic("multiboot2: information structure at %#lx is not usable", info_phys);

    const uint8_t *base = (const uint8_t *)(uintptr_t)info_phys;
    uint32_t total_size = *(const uint32_t *)base;
    if (total_size < 16 || info_phys + total_size > IDENTITY_MAP_LIMIT)
        panic("multiboot2: bad total size %u", total_size);
    info->info_phys = info_phys;
    info->info_size = total_size;

    bool ended = false;
    uint32_t offset = 8;
    while (offset + sizeof(struct tag_header) <= total_size) {
        const struct tag_header *tag = (const void *)(base + offset);
        if (tag->size < sizeof(*tag) || tag->size > total_size - offset)
            panic("multiboot2: tag type %u at offset %u has bad size %u", tag->type, offset,
                  tag->size);
        if (tag->type == TAG_END) {
            ended = true;
            break;
        }
        const uint8_t *payload = (const uint8_t *)tag + sizeof(*tag);
        uint32_t payload_size = tag->size - (uint32_t)sizeof(*tag);

        switch (tag->type) {
        case TAG_COMMAND_LINE: {
            uint32_t n = 0;
            while (n < payload_size && n + 1 < sizeof(info->command_line) && payload[n]) {
                info->command_line[n] = (char)payload[n];
                n++;
            }
            info->command_line[n] = '\0';
            break;
        }
        case TAG_MEMORY_MAP: {
            const struct memory_map_tag *map = (const void *)tag;
            if (tag->size < sizeof(*map) || map->entry_size < sizeof(struct memory_map_entry))
                panic("multiboot2: memory map tag with entry size %u",
                      tag->size < sizeof(*map) ? 0 : map->entry_size);
            for (uint32_t at = sizeof(*map); at + map->entry_size <= tag->size;
                 at += map->entry_size) {
                const struct memory_map_entry *entry = (const void *)((const uint8_t *)tag + at);
                if (info->memory_count == sizeof(info->memory) / sizeof(info->memory[0])) {
                    info->memory_truncated = true;
                    break;
                }
                struct mb2_memory_region *region = &info->memory[info->memory_count++];
                region->base = entry->base;
                region->length = entry->length;
                region->type = entry->type;
            }
            break;
        }
        case TAG_ACPI_OLD:
            /* A copy of the ACPI 1.0 RSDP (20 bytes). */
            if (payload_size >= sizeof(info->rsdp_old)) {
                memcpy(info->rsdp_old, payload, sizeof(info->rsdp_old));
                info->has_rsdp_old = true;
            }
            break;
        case TAG_ACPI_NEW:
            /* A copy of the ACPI 2.0+ RSDP (36 bytes): XSDT address at 24. */
            if (payload_size >= sizeof(info->rsdp_new)) {
                memcpy(info->rsdp_new, payload, sizeof(info->rsdp_new));
                info->has_rsdp_new = true;
            }
            break;
        default:
            break;
        }
        offset += (tag->size + 7u) & ~7u;
    }
    if (!ended)
        panic("multiboot2: no end tag within %u bytes", total_size);
    if (info->memory_count == 0)
        panic("multiboot2: no memory map");
}

bool string_equal(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

bool bootinfo_option(const struct boot_info *info, const char *key, char *out, size_t out_size)
{
    size_t key_length = 0;
    while (key[key_length])
        key_length++;

    const char *p = info->command_line;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *word = p;
        while (*p && *p != ' ')
            p++;
        size_t word_length = (size_t)(p - word);
        if (word_length > key_length && memcmp(word, key, key_length) == 0 &&
            word[key_length] == '=') {
            size_t value_length = word_length - key_length - 1;
            if (value_length + 1 > out_size)
                return false;
            memcpy(out, word + key_length + 1, value_length);
            out[value_length] = '\0';
            return true;
        }
    }
    return false;
}
