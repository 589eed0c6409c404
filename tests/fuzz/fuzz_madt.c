/*
 * libFuzzer target for smpboot_madt_parse(): the input bytes are the table.
 *
 * Each input is parsed several times: with mapped_bytes equal to the input's
 * size, to the table's length field and to smaller values taken from the
 * input, and for each of those with NULL arrays, small capacities and a
 * capacity that cannot fill. Every copy of the table and every output array
 * is a heap block of exactly the size the parser may touch, so ASan reports a
 * read or write one byte too far. An input whose checksum fails is parsed a
 * second time with the checksum repaired, so that mutations reach the entries.
 *
 * After each call the documented contract (include/smpboot/madt.h,
 * docs/madt.md) is checked, and the calls are compared with each other; a
 * violation prints what broke and traps, which libFuzzer records as a crash
 * with the input that caused it. docs/fuzzing.md lists the invariants.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smpboot/madt.h"

/* Facts about the table format the checks rely on (ACPI 6.5, 5.2.12). */
#define MADT_HEADER_BYTES 44u
#define MADT_LENGTH_FIELD_END 8u
#define MADT_CHECKSUM_OFFSET 9u
#define MADT_FLAGS_OFFSET 40u
#define MADT_SMALLEST_CPU_ENTRY 8u   /* type 0; type 9 is 16 */
#define MADT_SMALLEST_NMI_ENTRY 6u   /* type 4; type 10 is 12 */
#define MADT_SMALLEST_COUNTED_ENTRY MADT_SMALLEST_NMI_ENTRY
#define MADT_ID_INVALID_8  0xFFu
#define MADT_ID_INVALID_32 0xFFFFFFFFu

/* Output slots the parser must not touch keep this pattern. */
#define CANARY_BYTE 0xA5

#define MAX_MAPPED_VARIANTS 6
#define MAX_CAPACITY_VARIANTS 5

struct parse_call;
static void violation(const char *what, int line, const struct parse_call *call);

/* `call` says which parse broke the contract; NULL for the argument checks. */
#define CHECK_FOR(call, cond)                                                              \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            violation(#cond, __LINE__, (call));                                            \
        }                                                                                  \
    } while (0)

#define CHECK(cond) CHECK_FOR(NULL, cond)

/* What the input says about itself, computed here without the parser. */
struct table_facts {
    const uint8_t *bytes;
    size_t size;
    bool has_length;       /* at least 8 bytes: the length field is there */
    uint32_t length;
    bool signature_ok;
};

/* One call of the parser and everything it produced. */
struct parse_call {
    size_t mapped;
    bool null_arrays;
    uint32_t cpu_capacity;
    uint32_t nmi_capacity;
    enum smpboot_status status;
    struct smpboot_madt_info info;
    struct smpboot_madt_cpu *cpus;  /* exactly cpu_capacity slots, or NULL */
    struct smpboot_madt_nmi *nmis;
};

static void violation(const char *what, int line, const struct parse_call *call)
{
    fprintf(stderr, "fuzz_madt: invariant violated (line %d): %s\n", line, what);
    if (call != NULL) {
        fprintf(stderr, "  in the call with mapped_bytes=%zu, %s, cpu_capacity=%u, "
                        "nmi_capacity=%u: status %d, cpu_count %u, nmi_count %u\n",
                call->mapped, call->null_arrays ? "NULL arrays" : "arrays", call->cpu_capacity,
                call->nmi_capacity, (int)call->status, call->info.cpu_count,
                call->info.nmi_count);
    }
    __builtin_trap();
}

static void *checked_alloc(size_t bytes)
{
    /* malloc(0) under ASan is a valid block with no usable byte. */
    void *block = malloc(bytes);
    if (block == NULL) {
        fprintf(stderr, "fuzz_madt: out of memory\n");
        abort();
    }
    return block;
}

static bool is_canary(const void *bytes, size_t size)
{
    const uint8_t *p = bytes;
    for (size_t i = 0; i < size; i++) {
        if (p[i] != CANARY_BYTE) {
            return false;
        }
    }
    return true;
}

static uint32_t read_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16)
        | ((uint32_t)p[3] << 24);
}

static struct table_facts table_facts_of(const uint8_t *data, size_t size)
{
    struct table_facts facts = { .bytes = data, .size = size };
    facts.has_length = size >= MADT_LENGTH_FIELD_END;
    if (facts.has_length) {
        facts.length = read_le32(data + 4);
        facts.signature_ok = memcmp(data, "APIC", 4) == 0;
    }
    return facts;
}

