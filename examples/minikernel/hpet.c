/* The HPET main counter (IA-PC HPET specification 1.0a, 2.3). */
#include "refclock.h"

#include "acpi.h"
#include "format.h"
#include "paging.h"

#define HPET_TABLE_ADDRESS_SPACE 40  /* Generic Address Structure of the registers */
#define HPET_TABLE_ADDRESS 44
#define GAS_SPACE_SYSTEM_MEMORY 0

#define HPET_CAPABILITIES 0x000
#define HPET_CONFIGURATION 0x010
#define HPET_MAIN_COUNTER 0x0F0
#define HPET_REGISTERS_SIZE 0x400

#define CAP_COUNTER_64BIT (1ull << 13)
#define CONFIG_ENABLE (1ull << 0)
/* The specification caps the period at 100 ns, i.e. at least 10 MHz. */
#define PERIOD_FS_MAX 100000000ull
#define FEMTOSECONDS_PER_SECOND 1000000000000000ull

static volatile uint64_t *registers;

static uint64_t hpet_read(void)
{
    return registers[HPET_MAIN_COUNTER / 8];
}

bool hpet_probe(struct refclock *out)
{
    const struct acpi_header *table = acpi_find_table("HPET");
    if (!table || table->length < HPET_TABLE_ADDRESS + 8 ||
        acpi_read8(table, HPET_TABLE_ADDRESS_SPACE) != GAS_SPACE_SYSTEM_MEMORY)
        return false;
    uint64_t phys = acpi_read64(table, HPET_TABLE_ADDRESS);
    registers = paging_map_mmio(phys, HPET_REGISTERS_SIZE);
    if (!registers)
        return false;

    uint64_t capabilities = registers[HPET_CAPABILITIES / 8];
    uint64_t period_fs = capabilities >> 32;
    if (period_fs == 0 || period_fs > PERIOD_FS_MAX)
        return false;
    /* Firmware may leave the counter stopped; starting it disturbs nothing else. */
    uint64_t config = registers[HPET_CONFIGURATION / 8];
    if (!(config & CONFIG_ENABLE))
        registers[HPET_CONFIGURATION / 8] = config | CONFIG_ENABLE;

    bool wide = (capabilities & CAP_COUNTER_64BIT) != 0;
    out->name = "HPET";
    out->hz = FEMTOSECONDS_PER_SECOND / period_fs;
    out->mask = wide ? UINT64_MAX : 0xFFFFFFFFull;
    out->read = hpet_read;
    format(out->detail, sizeof(out->detail), "%s, at 0x%llx", wide ? "64-bit" : "32-bit",
           (unsigned long long)phys);
    return true;
}
