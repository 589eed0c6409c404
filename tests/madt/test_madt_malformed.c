/*
 * MADT reader: broken tables and bad arguments. Every error other than
 * TABLE_FULL must zero *info and store nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "madt_builder.h"
#include "smpboot/madt.h"

#define SENTINEL 0xA5

struct outputs {
    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[4];
    struct smpboot_madt_nmi nmis[4];
};

static void outputs_poison(struct outputs *out)
{
    memset(out, SENTINEL, sizeof(*out));
}

static bool bytes_all(const void *object, size_t size, uint8_t value)
{
    const uint8_t *bytes = object;
    for (size_t i = 0; i < size; i++) {
        if (bytes[i] != value) {
            return false;
        }
    }
    return true;
}

/* Field by field: the padding of *info is not part of the contract. */
static void assert_info_zeroed(const struct smpboot_madt_info *info)
{
    assert_int_equal(info->lapic_phys, 0);
    assert_int_equal(info->flags, 0);
    assert_int_equal(info->cpu_count, 0);
    assert_int_equal(info->enabled_count, 0);
    assert_int_equal(info->nmi_count, 0);
    assert_int_equal(info->skipped_count, 0);
}

/* *info zeroed, the arrays untouched. */
static void assert_nothing_stored(const struct outputs *out)
{
    assert_info_zeroed(&out->info);
    assert_true(bytes_all(out->cpus, sizeof(out->cpus), SENTINEL));
    assert_true(bytes_all(out->nmis, sizeof(out->nmis), SENTINEL));
}

static enum smpboot_status parse_into(const struct madt_builder *b, struct outputs *out)
{
    outputs_poison(out);
    return madt_builder_parse(b, &out->info, out->cpus, 4, out->nmis, 4);
}

/* A valid table with CPUs and an NMI, so that "nothing stored" means something. */
static struct madt_builder *valid_table(void)
{
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, MADT_TEST_PCAT_COMPAT);
    madt_builder_local_apic(b, 0, 0, MADT_TEST_ENABLED);
    madt_builder_local_apic(b, 1, 1, MADT_TEST_ENABLED);
    madt_builder_local_apic_nmi(b, 0xFF, 0, 1);
    return b;
}

static void expect_error(struct madt_builder *b, enum smpboot_status expected)
{
    struct outputs out;
    assert_int_equal(parse_into(b, &out), expected);
    assert_nothing_stored(&out);
}

static void test_valid_table_baseline(void **state)
{
    (void)state;
    struct madt_builder *b = valid_table();
    madt_builder_finish(b);
    struct outputs out;
    assert_int_equal(parse_into(b, &out), SMPBOOT_OK);
    assert_int_equal(out.info.cpu_count, 2);
    assert_int_equal(out.info.nmi_count, 1);
    madt_builder_free(b);
}

