/* SPDX-License-Identifier: MIT */
/*
 * Walking the MADT: header checks and entry decoding, no policy.
 *
 * The walker turns each entry into a madt_record after checking that the
 * entry lies inside the table and is long enough for its type. What counts as
 * a CPU, duplicates and capacity are decided by madt_parse.c.
 */
#ifndef SMPBOOT_MADT_WALK_H
#define SMPBOOT_MADT_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smpboot/status.h"

#include "madt_bytes.h"

/* The checked header; `table` covers exactly the table's length bytes. */
struct madt_header {
    struct madt_bytes table;
    uint32_t lapic_address;
    uint32_t flags;
};

enum madt_record_kind {
    MADT_RECORD_OTHER,           /* a type this reader does not use: skipped */
    MADT_RECORD_CPU,             /* type 0 or 9 */
    MADT_RECORD_NMI,             /* type 4 or 10 */
    MADT_RECORD_LAPIC_OVERRIDE,  /* type 5 */
};

struct madt_cpu_record {
    uint32_t apic_id;
    uint32_t acpi_uid;
    uint32_t flags;  /* MADT_CPU_FLAG_* */
    bool x2apic;     /* from a type 9 entry */
};

struct madt_nmi_record {
    uint32_t acpi_uid;  /* an 8-bit "all" (0xFF) is already widened to 0xFFFFFFFF */
    uint16_t inti_flags;
    uint8_t lint;
};

struct madt_record {
    enum madt_record_kind kind;
    size_t offset;  /* of the entry from the start of the table: its identity */
    union {
        struct madt_cpu_record cpu;
        struct madt_nmi_record nmi;
        uint64_t lapic_address;
    };
};

enum madt_walk_step {
    MADT_WALK_RECORD,
    MADT_WALK_END,
    MADT_WALK_MALFORMED,
};

struct madt_walk {
    struct madt_bytes table;
    size_t next_offset;
    enum madt_walk_step final_step;  /* RECORD until the end or a malformed entry */
};

/*
 * Checks the signature, that the length is at least the MADT header and at
 * most mapped_bytes, and the checksum. Reads nothing past mapped_bytes.
 */
enum smpboot_status smpboot_madt_check_header(const void *table, size_t mapped_bytes,
                                              struct madt_header *header);

void smpboot_madt_walk_begin(struct madt_walk *walk, struct madt_bytes table);

/* The next entry; MALFORMED and END are final. */
enum madt_walk_step smpboot_madt_walk_next(struct madt_walk *walk, struct madt_record *record);

/* Walks every entry once: SMPBOOT_OK or SMPBOOT_ERR_MALFORMED_TABLE. */
enum smpboot_status smpboot_madt_check_entries(struct madt_bytes table);

#endif /* SMPBOOT_MADT_WALK_H */
