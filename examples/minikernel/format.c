/* A small vsnprintf. See format.h for what it understands. */
#include "format.h"

#include <stdbool.h>
#include <stdint.h>

struct output {
    char *buf;
    size_t size;
    size_t length; /* what the output would be without truncation */
};

static void put_char(struct output *out, char c)
{
    if (out->length + 1 < out->size)
        out->buf[out->length] = c;
    out->length++;
}

static void put_padding(struct output *out, char c, int count)
{
    for (int i = 0; i < count; i++)
        put_char(out, c);
}

struct spec {
    bool left;      /* '-' */
    bool zero_pad;  /* '0' */
    int width;
    int precision;  /* '.N': most characters of a string; -1 when absent */
};

static void put_string(struct output *out, const char *s, const struct spec *spec)
{
    int length = 0;

    if (!s)
        s = "(null)";
    /* With a precision, never read past it: the string need not be terminated. */
    while ((spec->precision < 0 || length < spec->precision) && s[length])
        length++;
    int pad = spec->width > length ? spec->width - length : 0;
    if (!spec->left)
        put_padding(out, ' ', pad);
    for (int i = 0; i < length; i++)
        put_char(out, s[i]);
    if (spec->left)
        put_padding(out, ' ', pad);
}

static void put_number(struct output *out, uint64_t magnitude, bool negative, unsigned base,
                       bool upper, const char *prefix, const struct spec *spec)
{
    const char *digit_set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char digits[24];
    int count = 0;

    do {
        digits[count++] = digit_set[magnitude % base];
        magnitude /= base;
    } while (magnitude);

    int prefix_length = 0;
    while (prefix[prefix_length])
        prefix_length++;
    int length = count + prefix_length + (negative ? 1 : 0);
    int pad = spec->width > length ? spec->width - length : 0;

    if (!spec->left && !spec->zero_pad)
        put_padding(out, ' ', pad);
    if (negative)
        put_char(out, '-');
    for (int i = 0; i < prefix_length; i++)
        put_char(out, prefix[i]);
    if (!spec->left && spec->zero_pad)
        put_padding(out, '0', pad);
    while (count)
        put_char(out, digits[--count]);
    if (spec->left)
        put_padding(out, ' ', pad);
}

enum length_modifier { LENGTH_INT, LENGTH_LONG, LENGTH_LONG_LONG, LENGTH_SIZE };

static uint64_t next_unsigned(va_list *args, enum length_modifier length)
{
    switch (length) {
    case LENGTH_LONG:
        return va_arg(*args, unsigned long);
    case LENGTH_LONG_LONG:
        return va_arg(*args, unsigned long long);
    case LENGTH_SIZE:
        return va_arg(*args, size_t);
    default:
        return va_arg(*args, unsigned int);
    }
}

static int64_t next_signed(va_list *args, enum length_modifier length)
{
    switch (length) {
    case LENGTH_LONG:
        return va_arg(*args, long);
    case LENGTH_LONG_LONG:
        return va_arg(*args, long long);
    case LENGTH_SIZE:
        return (int64_t)va_arg(*args, size_t);
    default:
        return va_arg(*args, int);
    }
}

size_t format_v(char *buf, size_t size, const char *fmt, va_list args_in)
{
    struct output out = { .buf = buf, .size = size, .length = 0 };
    va_list args;

    /* A copy, so that helpers can take its address portably. */
    va_copy(args, args_in);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put_char(&out, *p);
            continue;
        }
        p++;
        struct spec spec = { false, false, 0, -1 };
        for (;; p++) {
            if (*p == '-')
                spec.left = true;
            else if (*p == '0')
                spec.zero_pad = true;
            else
                break;
        }
        if (*p == '*') {
            spec.width = va_arg(args, int);
            if (spec.width < 0) {
                spec.left = true;
                spec.width = -spec.width;
            }
            p++;
        } else {
            while (*p >= '0' && *p <= '9')
                spec.width = spec.width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            p++;
            spec.precision = 0;
            if (*p == '*') {
                spec.precision = va_arg(args, int);
                p++;
            } else {
                while (*p >= '0' && *p <= '9')
                    spec.precision = spec.precision * 10 + (*p++ - '0');
            }
        }
        enum length_modifier length = LENGTH_INT;
        if (*p == 'l') {
            p++;
            length = LENGTH_LONG;
            if (*p == 'l') {
                p++;
                length = LENGTH_LONG_LONG;
            }
        } else if (*p == 'z') {
            p++;
            length = LENGTH_SIZE;
        }

        switch (*p) {
        case 'c':
            put_char(&out, (char)va_arg(args, int));
            break;
        case 's':
            put_string(&out, va_arg(args, const char *), &spec);
            break;
        case 'd':
        case 'i': {
            int64_t value = next_signed(&args, length);
            uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
            put_number(&out, magnitude, value < 0, 10, false, "", &spec);
            break;
        }
        case 'u':
            put_number(&out, next_unsigned(&args, length), false, 10, false, "", &spec);
            break;
        case 'x':
        case 'X':
            put_number(&out, next_unsigned(&args, length), false, 16, *p == 'X', "", &spec);
            break;
        case 'p':
            put_number(&out, (uintptr_t)va_arg(args, void *), false, 16, false, "0x", &spec);
            break;
        case '%':
            put_char(&out, '%');
            break;
        case '\0':
            /* A lone '%' at the end: print it rather than read past the string. */
            put_char(&out, '%');
            p--;
            break;
        default:
            /* Unknown conversion: show it as written. */
            put_char(&out, '%');
            put_char(&out, *p);
            break;
        }
    }
    va_end(args);

    if (size > 0)
        buf[out.length < size ? out.length : size - 1] = '\0';
    return out.length;
}

size_t format(char *buf, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    size_t length = format_v(buf, size, fmt, args);
    va_end(args);
    return length;
}
