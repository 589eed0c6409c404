/* RSDP search and table lookup. See acpi.h. */
#include "acpi.h"

#include <stddef.h>

#include "console.h"
#include "format.h"
#include "multiboot.h"
#include "mem.h"
#include "paging.h"

struct rsdp {
    char signature[8]; /* "RSD PTR " */
    uint8_t checksum;  /* over the first 20 bytes (the ACPI 1.0 structure) */
    char oem_id[6];
    uint8_t revision;  /* 0: ACPI 1.0, RSDT only; 2: ACPI 2.0+, XSDT too */
    uint32_t rsdt_address;
    uint32_t length;   /* revision >= 2: of the whole structure */
    uint64_t xsdt_address;
    uint8_t extended_checksum;
    uint8_t reserved[3];
} __attribute__((packed));

#define RSDP_V1_LENGTH 20u
#define BDA_EBDA_SEGMENT 0x40E
#define EBDA_SEARCH_BYTES 1024u
#define BIOS_AREA_START 0xE0000ull
#define BIOS_AREA_END 0x100000ull
/* No real table comes near this; a larger length means a corrupt header. */
#define TABLE_LENGTH_MAX (16u << 20)
/* ACPI ranges are tens or hundreds of KiB; a bigger one is not worth a byte-wise scan. */
#define ACPI_RANGE_SCAN_MAX (64ull << 20)

static const struct acpi_header *root_table;
static uint32_t root_entry_size; /* 8: XSDT, 4: RSDT */

