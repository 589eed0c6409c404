/*
 * MADT reader: Local (x2)APIC NMI entries and the local APIC address
 * override.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "madt_builder.h"
#include "smpboot/madt.h"

/* Raw MPS INTI encodings (bits 1:0 polarity, 3:2 trigger). */
#define POL_BUS   0u
#define POL_HIGH  1u
#define POL_LOW   3u
#define TRIG_BUS  0u
#define TRIG_EDGE 1u
#define TRIG_LEVEL 3u

static void assert_nmi(const struct smpboot_madt_nmi *nmi, uint32_t uid, uint8_t lint,
                       enum smpboot_madt_polarity polarity, enum smpboot_madt_trigger trigger)
{
    assert_int_equal(nmi->acpi_uid, uid);
    assert_int_equal(nmi->lint, lint);
    assert_int_equal(nmi->polarity, polarity);
    assert_int_equal(nmi->trigger, trigger);
}

static void test_local_apic_nmi_per_cpu_and_all(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_local_apic(b, 0, 0, MADT_TEST_ENABLED);
    madt_builder_local_apic(b, 1, 1, MADT_TEST_ENABLED);
    madt_builder_local_apic_nmi(b, 1, MADT_TEST_INTI(POL_LOW, TRIG_LEVEL), 0);
    madt_builder_local_apic_nmi(b, 0xFF, MADT_TEST_INTI(POL_BUS, TRIG_BUS), 1);
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[2];
    struct smpboot_madt_nmi nmis[4];
    assert_int_equal(madt_builder_parse(b, &info, cpus, 2, nmis, 4), SMPBOOT_OK);
    assert_int_equal(info.cpu_count, 2);
    assert_int_equal(info.nmi_count, 2);
    assert_int_equal(info.skipped_count, 0);
    assert_nmi(&nmis[0], 1, 0, SMPBOOT_MADT_POLARITY_LOW, SMPBOOT_MADT_TRIGGER_LEVEL);
    /* The 8-bit "all processors" UID is widened to the 32-bit one. */
    assert_nmi(&nmis[1], SMPBOOT_MADT_UID_ALL_32, 1, SMPBOOT_MADT_POLARITY_BUS,
               SMPBOOT_MADT_TRIGGER_BUS);
    madt_builder_free(b);
}

static void test_x2apic_nmi_per_cpu_and_all(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_local_x2apic_nmi(b, MADT_TEST_INTI(POL_HIGH, TRIG_EDGE), 0x12345, 1);
    madt_builder_local_x2apic_nmi(b, MADT_TEST_INTI(POL_LOW, TRIG_EDGE), 0xFFFFFFFFu, 0);
    /* 0xFF is an ordinary UID in a type 10 entry. */
    madt_builder_local_x2apic_nmi(b, MADT_TEST_INTI(POL_HIGH, TRIG_LEVEL), 0xFF, 1);
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_nmi nmis[3];
    assert_int_equal(madt_builder_parse(b, &info, NULL, 0, nmis, 3), SMPBOOT_OK);
    assert_int_equal(info.nmi_count, 3);
    assert_nmi(&nmis[0], 0x12345, 1, SMPBOOT_MADT_POLARITY_HIGH, SMPBOOT_MADT_TRIGGER_EDGE);
    assert_nmi(&nmis[1], SMPBOOT_MADT_UID_ALL_32, 0, SMPBOOT_MADT_POLARITY_LOW,
               SMPBOOT_MADT_TRIGGER_EDGE);
    assert_nmi(&nmis[2], 0xFF, 1, SMPBOOT_MADT_POLARITY_HIGH, SMPBOOT_MADT_TRIGGER_LEVEL);
    madt_builder_free(b);
}

