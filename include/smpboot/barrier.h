/* SPDX-License-Identifier: MIT */
/*
 * libsmpboot: barriers for the kernel's own use once its CPUs run.
 *
 * Both primitives are plain memory plus __atomic builtins: usable from any
 * CPU, with no interrupts, no allocation and no scheduler. Every wait is
 * bounded by a timeout on the clock in struct smpboot_waiter.
 */
#ifndef SMPBOOT_BARRIER_H
#define SMPBOOT_BARRIER_H

#include <stdbool.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a waiting CPU tells time and idles. */
struct smpboot_waiter {
    void *ctx;
    /* Required: monotonic nanoseconds (same contract as smpboot_host.now_ns). */
    uint64_t (*now_ns)(void *ctx);
    /*
     * Optional: one idle step; NULL means the `pause` instruction. Called
     * concurrently from every waiting CPU, so it must be reentrant. A host
     * with more threads than cores should yield here.
     */
    void (*relax)(void *ctx);
};

/*
 * Pass as timeout_ns to wait without a deadline (now_ns is then never read).
 * Any other value is measured as elapsed time since the call began, so no
 * value overflows; 0 means "check once".
 */
#define SMPBOOT_WAIT_FOREVER UINT64_MAX

/*
 * Reusable sense-reversing barrier for a fixed set of participants numbered
 * 0..participants-1. The kernel owns the struct and an array of
 * `participants` uint32_t (the arrival record, used to name who is missing).
 */
struct smpboot_barrier {
    uint32_t participants;
    uint32_t remaining;   /* arrivals still expected in the current round */
    uint32_t generation;  /* completed rounds; its flip releases the waiters */
    uint32_t *arrived;    /* arrived[i]: generation participant i last arrived in, plus one */
    struct smpboot_waiter waiter;
};

/*
 * participants >= 1; arrival_storage holds `participants` entries; waiter.now_ns
 * required. SMPBOOT_ERR_INVALID_ARGUMENT / SMPBOOT_ERR_MISSING_CALLBACK otherwise.
 * The waiter is copied. Initialise before any participant uses the barrier,
 * and never while one is waiting in it.
 */
enum smpboot_status smpboot_barrier_init(struct smpboot_barrier *barrier, uint32_t participants,
                                         uint32_t *arrival_storage,
                                         const struct smpboot_waiter *waiter);

/*
 * Participant `self` arrives and waits until all have arrived in this round.
 * SMPBOOT_OK when the round completed; SMPBOOT_ERR_TIMEOUT when timeout_ns
 * passed first: the arrival still counts, the round completes when the others
 * arrive, and smpboot_barrier_missing() names who had not. A participant
 * that arrives twice in one round gets SMPBOOT_ERR_BAD_STATE.
 *
 * So after a TIMEOUT, calling again returns SMPBOOT_ERR_BAD_STATE (and
 * changes nothing) until the round completes; once it has, the call is an
 * arrival in the next round. The last participant to arrive returns
 * SMPBOOT_OK at once, whatever the timeout.
 *
 * Ordering: everything a participant wrote before arriving is visible to
 * every participant that gets SMPBOOT_OK for that round (arrivals are
 * acq_rel, the round is released by a release store of `generation`, and
 * waiters acquire-load it). A participant that got SMPBOOT_ERR_TIMEOUT has
 * no such guarantee.
 *
 * SMPBOOT_ERR_INVALID_ARGUMENT: barrier NULL or zeroed (participants 0 or
 * arrived NULL), or self >= participants. SMPBOOT_ERR_MISSING_CALLBACK:
 * waiter.now_ns NULL.
 */
enum smpboot_status smpboot_barrier_wait(struct smpboot_barrier *barrier, uint32_t self,
                                         uint64_t timeout_ns);

/*
 * The participants that have not arrived in the current round, in ascending
 * order: up to `capacity` written to out; the return value is how many are
 * missing in all (it may exceed capacity). out may be NULL to only count.
 * Once a round completes the next one is current, so then everyone is
 * missing. A snapshot: exact only while nobody arrives concurrently.
 * Returns 0 for a NULL or zeroed barrier.
 */
uint32_t smpboot_barrier_missing(const struct smpboot_barrier *barrier, uint32_t *out,
                                 uint32_t capacity);

/* One-shot gate: closed until opened, then open for good. */
struct smpboot_gate {
    uint32_t open;
    struct smpboot_waiter waiter;
};

/*
 * Closes the gate and copies the waiter. SMPBOOT_ERR_INVALID_ARGUMENT if gate
 * or waiter is NULL, SMPBOOT_ERR_MISSING_CALLBACK if waiter.now_ns is NULL.
 */
enum smpboot_status smpboot_gate_init(struct smpboot_gate *gate,
                                      const struct smpboot_waiter *waiter);
/*
 * Open the gate (release ordering: what the opener wrote before is visible to
 * passers). Opening twice is harmless; a NULL gate is ignored.
 */
void smpboot_gate_open(struct smpboot_gate *gate);
/* Acquire ordering, like a successful wait; false for a NULL gate. */
bool smpboot_gate_is_open(const struct smpboot_gate *gate);
/*
 * SMPBOOT_OK once open (acquire ordering), SMPBOOT_ERR_TIMEOUT if timeout_ns
 * passed first. SMPBOOT_ERR_INVALID_ARGUMENT for a NULL gate,
 * SMPBOOT_ERR_MISSING_CALLBACK if its waiter has no now_ns (a zeroed gate).
 */
enum smpboot_status smpboot_gate_wait(struct smpboot_gate *gate, uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_BARRIER_H */
