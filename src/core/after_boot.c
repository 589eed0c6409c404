/* SPDX-License-Identifier: MIT */
/* IPIs a kernel needs once its CPUs run. Destinations come from the table: never a shorthand. */
#include "session.h"

/* Running: online, or not ready (an NMI is survived on the library's IDT). */
static bool takes_nmi(const struct smpboot_cpu *cpu)
{
    return smpboot_cpu_is_online(cpu) || smpboot_cpu_runs_kernel(cpu);
}

static bool session_live(const struct smpboot_session *sb)
{
    uint32_t phase = smpboot_phase(sb);
    return phase == SMPBOOT_PHASE_STARTED || phase == SMPBOOT_PHASE_FINISHED;
}

enum smpboot_status smpboot_send_ipi(struct smpboot *handle, uint32_t index, uint8_t vector)
{
    const struct smpboot_session *sb = smpboot_session_of(handle);
    if (!sb || !session_live(sb) || index >= sb->cpu_count || vector < 32)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (!smpboot_cpu_is_online(&sb->cpus[index]))
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    return smpboot_ipi_send(sb, sb->cpus[index].apic_id,
                            SMPBOOT_ICR_FIXED | SMPBOOT_ICR_LEVEL_ASSERT | vector, NULL);
}

enum smpboot_status smpboot_nmi_others(struct smpboot *handle)
{
    const struct smpboot_session *sb = smpboot_session_of(handle);
    if (!sb || !session_live(sb))
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    uint32_t self = smpboot_self_apic_id(sb);
    enum smpboot_status first_error = SMPBOOT_OK;
    for (uint32_t i = 0; i < sb->cpu_count; i++) {
        const struct smpboot_cpu *cpu = &sb->cpus[i];
        if (cpu->apic_id == self || !takes_nmi(cpu))
            continue;
        enum smpboot_status status =
            smpboot_ipi_send(sb, cpu->apic_id, SMPBOOT_ICR_NMI | SMPBOOT_ICR_LEVEL_ASSERT, NULL);
        if (status != SMPBOOT_OK && first_error == SMPBOOT_OK)
            first_error = status;
    }
    return first_error;
}
