/*
 * MADT reader: never reads past the mapping. Each table is placed so that it
 * ends exactly where a PROT_NONE guard page begins; any read past
 * mapped_bytes faults and fails the test.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "madt_builder.h"
#include "smpboot/madt.h"

/* Readable pages, then one guard page. */
struct guarded_region {
    uint8_t *base;
    size_t readable_bytes;
    size_t total_bytes;
};

static int region_setup(void **state)
{
    static struct guarded_region region;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    region.readable_bytes = 2 * page;
    region.total_bytes = region.readable_bytes + page;
    void *mapping = mmap(NULL, region.total_bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
        return -1;
    }
    region.base = mapping;
    if (mprotect(region.base + region.readable_bytes, page, PROT_NONE) != 0) {
        return -1;
    }
    *state = &region;
    return 0;
}

static int region_teardown(void **state)
{
    struct guarded_region *region = *state;
    return munmap(region->base, region->total_bytes);
}

/* Copies `size` bytes so that they end at the guard page; returns the copy. */
static const uint8_t *place_before_guard(struct guarded_region *region, const void *bytes,
                                         size_t size)
{
    assert_true(size <= region->readable_bytes);
    uint8_t *at = region->base + region->readable_bytes - size;
    memcpy(at, bytes, size);
    return at;
}

static enum smpboot_status parse_at_guard(struct guarded_region *region, const void *bytes,
                                          size_t size, struct smpboot_madt_info *info)
{
    struct smpboot_madt_cpu cpus[8];
    struct smpboot_madt_nmi nmis[8];
    const uint8_t *table = place_before_guard(region, bytes, size);
    return smpboot_madt_parse(table, size, info, cpus, 8, nmis, 8);
}

static void test_valid_table_ending_at_guard(void **state)
{
    struct guarded_region *region = *state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_local_apic(b, 0, 0, MADT_TEST_ENABLED);
    madt_builder_local_x2apic(b, 0x100, MADT_TEST_ENABLED, 1);
    madt_builder_local_x2apic_nmi(b, 0, 0xFFFFFFFFu, 1);  /* ends in 3 reserved bytes */
    size_t length = madt_builder_finish(b);

    struct smpboot_madt_info info;
    assert_int_equal(parse_at_guard(region, b->bytes, length, &info), SMPBOOT_OK);
    assert_int_equal(info.cpu_count, 2);
    assert_int_equal(info.nmi_count, 1);
    madt_builder_free(b);
}

/* Only the bare 44-byte header, right against the guard. */
static void test_empty_table_ending_at_guard(void **state)
{
    struct guarded_region *region = *state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    size_t length = madt_builder_finish(b);

    struct smpboot_madt_info info;
    assert_int_equal(parse_at_guard(region, b->bytes, length, &info), SMPBOOT_OK);
    assert_int_equal(info.cpu_count, 0);
    madt_builder_free(b);
}

/* The length field claims more than is mapped: nothing past it is touched. */
static void test_length_beyond_guard(void **state)
{
    struct guarded_region *region = *state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_local_apic(b, 0, 0, MADT_TEST_ENABLED);
    size_t length = madt_builder_finish(b);
    madt_builder_put(b, 4, length + 4096, 4);

    struct smpboot_madt_info info;
    assert_int_equal(parse_at_guard(region, b->bytes, length, &info),
                     SMPBOOT_ERR_MALFORMED_TABLE);
    madt_builder_free(b);
}

/* Fewer bytes mapped than the header: signature and length reads stay inside. */
static void test_tiny_mappings_at_guard(void **state)
{
    struct guarded_region *region = *state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_finish(b);
    for (size_t size = 0; size < 44; size++) {
        struct smpboot_madt_info info;
        assert_int_equal(parse_at_guard(region, b->bytes, size, &info),
                         SMPBOOT_ERR_MALFORMED_TABLE);
    }
    madt_builder_free(b);
}

/* The last entry's length byte would be the first byte of the guard page. */
static void test_lone_type_byte_at_guard(void **state)
{
    struct guarded_region *region = *state;
    static const uint8_t type_only[1] = { 0 };
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_raw(b, type_only, sizeof(type_only));
    size_t length = madt_builder_finish(b);

    struct smpboot_madt_info info;
    assert_int_equal(parse_at_guard(region, b->bytes, length, &info),
                     SMPBOOT_ERR_MALFORMED_TABLE);
    madt_builder_free(b);
}

/* Every known type cut one byte short of its size, right at the guard. */
static void test_truncated_entries_at_guard(void **state)
{
    struct guarded_region *region = *state;
    static const struct {
        uint8_t type;
        uint8_t size;
    } types[] = { { 0, 8 }, { 4, 6 }, { 5, 12 }, { 9, 16 }, { 10, 12 } };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        /* The entry claims its full size but the table ends one byte early. */
        uint8_t entry[16] = { 0 };
        entry[0] = types[i].type;
        entry[1] = types[i].size;
        struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
        madt_builder_raw(b, entry, (size_t)types[i].size - 1);
        size_t length = madt_builder_finish(b);

        struct smpboot_madt_info info;
        assert_int_equal(parse_at_guard(region, b->bytes, length, &info),
                         SMPBOOT_ERR_MALFORMED_TABLE);

        /* And an entry whose own length is one short of its type's size. */
        entry[1] = (uint8_t)(types[i].size - 1);
        struct madt_builder *c = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
        madt_builder_raw(c, entry, (size_t)types[i].size - 1);
        length = madt_builder_finish(c);
        assert_int_equal(parse_at_guard(region, c->bytes, length, &info),
                         SMPBOOT_ERR_MALFORMED_TABLE);
        madt_builder_free(c);
        madt_builder_free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_table_ending_at_guard),
        cmocka_unit_test(test_empty_table_ending_at_guard),
        cmocka_unit_test(test_length_beyond_guard),
        cmocka_unit_test(test_tiny_mappings_at_guard),
        cmocka_unit_test(test_lone_type_byte_at_guard),
        cmocka_unit_test(test_truncated_entries_at_guard),
    };
    return cmocka_run_group_tests(tests, region_setup, region_teardown);
}
