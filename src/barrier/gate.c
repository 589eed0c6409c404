/* SPDX-License-Identifier: MIT */
/* One-shot gate: a single flag that only ever goes from closed to open. */
#include "smpboot/barrier.h"

#include "waiter.h"

enum smpboot_status smpboot_gate_init(struct smpboot_gate *gate,
                                      const struct smpboot_waiter *waiter)
{
    if (!gate || !waiter)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (!waiter->now_ns)
        return SMPBOOT_ERR_MISSING_CALLBACK;

    gate->waiter = *waiter;
    /* Release so a CPU handed the gate afterwards also sees the waiter copy. */
    __atomic_store_n(&gate->open, 0, __ATOMIC_RELEASE);
    return SMPBOOT_OK;
}

void smpboot_gate_open(struct smpboot_gate *gate)
{
    if (gate)
        __atomic_store_n(&gate->open, 1, __ATOMIC_RELEASE);
}

bool smpboot_gate_is_open(const struct smpboot_gate *gate)
{
    return gate && __atomic_load_n(&gate->open, __ATOMIC_ACQUIRE) != 0;
}

enum smpboot_status smpboot_gate_wait(struct smpboot_gate *gate, uint64_t timeout_ns)
{
    if (!gate)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (!gate->waiter.now_ns)
        return SMPBOOT_ERR_MISSING_CALLBACK;

    const struct smpboot_waiter *waiter = &gate->waiter;
    struct smpboot_wait_clock clock = smpboot_wait_clock_start(waiter, timeout_ns);

    for (;;) {
        if (smpboot_gate_is_open(gate))
            return SMPBOOT_OK;
        if (smpboot_wait_clock_expired(waiter, &clock))
            return SMPBOOT_ERR_TIMEOUT;
        smpboot_arch_relax(waiter->relax, waiter->ctx);
    }
}
