/* Leave QEMU through isa-debug-exit; without that device, halt. */
#include "power.h"

#include "cpu.h"
#include "layout.h"
#include "serial.h"

_Noreturn void power_off(bool success)
{
    outl(QEMU_DEBUG_EXIT_PORT, success ? QEMU_EXIT_SUCCESS : QEMU_EXIT_FAILURE);
    /*
     * Still running: no isa-debug-exit device (real hardware, or QEMU without
     * the -device option). Say so without the console lock, which the last
     * line may hold for good, and stop this CPU.
     */
    static const char message[] = "minikernel: no isa-debug-exit device at port 0xf4; halted\n";
    serial_write(message, sizeof(message) - 1);
    cpu_halt_forever();
}
