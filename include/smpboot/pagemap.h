/* SPDX-License-Identifier: MIT */
/*
 * libsmpboot: a ready-made identity mapper for the trampoline page, for a
 * kernel that has page tables but no map() of its own to hand the library.
 */
#ifndef SMPBOOT_PAGEMAP_H
#define SMPBOOT_PAGEMAP_H

#include <stdint.h>

#include "host.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Words of storage in struct smpboot_identity_map. */
#define SMPBOOT_IDENTITY_MAP_WORDS 16

/*
 * The mapper's state: storage only, kept by the kernel (unmoved) as long as
 * the session that uses it.
 */
struct smpboot_identity_map {
    uint64_t opaque[SMPBOOT_IDENTITY_MAP_WORDS];
};

/*
 * Make host->map and host->unmap the ready-made mapper, with `state` as
 * their context (host->map_ctx). host->ctx, alloc_frames, free_frames and
 * phys_to_virt must be set already: the mapper keeps a copy and uses them
 * for its tables. `top_table_phys` is the physical address of the top-level
 * page table the APs will use (CR3 without flags and PCID), or 0 for the
 * calling CPU's CR3 at each map. 4 levels, or 5 when CR4.LA57 is set.
 *
 * map() accepts what the library asks for the trampoline page: one page at
 * its identity address (virt == phys), read+exec (or +write), supervisor.
 * It allocates each missing table (one frame, zeroed; anywhere
 * phys_to_virt reaches), writes the entries (tables present+writable, the
 * leaf as asked, NX when exec was not asked and EFER.NXE is set) and
 * flushes the page on the calling CPU; unmap() clears the leaf, frees every
 * table map() created (clearing the entry that pointed to it) and flushes.
 * One mapping at a time. Errors of map(): SMPBOOT_ERR_UNSUPPORTED (more
 * than one page, virt != phys, a mapping already held: so not with
 * config.stack_window), SMPBOOT_ERR_MAP_FAILED (the page is already mapped,
 * or a large page covers it: then the kernel maps it already and wants
 * map = NULL), the allocator's error (nothing is left behind).
 */
void smpboot_identity_map_use(struct smpboot_host *host, struct smpboot_identity_map *state,
                              uint64_t top_table_phys);

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_PAGEMAP_H */
