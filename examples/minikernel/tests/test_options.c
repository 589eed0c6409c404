/* The -append options (options.c), checked on the host. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"
#include "stub_console.h"

static struct options parse(const char *cmdline)
{
    struct options options;
    stub_console_reset();
    options_parse(cmdline, &options);
    return options;
}

static void test_defaults(void **state)
{
    (void)state;
    struct options o = parse("");
    assert_int_equal(o.profile, PROFILE_DEFAULT);
    assert_false(o.mode_set);
    assert_false(o.init_delay_set);
    assert_false(o.ap_timeout_set);
    assert_int_equal(o.apic, APIC_CHOICE_AUTO);
    assert_int_equal(o.clock, CLOCK_CHOICE_AUTO);
    assert_false(o.high_page_tables);
    assert_false(o.stack_guard);
    assert_int_equal(o.rounds, 1);
    assert_int_equal(o.fault, FAULT_NONE);
    assert_int_equal(o.extra_apic_count, 0);
    assert_false(o.late_aps);
    assert_false(o.check_security);
    assert_false(o.postmortem);
    assert_int_equal(o.entry_delay_ms, 0);
    assert_false(o.next_after_ready);
    assert_int_equal(o.paging_levels, 4);
    assert_int_equal(o.reference, REFERENCE_NONE);
    assert_int_equal(stub_console_lines, 0);
}

static void test_every_option(void **state)
{
    (void)state;
    /* The loader's image path comes first and has no '='. */
    struct options o = parse("/boot/minikernel.elf  mode=serial profile=fast init_delay_us=250 "
                             "ap_timeout_ms=5000 "
                             "apic=x2apic clock=hpet high_page_tables=1 stack_guard=yes "
                             "rounds=100 fault=ap_stack_overflow");
    assert_true(o.mode_set);
    assert_int_equal(o.mode, SMPBOOT_MODE_SERIAL);
    assert_int_equal(o.profile, PROFILE_FAST);
    assert_true(o.init_delay_set);
    assert_int_equal(o.init_delay_us, 250);
    assert_true(o.ap_timeout_set);
    assert_int_equal(o.ap_timeout_ms, 5000);
    assert_int_equal(o.apic, APIC_CHOICE_X2APIC);
    assert_int_equal(o.clock, CLOCK_CHOICE_HPET);
    assert_true(o.high_page_tables);
    assert_true(o.stack_guard);
    assert_int_equal(o.rounds, 100);
    assert_int_equal(o.fault, FAULT_AP_STACK_OVERFLOW);
    assert_int_equal(stub_console_lines, 0);

    o = parse("profile=sdm next_after_ready=1");
    assert_int_equal(o.profile, PROFILE_SDM);
    assert_true(o.next_after_ready);
    o = parse("profile=sdm profile=default next_after_ready=1 next_after_ready=off");
    assert_int_equal(o.profile, PROFILE_DEFAULT);
    assert_false(o.next_after_ready);
    assert_int_equal(stub_console_lines, 0);

    o = parse("mode=parallel apic=xapic clock=pmtimer high_page_tables=off init_delay_us=0");
    assert_true(o.mode_set);
    assert_int_equal(o.mode, SMPBOOT_MODE_PARALLEL);
    assert_int_equal(o.apic, APIC_CHOICE_XAPIC);
    assert_int_equal(o.clock, CLOCK_CHOICE_PMTIMER);
    assert_false(o.high_page_tables);
    assert_true(o.init_delay_set);
    assert_int_equal(o.init_delay_us, 0);
}

/* The references for machines without a PM timer or HPET (hardware-reduced ACPI). */
static void test_clock_fallbacks_are_accepted(void **state)
{
    (void)state;
    assert_int_equal(parse("clock=pit").clock, CLOCK_CHOICE_PIT);
    assert_int_equal(parse("clock=cpuid").clock, CLOCK_CHOICE_CPUID);
}

static void test_later_words_win(void **state)
{
    (void)state;
    struct options o = parse("mode=serial mode=parallel");
    assert_int_equal(o.mode, SMPBOOT_MODE_PARALLEL);
}

static void test_bad_values_are_reported_and_ignored(void **state)
{
    (void)state;
    struct options o = parse("mode=fastest init_delay_us=12x init_delay_us= apic=x3apic "
                             "high_page_tables=maybe clock=rtc profile=slow rounds=0 "
                             "rounds=101 fault=everything ap_timeout_ms=-1 next_after_ready=2");
    assert_false(o.mode_set);
    assert_false(o.init_delay_set);
    assert_int_equal(o.apic, APIC_CHOICE_AUTO);
    assert_int_equal(o.clock, CLOCK_CHOICE_AUTO);
    assert_false(o.high_page_tables);
    assert_int_equal(o.profile, PROFILE_DEFAULT);
    assert_int_equal(o.rounds, 1);
    assert_int_equal(o.fault, FAULT_NONE);
    assert_false(o.ap_timeout_set);
    assert_false(o.next_after_ready);
    assert_int_equal(stub_console_lines, 12);
    assert_non_null(strstr(stub_console_text, "bad value in 'mode=fastest'"));
}

