/* libsmpboot's host callbacks. See host.h. */
#include "host.h"

#include "clock.h"
#include "console.h"
#include "format.h"
#include "frames.h"
#include "paging.h"

/* Allocations libsmpboot holds: its slot table, trampoline page, tables, stacks. */
#define ALLOCATIONS_MAX 2048
/* Its mappings: the trampoline's identity mapping, and stacks in a stack window. */
#define MAPPINGS_MAX 2048
#define DEFERRED_LOG_BYTES 8192
/* Ranges that must come back untouched (stacks of APs that never ran). */
#define WATCHED_MAX 256
/* An allocation whose limit is at most this is the trampoline page's. */
#define LOW_MEMORY_LIMIT 0x100000ull
#define SLOT_TABLE_LIMIT 0x100000000ull
/* What every frame handed out holds while poisoning is on: "POISON!!". */
#define POISON_PATTERN 0x21214E4F53494F50ull

struct allocation {
    uint64_t phys;
    uint64_t pages;
};

static struct allocation allocations[ALLOCATIONS_MAX];
static uint32_t allocation_count;
static uint64_t pages_held;

struct mapping {
    uint64_t virt;
    uint64_t pages;
};

static struct mapping mappings[MAPPINGS_MAX];
static uint32_t mapping_count;
static uint64_t pages_mapped;
static uint32_t contract_errors;

static bool poisoning;
static bool poisoning_freed;
struct watched {
    uint64_t phys;
    uint64_t pages;
};
static struct watched watched[WATCHED_MAX];
static uint32_t watched_count;
static struct host_watch_report watch_report;

static uint64_t low_page;
/*
 * The slot table's frames, for a post-mortem runner that reads guest memory
 * after a triple fault: struct smpboot is opaque, so the kernel notes the
 * first below-4 GiB allocation of each smpboot_start() (the library creates
 * the slot table before the trampoline and its bootstrap tables).
 */
static bool slot_table_armed;
static volatile uint64_t slot_table_phys;

static uint64_t skip_map_start, skip_map_end;
static uint64_t skip_map_pages;
static uint32_t maps_skipped;

static bool log_deferred;
static char deferred_log[DEFERRED_LOG_BYTES];
static size_t deferred_length;
static uint32_t deferred_dropped;

static void contract_error(const char *what, uint64_t address, uint64_t pages)
{
    contract_errors++;
    kprintf("minikernel: error: libsmpboot %s: 0x%llx, %llu pages\n", what,
            (unsigned long long)address, (unsigned long long)pages);
}

static void poison(uint64_t phys, uint64_t pages)
{
    volatile uint64_t *word = phys_to_virt(phys);
    for (uint64_t i = 0; i < pages * FRAME_SIZE / sizeof(uint64_t); i++)
        word[i] = POISON_PATTERN;
}

/* Offset of the first byte that lost the pattern, or -1 when it is whole. */
static int64_t first_unpoisoned(uint64_t phys, uint64_t pages)
{
    const volatile uint64_t *word = phys_to_virt(phys);
    for (uint64_t i = 0; i < pages * FRAME_SIZE / sizeof(uint64_t); i++)
        if (word[i] != POISON_PATTERN)
            return (int64_t)(i * sizeof(uint64_t));
    return -1;
}

/* A free of a watched range: the frames must still hold the pattern. */
static void check_watched(uint64_t phys, uint64_t pages)
{
    for (uint32_t i = 0; i < watched_count; i++) {
        if (watched[i].phys != phys)
            continue;
        int64_t dirty = first_unpoisoned(phys, pages);
        if (dirty < 0) {
            watch_report.freed_untouched++;
        } else {
            watch_report.freed_touched++;
            kprintf("minikernel: error: frames 0x%llx (%llu pages) were written although no CPU "
                    "should have run on them: first change at offset 0x%llx\n",
                    (unsigned long long)phys, (unsigned long long)pages,
                    (unsigned long long)dirty);
        }
        watched[i] = watched[--watched_count];
        return;
    }
}

static enum smpboot_status host_alloc_frames(void *ctx, size_t pages, uint64_t limit,
                                             uint64_t align, uint64_t *phys)
{
    (void)ctx;
    if (allocation_count == ALLOCATIONS_MAX)
        return SMPBOOT_ERR_NO_MEMORY; /* cannot track it, so do not hand it out */
    enum smpboot_status status = frames_alloc(pages, 0, limit, align, phys);
    if (status != SMPBOOT_OK)
        return status;
    allocations[allocation_count++] = (struct allocation){ *phys, pages };
    pages_held += pages;
    if (limit <= LOW_MEMORY_LIMIT)
        low_page = *phys;
    else if (slot_table_armed && limit == SLOT_TABLE_LIMIT) {
        slot_table_phys = *phys;
        slot_table_armed = false;
    }
    if (poisoning)
        poison(*phys, pages);
    return SMPBOOT_OK;
}

static void host_free_frames(void *ctx, uint64_t phys, size_t pages)
{
    (void)ctx;
    for (uint32_t i = 0; i < allocation_count; i++) {
        if (allocations[i].phys != phys)
            continue;
        if (allocations[i].pages != pages) {
            contract_error("freed part of an allocation", phys, pages);
            return;
        }
        allocations[i] = allocations[--allocation_count];
        pages_held -= pages;
        if (phys == slot_table_phys)
            slot_table_phys = 0;
        check_watched(phys, pages);
        if (poisoning_freed)
            poison(phys, pages);
        if (!frames_free(phys, pages))
            contract_error("freed frames that were free already", phys, pages);
        return;
    }
    contract_error("freed frames it never allocated", phys, pages);
}

