/* TSC calibration against a reference counter, and TSC-to-nanosecond scaling. */
#include "clock.h"

#include <stdbool.h>

#include "console.h"
#include "cpu.h"
#include "refclock.h"

#define CALIBRATION_ROUNDS 3
#define CALIBRATION_MS 20
/* Reads per sample: the tightest TSC bracket wins. */
#define SAMPLE_TRIES 5
/* A stuck reference counter must not hang the boot: give up after ~2^34 TSC cycles. */
#define CALIBRATION_TSC_BOUND (1ull << 34)
#define SCALE_SHIFT 32
#define CPUID_1_ECX_HYPERVISOR (1u << 31)

__extension__ typedef unsigned __int128 u128;

static uint64_t tsc_hz;
static uint64_t tsc_origin;
static uint64_t ns_per_tsc_scaled; /* nanoseconds per TSC cycle, times 2^SCALE_SHIFT */

struct sample {
    uint64_t tsc;
    uint64_t ref;
};

/*
 * One reference reading paired with the TSC. The reading is bracketed by two
 * TSC reads and the narrowest of a few brackets is kept, so a slow I/O access
 * or a vCPU preempted at the wrong moment does not skew the pair.
 */
static struct sample take_sample(const struct refclock *ref)
{
    struct sample best = { 0, 0 };
    uint64_t best_window = UINT64_MAX;

    for (int i = 0; i < SAMPLE_TRIES; i++) {
        uint64_t before = rdtsc();
        uint64_t value = ref->read();
        uint64_t after = rdtsc();
        if (after - before < best_window) {
            best_window = after - before;
            best.tsc = before + (after - before) / 2;
            best.ref = value;
        }
    }
    return best;
}

/* TSC cycles per second over one window of `ticks` reference ticks; 0 on failure. */
static uint64_t measure_once(const struct refclock *ref, uint64_t ticks)
{
    struct sample start = take_sample(ref);
    uint64_t elapsed = 0;
    uint64_t previous = start.ref;

    /* Sum the increments: each is below one wrap, so the total is wrap-proof. */
    while (elapsed < ticks) {
        if (rdtsc() - start.tsc > CALIBRATION_TSC_BOUND)
            return 0;
        uint64_t now = ref->read();
        elapsed += (now - previous) & ref->mask;
        previous = now;
        cpu_pause();
    }
    struct sample end = take_sample(ref);
    elapsed += (end.ref - previous) & ref->mask;

    uint64_t cycles = end.tsc - start.tsc;
    /* cycles * hz / elapsed, without a 128-bit division. */
    return cycles / elapsed * ref->hz + (cycles % elapsed) * ref->hz / elapsed;
}

static uint64_t median3(uint64_t a, uint64_t b, uint64_t c)
{
    if ((a <= b && b <= c) || (c <= b && b <= a))
        return b;
    if ((b <= a && a <= c) || (c <= a && a <= b))
        return a;
    return c;
}

static bool calibrate(const struct refclock *ref)
{
    uint64_t results[CALIBRATION_ROUNDS];
    uint64_t ticks = ref->hz * CALIBRATION_MS / 1000;

    for (int round = 0; round < CALIBRATION_ROUNDS; round++) {
        results[round] = measure_once(ref, ticks);
        if (results[round] == 0)
            return false;
    }
    tsc_hz = median3(results[0], results[1], results[2]);
    ns_per_tsc_scaled = (1000000000ull << SCALE_SHIFT) / tsc_hz;
    tsc_origin = rdtsc();
    kprintf("minikernel: clock: TSC %llu.%03llu MHz against the %s (%s); "
            "rounds %llu %llu %llu kHz\n",
            (unsigned long long)(tsc_hz / 1000000), (unsigned long long)(tsc_hz / 1000 % 1000),
            ref->name, ref->detail, (unsigned long long)(results[0] / 1000),
            (unsigned long long)(results[1] / 1000), (unsigned long long)(results[2] / 1000));
    return true;
}

static bool try_reference(bool (*probe)(struct refclock *), const char *what)
{
    struct refclock ref;
    if (!probe(&ref)) {
        kprintf("minikernel: clock: no usable %s\n", what);
        return false;
    }
    if (!calibrate(&ref)) {
        kprintf("minikernel: clock: the %s does not count\n", ref.name);
        return false;
    }
    return true;
}

