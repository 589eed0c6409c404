/* SPDX-License-Identifier: MIT */
/* A bounded formatter, so diagnostics need no libc and never overrun. */
#include <stdarg.h>

#include "session.h"

#define LOG_LINE_MAX 160

struct line {
    char text[LOG_LINE_MAX];
    size_t length;
};

static void put_char(struct line *line, char c)
{
    if (line->length + 1 < LOG_LINE_MAX)
        line->text[line->length++] = c;
}

static void put_string(struct line *line, const char *s)
{
    if (!s)
        s = "(null)";
    while (*s)
        put_char(line, *s++);
}

static void put_number(struct line *line, uint64_t value, unsigned base)
{
    char digits[20];
    int count = 0;
    do {
        unsigned digit = (unsigned)(value % base);
        digits[count++] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
        value /= base;
    } while (value);
    if (base == 16)
        put_string(line, "0x");
    while (count)
        put_char(line, digits[--count]);
}

void smpboot_logf(const struct smpboot_session *sb, enum smpboot_log_level level, const char *fmt, ...)
{
    if (!sb->host.log)
        return;

    struct line line = {.length = 0};
    put_string(&line, "smpboot: ");
    va_list args;
    va_start(args, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put_char(&line, *p);
            continue;
        }
        bool wide = false;
        if (p[1] == 'l') {
            wide = true;
            p++;
        }
        switch (*++p) {
        case 's': put_string(&line, va_arg(args, const char *)); break;
        case 'u':
            put_number(&line, wide ? va_arg(args, unsigned long) : va_arg(args, unsigned), 10);
            break;
        case 'x':
            put_number(&line, wide ? va_arg(args, unsigned long) : va_arg(args, unsigned), 16);
            break;
        case '%': put_char(&line, '%'); break;
        case '\0': p--; break;
        default: put_char(&line, '?'); break;
        }
    }
    va_end(args);
    line.text[line.length] = '\0';
    sb->host.log(sb->host.ctx, level, line.text);
}
