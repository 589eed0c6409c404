/*
 * MADT reader: which entries become CPUs, in what order, with which flags;
 * duplicates, capacity and counting-only calls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "madt_builder.h"
#include "smpboot/madt.h"

#define ENABLED        MADT_TEST_ENABLED
#define ONLINE_CAPABLE MADT_TEST_ONLINE_CAPABLE

static void assert_cpu(const struct smpboot_madt_cpu *cpu, uint32_t apic_id, uint32_t uid,
                       bool enabled, bool online_capable, bool x2apic)
{
    assert_int_equal(cpu->apic_id, apic_id);
    assert_int_equal(cpu->acpi_uid, uid);
    assert_int_equal(cpu->enabled, enabled);
    assert_int_equal(cpu->online_capable, online_capable);
    assert_int_equal(cpu->from_x2apic_entry, x2apic);
}

static void fill_sentinel(struct smpboot_madt_cpu *cpus, size_t count)
{
    memset(cpus, 0xA5, count * sizeof(*cpus));
}

static bool is_sentinel(const struct smpboot_madt_cpu *cpu)
{
    const uint8_t *bytes = (const uint8_t *)cpu;
    for (size_t i = 0; i < sizeof(*cpu); i++) {
        if (bytes[i] != 0xA5) {
            return false;
        }
    }
    return true;
}

static void test_xapic_list(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, MADT_TEST_PCAT_COMPAT);
    for (uint8_t i = 0; i < 4; i++) {
        madt_builder_local_apic(b, i, i, ENABLED);
    }
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[8];
    struct smpboot_madt_nmi nmis[2];
    assert_int_equal(madt_builder_parse(b, &info, cpus, 8, nmis, 2), SMPBOOT_OK);
    assert_int_equal(info.lapic_phys, MADT_TEST_LAPIC_DEFAULT);
    assert_int_equal(info.flags, MADT_TEST_PCAT_COMPAT);
    assert_int_equal(info.cpu_count, 4);
    assert_int_equal(info.enabled_count, 4);
    assert_int_equal(info.nmi_count, 0);
    assert_int_equal(info.skipped_count, 0);
    for (uint32_t i = 0; i < 4; i++) {
        assert_cpu(&cpus[i], i, i, true, false, false);
    }
    madt_builder_free(b);
}

static void test_header_fields(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(0xFED00000u, 0);
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    assert_int_equal(madt_builder_parse(b, &info, NULL, 0, NULL, 0), SMPBOOT_OK);
    assert_int_equal(info.lapic_phys, 0xFED00000u);
    assert_int_equal(info.flags, 0);
    assert_int_equal(info.cpu_count, 0);
    assert_int_equal(info.skipped_count, 0);
    madt_builder_free(b);
}

static void test_sparse_ids_keep_table_order(void **state)
{
    (void)state;
    static const uint8_t ids[] = { 6, 0, 0x20, 2, 0xFE, 4 };
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    for (size_t i = 0; i < sizeof(ids); i++) {
        madt_builder_local_apic(b, (uint8_t)(10 + i), ids[i], ENABLED);
    }
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[8];
    assert_int_equal(madt_builder_parse(b, &info, cpus, 8, NULL, 0), SMPBOOT_OK);
    assert_int_equal(info.cpu_count, sizeof(ids));
    for (size_t i = 0; i < sizeof(ids); i++) {
        assert_cpu(&cpus[i], ids[i], (uint32_t)(10 + i), true, false, false);
    }
    madt_builder_free(b);
}

static void test_disabled_and_online_capable(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_local_apic(b, 0, 0, ENABLED);
    madt_builder_local_apic(b, 1, 1, 0);                          /* absent: skipped */
    madt_builder_local_apic(b, 2, 2, ONLINE_CAPABLE);             /* hot-pluggable */
    madt_builder_local_apic(b, 3, 3, ENABLED | ONLINE_CAPABLE);   /* OC ignored when enabled */
    madt_builder_local_apic(b, 4, 4, 0xFFFFFFF0u);                /* reserved bits only */
    madt_builder_local_x2apic(b, 0x300, ONLINE_CAPABLE, 5);
    madt_builder_local_x2apic(b, 0x301, 0, 6);                    /* absent: skipped */
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[8];
    assert_int_equal(madt_builder_parse(b, &info, cpus, 8, NULL, 0), SMPBOOT_OK);
    assert_int_equal(info.cpu_count, 4);
    assert_int_equal(info.enabled_count, 2);
    assert_int_equal(info.skipped_count, 3);
    assert_cpu(&cpus[0], 0, 0, true, false, false);
    assert_cpu(&cpus[1], 2, 2, false, true, false);
    assert_cpu(&cpus[2], 3, 3, true, false, false);
    assert_cpu(&cpus[3], 0x300, 5, false, true, true);
    madt_builder_free(b);
}

