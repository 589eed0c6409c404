/*
 * A test-and-set spinlock for short critical sections (one console line).
 * Waiters spin on a plain load with PAUSE, so they neither hammer the cache
 * line with atomic writes nor, under QEMU's TCG, monopolise the host thread
 * as tightly as a bare loop would.
 */
#ifndef MK_SPINLOCK_H
#define MK_SPINLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

struct spinlock {
    uint32_t locked;
};

static inline bool spin_try_lock(struct spinlock *lock)
{
    return __atomic_exchange_n(&lock->locked, 1u, __ATOMIC_ACQUIRE) == 0;
}

/*
 * Acquire within max_spins PAUSE steps. false means the holder never let go
 * (it crashed or stopped while printing); the caller decides what to do.
 */
static inline bool spin_lock_bounded(struct spinlock *lock, uint64_t max_spins)
{
    for (uint64_t spins = 0; spins < max_spins; spins++) {
        if (__atomic_load_n(&lock->locked, __ATOMIC_RELAXED) == 0 && spin_try_lock(lock))
            return true;
        cpu_pause();
    }
    return false;
}

static inline void spin_unlock(struct spinlock *lock)
{
    __atomic_store_n(&lock->locked, 0u, __ATOMIC_RELEASE);
}

#endif /* MK_SPINLOCK_H */
