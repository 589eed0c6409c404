/* SPDX-License-Identifier: MIT */
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
 *
 * Runs on an AP: only now_ns and relax (and the APIC ops, from the IPI calls
 * a kernel makes on an online AP). On an AP, before the kernel's entry, they
 * run with:
 *   - interrupts disabled, and the library's NMI-only IDT: any fault,
 *     exception or interrupt other than NMI resets the machine;
 *   - the library's GDT, FS.base = GS.base = 0: no per-CPU data through GS,
 *     no GS-based stack protector;
 *   - possibly cut off by INIT at any instruction (the BSP gives up on an AP
 *     and resets it): they must take no lock and leave nothing half-done.
 * The reason there: a callback written for the BSP's context, e.g. a clock
 * that counts timer interrupts, would otherwise hang or reset the AP.
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

/* Reads of an unchanged host.now_ns after which a wait gives up (SMPBOOT_ERR_CLOCK_STUCK). */
#define SMPBOOT_CLOCK_STALL_POLLS (1u << 22)

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
 * The BSP's local APIC must be globally enabled (IA32_APIC_BASE.EN; else
 * smpboot_start() returns SMPBOOT_ERR_NO_APIC), but it need not be
 * software-enabled (SVR bit 8) before smpboot_start(): a software-disabled
 * local APIC still issues IPIs through the ICR and still responds normally
 * to INIT, NMI, SMI and SIPI (SDM vol. 3, "Local APIC State After It Has
 * Been Software Disabled"), and every AP's APIC comes out of INIT in that
 * state. The library never writes SVR.
 *
 * The library reads SMPBOOT_APIC_REG_ID (xAPIC: ID in bits 31:24; x2APIC:
 * the whole 32-bit ID), ESR, ICR_LOW (delivery status, xAPIC only) and writes
 * ESR and the ICR. read and write are required; write_icr is required in
 * x2APIC mode and optional in xAPIC mode.
 *
 * These run on whichever CPU calls the library: the BSP during bring-up, any
 * online CPU for smpboot_send_ipi() and smpboot_nmi_others(). The library
 * disables interrupts on the calling CPU around its ESR clear and ICR write
 * (and restores the caller's state after), so an interrupt handler's own IPI
 * cannot land between ICR_HIGH and ICR_LOW; an NMI can (see
 * smpboot_nmi_others()).
 *
 * This struct has its own ctx, apart from smpboot_host.ctx, because the
 * ready-made implementations fill it without knowing the kernel's context.
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
     *
     * NOTE (x2APIC): WRMSR to the ICR is not serializing, so a kernel's own
     * write_icr must make every earlier store visible before the WRMSR
     * (`mfence; lfence`, as the ready-made one does): the target reads the
     * trampoline page and its slot. The library also fences before each call
     * in x2APIC mode, so a write_icr without the fence is not a bug here,
     * but keep it for the kernel's other IPIs.
     */
    void (*write_icr)(void *ctx, uint64_t icr);
};

/*
 * Permission flags for smpboot_host.map. Readable and present are implied.
 * Without SMPBOOT_MAP_EXEC the library never executes the range, so a
 * kernel that does not use NX (EFER.NXE clear: every present page is
 * executable) may ignore the flag; a kernel that uses NX must leave the
 * trampoline page's NX bit clear when SMPBOOT_MAP_EXEC is set, or the APs
 * stall at PAGING.
 */
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
     *
     * NOTE: Runs on the BSP and on APs (see the top of this file). It must
     * advance with interrupts disabled and without an IDT: read a counter
     * (TSC, HPET, ACPI PM timer), never a tick count kept by an interrupt
     * handler. A clock that returns the same value for
     * SMPBOOT_CLOCK_STALL_POLLS reads in a row ends the wait with
     * SMPBOOT_ERR_CLOCK_STUCK instead of hanging. clock.h has a
     * ready-made one: the TSC calibrated against the ACPI PM timer, the
     * HPET or the PIT.
     */
    uint64_t (*now_ns)(void *ctx);

    /*
     * Required. Allocate `pages` physically contiguous 4 KiB frames whose
     * first address is a multiple of `align` (a power of two, at least 4096)
     * and whose last byte lies below `limit` (an exclusive bound, e.g.
     * 0x100000 for "below 1 MiB"; UINT64_MAX for anywhere). Store the first
     * address in *phys and return SMPBOOT_OK, or return an error status
     * (SMPBOOT_ERR_NO_MEMORY is the usual one), which the library hands back
     * to its caller unchanged after releasing what it already held, and
     * logs which allocation failed ("the stack of APIC 3", "the slot
     * table", "the trampoline page", "the bootstrap page tables") with
     * pages, limit and alignment. The frames need not be zeroed.
     *
     * The trampoline page is asked for with pages 1, limit 0xA0000 (not
     * 1 MiB: above is video memory and ROM) and align 4096, and page 0 is
     * refused (SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE): that memory is scarce and
     * allocators hand it out early, so reserve a page for it right after
     * reading the memory map (docs/porting.md), or reserve it yourself and
     * name it in config.trampoline_page, which the library then never asks
     * for or frees. The slot table and the bootstrap page tables are asked
     * for below 4 GiB; stacks anywhere (see also alloc_stack).
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
     * the APs switch on paging. unmap flushes the calling CPU's TLB only:
     * every AP drops the trampoline page's translation for its current PCID
     * itself (INVLPG) before going online, so no shootdown is needed as
     * long as the kernel flushes on CR3 switches (docs/protocol.md, CR3).
     * NULL means: the kernel promises that low memory is already
     * identity-mapped executable in its page tables.
     * map and unmap are both NULL or both non-NULL.
     * A kernel without a page-table mapper of its own can use the
     * ready-made one (pagemap.h).
     */
    enum smpboot_status (*map)(void *ctx, uint64_t virt, uint64_t phys, size_t pages,
                               uint32_t flags);

    /*
     * Undo one earlier successful map() call of the same range: clear the
     * leaf entries and flush the calling CPU's TLB for them. It may keep
     * the intermediate tables map() created, or free them: every AP ran
     * INVLPG of the trampoline page before going online, which also drops
     * its paging-structure caches for the current PCID.
     */
    void (*unmap)(void *ctx, uint64_t virt, size_t pages);

    /*
     * Optional. One line of diagnostics, without a trailing newline,
     * already prefixed with "smpboot: " (do not add your own), at most 159
     * characters. The string lives only for the call. NULL means silence.
     * Called on the BSP (or the CPU that made the call).
     */
    void (*log)(void *ctx, enum smpboot_log_level level, const char *message);

    /*
     * Optional. Called in every wait loop on the BSP. NULL means the `pause`
     * instruction. A host that emulates CPUs with threads passes something
     * that yields.
     *
     * NOTE: Contract as for now_ns: interrupts off, lock-free, no per-CPU
     * state, may be cut off by INIT (the library calls it on the BSP only
     * today, but keeps the right to call it on an AP before the entry).
     */
    void (*relax)(void *ctx);

    /*
     * Optional, both or neither; not with config.stack_window
     * (SMPBOOT_ERR_BAD_CONFIG). Stacks from the kernel's own allocator (a
     * heap, or one page at a time): return the virtual base of `bytes`
     * bytes (a multiple of 4096), at least 16-byte aligned, mapped
     * read+write in the page tables the APs use, or NULL (smpboot_start()
     * then releases what it holds and returns SMPBOOT_ERR_NO_MEMORY). The
     * frames behind it need not be contiguous; cpu->stack_phys and
     * extra_stack_phys stay 0. NULL: every stack is contiguous frames from
     * alloc_frames, used through phys_to_virt (or config.stack_window).
     */
    void *(*alloc_stack)(void *ctx, size_t bytes);
    /* Give back a stack alloc_stack returned, whole (same base, same bytes). */
    void (*free_stack)(void *ctx, void *base, size_t bytes);

    /*
     * Optional. When not NULL, the first argument of map and unmap instead
     * of ctx: the ready-made identity mapper (pagemap.h) keeps its state
     * here, apart from the kernel's ctx, as the APIC ops do.
     */
    void *map_ctx;
    /*
     * Optional. When not NULL, the first argument of now_ns instead of ctx:
     * the ready-made TSC clock (clock.h) keeps its calibration here.
     */
    void *clock_ctx;
};

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_HOST_H */
