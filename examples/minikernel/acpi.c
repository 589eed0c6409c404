/* RSDP search and table lookup. See acpi.h. */
#include "acpi.h"

#include <stddef.h>

#include "console.h"
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

static const struct rsdp *scan_for_rsdp(uint64_t start, uint64_t end)
{
    /* The RSDP sits on a 16-byte boundary. */
    for (uint64_t phys = start; phys + sizeof(struct rsdp) <= end; phys += 16) {
        const struct rsdp *candidate = phys_to_virt(phys);
        if (memcmp(candidate->signature, "RSD PTR ", 8) != 0)
            continue;
        if (!checksum_ok(candidate, RSDP_V1_LENGTH))
            continue;
        if (candidate->revision >= 2 &&
            (candidate->length < sizeof(struct rsdp) || candidate->length > end - phys ||
             !checksum_ok(candidate, candidate->length)))
            continue;
        return candidate;
    }
    return NULL;
}

static const struct rsdp *find_rsdp(void)
{
    /* Low memory is in the direct map from paging_init() on. */
    uint16_t segment;
    memcpy(&segment, phys_to_virt(BDA_EBDA_SEGMENT), sizeof(segment));
    uint64_t ebda = (uint64_t)segment << 4;
    if (ebda >= 0x80000 && ebda < 0xA0000) {
        const struct rsdp *found = scan_for_rsdp(ebda, ebda + EBDA_SEARCH_BYTES);
        if (found)
            return found;
    }
    return scan_for_rsdp(BIOS_AREA_START, BIOS_AREA_END);
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

bool acpi_init(void)
{
    const struct rsdp *rsdp = find_rsdp();
    if (!rsdp) {
        kprintf("minikernel: acpi: no RSDP found\n");
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
    kprintf("minikernel: acpi: RSDP revision %u at 0x%llx, %s with %u tables, OEM '%.6s'\n",
            rsdp->revision, (unsigned long long)((uintptr_t)rsdp - DIRECT_MAP_BASE), kind,
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
