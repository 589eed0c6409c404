/*
 * Test helper: builds synthetic MADTs entry by entry.
 *
 * Append entries, then madt_builder_finish() writes the length and the
 * checksum. Tests that want a broken table tamper with the bytes afterwards
 * (and call madt_builder_fix_checksum() when only the checksum should hold).
 */
#ifndef SMPBOOT_TESTS_MADT_BUILDER_H
#define SMPBOOT_TESTS_MADT_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "smpboot/madt.h"

/* Room for 8192 x2APIC entries (16 bytes each) plus the header. */
#define MADT_BUILDER_MAX_BYTES (44u + 8192u * 16u)

#define MADT_TEST_LAPIC_DEFAULT 0xFEE00000u
#define MADT_TEST_PCAT_COMPAT   0x1u

#define MADT_TEST_ENABLED        0x1u
#define MADT_TEST_ONLINE_CAPABLE 0x2u

/* MPS INTI flags: polarity in bits 1:0, trigger mode in bits 3:2. */
#define MADT_TEST_INTI(polarity, trigger) ((uint16_t)((polarity) | ((trigger) << 2)))

struct madt_builder {
    uint8_t bytes[MADT_BUILDER_MAX_BYTES];
    size_t length;
};

/* A zeroed builder on the heap, with the header for `lapic_address`/`flags`. */
struct madt_builder *madt_builder_new(uint32_t lapic_address, uint32_t flags);
void madt_builder_free(struct madt_builder *builder);

/* Appends `length` raw bytes (an entry of any shape, even a broken one). */
void madt_builder_raw(struct madt_builder *builder, const uint8_t *bytes, size_t length);

void madt_builder_local_apic(struct madt_builder *builder, uint8_t uid, uint8_t apic_id,
                             uint32_t flags);
void madt_builder_local_x2apic(struct madt_builder *builder, uint32_t x2apic_id, uint32_t flags,
                               uint32_t uid);
void madt_builder_local_apic_nmi(struct madt_builder *builder, uint8_t uid, uint16_t inti_flags,
                                 uint8_t lint);
void madt_builder_local_x2apic_nmi(struct madt_builder *builder, uint16_t inti_flags,
                                   uint32_t uid, uint8_t lint);
void madt_builder_lapic_override(struct madt_builder *builder, uint64_t address);
/* Type 1, I/O APIC. */
void madt_builder_io_apic(struct madt_builder *builder, uint8_t io_apic_id, uint32_t address,
                          uint32_t gsi_base);
/* Type 2, Interrupt Source Override. */
void madt_builder_source_override(struct madt_builder *builder, uint8_t bus, uint8_t source,
                                  uint32_t gsi, uint16_t inti_flags);

/* Writes the length field from the bytes appended, then the checksum. */
size_t madt_builder_finish(struct madt_builder *builder);
/* Recomputes the checksum over the current length field (after tampering). */
void madt_builder_fix_checksum(struct madt_builder *builder);
/* Stores a little-endian value anywhere in the table, for tampering. */
void madt_builder_put(struct madt_builder *builder, size_t offset, uint64_t value, size_t width);

/*
 * Parses a heap copy of exactly the finished bytes, so ASan reports any read
 * past the table's end.
 */
enum smpboot_status madt_builder_parse(const struct madt_builder *builder,
                                       struct smpboot_madt_info *info,
                                       struct smpboot_madt_cpu *cpus, uint32_t cpu_capacity,
                                       struct smpboot_madt_nmi *nmis, uint32_t nmi_capacity);

#endif
