/*
 * The minikernel's frame allocator against libsmpboot's alloc_frames
 * contract: limit, alignment, contiguity, whole frees, and no frame handed
 * out twice. Runs on the host: frames.c is plain C.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frames.h"
#include "multiboot.h"
#include "stub_console.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define PAGE 4096ull

/* Like QEMU's map for a 128 MiB guest; the kernel image at 1-2 MiB. */
static void init_small_guest(void)
{
    static struct bootinfo info;
    memset(&info, 0, sizeof(info));
    info.ranges[0] = (struct memory_range){ 0, 0x9FC00, MULTIBOOT_MEMORY_AVAILABLE };
    info.ranges[1] = (struct memory_range){ 0x9FC00, 0x400, MULTIBOOT_MEMORY_RESERVED };
    info.ranges[2] = (struct memory_range){ 0xF0000, 0x10000, MULTIBOOT_MEMORY_RESERVED };
    info.ranges[3] = (struct memory_range){ 0x100000, 0x7EE0000, MULTIBOOT_MEMORY_AVAILABLE };
    info.ranges[4] = (struct memory_range){ 0x7FE0000, 0x20000, MULTIBOOT_MEMORY_RESERVED };
    info.range_count = 5;
    stub_console_reset();
    frames_init(&info, 0x100000, 0x200000);
}

/* Below 1 MiB: 0x1000-0x9F000 (page 0 and the partial last page excluded). */
#define LOW_FRAMES ((0x9F000 - 0x1000) / PAGE)
/* Above: 2 MiB (after the image) to 0x7FE0000. */
#define HIGH_FRAMES ((0x7FE0000 - 0x200000) / PAGE)

static void test_init_counts_only_whole_available_frames(void **state)
{
    (void)state;
    init_small_guest();
    assert_int_equal(frames_free_count(), LOW_FRAMES + HIGH_FRAMES);
    assert_int_equal(frames_memory_top(), 0x7FE0000);
}

static void test_overlapping_map_entries_count_once(void **state)
{
    (void)state;
    static struct bootinfo info;
    memset(&info, 0, sizeof(info));
    info.ranges[0] = (struct memory_range){ 0x100000, 4 * MIB, MULTIBOOT_MEMORY_AVAILABLE };
    info.ranges[1] = (struct memory_range){ 0x300000, 4 * MIB, MULTIBOOT_MEMORY_AVAILABLE };
    info.range_count = 2;
    frames_init(&info, 0, 0);
    assert_int_equal(frames_free_count(), (0x700000 - 0x100000) / PAGE);
}

static void test_highest_frames_come_first(void **state)
{
    (void)state;
    init_small_guest();
    uint64_t phys;
    assert_int_equal(frames_alloc(1, 0, UINT64_MAX, PAGE, &phys), SMPBOOT_OK);
    assert_int_equal(phys, 0x7FE0000 - PAGE);
    assert_int_equal(frames_alloc(2, 0, UINT64_MAX, PAGE, &phys), SMPBOOT_OK);
    assert_int_equal(phys, 0x7FE0000 - 3 * PAGE);
    assert_int_equal(frames_free_count(), LOW_FRAMES + HIGH_FRAMES - 3);
}

static void test_limit_is_an_exclusive_bound_on_the_last_byte(void **state)
{
    (void)state;
    init_small_guest();
    uint64_t phys;
    /* The trampoline's request: one page below 1 MiB. */
    assert_int_equal(frames_alloc(1, 0, 0x100000, PAGE, &phys), SMPBOOT_OK);
    assert_int_equal(phys, 0x9F000 - PAGE);
    /* A limit inside a free range: the block ends exactly at it. */
    assert_int_equal(frames_alloc(4, 0, 0x400000, PAGE, &phys), SMPBOOT_OK);
    assert_int_equal(phys + 4 * PAGE, 0x400000);
    /* Nothing below 4 KiB can hold a page: page 0 is reserved. */
    assert_int_equal(frames_alloc(1, 0, 0x1000, PAGE, &phys), SMPBOOT_ERR_NO_MEMORY);
}

static void test_alignment_is_honoured(void **state)
{
    (void)state;
    init_small_guest();
    uint64_t phys;
    /* Take one page off the top, so the top is no longer 2 MiB aligned. */
    assert_int_equal(frames_alloc(1, 0, UINT64_MAX, PAGE, &phys), SMPBOOT_OK);
    for (uint64_t align = PAGE; align <= 4 * MIB; align <<= 1) {
        assert_int_equal(frames_alloc(3, 0, UINT64_MAX, align, &phys), SMPBOOT_OK);
        assert_int_equal(phys % align, 0);
    }
}

static void test_min_is_honoured(void **state)
{
    (void)state;
    init_small_guest();
    uint64_t phys;
    assert_int_equal(frames_alloc(1, 0x4000000, 0x5000000, PAGE, &phys), SMPBOOT_OK);
    assert_true(phys >= 0x4000000 && phys + PAGE <= 0x5000000);
    assert_int_equal(frames_alloc(1, 4 * GIB, UINT64_MAX, PAGE, &phys), SMPBOOT_ERR_NO_MEMORY);
}

