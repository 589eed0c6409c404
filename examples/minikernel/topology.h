/*
 * The CPUs the firmware lists: the ACPI MADT, read with libsmpboot's
 * smpboot_madt_parse().
 */
#ifndef MK_TOPOLOGY_H
#define MK_TOPOLOGY_H

#include <stdbool.h>
#include <stdint.h>

#include <smpboot/madt.h>

/* More entries than QEMU 7.2 can list (288 on q35); extra ones are counted, not stored. */
#define TOPOLOGY_CPUS_MAX 1024

struct topology {
    bool valid;                        /* a MADT was found and parsed */
    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpus[TOPOLOGY_CPUS_MAX];
    uint32_t stored;                   /* entries in cpus[] */
    uint32_t highest_enabled_id;
    bool enabled_x2apic_entries;       /* an enabled CPU came from a Local x2APIC entry */
};

/* Find and parse the MADT, print what it lists. false when there is none. */
bool topology_read(struct topology *out);

/* CPUs the firmware says to start, the BSP included: the summary's "expected". */
uint32_t topology_expected(const struct topology *topology);

#endif /* MK_TOPOLOGY_H */
