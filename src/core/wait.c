/* SPDX-License-Identifier: MIT */
/*
 * Every library wait ends on the host clock, and no wait trusts the clock
 * blindly: one that does not move (a tick counter read with interrupts off)
 * ends the wait with an error after a bounded number of reads.
 */
#include "session.h"

bool smpboot_watch_read(const struct smpboot_session *sb, struct smpboot_watch *watch, uint64_t *now)
{
    uint64_t t = smpboot_now(sb);
    if (t != watch->last || watch->unchanged == 0) {
        watch->last = t;
        watch->unchanged = 1;
    } else if (++watch->unchanged >= SMPBOOT_CLOCK_STALL_POLLS) {
        *now = t;
        return false;
    }
    *now = t;
    return true;
}

enum smpboot_status smpboot_wait_until(const struct smpboot_session *sb, uint64_t until)
{
    struct smpboot_watch watch = {0, 0};
    for (;;) {
        uint64_t now;
        if (!smpboot_watch_read(sb, &watch, &now)) {
            smpboot_logf(sb, SMPBOOT_LOG_ERROR,
                         "host clock stopped at %lu ns: now_ns must advance with interrupts off",
                         (unsigned long)now);
            return SMPBOOT_ERR_CLOCK_STUCK;
        }
        if (now >= until)
            return SMPBOOT_OK;
        smpboot_relax(sb);
    }
}
