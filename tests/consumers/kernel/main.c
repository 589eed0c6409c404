/* SPDX-License-Identifier: MIT */
/*
 * The smallest kernel that uses libsmpboot, built by every consumer test
 * (tests/consumers). It is linked, never run: a link that succeeds proves the
 * archive fits the kernel's code model and that the build path found the
 * headers, the sources and every symbol the library needs.
 */
#include <smpboot/apic.h>
#include <smpboot/madt.h>
#include <smpboot/smpboot.h>
#include <smpboot/version.h>

#if !defined(SMPBOOT_VERSION) || SMPBOOT_VERSION < 100
#error "smpboot/version.h does not give SMPBOOT_VERSION"
#endif

#define CONSUMER_MAX_CPUS 4

static struct smpboot session;
static struct smpboot_cpu cpus[CONSUMER_MAX_CPUS];
static struct smpboot_madt_cpu madt_cpus[CONSUMER_MAX_CPUS];
static struct smpboot_madt_nmi madt_nmis[CONSUMER_MAX_CPUS];

/* What a linked image could report; volatile so the calls are not dropped. */
volatile const char *consumer_last_status;

static void consumer_ap_entry(struct smpboot_cpu *self)
{
    (void)self;
}

void consumer_main(const void *madt, size_t madt_bytes);

void consumer_main(const void *madt, size_t madt_bytes)
{
    struct smpboot_host host = {0};
    struct smpboot_config config;
    struct smpboot_madt_info info;

    smpboot_apic_use_xapic(&host.apic, (volatile void *)0xfee00000u);
    smpboot_config_default(&config);
    config.entry = consumer_ap_entry;

    enum smpboot_status status = smpboot_madt_parse(madt, madt_bytes, &info,
                                                    madt_cpus, CONSUMER_MAX_CPUS,
                                                    madt_nmis, CONSUMER_MAX_CPUS);
    if (status == SMPBOOT_OK)
        status = smpboot_init(&session, &host, &config, cpus, CONSUMER_MAX_CPUS);
    if (status == SMPBOOT_OK) {
        for (uint32_t i = 0; i < info.cpu_count && i < CONSUMER_MAX_CPUS; i++)
            smpboot_add_cpu(&session, madt_cpus[i].apic_id);
        status = smpboot_start(&session);
        smpboot_finish(&session);
    }
    consumer_last_status = smpboot_status_str(status);
}
