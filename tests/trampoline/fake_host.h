/*
 * A small fake kernel for the trampoline installer: "physical memory" in
 * three regions (below 1 MiB, below 4 GiB, above 4 GiB), a frame allocator
 * that can be told to fail or to hand out a bad page, and map/unmap calls
 * that are recorded. Every allocation and mapping is tracked, so a test can
 * check that nothing leaked.
 */
#ifndef SMPBOOT_TESTS_TRAMPOLINE_FAKE_HOST_H
#define SMPBOOT_TESTS_TRAMPOLINE_FAKE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <smpboot/smpboot.h>

/* The regions: addresses the fake hands out and translates. */
#define FAKE_LOW_BASE 0x0ull            /* 1 MiB: the trampoline page comes from here */
#define FAKE_LOW_PAGES 256u
#define FAKE_LOW_FIRST_FREE 0x8000ull   /* the allocator starts here, as a BIOS-era kernel would */
#define FAKE_MID_BASE 0x00400000ull     /* below 4 GiB: bootstrap tables */
#define FAKE_MID_PAGES 32u
#define FAKE_HIGH_BASE 0x200000000ull   /* 8 GiB: a kernel top-level table above 4 GiB */
#define FAKE_HIGH_PAGES 4u

#define FAKE_MAX_RECORDS 32u

struct fake_allocation {
    uint64_t phys;
    size_t pages;
    bool live;
};

struct fake_mapping {
    uint64_t virt;
    uint64_t phys;
    size_t pages;
    uint32_t flags;
    bool live;
};

struct fake_host {
    /* Behaviour the test chooses. */
    unsigned fail_alloc_call;            /* 1-based; 0: never fail */
    enum smpboot_status fail_alloc_status;
    bool hand_out_bad_page;              /* the next allocation below 1 MiB returns bad_page */
    uint64_t bad_page;
    enum smpboot_status map_status;      /* SMPBOOT_OK: map succeeds */
    uint64_t unreadable_phys;            /* phys_to_virt fails for this page (0: none) */

    /* What happened. */
    unsigned alloc_calls;
    uint64_t last_alloc_limit[FAKE_MAX_RECORDS];
    struct fake_allocation allocations[FAKE_MAX_RECORDS];
    unsigned allocation_count;
    struct fake_mapping mappings[FAKE_MAX_RECORDS];
    unsigned mapping_count;
    unsigned bad_frees;                  /* frees that matched no live allocation */
    unsigned bad_unmaps;                 /* unmaps that matched no live mapping */
};

/* Reset the fake (memory filled with a junk pattern) and point host at it. */
void fake_host_init(struct fake_host *fake, struct smpboot_host *host, bool with_map);

/* The fake's memory at phys, or NULL outside every region. */
void *fake_phys(struct fake_host *fake, uint64_t phys);

unsigned fake_live_allocations(const struct fake_host *fake);
unsigned fake_live_mappings(const struct fake_host *fake);

#endif
