/*
 * mb2kernel: the clock libsmpboot needs (host.now_ns): the TSC, scaled to
 * nanoseconds. APs read it too, so it has to be one clock for all CPUs;
 * the TSC is, on QEMU and on any CPU with an invariant TSC that firmware
 * synchronised.
 *
 * The TSC's rate is measured against a timer of known frequency, in the
 * order of preference: the ACPI PM timer (3.579545 MHz, from the FADT), the
 * HPET (its period from its capabilities register), the PIT (1.193182 MHz,
 * channel 2, the last resort: it needs no ACPI at all). Each calibration is
 * three 20 ms rounds; the median wins, so one preempted round (a busy host
 * under TCG) does not skew it.
 */
#include "kernel.h"

#define PM_TIMER_HZ 3579545ull
#define PIT_HZ 1193182ull

#define FADT_PM_TIMER_BLOCK 76u
#define FADT_FLAGS 112u
#define FADT_FLAG_TIMER_32BIT (1u << 8)
#define FADT_X_PM_TIMER_BLOCK 208u /* a Generic Address Structure (12 bytes) */
#define GAS_SPACE_IO 1u

#define HPET_TABLE_BASE 40u        /* a Generic Address Structure */
#define HPET_REG_CAPABILITIES 0x00u
#define HPET_REG_CONFIG 0x10u
#define HPET_REG_COUNTER 0xF0u
#define HPET_CONFIG_ENABLE 1u

#define ROUNDS 3
#define ROUND_DIVISOR 50u          /* 1/50 s: 20 ms */
/* Reads of a reference that does not move before it is declared broken. */
#define STUCK_READ_LIMIT 1000000u

struct reference {
    const char *name;
    uint64_t hz;
    uint64_t mask;
    uint32_t (*read)(void);
};

static uint16_t pm_timer_port;
static volatile uint8_t *hpet_registers;

static uint64_t tsc_hz;
static uint64_t tsc_base;
static uint64_t ns_per_tsc_32_32; /* nanoseconds per TSC cycle, 32.32 fixed point */

static uint32_t pm_timer_read(void)
{
    return inl(pm_timer_port);
}

static uint32_t hpet_read(void)
{
    return *(volatile uint32_t *)(hpet_registers + HPET_REG_COUNTER);
}

/* TSC cycles in one round of `ref`, or 0 when the reference does not move. */
static uint64_t measure_round(const struct reference *ref)
{
    uint64_t target = ref->hz / ROUND_DIVISOR;
    /* Start on a tick edge, so the round is not short by up to one tick. */
    uint32_t start = ref->read();
    uint32_t now = start;
    for (uint32_t reads = 0; now == start; reads++) {
        if (reads == STUCK_READ_LIMIT)
            return 0;
        now = ref->read();
    }
    uint64_t tsc_start = rdtsc();
    uint64_t elapsed = 0;
    uint32_t previous = now;
    uint32_t reads_since_change = 0;
    while (elapsed < target) {
        now = ref->read();
        if (now == previous) {
            if (++reads_since_change == STUCK_READ_LIMIT)
                return 0;
            continue;
        }
        reads_since_change = 0;
        /* Masked differences handle the 24- or 32-bit counter wrapping. */
        elapsed += (uint64_t)(now - previous) & ref->mask;
        previous = now;
    }
    uint64_t cycles = rdtsc() - tsc_start;
    /* 20 ms of a <= 10 GHz TSC times a <= 1 GHz reference fits in 64 bits. */
    return cycles * ref->hz / elapsed;
}

static uint64_t median_of_three(uint64_t a, uint64_t b, uint64_t c)
{
    if ((a <= b && b <= c) || (c <= b && b <= a))
        return b;
    if ((b <= a && a <= c) || (c <= a && a <= b))
        return a;
    return c;
}

static uint64_t calibrate(const struct reference *ref)
{
    uint64_t rounds[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        rounds[i] = measure_round(ref);
        if (rounds[i] == 0) {
            kprintf("mb2kernel: clock: the %s does not count; not using it\n", ref->name);
            return 0;
        }
    }
    uint64_t hz = median_of_three(rounds[0], rounds[1], rounds[2]);
    kprintf("mb2kernel: clock: TSC %lu kHz against the %s; rounds %lu %lu %lu kHz\n", hz / 1000,
            ref->name, rounds[0] / 1000, rounds[1] / 1000, rounds[2] / 1000);
    return hz;
}

