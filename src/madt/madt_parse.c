/* SPDX-License-Identifier: MIT */
/*
 * smpboot_madt_parse(): what the MADT's entries mean for bring-up.
 *
 * Two passes over the table. The first only validates (smpboot_madt_check_entries),
 * so that a malformed table stores nothing. The second cannot fail: it picks
 * the CPUs and NMI entries, drops duplicates and fills the caller's arrays.
 * docs/madt.md describes the semantics.
 */
#include "smpboot/madt.h"

#include "madt_layout.h"
#include "madt_walk.h"

/* Everything the second pass accumulates. */
struct madt_fill {
    struct madt_bytes table;
    struct smpboot_madt_info info;
    bool lapic_overridden;
    struct smpboot_madt_cpu *cpus;
    uint32_t cpu_capacity;
    struct smpboot_madt_nmi *nmis;
    uint32_t nmi_capacity;
};

static void madt_clear_info(struct smpboot_madt_info *info)
{
    info->lapic_phys = 0;
    info->flags = 0;
    info->cpu_count = 0;
    info->enabled_count = 0;
    info->nmi_count = 0;
    info->skipped_count = 0;
}

static bool madt_cpu_id_is_valid(const struct madt_cpu_record *cpu)
{
    uint32_t invalid = cpu->x2apic ? MADT_LOCAL_X2APIC_ID_INVALID : MADT_LOCAL_APIC_ID_INVALID;
    return cpu->apic_id != invalid;
}

static bool madt_cpu_is_enabled(const struct madt_cpu_record *cpu)
{
    return (cpu->flags & MADT_CPU_FLAG_ENABLED) != 0;
}

/* Online Capable only means something for a CPU that is not Enabled. */
static bool madt_cpu_is_online_capable(const struct madt_cpu_record *cpu)
{
    return !madt_cpu_is_enabled(cpu) && (cpu->flags & MADT_CPU_FLAG_ONLINE_CAPABLE) != 0;
}

/* A CPU the kernel may start now or later, before duplicates are considered. */
static bool madt_cpu_is_usable(const struct madt_cpu_record *cpu)
{
    return madt_cpu_id_is_valid(cpu)
        && (madt_cpu_is_enabled(cpu) || madt_cpu_is_online_capable(cpu));
}

/*
 * Past the capacity the earlier CPUs are not all in the array, so look at the
 * table itself: is there a usable CPU entry with this ID before `offset`?
 * O(entries) per call, no storage.
 */
static bool madt_table_lists_id_before(struct madt_bytes table, size_t offset, uint32_t apic_id)
{
    struct madt_walk walk;
    struct madt_record earlier;

    smpboot_madt_walk_begin(&walk, table);
    while (smpboot_madt_walk_next(&walk, &earlier) == MADT_WALK_RECORD && earlier.offset < offset) {
        if (earlier.kind == MADT_RECORD_CPU && madt_cpu_is_usable(&earlier.cpu)
            && earlier.cpu.apic_id == apic_id) {
            return true;
        }
    }
    return false;
}

static bool madt_cpu_is_duplicate(const struct madt_fill *fill, const struct madt_record *record)
{
    uint32_t apic_id = record->cpu.apic_id;

    /* While every CPU found so far is stored, the array is the shorter search. */
    if (fill->info.cpu_count <= fill->cpu_capacity) {
        for (uint32_t i = 0; i < fill->info.cpu_count; i++) {
            if (fill->cpus[i].apic_id == apic_id) {
                return true;
            }
        }
        return false;
    }
    return madt_table_lists_id_before(fill->table, record->offset, apic_id);
}

static void madt_take_cpu(struct madt_fill *fill, const struct madt_record *record)
{
    const struct madt_cpu_record *cpu = &record->cpu;

    if (!madt_cpu_is_usable(cpu) || madt_cpu_is_duplicate(fill, record)) {
        fill->info.skipped_count++;
        return;
    }
    if (fill->info.cpu_count < fill->cpu_capacity) {
        struct smpboot_madt_cpu *out = &fill->cpus[fill->info.cpu_count];
        out->apic_id = cpu->apic_id;
        out->acpi_uid = cpu->acpi_uid;
        out->enabled = madt_cpu_is_enabled(cpu);
        out->online_capable = madt_cpu_is_online_capable(cpu);
        out->from_x2apic_entry = cpu->x2apic;
    }
    fill->info.cpu_count++;
    if (madt_cpu_is_enabled(cpu)) {
        fill->info.enabled_count++;
    }
}

