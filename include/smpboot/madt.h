/* SPDX-License-Identifier: MIT */
/*
 * libsmpboot: ACPI MADT ("APIC") reader.
 *
 * Optional: for kernels without their own ACPI code. It reads a MADT the
 * kernel has already found and mapped, never past its length, and reports the
 * local APIC address, the CPUs and the local-APIC NMI wiring.
 */
#ifndef SMPBOOT_MADT_H
#define SMPBOOT_MADT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ACPI "all processors" UID values in Local (x2)APIC NMI entries. */
#define SMPBOOT_MADT_UID_ALL_8  0xFFu
#define SMPBOOT_MADT_UID_ALL_32 0xFFFFFFFFu

struct smpboot_madt_cpu {
    uint32_t apic_id;
    uint32_t acpi_uid;       /* ACPI processor UID (8-bit for Local APIC entries) */
    bool enabled;            /* usable now: start it */
    bool online_capable;     /* disabled now, may be hot-added later */
    bool from_x2apic_entry;  /* listed by a Local x2APIC entry (type 9) */
};

enum smpboot_madt_polarity {
    SMPBOOT_MADT_POLARITY_BUS = 0,  /* conforms to the bus */
    SMPBOOT_MADT_POLARITY_HIGH = 1,
    SMPBOOT_MADT_POLARITY_LOW = 3,
};

enum smpboot_madt_trigger {
    SMPBOOT_MADT_TRIGGER_BUS = 0,
    SMPBOOT_MADT_TRIGGER_EDGE = 1,
    SMPBOOT_MADT_TRIGGER_LEVEL = 3,
};

/* One Local APIC NMI (type 4) or Local x2APIC NMI (type 10) entry. */
struct smpboot_madt_nmi {
    uint32_t acpi_uid;  /* SMPBOOT_MADT_UID_ALL_32 for "all processors" (8-bit 0xFF widened) */
    uint8_t lint;       /* 0 or 1: the LINT pin */
    enum smpboot_madt_polarity polarity;
    enum smpboot_madt_trigger trigger;
};

struct smpboot_madt_info {
    /* Local APIC physical address, from the header or the 64-bit override (type 5). */
    uint64_t lapic_phys;
    /* MADT flags; bit 0: PC-AT compatible dual 8259s present. */
    uint32_t flags;
    /* CPUs found (enabled or online-capable, unique, valid IDs); may exceed the capacity. */
    uint32_t cpu_count;
    /* CPUs with the Enabled flag, among cpu_count. */
    uint32_t enabled_count;
    /* NMI entries found; may exceed the capacity. */
    uint32_t nmi_count;
    /*
     * Entries ignored: ID 0xFF/0xFFFFFFFF, duplicates, neither enabled nor
     * online-capable, and NMI entries with a reserved polarity/trigger or LINT > 1.
     */
    uint32_t skipped_count;
};

/*
 * Parse the MADT at `table`, of which `mapped_bytes` bytes are readable. The
 * table's own length field bounds the walk too. cpus / nmis may be NULL with
 * capacity 0 to only count. Returns:
 *   SMPBOOT_OK                     all found and stored;
 *   SMPBOOT_ERR_TABLE_FULL         parsed, but more CPUs or NMIs than capacity
 *                                  (the first ones are stored; counts are total);
 *   SMPBOOT_ERR_INVALID_ARGUMENT   NULL table or info;
 *   SMPBOOT_ERR_MALFORMED_TABLE    wrong signature, length below the header or
 *                                  above mapped_bytes, an entry of length < 2
 *                                  or running past the end, or shorter than
 *                                  its type requires;
 *   SMPBOOT_ERR_BAD_CHECKSUM       the bytes do not sum to zero.
 * On an error other than TABLE_FULL, *info is zeroed and nothing is stored.
 */
enum smpboot_status smpboot_madt_parse(const void *table, size_t mapped_bytes,
                                       struct smpboot_madt_info *info,
                                       struct smpboot_madt_cpu *cpus, uint32_t cpu_capacity,
                                       struct smpboot_madt_nmi *nmis, uint32_t nmi_capacity);

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_MADT_H */