static bool find_pm_timer(struct reference *ref)
{
    const struct acpi_sdt_header *fadt = acpi_find("FACP");
    if (!fadt)
        return false;
    const uint8_t *bytes = (const uint8_t *)fadt;
    uint32_t port = 0;
    if (fadt->length >= FADT_X_PM_TIMER_BLOCK + 12 && bytes[FADT_X_PM_TIMER_BLOCK] == GAS_SPACE_IO) {
        uint64_t address;
        memcpy(&address, bytes + FADT_X_PM_TIMER_BLOCK + 4, sizeof(address));
        if (address <= 0xFFFF)
            port = (uint32_t)address;
    }
    if (port == 0 && fadt->length >= FADT_PM_TIMER_BLOCK + 4)
        memcpy(&port, bytes + FADT_PM_TIMER_BLOCK, sizeof(port));
    if (port == 0 || port > 0xFFFF)
        return false;
    uint32_t flags = 0;
    if (fadt->length >= FADT_FLAGS + 4)
        memcpy(&flags, bytes + FADT_FLAGS, sizeof(flags));
    pm_timer_port = (uint16_t)port;
    ref->name = "ACPI PM timer";
    ref->hz = PM_TIMER_HZ;
    ref->mask = (flags & FADT_FLAG_TIMER_32BIT) ? 0xFFFFFFFFull : 0xFFFFFFull;
    ref->read = pm_timer_read;
    return true;
}

static bool find_hpet(struct reference *ref)
{
    const struct acpi_sdt_header *table = acpi_find("HPET");
    if (!table || table->length < HPET_TABLE_BASE + 12)
        return false;
    const uint8_t *bytes = (const uint8_t *)table;
    uint64_t base;
    memcpy(&base, bytes + HPET_TABLE_BASE + 4, sizeof(base));
    if (base < UNCACHED_WINDOW_BASE || base + 0x400 > IDENTITY_MAP_LIMIT)
        return false;
    hpet_registers = (volatile uint8_t *)(uintptr_t)base;
    uint64_t capabilities = *(volatile uint64_t *)(hpet_registers + HPET_REG_CAPABILITIES);
    uint64_t period_fs = capabilities >> 32;
    if (period_fs == 0 || period_fs > 100000000ull) /* the spec's bound: 100 ns */
        return false;
    volatile uint64_t *config = (volatile uint64_t *)(hpet_registers + HPET_REG_CONFIG);
    *config |= HPET_CONFIG_ENABLE;
    ref->name = "HPET";
    ref->hz = 1000000000000000ull / period_fs;
    ref->mask = 0xFFFFFFFFull;
    ref->read = hpet_read;
    return true;
}

/* PIT channel 2 as a one-shot: TSC cycles until its output goes high. */
static uint64_t pit_round(void)
{
    const uint16_t count = (uint16_t)(PIT_HZ / ROUND_DIVISOR);
    uint8_t gate = inb(0x61);
    outb(0x61, (uint8_t)((gate & ~0x02u) | 0x01u)); /* gate on, speaker off */
    outb(0x43, 0xB0);                               /* channel 2, lo/hi, mode 0 */
    outb(0x42, (uint8_t)(count & 0xFF));
    outb(0x42, (uint8_t)(count >> 8));
    uint64_t tsc_start = rdtsc();
    for (uint32_t reads = 0; !(inb(0x61) & 0x20); reads++) {
        if (reads == 10 * STUCK_READ_LIMIT)
            return 0;
    }
    uint64_t cycles = rdtsc() - tsc_start;
    outb(0x61, gate);
    return cycles * PIT_HZ / count;
}

static uint64_t calibrate_pit(void)
{
    uint64_t rounds[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        rounds[i] = pit_round();
        if (rounds[i] == 0) {
            kprintf("mb2kernel: clock: the PIT does not count\n");
            return 0;
        }
    }
    uint64_t hz = median_of_three(rounds[0], rounds[1], rounds[2]);
    kprintf("mb2kernel: clock: TSC %lu kHz against the PIT; rounds %lu %lu %lu kHz\n", hz / 1000,
            rounds[0] / 1000, rounds[1] / 1000, rounds[2] / 1000);
    return hz;
}

void clock_init(void)
{
    struct reference ref;
    if (find_pm_timer(&ref))
        tsc_hz = calibrate(&ref);
    if (tsc_hz == 0 && find_hpet(&ref))
        tsc_hz = calibrate(&ref);
    if (tsc_hz == 0)
        tsc_hz = calibrate_pit();
    if (tsc_hz == 0)
        panic("clock: no timer to measure the TSC against");

    uint32_t a, b, c, d;
    cpuid(0x80000000u, 0, &a, &b, &c, &d);
    bool invariant = false;
    if (a >= 0x80000007u) {
        cpuid(0x80000007u, 0, &a, &b, &c, &d);
        invariant = (d >> 8) & 1;
    }
    if (!invariant)
        kprintf("mb2kernel: clock: the CPU does not report an invariant TSC\n");

    /* 10^9 << 32 fits in 64 bits; any TSC above 1 GHz gives a multiplier below 2^32. */
    ns_per_tsc_32_32 = (1000000000ull << 32) / tsc_hz;
    tsc_base = rdtsc();
}

uint64_t clock_now_ns(void *ctx)
{
    (void)ctx;
    uint64_t cycles = rdtsc() - tsc_base;
    return (uint64_t)(((unsigned __int128)cycles * ns_per_tsc_32_32) >> 32);
}