static bool checksum_ok(const void *bytes, size_t length)
{
    const uint8_t *p = bytes;
    uint8_t sum = 0;
    for (size_t i = 0; i < length; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum == 0;
}

/* `available`: bytes readable from the candidate on. */
static bool rsdp_valid(const struct rsdp *candidate, uint64_t available)
{
    if (available < RSDP_V1_LENGTH || memcmp(candidate->signature, "RSD PTR ", 8) != 0 ||
        !checksum_ok(candidate, RSDP_V1_LENGTH))
        return false;
    if (candidate->revision < 2)
        return true;
    return candidate->length >= sizeof(struct rsdp) && candidate->length <= available &&
           checksum_ok(candidate, candidate->length);
}

/* step: 16 in the BIOS areas (the specification's alignment), 4 elsewhere. */
static const struct rsdp *scan_for_rsdp(uint64_t start, uint64_t end, uint64_t step)
{
    for (uint64_t phys = start; phys + RSDP_V1_LENGTH <= end; phys += step) {
        const struct rsdp *candidate = phys_to_virt(phys);
        if (rsdp_valid(candidate, end - phys))
            return candidate;
    }
    return NULL;
}

uint64_t acpi_find_mp_pointer(void)
{
    uint16_t segment;
    memcpy(&segment, phys_to_virt(BDA_EBDA_SEGMENT), sizeof(segment));
    uint64_t ebda = (uint64_t)segment << 4;
    uint64_t areas[2][2] = { { ebda, ebda + EBDA_SEARCH_BYTES }, { BIOS_AREA_START, BIOS_AREA_END } };
    for (int a = 0; a < 2; a++) {
        if (a == 0 && (ebda < 0x80000 || ebda >= 0xA0000))
            continue;
        for (uint64_t phys = areas[a][0]; phys + 16 <= areas[a][1]; phys += 16)
            if (memcmp(phys_to_virt(phys), "_MP_", 4) == 0 && checksum_ok(phys_to_virt(phys), 16))
                return phys;
    }
    return 0;
}

static const struct rsdp *find_rsdp(void)
{
    /* Low memory is in the direct map from paging_init() on. */
    uint16_t segment;
    memcpy(&segment, phys_to_virt(BDA_EBDA_SEGMENT), sizeof(segment));
    uint64_t ebda = (uint64_t)segment << 4;
    if (ebda >= 0x80000 && ebda < 0xA0000) {
        const struct rsdp *found = scan_for_rsdp(ebda, ebda + EBDA_SEARCH_BYTES, 16);
        if (found)
            return found;
    }
    return scan_for_rsdp(BIOS_AREA_START, BIOS_AREA_END, 16);
}

/*
 * UEFI firmware keeps the RSDP in ACPI memory anywhere (OVMF: ACPI
 * reclaimable, the 2.0 one only 4-byte aligned), where no BIOS-area scan
 * looks. A Multiboot 1 loader does not pass it, so look there, in 4-byte
 * steps, in the ACPI ranges of the memory map.
 */
static const struct rsdp *scan_acpi_ranges(const struct bootinfo *info)
{
    for (uint32_t i = 0; i < info->range_count; i++) {
        const struct memory_range *range = &info->ranges[i];
        if (range->type != MULTIBOOT_MEMORY_ACPI_RECLAIMABLE &&
            range->type != MULTIBOOT_MEMORY_NVS)
            continue;
        if (range->length > ACPI_RANGE_SCAN_MAX || !paging_direct_map(range->base, range->length))
            continue;
        const struct rsdp *found = scan_for_rsdp(range->base, range->base + range->length, 4);
        if (found)
            return found;
    }
    return NULL;
}

/* Map a table (header first, to learn its length), check it, return it or NULL. */
static const struct acpi_header *map_table(uint64_t phys)
{
    const struct acpi_header *header = paging_direct_map(phys, sizeof(struct acpi_header));
    if (!header)
        return NULL;
    uint32_t length = header->length;
    if (length < sizeof(struct acpi_header) || length > TABLE_LENGTH_MAX)
        return NULL;
    if (!paging_direct_map(phys, length))
        return NULL;
    if (!checksum_ok(header, length)) {
        kprintf("minikernel: warning: ACPI table %.4s at 0x%llx has a bad checksum\n",
                header->signature, (unsigned long long)phys);
        return NULL;
    }
    return header;
}

uint8_t acpi_read8(const struct acpi_header *table, uint32_t offset)
{
    return ((const uint8_t *)table)[offset];
}

uint32_t acpi_read32(const struct acpi_header *table, uint32_t offset)
{
    uint32_t value;
    memcpy(&value, (const uint8_t *)table + offset, sizeof(value));
    return value;
}

uint64_t acpi_read64(const struct acpi_header *table, uint32_t offset)
{
    uint64_t value;
    memcpy(&value, (const uint8_t *)table + offset, sizeof(value));
    return value;
}

bool acpi_init(const struct bootinfo *info)
{
    const struct rsdp *rsdp = NULL;
    const char *where = "";
    if (info->rsdp_length && rsdp_valid((const struct rsdp *)info->rsdp, info->rsdp_length)) {
        rsdp = (const struct rsdp *)info->rsdp;
        where = "the loader's copy";
    } else if (info->rsdp_length) {
        kprintf("minikernel: warning: the loader's RSDP copy is invalid; searching memory\n");
    }
    if (!rsdp && (rsdp = find_rsdp()))
        where = "the BIOS area";
    if (!rsdp && (rsdp = scan_acpi_ranges(info)))
        where = "ACPI memory";
    if (!rsdp) {
        kprintf("minikernel: acpi: no RSDP found (not from the loader, not in the BIOS area, "
                "not in ACPI memory)\n");
        return false;
    }
    const char *kind = "XSDT";
    if (rsdp->revision >= 2 && rsdp->xsdt_address) {
        root_table = map_table(rsdp->xsdt_address);
        root_entry_size = 8;
    }
    if (!root_table) {
        kind = "RSDT";
        root_table = map_table(rsdp->rsdt_address);
        root_entry_size = 4;
    }
    if (!root_table || (memcmp(root_table->signature, kind, 4) != 0)) {
        kprintf("minikernel: acpi: RSDP revision %u names no valid %s\n", rsdp->revision, kind);
        root_table = NULL;
        return false;
    }
    char at[32] = "";
    if (rsdp != (const struct rsdp *)info->rsdp)
        format(at, sizeof(at), " at 0x%llx", (unsigned long long)((uintptr_t)rsdp - DIRECT_MAP_BASE));
    kprintf("minikernel: acpi: RSDP revision %u%s (%s), %s with %u tables, OEM '%.6s'\n",
            rsdp->revision, at, where, kind,
            (unsigned)((root_table->length - sizeof(struct acpi_header)) / root_entry_size),
            rsdp->oem_id);
    return true;
}

const struct acpi_header *acpi_find_table(const char signature[4])
{
    if (!root_table)
        return NULL;
    uint32_t count = (root_table->length - (uint32_t)sizeof(struct acpi_header)) / root_entry_size;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t offset = (uint32_t)sizeof(struct acpi_header) + i * root_entry_size;
        uint64_t phys = root_entry_size == 8 ? acpi_read64(root_table, offset)
                                             : acpi_read32(root_table, offset);
        const struct acpi_header *header = paging_direct_map(phys, sizeof(struct acpi_header));
        if (!header || memcmp(header->signature, signature, 4) != 0)
            continue;
        const struct acpi_header *table = map_table(phys);
        if (table)
            return table;
    }
    return NULL;
}