static void test_x2apic_only_cpus(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_local_x2apic(b, 0x100, ENABLED, 0x100);
    madt_builder_local_x2apic(b, 0x1000, ENABLED, 0xABCDEF);
    madt_builder_local_x2apic(b, 0xFF, ENABLED, 7);  /* 0xFF is a valid x2APIC ID */
    madt_builder_local_x2apic(b, 0xFFFFFFFEu, ENABLED, 0xFFFFFFFFu);
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[4];
    assert_int_equal(madt_builder_parse(b, &info, cpus, 4, NULL, 0), SMPBOOT_OK);
    assert_int_equal(info.cpu_count, 4);
    assert_int_equal(info.enabled_count, 4);
    assert_int_equal(info.skipped_count, 0);
    assert_cpu(&cpus[0], 0x100, 0x100, true, false, true);
    assert_cpu(&cpus[1], 0x1000, 0xABCDEF, true, false, true);
    assert_cpu(&cpus[2], 0xFF, 7, true, false, true);
    assert_cpu(&cpus[3], 0xFFFFFFFEu, 0xFFFFFFFFu, true, false, true);
    madt_builder_free(b);
}

static void test_invalid_ids_skipped(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_local_apic(b, 0, 0xFF, ENABLED);
    madt_builder_local_apic(b, 1, 1, ENABLED);
    madt_builder_local_x2apic(b, 0xFFFFFFFFu, ENABLED, 2);
    madt_builder_local_apic(b, 3, 0xFF, ONLINE_CAPABLE);
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[4];
    assert_int_equal(madt_builder_parse(b, &info, cpus, 4, NULL, 0), SMPBOOT_OK);
    assert_int_equal(info.cpu_count, 1);
    assert_int_equal(info.enabled_count, 1);
    assert_int_equal(info.skipped_count, 3);
    assert_cpu(&cpus[0], 1, 1, true, false, false);
    madt_builder_free(b);
}

static void test_duplicates_keep_first(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_local_apic(b, 0, 0, ENABLED);
    madt_builder_local_apic(b, 1, 1, ENABLED);
    madt_builder_local_apic(b, 9, 1, ENABLED);              /* duplicate LAPIC */
    madt_builder_local_x2apic(b, 0, ENABLED, 20);           /* x2APIC shadowing LAPIC 0 */
    madt_builder_local_x2apic(b, 0x200, ONLINE_CAPABLE, 21);
    madt_builder_local_x2apic(b, 0x200, ENABLED, 22);       /* duplicate x2APIC */
    madt_builder_local_apic(b, 5, 5, 0);                    /* absent: not a CPU ... */
    madt_builder_local_apic(b, 6, 5, ENABLED);              /* ... so this one is the first */
    madt_builder_local_x2apic(b, 7, ENABLED, 30);           /* x2APIC first ... */
    madt_builder_local_apic(b, 31, 7, ENABLED);             /* ... then the LAPIC entry */
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[16];
    assert_int_equal(madt_builder_parse(b, &info, cpus, 16, NULL, 0), SMPBOOT_OK);
    assert_int_equal(info.cpu_count, 5);
    assert_int_equal(info.enabled_count, 4);
    assert_int_equal(info.skipped_count, 5);
    assert_cpu(&cpus[0], 0, 0, true, false, false);
    assert_cpu(&cpus[1], 1, 1, true, false, false);
    assert_cpu(&cpus[2], 0x200, 21, false, true, true);
    assert_cpu(&cpus[3], 5, 6, true, false, false);
    assert_cpu(&cpus[4], 7, 30, true, false, true);
    for (uint32_t i = 0; i < info.cpu_count; i++) {
        for (uint32_t j = i + 1; j < info.cpu_count; j++) {
            assert_int_not_equal(cpus[i].apic_id, cpus[j].apic_id);
        }
    }
    madt_builder_free(b);
}

