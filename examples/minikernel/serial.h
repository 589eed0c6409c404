/*
 * The serial console: COM1 (I/O port 0x3F8), polled, no interrupts. QEMU's
 * -serial stdio shows it on the terminal.
 */
#ifndef MK_SERIAL_H
#define MK_SERIAL_H

#include <stddef.h>

void serial_init(void);

/* Write n bytes; '\n' goes out as "\r\n" so a raw terminal shows lines. */
void serial_write(const char *text, size_t n);

#endif /* MK_SERIAL_H */
