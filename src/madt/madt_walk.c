/* SPDX-License-Identifier: MIT */
/*
 * MADT header checks and entry decoding. See madt_walk.h.
 */
#include "madt_walk.h"

#include "smpboot/madt.h"

#include "madt_layout.h"

static const uint8_t madt_signature[MADT_SIGNATURE_SIZE] = { 'A', 'P', 'I', 'C' };

static bool madt_signature_matches(struct madt_bytes mapped)
{
    for (size_t i = 0; i < MADT_SIGNATURE_SIZE; i++) {
        uint8_t byte;
        if (!madt_read_u8(mapped, MADT_SIGNATURE_OFFSET + i, &byte) || byte != madt_signature[i]) {
            return false;
        }
    }
    return true;
}

static bool madt_checksum_is_zero(struct madt_bytes table)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < table.size; i++) {
        sum = (uint8_t)(sum + table.base[i]);
    }
    return sum == 0;
}

enum smpboot_status smpboot_madt_check_header(const void *table, size_t mapped_bytes,
                                              struct madt_header *header)
{
    struct madt_bytes mapped = { (const uint8_t *)table, mapped_bytes };

    if (!madt_signature_matches(mapped)) {
        return SMPBOOT_ERR_MALFORMED_TABLE;
    }
    uint32_t length;
    if (!madt_read_u32(mapped, MADT_LENGTH_OFFSET, &length)) {
        return SMPBOOT_ERR_MALFORMED_TABLE;
    }
    if (length < MADT_HEADER_SIZE || length > mapped_bytes) {
        return SMPBOOT_ERR_MALFORMED_TABLE;
    }

    /* From here on the table's own length is the bound, not the mapping. */
    struct madt_bytes bytes = madt_bytes_slice(mapped, 0, length);
    if (!madt_checksum_is_zero(bytes)) {
        return SMPBOOT_ERR_BAD_CHECKSUM;
    }
    if (!madt_read_u32(bytes, MADT_LAPIC_ADDRESS_OFFSET, &header->lapic_address)
        || !madt_read_u32(bytes, MADT_FLAGS_OFFSET, &header->flags)) {
        return SMPBOOT_ERR_MALFORMED_TABLE;
    }
    header->table = bytes;
    return SMPBOOT_OK;
}

void smpboot_madt_walk_begin(struct madt_walk *walk, struct madt_bytes table)
{
    walk->table = table;
    walk->next_offset = MADT_HEADER_SIZE;
    walk->final_step = MADT_WALK_RECORD;
}

static bool madt_decode_local_apic(struct madt_bytes entry, struct madt_record *record)
{
    uint8_t uid;
    uint8_t apic_id;
    uint32_t flags;
    if (entry.size < MADT_LOCAL_APIC_SIZE
        || !madt_read_u8(entry, MADT_LOCAL_APIC_UID_OFFSET, &uid)
        || !madt_read_u8(entry, MADT_LOCAL_APIC_ID_OFFSET, &apic_id)
        || !madt_read_u32(entry, MADT_LOCAL_APIC_FLAGS_OFFSET, &flags)) {
        return false;
    }
    record->kind = MADT_RECORD_CPU;
    record->cpu.apic_id = apic_id;
    record->cpu.acpi_uid = uid;
    record->cpu.flags = flags;
    record->cpu.x2apic = false;
    return true;
}

static bool madt_decode_local_x2apic(struct madt_bytes entry, struct madt_record *record)
{
    uint32_t apic_id;
    uint32_t flags;
    uint32_t uid;
    if (entry.size < MADT_LOCAL_X2APIC_SIZE
        || !madt_read_u32(entry, MADT_LOCAL_X2APIC_ID_OFFSET, &apic_id)
        || !madt_read_u32(entry, MADT_LOCAL_X2APIC_FLAGS_OFFSET, &flags)
        || !madt_read_u32(entry, MADT_LOCAL_X2APIC_UID_OFFSET, &uid)) {
        return false;
    }
    record->kind = MADT_RECORD_CPU;
    record->cpu.apic_id = apic_id;
    record->cpu.acpi_uid = uid;
    record->cpu.flags = flags;
    record->cpu.x2apic = true;
    return true;
}

static bool madt_decode_local_apic_nmi(struct madt_bytes entry, struct madt_record *record)
{
    uint8_t uid;
    uint16_t flags;
    uint8_t lint;
    if (entry.size < MADT_LOCAL_APIC_NMI_SIZE
        || !madt_read_u8(entry, MADT_LOCAL_APIC_NMI_UID_OFFSET, &uid)
        || !madt_read_u16(entry, MADT_LOCAL_APIC_NMI_FLAGS_OFFSET, &flags)
        || !madt_read_u8(entry, MADT_LOCAL_APIC_NMI_LINT_OFFSET, &lint)) {
        return false;
    }
    record->kind = MADT_RECORD_NMI;
    /* One "all processors" value for both NMI entry types. */
    record->nmi.acpi_uid = (uid == SMPBOOT_MADT_UID_ALL_8) ? SMPBOOT_MADT_UID_ALL_32 : uid;
    record->nmi.inti_flags = flags;
    record->nmi.lint = lint;
    return true;
}

