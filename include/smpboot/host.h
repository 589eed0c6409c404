/*
 * libsmpboot: what the kernel provides.
 *
 * The library never allocates, maps or touches hardware on its own: it asks
 * the kernel through one struct smpboot_host, passed to smpboot_init() and
 * copied there. Every callback receives the struct's ctx as first argument.
 *
 * Unless a member says otherwise it is called only on the BSP, from inside a
 * libsmpboot call, with whatever interrupt state the caller had. Physical
 * addresses are 64-bit; sizes are in 4 KiB pages where the name says pages.
 */
#ifndef SMPBOOT_HOST_H
#define SMPBOOT_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMPBOOT_PAGE_SIZE 4096u

/* Local-APIC register offsets, as in the xAPIC MMIO page (SDM vol. 3, 11.4.1). */
#define SMPBOOT_APIC_REG_ID       0x020u
#define SMPBOOT_APIC_REG_VERSION  0x030u
#define SMPBOOT_APIC_REG_EOI      0x0B0u
#define SMPBOOT_APIC_REG_SVR      0x0F0u
#define SMPBOOT_APIC_REG_ESR      0x280u
#define SMPBOOT_APIC_REG_ICR_LOW  0x300u
#define SMPBOOT_APIC_REG_ICR_HIGH 0x310u

/*
 * Access to the calling CPU's own local APIC.
 *
 * The library reads SMPBOOT_APIC_REG_ID (xAPIC: ID in bits 31:24; x2APIC:
 * the whole 32-bit ID), ESR, ICR_LOW (delivery status, xAPIC only) and writes
 * ESR and the ICR. read and write are required; write_icr is required in
 * x2APIC mode and optional in xAPIC mode.
 *
 * These run on whichever CPU calls the library: the BSP during bring-up, any
 * online CPU for smpboot_send_ipi() and smpboot_nmi_others().
 *
 * smpboot_apic_use_xapic() and smpboot_apic_use_x2apic() (apic.h) fill this
 * struct with ready-made implementations for the kernel build.
 */
struct smpboot_apic_ops {
    /* Passed as first argument to the three members below. */
    void *ctx;
    /* Read the 32-bit register at xAPIC offset reg (x2APIC: MSR 0x800 + reg/16). */
    uint32_t (*read)(void *ctx, uint32_t reg);
    /* Write the 32-bit register at xAPIC offset reg. */
    void (*write)(void *ctx, uint32_t reg, uint32_t value);
    /*
     * Write the interrupt command register in one go. icr uses the x2APIC
     * layout: bits 31:0 are ICR_LOW, bits 63:32 the 32-bit destination APIC
     * ID. An xAPIC implementation writes (icr >> 32) << 24 to ICR_HIGH, then
     * the low half to ICR_LOW. May be NULL in xAPIC mode: the library then
     * does exactly that with write().
     */
    void (*write_icr)(void *ctx, uint64_t icr);
};

/* Permission flags for smpboot_host.map. Readable and present are implied. */
#define SMPBOOT_MAP_WRITE 0x1u
#define SMPBOOT_MAP_EXEC  0x2u

enum smpboot_log_level {
    SMPBOOT_LOG_ERROR = 0,
    SMPBOOT_LOG_WARN = 1,
    SMPBOOT_LOG_INFO = 2,
    SMPBOOT_LOG_DEBUG = 3,
};

struct smpboot_host {
    /* Opaque to the library; first argument of every callback below. */
    void *ctx;

    /* Required. See struct smpboot_apic_ops. */
    struct smpboot_apic_ops apic;

    /*
     * Required. A monotonic clock in nanoseconds, readable from any CPU
     * (APs read it to stamp their progress). It only needs to be monotonic
     * per CPU and consistent across CPUs to within a few microseconds (an
     * invariant TSC scaled to ns qualifies). All library waits use it; none
     * is a calibrated loop.
     */
    uint64_t (*now_ns)(void *ctx);

    /*
     * Required. Allocate `pages` physically contiguous 4 KiB frames whose
     * first address is a multiple of `align` (a power of two, at least 4096)
     * and whose last byte lies below `limit` (an exclusive bound, e.g.
     * 0x100000 for "below 1 MiB"; UINT64_MAX for anywhere). Store the first
     * address in *phys and return SMPBOOT_OK, or return an error status
     * (SMPBOOT_ERR_NO_MEMORY is the usual one), which the library hands back
     * to its caller unchanged after releasing what it already held.
     * The frames need not be zeroed.
     */
    enum smpboot_status (*alloc_frames)(void *ctx, size_t pages, uint64_t limit,
                                        uint64_t align, uint64_t *phys);

    /* Required. Give back frames obtained from alloc_frames, whole. */
    void (*free_frames)(void *ctx, uint64_t phys, size_t pages);

    /*
     * Required. The kernel's virtual address of a physical address (direct
     * map), readable and writable, for any frame alloc_frames returned and
     * for the kernel's top-level page table. Must not fail for those.
     */
    void *(*phys_to_virt)(void *ctx, uint64_t phys);

    /*
     * Optional. Map `pages` pages at virtual address `virt` to `phys` in the
     * page tables of the current CR3 (the ones the APs will use), with
     * `flags` (SMPBOOT_MAP_*), and flush the TLB for them. The library uses
     * it to identity-map the trampoline page (virt == phys) read+exec while
     * the APs switch on paging.
     * NULL means: the kernel promises that low memory is already
     * identity-mapped executable in its page tables.
     * map and unmap are both NULL or both non-NULL.
     */
    enum smpboot_status (*map)(void *ctx, uint64_t virt, uint64_t phys, size_t pages,
                               uint32_t flags);

    /* Undo one earlier successful map() call of the same range. */
    void (*unmap)(void *ctx, uint64_t virt, size_t pages);

    /*
     * Optional. One line of diagnostics, without a trailing newline. The
     * string lives only for the call. NULL means silence. Called on the BSP.
     */
    void (*log)(void *ctx, enum smpboot_log_level level, const char *message);

    /*
     * Optional. Called in every wait loop, on the BSP and on the APs (in the
     * AP's own context, before the kernel's entry runs). NULL means the
     * `pause` instruction. A host that emulates CPUs with threads passes
     * something that yields.
     */
    void (*relax)(void *ctx);
};

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_HOST_H */
