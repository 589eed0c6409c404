/* SPDX-License-Identifier: MIT */
/*
 * The ready handshake. "Online" only says the AP is about to call the
 * entry; the entry says ready once it runs on the kernel's own GDT, IDT and
 * TSS, and from then on the kernel may treat it as any other CPU.
 */
#include "session.h"

void smpboot_ap_ready(struct smpboot_cpu *cpu)
{
    if (cpu)
        __atomic_store_n(&cpu->said_ready, 1u, __ATOMIC_RELEASE);
}

static bool said_ready(const struct smpboot_cpu *cpu)
{
    return __atomic_load_n(&cpu->said_ready, __ATOMIC_ACQUIRE) != 0;
}

/* The BSP records what it saw: it alone writes results and progress. */
static void note_ready(struct smpboot_session *sb, struct smpboot_cpu *cpu, uint64_t now)
{
    if (cpu->progress != SMPBOOT_PROGRESS_READY) {
        cpu->progress = SMPBOOT_PROGRESS_READY;
        cpu->timeline.ready = now > sb->start_ns ? now - sb->start_ns : 1;
    }
    __atomic_store_n(&cpu->result, SMPBOOT_CPU_ONLINE, __ATOMIC_RELEASE);
}

enum smpboot_status smpboot_ready_wait_range(struct smpboot_session *sb, uint32_t first, uint32_t end,
                                             uint64_t deadline)
{
    struct smpboot_watch watch = {0, 0};
    enum smpboot_status status = SMPBOOT_OK;
    for (;;) {
        uint64_t now;
        bool clock_moves = smpboot_watch_read(sb, &watch, &now);
        uint32_t waiting = 0;
        for (uint32_t i = first; i < end; i++) {
            struct smpboot_cpu *cpu = &sb->cpus[i];
            if (!smpboot_cpu_runs_kernel(cpu))
                continue;
            if (said_ready(cpu))
                note_ready(sb, cpu, now);
            else
                waiting++;
        }
        if (waiting == 0)
            return SMPBOOT_OK;
        if (!clock_moves) {
            status = SMPBOOT_ERR_CLOCK_STUCK;
            break;
        }
        if (now >= deadline)
            break;
        smpboot_relax(sb);
    }
    for (uint32_t i = first; i < end; i++) {
        struct smpboot_cpu *cpu = &sb->cpus[i];
        if (!smpboot_cpu_runs_kernel(cpu) || said_ready(cpu))
            continue;
        __atomic_store_n(&cpu->result, SMPBOOT_CPU_NOT_READY, __ATOMIC_RELEASE);
        smpboot_logf(sb, SMPBOOT_LOG_ERROR,
                     "APIC %u went online but its entry did not call smpboot_ap_ready() in time",
                     cpu->apic_id);
    }
    return status == SMPBOOT_OK ? SMPBOOT_ERR_PARTIAL : status;
}

enum smpboot_status smpboot_wait_ready(struct smpboot *handle)
{
    struct smpboot_session *sb = smpboot_session_of(handle);
    if (!sb)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    uint32_t phase = smpboot_phase(sb);
    if (phase != SMPBOOT_PHASE_STARTED && phase != SMPBOOT_PHASE_FINISHED)
        return SMPBOOT_ERR_BAD_STATE;
    if (sb->config.ready_timeout_ns == 0)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (smpboot_self_apic_id(sb) != sb->bsp_apic_id)
        return SMPBOOT_ERR_NOT_BSP;
    uint64_t now = smpboot_now(sb);
    return smpboot_ready_wait_range(sb, 1, sb->cpu_count,
                                    smpboot_deadline(now, sb->config.ready_timeout_ns));
}
