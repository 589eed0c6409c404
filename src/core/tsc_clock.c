/* SPDX-License-Identifier: MIT */
/*
 * The ready-made TSC clock's arithmetic (clock.h). The rate comes from one
 * measurement against a reference; the conversion is a 32.32 fixed-point
 * multiply, so now_ns is a TSC read, a subtraction and a multiply: nothing
 * an AP cannot do before its entry.
 */
#include "tsc_clock.h"

#include "../arch/arch.h"

#define NS_PER_S 1000000000ull

struct tsc_clock {
    uint64_t hz;
    uint64_t tsc_at_zero;  /* the TSC at calibration: now_ns counts from there */
    uint64_t ns_per_tick;  /* 32.32 fixed point */
};

_Static_assert(sizeof(struct tsc_clock) <= sizeof(struct smpboot_tsc_clock),
               "raise SMPBOOT_TSC_CLOCK_WORDS");
_Static_assert(_Alignof(struct tsc_clock) <= _Alignof(struct smpboot_tsc_clock),
               "struct smpboot_tsc_clock is not aligned enough");

static struct tsc_clock *state_of(struct smpboot_tsc_clock *clock)
{
    return (struct tsc_clock *)(void *)clock;
}

static const struct tsc_clock *const_state_of(const struct smpboot_tsc_clock *clock)
{
    return (const struct tsc_clock *)(const void *)clock;
}

/* Wait (bounded) until the reference moves; the value after the move in *value. */
static bool next_edge(const struct smpboot_clock_source *source, uint64_t mask, uint64_t from,
                      uint64_t *value)
{
    for (uint32_t reads = 0; reads < SMPBOOT_CLOCK_SOURCE_STALL_READS; reads++) {
        *value = source->read(source->ctx) & mask;
        if (*value != from)
            return true;
    }
    return false;
}

/* One round: TSC ticks per second over `window` ticks of the reference; 0 when either stands still. */
static uint64_t measure_round(const struct smpboot_clock_source *source, uint64_t mask,
                              uint64_t window, uint64_t *tsc_end)
{
    /* Start on an edge of the reference, so that no fraction of a tick is lost there. */
    uint64_t prev = source->read(source->ctx) & mask, now;
    if (!next_edge(source, mask, prev, &now))
        return 0;
    uint64_t tsc_start = source->read_tsc();
    uint64_t elapsed = 0;
    prev = now;
    while (elapsed < window) {
        /* Consecutive reads are far less than a wrap apart, so the masked difference is exact. */
        if (!next_edge(source, mask, prev, &now))
            return 0;
        elapsed += (now - prev) & mask;
        prev = now;
    }
    *tsc_end = source->read_tsc();
    if (*tsc_end <= tsc_start)
        return 0;
    /* ticks * hz / elapsed, halving ticks and elapsed alike while the product would not fit. */
    uint64_t ticks = *tsc_end - tsc_start, product;
    while (__builtin_mul_overflow(ticks, source->hz, &product)) {
        ticks >>= 1;
        elapsed >>= 1;
    }
    return elapsed ? product / elapsed : 0;
}

static uint64_t median_of_three(uint64_t a, uint64_t b, uint64_t c)
{
    if ((a <= b && b <= c) || (c <= b && b <= a))
        return b;
    if ((b <= a && a <= c) || (c <= a && a <= b))
        return a;
    return c;
}

enum smpboot_status smpboot_tsc_clock_measure(struct smpboot_tsc_clock *clock,
                                              const struct smpboot_clock_source *source)
{
    if (!clock || !source || !source->read || !source->read_tsc)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (source->bits < 8 || source->bits > 64 || source->hz < 1000 || source->hz > 10 * NS_PER_S)
        return SMPBOOT_ERR_UNSUPPORTED;
    uint64_t mask = source->bits == 64 ? UINT64_MAX : (1ull << source->bits) - 1;
    /*
     * Three rounds of 1/60 s and the median: one round stretched by an
     * SMI or a preempted vCPU does not skew the rate.
     */
    uint64_t rates[3], tsc_end = 0;
    for (int i = 0; i < 3; i++) {
        rates[i] = measure_round(source, mask, source->hz / 60, &tsc_end);
        if (rates[i] == 0)
            return SMPBOOT_ERR_CLOCK_STUCK;
    }
    uint64_t rate = median_of_three(rates[0], rates[1], rates[2]);
    if (rate < 1000 || rate > 100 * NS_PER_S)
        return SMPBOOT_ERR_UNSUPPORTED;
    struct tsc_clock *c = state_of(clock);
    c->hz = rate;
    c->ns_per_tick = (NS_PER_S << 32) / c->hz;
    c->tsc_at_zero = tsc_end;
    return SMPBOOT_OK;
}

uint64_t smpboot_tsc_clock_ticks_to_ns(const struct smpboot_tsc_clock *clock, uint64_t ticks)
{
    __extension__ unsigned __int128 ns =
        ((unsigned __int128)ticks * const_state_of(clock)->ns_per_tick) >> 32;
    return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

uint64_t smpboot_tsc_clock_hz(const struct smpboot_tsc_clock *clock)
{
    return clock ? const_state_of(clock)->hz : 0;
}

uint64_t smpboot_tsc_clock_now_ns(void *clock)
{
    const struct tsc_clock *c = clock;
    uint64_t tsc = smpboot_arch_read_tsc();
    /* Another CPU's TSC a few ticks behind the BSP's reads as 0, never as the far future. */
    return tsc > c->tsc_at_zero ? smpboot_tsc_clock_ticks_to_ns(clock, tsc - c->tsc_at_zero) : 0;
}

void smpboot_tsc_clock_use(struct smpboot_host *host, struct smpboot_tsc_clock *clock)
{
    if (!host || !clock)
        return;
    host->now_ns = smpboot_tsc_clock_now_ns;
    host->clock_ctx = clock;
}
