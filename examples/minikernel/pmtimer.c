/* The ACPI power-management timer, from the FADT (ACPI 6.5, 5.2.9). */
#include "refclock.h"

#include "acpi.h"
#include "cpu.h"
#include "format.h"

#define PM_TIMER_HZ 3579545u

#define FADT_PM_TMR_BLK 76      /* u32: I/O port (ACPI 1.0 field) */
#define FADT_PM_TMR_LEN 91      /* u8: 4 when the timer exists */
#define FADT_FLAGS 112          /* u32 */
#define FADT_X_PM_TMR_BLK 208   /* 12-byte Generic Address Structure (ACPI 2.0+) */
#define FADT_X_PM_TMR_BLK_END 220
#define FADT_FLAG_TMR_VAL_EXT (1u << 8) /* the counter is 32 bits wide, not 24 */

#define GAS_SPACE_ID 0          /* u8 offsets within a Generic Address Structure */
#define GAS_ADDRESS 4
#define GAS_SPACE_SYSTEM_IO 1

static uint16_t timer_port;

static uint64_t pmtimer_read(void)
{
    return inl(timer_port);
}

bool pmtimer_probe(struct refclock *out)
{
    const struct acpi_header *fadt = acpi_find_table("FACP");
    if (!fadt || fadt->length <= FADT_FLAGS + 3)
        return false;

    uint64_t port = 0;
    /* Prefer the 64-bit field when it is there and names an I/O port. */
    if (fadt->length >= FADT_X_PM_TMR_BLK_END &&
        acpi_read8(fadt, FADT_X_PM_TMR_BLK + GAS_SPACE_ID) == GAS_SPACE_SYSTEM_IO)
        port = acpi_read64(fadt, FADT_X_PM_TMR_BLK + GAS_ADDRESS);
    if (port == 0 && acpi_read8(fadt, FADT_PM_TMR_LEN) == 4)
        port = acpi_read32(fadt, FADT_PM_TMR_BLK);
    if (port == 0 || port > 0xFFFF)
        return false; /* hardware-reduced ACPI, or a timer we cannot reach by port */

    timer_port = (uint16_t)port;
    bool wide = (acpi_read32(fadt, FADT_FLAGS) & FADT_FLAG_TMR_VAL_EXT) != 0;
    out->name = "ACPI PM timer";
    out->hz = PM_TIMER_HZ;
    out->mask = wide ? 0xFFFFFFFFull : 0xFFFFFFull;
    out->read = pmtimer_read;
    format(out->detail, sizeof(out->detail), "%s, port 0x%x", wide ? "32-bit" : "24-bit",
           (unsigned)timer_port);
    return true;
}
