/* SPDX-License-Identifier: MIT */
/*
 * The INIT IPI, for all three senders (start's retry, finish, offline): one
 * send path and one rule for when the INIT counts as landed. The send's
 * return says only that the ICR took it (xAPIC) or that the WRMSR ran
 * (x2APIC), not that the target has been reset.
 */
#include "session.h"

enum smpboot_status smpboot_init_send(const struct smpboot_session *sb, uint32_t apic_id, uint32_t *esr,
                                      uint64_t *sent_ns)
{
    enum smpboot_status status =
        smpboot_ipi_send(sb, apic_id, SMPBOOT_ICR_INIT | SMPBOOT_ICR_LEVEL_ASSERT, esr);
    if (sent_ns)
        *sent_ns = smpboot_now(sb);
    return status;
}

enum smpboot_status smpboot_init_settle(const struct smpboot_session *sb, uint64_t last_sent_ns)
{
    return smpboot_wait_until(sb, smpboot_deadline(last_sent_ns, SMPBOOT_INIT_SETTLE_NS));
}