static void test_bad_requests_are_rejected(void **state)
{
    (void)state;
    init_small_guest();
    uint64_t phys = 0;
    uint64_t before = frames_free_count();
    assert_int_equal(frames_alloc(0, 0, UINT64_MAX, PAGE, &phys), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(frames_alloc(1, 0, UINT64_MAX, 0, &phys), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(frames_alloc(1, 0, UINT64_MAX, 2048, &phys), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(frames_alloc(1, 0, UINT64_MAX, 3 * PAGE, &phys), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(frames_alloc(1, 0, UINT64_MAX, PAGE, NULL), SMPBOOT_ERR_INVALID_ARGUMENT);
    assert_int_equal(frames_alloc(SIZE_MAX, 0, UINT64_MAX, PAGE, &phys),
                     SMPBOOT_ERR_INVALID_ARGUMENT);
    /* Larger than all memory. */
    assert_int_equal(frames_alloc(HIGH_FRAMES + 1, 0, UINT64_MAX, PAGE, &phys),
                     SMPBOOT_ERR_NO_MEMORY);
    assert_int_equal(frames_free_count(), before);
}

static void test_free_merges_and_rejects_double_frees(void **state)
{
    (void)state;
    init_small_guest();
    uint64_t a, b, c;
    assert_int_equal(frames_alloc(8, 0, UINT64_MAX, PAGE, &a), SMPBOOT_OK);
    assert_int_equal(frames_alloc(8, 0, UINT64_MAX, PAGE, &b), SMPBOOT_OK);
    assert_int_equal(frames_alloc(8, 0, UINT64_MAX, PAGE, &c), SMPBOOT_OK);
    /* Free the middle block first, so the free list has a hole to close. */
    assert_true(frames_free(b, 8));
    assert_false(frames_free(b, 8));          /* twice */
    assert_false(frames_free(b + PAGE, 2));   /* part of a free block */
    assert_false(frames_free(a + 1, 1));      /* unaligned */
    assert_false(frames_free(a, 0));
    assert_true(frames_free(a, 8));
    assert_true(frames_free(c, 8));
    assert_int_equal(frames_free_count(), LOW_FRAMES + HIGH_FRAMES);
    /* All merged back: the whole high range is one block again. */
    uint64_t all;
    assert_int_equal(frames_alloc(HIGH_FRAMES, 0, UINT64_MAX, PAGE, &all), SMPBOOT_OK);
    assert_int_equal(all, 0x200000);
}

/*
 * Random allocations and frees, checked against a shadow map of the
 * frames: nothing handed out twice, every block within its bounds, and the
 * free count exact throughout.
 */
static void test_random_allocations_never_overlap(void **state)
{
    (void)state;
    init_small_guest();
    const uint64_t frames_total = 0x7FE0000 / PAGE;
    uint8_t *owned = calloc(frames_total, 1);
    assert_non_null(owned);
    struct block {
        uint64_t phys;
        size_t pages;
    } blocks[256];
    size_t block_count = 0;
    uint64_t expected_free = frames_free_count();
    unsigned seed = 12345;

    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        bool allocate = block_count == 0 || (block_count < 256 && (seed >> 16) % 3 != 0);
        if (allocate) {
            size_t pages = 1 + (seed >> 8) % 64;
            uint64_t align = PAGE << ((seed >> 4) % 6);
            uint64_t limit = (seed & 1) ? 0x100000 : UINT64_MAX;
            uint64_t phys;
            enum smpboot_status status = frames_alloc(pages, 0, limit, align, &phys);
            if (status == SMPBOOT_ERR_NO_MEMORY)
                continue;
            assert_int_equal(status, SMPBOOT_OK);
            assert_int_equal(phys % align, 0);
            assert_true(phys + pages * PAGE <= limit);
            for (size_t i = 0; i < pages; i++) {
                assert_int_equal(owned[phys / PAGE + i], 0);
                owned[phys / PAGE + i] = 1;
            }
            blocks[block_count++] = (struct block){ phys, pages };
            expected_free -= pages;
        } else {
            size_t victim = (seed >> 8) % block_count;
            struct block b = blocks[victim];
            assert_true(frames_free(b.phys, b.pages));
            for (size_t i = 0; i < b.pages; i++)
                owned[b.phys / PAGE + i] = 0;
            blocks[victim] = blocks[--block_count];
            expected_free += b.pages;
        }
        assert_int_equal(frames_free_count(), expected_free);
    }
    /* Page 0 and the kernel image were never handed out. */
    assert_int_equal(owned[0], 0);
    for (uint64_t f = 0x100000 / PAGE; f < 0x200000 / PAGE; f++)
        assert_int_equal(owned[f], 0);
    free(owned);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_counts_only_whole_available_frames),
        cmocka_unit_test(test_overlapping_map_entries_count_once),
        cmocka_unit_test(test_highest_frames_come_first),
        cmocka_unit_test(test_limit_is_an_exclusive_bound_on_the_last_byte),
        cmocka_unit_test(test_alignment_is_honoured),
        cmocka_unit_test(test_min_is_honoured),
        cmocka_unit_test(test_bad_requests_are_rejected),
        cmocka_unit_test(test_free_merges_and_rejects_double_frees),
        cmocka_unit_test(test_random_allocations_never_overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