/* IDs 0..5 with duplicates of a stored CPU and of an unstored one, past capacity. */
static struct madt_builder *build_overflowing_table(void)
{
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_local_apic(b, 0, 0, ENABLED);
    madt_builder_local_apic(b, 1, 1, ENABLED);
    madt_builder_local_apic(b, 2, 2, ONLINE_CAPABLE);
    madt_builder_local_apic(b, 3, 3, ENABLED);
    madt_builder_local_x2apic(b, 4, ENABLED, 4);
    madt_builder_local_apic(b, 10, 1, ENABLED);     /* duplicate of a stored CPU */
    madt_builder_local_apic(b, 11, 4, ENABLED);     /* duplicate of an unstored CPU */
    madt_builder_local_apic(b, 12, 0xFF, ENABLED);  /* invalid */
    madt_builder_local_apic(b, 5, 5, ENABLED);
    madt_builder_local_x2apic(b, 5, ENABLED, 13);   /* shadowing an unstored CPU */
    madt_builder_local_apic_nmi(b, 0xFF, 0, 1);
    madt_builder_finish(b);
    return b;
}

static void test_capacity_overflow(void **state)
{
    (void)state;
    struct madt_builder *b = build_overflowing_table();

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[4];
    struct smpboot_madt_nmi nmis[1];
    fill_sentinel(cpus, 4);
    assert_int_equal(madt_builder_parse(b, &info, cpus, 3, nmis, 1), SMPBOOT_ERR_TABLE_FULL);
    assert_int_equal(info.cpu_count, 6);
    assert_int_equal(info.enabled_count, 5);
    assert_int_equal(info.skipped_count, 4);
    assert_int_equal(info.nmi_count, 1);
    assert_cpu(&cpus[0], 0, 0, true, false, false);
    assert_cpu(&cpus[1], 1, 1, true, false, false);
    assert_cpu(&cpus[2], 2, 2, false, true, false);
    assert_true(is_sentinel(&cpus[3]));  /* nothing past the capacity */
    assert_int_equal(nmis[0].acpi_uid, SMPBOOT_MADT_UID_ALL_32);

    /* With room for all, the same totals and OK. */
    struct smpboot_madt_info full_info;
    struct smpboot_madt_cpu all[8];
    assert_int_equal(madt_builder_parse(b, &full_info, all, 8, nmis, 1), SMPBOOT_OK);
    assert_int_equal(full_info.cpu_count, info.cpu_count);
    assert_int_equal(full_info.enabled_count, info.enabled_count);
    assert_int_equal(full_info.skipped_count, info.skipped_count);
    assert_cpu(&all[4], 4, 4, true, false, true);
    assert_cpu(&all[5], 5, 5, true, false, false);

    /* Exactly full is not overflow. */
    assert_int_equal(madt_builder_parse(b, &full_info, all, 6, nmis, 1), SMPBOOT_OK);
    madt_builder_free(b);
}

static void test_nmi_capacity_overflow(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_local_apic(b, 0, 0, ENABLED);
    madt_builder_local_apic_nmi(b, 0, 0, 0);
    madt_builder_local_apic_nmi(b, 0xFF, 0, 1);
    madt_builder_local_x2apic_nmi(b, 0, 0xFFFFFFFFu, 1);
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[1];
    struct smpboot_madt_nmi nmis[2];
    assert_int_equal(madt_builder_parse(b, &info, cpus, 1, nmis, 2), SMPBOOT_ERR_TABLE_FULL);
    assert_int_equal(info.cpu_count, 1);
    assert_int_equal(info.nmi_count, 3);
    assert_int_equal(nmis[0].acpi_uid, 0);
    assert_int_equal(nmis[1].acpi_uid, SMPBOOT_MADT_UID_ALL_32);
    madt_builder_free(b);
}

static void test_count_only_with_null_arrays(void **state)
{
    (void)state;
    struct madt_builder *b = build_overflowing_table();

    struct smpboot_madt_info info;
    assert_int_equal(madt_builder_parse(b, &info, NULL, 0, NULL, 0), SMPBOOT_ERR_TABLE_FULL);
    assert_int_equal(info.cpu_count, 6);
    assert_int_equal(info.enabled_count, 5);
    assert_int_equal(info.skipped_count, 4);
    assert_int_equal(info.nmi_count, 1);
    assert_int_equal(info.lapic_phys, MADT_TEST_LAPIC_DEFAULT);

    /* Counting a table without CPUs or NMIs is simply OK. */
    struct madt_builder *empty = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_io_apic(empty, 0, 0xFEC00000u, 0);
    madt_builder_finish(empty);
    assert_int_equal(madt_builder_parse(empty, &info, NULL, 0, NULL, 0), SMPBOOT_OK);
    assert_int_equal(info.cpu_count, 0);
    assert_int_equal(info.nmi_count, 0);
    madt_builder_free(empty);
    madt_builder_free(b);
}