static void *host_phys_to_virt(void *ctx, uint64_t phys)
{
    (void)ctx;
    return phys_to_virt(phys);
}

static enum smpboot_status host_map(void *ctx, uint64_t virt, uint64_t phys, size_t pages,
                                    uint32_t flags)
{
    (void)ctx;
    if (flags & ~(uint32_t)(SMPBOOT_MAP_WRITE | SMPBOOT_MAP_EXEC))
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (mapping_count == MAPPINGS_MAX)
        return SMPBOOT_ERR_MAP_FAILED; /* cannot track it, so do not make it */
    if (virt >= skip_map_start && virt < skip_map_end && pages == skip_map_pages) {
        /* The staged fault: say yes, map nothing (the unmap later finds nothing to clear). */
        maps_skipped++;
        mappings[mapping_count++] = (struct mapping){ virt, pages };
        pages_mapped += pages;
        return SMPBOOT_OK;
    }
    uint32_t access = 0;
    if (flags & SMPBOOT_MAP_WRITE)
        access |= PAGING_WRITE;
    if (flags & SMPBOOT_MAP_EXEC)
        access |= PAGING_EXEC;
    enum smpboot_status status = paging_map(virt, phys, pages, access);
    if (status == SMPBOOT_OK) {
        mappings[mapping_count++] = (struct mapping){ virt, pages };
        pages_mapped += pages;
    }
    return status;
}

static void host_unmap(void *ctx, uint64_t virt, size_t pages)
{
    (void)ctx;
    for (uint32_t i = 0; i < mapping_count; i++) {
        if (mappings[i].virt != virt)
            continue;
        if (mappings[i].pages != pages) {
            contract_error("unmapped part of a mapping", virt, pages);
            return;
        }
        mappings[i] = mappings[--mapping_count];
        pages_mapped -= pages;
        paging_unmap(virt, pages);
        return;
    }
    contract_error("unmapped what it never mapped", virt, pages);
}

static uint64_t host_now_ns(void *ctx)
{
    (void)ctx;
    return clock_now_ns();
}

static const char *level_name(enum smpboot_log_level level)
{
    switch (level) {
    case SMPBOOT_LOG_ERROR:
        return "error";
    case SMPBOOT_LOG_WARN:
        return "warning";
    case SMPBOOT_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

static void host_log(void *ctx, enum smpboot_log_level level, const char *message)
{
    (void)ctx;
    if (!log_deferred) {
        kprintf("libsmpboot: %s: %s\n", level_name(level), message);
        return;
    }
    char line[CONSOLE_LINE_MAX];
    size_t length = format(line, sizeof(line), "libsmpboot: %s: %s\n", level_name(level), message);
    if (length >= sizeof(line))
        length = sizeof(line) - 1;
    if (deferred_length + length > sizeof(deferred_log)) {
        deferred_dropped++;
        return;
    }
    for (size_t i = 0; i < length; i++)
        deferred_log[deferred_length + i] = line[i];
    deferred_length += length;
}

void host_defer_log(bool defer)
{
    log_deferred = defer;
}

void host_flush_log(void)
{
    size_t start = 0;
    for (size_t i = 0; i < deferred_length; i++) {
        if (deferred_log[i] == '\n') {
            kprintf("%.*s\n", (int)(i - start), deferred_log + start);
            start = i + 1;
        }
    }
    if (deferred_dropped)
        kprintf("libsmpboot: (%u log lines dropped while deferred)\n", deferred_dropped);
    deferred_length = 0;
    deferred_dropped = 0;
}

uint64_t host_pages_held(void)
{
    return pages_held;
}

uint64_t host_pages_mapped(void)
{
    return pages_mapped;
}

uint32_t host_contract_errors(void)
{
    return contract_errors;
}

void host_poison_frames(bool on)
{
    poisoning = on;
}

void host_poison_freed_frames(bool on)
{
    poisoning_freed = on;
}

bool host_watch_untouched(uint64_t phys, uint64_t pages)
{
    if (!poisoning || watched_count == WATCHED_MAX)
        return false;
    watched[watched_count++] = (struct watched){ phys, pages };
    watch_report.watched++;
    return true;
}

struct host_watch_report host_watch_results(void)
{
    struct host_watch_report report = watch_report;
    report.still_held = watched_count;
    return report;
}

void host_note_slot_table(void)
{
    slot_table_armed = true;
}

uint64_t host_slot_table_holder(void)
{
    return (uint64_t)(uintptr_t)&slot_table_phys - KERNEL_VMA_BASE;
}

uint64_t host_low_page(void)
{
    return low_page;
}

void host_skip_map(uint64_t start, uint64_t end, uint64_t pages)
{
    skip_map_start = start;
    skip_map_end = end;
    skip_map_pages = pages;
}

uint32_t host_maps_skipped(void)
{
    return maps_skipped;
}

void host_build(struct smpboot_host *host, const struct smpboot_apic_ops *apic)
{
    *host = (struct smpboot_host){
        .ctx = 0,
        .apic = *apic,
        .now_ns = host_now_ns,
        .alloc_frames = host_alloc_frames,
        .free_frames = host_free_frames,
        .phys_to_virt = host_phys_to_virt,
        .map = host_map,
        .unmap = host_unmap,
        .log = host_log,
        /* NULL: PAUSE. APs run this before our entry, with no IDT of ours to take a wake-up. */
        .relax = 0,
    };
}