static void test_null_arguments(void **state)
{
    (void)state;
    struct madt_builder *b = valid_table();
    madt_builder_finish(b);
    struct outputs out;

    outputs_poison(&out);
    assert_int_equal(smpboot_madt_parse(b->bytes, b->length, NULL, out.cpus, 4, out.nmis, 4),
                     SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_true(bytes_all(out.cpus, sizeof(out.cpus), SENTINEL));

    outputs_poison(&out);
    assert_int_equal(smpboot_madt_parse(NULL, b->length, &out.info, out.cpus, 4, out.nmis, 4),
                     SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_nothing_stored(&out);

    /* A NULL array is only allowed with capacity 0. */
    outputs_poison(&out);
    assert_int_equal(smpboot_madt_parse(b->bytes, b->length, &out.info, NULL, 1, out.nmis, 4),
                     SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_nothing_stored(&out);

    outputs_poison(&out);
    assert_int_equal(smpboot_madt_parse(b->bytes, b->length, &out.info, out.cpus, 4, NULL, 2),
                     SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_nothing_stored(&out);
    madt_builder_free(b);
}

static void test_mapping_too_small_for_header(void **state)
{
    (void)state;
    struct madt_builder *b = valid_table();
    madt_builder_finish(b);
    static const size_t sizes[] = { 0, 1, 3, 4, 7, 8, 35, 43 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct outputs out;
        outputs_poison(&out);
        assert_int_equal(smpboot_madt_parse(b->bytes, sizes[i], &out.info, out.cpus, 4,
                                            out.nmis, 4),
                         SMPBOOT_ERR_MALFORMED_TABLE);
        assert_nothing_stored(&out);
    }
    madt_builder_free(b);
}

static void test_length_zero(void **state)
{
    (void)state;
    struct madt_builder *b = valid_table();
    madt_builder_finish(b);
    madt_builder_put(b, 4, 0, 4);
    madt_builder_fix_checksum(b);
    expect_error(b, SMPBOOT_ERR_MALFORMED_TABLE);
    madt_builder_free(b);
}

static void test_length_below_header(void **state)
{
    (void)state;
    static const uint32_t lengths[] = { 8, 36, 43 };
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        struct madt_builder *b = valid_table();
        madt_builder_finish(b);
        madt_builder_put(b, 4, lengths[i], 4);
        madt_builder_fix_checksum(b);
        expect_error(b, SMPBOOT_ERR_MALFORMED_TABLE);
        madt_builder_free(b);
    }
}

static void test_length_above_mapping(void **state)
{
    (void)state;
    struct madt_builder *b = valid_table();
    size_t length = madt_builder_finish(b);
    struct outputs out;
    outputs_poison(&out);
    assert_int_equal(smpboot_madt_parse(b->bytes, length - 1, &out.info, out.cpus, 4,
                                        out.nmis, 4),
                     SMPBOOT_ERR_MALFORMED_TABLE);
    assert_nothing_stored(&out);

    /* A huge length field, checksum made to hold over what is mapped. */
    madt_builder_put(b, 4, 0xFFFFFFFFu, 4);
    expect_error(b, SMPBOOT_ERR_MALFORMED_TABLE);
    madt_builder_free(b);
}

/* A mapping longer than the table is fine: the length field bounds the walk. */
static void test_mapping_longer_than_table(void **state)
{
    (void)state;
    struct madt_builder *b = valid_table();
    size_t length = madt_builder_finish(b);
    /* Garbage after the table would be a broken entry if the walk went there. */
    b->bytes[length] = 0;
    b->bytes[length + 1] = 0;
    struct outputs out;
    outputs_poison(&out);
    assert_int_equal(smpboot_madt_parse(b->bytes, length + 2, &out.info, out.cpus, 4,
                                        out.nmis, 4),
                     SMPBOOT_OK);
    assert_int_equal(out.info.cpu_count, 2);
    madt_builder_free(b);
}

static void test_wrong_signature(void **state)
{
    (void)state;
    static const char *const signatures[] = { "APIc", "FACP", "SRAT", "\0\0\0\0" };
    for (size_t i = 0; i < sizeof(signatures) / sizeof(signatures[0]); i++) {
        struct madt_builder *b = valid_table();
        madt_builder_finish(b);
        memcpy(b->bytes, signatures[i], 4);
        madt_builder_fix_checksum(b);
        expect_error(b, SMPBOOT_ERR_MALFORMED_TABLE);
        madt_builder_free(b);
    }
}

static void test_bad_checksum(void **state)
{
    (void)state;
    struct madt_builder *b = valid_table();
    madt_builder_finish(b);
    b->bytes[9] = (uint8_t)(b->bytes[9] + 1);
    expect_error(b, SMPBOOT_ERR_BAD_CHECKSUM);

    /* A flipped bit in an entry is caught by the checksum too. */
    madt_builder_fix_checksum(b);
    b->bytes[44 + 3] ^= 0x40;
    expect_error(b, SMPBOOT_ERR_BAD_CHECKSUM);
    madt_builder_free(b);
}

/* The checksum is checked before the entries are walked. */
static void test_checksum_reported_before_entries(void **state)
{
    (void)state;
    static const uint8_t zero_length_entry[2] = { 0, 0 };
    struct madt_builder *b = valid_table();
    madt_builder_raw(b, zero_length_entry, sizeof(zero_length_entry));
    madt_builder_finish(b);
    b->bytes[9] = (uint8_t)(b->bytes[9] ^ 0xFF);
    expect_error(b, SMPBOOT_ERR_BAD_CHECKSUM);
    madt_builder_free(b);
}

static void test_entry_running_past_end(void **state)
{
    (void)state;
    struct madt_builder *b = valid_table();
    madt_builder_local_apic(b, 2, 2, MADT_TEST_ENABLED);
    madt_builder_finish(b);
    /* Cut the last entry: the table ends 2 bytes into it. */
    b->length -= 6;
    madt_builder_put(b, 4, b->length, 4);
    madt_builder_fix_checksum(b);
    expect_error(b, SMPBOOT_ERR_MALFORMED_TABLE);
    madt_builder_free(b);
}

static void test_entry_length_claims_past_end(void **state)
{
    (void)state;
    static const uint8_t unknown_too_long[4] = { 0x7F, 200, 0, 0 };
    struct madt_builder *b = valid_table();
    madt_builder_raw(b, unknown_too_long, sizeof(unknown_too_long));
    madt_builder_finish(b);
    expect_error(b, SMPBOOT_ERR_MALFORMED_TABLE);
    madt_builder_free(b);
}

static void test_stray_byte_at_end(void **state)
{
    (void)state;
    static const uint8_t stray[1] = { 0 };
    struct madt_builder *b = valid_table();
    madt_builder_raw(b, stray, sizeof(stray));
    madt_builder_finish(b);
    expect_error(b, SMPBOOT_ERR_MALFORMED_TABLE);
    madt_builder_free(b);
}

static void test_entry_length_0_and_1(void **state)
{
    (void)state;
    for (uint8_t length = 0; length < 2; length++) {
        const uint8_t entry[8] = { 0x7F, length, 0, 0, 0, 0, 0, 0 };
        struct madt_builder *b = valid_table();
        madt_builder_raw(b, entry, sizeof(entry));
        madt_builder_finish(b);
        expect_error(b, SMPBOOT_ERR_MALFORMED_TABLE);
        madt_builder_free(b);
    }
}

/* Known types below their size: checked even when the table has room after them. */
static void test_entries_shorter_than_their_type(void **state)
{
    (void)state;
    static const struct {
        uint8_t type;
        uint8_t length;
    } cases[] = {
        { 0, 6 }, { 0, 7 }, { 0, 2 }, { 4, 5 }, { 5, 8 }, { 5, 11 }, { 9, 12 }, { 9, 15 },
        { 10, 9 }, { 10, 11 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t entry[16] = { 0 };
        entry[0] = cases[i].type;
        entry[1] = cases[i].length;
        entry[3] = 5;
        entry[4] = 1;
        struct madt_builder *b = valid_table();
        madt_builder_raw(b, entry, cases[i].length);
        madt_builder_local_apic(b, 7, 7, MADT_TEST_ENABLED);  /* room after it */
        madt_builder_finish(b);
        expect_error(b, SMPBOOT_ERR_MALFORMED_TABLE);
        madt_builder_free(b);
    }
}

/* A broken entry after good ones: still nothing stored (validation comes first). */
static void test_late_error_stores_nothing(void **state)
{
    (void)state;
    static const uint8_t short_x2apic[12] = { 9, 12, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0 };
    struct madt_builder *b = valid_table();
    madt_builder_lapic_override(b, 0xFEE40000u);
    madt_builder_local_x2apic_nmi(b, 0, 0, 1);
    madt_builder_raw(b, short_x2apic, sizeof(short_x2apic));
    madt_builder_finish(b);
    expect_error(b, SMPBOOT_ERR_MALFORMED_TABLE);
    madt_builder_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_table_baseline),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_mapping_too_small_for_header),
        cmocka_unit_test(test_length_zero),
        cmocka_unit_test(test_length_below_header),
        cmocka_unit_test(test_length_above_mapping),
        cmocka_unit_test(test_mapping_longer_than_table),
        cmocka_unit_test(test_wrong_signature),
        cmocka_unit_test(test_bad_checksum),
        cmocka_unit_test(test_checksum_reported_before_entries),
        cmocka_unit_test(test_entry_running_past_end),
        cmocka_unit_test(test_entry_length_claims_past_end),
        cmocka_unit_test(test_stray_byte_at_end),
        cmocka_unit_test(test_entry_length_0_and_1),
        cmocka_unit_test(test_entries_shorter_than_their_type),
        cmocka_unit_test(test_late_error_stores_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
