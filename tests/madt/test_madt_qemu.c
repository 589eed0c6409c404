/*
 * MADT reader on the table QEMU gives a `-machine pc -smp 4` guest: four
 * Local APICs, an I/O APIC (type 1), Interrupt Source Overrides (type 2) and
 * a Local APIC NMI for all processors on LINT1. Types 1 and 2 must be
 * skipped by their length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "madt_builder.h"
#include "smpboot/madt.h"

/*
 * The 144 bytes of the MADT dumped from guest memory (monitor `pmemsave`)
 * of qemu-system-x86_64 7.2 run with `-machine pc -smp 4 -m 128`, under
 * SeaBIOS, before any guest code ran.
 */
static const uint8_t qemu_pc_smp4_madt[144] = {
    0x41, 0x50, 0x49, 0x43, 0x90, 0x00, 0x00, 0x00, 0x01, 0x4b, 0x42, 0x4f,
    0x43, 0x48, 0x53, 0x20, 0x42, 0x58, 0x50, 0x43, 0x20, 0x20, 0x20, 0x20,
    0x01, 0x00, 0x00, 0x00, 0x42, 0x58, 0x50, 0x43, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xe0, 0xfe, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x08, 0x02, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x03, 0x03,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x0c, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xfe,
    0x00, 0x00, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x0a, 0x00, 0x05, 0x05, 0x00, 0x00, 0x00, 0x0d, 0x00,
    0x02, 0x0a, 0x00, 0x09, 0x09, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x02, 0x0a,
    0x00, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x02, 0x0a, 0x00, 0x0b,
    0x0b, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x04, 0x06, 0xff, 0x00, 0x00, 0x01,
};

/* The same layout rebuilt from its parts, as QEMU's build_madt() lays it out. */
static struct madt_builder *build_qemu_like_table(void)
{
    struct madt_builder *b = madt_builder_new(0xFEE00000u, MADT_TEST_PCAT_COMPAT);
    for (uint8_t i = 0; i < 4; i++) {
        madt_builder_local_apic(b, i, i, MADT_TEST_ENABLED);
    }
    madt_builder_io_apic(b, 0, 0xFEC00000u, 0);
    madt_builder_source_override(b, 0, 0, 2, 0);  /* IRQ0 -> GSI2 */
    static const uint8_t level_high_irqs[] = { 5, 9, 10, 11 };
    for (size_t i = 0; i < sizeof(level_high_irqs); i++) {
        madt_builder_source_override(b, 0, level_high_irqs[i], level_high_irqs[i], 0x000d);
    }
    madt_builder_local_apic_nmi(b, 0xFF, 0, 1);
    madt_builder_finish(b);
    return b;
}

static void assert_qemu_smp4_result(enum smpboot_status status,
                                    const struct smpboot_madt_info *info,
                                    const struct smpboot_madt_cpu *cpus,
                                    const struct smpboot_madt_nmi *nmis)
{
    assert_int_equal(status, SMPBOOT_OK);
    assert_int_equal(info->lapic_phys, 0xFEE00000u);
    assert_int_equal(info->flags, MADT_TEST_PCAT_COMPAT);
    assert_int_equal(info->cpu_count, 4);
    assert_int_equal(info->enabled_count, 4);
    assert_int_equal(info->skipped_count, 0);
    assert_int_equal(info->nmi_count, 1);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(cpus[i].apic_id, i);
        assert_int_equal(cpus[i].acpi_uid, i);
        assert_true(cpus[i].enabled);
        assert_false(cpus[i].online_capable);
        assert_false(cpus[i].from_x2apic_entry);
    }
    assert_int_equal(nmis[0].acpi_uid, SMPBOOT_MADT_UID_ALL_32);
    assert_int_equal(nmis[0].lint, 1);
    assert_int_equal(nmis[0].polarity, SMPBOOT_MADT_POLARITY_BUS);
    assert_int_equal(nmis[0].trigger, SMPBOOT_MADT_TRIGGER_BUS);
}

static void test_real_qemu_table(void **state)
{
    (void)state;
    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[8];
    struct smpboot_madt_nmi nmis[4];
    enum smpboot_status status = smpboot_madt_parse(qemu_pc_smp4_madt, sizeof(qemu_pc_smp4_madt),
                                                    &info, cpus, 8, nmis, 4);
    assert_qemu_smp4_result(status, &info, cpus, nmis);
}

static void test_rebuilt_qemu_table(void **state)
{
    (void)state;
    struct madt_builder *b = build_qemu_like_table();
    /* The builder reproduces QEMU's bytes from the MADT fields on (OEM fields differ). */
    assert_int_equal(b->length, sizeof(qemu_pc_smp4_madt));
    assert_memory_equal(&b->bytes[36], &qemu_pc_smp4_madt[36], sizeof(qemu_pc_smp4_madt) - 36);

    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[8];
    struct smpboot_madt_nmi nmis[4];
    enum smpboot_status status = madt_builder_parse(b, &info, cpus, 8, nmis, 4);
    assert_qemu_smp4_result(status, &info, cpus, nmis);
    madt_builder_free(b);
}

/* The real table with one byte flipped: the checksum catches it. */
static void test_real_qemu_table_corrupted(void **state)
{
    (void)state;
    uint8_t copy[sizeof(qemu_pc_smp4_madt)];
    memcpy(copy, qemu_pc_smp4_madt, sizeof(copy));
    copy[sizeof(copy) - 1] = 0;  /* LINT1 -> LINT0 */
    struct smpboot_madt_info info;
    assert_int_equal(smpboot_madt_parse(copy, sizeof(copy), &info, NULL, 0, NULL, 0),
                     SMPBOOT_ERR_BAD_CHECKSUM);
    assert_int_equal(info.cpu_count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_qemu_table),
        cmocka_unit_test(test_rebuilt_qemu_table),
        cmocka_unit_test(test_real_qemu_table_corrupted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
