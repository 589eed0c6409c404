/* SPDX-License-Identifier: MIT */
/*
 * Sense-reversing barrier. The generation counter is the "sense": waiters
 * spin until it moves past the value they arrived in, so a fast participant
 * that comes straight back for the next round cannot be confused with a slow
 * one still leaving the previous round.
 */
#include "smpboot/barrier.h"

#include "waiter.h"

enum smpboot_status smpboot_barrier_init(struct smpboot_barrier *barrier, uint32_t participants,
                                         uint32_t *arrival_storage,
                                         const struct smpboot_waiter *waiter)
{
    if (!barrier || participants == 0 || !arrival_storage || !waiter)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (!waiter->now_ns)
        return SMPBOOT_ERR_MISSING_CALLBACK;

    /* Generation 0 is current, so 0 ("arrived in generation -1") means not yet. */
    for (uint32_t i = 0; i < participants; i++)
        __atomic_store_n(&arrival_storage[i], 0, __ATOMIC_RELAXED);
    barrier->participants = participants;
    barrier->arrived = arrival_storage;
    barrier->waiter = *waiter;
    __atomic_store_n(&barrier->remaining, participants, __ATOMIC_RELAXED);
    /* Publishes everything above to whoever is handed the barrier afterwards. */
    __atomic_store_n(&barrier->generation, 0, __ATOMIC_RELEASE);
    return SMPBOOT_OK;
}

static bool smpboot_barrier_usable(const struct smpboot_barrier *barrier)
{
    return barrier && barrier->participants != 0 && barrier->arrived;
}

enum smpboot_status smpboot_barrier_wait(struct smpboot_barrier *barrier, uint32_t self,
                                         uint64_t timeout_ns)
{
    if (!smpboot_barrier_usable(barrier) || self >= barrier->participants)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (!barrier->waiter.now_ns)
        return SMPBOOT_ERR_MISSING_CALLBACK;

    /*
     * Acquire pairs with the release that opened this round, so the reset of
     * `remaining` below is visible before we count ourselves in.
     */
    uint32_t generation = __atomic_load_n(&barrier->generation, __ATOMIC_ACQUIRE);
    uint32_t round_mark = generation + 1;

    /* Only `self` writes its own entry, so a plain check-then-store is race-free. */
    if (__atomic_load_n(&barrier->arrived[self], __ATOMIC_RELAXED) == round_mark)
        return SMPBOOT_ERR_BAD_STATE;
    __atomic_store_n(&barrier->arrived[self], round_mark, __ATOMIC_RELEASE);

    /* acq_rel: the last arriver must see every earlier arriver's writes. */
    if (__atomic_sub_fetch(&barrier->remaining, 1, __ATOMIC_ACQ_REL) == 0) {
        /*
         * Nobody can touch `remaining` again until the generation moves, so
         * a relaxed reset is enough; the release store below publishes it
         * together with everything written before the barrier.
         */
        __atomic_store_n(&barrier->remaining, barrier->participants, __ATOMIC_RELAXED);
        __atomic_store_n(&barrier->generation, round_mark, __ATOMIC_RELEASE);
        return SMPBOOT_OK;
    }

    const struct smpboot_waiter *waiter = &barrier->waiter;
    struct smpboot_wait_clock clock = smpboot_wait_clock_start(waiter, timeout_ns);

    for (;;) {
        if (__atomic_load_n(&barrier->generation, __ATOMIC_ACQUIRE) != generation)
            return SMPBOOT_OK;
        if (smpboot_wait_clock_expired(waiter, &clock))
            return SMPBOOT_ERR_TIMEOUT;
        smpboot_arch_relax(waiter->relax, waiter->ctx);
    }
}

uint32_t smpboot_barrier_missing(const struct smpboot_barrier *barrier, uint32_t *out,
                                 uint32_t capacity)
{
    if (!smpboot_barrier_usable(barrier))
        return 0;
    if (!out)
        capacity = 0;

    uint32_t round_mark = __atomic_load_n(&barrier->generation, __ATOMIC_ACQUIRE) + 1;
    uint32_t missing = 0;

    for (uint32_t i = 0; i < barrier->participants; i++) {
        if (__atomic_load_n(&barrier->arrived[i], __ATOMIC_ACQUIRE) == round_mark)
            continue;
        if (missing < capacity)
            out[missing] = i;
        missing++;
    }
    return missing;
}
