/*
 * The console for the host tests of the minikernel's portable parts: lines
 * go to a buffer the tests can inspect instead of a serial port.
 */
#include "stub_console.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "console.h"

char stub_console_text[STUB_CONSOLE_BYTES];
size_t stub_console_length;
unsigned stub_console_lines;

void stub_console_reset(void)
{
    stub_console_text[0] = '\0';
    stub_console_length = 0;
    stub_console_lines = 0;
}

void kprintf(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    size_t room = sizeof(stub_console_text) - stub_console_length;
    int written = vsnprintf(stub_console_text + stub_console_length, room, fmt, args);
    va_end(args);
    if (written > 0)
        stub_console_length += (size_t)written < room ? (size_t)written : room - 1;
    stub_console_lines++;
}

_Noreturn void panic(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "panic: ");
    vfprintf(stderr, fmt, args);
    va_end(args);
    abort();
}
