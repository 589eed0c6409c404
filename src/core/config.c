#include <smpboot/config.h>

#define MS 1000000ull
#define US 1000ull

void smpboot_config_default(struct smpboot_config *config)
{
    *config = (struct smpboot_config){
        .mode = SMPBOOT_MODE_PARALLEL,
        .apic_mode = SMPBOOT_APIC_XAPIC,
        .init_delay_ns = SMPBOOT_SDM_INIT_DELAY_NS,
        .sipi_count = 2,
        .sipi_spacing_ns = SMPBOOT_SDM_SIPI_SPACING_NS,
        .sdm_retry = false,
        .retry_window_ns = 0,
        /* Generous: an emulated AP with many siblings on few host cores is slow. */
        .ap_timeout_ns = 1000 * MS,
        .online_timeout_ns = 1000 * MS,
        .total_timeout_ns = 30000 * MS,
        .icr_timeout_ns = 10 * MS,
        .stack_size = 16384,
    };
}

void smpboot_config_fast(struct smpboot_config *config)
{
    smpboot_config_default(config);
    config->init_delay_ns = 0;
    config->sipi_count = 1;
    config->sipi_spacing_ns = 100 * US;
    config->sdm_retry = true;
    config->retry_window_ns = 50 * MS;
}

static bool is_page_multiple(size_t bytes)
{
    return bytes >= 4096 && bytes % 4096 == 0;
}

enum smpboot_status smpboot_config_check(const struct smpboot_config *config)
{
    const uint64_t one_second = 1000 * MS;

    if (!config)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (config->mode != SMPBOOT_MODE_PARALLEL && config->mode != SMPBOOT_MODE_SERIAL)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->apic_mode != SMPBOOT_APIC_XAPIC && config->apic_mode != SMPBOOT_APIC_X2APIC)
        return SMPBOOT_ERR_BAD_CONFIG;
    /* Delays beyond a second are a units mistake, not a policy. */
    if (config->init_delay_ns > one_second || config->sipi_spacing_ns > one_second)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->sipi_count < 1 || config->sipi_count > 4)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->sdm_retry && (config->retry_window_ns == 0 || config->retry_window_ns > 60 * one_second))
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->ap_timeout_ns == 0 || config->ap_timeout_ns > 60 * one_second)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->online_timeout_ns == 0 || config->online_timeout_ns > 60 * one_second)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->icr_timeout_ns == 0 || config->icr_timeout_ns > one_second)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (!is_page_multiple(config->stack_size))
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->extra_stack_count > SMPBOOT_MAX_EXTRA_STACKS)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->extra_stack_count > 0 && !is_page_multiple(config->extra_stack_size))
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->stack_window % 4096)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (!config->entry)
        return SMPBOOT_ERR_BAD_CONFIG;
    return SMPBOOT_OK;
}

uint64_t smpboot_stack_window_bytes(const struct smpboot_config *config, uint32_t cpu_count)
{
    /* Each stack is preceded by its guard page; the BSP (index 0) has none. */
    uint64_t per_cpu = config->stack_size + 4096;
    per_cpu += (uint64_t)config->extra_stack_count * (config->extra_stack_size + 4096);
    return cpu_count > 1 ? per_cpu * (cpu_count - 1) : 0;
}