static void test_reliability_options(void **state)
{
    (void)state;
    struct options o = parse("extra_apic=2,3,300 late_aps=1 check_security=yes postmortem=on "
                             "fault=stack_unmapped:261");
    assert_int_equal(o.extra_apic_count, 3);
    assert_int_equal(o.extra_apic[0], 2);
    assert_int_equal(o.extra_apic[1], 3);
    assert_int_equal(o.extra_apic[2], 300);
    assert_true(o.late_aps);
    assert_true(o.check_security);
    assert_true(o.postmortem);
    assert_int_equal(o.fault, FAULT_STACK_UNMAPPED);
    assert_int_equal(o.fault_apic, 261);
    assert_int_equal(stub_console_lines, 0);

    o = parse("fault=nmi_during_bringup extra_apic=7");
    assert_int_equal(o.fault, FAULT_NMI_DURING_BRINGUP);
    assert_int_equal(o.extra_apic_count, 1);
    assert_int_equal(o.extra_apic[0], 7);
}

static void test_bad_reliability_values_change_nothing(void **state)
{
    (void)state;
    /* A bad list is refused whole: a typo must not start half of it. */
    struct options o = parse("extra_apic=2,x extra_apic= extra_apic=1,,2 extra_apic=4294967295 "
                             "extra_apic=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17 "
                             "fault=stack_unmapped fault=stack_unmapped: fault=stack_unmapped:x "
                             "late_aps=2 postmortem=maybe");
    assert_int_equal(o.extra_apic_count, 0);
    assert_int_equal(o.fault, FAULT_NONE);
    assert_false(o.late_aps);
    assert_false(o.postmortem);
    assert_int_equal(stub_console_lines, 10);

    /* The largest list is taken, and a later good value replaces an earlier one. */
    o = parse("extra_apic=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 extra_apic=5");
    assert_int_equal(o.extra_apic_count, 1);
    assert_int_equal(o.extra_apic[0], 5);
    o = parse("extra_apic=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16");
    assert_int_equal(o.extra_apic_count, EXTRA_APIC_MAX);
    assert_int_equal(o.extra_apic[15], 16);
}

static void test_entry_delay_bounds(void **state)
{
    (void)state;
    struct options o = parse("entry_delay_ms=50");
    assert_int_equal(o.entry_delay_ms, 50);
    o = parse("entry_delay_ms=1 entry_delay_ms=10000");
    assert_int_equal(o.entry_delay_ms, 10000);
    assert_int_equal(stub_console_lines, 0);
    /* 0 would switch the test off silently; beyond 10 s an AP wait bound could run out. */
    o = parse("entry_delay_ms=0 entry_delay_ms=10001 entry_delay_ms=5ms entry_delay_ms=");
    assert_int_equal(o.entry_delay_ms, 0);
    assert_int_equal(stub_console_lines, 4);
}

static void test_paging_and_reference(void **state)
{
    (void)state;
    struct options o = parse("paging=5 reference=naive-serial");
    assert_int_equal(o.paging_levels, 5);
    assert_int_equal(o.reference, REFERENCE_NAIVE_SERIAL);
    assert_int_equal(stub_console_lines, 0);
    o = parse("paging=5 paging=4 reference=naive-serial reference=none");
    assert_int_equal(o.paging_levels, 4);
    assert_int_equal(o.reference, REFERENCE_NONE);
    /* Only 4 and 5 levels exist; a misspelt reference is reported, not taken for another. */
    o = parse("paging=3 paging=6 paging=57 paging= reference=naive reference=naive-parallel");
    assert_int_equal(o.paging_levels, 4);
    assert_int_equal(o.reference, REFERENCE_NONE);
    assert_int_equal(stub_console_lines, 6);
}

static void test_huge_numbers_are_refused(void **state)
{
    (void)state;
    struct options o = parse("init_delay_us=99999999999999999999999");
    assert_false(o.init_delay_set);
    assert_int_equal(stub_console_lines, 1);
}

static void test_unknown_keys_are_reported(void **state)
{
    (void)state;
    struct options o = parse("console=ttyS0 mode=serial");
    assert_int_equal(o.mode, SMPBOOT_MODE_SERIAL);
    assert_int_equal(stub_console_lines, 1);
    assert_non_null(strstr(stub_console_text, "unknown option 'console'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_option),
        cmocka_unit_test(test_later_words_win),
        cmocka_unit_test(test_clock_fallbacks_are_accepted),
        cmocka_unit_test(test_bad_values_are_reported_and_ignored),
        cmocka_unit_test(test_reliability_options),
        cmocka_unit_test(test_bad_reliability_values_change_nothing),
        cmocka_unit_test(test_entry_delay_bounds),
        cmocka_unit_test(test_paging_and_reference),
        cmocka_unit_test(test_huge_numbers_are_refused),
        cmocka_unit_test(test_unknown_keys_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