static void test_polarity_and_trigger_decoding(void **state)
{
    (void)state;
    static const uint8_t polarities[] = { POL_BUS, POL_HIGH, POL_LOW };
    static const uint8_t triggers[] = { TRIG_BUS, TRIG_EDGE, TRIG_LEVEL };
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    for (size_t p = 0; p < 3; p++) {
        for (size_t t = 0; t < 3; t++) {
            /* Upper flag bits are reserved and must not leak into the decoding. */
            uint16_t flags = (uint16_t)(MADT_TEST_INTI(polarities[p], triggers[t]) | 0xFFF0u);
            madt_builder_local_apic_nmi(b, (uint8_t)(p * 3 + t), flags, (uint8_t)(t & 1));
        }
    }
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_nmi nmis[9];
    assert_int_equal(madt_builder_parse(b, &info, NULL, 0, nmis, 9), SMPBOOT_OK);
    assert_int_equal(info.nmi_count, 9);
    for (size_t p = 0; p < 3; p++) {
        for (size_t t = 0; t < 3; t++) {
            const struct smpboot_madt_nmi *nmi = &nmis[p * 3 + t];
            assert_int_equal(nmi->acpi_uid, p * 3 + t);
            assert_int_equal(nmi->polarity, polarities[p]);
            assert_int_equal(nmi->trigger, triggers[t]);
            assert_int_equal(nmi->lint, t & 1);
        }
    }
    madt_builder_free(b);
}

/* Reserved polarity/trigger (2) or a LINT pin above 1 cannot be programmed. */
static void test_unusable_nmi_entries_skipped(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_local_apic_nmi(b, 0, MADT_TEST_INTI(2u, TRIG_EDGE), 1);
    madt_builder_local_apic_nmi(b, 0, MADT_TEST_INTI(POL_HIGH, 2u), 1);
    madt_builder_local_apic_nmi(b, 0, 0, 2);
    madt_builder_local_x2apic_nmi(b, MADT_TEST_INTI(2u, 2u), 0, 0);
    madt_builder_local_x2apic_nmi(b, 0, 0, 0xFF);
    madt_builder_local_apic_nmi(b, 0xFF, MADT_TEST_INTI(POL_HIGH, TRIG_EDGE), 1);
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_nmi nmis[6];
    assert_int_equal(madt_builder_parse(b, &info, NULL, 0, nmis, 6), SMPBOOT_OK);
    assert_int_equal(info.nmi_count, 1);
    assert_int_equal(info.skipped_count, 5);
    assert_nmi(&nmis[0], SMPBOOT_MADT_UID_ALL_32, 1, SMPBOOT_MADT_POLARITY_HIGH,
               SMPBOOT_MADT_TRIGGER_EDGE);
    madt_builder_free(b);
}

static void test_lapic_address_override(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, MADT_TEST_PCAT_COMPAT);
    madt_builder_local_apic(b, 0, 0, MADT_TEST_ENABLED);
    madt_builder_lapic_override(b, 0x0000001234567000ull);
    madt_builder_local_apic(b, 1, 1, MADT_TEST_ENABLED);
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[2];
    assert_int_equal(madt_builder_parse(b, &info, cpus, 2, NULL, 0), SMPBOOT_OK);
    assert_int_equal(info.lapic_phys, 0x0000001234567000ull);
    assert_int_equal(info.flags, MADT_TEST_PCAT_COMPAT);
    assert_int_equal(info.cpu_count, 2);
    madt_builder_free(b);
}

/* ACPI allows one override; should there be more, the first one wins. */
static void test_first_lapic_override_wins(void **state)
{
    (void)state;
    struct madt_builder *b = madt_builder_new(MADT_TEST_LAPIC_DEFAULT, 0);
    madt_builder_lapic_override(b, 0xFEE10000u);
    madt_builder_lapic_override(b, 0xFEE20000u);
    madt_builder_finish(b);

    struct smpboot_madt_info info;
    assert_int_equal(madt_builder_parse(b, &info, NULL, 0, NULL, 0), SMPBOOT_OK);
    assert_int_equal(info.lapic_phys, 0xFEE10000u);
    assert_int_equal(info.skipped_count, 0);
    madt_builder_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_apic_nmi_per_cpu_and_all),
        cmocka_unit_test(test_x2apic_nmi_per_cpu_and_all),
        cmocka_unit_test(test_polarity_and_trigger_decoding),
        cmocka_unit_test(test_unusable_nmi_entries_skipped),
        cmocka_unit_test(test_lapic_address_override),
        cmocka_unit_test(test_first_lapic_override_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
