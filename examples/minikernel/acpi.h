/*
 * Finding ACPI tables: the RSDP (Multiboot 2's copy; else searched in the
 * EBDA and in 0xE0000-0xFFFFF, then in the memory map's ACPI ranges, as
 * Multiboot 1 does not pass it), then the XSDT or RSDT, then tables by
 * signature. Every table returned is mapped whole and its checksum checked.
 */
#ifndef MK_ACPI_H
#define MK_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#include "bootinfo.h"

struct acpi_header {
    char signature[4];
    uint32_t length; /* of the whole table, header included */
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __attribute__((packed));

/*
 * Find the RSDP (the loader's copy, else the BIOS areas, else the ACPI
 * ranges of the memory map) and the root table. false: no (valid) ACPI.
 */
bool acpi_init(const struct bootinfo *info);

/*
 * Physical address of an Intel MP floating pointer structure ("_MP_") in
 * the EBDA or the BIOS area, or 0. The kernel does not read MP tables; it
 * only names one when there is no MADT, so the reason is plain.
 */
uint64_t acpi_find_mp_pointer(void);

/* The first table with this signature ("APIC", "FACP", "HPET"...), or NULL. */
const struct acpi_header *acpi_find_table(const char signature[4]);

/* Little-endian fields at a byte offset of a table, which may be unaligned. */
uint8_t acpi_read8(const struct acpi_header *table, uint32_t offset);
uint32_t acpi_read32(const struct acpi_header *table, uint32_t offset);
uint64_t acpi_read64(const struct acpi_header *table, uint32_t offset);

#endif /* MK_ACPI_H */
