/* kprintf and panic on top of the serial port. */
#include "console.h"

#include <stdarg.h>

#include "format.h"
#include "power.h"
#include "serial.h"
#include "spinlock.h"

/*
 * Holders print one line, so the lock is never held for long; the bound only
 * matters if a CPU died holding it. Then printing unlocked beats printing
 * nothing.
 */
#define CONSOLE_LOCK_SPINS (1ull << 26)
#define PANIC_LOCK_SPINS (1ull << 20)

static struct spinlock console_lock;

static void write_line(char *line, size_t length, uint64_t lock_spins, bool keep_locked)
{
    if (length >= CONSOLE_LINE_MAX) {
        /* Truncated: still end the line, so the next one starts cleanly. */
        length = CONSOLE_LINE_MAX - 1;
        line[length - 1] = '\n';
    }
    bool locked = spin_lock_bounded(&console_lock, lock_spins);
    serial_write(line, length);
    if (locked && !keep_locked)
        spin_unlock(&console_lock);
}

void kprintf(const char *fmt, ...)
{
    char line[CONSOLE_LINE_MAX];
    va_list args;

    va_start(args, fmt);
    size_t length = format_v(line, sizeof(line), fmt, args);
    va_end(args);
    write_line(line, length, CONSOLE_LOCK_SPINS, false);
}

void console_print_last(const char *fmt, ...)
{
    char line[CONSOLE_LINE_MAX];
    va_list args;

    va_start(args, fmt);
    size_t length = format_v(line, sizeof(line), fmt, args);
    va_end(args);
    write_line(line, length, CONSOLE_LOCK_SPINS, true);
}

_Noreturn void panic(const char *fmt, ...)
{
    char line[CONSOLE_LINE_MAX];
    size_t prefix = format(line, sizeof(line), "minikernel: panic: ");
    va_list args;

    va_start(args, fmt);
    size_t length = prefix + format_v(line + prefix, sizeof(line) - prefix, fmt, args);
    va_end(args);
    if (length < CONSOLE_LINE_MAX - 1) {
        line[length++] = '\n';
        line[length] = '\0';
    }
    write_line(line, length, PANIC_LOCK_SPINS, true);
    power_off(false);
}