static bool madt_decode_local_x2apic_nmi(struct madt_bytes entry, struct madt_record *record)
{
    uint16_t flags;
    uint32_t uid;
    uint8_t lint;
    if (entry.size < MADT_LOCAL_X2APIC_NMI_SIZE
        || !madt_read_u16(entry, MADT_LOCAL_X2APIC_NMI_FLAGS_OFFSET, &flags)
        || !madt_read_u32(entry, MADT_LOCAL_X2APIC_NMI_UID_OFFSET, &uid)
        || !madt_read_u8(entry, MADT_LOCAL_X2APIC_NMI_LINT_OFFSET, &lint)) {
        return false;
    }
    record->kind = MADT_RECORD_NMI;
    record->nmi.acpi_uid = uid;
    record->nmi.inti_flags = flags;
    record->nmi.lint = lint;
    return true;
}

static bool madt_decode_lapic_override(struct madt_bytes entry, struct madt_record *record)
{
    uint64_t address;
    if (entry.size < MADT_LAPIC_OVERRIDE_SIZE
        || !madt_read_u64(entry, MADT_LAPIC_OVERRIDE_ADDRESS_OFFSET, &address)) {
        return false;
    }
    record->kind = MADT_RECORD_LAPIC_OVERRIDE;
    record->lapic_address = address;
    return true;
}

/*
 * Entries longer than their type's size are accepted and only the known
 * prefix is read: later ACPI revisions append fields to existing types.
 */
static bool madt_decode_entry(uint8_t type, struct madt_bytes entry, struct madt_record *record)
{
    switch (type) {
    case MADT_TYPE_LOCAL_APIC:
        return madt_decode_local_apic(entry, record);
    case MADT_TYPE_LOCAL_APIC_NMI:
        return madt_decode_local_apic_nmi(entry, record);
    case MADT_TYPE_LAPIC_OVERRIDE:
        return madt_decode_lapic_override(entry, record);
    case MADT_TYPE_LOCAL_X2APIC:
        return madt_decode_local_x2apic(entry, record);
    case MADT_TYPE_LOCAL_X2APIC_NMI:
        return madt_decode_local_x2apic_nmi(entry, record);
    default:
        record->kind = MADT_RECORD_OTHER;
        return true;
    }
}

static enum madt_walk_step madt_walk_stop(struct madt_walk *walk, enum madt_walk_step step)
{
    walk->final_step = step;
    return step;
}

enum madt_walk_step smpboot_madt_walk_next(struct madt_walk *walk, struct madt_record *record)
{
    if (walk->final_step != MADT_WALK_RECORD) {
        return walk->final_step;
    }
    size_t offset = walk->next_offset;
    if (offset == walk->table.size) {
        return madt_walk_stop(walk, MADT_WALK_END);
    }

    uint8_t type;
    uint8_t length;
    if (!madt_read_u8(walk->table, offset + MADT_ENTRY_TYPE_OFFSET, &type)
        || !madt_read_u8(walk->table, offset + MADT_ENTRY_LENGTH_OFFSET, &length)) {
        return madt_walk_stop(walk, MADT_WALK_MALFORMED);  /* a stray byte at the end */
    }
    /* A length below 2 would never advance the walk. */
    if (length < MADT_ENTRY_PREFIX_SIZE || !madt_bytes_contains(walk->table, offset, length)) {
        return madt_walk_stop(walk, MADT_WALK_MALFORMED);
    }

    struct madt_bytes entry = madt_bytes_slice(walk->table, offset, length);
    if (!madt_decode_entry(type, entry, record)) {
        return madt_walk_stop(walk, MADT_WALK_MALFORMED);
    }
    record->offset = offset;
    walk->next_offset = offset + length;
    return MADT_WALK_RECORD;
}

enum smpboot_status smpboot_madt_check_entries(struct madt_bytes table)
{
    struct madt_walk walk;
    struct madt_record record;
    enum madt_walk_step step;

    smpboot_madt_walk_begin(&walk, table);
    do {
        step = smpboot_madt_walk_next(&walk, &record);
    } while (step == MADT_WALK_RECORD);
    return (step == MADT_WALK_END) ? SMPBOOT_OK : SMPBOOT_ERR_MALFORMED_TABLE;
}