static void use_stated_hz(uint64_t hz, const char *source)
{
    tsc_hz = hz;
    ns_per_tsc_scaled = (1000000000ull << SCALE_SHIFT) / tsc_hz;
    tsc_origin = rdtsc();
    kprintf("minikernel: clock: TSC %llu.%03llu MHz as stated by %s\n",
            (unsigned long long)(tsc_hz / 1000000), (unsigned long long)(tsc_hz / 1000 % 1000),
            source);
}

/*
 * The TSC's rate as the CPU or the hypervisor states it, for machines with
 * no counter to calibrate against (hardware-reduced ACPI has no PM timer and
 * need not have an HPET). Leaf 0x15 is exact when it names the crystal; a
 * hypervisor's leaf 0x40000010 is what it programmed; leaf 0x16 is only the
 * nominal base frequency, which the TSC merely approximates, so it comes last.
 */
static bool try_stated(void)
{
    uint32_t max_leaf = cpuid(0, 0).eax;
    if (max_leaf >= 0x15u) {
        struct cpuid_regs r = cpuid(0x15u, 0);
        if (r.eax && r.ebx && r.ecx) {
            use_stated_hz((uint64_t)r.ecx * r.ebx / r.eax, "CPUID 0x15 (crystal times ratio)");
            return true;
        }
    }
    if (cpuid(1, 0).ecx & CPUID_1_ECX_HYPERVISOR) {
        uint32_t max_hypervisor_leaf = cpuid(0x40000000u, 0).eax;
        if (max_hypervisor_leaf >= 0x40000010u && max_hypervisor_leaf < 0x50000000u) {
            uint32_t khz = cpuid(0x40000010u, 0).eax;
            if (khz) {
                use_stated_hz((uint64_t)khz * 1000, "the hypervisor (CPUID 0x40000010)");
                return true;
            }
        }
    }
    if (max_leaf >= 0x16u) {
        uint32_t mhz = cpuid(0x16u, 0).eax & 0xFFFFu;
        if (mhz) {
            use_stated_hz((uint64_t)mhz * 1000000, "CPUID 0x16 (base frequency)");
            return true;
        }
    }
    kprintf("minikernel: clock: neither the CPU nor a hypervisor states the TSC's rate\n");
    return false;
}

void clock_init(enum clock_choice choice)
{
    bool ok;
    if (choice == CLOCK_CHOICE_HPET)
        ok = try_reference(hpet_probe, "HPET");
    else if (choice == CLOCK_CHOICE_PMTIMER)
        ok = try_reference(pmtimer_probe, "ACPI PM timer");
    else if (choice == CLOCK_CHOICE_CPUID)
        ok = try_stated();
    else if (choice == CLOCK_CHOICE_PIT)
        ok = try_reference(pit_probe, "PIT");
    else
        ok = try_reference(pmtimer_probe, "ACPI PM timer") || try_reference(hpet_probe, "HPET") ||
             try_stated() || try_reference(pit_probe, "PIT");
    if (!ok)
        panic("no reference counter to calibrate the TSC against, and no stated TSC rate");

    struct cpuid_regs max_extended = cpuid(0x80000000u, 0);
    bool invariant = max_extended.eax >= 0x80000007u && (cpuid(0x80000007u, 0).edx & (1u << 8));
    if (!invariant)
        kprintf("minikernel: clock: the CPU does not report an invariant TSC "
                "(QEMU's CPU models often do not)\n");
}

uint64_t clock_now_ns(void)
{
    if (tsc_hz == 0)
        return 0;
    uint64_t cycles = rdtsc() - tsc_origin;
    /* A CPU whose TSC lags the BSP's by a few cycles must not see time run backwards past 0. */
    if ((int64_t)cycles < 0)
        return 0;
    return (uint64_t)(((u128)cycles * ns_per_tsc_scaled) >> SCALE_SHIFT);
}

void clock_delay_ns(uint64_t ns)
{
    uint64_t start = clock_now_ns();
    while (clock_now_ns() - start < ns)
        cpu_pause();
}

uint64_t clock_tsc_hz(void)
{
    return tsc_hz;
}
