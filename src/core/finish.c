/* SPDX-License-Identifier: MIT */
/*
 * smpboot_finish(): give back what bring-up borrowed. APs that did not come
 * online are sent INIT first, and the INITs are given time to land: only
 * then can no late AP touch the trampoline, its slot or its stack, and only
 * then are those freed. What an AP that could not be reset might still use
 * is abandoned instead: moved out of reach of every later free.
 */
#include "session.h"
#include "../trampoline/trampoline.h"

static bool runs_or_is_bsp(const struct smpboot_cpu *cpu)
{
    return smpboot_cpu_runs_kernel(cpu)
           || __atomic_load_n(&cpu->result, __ATOMIC_ACQUIRE) == SMPBOOT_CPU_BSP;
}

/* Kicked in this bring-up (its slot left IDLE), so it may be running the trampoline or our C code. */
static bool was_kicked(const struct smpboot_session *sb, uint32_t i)
{
    return __atomic_load_n(&smpboot_slot_at(sb, i)->state, __ATOMIC_ACQUIRE) != SMPBOOT_SLOT_IDLE;
}

/* The trampoline page, its tables and the slot table stay borrowed for good. */
static void abandon_shared_memory(struct smpboot_session *sb)
{
    smpboot_logf(sb, SMPBOOT_LOG_ERROR,
                 "finish: an AP could not be reset; the trampoline page (%lx) and slot table "
                 "(%lx) are kept for good, and no restart is possible",
                 (unsigned long)sb->tramp_phys, (unsigned long)sb->slots_phys);
    sb->abandoned.tramp_phys = sb->tramp_phys;
    sb->abandoned.boot_tables_phys = sb->boot_tables_phys;
    sb->abandoned.boot_tables_pages = sb->boot_tables_pages;
    sb->abandoned.slots_phys = sb->slots_phys;
    sb->abandoned.slots_pages = sb->slots_pages;
    sb->tramp_phys = 0;
    sb->tramp_virt = NULL;
    sb->tramp_mapped = false;
    sb->boot_tables_phys = 0;
    sb->boot_tables_pages = 0;
    sb->slots_phys = 0;
    sb->slots_pages = 0;
    sb->slots = NULL;
}

enum smpboot_status smpboot_finish(struct smpboot *handle)
{
    struct smpboot_session *sb = smpboot_session_of(handle);
    if (!sb)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    uint32_t phase = smpboot_phase(sb);
    if (phase == SMPBOOT_PHASE_FINISHED)
        return SMPBOOT_OK;
    if (phase == SMPBOOT_PHASE_READY) {
        smpboot_set_phase(sb, SMPBOOT_PHASE_FINISHED);  /* nothing was borrowed */
        return SMPBOOT_OK;
    }
    if (phase != SMPBOOT_PHASE_STARTED)
        return SMPBOOT_ERR_BAD_STATE;
    if (smpboot_self_apic_id(sb) != sb->bsp_apic_id)
        return SMPBOOT_ERR_NOT_BSP;

    if (sb->config.ready_timeout_ns) {
        uint64_t now = smpboot_now(sb);
        smpboot_ready_wait_range(sb, 1, sb->cpu_count,
                                 smpboot_deadline(now, sb->config.ready_timeout_ns));
    }

    enum smpboot_status first_error = SMPBOOT_OK;
    bool any_sent = false;
    uint64_t last_sent = 0;
    for (uint32_t i = 1; i < sb->cpu_count; i++) {
        struct smpboot_cpu *cpu = &sb->cpus[i];
        if (runs_or_is_bsp(cpu) || cpu->not_reset || !was_kicked(sb, i))
            continue;
        enum smpboot_status status = smpboot_init_send(sb, cpu->apic_id, NULL, &last_sent);
        if (status == SMPBOOT_OK) {
            any_sent = true;
            continue;
        }
        /* It may still run on that stack: keeping it is the safe choice. */
        cpu->not_reset = true;
        smpboot_logf(sb, SMPBOOT_LOG_ERROR, "APIC %u: INIT failed (%s); its stacks are kept",
                     cpu->apic_id, smpboot_status_str(status));
        if (first_error == SMPBOOT_OK)
            first_error = status;
    }
    if (any_sent && smpboot_init_settle(sb, last_sent) != SMPBOOT_OK) {
        /* The INITs could not be timed: treat every one of them as not landed. */
        for (uint32_t i = 1; i < sb->cpu_count; i++)
            if (!runs_or_is_bsp(&sb->cpus[i]) && was_kicked(sb, i))
                sb->cpus[i].not_reset = true;
        if (first_error == SMPBOOT_OK)
            first_error = SMPBOOT_ERR_CLOCK_STUCK;
    }

    bool keep_shared = false;
    for (uint32_t i = 1; i < sb->cpu_count; i++) {
        struct smpboot_cpu *cpu = &sb->cpus[i];
        if (cpu->not_reset)
            keep_shared = true;
        else if (!runs_or_is_bsp(cpu))
            smpboot_stacks_free(sb, cpu);
    }
    if (keep_shared) {
        abandon_shared_memory(sb);
    } else {
        smpboot_trampoline_remove(sb);
        smpboot_slots_destroy(sb);
    }
    smpboot_set_phase(sb, SMPBOOT_PHASE_FINISHED);
    return first_error;
}
