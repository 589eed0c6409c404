/*
 * mb2kernel: the console is COM1, polled, 115200 8N1, with a small printf.
 *
 * Only the BSP prints in normal operation; an AP prints only when it panics,
 * so a lock with a bounded wait is enough to keep lines whole without risking
 * a hang behind a CPU that died holding it.
 */
#include "kernel.h"

#define COM1 0x3F8u
#define UART_DATA 0
#define UART_INTERRUPT_ENABLE 1
#define UART_FIFO_CONTROL 2
#define UART_LINE_CONTROL 3
#define UART_MODEM_CONTROL 4
#define UART_LINE_STATUS 5
#define UART_LINE_STATUS_THR_EMPTY 0x20u
#define UART_DLAB 0x80u
#define UART_DIVISOR_115200 1u

/* Iterations of PAUSE before a transmitter that never empties is ignored. */
#define UART_SPIN_LIMIT 100000u
#define CONSOLE_LOCK_SPIN_LIMIT 10000000u

static uint32_t console_lock;

void console_init(void)
{
    outb(COM1 + UART_INTERRUPT_ENABLE, 0);
    outb(COM1 + UART_LINE_CONTROL, UART_DLAB);
    outb(COM1 + UART_DATA, UART_DIVISOR_115200 & 0xFF);
    outb(COM1 + UART_INTERRUPT_ENABLE, UART_DIVISOR_115200 >> 8);
    outb(COM1 + UART_LINE_CONTROL, 0x03);    /* 8 bits, no parity, 1 stop bit */
    outb(COM1 + UART_FIFO_CONTROL, 0xC7);    /* FIFO on, cleared, 14-byte threshold */
    outb(COM1 + UART_MODEM_CONTROL, 0x03);   /* DTR, RTS */
}

static void uart_put(char c)
{
    for (uint32_t spins = 0; spins < UART_SPIN_LIMIT; spins++) {
        if (inb(COM1 + UART_LINE_STATUS) & UART_LINE_STATUS_THR_EMPTY)
            break;
        cpu_relax();
    }
    outb(COM1 + UART_DATA, (uint8_t)c);
}

static void put_char(char c)
{
    if (c == '\n')
        uart_put('\r');
    uart_put(c);
}

static void put_padding(char pad, int count)
{
    while (count-- > 0)
        put_char(pad);
}

static void put_unsigned(uint64_t value, unsigned base, int width, char pad)
{
    char digits[24];
    int n = 0;
    do {
        unsigned digit = (unsigned)(value % base);
        digits[n++] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
        value /= base;
    } while (value != 0);
    put_padding(pad, width - n);
    while (n > 0)
        put_char(digits[--n]);
}

static void format(const char *fmt, va_list args)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put_char(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0;
        int precision = -1;
        if (*fmt == '#') {
            put_char('0');
            put_char('x');
            fmt++;
        }
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        if (*fmt == '.') {
            fmt++;
            precision = 0;
            while (*fmt >= '0' && *fmt <= '9')
                precision = precision * 10 + (*fmt++ - '0');
        }
        int longs = 0;
        while (*fmt == 'l' || *fmt == 'z') {
            longs++;
            fmt++;
        }
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(args, const char *);
            if (!s)
                s = "(null)";
            int length = 0;
            while (s[length] && (precision < 0 || length < precision))
                length++;
            put_padding(' ', width - length);
            for (int i = 0; i < length; i++)
                put_char(s[i]);
            break;
        }
        case 'c':
            put_char((char)va_arg(args, int));
            break;
        case 'd': {
            int64_t value = longs ? va_arg(args, int64_t) : va_arg(args, int);
            if (value < 0) {
                put_char('-');
                put_unsigned((uint64_t)0 - (uint64_t)value, 10, width - 1, pad);
            } else {
                put_unsigned((uint64_t)value, 10, width, pad);
            }
            break;
        }
        case 'u':
        case 'x': {
            uint64_t value = longs ? va_arg(args, uint64_t) : va_arg(args, unsigned);
            put_unsigned(value, *fmt == 'u' ? 10 : 16, width, pad);
            break;
        }
        case '%':
            put_char('%');
            break;
        case '\0':
            return;
        default:
            put_char('%');
            put_char(*fmt);
            break;
        }
    }
}

void kvprintf(const char *fmt, va_list args)
{
    bool locked = false;
    for (uint32_t spins = 0; spins < CONSOLE_LOCK_SPIN_LIMIT; spins++) {
        if (!__atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE)) {
            locked = true;
            break;
        }
        cpu_relax();
    }
    format(fmt, args);
    if (locked)
        __atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE);
}

void kprintf(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    kvprintf(fmt, args);
    va_end(args);
}
