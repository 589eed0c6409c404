/* SPDX-License-Identifier: MIT */
/*
 * The reference clocks of the ready-made TSC clock (clock.h): port I/O and
 * MMIO, so kernel build only. Each wraps its counter as a counting-up
 * source for smpboot_tsc_clock_measure().
 */
#include "../arch.h"
#include "../../core/tsc_clock.h"

#define PM_TIMER_HZ 3579545u
#define PIT_HZ 1193182u

#define HPET_CAPABILITIES 0x000u
#define HPET_CONFIG 0x010u
#define HPET_COUNTER 0x0F0u
#define HPET_CONFIG_ENABLE 0x1ull
#define HPET_CAP_64BIT (1ull << 13)
#define HPET_MAX_PERIOD_FS 100000000ull  /* the spec's bound: 100 ns */
#define FS_PER_S 1000000000000000ull

#define PIT_CHANNEL2 0x42u
#define PIT_COMMAND 0x43u
#define PIT_GATE_PORT 0x61u
#define PIT_GATE2 0x01u
#define PIT_SPEAKER 0x02u
#define PIT_CH2_MODE2_LOHI 0xB4u  /* channel 2, low then high byte, mode 2 (rate generator), binary */
#define PIT_CH2_LATCH 0x80u

static uint32_t in32(uint16_t port)
{
    uint32_t value;
    __asm__ volatile("inl %w1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static uint8_t in8(uint16_t port)
{
    uint8_t value;
    __asm__ volatile("inb %w1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static void out8(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %w1" : : "a"(value), "Nd"(port));
}

static uint64_t read_pm_timer(const void *ctx)
{
    return in32((uint16_t)(uintptr_t)ctx);
}

enum smpboot_status smpboot_tsc_clock_calibrate_pm_timer(struct smpboot_tsc_clock *clock,
                                                         uint16_t port, bool wide)
{
    if (port == 0)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    const struct smpboot_clock_source source = {
        .read = read_pm_timer,
        .ctx = (const void *)(uintptr_t)port,
        .bits = wide ? 32u : 24u,
        .hz = PM_TIMER_HZ,
        .read_tsc = smpboot_arch_read_tsc,
    };
    return smpboot_tsc_clock_measure(clock, &source);
}

static uint64_t hpet_read(volatile void *mmio, uint32_t reg)
{
    return *(volatile uint64_t *)(void *)((volatile uint8_t *)mmio + reg);
}

static uint64_t read_hpet_counter(const void *ctx)
{
    return hpet_read((volatile void *)(uintptr_t)ctx, HPET_COUNTER);
}

enum smpboot_status smpboot_tsc_clock_calibrate_hpet(struct smpboot_tsc_clock *clock,
                                                     volatile void *mmio)
{
    if (!mmio)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    uint64_t capabilities = hpet_read(mmio, HPET_CAPABILITIES);
    uint64_t period_fs = capabilities >> 32;
    if (period_fs == 0 || period_fs > HPET_MAX_PERIOD_FS)
        return SMPBOOT_ERR_UNSUPPORTED;  /* not an HPET: all ones or zero */
    volatile uint64_t *config = (volatile uint64_t *)(void *)((volatile uint8_t *)mmio + HPET_CONFIG);
    if (!(*config & HPET_CONFIG_ENABLE))
        *config |= HPET_CONFIG_ENABLE;
    const struct smpboot_clock_source source = {
        .read = read_hpet_counter,
        .ctx = (const void *)(uintptr_t)mmio,
        .bits = (capabilities & HPET_CAP_64BIT) ? 64u : 32u,
        .hz = FS_PER_S / period_fs,
        .read_tsc = smpboot_arch_read_tsc,
    };
    return smpboot_tsc_clock_measure(clock, &source);
}

/* Channel 2 counts down from 0xFFFF and reloads: its complement counts up, wrapping at 16 bits. */
static uint64_t read_pit_channel2(const void *ctx)
{
    (void)ctx;
    out8(PIT_COMMAND, PIT_CH2_LATCH);
    uint8_t low = in8(PIT_CHANNEL2);
    uint8_t high = in8(PIT_CHANNEL2);
    return (uint16_t)~((uint16_t)high << 8 | low);
}

enum smpboot_status smpboot_tsc_clock_calibrate_pit(struct smpboot_tsc_clock *clock)
{
    if (!clock)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    out8(PIT_GATE_PORT, (uint8_t)((in8(PIT_GATE_PORT) & ~PIT_SPEAKER) | PIT_GATE2));
    out8(PIT_COMMAND, PIT_CH2_MODE2_LOHI);
    out8(PIT_CHANNEL2, 0xFF);
    out8(PIT_CHANNEL2, 0xFF);
    const struct smpboot_clock_source source = {
        .read = read_pit_channel2,
        .ctx = NULL,
        .bits = 16u,
        .hz = PIT_HZ,
        .read_tsc = smpboot_arch_read_tsc,
    };
    return smpboot_tsc_clock_measure(clock, &source);
}
