/*
 * Taking an online AP back to wait-for-SIPI. INIT is the only way to get a
 * CPU out of the kernel's hands for certain; after it the stack is free.
 */
#include "core/session.h"

enum smpboot_status smpboot_offline(struct smpboot *sb, uint32_t index)
{
    if (!sb)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (sb->phase != SMPBOOT_PHASE_FINISHED)
        return SMPBOOT_ERR_BAD_STATE;
    if (smpboot_self_apic_id(sb) != sb->bsp_apic_id)
        return SMPBOOT_ERR_NOT_BSP;
    if (index == 0 || index >= sb->cpu_count)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    struct smpboot_cpu *cpu = &sb->cpus[index];
    if (__atomic_load_n(&cpu->result, __ATOMIC_ACQUIRE) != SMPBOOT_CPU_ONLINE)
        return SMPBOOT_ERR_INVALID_ARGUMENT;

    enum smpboot_status status =
        smpboot_ipi_send(sb, cpu->apic_id, SMPBOOT_ICR_INIT | SMPBOOT_ICR_LEVEL_ASSERT, NULL);
    if (status != SMPBOOT_OK) {
        smpboot_logf(sb, SMPBOOT_LOG_ERROR, "APIC %u: INIT failed (%s); it stays online",
                     cpu->apic_id, smpboot_status_str(status));
        return status;
    }
    smpboot_stacks_free(sb, cpu);
    cpu->progress = SMPBOOT_PROGRESS_NONE;
    __atomic_store_n(&cpu->result, SMPBOOT_CPU_OFFLINE, __ATOMIC_RELEASE);
    return SMPBOOT_OK;
}
