/* Reading the MADT. See topology.h. */
#include "topology.h"

#include "acpi.h"
#include "console.h"
#include "format.h"

#define IDS_PER_LINE 16

static void print_enabled_ids(const struct topology *t)
{
    char line[CONSOLE_LINE_MAX];
    size_t length = 0;
    uint32_t on_line = 0;

    for (uint32_t i = 0; i < t->stored; i++) {
        const struct smpboot_madt_cpu *cpu = &t->cpus[i];
        if (!cpu->enabled)
            continue;
        if (on_line == 0)
            length = format(line, sizeof(line), "minikernel: madt: enabled apic ids:");
        length += format(line + length, sizeof(line) - length, " %u%s", cpu->apic_id,
                         cpu->from_x2apic_entry ? "(x2)" : "");
        if (++on_line == IDS_PER_LINE) {
            kprintf("%s\n", line);
            on_line = 0;
        }
    }
    if (on_line)
        kprintf("%s\n", line);
}

bool topology_read(struct topology *out)
{
    out->valid = false;
    out->stored = 0;
    out->highest_enabled_id = 0;
    out->enabled_x2apic_entries = false;

    const struct acpi_header *madt = acpi_find_table("APIC");
    if (!madt) {
        kprintf("minikernel: madt: none found\n");
        return false;
    }
    enum smpboot_status status = smpboot_madt_parse(madt, madt->length, &out->info, out->cpus,
                                                    TOPOLOGY_CPUS_MAX, 0, 0);
    /* TABLE_FULL for the NMI entries we chose not to store is expected. */
    if (status != SMPBOOT_OK && status != SMPBOOT_ERR_TABLE_FULL) {
        kprintf("minikernel: madt: smpboot_madt_parse failed: %s\n", smpboot_status_str(status));
        return false;
    }
    out->valid = true;
    out->stored = out->info.cpu_count < TOPOLOGY_CPUS_MAX ? out->info.cpu_count : TOPOLOGY_CPUS_MAX;
    for (uint32_t i = 0; i < out->stored; i++) {
        const struct smpboot_madt_cpu *cpu = &out->cpus[i];
        if (!cpu->enabled)
            continue;
        if (cpu->apic_id > out->highest_enabled_id)
            out->highest_enabled_id = cpu->apic_id;
        if (cpu->from_x2apic_entry)
            out->enabled_x2apic_entries = true;
    }
    kprintf("minikernel: madt: %u CPUs listed, %u enabled, %u entries skipped, "
            "local APIC at 0x%llx\n",
            out->info.cpu_count, out->info.enabled_count, out->info.skipped_count,
            (unsigned long long)out->info.lapic_phys);
    if (out->info.cpu_count > TOPOLOGY_CPUS_MAX)
        kprintf("minikernel: madt: warning: only the first %u CPUs are kept\n", TOPOLOGY_CPUS_MAX);
    print_enabled_ids(out);
    return true;
}

uint32_t topology_expected(const struct topology *topology)
{
    return topology->valid && topology->info.enabled_count > 0 ? topology->info.enabled_count : 1;
}
