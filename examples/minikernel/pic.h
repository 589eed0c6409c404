/*
 * The legacy 8259 interrupt controllers. The kernel uses the local APIC
 * only, but the BIOS leaves the PICs delivering IRQ 0-7 on vectors 8-15,
 * where they would look like CPU exceptions. So: move them out of the way
 * and mask every line.
 */
#ifndef MK_PIC_H
#define MK_PIC_H

void pic_disable(void);

#endif /* MK_PIC_H */
