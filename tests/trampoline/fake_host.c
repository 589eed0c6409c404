#include "fake_host.h"

#include <string.h>

#define PAGE 4096u
#define JUNK 0xA5u  /* fresh frames are not zeroed: the library must not rely on it */

struct region {
    uint64_t base;
    unsigned pages;
    uint8_t *memory;
    bool *used;
};

static uint8_t low_memory[FAKE_LOW_PAGES * PAGE] __attribute__((aligned(4096)));
static uint8_t mid_memory[FAKE_MID_PAGES * PAGE] __attribute__((aligned(4096)));
static uint8_t high_memory[FAKE_HIGH_PAGES * PAGE] __attribute__((aligned(4096)));
static bool low_used[FAKE_LOW_PAGES];
static bool mid_used[FAKE_MID_PAGES];
static bool high_used[FAKE_HIGH_PAGES];

static struct region regions[] = {
    {FAKE_LOW_BASE, FAKE_LOW_PAGES, low_memory, low_used},
    {FAKE_MID_BASE, FAKE_MID_PAGES, mid_memory, mid_used},
    {FAKE_HIGH_BASE, FAKE_HIGH_PAGES, high_memory, high_used},
};
#define REGION_COUNT (sizeof(regions) / sizeof(regions[0]))

static struct region *region_of(uint64_t phys, size_t pages)
{
    for (size_t r = 0; r < REGION_COUNT; r++) {
        uint64_t end = regions[r].base + (uint64_t)regions[r].pages * PAGE;
        if (phys >= regions[r].base && phys + pages * PAGE <= end)
            return &regions[r];
    }
    return NULL;
}

static void mark(uint64_t phys, size_t pages, bool used)
{
    struct region *region = region_of(phys, pages);
    if (region == NULL || phys % PAGE != 0)
        return;  /* a bad page handed out on purpose: nothing to mark */
    for (size_t i = 0; i < pages; i++)
        region->used[(phys - region->base) / PAGE + i] = used;
}

static void record_allocation(struct fake_host *fake, uint64_t phys, size_t pages)
{
    if (fake->allocation_count < FAKE_MAX_RECORDS)
        fake->allocations[fake->allocation_count++] =
            (struct fake_allocation){.phys = phys, .pages = pages, .live = true};
}

/* First fit in the region the limit points at: low memory for "below 1 MiB", else the middle. */
static enum smpboot_status fake_alloc(void *ctx, size_t pages, uint64_t limit, uint64_t align,
                                      uint64_t *phys)
{
    struct fake_host *fake = ctx;
    unsigned call = ++fake->alloc_calls;
    if (call <= FAKE_MAX_RECORDS)
        fake->last_alloc_limit[call - 1] = limit;
    if (call == fake->fail_alloc_call)
        return fake->fail_alloc_status;

    bool low = limit <= 0x100000u;
    if (low && fake->hand_out_bad_page) {
        fake->hand_out_bad_page = false;
        *phys = fake->bad_page;
        record_allocation(fake, *phys, pages);
        return SMPBOOT_OK;
    }

    struct region *region = low ? &regions[0] : &regions[1];
    uint64_t first = low ? FAKE_LOW_FIRST_FREE : region->base;
    for (uint64_t start = first; start + pages * PAGE <= region->base + region->pages * PAGE;
         start += PAGE) {
        if (start % align != 0 || start + pages * PAGE > limit)
            continue;
        bool free_run = true;
        for (size_t i = 0; i < pages && free_run; i++)
            free_run = !region->used[(start - region->base) / PAGE + i];
        if (!free_run)
            continue;
        mark(start, pages, true);
        record_allocation(fake, start, pages);
        memset(fake_phys(fake, start), JUNK, pages * PAGE);
        *phys = start;
        return SMPBOOT_OK;
    }
    return SMPBOOT_ERR_NO_MEMORY;
}

static void fake_free(void *ctx, uint64_t phys, size_t pages)
{
    struct fake_host *fake = ctx;
    for (unsigned i = 0; i < fake->allocation_count; i++) {
        struct fake_allocation *a = &fake->allocations[i];
        if (a->live && a->phys == phys && a->pages == pages) {
            a->live = false;
            mark(phys, pages, false);
            return;
        }
    }
    fake->bad_frees++;
}

static void *fake_phys_to_virt(void *ctx, uint64_t phys)
{
    struct fake_host *fake = ctx;
    if (fake->unreadable_phys != 0 && phys == fake->unreadable_phys)
        return NULL;
    return fake_phys(fake, phys);
}

static enum smpboot_status fake_map(void *ctx, uint64_t virt, uint64_t phys, size_t pages,
                                    uint32_t flags)
{
    struct fake_host *fake = ctx;
    if (fake->map_status != SMPBOOT_OK)
        return fake->map_status;
    if (fake->mapping_count < FAKE_MAX_RECORDS)
        fake->mappings[fake->mapping_count++] = (struct fake_mapping){
            .virt = virt, .phys = phys, .pages = pages, .flags = flags, .live = true};
    return SMPBOOT_OK;
}

static void fake_unmap(void *ctx, uint64_t virt, size_t pages)
{
    struct fake_host *fake = ctx;
    for (unsigned i = 0; i < fake->mapping_count; i++) {
        struct fake_mapping *m = &fake->mappings[i];
        if (m->live && m->virt == virt && m->pages == pages) {
            m->live = false;
            return;
        }
    }
    fake->bad_unmaps++;
}

void fake_host_init(struct fake_host *fake, struct smpboot_host *host, bool with_map)
{
    memset(fake, 0, sizeof(*fake));
    for (size_t r = 0; r < REGION_COUNT; r++) {
        memset(regions[r].memory, JUNK, (size_t)regions[r].pages * PAGE);
        memset(regions[r].used, 0, regions[r].pages * sizeof(bool));
    }
    memset(host, 0, sizeof(*host));
    host->ctx = fake;
    host->alloc_frames = fake_alloc;
    host->free_frames = fake_free;
    host->phys_to_virt = fake_phys_to_virt;
    if (with_map) {
        host->map = fake_map;
        host->unmap = fake_unmap;
    }
}

void *fake_phys(struct fake_host *fake, uint64_t phys)
{
    (void)fake;
    struct region *region = region_of(phys, 0);
    if (region == NULL || phys == region->base + (uint64_t)region->pages * PAGE)
        return NULL;
    return region->memory + (phys - region->base);
}

unsigned fake_live_allocations(const struct fake_host *fake)
{
    unsigned live = 0;
    for (unsigned i = 0; i < fake->allocation_count; i++)
        live += fake->allocations[i].live;
    return live;
}

unsigned fake_live_mappings(const struct fake_host *fake)
{
    unsigned live = 0;
    for (unsigned i = 0; i < fake->mapping_count; i++)
        live += fake->mappings[i].live;
    return live;
}
