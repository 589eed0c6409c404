/* The kernel's printf subset (format.c), checked on the host. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "format.h"

/*
 * format() without the compiler's printf checking, for the inputs that
 * checking rightly complains about but the kernel must still survive.
 */
static size_t format_unchecked(char *buf, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    size_t n = format_v(buf, size, fmt, args);
    va_end(args);
    return n;
}

/* Format into a fresh buffer and check both the text and the returned length. */
#define CHECK(expected, ...)                                           \
    do {                                                               \
        char buf[128];                                                 \
        memset(buf, 'X', sizeof(buf));                                 \
        size_t n = format(buf, sizeof(buf), __VA_ARGS__);              \
        assert_string_equal(buf, expected);                            \
        assert_int_equal(n, strlen(expected));                         \
    } while (0)

static void test_integers(void **state)
{
    (void)state;
    CHECK("0 7 -7 2147483647 -2147483648", "%d %i %d %d %d", 0, 7, -7, 2147483647,
          (int)-2147483647 - 1);
    CHECK("4294967295", "%u", 4294967295u);
    CHECK("18446744073709551615", "%llu", 18446744073709551615ull);
    CHECK("-9223372036854775808", "%lld", (long long)INT64_MIN);
    CHECK("ff FF 0", "%x %X %x", 255u, 255u, 0u);
    CHECK("ffffffff80100000", "%lx", 0xffffffff80100000ul);
    CHECK("12345", "%zu", (size_t)12345);
    CHECK("0x1000", "%p", (void *)0x1000);
}

static void test_width_and_flags(void **state)
{
    (void)state;
    CHECK("   42|42   |00042", "%5d|%-5d|%05d", 42, 42, 42);
    CHECK("-0042", "%05d", -42);
    CHECK("  -42", "%5d", -42);
    CHECK("00ff", "%04x", 255u);
    CHECK("   ab|ab   ", "%5s|%-5s", "ab", "ab");
    CHECK("  7", "%*d", 3, 7);
    CHECK("7  |", "%*d|", -3, 7);
}

static void test_strings_and_characters(void **state)
{
    (void)state;
    CHECK("a-z", "%c-%c", 'a', 'z');
    char buf[16];
    assert_int_equal(format_unchecked(buf, sizeof(buf), "%s", (const char *)NULL), 6);
    assert_string_equal(buf, "(null)");
    CHECK("abc", "%.3s", "abcdef");
    CHECK("ab", "%.*s", 2, "abcdef");
    /* A precision lets the string lack a terminator. */
    const char unterminated[3] = { 'x', 'y', 'z' };
    CHECK("xyz", "%.3s", unterminated);
    CHECK("100%", "100%%");
}

static void test_odd_conversions_are_shown_not_skipped(void **state)
{
    (void)state;
    char buf[16];
    /* Unknown conversion: printed as written. A lone trailing '%' too. */
    size_t n = format_unchecked(buf, sizeof(buf), "a%qb");
    assert_string_equal(buf, "a%qb");
    assert_int_equal(n, 4);
    n = format_unchecked(buf, sizeof(buf), "end%");
    assert_string_equal(buf, "end%");
    assert_int_equal(n, 4);
}

static void test_truncation(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'X', sizeof(buf));
    size_t n = format(buf, sizeof(buf), "%s", "0123456789");
    assert_int_equal(n, 10);             /* the untruncated length */
    assert_string_equal(buf, "0123456"); /* size - 1 characters and a NUL */

    char one[1] = { 'X' };
    n = format(one, sizeof(one), "abc");
    assert_int_equal(n, 3);
    assert_int_equal(one[0], '\0');

    char untouched = 'X';
    n = format(&untouched, 0, "abc");
    assert_int_equal(n, 3);
    assert_int_equal(untouched, 'X');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_width_and_flags),
        cmocka_unit_test(test_strings_and_characters),
        cmocka_unit_test(test_odd_conversions_are_shown_not_skipped),
        cmocka_unit_test(test_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
