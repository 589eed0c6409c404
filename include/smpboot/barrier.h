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
    /* Optional: one idle step; NULL means the `pause` instruction. */
    void (*relax)(void *ctx);
};

/* Pass as timeout_ns to wait without a deadline. */
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
 */
enum smpboot_status smpboot_barrier_wait(struct smpboot_barrier *barrier, uint32_t self,
                                         uint64_t timeout_ns);

/*
 * The participants that have not arrived in the current round, in ascending
 * order: up to `capacity` written to out; the return value is how many are
 * missing in all (it may exceed capacity).
 */
uint32_t smpboot_barrier_missing(const struct smpboot_barrier *barrier, uint32_t *out,
                                 uint32_t capacity);

/* One-shot gate: closed until opened, then open for good. */
struct smpboot_gate {
    uint32_t open;
    struct smpboot_waiter waiter;
};

enum smpboot_status smpboot_gate_init(struct smpboot_gate *gate,
                                      const struct smpboot_waiter *waiter);
/* Open the gate (release ordering: what the opener wrote before is visible to passers). */
void smpboot_gate_open(struct smpboot_gate *gate);
bool smpboot_gate_is_open(const struct smpboot_gate *gate);
/* SMPBOOT_OK once open (acquire ordering), SMPBOOT_ERR_TIMEOUT if timeout_ns passed first. */
enum smpboot_status smpboot_gate_wait(struct smpboot_gate *gate, uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_BARRIER_H */