/*
 * Thousands of entries, every ID listed twice: duplicate detection past the
 * capacity (by re-scanning the table) must agree with the full parse.
 */
#define MANY_CPUS 1500u

static void test_many_entries_duplicates_past_capacity(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    for (uint32_t i = 0; i < MANY_CPUS; i++) {
        madt_builder_local_x2apic(b, 0x1000 + i, ENABLED, i);
    }
    for (uint32_t i = MANY_CPUS; i > 0; i--) {
        madt_builder_local_x2apic(b, 0x1000 + i - 1, ENABLED, 0x10000 + i);
    }
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu few[16];
    assert_int_equal(madt_builder_parse(b, &info, few, 16, NULL, 0), SMPBOOT_ERR_TABLE_FULL);
    assert_int_equal(info.cpu_count, MANY_CPUS);
    assert_int_equal(info.enabled_count, MANY_CPUS);
    assert_int_equal(info.skipped_count, MANY_CPUS);

    struct smpboot_madt_cpu *all = calloc(MANY_CPUS, sizeof(*all));
    assert_non_null(all);
    assert_int_equal(madt_builder_parse(b, &info, all, MANY_CPUS, NULL, 0), SMPBOOT_OK);
    assert_int_equal(info.cpu_count, MANY_CPUS);
    assert_int_equal(info.skipped_count, MANY_CPUS);
    for (uint32_t i = 0; i < MANY_CPUS; i++) {
        assert_cpu(&all[i], 0x1000 + i, i, true, false, true);
    }
    free(all);
    madt_builder_free(b);
}

/* Newer ACPI revisions may append fields: a longer entry is read by its prefix. */
static void test_longer_entries_accepted(void **state)
{
    (void)state;
    static const uint8_t long_lapic[10] = { 0, 10, 3, 7, ENABLED, 0, 0, 0, 0xEE, 0xEE };
    static const uint8_t long_x2apic[20] = { 9, 20, 0, 0, 0x34, 0x12, 0, 0, ENABLED, 0, 0, 0,
                                             0x78, 0x56, 0, 0, 0xEE, 0xEE, 0xEE, 0xEE };
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_raw(b, long_lapic, sizeof(long_lapic));
    madt_builder_raw(b, long_x2apic, sizeof(long_x2apic));
    madt_builder_local_apic(b, 4, 4, ENABLED);  /* the walk stays in step */
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[4];
    assert_int_equal(madt_builder_parse(b, &info, cpus, 4, NULL, 0), SMPBOOT_OK);
    assert_int_equal(info.cpu_count, 3);
    assert_cpu(&cpus[0], 7, 3, true, false, false);
    assert_cpu(&cpus[1], 0x1234, 0x5678, true, false, true);
    assert_cpu(&cpus[2], 4, 4, true, false, false);
    madt_builder_free(b);
}

static void test_unknown_types_skipped(void **state)
{
    (void)state;
    static const uint8_t minimal_unknown[2] = { 0x7F, 2 };
    static const uint8_t oem_entry[7] = { 0x80, 7, 1, 2, 3, 4, 5 };
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_raw(b, minimal_unknown, sizeof(minimal_unknown));
    madt_builder_local_apic(b, 0, 0, ENABLED);
    madt_builder_raw(b, oem_entry, sizeof(oem_entry));
    madt_builder_io_apic(b, 1, 0xFEC00000u, 0);
    madt_builder_local_apic(b, 1, 1, ENABLED);
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[4];
    assert_int_equal(madt_builder_parse(b, &info, cpus, 4, NULL, 0), SMPBOOT_OK);
    assert_int_equal(info.cpu_count, 2);
    assert_int_equal(info.skipped_count, 0);  /* skipped_count is about CPU and NMI entries */
    assert_cpu(&cpus[1], 1, 1, true, false, false);
    madt_builder_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xapic_list),
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_sparse_ids_keep_table_order),
        cmocka_unit_test(test_disabled_and_online_capable),
        cmocka_unit_test(test_x2apic_only_cpus),
        cmocka_unit_test(test_invalid_ids_skipped),
        cmocka_unit_test(test_duplicates_keep_first),
        cmocka_unit_test(test_capacity_overflow),
        cmocka_unit_test(test_nmi_capacity_overflow),
        cmocka_unit_test(test_count_only_with_null_arrays),
        cmocka_unit_test(test_many_entries_duplicates_past_capacity),
        cmocka_unit_test(test_longer_entries_accepted),
        cmocka_unit_test(test_unknown_types_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
