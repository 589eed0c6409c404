/*
 * mb2kernel: find ACPI tables through the RSDP that GRUB copies into the
 * Multiboot 2 information. UEFI firmware gives an ACPI 2.0+ RSDP ("new",
 * tag 15) whose XSDT holds 64-bit table addresses; SeaBIOS typically gives
 * only an ACPI 1.0 one ("old", tag 14) and its 32-bit RSDT. Prefer the XSDT
 * when there is one, as ACPI requires.
 *
 * The tables are read in place through the identity map, which covers
 * 4 GiB: a table above that is reported and skipped.
 */
#include "kernel.h"

#define RSDP_V1_LENGTH 20u
#define RSDP_V2_LENGTH 36u
#define RSDP_RSDT_OFFSET 16u
#define RSDP_REVISION_OFFSET 15u
#define RSDP_LENGTH_OFFSET 20u
#define RSDP_XSDT_OFFSET 24u

static const struct acpi_sdt_header *root_table;
static uint32_t root_entry_size; /* 8 for the XSDT, 4 for the RSDT */

static bool checksum_ok(const void *data, size_t length)
{
    const uint8_t *bytes = data;
    uint8_t sum = 0;
    for (size_t i = 0; i < length; i++)
        sum = (uint8_t)(sum + bytes[i]);
    return sum == 0;
}

static uint32_t read_u32(const uint8_t *p)
{
    uint32_t value;
    memcpy(&value, p, sizeof(value));
    return value;
}

static uint64_t read_u64(const uint8_t *p)
{
    uint64_t value;
    memcpy(&value, p, sizeof(value));
    return value;
}

/* A table header at phys, when it is reachable and its checksum holds. */
static const struct acpi_sdt_header *map_table(uint64_t phys)
{
    if (phys == 0 || phys + sizeof(struct acpi_sdt_header) > IDENTITY_MAP_LIMIT)
        return NULL;
    const struct acpi_sdt_header *table = (const void *)(uintptr_t)phys;
    if (table->length < sizeof(*table) || phys + table->length > IDENTITY_MAP_LIMIT)
        return NULL;
    if (!checksum_ok(table, table->length))
        return NULL;
    return table;
}

bool acpi_init(const struct boot_info *info)
{
    if (info->has_rsdp_new) {
        const uint8_t *rsdp = info->rsdp_new;
        uint32_t length = read_u32(rsdp + RSDP_LENGTH_OFFSET);
        uint64_t xsdt = read_u64(rsdp + RSDP_XSDT_OFFSET);
        if (memcmp(rsdp, "RSD PTR ", 8) != 0 || !checksum_ok(rsdp, RSDP_V1_LENGTH) ||
            length < RSDP_V2_LENGTH || !checksum_ok(rsdp, RSDP_V2_LENGTH)) {
            kprintf("mb2kernel: acpi: the new-RSDP tag holds no valid RSDP\n");
        } else if ((root_table = map_table(xsdt)) != NULL &&
                   memcmp(root_table->signature, "XSDT", 4) == 0) {
            root_entry_size = 8;
            kprintf("mb2kernel: acpi: RSDP revision %u (Multiboot 2 new-RSDP tag), XSDT at %#lx\n",
                    rsdp[RSDP_REVISION_OFFSET], xsdt);
            return true;
        } else {
            kprintf("mb2kernel: acpi: XSDT at %#lx unusable, trying the RSDT\n", xsdt);
            root_table = map_table(read_u32(rsdp + RSDP_RSDT_OFFSET));
            if (root_table && memcmp(root_table->signature, "RSDT", 4) == 0) {
                root_entry_size = 4;
                return true;
            }
        }
    }
    if (info->has_rsdp_old) {
        const uint8_t *rsdp = info->rsdp_old;
        if (memcmp(rsdp, "RSD PTR ", 8) != 0 || !checksum_ok(rsdp, RSDP_V1_LENGTH)) {
            kprintf("mb2kernel: acpi: the old-RSDP tag holds no valid RSDP\n");
            return false;
        }
        uint32_t rsdt = read_u32(rsdp + RSDP_RSDT_OFFSET);
        root_table = map_table(rsdt);
        if (root_table && memcmp(root_table->signature, "RSDT", 4) == 0) {
            root_entry_size = 4;
            kprintf("mb2kernel: acpi: RSDP revision %u (Multiboot 2 old-RSDP tag), RSDT at %#x\n",
                    rsdp[RSDP_REVISION_OFFSET], rsdt);
            return true;
        }
        kprintf("mb2kernel: acpi: RSDT at %#x unusable\n", rsdt);
    }
    root_table = NULL;
    return false;
}

const struct acpi_sdt_header *acpi_find(const char signature[4])
{
    if (!root_table)
        return NULL;
    const uint8_t *entries = (const uint8_t *)root_table + sizeof(*root_table);
    uint32_t count = (root_table->length - (uint32_t)sizeof(*root_table)) / root_entry_size;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *entry = entries + (size_t)i * root_entry_size;
        uint64_t phys = root_entry_size == 8 ? read_u64(entry) : read_u32(entry);
        const struct acpi_sdt_header *table = map_table(phys);
        if (table && memcmp(table->signature, signature, 4) == 0)
            return table;
        if (!table && phys >= IDENTITY_MAP_LIMIT)
            kprintf("mb2kernel: acpi: table at %#lx is above the identity map; skipped\n", phys);
    }
    return NULL;
}
