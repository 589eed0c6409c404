/*
 * mb2kernel: physical frames, from the Multiboot 2 memory map.
 *
 * Two pools:
 *  - the low reserve: ONE page below 1 MiB, chosen before anything else
 *    allocates, for libsmpboot's trampoline (a SIPI can only start a CPU
 *    below 1 MiB, and under UEFI little low memory is left, so a kernel that
 *    does not set a page aside early may have none by the time it brings up
 *    its APs). Requests whose limit is 1 MiB or less are served from it only.
 *  - everything else between 1 MiB and 4 GiB (what boot.S identity-maps),
 *    minus the kernel image and the Multiboot 2 information: a sorted list
 *    of free ranges, served from the top down so that memory below 4 GiB
 *    that others need stays free as long as possible.
 */
#include "kernel.h"

/* SIPI vectors 0xA0-0xBF are reserved and 0xA0000 up is video memory and
 * ROM; page 0 is the real-mode IVT (docs/trampoline.md). */
#define LOW_RESERVE_FLOOR 0x1000ull
#define LOW_RESERVE_CEILING 0xA0000ull

#define MAX_RANGES 128u

struct range {
    uint64_t base;
    uint64_t end; /* exclusive */
};

static struct range free_ranges[MAX_RANGES];
static uint32_t range_count;
static uint64_t low_reserve;      /* 0: none found */
static bool low_reserve_taken;
static uint64_t pages_free;

static uint64_t align_up(uint64_t value, uint64_t align)
{
    return (value + align - 1) & ~(align - 1);
}

static uint64_t align_down(uint64_t value, uint64_t align)
{
    return value & ~(align - 1);
}

/* Insert [base, end) into the sorted list, merging with neighbours. */
static bool range_insert(uint64_t base, uint64_t end)
{
    if (base >= end)
        return true;
    uint32_t at = 0;
    while (at < range_count && free_ranges[at].base < base)
        at++;
    bool joins_previous = at > 0 && free_ranges[at - 1].end == base;
    bool joins_next = at < range_count && free_ranges[at].base == end;
    if (joins_previous && joins_next) {
        free_ranges[at - 1].end = free_ranges[at].end;
        memmove(&free_ranges[at], &free_ranges[at + 1],
                (range_count - at - 1) * sizeof(free_ranges[0]));
        range_count--;
    } else if (joins_previous) {
        free_ranges[at - 1].end = end;
    } else if (joins_next) {
        free_ranges[at].base = base;
    } else {
        if (range_count == MAX_RANGES)
            return false;
        memmove(&free_ranges[at + 1], &free_ranges[at],
                (range_count - at) * sizeof(free_ranges[0]));
        free_ranges[at].base = base;
        free_ranges[at].end = end;
        range_count++;
    }
    return true;
}

/* Remove [base, end) from whatever ranges it overlaps. */
static void range_remove(uint64_t base, uint64_t end)
{
    for (uint32_t i = 0; i < range_count; i++) {
        struct range *r = &free_ranges[i];
        if (r->end <= base || r->base >= end)
            continue;
        if (r->base >= base && r->end <= end) {
            memmove(r, r + 1, (range_count - i - 1) * sizeof(*r));
            range_count--;
            i--;
        } else if (r->base < base && r->end > end) {
            uint64_t tail_end = r->end;
            r->end = base;
            if (!range_insert(end, tail_end))
                panic("frames: more than %u free ranges", MAX_RANGES);
        } else if (r->base < base) {
            r->end = base;
        } else {
            r->base = end;
        }
    }
}

static bool overlaps(uint64_t a_base, uint64_t a_end, uint64_t b_base, uint64_t b_end)
{
    return a_base < b_end && b_base < a_end;
}

/*
 * The highest page in [LOW_RESERVE_FLOOR, LOW_RESERVE_CEILING) that lies
 * wholly in an available region, in no unavailable one (maps may overlap),
 * and not under the information structure.
 */
static uint64_t pick_low_reserve(const struct boot_info *info)
{
    uint64_t info_end = info->info_phys + info->info_size;
    for (uint64_t page = LOW_RESERVE_CEILING - PAGE_SIZE; page >= LOW_RESERVE_FLOOR;
         page -= PAGE_SIZE) {
        bool available = false;
        bool blocked = overlaps(page, page + PAGE_SIZE, info->info_phys, info_end);
        for (uint32_t i = 0; i < info->memory_count && !blocked; i++) {
            const struct mb2_memory_region *m = &info->memory[i];
            uint64_t m_end = m->base + m->length;
            if (m->type == MB2_MEMORY_AVAILABLE) {
                if (m->base <= page && page + PAGE_SIZE <= m_end)
                    available = true;
            } else if (overlaps(page, page + PAGE_SIZE, m->base, m_end)) {
                blocked = true;
            }
        }
        if (available && !blocked)
            return page;
    }
    return 0;
}

