/*
 * smpboot_finish(): give back what bring-up borrowed. APs that did not come
 * online are sent INIT first: only then can no late AP touch the trampoline,
 * its slot or its stack, and only then are those freed.
 */
#include "core/session.h"
#include "trampoline/trampoline.h"

/* Reset an AP that did not come online, if it was ever kicked. */
static enum smpboot_status send_init(struct smpboot *sb, uint32_t i)
{
    struct smpboot_cpu *cpu = &sb->cpus[i];
    struct smpboot_slot *slot = smpboot_slot_at(sb, i);
    cpu->priv_unreset = false;
    if (__atomic_load_n(&slot->state, __ATOMIC_ACQUIRE) == SMPBOOT_SLOT_IDLE)
        return SMPBOOT_OK;
    enum smpboot_status status =
        smpboot_ipi_send(sb, cpu->apic_id, SMPBOOT_ICR_INIT | SMPBOOT_ICR_LEVEL_ASSERT, NULL);
    if (status != SMPBOOT_OK) {
        /* It may still run on that stack: leaking it is the safe choice. */
        cpu->priv_unreset = true;
        smpboot_logf(sb, SMPBOOT_LOG_ERROR, "APIC %u: INIT failed (%s); its stack is kept, not freed",
                     cpu->apic_id, smpboot_status_str(status));
        return status;
    }
    __atomic_store_n(&slot->state, SMPBOOT_SLOT_IDLE, __ATOMIC_RELEASE);
    return SMPBOOT_OK;
}

static void settle(const struct smpboot *sb)
{
    uint64_t until = sb->host.now_ns(sb->host.ctx) + SMPBOOT_SDM_SIPI_SPACING_NS;
    while (sb->host.now_ns(sb->host.ctx) < until)
        smpboot_relax(sb);
}

enum smpboot_status smpboot_finish(struct smpboot *sb)
{
    if (!sb)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (sb->phase == SMPBOOT_PHASE_FINISHED)
        return SMPBOOT_OK;
    if (sb->phase == SMPBOOT_PHASE_READY) {
        sb->phase = SMPBOOT_PHASE_FINISHED;  /* nothing was borrowed */
        return SMPBOOT_OK;
    }
    if (sb->phase != SMPBOOT_PHASE_STARTED)
        return SMPBOOT_ERR_BAD_STATE;
    if (smpboot_self_apic_id(sb) != sb->bsp_apic_id)
        return SMPBOOT_ERR_NOT_BSP;

    enum smpboot_status first_error = SMPBOOT_OK;
    bool any_reset = false;
    for (uint32_t i = 1; i < sb->cpu_count; i++) {
        if (__atomic_load_n(&sb->cpus[i].result, __ATOMIC_ACQUIRE) == SMPBOOT_CPU_ONLINE)
            continue;
        any_reset = true;
        enum smpboot_status status = send_init(sb, i);
        if (first_error == SMPBOOT_OK)
            first_error = status;
    }
    /* An INIT that left the ICR may still be on its way: let it land before freeing. */
    if (any_reset)
        settle(sb);
    for (uint32_t i = 1; i < sb->cpu_count; i++)
        if (sb->cpus[i].result != SMPBOOT_CPU_ONLINE && !sb->cpus[i].priv_unreset)
            smpboot_stacks_free(sb, &sb->cpus[i]);
    if (first_error != SMPBOOT_OK) {
        /*
         * An AP we could not reset may still run the trampoline or write its
         * slot: the page and the table stay borrowed (leaked) rather than be
         * handed back to the kernel under it.
         */
        smpboot_logf(sb, SMPBOOT_LOG_ERROR,
                     "finish: an AP could not be reset; the trampoline page and slot table "
                     "are kept, not freed");
        sb->phase = SMPBOOT_PHASE_FINISHED;
        return first_error;
    }
    smpboot_trampoline_remove(sb);
    smpboot_slots_destroy(sb);
    sb->phase = SMPBOOT_PHASE_FINISHED;
    return SMPBOOT_OK;
}
