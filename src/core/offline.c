/* SPDX-License-Identifier: MIT */
/*
 * Taking an online AP back to wait-for-SIPI. INIT is the only way to get a
 * CPU out of the kernel's hands for certain; once it has landed (the settle
 * rule of init_ipi.c) the stacks are free.
 */
#include "session.h"

enum smpboot_status smpboot_offline(struct smpboot *handle, uint32_t index)
{
    struct smpboot_session *sb = smpboot_session_of(handle);
    if (!sb)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (smpboot_phase(sb) != SMPBOOT_PHASE_FINISHED)
        return SMPBOOT_ERR_BAD_STATE;
    if (smpboot_self_apic_id(sb) != sb->bsp_apic_id)
        return SMPBOOT_ERR_NOT_BSP;
    if (index == 0 || index >= sb->cpu_count)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    struct smpboot_cpu *cpu = &sb->cpus[index];
    if (!smpboot_cpu_runs_kernel(cpu))
        return SMPBOOT_ERR_INVALID_ARGUMENT;

    uint64_t sent;
    enum smpboot_status status = smpboot_init_send(sb, cpu->apic_id, NULL, &sent);
    if (status != SMPBOOT_OK) {
        smpboot_logf(sb, SMPBOOT_LOG_ERROR, "APIC %u: INIT failed (%s); it stays online",
                     cpu->apic_id, smpboot_status_str(status));
        return status;
    }
    /* An NMI it takes before the INIT lands still runs on its stacks. */
    status = smpboot_init_settle(sb, sent);
    if (status != SMPBOOT_OK) {
        cpu->not_reset = true;
        smpboot_logf(sb, SMPBOOT_LOG_ERROR, "APIC %u: INIT sent but not timed (%s); its stacks are kept",
                     cpu->apic_id, smpboot_status_str(status));
        return status;
    }
    smpboot_stacks_free(sb, cpu);
    cpu->progress = SMPBOOT_PROGRESS_NONE;
    __atomic_store_n(&cpu->result, SMPBOOT_CPU_OFFLINE, __ATOMIC_RELEASE);
    return SMPBOOT_OK;
}
