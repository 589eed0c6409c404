/*
 * The 8254 PIT as the TSC's last-resort reference: every PC-compatible
 * machine (QEMU's microvm too) has one, but under TCG on a busy host its
 * count is the least reliable of the references, hence last.
 */
#include "refclock.h"

#include "cpu.h"
#include "format.h"

#define PIT_HZ 1193182u
#define PIT_CHANNEL0 0x40
#define PIT_COMMAND 0x43
/* Channel 0, low then high byte, mode 2 (rate generator), binary. */
#define PIT_CHANNEL0_RATE_GENERATOR 0x34
#define PIT_CHANNEL0_LATCH 0x00

/* The count runs down from 65536; negated, it is an up-counter that wraps at 16 bits. */
static uint64_t pit_read(void)
{
    outb(PIT_COMMAND, PIT_CHANNEL0_LATCH);
    uint8_t low = inb(PIT_CHANNEL0);
    uint8_t high = inb(PIT_CHANNEL0);
    return (0x10000u - (((uint32_t)high << 8) | low)) & 0xFFFFu;
}

bool pit_probe(struct refclock *out)
{
    /*
     * Channel 0, not 2: its gate is always on, while channel 2's goes
     * through port 0x61, which a minimal machine may not model. IRQ 0 is
     * masked at the PIC (pic.c), so the counting disturbs nothing.
     */
    outb(PIT_COMMAND, PIT_CHANNEL0_RATE_GENERATOR);
    outb(PIT_CHANNEL0, 0);
    outb(PIT_CHANNEL0, 0);
    /* An absent PIT reads as 0xFF bytes forever: see that it moves at all. */
    uint64_t first = pit_read();
    bool moved = false;
    for (int i = 0; i < 100000 && !moved; i++)
        moved = pit_read() != first;
    if (!moved)
        return false;
    out->name = "PIT";
    out->hz = PIT_HZ;
    out->mask = 0xFFFFu;
    out->read = pit_read;
    format(out->detail, sizeof(out->detail), "channel 0, port 0x%x", PIT_CHANNEL0);
    return true;
}
