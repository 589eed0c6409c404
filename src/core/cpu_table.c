/*
 * The CPU table: the kernel's array, kept sorted (BSP first, then APs by
 * ascending APIC ID) so that logical numbers are deterministic.
 */
#include "core/session.h"
#include "trampoline/trampoline.h"

static bool host_is_complete(const struct smpboot_host *host, enum smpboot_apic_mode mode,
                             uint64_t stack_window)
{
    if (!host->apic.read || !host->apic.write || !host->now_ns || !host->alloc_frames
        || !host->free_frames || !host->phys_to_virt)
        return false;
    if (mode == SMPBOOT_APIC_X2APIC && !host->apic.write_icr)
        return false;
    /* Half a mapping interface would leave an identity mapping behind. */
    if (!host->map != !host->unmap)
        return false;
    if (stack_window && !host->map)
        return false;
    return true;
}

uint32_t smpboot_self_apic_id(const struct smpboot *sb)
{
    uint32_t id = sb->host.apic.read(sb->host.apic.ctx, SMPBOOT_APIC_REG_ID);
    return sb->config.apic_mode == SMPBOOT_APIC_X2APIC ? id : id >> 24;
}

enum smpboot_status smpboot_init(struct smpboot *sb, const struct smpboot_host *host,
                                 const struct smpboot_config *config, struct smpboot_cpu *cpus,
                                 uint32_t capacity)
{
    if (!sb || !host || !config || !cpus || capacity == 0)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    *sb = (struct smpboot){.phase = SMPBOOT_PHASE_UNINITIALIZED};
    sb->host = *host;
    enum smpboot_status status = smpboot_config_check(config);
    if (status != SMPBOOT_OK) {
        smpboot_logf(sb, SMPBOOT_LOG_ERROR, "init: configuration rejected (%s)",
                     smpboot_status_str(status));
        return status;
    }
    if (!host_is_complete(host, config->apic_mode, config->stack_window)) {
        smpboot_logf(sb, SMPBOOT_LOG_ERROR, "init: a required host callback is NULL");
        return SMPBOOT_ERR_MISSING_CALLBACK;
    }
    sb->config = *config;
    sb->cpus = cpus;
    sb->cpu_capacity = capacity;
    sb->bsp_apic_id = smpboot_self_apic_id(sb);
    sb->cpus[0] = (struct smpboot_cpu){
        .index = 0,
        .apic_id = sb->bsp_apic_id,
        .result = SMPBOOT_CPU_BSP,
        .arg = config->entry_arg,
    };
    sb->cpu_count = 1;
    sb->phase = SMPBOOT_PHASE_READY;
    return SMPBOOT_OK;
}

enum smpboot_status smpboot_add_cpu(struct smpboot *sb, uint32_t apic_id)
{
    if (!sb)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (sb->phase != SMPBOOT_PHASE_READY)
        return SMPBOOT_ERR_BAD_STATE;
    if (smpboot_cpu_find(sb, apic_id))
        return SMPBOOT_OK;
    if (sb->cpu_count == sb->cpu_capacity)
        return SMPBOOT_ERR_TABLE_FULL;

    /* Insertion keeps entries 1.. sorted; tables are small and built once. */
    uint32_t at = sb->cpu_count;
    while (at > 1 && sb->cpus[at - 1].apic_id > apic_id) {
        sb->cpus[at] = sb->cpus[at - 1];
        sb->cpus[at].index = at;
        at--;
    }
    sb->cpus[at] = (struct smpboot_cpu){
        .index = at,
        .apic_id = apic_id,
        .result = SMPBOOT_CPU_NOT_STARTED,
        .arg = sb->config.entry_arg,
    };
    sb->cpu_count++;
    return SMPBOOT_OK;
}

uint32_t smpboot_cpu_count(const struct smpboot *sb)
{
    return sb ? sb->cpu_count : 0;
}

struct smpboot_cpu *smpboot_cpu_get(struct smpboot *sb, uint32_t index)
{
    if (!sb || index >= sb->cpu_count)
        return NULL;
    return &sb->cpus[index];
}

struct smpboot_cpu *smpboot_cpu_find(struct smpboot *sb, uint32_t apic_id)
{
    if (!sb || sb->cpu_count == 0)
        return NULL;
    if (sb->cpus[0].apic_id == apic_id)
        return &sb->cpus[0];
    uint32_t low = 1, high = sb->cpu_count;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        if (sb->cpus[mid].apic_id == apic_id)
            return &sb->cpus[mid];
        if (sb->cpus[mid].apic_id < apic_id)
            low = mid + 1;
        else
            high = mid;
    }
    return NULL;
}

uint32_t smpboot_online_count(const struct smpboot *sb)
{
    uint32_t online = 0;
    for (uint32_t i = 0; sb && i < sb->cpu_count; i++)
        if (sb->cpus[i].result == SMPBOOT_CPU_ONLINE || sb->cpus[i].result == SMPBOOT_CPU_BSP)
            online++;
    return online;
}

uint64_t smpboot_bringup_ns(const struct smpboot *sb)
{
    if (!sb || sb->all_online_ns < sb->start_ns || sb->all_online_ns == 0)
        return 0;
    return sb->all_online_ns - sb->start_ns;
}

uint32_t smpboot_trampoline_entries(const struct smpboot *sb)
{
    return smpboot_trampoline_entered(sb);
}