static bool sums_to_zero(const uint8_t *bytes, size_t size)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < size; i++) {
        sum = (uint8_t)(sum + bytes[i]);
    }
    return sum == 0;
}

/* Runs the parser on `table` (mapped bytes readable) with fresh canary arrays. */
static void parse_call_run(struct parse_call *call, const uint8_t *table)
{
    call->cpus = NULL;
    call->nmis = NULL;
    if (!call->null_arrays) {
        call->cpus = checked_alloc(call->cpu_capacity * sizeof(*call->cpus));
        call->nmis = checked_alloc(call->nmi_capacity * sizeof(*call->nmis));
        memset(call->cpus, CANARY_BYTE, call->cpu_capacity * sizeof(*call->cpus));
        memset(call->nmis, CANARY_BYTE, call->nmi_capacity * sizeof(*call->nmis));
    }
    /* Garbage in *info, so that "zeroed on error" is really checked. */
    memset(&call->info, CANARY_BYTE, sizeof(call->info));
    call->status = smpboot_madt_parse(table, call->mapped, &call->info, call->cpus,
                                      call->cpu_capacity, call->nmis, call->nmi_capacity);
}

static void parse_call_free(struct parse_call *call)
{
    free(call->cpus);
    free(call->nmis);
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static bool info_is_zero(const struct smpboot_madt_info *info)
{
    return info->lapic_phys == 0 && info->flags == 0 && info->cpu_count == 0
        && info->enabled_count == 0 && info->nmi_count == 0 && info->skipped_count == 0;
}

static bool info_equal(const struct smpboot_madt_info *a, const struct smpboot_madt_info *b)
{
    return a->lapic_phys == b->lapic_phys && a->flags == b->flags
        && a->cpu_count == b->cpu_count && a->enabled_count == b->enabled_count
        && a->nmi_count == b->nmi_count && a->skipped_count == b->skipped_count;
}

static bool cpu_equal(const struct smpboot_madt_cpu *a, const struct smpboot_madt_cpu *b)
{
    return a->apic_id == b->apic_id && a->acpi_uid == b->acpi_uid && a->enabled == b->enabled
        && a->online_capable == b->online_capable
        && a->from_x2apic_entry == b->from_x2apic_entry;
}

static bool nmi_equal(const struct smpboot_madt_nmi *a, const struct smpboot_madt_nmi *b)
{
    return a->acpi_uid == b->acpi_uid && a->lint == b->lint && a->polarity == b->polarity
        && a->trigger == b->trigger;
}

static bool is_documented_status(enum smpboot_status status)
{
    /* The arguments are always valid here, so INVALID_ARGUMENT is a bug too. */
    return status == SMPBOOT_OK || status == SMPBOOT_ERR_TABLE_FULL
        || status == SMPBOOT_ERR_MALFORMED_TABLE || status == SMPBOOT_ERR_BAD_CHECKSUM;
}

static bool parsed(const struct parse_call *call)
{
    return call->status == SMPBOOT_OK || call->status == SMPBOOT_ERR_TABLE_FULL;
}

static bool valid_polarity(enum smpboot_madt_polarity polarity)
{
    return polarity == SMPBOOT_MADT_POLARITY_BUS || polarity == SMPBOOT_MADT_POLARITY_HIGH
        || polarity == SMPBOOT_MADT_POLARITY_LOW;
}

static bool valid_trigger(enum smpboot_madt_trigger trigger)
{
    return trigger == SMPBOOT_MADT_TRIGGER_BUS || trigger == SMPBOOT_MADT_TRIGGER_EDGE
        || trigger == SMPBOOT_MADT_TRIGGER_LEVEL;
}

static void check_stored_cpus(const struct parse_call *call, uint32_t stored)
{
    uint32_t enabled_stored = 0;
    for (uint32_t i = 0; i < stored; i++) {
        const struct smpboot_madt_cpu *cpu = &call->cpus[i];
        CHECK_FOR(call, cpu->apic_id != MADT_ID_INVALID_32);
        if (!cpu->from_x2apic_entry) {
            /* A type 0 entry has 8-bit fields, and 0xFF is its placeholder. */
            CHECK_FOR(call, cpu->apic_id < MADT_ID_INVALID_8);
            CHECK_FOR(call, cpu->acpi_uid <= 0xFFu);
        }
        CHECK_FOR(call, cpu->enabled || cpu->online_capable);
        CHECK_FOR(call, !(cpu->enabled && cpu->online_capable));
        for (uint32_t j = 0; j < i; j++) {
            CHECK_FOR(call, call->cpus[j].apic_id != cpu->apic_id);
        }
        enabled_stored += cpu->enabled ? 1u : 0u;
    }
    CHECK_FOR(call, enabled_stored <= call->info.enabled_count);
    if (call->info.cpu_count <= call->cpu_capacity) {
        CHECK_FOR(call, enabled_stored == call->info.enabled_count);
    }
}

static void check_stored_nmis(const struct parse_call *call, uint32_t stored)
{
    for (uint32_t i = 0; i < stored; i++) {
        const struct smpboot_madt_nmi *nmi = &call->nmis[i];
        CHECK_FOR(call, nmi->lint <= 1u);
        CHECK_FOR(call, valid_polarity(nmi->polarity));
        CHECK_FOR(call, valid_trigger(nmi->trigger));
    }
}

/* The contract for one call on its own, with what the input says about itself. */
static void check_call(const struct parse_call *call, const struct table_facts *facts)
{
    CHECK_FOR(call, is_documented_status(call->status));

    if (!parsed(call)) {
        CHECK_FOR(call, info_is_zero(&call->info));
        if (!call->null_arrays) {
            CHECK_FOR(call, is_canary(call->cpus, call->cpu_capacity * sizeof(*call->cpus)));
            CHECK_FOR(call, is_canary(call->nmis, call->nmi_capacity * sizeof(*call->nmis)));
        }
        if (call->status == SMPBOOT_ERR_BAD_CHECKSUM) {
            /* Only a table whose header holds can fail on its checksum. */
            CHECK_FOR(call, facts->signature_ok && facts->length >= MADT_HEADER_BYTES
                                && facts->length <= call->mapped);
            CHECK_FOR(call, !sums_to_zero(facts->bytes, facts->length));
        }
        return;
    }

    /* A parsed table has a header that holds, and it read the header's flags. */
    CHECK_FOR(call, facts->has_length && facts->signature_ok);
    CHECK_FOR(call, facts->length >= MADT_HEADER_BYTES && facts->length <= call->mapped);
    CHECK_FOR(call, sums_to_zero(facts->bytes, facts->length));
    CHECK_FOR(call, call->info.flags == read_le32(facts->bytes + MADT_FLAGS_OFFSET));

    const struct smpboot_madt_info *info = &call->info;
    CHECK_FOR(call, info->enabled_count <= info->cpu_count);
    /* Counted entries are at least this long, so the table bounds the counts. */
    size_t entry_bytes = facts->length - MADT_HEADER_BYTES;
    CHECK_FOR(call, (size_t)info->cpu_count * MADT_SMALLEST_CPU_ENTRY
                        + (size_t)info->nmi_count * MADT_SMALLEST_NMI_ENTRY <= entry_bytes);
    CHECK_FOR(call, ((size_t)info->cpu_count + info->nmi_count + info->skipped_count)
                        * MADT_SMALLEST_COUNTED_ENTRY <= entry_bytes);

    bool overflow = info->cpu_count > call->cpu_capacity || info->nmi_count > call->nmi_capacity;
    CHECK_FOR(call, (call->status == SMPBOOT_ERR_TABLE_FULL) == overflow);

    if (call->null_arrays) {
        return;
    }
    uint32_t cpus_stored = min_u32(info->cpu_count, call->cpu_capacity);
    uint32_t nmis_stored = min_u32(info->nmi_count, call->nmi_capacity);
    check_stored_cpus(call, cpus_stored);
    check_stored_nmis(call, nmis_stored);
    CHECK_FOR(call, is_canary(call->cpus + cpus_stored,
                              (call->cpu_capacity - cpus_stored) * sizeof(*call->cpus)));
    CHECK_FOR(call, is_canary(call->nmis + nmis_stored,
                              (call->nmi_capacity - nmis_stored) * sizeof(*call->nmis)));
}

/* A smaller capacity gives the same counts and a prefix of the same arrays. */
static void check_same_as_reference(const struct parse_call *call, const struct parse_call *ref)
{
    if (!parsed(ref)) {
        CHECK_FOR(call, call->status == ref->status);
        return;
    }
    CHECK_FOR(call, parsed(call));
    CHECK_FOR(call, info_equal(&call->info, &ref->info));
    if (call->null_arrays) {
        return;
    }
    uint32_t cpus_stored = min_u32(call->info.cpu_count, call->cpu_capacity);
    for (uint32_t i = 0; i < cpus_stored; i++) {
        CHECK_FOR(call, cpu_equal(&call->cpus[i], &ref->cpus[i]));
    }
    uint32_t nmis_stored = min_u32(call->info.nmi_count, call->nmi_capacity);
    for (uint32_t i = 0; i < nmis_stored; i++) {
        CHECK_FOR(call, nmi_equal(&call->nmis[i], &ref->nmis[i]));
    }
}

/*
 * Same status, same info and the same stored entries; both calls had room
 * for everything (or failed), so everything found was stored.
 */
static void check_identical(const struct parse_call *call, const struct parse_call *other)
{
    CHECK_FOR(call, call->status == other->status);
    CHECK_FOR(call, info_equal(&call->info, &other->info));
    if (call->status != SMPBOOT_OK) {
        return;
    }
    for (uint32_t i = 0; i < call->info.cpu_count; i++) {
        CHECK_FOR(call, cpu_equal(&call->cpus[i], &other->cpus[i]));
    }
    for (uint32_t i = 0; i < call->info.nmi_count; i++) {
        CHECK_FOR(call, nmi_equal(&call->nmis[i], &other->nmis[i]));
    }
}

/*
 * Capacities that can never fill: every CPU entry takes at least 8 bytes and
 * every NMI entry at least 6, all inside the mapped bytes.
 */
static uint32_t roomy_cpu_capacity(size_t mapped)
{
    return (uint32_t)(mapped / MADT_SMALLEST_CPU_ENTRY + 1);
}

static uint32_t roomy_nmi_capacity(size_t mapped)
{
    return (uint32_t)(mapped / MADT_SMALLEST_NMI_ENTRY + 1);
}

/*
 * All the calls for one mapped_bytes value, on an exact-size copy of the
 * first `mapped` input bytes. Returns the roomy call (the reference), which
 * the caller frees.
 */
static struct parse_call parse_with_mapping(const struct table_facts *facts, size_t mapped)
{
    uint8_t *table = checked_alloc(mapped);
    memcpy(table, facts->bytes, mapped);

    struct parse_call ref = {
        .mapped = mapped,
        .cpu_capacity = roomy_cpu_capacity(mapped),
        .nmi_capacity = roomy_nmi_capacity(mapped),
    };
    parse_call_run(&ref, table);
    check_call(&ref, facts);
    CHECK_FOR(&ref, ref.status != SMPBOOT_ERR_TABLE_FULL);

    /* The parser keeps no state: the same table parses the same again. */
    struct parse_call again = ref;
    parse_call_run(&again, table);
    check_identical(&again, &ref);
    parse_call_free(&again);

    /* Small capacities, two of them taken from the input. */
    uint8_t pick = facts->size > 0 ? facts->bytes[facts->size / 2] : 0;
    const struct { bool null_arrays; uint32_t cpus; uint32_t nmis; }
        capacities[MAX_CAPACITY_VARIANTS] = {
            { true, 0, 0 },
            { false, 0, 0 },
            { false, 1, 1 },
            { false, 2u + pick % 6u, 1u + (pick >> 4) % 4u },
            { false, ref.info.cpu_count > 0 ? ref.info.cpu_count - 1 : 0,
              ref.info.nmi_count },
        };
    for (size_t i = 0; i < MAX_CAPACITY_VARIANTS; i++) {
        struct parse_call small = {
            .mapped = mapped,
            .null_arrays = capacities[i].null_arrays,
            .cpu_capacity = capacities[i].cpus,
            .nmi_capacity = capacities[i].nmis,
        };
        parse_call_run(&small, table);
        check_call(&small, facts);
        check_same_as_reference(&small, &ref);
        parse_call_free(&small);
    }

    free(table);
    return ref;
}

/* The argument checks, which no table reaches. */
static void check_bad_arguments(const uint8_t *table, size_t size)
{
    struct smpboot_madt_info info;
    struct smpboot_madt_cpu cpu;
    struct smpboot_madt_nmi nmi;

    CHECK(smpboot_madt_parse(table, size, NULL, &cpu, 1, &nmi, 1)
          == SMPBOOT_ERR_INVALID_ARGUMENT);

    memset(&info, CANARY_BYTE, sizeof(info));
    CHECK(smpboot_madt_parse(NULL, size, &info, &cpu, 1, &nmi, 1)
          == SMPBOOT_ERR_INVALID_ARGUMENT);
    CHECK(info_is_zero(&info));

    memset(&info, CANARY_BYTE, sizeof(info));
    memset(&nmi, CANARY_BYTE, sizeof(nmi));
    CHECK(smpboot_madt_parse(table, size, &info, NULL, 1, &nmi, 1)
          == SMPBOOT_ERR_INVALID_ARGUMENT);
    CHECK(info_is_zero(&info));
    CHECK(is_canary(&nmi, sizeof(nmi)));

    memset(&info, CANARY_BYTE, sizeof(info));
    memset(&cpu, CANARY_BYTE, sizeof(cpu));
    CHECK(smpboot_madt_parse(table, size, &info, &cpu, 1, NULL, 1)
          == SMPBOOT_ERR_INVALID_ARGUMENT);
    CHECK(info_is_zero(&info));
    CHECK(is_canary(&cpu, sizeof(cpu)));
}

static size_t add_mapping(size_t *mappings, size_t count, size_t mapped, size_t size)
{
    if (mapped > size) {
        return count;
    }
    for (size_t i = 0; i < count; i++) {
        if (mappings[i] == mapped) {
            return count;
        }
    }
    mappings[count] = mapped;
    return count + 1;
}

/* Every check, on every mapping, for one table. */
static void fuzz_table(const uint8_t *data, size_t size)
{
    struct table_facts facts = table_facts_of(data, size);

    /*
     * The whole input first: the other mappings are compared with it. Then
     * exactly the table's length, where ASan sees a read past the table; and
     * a few below it, which must fail without reading past the mapping. A
     * mapping between the length and the size would only repeat the work.
     */
    size_t below_length = facts.has_length ? facts.length : size;
    size_t mappings[MAX_MAPPED_VARIANTS];
    size_t mapping_count = 0;
    mapping_count = add_mapping(mappings, mapping_count, size, size);
    if (facts.has_length) {
        mapping_count = add_mapping(mappings, mapping_count, facts.length, size);
        if (facts.length > 0) {
            mapping_count = add_mapping(mappings, mapping_count, facts.length - 1, size);
        }
    }
    if (size > 0 && size - 1 < below_length) {
        mapping_count = add_mapping(mappings, mapping_count, size - 1, size);
    }
    if (size > 0 && data[size - 1] % (size + 1) < below_length) {
        mapping_count = add_mapping(mappings, mapping_count, data[size - 1] % (size + 1), size);
    }

    struct parse_call whole = parse_with_mapping(&facts, mappings[0]);
    for (size_t i = 1; i < mapping_count; i++) {
        size_t mapped = mappings[i];
        struct parse_call part = parse_with_mapping(&facts, mapped);
        bool covers_table = facts.has_length && mapped >= MADT_LENGTH_FIELD_END
                            && facts.length <= mapped;
        if (covers_table) {
            /* Only the table's own length matters once it is all mapped. */
            check_identical(&part, &whole);
        } else {
            CHECK_FOR(&part, part.status == SMPBOOT_ERR_MALFORMED_TABLE);
        }
        parse_call_free(&part);
    }
    parse_call_free(&whole);

    check_bad_arguments(data, size);
}

/*
 * Nearly every mutation of an entry breaks the checksum, and the parser then
 * stops before the entries. So an input whose checksum fails is also tried
 * with its checksum byte set to make the covered bytes sum to zero, which
 * lets the fuzzer reach the entry walk from any mutation.
 */
static void fuzz_with_checksum_repaired(const uint8_t *data, size_t size)
{
    if (size < MADT_LENGTH_FIELD_END) {
        return;
    }
    size_t covered = read_le32(data + 4);
    if (covered > size) {
        covered = size;
    }
    if (covered <= MADT_CHECKSUM_OFFSET || sums_to_zero(data, covered)) {
        return;
    }
    uint8_t *repaired = checked_alloc(size);
    memcpy(repaired, data, size);
    uint8_t sum = 0;
    for (size_t i = 0; i < covered; i++) {
        sum = (uint8_t)(sum + repaired[i]);
    }
    repaired[MADT_CHECKSUM_OFFSET] = (uint8_t)(repaired[MADT_CHECKSUM_OFFSET] - sum);
    fuzz_table(repaired, size);
    free(repaired);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_table(data, size);
    fuzz_with_checksum_repaired(data, size);
    return 0;
}
