/* A 16550 UART on COM1, polled. */
#include "serial.h"

#include <stdint.h>

#include "cpu.h"

#define COM1 0x3F8
#define REG_DATA 0            /* DLAB=0: transmit holding register */
#define REG_INTERRUPT_ENABLE 1
#define REG_DIVISOR_LOW 0     /* DLAB=1 */
#define REG_DIVISOR_HIGH 1    /* DLAB=1 */
#define REG_FIFO_CONTROL 2
#define REG_LINE_CONTROL 3
#define REG_MODEM_CONTROL 4
#define REG_LINE_STATUS 5

#define LINE_DLAB 0x80
#define LINE_8N1 0x03
#define FIFO_ENABLE_AND_CLEAR 0x07
#define MODEM_DTR_RTS 0x03    /* OUT2 stays off: the UART raises no IRQ */
#define STATUS_TRANSMIT_EMPTY 0x20

/* A real UART at 115200 baud drains a byte in ~87 us; this bound is far above that. */
#define TRANSMIT_POLL_LIMIT 1000000u

void serial_init(void)
{
    outb(COM1 + REG_INTERRUPT_ENABLE, 0x00);
    outb(COM1 + REG_LINE_CONTROL, LINE_DLAB);
    outb(COM1 + REG_DIVISOR_LOW, 1);   /* 115200 / 1 */
    outb(COM1 + REG_DIVISOR_HIGH, 0);
    outb(COM1 + REG_LINE_CONTROL, LINE_8N1);
    outb(COM1 + REG_FIFO_CONTROL, FIFO_ENABLE_AND_CLEAR);
    outb(COM1 + REG_MODEM_CONTROL, MODEM_DTR_RTS);
}

static void put_byte(char c)
{
    /* Bounded: a missing or stuck UART costs output, never a hang. */
    for (uint32_t i = 0; i < TRANSMIT_POLL_LIMIT; i++) {
        if (inb(COM1 + REG_LINE_STATUS) & STATUS_TRANSMIT_EMPTY)
            break;
        cpu_pause();
    }
    outb(COM1 + REG_DATA, (uint8_t)c);
}

void serial_write(const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n')
            put_byte('\r');
        put_byte(text[i]);
    }
}
