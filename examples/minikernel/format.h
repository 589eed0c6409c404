/*
 * printf-style formatting into a buffer: the subset the kernel uses.
 *
 * Conversions: %c %s %d %i %u %x %X %p %%. Flags '-' and '0', a width
 * (digits or '*'), a precision for %s ('.N' or '.*'), and the length
 * modifiers l, ll and z. No floating point
 * (the kernel is built without SSE).
 */
#ifndef MK_FORMAT_H
#define MK_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Like vsnprintf: writes at most size - 1 characters and a NUL (when size >
 * 0), and returns the length the whole output would have had.
 */
size_t format_v(char *buf, size_t size, const char *fmt, va_list args);
size_t format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* MK_FORMAT_H */
