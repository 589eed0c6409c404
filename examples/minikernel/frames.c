/* Free-range list allocator. See frames.h. */
#include "frames.h"

#include "console.h"
#include "multiboot.h"

/* Each split of a range costs one entry; the guests we boot need a handful. */
#define FREE_RANGES_MAX 256

struct free_range {
    uint64_t start; /* page-aligned */
    uint64_t end;   /* exclusive, page-aligned */
};

static struct free_range ranges[FREE_RANGES_MAX]; /* sorted by start, disjoint, not adjacent */
static uint32_t range_count;
static uint64_t free_frames;
static uint64_t memory_top;

static uint64_t align_up(uint64_t value, uint64_t align)
{
    return (value + align - 1) & ~(align - 1);
}

static uint64_t align_down(uint64_t value, uint64_t align)
{
    return value & ~(align - 1);
}

static void remove_at(uint32_t index)
{
    for (uint32_t i = index; i + 1 < range_count; i++)
        ranges[i] = ranges[i + 1];
    range_count--;
}

static bool insert_at(uint32_t index, uint64_t start, uint64_t end)
{
    if (range_count == FREE_RANGES_MAX)
        return false;
    for (uint32_t i = range_count; i > index; i--)
        ranges[i] = ranges[i - 1];
    ranges[index] = (struct free_range){ start, end };
    range_count++;
    return true;
}

/*
 * Add [start, end) to the free list, merging with neighbours. false if it
 * overlaps a free range (a double free) or the table is full.
 */
static bool add_free(uint64_t start, uint64_t end)
{
    uint32_t i = 0;
    while (i < range_count && ranges[i].start < start)
        i++;
    /* ranges[i - 1] starts before us, ranges[i] at or after us. */
    if (i > 0 && ranges[i - 1].end > start)
        return false;
    if (i < range_count && ranges[i].start < end)
        return false;

    bool joins_previous = i > 0 && ranges[i - 1].end == start;
    bool joins_next = i < range_count && ranges[i].start == end;
    if (joins_previous && joins_next) {
        ranges[i - 1].end = ranges[i].end;
        remove_at(i);
    } else if (joins_previous) {
        ranges[i - 1].end = end;
    } else if (joins_next) {
        ranges[i].start = start;
    } else if (!insert_at(i, start, end)) {
        return false;
    }
    free_frames += (end - start) / FRAME_SIZE;
    return true;
}

/* Take [start, end) out of whatever free ranges it overlaps. */
static void reserve(uint64_t start, uint64_t end)
{
    start = align_down(start, FRAME_SIZE);
    end = align_up(end, FRAME_SIZE);
    for (uint32_t i = 0; i < range_count;) {
        struct free_range *r = &ranges[i];
        if (r->end <= start || r->start >= end) {
            i++;
            continue;
        }
        uint64_t cut_start = r->start > start ? r->start : start;
        uint64_t cut_end = r->end < end ? r->end : end;
        free_frames -= (cut_end - cut_start) / FRAME_SIZE;
        if (cut_start == r->start && cut_end == r->end) {
            remove_at(i);
        } else if (cut_start == r->start) {
            r->start = cut_end;
            i++;
        } else if (cut_end == r->end) {
            r->end = cut_start;
            i++;
        } else {
            uint64_t tail_end = r->end;
            r->end = cut_start;
            if (!insert_at(i + 1, cut_end, tail_end))
                free_frames -= (tail_end - cut_end) / FRAME_SIZE; /* lost, but never handed out */
            i += 2;
        }
    }
}

void frames_init(const struct bootinfo *info, uint64_t reserved_start, uint64_t reserved_end)
{
    range_count = 0;
    free_frames = 0;
    memory_top = 0;
    for (uint32_t i = 0; i < info->range_count; i++) {
        const struct memory_range *m = &info->ranges[i];
        if (m->type != MULTIBOOT_MEMORY_AVAILABLE)
            continue;
        /* Only whole frames inside the range are usable. */
        uint64_t start = align_up(m->base, FRAME_SIZE);
        uint64_t end = align_down(m->base + m->length, FRAME_SIZE);
        if (end <= start)
            continue;
        if (end > memory_top)
            memory_top = end;
        /* Overlapping map entries (seen in firmware maps) must not count twice. */
        reserve(start, end);
        if (!add_free(start, end))
            kprintf("minikernel: warning: frame table full, 0x%llx-0x%llx unused\n",
                    (unsigned long long)start, (unsigned long long)end);
    }
    /* Page 0 holds the real-mode IVT, and a zero address looks like NULL. */
    reserve(0, FRAME_SIZE);
    reserve(reserved_start, reserved_end);
}

enum smpboot_status frames_alloc(size_t pages, uint64_t min, uint64_t limit, uint64_t align,
                                 uint64_t *phys)
{
    if (!phys || pages == 0 || pages > (1ull << 40) / FRAME_SIZE)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (align < FRAME_SIZE || (align & (align - 1)) != 0)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    uint64_t bytes = (uint64_t)pages * FRAME_SIZE;

    /* Highest first: from the top range down, the top of each range down. */
    for (uint32_t i = range_count; i-- > 0;) {
        struct free_range *r = &ranges[i];
        uint64_t top = r->end < limit ? r->end : limit;
        if (top < bytes)
            continue;
        uint64_t start = align_down(top - bytes, align);
        if (start < min)
            break; /* every lower range gives a lower start */
        if (start < r->start)
            continue;

        uint64_t end = start + bytes;
        if (start == r->start && end == r->end) {
            remove_at(i);
        } else if (start == r->start) {
            r->start = end;
        } else if (end == r->end) {
            r->end = start;
        } else {
            /* A split needs a table entry; without one, try elsewhere. */
            if (range_count == FREE_RANGES_MAX)
                continue;
            uint64_t tail_end = r->end;
            r->end = start;
            insert_at(i + 1, end, tail_end);
        }
        free_frames -= pages;
        *phys = start;
        return SMPBOOT_OK;
    }
    return SMPBOOT_ERR_NO_MEMORY;
}

bool frames_free(uint64_t phys, size_t pages)
{
    if (pages == 0 || phys % FRAME_SIZE != 0 || pages > (1ull << 40) / FRAME_SIZE)
        return false;
    return add_free(phys, phys + (uint64_t)pages * FRAME_SIZE);
}

uint64_t frames_free_count(void)
{
    return free_frames;
}

uint64_t frames_memory_top(void)
{
    return memory_top;
}
