/* Test helper: synthetic MADTs. See madt_builder.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "madt_builder.h"

#define HEADER_SIZE     44u
#define LENGTH_OFFSET   4u
#define CHECKSUM_OFFSET 9u

void madt_builder_put(struct madt_builder *builder, size_t offset, uint64_t value, size_t width)
{
    assert_true(offset + width <= MADT_BUILDER_MAX_BYTES);
    for (size_t i = 0; i < width; i++) {
        builder->bytes[offset + i] = (uint8_t)(value >> (8 * i));
    }
}

struct madt_builder *madt_builder_new(uint32_t lapic_address, uint32_t flags)
{
    struct madt_builder *builder = calloc(1, sizeof(*builder));
    assert_non_null(builder);

    memcpy(builder->bytes, "APIC", 4);
    builder->bytes[8] = 5;                   /* revision: ACPI 6.3+ (Online Capable) */
    memcpy(&builder->bytes[10], "SMPBT ", 6); /* OEM ID */
    memcpy(&builder->bytes[16], "MADTTEST", 8);
    madt_builder_put(builder, 24, 1, 4);     /* OEM revision */
    memcpy(&builder->bytes[28], "TEST", 4);  /* creator ID */
    madt_builder_put(builder, 32, 1, 4);     /* creator revision */
    madt_builder_put(builder, 36, lapic_address, 4);
    madt_builder_put(builder, 40, flags, 4);
    builder->length = HEADER_SIZE;
    return builder;
}

void madt_builder_free(struct madt_builder *builder)
{
    free(builder);
}

void madt_builder_raw(struct madt_builder *builder, const uint8_t *bytes, size_t length)
{
    assert_true(builder->length + length <= MADT_BUILDER_MAX_BYTES);
    memcpy(&builder->bytes[builder->length], bytes, length);
    builder->length += length;
}

/* Appends a zeroed entry of `length` bytes and returns its offset. */
static size_t append_entry(struct madt_builder *builder, uint8_t type, uint8_t length)
{
    uint8_t zeroes[255] = { 0 };
    size_t offset = builder->length;
    madt_builder_raw(builder, zeroes, length);
    builder->bytes[offset] = type;
    builder->bytes[offset + 1] = length;
    return offset;
}

void madt_builder_local_apic(struct madt_builder *builder, uint8_t uid, uint8_t apic_id,
                             uint32_t flags)
{
    size_t at = append_entry(builder, 0, 8);
    madt_builder_put(builder, at + 2, uid, 1);
    madt_builder_put(builder, at + 3, apic_id, 1);
    madt_builder_put(builder, at + 4, flags, 4);
}

void madt_builder_local_x2apic(struct madt_builder *builder, uint32_t x2apic_id, uint32_t flags,
                               uint32_t uid)
{
    size_t at = append_entry(builder, 9, 16);
    madt_builder_put(builder, at + 4, x2apic_id, 4);
    madt_builder_put(builder, at + 8, flags, 4);
    madt_builder_put(builder, at + 12, uid, 4);
}

void madt_builder_local_apic_nmi(struct madt_builder *builder, uint8_t uid, uint16_t inti_flags,
                                 uint8_t lint)
{
    size_t at = append_entry(builder, 4, 6);
    madt_builder_put(builder, at + 2, uid, 1);
    madt_builder_put(builder, at + 3, inti_flags, 2);
    madt_builder_put(builder, at + 5, lint, 1);
}

void madt_builder_local_x2apic_nmi(struct madt_builder *builder, uint16_t inti_flags,
                                   uint32_t uid, uint8_t lint)
{
    size_t at = append_entry(builder, 10, 12);
    madt_builder_put(builder, at + 2, inti_flags, 2);
    madt_builder_put(builder, at + 4, uid, 4);
    madt_builder_put(builder, at + 8, lint, 1);
}

void madt_builder_lapic_override(struct madt_builder *builder, uint64_t address)
{
    size_t at = append_entry(builder, 5, 12);
    madt_builder_put(builder, at + 4, address, 8);
}

void madt_builder_io_apic(struct madt_builder *builder, uint8_t io_apic_id, uint32_t address,
                          uint32_t gsi_base)
{
    size_t at = append_entry(builder, 1, 12);
    madt_builder_put(builder, at + 2, io_apic_id, 1);
    madt_builder_put(builder, at + 4, address, 4);
    madt_builder_put(builder, at + 8, gsi_base, 4);
}

void madt_builder_source_override(struct madt_builder *builder, uint8_t bus, uint8_t source,
                                  uint32_t gsi, uint16_t inti_flags)
{
    size_t at = append_entry(builder, 2, 10);
    madt_builder_put(builder, at + 2, bus, 1);
    madt_builder_put(builder, at + 3, source, 1);
    madt_builder_put(builder, at + 4, gsi, 4);
    madt_builder_put(builder, at + 8, inti_flags, 2);
}

void madt_builder_fix_checksum(struct madt_builder *builder)
{
    size_t length = 0;
    for (size_t i = 0; i < 4; i++) {
        length |= (size_t)builder->bytes[LENGTH_OFFSET + i] << (8 * i);
    }
    if (length > MADT_BUILDER_MAX_BYTES) {
        length = MADT_BUILDER_MAX_BYTES;
    }
    builder->bytes[CHECKSUM_OFFSET] = 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < length; i++) {
        sum = (uint8_t)(sum + builder->bytes[i]);
    }
    builder->bytes[CHECKSUM_OFFSET] = (uint8_t)(0x100u - sum);
}

size_t madt_builder_finish(struct madt_builder *builder)
{
    madt_builder_put(builder, LENGTH_OFFSET, builder->length, 4);
    madt_builder_fix_checksum(builder);
    return builder->length;
}

enum smpboot_status madt_builder_parse(const struct madt_builder *builder,
                                       struct smpboot_madt_info *info,
                                       struct smpboot_madt_cpu *cpus, uint32_t cpu_capacity,
                                       struct smpboot_madt_nmi *nmis, uint32_t nmi_capacity)
{
    /* malloc(0) may return NULL, which the parser would rightly reject. */
    uint8_t *copy = malloc(builder->length ? builder->length : 1);
    assert_non_null(copy);
    memcpy(copy, builder->bytes, builder->length);
    enum smpboot_status status = smpboot_madt_parse(copy, builder->length, info, cpus,
                                                    cpu_capacity, nmis, nmi_capacity);
    free(copy);
    return status;
}