/*
 * An NMI entry with a reserved polarity or trigger (2) or a LINT pin other
 * than 0 or 1 cannot be programmed into an LVT: skip it rather than reject
 * the whole table, which the kernel needs for its CPUs.
 */
static void madt_take_nmi(struct madt_fill *fill, const struct madt_nmi_record *nmi)
{
    unsigned polarity = nmi->inti_flags & MADT_INTI_POLARITY_MASK;
    unsigned trigger = (nmi->inti_flags >> MADT_INTI_TRIGGER_SHIFT) & MADT_INTI_TRIGGER_MASK;

    if (polarity == MADT_INTI_RESERVED_VALUE || trigger == MADT_INTI_RESERVED_VALUE
        || nmi->lint > MADT_LINT_MAX) {
        fill->info.skipped_count++;
        return;
    }
    if (fill->info.nmi_count < fill->nmi_capacity) {
        struct smpboot_madt_nmi *out = &fill->nmis[fill->info.nmi_count];
        out->acpi_uid = nmi->acpi_uid;
        out->lint = nmi->lint;
        out->polarity = (enum smpboot_madt_polarity)polarity;
        out->trigger = (enum smpboot_madt_trigger)trigger;
    }
    fill->info.nmi_count++;
}

/* ACPI allows one override; should firmware list more, the first wins. */
static void madt_take_lapic_override(struct madt_fill *fill, uint64_t lapic_address)
{
    if (!fill->lapic_overridden) {
        fill->info.lapic_phys = lapic_address;
        fill->lapic_overridden = true;
    }
}

static void madt_fill_from_entries(struct madt_fill *fill)
{
    struct madt_walk walk;
    struct madt_record record;

    smpboot_madt_walk_begin(&walk, fill->table);
    while (smpboot_madt_walk_next(&walk, &record) == MADT_WALK_RECORD) {
        switch (record.kind) {
        case MADT_RECORD_CPU:
            madt_take_cpu(fill, &record);
            break;
        case MADT_RECORD_NMI:
            madt_take_nmi(fill, &record.nmi);
            break;
        case MADT_RECORD_LAPIC_OVERRIDE:
            madt_take_lapic_override(fill, record.lapic_address);
            break;
        case MADT_RECORD_OTHER:
            break;
        }
    }
}

enum smpboot_status smpboot_madt_parse(const void *table, size_t mapped_bytes,
                                       struct smpboot_madt_info *info,
                                       struct smpboot_madt_cpu *cpus, uint32_t cpu_capacity,
                                       struct smpboot_madt_nmi *nmis, uint32_t nmi_capacity)
{
    if (info == NULL) {
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    }
    madt_clear_info(info);
    if (table == NULL || (cpus == NULL && cpu_capacity != 0)
        || (nmis == NULL && nmi_capacity != 0)) {
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    }

    struct madt_header header;
    enum smpboot_status status = smpboot_madt_check_header(table, mapped_bytes, &header);
    if (status != SMPBOOT_OK) {
        return status;
    }
    status = smpboot_madt_check_entries(header.table);
    if (status != SMPBOOT_OK) {
        return status;
    }

    struct madt_fill fill;
    fill.table = header.table;
    madt_clear_info(&fill.info);
    fill.info.lapic_phys = header.lapic_address;
    fill.info.flags = header.flags;
    fill.lapic_overridden = false;
    fill.cpus = cpus;
    fill.cpu_capacity = cpu_capacity;
    fill.nmis = nmis;
    fill.nmi_capacity = nmi_capacity;
    madt_fill_from_entries(&fill);

    *info = fill.info;
    if (fill.info.cpu_count > cpu_capacity || fill.info.nmi_count > nmi_capacity) {
        return SMPBOOT_ERR_TABLE_FULL;
    }
    return SMPBOOT_OK;
}
