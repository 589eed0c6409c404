/* SPDX-License-Identifier: MIT */
/*
 * Every frame the library borrows goes through here, so that a failed
 * allocation is named in the log: which allocation, for whom, and what was
 * asked (a kernel's allocator rarely says why it refused).
 */
#include "session.h"

enum smpboot_status smpboot_frames_alloc(const struct smpboot_session *sb, const char *what,
                                         const struct smpboot_cpu *owner, size_t pages,
                                         uint64_t limit, uint64_t align, uint64_t *phys)
{
    enum smpboot_status status =
        sb->host.alloc_frames(sb->host.ctx, pages, limit, align, phys);
    if (status == SMPBOOT_OK)
        return SMPBOOT_OK;
    if (owner)
        smpboot_logf(sb, SMPBOOT_LOG_ERROR,
                     "start: alloc_frames failed for the %s of APIC %u: %lu pages below %lx, "
                     "aligned %lx: %s",
                     what, owner->apic_id, (unsigned long)pages, (unsigned long)limit,
                     (unsigned long)align, smpboot_status_str(status));
    else
        smpboot_logf(sb, SMPBOOT_LOG_ERROR,
                     "start: alloc_frames failed for the %s: %lu pages below %lx, aligned %lx: %s",
                     what, (unsigned long)pages, (unsigned long)limit, (unsigned long)align,
                     smpboot_status_str(status));
    return status;
}
