/*
 * Internals shared by the files of src/core: session phases, logging, the
 * slot table and the IPI layer. Not installed.
 */
#ifndef SMPBOOT_CORE_SESSION_H
#define SMPBOOT_CORE_SESSION_H

#include <smpboot/smpboot.h>

#include "core/slot.h"

enum smpboot_phase {
    SMPBOOT_PHASE_UNINITIALIZED = 0,
    SMPBOOT_PHASE_READY = 0x5B00,  /* init done; CPUs may be added */
    SMPBOOT_PHASE_STARTING,        /* inside smpboot_start() */
    SMPBOOT_PHASE_STARTED,         /* start returned; finish pending */
    SMPBOOT_PHASE_FINISHED,        /* everything borrowed is given back */
};

/* printf-like, for %s %u %x %lu %lx %% only; silent when host.log is NULL. */
void smpboot_logf(const struct smpboot *sb, enum smpboot_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* host.relax, or PAUSE. Runs on the BSP and on APs. */
void smpboot_relax(const struct smpboot *sb);

/* The calling CPU's APIC ID, read from its own local APIC. */
uint32_t smpboot_self_apic_id(const struct smpboot *sb);

static inline struct smpboot_slot *smpboot_slot_at(const struct smpboot *sb, uint32_t index)
{
    return (struct smpboot_slot *)sb->slots + index;
}

/* Slot table: one slot per CPU table entry, in frames below 4 GiB. */
enum smpboot_status smpboot_slots_create(struct smpboot *sb);
void smpboot_slots_destroy(struct smpboot *sb);

/* Per-AP stacks (and extra stacks) from the host's frames. */
enum smpboot_status smpboot_stacks_alloc(struct smpboot *sb, struct smpboot_cpu *cpu);
void smpboot_stacks_free(struct smpboot *sb, struct smpboot_cpu *cpu);

/* ICR low-word encodings (SDM vol. 3, 11.6.1). */
#define SMPBOOT_ICR_FIXED 0x000u
#define SMPBOOT_ICR_NMI 0x400u
#define SMPBOOT_ICR_INIT 0x500u
#define SMPBOOT_ICR_STARTUP 0x600u
#define SMPBOOT_ICR_DELIVERY_PENDING (1u << 12)
#define SMPBOOT_ICR_LEVEL_ASSERT (1u << 14)

/* True when `apic_id` can be named as a destination in the configured mode. */
bool smpboot_apic_id_reachable(const struct smpboot *sb, uint32_t apic_id);

/*
 * Send one IPI to one APIC ID, no shorthand: wait (bounded) for the ICR to be
 * idle, clear ESR, write, wait again, read ESR. SMPBOOT_OK, IPI_BUSY, or
 * IPI_ERROR with the ESR's send-error bits in *esr (may be NULL).
 */
enum smpboot_status smpboot_ipi_send(const struct smpboot *sb, uint32_t apic_id, uint32_t icr_low,
                                     uint32_t *esr);

#endif /* SMPBOOT_CORE_SESSION_H */
