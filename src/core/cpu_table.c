/* SPDX-License-Identifier: MIT */
/*
 * The CPU table: the kernel's array, kept sorted (BSP first, then APs by
 * ascending APIC ID) so that logical numbers are deterministic.
 */
#include "session.h"
#include "../trampoline/trampoline.h"

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
    if (!host->alloc_stack != !host->free_stack)
        return false;
    return true;
}

uint32_t smpboot_self_apic_id(const struct smpboot_session *sb)
{
    uint32_t id = sb->host.apic.read(sb->host.apic.ctx, SMPBOOT_APIC_REG_ID);
    return sb->config.apic_mode == SMPBOOT_APIC_X2APIC ? id : id >> 24;
}

uint32_t smpboot_version(void)
{
    return SMPBOOT_VERSION;
}

/*
 * The kernel's view of the headers against the archive's. On a mismatch
 * nothing in the kernel's structs can be trusted to have our layout, so
 * nothing is written; the log line goes out only when host itself matches.
 */
static bool abi_matches(const struct smpboot_abi *abi, const struct smpboot_host *host)
{
    const struct {
        const char *what;
        uint32_t kernel;
        uint32_t library;
    } items[] = {
        {"version (SMPBOOT_VERSION)", abi->version, SMPBOOT_VERSION},
        {"sizeof(struct smpboot)", abi->session_size, (uint32_t)sizeof(struct smpboot)},
        {"sizeof(struct smpboot_cpu)", abi->cpu_size, (uint32_t)sizeof(struct smpboot_cpu)},
        {"sizeof(struct smpboot_host)", abi->host_size, (uint32_t)sizeof(struct smpboot_host)},
        {"sizeof(struct smpboot_config)", abi->config_size, (uint32_t)sizeof(struct smpboot_config)},
    };
    struct smpboot_session reporter = {.phase = SMPBOOT_PHASE_UNINITIALIZED};
    if (host && abi->host_size == sizeof(struct smpboot_host)) {
        reporter.host.ctx = host->ctx;
        reporter.host.log = host->log;
    }
    bool matches = true;
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        if (items[i].kernel == items[i].library)
            continue;
        matches = false;
        smpboot_logf(&reporter, SMPBOOT_LOG_ERROR,
                     "init: the kernel was compiled against other headers than this library: "
                     "%s is %u there, %u here",
                     items[i].what, items[i].kernel, items[i].library);
    }
    return matches;
}

/*
 * After finish, a CPU that could not be reset may still run the trampoline
 * or smpboot_ap_main(), and a NOT_READY one may still take NMIs on the
 * session's IDT: a new init would wipe its not_reset mark, the abandoned
 * record and that IDT under it.
 */
static bool session_still_in_use(const struct smpboot_session *sb)
{
    for (uint32_t i = 1; i < sb->cpu_count; i++) {
        const struct smpboot_cpu *cpu = &sb->cpus[i];
        if (cpu->not_reset
            || __atomic_load_n(&cpu->result, __ATOMIC_ACQUIRE) == SMPBOOT_CPU_NOT_READY)
            return true;
    }
    return false;
}

enum smpboot_status smpboot_init_abi(const struct smpboot_abi *abi, struct smpboot *handle,
                                     const struct smpboot_host *host,
                                     const struct smpboot_config *config,
                                     struct smpboot_cpu *cpus, uint32_t capacity)
{
    if (!abi)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (!abi_matches(abi, host))
        return SMPBOOT_ERR_ABI_MISMATCH;
    struct smpboot_session *sb = smpboot_session_of(handle);
    if (!sb || !host || !config || !cpus || capacity == 0)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    /* APs of a live bring-up still read this session: wiping it would strand them. */
    uint32_t phase = smpboot_phase(sb);
    if (phase == SMPBOOT_PHASE_STARTING || phase == SMPBOOT_PHASE_STARTED)
        return SMPBOOT_ERR_BAD_STATE;
    if (phase == SMPBOOT_PHASE_FINISHED && session_still_in_use(sb))
        return SMPBOOT_ERR_BAD_STATE;
    *sb = (struct smpboot_session){.phase = SMPBOOT_PHASE_UNINITIALIZED};
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
    if (config->stack_window && host->alloc_stack) {
        smpboot_logf(sb, SMPBOOT_LOG_ERROR,
                     "init: stacks come from host.alloc_stack or through config.stack_window, "
                     "not both");
        return SMPBOOT_ERR_BAD_CONFIG;
    }
    if (config->stack_window
        && smpboot_stack_window_bytes(config, capacity) > UINT64_MAX - config->stack_window) {
        smpboot_logf(sb, SMPBOOT_LOG_ERROR, "init: the stack window would wrap the address space");
        return SMPBOOT_ERR_BAD_CONFIG;
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
    smpboot_set_phase(sb, SMPBOOT_PHASE_READY);
    return SMPBOOT_OK;
}

enum smpboot_status smpboot_add_cpu(struct smpboot *handle, uint32_t apic_id)
{
    struct smpboot_session *sb = smpboot_session_of(handle);
    if (!sb)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (smpboot_phase(sb) != SMPBOOT_PHASE_READY)
        return SMPBOOT_ERR_BAD_STATE;
    if (smpboot_cpu_find(handle, apic_id))
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

uint32_t smpboot_cpu_count(const struct smpboot *handle)
{
    const struct smpboot_session *sb = smpboot_session_of_const(handle);
    return sb ? sb->cpu_count : 0;
}

struct smpboot_cpu *smpboot_cpu_get(struct smpboot *handle, uint32_t index)
{
    struct smpboot_session *sb = smpboot_session_of(handle);
    if (!sb || index >= sb->cpu_count)
        return NULL;
    return &sb->cpus[index];
}

struct smpboot_cpu *smpboot_cpu_find(struct smpboot *handle, uint32_t apic_id)
{
    const struct smpboot_session *sb = smpboot_session_of(handle);
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

uint32_t smpboot_online_count(const struct smpboot *handle)
{
    const struct smpboot_session *sb = smpboot_session_of_const(handle);
    uint32_t online = 0;
    for (uint32_t i = 0; sb && i < sb->cpu_count; i++)
        if (smpboot_cpu_is_online(&sb->cpus[i]))
            online++;
    return online;
}

const uint64_t *smpboot_postmortem_slot_table(const struct smpboot *handle)
{
    const struct smpboot_session *sb = smpboot_session_of_const(handle);
    return sb ? &sb->slots_phys : NULL;
}

uint64_t smpboot_bringup_ns(const struct smpboot *handle)
{
    const struct smpboot_session *sb = smpboot_session_of_const(handle);
    if (!sb || sb->all_online_ns < sb->start_ns || sb->all_online_ns == 0)
        return 0;
    return sb->all_online_ns - sb->start_ns;
}
