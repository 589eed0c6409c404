/* SPDX-License-Identifier: MIT */
/*
 * Bounds-checked little-endian reads from a firmware table.
 *
 * Firmware tables are untrusted and their fields are unaligned, so every read
 * goes through here: it checks the range first, then assembles the value one
 * byte at a time (no casts to wider pointers, no libc).
 */
#ifndef SMPBOOT_MADT_BYTES_H
#define SMPBOOT_MADT_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A readable byte range; reads outside it fail instead of touching memory. */
struct madt_bytes {
    const uint8_t *base;
    size_t size;
};

/* Written so that offset + width cannot overflow. */
static inline bool madt_bytes_contains(struct madt_bytes bytes, size_t offset, size_t width)
{
    return offset <= bytes.size && width <= bytes.size - offset;
}

/* The sub-range [offset, offset + size); the caller has checked it is inside. */
static inline struct madt_bytes madt_bytes_slice(struct madt_bytes bytes, size_t offset, size_t size)
{
    struct madt_bytes slice = { bytes.base + offset, size };
    return slice;
}

/* Reads `width` (1..8) bytes at `offset`, least significant first. */
static inline bool madt_read_le(struct madt_bytes bytes, size_t offset, size_t width,
                                uint64_t *value)
{
    if (width == 0 || width > sizeof(uint64_t) || !madt_bytes_contains(bytes, offset, width)) {
        return false;
    }
    uint64_t assembled = 0;
    for (size_t i = width; i > 0; i--) {
        assembled = (assembled << 8) | bytes.base[offset + i - 1];
    }
    *value = assembled;
    return true;
}

static inline bool madt_read_u8(struct madt_bytes bytes, size_t offset, uint8_t *value)
{
    uint64_t wide;
    if (!madt_read_le(bytes, offset, sizeof(*value), &wide)) {
        return false;
    }
    *value = (uint8_t)wide;
    return true;
}

static inline bool madt_read_u16(struct madt_bytes bytes, size_t offset, uint16_t *value)
{
    uint64_t wide;
    if (!madt_read_le(bytes, offset, sizeof(*value), &wide)) {
        return false;
    }
    *value = (uint16_t)wide;
    return true;
}

static inline bool madt_read_u32(struct madt_bytes bytes, size_t offset, uint32_t *value)
{
    uint64_t wide;
    if (!madt_read_le(bytes, offset, sizeof(*value), &wide)) {
        return false;
    }
    *value = (uint32_t)wide;
    return true;
}

static inline bool madt_read_u64(struct madt_bytes bytes, size_t offset, uint64_t *value)
{
    return madt_read_le(bytes, offset, sizeof(*value), value);
}

#endif /* SMPBOOT_MADT_BYTES_H */
