/*
 * The physical frame allocator: a sorted list of free ranges built from the
 * Multiboot memory map.
 *
 * It hands out the highest suitable frames first. Low memory is therefore
 * left alone until someone asks for it with a low limit (libsmpboot's
 * trampoline page must lie below 1 MiB, its slot table below 4 GiB), and a
 * guest with memory above 4 GiB uses it.
 *
 * Only the BSP allocates (libsmpboot calls its host callbacks on the BSP), so
 * there is no lock.
 */
#ifndef MK_FRAMES_H
#define MK_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <smpboot/status.h>

#include "bootinfo.h"

#define FRAME_SIZE 4096u

/*
 * Free every available range of the map, except page 0 (the real-mode
 * interrupt table) and [reserved_start, reserved_end) (the kernel image).
 */
void frames_init(const struct bootinfo *info, uint64_t reserved_start, uint64_t reserved_end);

/*
 * `pages` contiguous frames, the first a multiple of `align` (a power of two,
 * >= 4096), all within [min, limit). SMPBOOT_ERR_INVALID_ARGUMENT for a bad
 * request, SMPBOOT_ERR_NO_MEMORY when nothing fits. The frames are not zeroed.
 */
enum smpboot_status frames_alloc(size_t pages, uint64_t min, uint64_t limit, uint64_t align,
                                 uint64_t *phys);

/* Give frames back. false (and nothing changes) if any of them is already free. */
bool frames_free(uint64_t phys, size_t pages);

uint64_t frames_free_count(void);

/* One past the highest byte of available memory in the map. */
uint64_t frames_memory_top(void);

#endif /* MK_FRAMES_H */
