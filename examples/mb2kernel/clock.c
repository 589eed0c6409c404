/*
 * mb2kernel: the clock libsmpboot needs (host.now_ns): libsmpboot's
 * ready-made TSC clock (smpboot/clock.h), which measures the TSC against a
 * reference and converts it to nanoseconds on any CPU. The library reads
 * no ACPI, so finding the reference is the kernel's part: the ACPI PM
 * timer (the FADT), else the HPET (its ACPI table), else the PIT, which
 * needs no ACPI at all.
 *
 * clock=pmtimer|hpet|pit on the command line takes that reference only,
 * with no fallback (a boot that names one tests that one); clock=auto, the
 * default, takes the first that works.
 */
#include "kernel.h"

#include <smpboot/clock.h>

#define FADT_PM_TIMER_BLOCK 76u
#define FADT_FLAGS 112u
#define FADT_FLAG_TIMER_32BIT (1u << 8) /* TMR_VAL_EXT */
#define FADT_X_PM_TIMER_BLOCK 208u      /* a Generic Address Structure (12 bytes) */
#define GAS_SIZE 12u
#define GAS_ADDRESS 4u
#define GAS_SPACE_IO 1u

#define HPET_TABLE_BASE 40u /* a Generic Address Structure */
#define HPET_REGISTER_BLOCK_SIZE 0x400u

enum reference { REFERENCE_PM_TIMER, REFERENCE_HPET, REFERENCE_PIT, REFERENCE_COUNT };

static const char *const reference_option[REFERENCE_COUNT] = {"pmtimer", "hpet", "pit"};
static const char *const reference_name[REFERENCE_COUNT] = {"ACPI PM timer", "HPET", "PIT"};

/* host.clock_ctx points here for as long as the kernel runs. */
static struct smpboot_tsc_clock tsc_clock;

/* The PM timer's I/O port and width from the FADT; false when it has none. */
static bool find_pm_timer(uint16_t *port_out, bool *wide_out)
{
    const struct acpi_sdt_header *fadt = acpi_find("FACP");
    if (!fadt)
        return false;
    const uint8_t *bytes = (const uint8_t *)fadt;
    uint64_t port = 0;
    /* ACPI 2.0+ prefers X_PM_TMR_BLK, but only an I/O-space one is a port. */
    if (fadt->length >= FADT_X_PM_TIMER_BLOCK + GAS_SIZE &&
        bytes[FADT_X_PM_TIMER_BLOCK] == GAS_SPACE_IO)
        memcpy(&port, bytes + FADT_X_PM_TIMER_BLOCK + GAS_ADDRESS, sizeof(port));
    if (port == 0 && fadt->length >= FADT_PM_TIMER_BLOCK + 4) {
        uint32_t block;
        memcpy(&block, bytes + FADT_PM_TIMER_BLOCK, sizeof(block));
        port = block;
    }
    if (port == 0 || port > 0xFFFF)
        return false;
    uint32_t flags = 0;
    if (fadt->length >= FADT_FLAGS + 4)
        memcpy(&flags, bytes + FADT_FLAGS, sizeof(flags));
    *port_out = (uint16_t)port;
    *wide_out = (flags & FADT_FLAG_TIMER_32BIT) != 0;
    return true;
}

/* The HPET's registers from its ACPI table; NULL when there is none we can reach. */
static volatile void *find_hpet(void)
{
    const struct acpi_sdt_header *table = acpi_find("HPET");
    if (!table || table->length < HPET_TABLE_BASE + GAS_SIZE)
        return NULL;
    uint64_t base;
    memcpy(&base, (const uint8_t *)table + HPET_TABLE_BASE + GAS_ADDRESS, sizeof(base));
    /* Registers must be uncached, and boot.S maps only [3 GiB, 4 GiB) so. */
    if (base < UNCACHED_WINDOW_BASE || base + HPET_REGISTER_BLOCK_SIZE > IDENTITY_MAP_LIMIT) {
        kprintf("mb2kernel: clock: HPET registers at %#lx are outside the uncached window\n",
                base);
        return NULL;
    }
    return (volatile void *)(uintptr_t)base;
}

/* Calibrate against `reference`; false (and why, logged) when it is absent or fails. */
static bool calibrate(enum reference reference)
{
    enum smpboot_status status;
    switch (reference) {
    case REFERENCE_PM_TIMER: {
        uint16_t port;
        bool wide;
        if (!find_pm_timer(&port, &wide)) {
            kprintf("mb2kernel: clock: the FADT names no PM timer port\n");
            return false;
        }
        kprintf("mb2kernel: clock: ACPI PM timer at port %#x, %u bits\n", port, wide ? 32u : 24u);
        status = smpboot_tsc_clock_calibrate_pm_timer(&tsc_clock, port, wide);
        break;
    }
    case REFERENCE_HPET: {
        volatile void *registers = find_hpet();
        if (!registers) {
            kprintf("mb2kernel: clock: no usable ACPI HPET table\n");
            return false;
        }
        kprintf("mb2kernel: clock: HPET at %#lx\n", (uint64_t)(uintptr_t)registers);
        status = smpboot_tsc_clock_calibrate_hpet(&tsc_clock, registers);
        break;
    }
    default:
        status = smpboot_tsc_clock_calibrate_pit(&tsc_clock);
        break;
    }
    if (status != SMPBOOT_OK) {
        kprintf("mb2kernel: clock: the %s failed: %s\n", reference_name[reference],
                smpboot_status_str(status));
        return false;
    }
    return true;
}

void clock_init(struct smpboot_host *host, const char *choice)
{
    enum reference first = REFERENCE_PM_TIMER;
    enum reference last = REFERENCE_PIT;
    if (choice && !string_equal(choice, "auto")) {
        enum reference forced = REFERENCE_COUNT;
        for (enum reference r = 0; r < REFERENCE_COUNT; r++) {
            if (string_equal(choice, reference_option[r]))
                forced = r;
        }
        if (forced == REFERENCE_COUNT)
            panic("clock: unknown clock=%s (auto, pmtimer, hpet or pit)", choice);
        first = last = forced;
    }

    enum reference used = REFERENCE_COUNT;
    for (enum reference r = first; r <= last && used == REFERENCE_COUNT; r++) {
        if (calibrate(r))
            used = r;
    }
    if (used == REFERENCE_COUNT)
        panic("clock: no reference to measure the TSC against%s",
              first == last ? " (clock= named one only)" : "");

    uint64_t hz = smpboot_tsc_clock_hz(&tsc_clock);
    kprintf("mb2kernel: clock: TSC %lu kHz against the %s\n", hz / 1000, reference_name[used]);

    /* The library's clock assumes one TSC rate for every CPU and state. */
    uint32_t a, b, c, d;
    cpuid(0x80000000u, 0, &a, &b, &c, &d);
    bool invariant = false;
    if (a >= 0x80000007u) {
        cpuid(0x80000007u, 0, &a, &b, &c, &d);
        invariant = (d >> 8) & 1;
    }
    if (!invariant)
        kprintf("mb2kernel: clock: the CPU does not report an invariant TSC\n");

    smpboot_tsc_clock_use(host, &tsc_clock);
}
