/* IPIs a kernel needs once its CPUs run. Destinations come from the table: never a shorthand. */
#include "core/session.h"

static bool is_online(const struct smpboot_cpu *cpu)
{
    enum smpboot_cpu_result result = __atomic_load_n(&cpu->result, __ATOMIC_ACQUIRE);
    return result == SMPBOOT_CPU_ONLINE || result == SMPBOOT_CPU_BSP;
}

static bool session_live(const struct smpboot *sb)
{
    return sb->phase == SMPBOOT_PHASE_STARTED || sb->phase == SMPBOOT_PHASE_FINISHED;
}

enum smpboot_status smpboot_send_ipi(struct smpboot *sb, uint32_t index, uint8_t vector)
{
    if (!sb || !session_live(sb) || index >= sb->cpu_count || vector < 32)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (!is_online(&sb->cpus[index]))
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    return smpboot_ipi_send(sb, sb->cpus[index].apic_id,
                            SMPBOOT_ICR_FIXED | SMPBOOT_ICR_LEVEL_ASSERT | vector, NULL);
}

enum smpboot_status smpboot_nmi_others(struct smpboot *sb)
{
    if (!sb || !session_live(sb))
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    uint32_t self = smpboot_self_apic_id(sb);
    enum smpboot_status first_error = SMPBOOT_OK;
    for (uint32_t i = 0; i < sb->cpu_count; i++) {
        const struct smpboot_cpu *cpu = &sb->cpus[i];
        if (cpu->apic_id == self || !is_online(cpu))
            continue;
        enum smpboot_status status =
            smpboot_ipi_send(sb, cpu->apic_id, SMPBOOT_ICR_NMI | SMPBOOT_ICR_LEVEL_ASSERT, NULL);
        if (status != SMPBOOT_OK && first_error == SMPBOOT_OK)
            first_error = status;
    }
    return first_error;
}