void frames_init(const struct boot_info *info)
{
    /* First, before anything can take it: the trampoline's page. */
    low_reserve = pick_low_reserve(info);
    if (low_reserve == 0)
        kprintf("mb2kernel: memory: no free page below 0xA0000 for the AP trampoline\n");
    else
        kprintf("mb2kernel: memory: page %#lx reserved for the AP trampoline\n", low_reserve);

    for (uint32_t i = 0; i < info->memory_count; i++) {
        const struct mb2_memory_region *m = &info->memory[i];
        if (m->type != MB2_MEMORY_AVAILABLE)
            continue;
        uint64_t base = align_up(m->base, PAGE_SIZE);
        uint64_t end = align_down(m->base + m->length, PAGE_SIZE);
        if (base < LOW_MEMORY_LIMIT)
            base = LOW_MEMORY_LIMIT;
        if (end > IDENTITY_MAP_LIMIT)
            end = IDENTITY_MAP_LIMIT;
        if (base < end && !range_insert(base, end))
            panic("frames: more than %u free ranges", MAX_RANGES);
    }
    /* A firmware map may list a region both available and reserved. */
    for (uint32_t i = 0; i < info->memory_count; i++) {
        const struct mb2_memory_region *m = &info->memory[i];
        if (m->type != MB2_MEMORY_AVAILABLE)
            range_remove(align_down(m->base, PAGE_SIZE),
                         align_up(m->base + m->length, PAGE_SIZE));
    }
    range_remove(align_down((uintptr_t)kernel_image_start, PAGE_SIZE),
                 align_up((uintptr_t)kernel_image_end, PAGE_SIZE));
    range_remove(align_down(info->info_phys, PAGE_SIZE),
                 align_up(info->info_phys + info->info_size, PAGE_SIZE));

    pages_free = 0;
    for (uint32_t i = 0; i < range_count; i++)
        pages_free += (free_ranges[i].end - free_ranges[i].base) / PAGE_SIZE;
    kprintf("mb2kernel: memory: %lu MiB free between 1 MiB and 4 GiB in %u ranges%s\n",
            pages_free / 256, range_count,
            info->memory_truncated ? " (memory map truncated)" : "");
}

uint64_t frames_low_reserve(void)
{
    return low_reserve;
}

uint64_t frames_free_pages(void)
{
    return pages_free + (low_reserve && !low_reserve_taken ? 1 : 0);
}

enum smpboot_status frames_alloc(void *ctx, size_t pages, uint64_t limit, uint64_t align,
                                 uint64_t *phys)
{
    (void)ctx;
    if (pages == 0 || align < PAGE_SIZE || (align & (align - 1)) != 0 || phys == NULL)
        return SMPBOOT_ERR_INVALID_ARGUMENT;

    if (limit <= LOW_MEMORY_LIMIT) {
        if (pages != 1 || low_reserve == 0 || low_reserve_taken ||
            low_reserve + PAGE_SIZE > limit || low_reserve % align != 0)
            return SMPBOOT_ERR_NO_MEMORY;
        low_reserve_taken = true;
        *phys = low_reserve;
        return SMPBOOT_OK;
    }

    if (pages > (IDENTITY_MAP_LIMIT / PAGE_SIZE))
        return SMPBOOT_ERR_NO_MEMORY;
    uint64_t size = (uint64_t)pages * PAGE_SIZE;
    uint64_t ceiling = limit < IDENTITY_MAP_LIMIT ? limit : IDENTITY_MAP_LIMIT;
    for (uint32_t i = range_count; i-- > 0;) {
        struct range *r = &free_ranges[i];
        uint64_t top = r->end < ceiling ? r->end : ceiling;
        if (top < r->base + size)
            continue;
        uint64_t base = align_down(top - size, align);
        if (base < r->base)
            continue;
        uint64_t end = base + size;
        /* Carve [base, end) out: the part above it, if any, needs a new entry. */
        if (end < r->end) {
            uint64_t tail_end = r->end;
            r->end = base;
            if (!range_insert(end, tail_end)) {
                r->end = tail_end;
                return SMPBOOT_ERR_NO_MEMORY;
            }
        } else {
            r->end = base;
        }
        if (free_ranges[i].base == free_ranges[i].end) {
            memmove(&free_ranges[i], &free_ranges[i + 1],
                    (range_count - i - 1) * sizeof(free_ranges[0]));
            range_count--;
        }
        pages_free -= pages;
        *phys = base;
        return SMPBOOT_OK;
    }
    return SMPBOOT_ERR_NO_MEMORY;
}

void frames_free(void *ctx, uint64_t phys, size_t pages)
{
    (void)ctx;
    if (low_reserve != 0 && phys == low_reserve) {
        if (pages != 1 || !low_reserve_taken)
            panic("frames: bad free of the low reserve (%zu pages)", pages);
        low_reserve_taken = false;
        return;
    }
    if (!range_insert(phys, phys + (uint64_t)pages * PAGE_SIZE))
        panic("frames: more than %u free ranges", MAX_RANGES);
    pages_free += pages;
}
