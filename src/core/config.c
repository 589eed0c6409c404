/* SPDX-License-Identifier: MIT */
#include <smpboot/config.h>

#define MS 1000000ull
#define US 1000ull

void smpboot_config_default(struct smpboot_config *config)
{
    *config = (struct smpboot_config){
        .mode = SMPBOOT_MODE_PARALLEL,
        .apic_mode = SMPBOOT_APIC_XAPIC,
        .init_delay_ns = SMPBOOT_INIT_DELAY_AUTO,
        .sipi_count = 2,
        .sipi_spacing_ns = SMPBOOT_SDM_SIPI_SPACING_NS,
        .sdm_retry = true,
        .retry_window_ns = 100 * MS,
        /* Generous: an emulated AP with many siblings on few host cores is slow. */
        .ap_timeout_ns = 1000 * MS,
        .online_timeout_ns = 1000 * MS,
        .total_timeout_ns = SMPBOOT_TOTAL_TIMEOUT_AUTO,
        .icr_timeout_ns = 10 * MS,
        .ready_timeout_ns = 0,
        .next_after_ready = false,
        .stack_size = 16384,
    };
}

void smpboot_config_sdm(struct smpboot_config *config)
{
    smpboot_config_default(config);
    config->init_delay_ns = SMPBOOT_SDM_INIT_DELAY_NS;
    config->sdm_retry = false;
    config->retry_window_ns = 0;
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

static bool is_stack_size(size_t bytes)
{
    return bytes >= 4096 && bytes % 4096 == 0 && bytes <= SMPBOOT_MAX_STACK_SIZE;
}

static bool within(uint64_t value, uint64_t max)
{
    return value != 0 && value <= max;
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
    if (config->init_delay_ns > one_second && config->init_delay_ns != SMPBOOT_INIT_DELAY_AUTO)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->sipi_spacing_ns > one_second)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->sipi_count < 1 || config->sipi_count > 4)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->sdm_retry && !within(config->retry_window_ns, 60 * one_second))
        return SMPBOOT_ERR_BAD_CONFIG;
    if (!within(config->ap_timeout_ns, 60 * one_second)
        || !within(config->online_timeout_ns, 60 * one_second)
        || !within(config->icr_timeout_ns, one_second))
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->total_timeout_ns > SMPBOOT_MAX_TOTAL_TIMEOUT_NS
        && config->total_timeout_ns != SMPBOOT_TOTAL_TIMEOUT_AUTO)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->ready_timeout_ns > 60 * one_second)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->next_after_ready
        && (config->mode != SMPBOOT_MODE_SERIAL || config->ready_timeout_ns == 0))
        return SMPBOOT_ERR_BAD_CONFIG;
    if (!is_stack_size(config->stack_size))
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->extra_stack_count > SMPBOOT_MAX_EXTRA_STACKS)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->extra_stack_count > 0 && !is_stack_size(config->extra_stack_size))
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->stack_window % 4096)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (!config->entry)
        return SMPBOOT_ERR_BAD_CONFIG;
    if (config->trampoline_page != 0
        && (config->trampoline_page % 4096 || config->trampoline_page < 0x1000
            || config->trampoline_page > SMPBOOT_TRAMPOLINE_PAGE_MAX))
        return SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE;
    return SMPBOOT_OK;
}

/* Each term is bounded by smpboot_config_check(); the products saturate at the cap. */
uint64_t smpboot_total_timeout_for(const struct smpboot_config *config, uint32_t ap_count)
{
    if (config->total_timeout_ns != SMPBOOT_TOTAL_TIMEOUT_AUTO)
        return config->total_timeout_ns;
    uint64_t init_delay = config->init_delay_ns == SMPBOOT_INIT_DELAY_AUTO
                              ? SMPBOOT_SDM_INIT_DELAY_NS
                              : config->init_delay_ns;
    uint64_t answer = config->ap_timeout_ns;
    if (config->sdm_retry)
        answer += config->retry_window_ns + SMPBOOT_SDM_INIT_DELAY_NS + SMPBOOT_SDM_SIPI_SPACING_NS;
    uint64_t spacing = config->sipi_count > 1 ? (uint64_t)(config->sipi_count - 1) * config->sipi_spacing_ns : 0;
    uint64_t batch = init_delay + spacing + answer + config->online_timeout_ns;
    if (config->next_after_ready)
        batch += config->ready_timeout_ns;
    uint64_t batches = config->mode == SMPBOOT_MODE_SERIAL ? ap_count : 1;
    uint64_t waits, sends, total;
    if (__builtin_mul_overflow(batches, batch, &waits)
        || __builtin_mul_overflow((uint64_t)ap_count, SMPBOOT_TOTAL_TIMEOUT_PER_AP_NS, &sends)
        || __builtin_add_overflow(waits, sends, &total) || total > SMPBOOT_MAX_TOTAL_TIMEOUT_NS)
        return SMPBOOT_MAX_TOTAL_TIMEOUT_NS;
    return total;
}

/*
 * With the sizes bounded by smpboot_config_check() (at most 5 x (16 MiB +
 * 4 KiB) per CPU) and a 32-bit CPU count, the product stays below 2^59.
 */
uint64_t smpboot_stack_window_bytes(const struct smpboot_config *config, uint32_t cpu_count)
{
    /* Each stack is preceded by its guard page; the BSP (index 0) has none. */
    uint64_t per_cpu = (uint64_t)config->stack_size + 4096;
    per_cpu += (uint64_t)config->extra_stack_count * ((uint64_t)config->extra_stack_size + 4096);
    return cpu_count > 1 ? per_cpu * (cpu_count - 1) : 0;
}
