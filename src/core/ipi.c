/* SPDX-License-Identifier: MIT */
/*
 * Sending one IPI: always to one named destination (never a shorthand), with
 * every wait on the ICR bounded. Every send error is read back from ESR,
 * except for the bring-up's SIPIs, which cannot raise one that their INIT
 * did not already report (smpboot_sipi_send()).
 */
#include "session.h"
#include "../arch/arch.h"

/* ESR bits that blame our send: checksum, accept, illegal vector, illegal register. */
#define ESR_SEND_ERRORS 0xA5u

bool smpboot_apic_id_reachable(const struct smpboot_session *sb, uint32_t apic_id)
{
    if (sb->config.apic_mode == SMPBOOT_APIC_X2APIC)
        return apic_id != 0xFFFFFFFFu;
    /* xAPIC: 8-bit destination field, and 0xFF is the broadcast address. */
    return apic_id < 0xFFu;
}

static enum smpboot_status icr_idle(const struct smpboot_session *sb)
{
    /* x2APIC has no delivery-status bit: a WRMSR to the ICR is the send. */
    if (sb->config.apic_mode == SMPBOOT_APIC_X2APIC)
        return SMPBOOT_OK;
    /* Idle at the first look (the usual case): no clock reading, which costs the host time. */
    if (!(sb->host.apic.read(sb->host.apic.ctx, SMPBOOT_APIC_REG_ICR_LOW) & SMPBOOT_ICR_DELIVERY_PENDING))
        return SMPBOOT_OK;
    struct smpboot_watch watch = {0, 0};
    uint64_t now;
    if (!smpboot_watch_read(sb, &watch, &now))
        return SMPBOOT_ERR_CLOCK_STUCK;
    uint64_t deadline = smpboot_deadline(now, sb->config.icr_timeout_ns);
    for (;;) {
        uint32_t low = sb->host.apic.read(sb->host.apic.ctx, SMPBOOT_APIC_REG_ICR_LOW);
        if (!(low & SMPBOOT_ICR_DELIVERY_PENDING))
            return SMPBOOT_OK;
        if (!smpboot_watch_read(sb, &watch, &now))
            return SMPBOOT_ERR_CLOCK_STUCK;
        if (now >= deadline)
            return SMPBOOT_ERR_IPI_BUSY;
        smpboot_relax(sb);
    }
}

/*
 * ESR clear (when the send is checked) and ICR write with interrupts off: an
 * interrupt handler's own IPI between ICR_HIGH and ICR_LOW would send ours
 * to its destination, and one between the clear and the write would leave
 * its errors for us to read. The clear also drops whatever an unchecked SIPI
 * may have raised before, so no send is blamed for another's error.
 */
static void write_icr(const struct smpboot_session *sb, uint32_t apic_id, uint32_t icr_low,
                      bool clear_esr)
{
    const struct smpboot_apic_ops *apic = &sb->host.apic;
    uint64_t saved = smpboot_arch_irq_save();
    if (clear_esr)
        apic->write(apic->ctx, SMPBOOT_APIC_REG_ESR, 0);
    if (sb->config.apic_mode == SMPBOOT_APIC_X2APIC) {
        /* WRMSR is not serializing: the target must see the slot and page first. */
        smpboot_arch_store_fence();
        apic->write_icr(apic->ctx, ((uint64_t)apic_id << 32) | icr_low);
    } else if (apic->write_icr) {
        apic->write_icr(apic->ctx, ((uint64_t)apic_id << 32) | icr_low);
    } else {
        apic->write(apic->ctx, SMPBOOT_APIC_REG_ICR_HIGH, apic_id << 24);
        apic->write(apic->ctx, SMPBOOT_APIC_REG_ICR_LOW, icr_low);
    }
    smpboot_arch_irq_restore(saved);
}

enum smpboot_status smpboot_ipi_send(const struct smpboot_session *sb, uint32_t apic_id, uint32_t icr_low,
                                     uint32_t *esr)
{
    const struct smpboot_apic_ops *apic = &sb->host.apic;
    if (esr)
        *esr = 0;
    if (!smpboot_apic_id_reachable(sb, apic_id))
        return SMPBOOT_ERR_UNREACHABLE;
    enum smpboot_status status = icr_idle(sb);
    if (status != SMPBOOT_OK)
        return status;
    write_icr(sb, apic_id, icr_low, true);
    status = icr_idle(sb);
    if (status != SMPBOOT_OK)
        return status;

    /*
     * ESR latches on write: write, then read. In x2APIC mode the send has no
     * completion to wait for, but the only send errors left there (illegal
     * vector, SDM vol. 3 11.5.3; the accept errors are P6/Pentium only) are
     * raised by the ICR write itself, so this read sees them.
     */
    apic->write(apic->ctx, SMPBOOT_APIC_REG_ESR, 0);
    uint32_t errors = apic->read(apic->ctx, SMPBOOT_APIC_REG_ESR) & ESR_SEND_ERRORS;
    if (errors) {
        if (esr)
            *esr = errors;
        return SMPBOOT_ERR_IPI_ERROR;
    }
    return SMPBOOT_OK;
}

/*
 * A SIPI is the idle check and the ICR write: in xAPIC mode an ICR read (when
 * idle) and ICR_HIGH, ICR_LOW; in x2APIC mode one WRMSR. Under a hypervisor
 * each access is an exit, and the bring-up sends one or two per AP.
 *
 * No ESR access. Besides illegal vector, ESR's send errors belong to the
 * serial APIC bus of P6-family and Pentium processors (SDM vol. 3, 11.5.3;
 * reserved on later ones), and Bochs emulates them: the one a bring-up meets
 * is the accept error, no APIC took the message because none has that ID.
 * The INIT to the same destination goes first with the full check and fails
 * that AP there, so no SIPI is ever sent to it. Illegal vector (0-15) is
 * about interrupt vectors: a STARTUP IPI's vector field is the page it starts
 * at (11.6.1; the MP spec's 000VV000h), and INIT's is 00H in the SDM's own
 * encoding, so neither raises it.
 *
 * No wait for the ICR to go idle afterwards either: every send, by any
 * sender, waits for idle before it writes, and the spacing and the timeline
 * count from the write.
 */
enum smpboot_status smpboot_sipi_send(const struct smpboot_session *sb, uint32_t apic_id, uint8_t vector)
{
    if (!smpboot_apic_id_reachable(sb, apic_id))
        return SMPBOOT_ERR_UNREACHABLE;
    enum smpboot_status status = icr_idle(sb);
    if (status != SMPBOOT_OK)
        return status;
    write_icr(sb, apic_id, SMPBOOT_ICR_STARTUP | SMPBOOT_ICR_LEVEL_ASSERT | vector, false);
    return SMPBOOT_OK;
}
