/*
 * Sending one IPI: always to one named destination (never a shorthand), with
 * every wait on the ICR bounded and every send error read back from ESR.
 */
#include "core/session.h"

/* ESR bits that blame our send: checksum, accept, illegal vector, illegal register. */
#define ESR_SEND_ERRORS 0xA5u

bool smpboot_apic_id_reachable(const struct smpboot *sb, uint32_t apic_id)
{
    if (sb->config.apic_mode == SMPBOOT_APIC_X2APIC)
        return apic_id != 0xFFFFFFFFu;
    /* xAPIC: 8-bit destination field, and 0xFF is the broadcast address. */
    return apic_id < 0xFFu;
}

static bool icr_idle(const struct smpboot *sb)
{
    /* x2APIC has no delivery-status bit: a WRMSR to the ICR is the send. */
    if (sb->config.apic_mode == SMPBOOT_APIC_X2APIC)
        return true;
    uint64_t deadline = sb->host.now_ns(sb->host.ctx) + sb->config.icr_timeout_ns;
    for (;;) {
        uint32_t low = sb->host.apic.read(sb->host.apic.ctx, SMPBOOT_APIC_REG_ICR_LOW);
        if (!(low & SMPBOOT_ICR_DELIVERY_PENDING))
            return true;
        if (sb->host.now_ns(sb->host.ctx) >= deadline)
            return false;
        smpboot_relax(sb);
    }
}

enum smpboot_status smpboot_ipi_send(const struct smpboot *sb, uint32_t apic_id, uint32_t icr_low,
                                     uint32_t *esr)
{
    const struct smpboot_apic_ops *apic = &sb->host.apic;
    if (esr)
        *esr = 0;
    if (!smpboot_apic_id_reachable(sb, apic_id))
        return SMPBOOT_ERR_UNREACHABLE;
    if (!icr_idle(sb))
        return SMPBOOT_ERR_IPI_BUSY;

    apic->write(apic->ctx, SMPBOOT_APIC_REG_ESR, 0);
    uint64_t icr = ((uint64_t)apic_id << 32) | icr_low;
    if (apic->write_icr) {
        apic->write_icr(apic->ctx, icr);
    } else {
        apic->write(apic->ctx, SMPBOOT_APIC_REG_ICR_HIGH, apic_id << 24);
        apic->write(apic->ctx, SMPBOOT_APIC_REG_ICR_LOW, icr_low);
    }
    if (!icr_idle(sb))
        return SMPBOOT_ERR_IPI_BUSY;

    /* ESR latches on write: write, then read. */
    apic->write(apic->ctx, SMPBOOT_APIC_REG_ESR, 0);
    uint32_t errors = apic->read(apic->ctx, SMPBOOT_APIC_REG_ESR) & ESR_SEND_ERRORS;
    if (errors) {
        if (esr)
            *esr = errors;
        return SMPBOOT_ERR_IPI_ERROR;
    }
    return SMPBOOT_OK;
}
