/* Remap both 8259s to VECTOR_PIC_FIRST and mask them (the classic ICW sequence). */
#include "pic.h"

#include "cpu.h"
#include "vectors.h"

#define PIC1_COMMAND 0x20
#define PIC1_DATA 0x21
#define PIC2_COMMAND 0xA0
#define PIC2_DATA 0xA1

#define ICW1_INIT_WITH_ICW4 0x11
#define ICW3_PRIMARY_HAS_SECONDARY_ON_IRQ2 0x04
#define ICW3_SECONDARY_ID 0x02
#define ICW4_8086_MODE 0x01
#define MASK_ALL 0xFF

/* An I/O write to an unused port: gives a slow real 8259 time between commands. */
static void io_wait(void)
{
    outb(0x80, 0);
}

void pic_disable(void)
{
    outb(PIC1_COMMAND, ICW1_INIT_WITH_ICW4);
    io_wait();
    outb(PIC2_COMMAND, ICW1_INIT_WITH_ICW4);
    io_wait();
    outb(PIC1_DATA, VECTOR_PIC_FIRST);
    io_wait();
    outb(PIC2_DATA, VECTOR_PIC_FIRST + 8);
    io_wait();
    outb(PIC1_DATA, ICW3_PRIMARY_HAS_SECONDARY_ON_IRQ2);
    io_wait();
    outb(PIC2_DATA, ICW3_SECONDARY_ID);
    io_wait();
    outb(PIC1_DATA, ICW4_8086_MODE);
    io_wait();
    outb(PIC2_DATA, ICW4_8086_MODE);
    io_wait();
    outb(PIC1_DATA, MASK_ALL);
    outb(PIC2_DATA, MASK_ALL);
}
