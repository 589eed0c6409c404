/*
 * The trampoline's parameter block and the blob's layout, as the C side
 * sees them. The same layout is written in NASM (asm/trampoline_abi.inc);
 * the build assembles the blob, extracts its offsets into
 * trampoline_asm_offsets.h, and the asserts below keep the two in step.
 */
#ifndef SMPBOOT_TRAMPOLINE_TRAMP_PARAMS_H
#define SMPBOOT_TRAMPOLINE_TRAMP_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <smpboot/cpu.h>
#include <smpboot/host.h>

#include "core/slot.h"
#include "trampoline/trampoline_asm_offsets.h"

/* The blob as linked into the library (asm/trampoline_blob.asm). */
extern const uint8_t smpboot_trampoline_blob[];
extern const uint8_t smpboot_trampoline_blob_end[];

/*
 * Lives at SMPBOOT_TRAMP_ASM_OFF_PARAMS in the page. Absolute addresses are
 * linear, which equals physical for the identity-mapped page.
 */
struct smpboot_tramp_params {
    uint32_t entered;          /* every AP adds one in real mode */
    uint32_t x2apic;           /* nonzero: APs switch to and read x2APIC */
    uint16_t reserved0;        /* aligns gdtr_base */
    uint16_t gdtr_limit;       /* LGDT image: set by the blob */
    uint32_t gdtr_base;        /* LGDT image: page + GDT offset */
    uint32_t jump32_offset;    /* far pointer into 32-bit code: page + entry */
    uint16_t jump32_selector;  /* set by the blob */
    uint16_t reserved1;
    uint32_t jump64_offset;    /* far pointer into 64-bit code: page + entry */
    uint16_t jump64_selector;  /* set by the blob */
    uint16_t reserved2;
    uint64_t boot_cr3;         /* below 4 GiB, flag bits clear */
    uint64_t kernel_cr3;       /* the BSP's CR3, as read */
    uint64_t cr0;              /* the BSP's registers, as read: the blob */
    uint64_t cr4;              /* masks what a mode forbids */
    uint64_t efer;
    uint64_t pat;
    uint64_t slots_phys;       /* below 4 GiB */
    uint64_t slots_virt;
    uint32_t slot_count;
    uint32_t reserved3;
    uint64_t ap_main;          /* &smpboot_ap_main */
};

#define SMPBOOT_TRAMP_PARAM_CHECK(field, asm_name)                                   \
    _Static_assert(offsetof(struct smpboot_tramp_params, field) ==                   \
                       SMPBOOT_TRAMP_ASM_PARAM_##asm_name,                           \
                   "trampoline parameter " #field " differs from the NASM layout")

SMPBOOT_TRAMP_PARAM_CHECK(entered, ENTERED);
SMPBOOT_TRAMP_PARAM_CHECK(x2apic, X2APIC);
SMPBOOT_TRAMP_PARAM_CHECK(gdtr_limit, GDTR_LIMIT);
SMPBOOT_TRAMP_PARAM_CHECK(gdtr_base, GDTR_BASE);
SMPBOOT_TRAMP_PARAM_CHECK(jump32_offset, JUMP32_OFFSET);
SMPBOOT_TRAMP_PARAM_CHECK(jump32_selector, JUMP32_SELECTOR);
SMPBOOT_TRAMP_PARAM_CHECK(jump64_offset, JUMP64_OFFSET);
SMPBOOT_TRAMP_PARAM_CHECK(jump64_selector, JUMP64_SELECTOR);
SMPBOOT_TRAMP_PARAM_CHECK(boot_cr3, BOOT_CR3);
SMPBOOT_TRAMP_PARAM_CHECK(kernel_cr3, KERNEL_CR3);
SMPBOOT_TRAMP_PARAM_CHECK(cr0, CR0);
SMPBOOT_TRAMP_PARAM_CHECK(cr4, CR4);
SMPBOOT_TRAMP_PARAM_CHECK(efer, EFER);
SMPBOOT_TRAMP_PARAM_CHECK(pat, PAT);
SMPBOOT_TRAMP_PARAM_CHECK(slots_phys, SLOTS_PHYS);
SMPBOOT_TRAMP_PARAM_CHECK(slots_virt, SLOTS_VIRT);
SMPBOOT_TRAMP_PARAM_CHECK(slot_count, SLOT_COUNT);
SMPBOOT_TRAMP_PARAM_CHECK(ap_main, AP_MAIN);
_Static_assert(sizeof(struct smpboot_tramp_params) == SMPBOOT_TRAMP_ASM_PARAMS_SIZE,
               "trampoline parameter block size differs from the NASM layout");

/* The GDTR base is loaded by a 32-bit LGDT: it must be 4-byte aligned right after the limit. */
_Static_assert(offsetof(struct smpboot_tramp_params, gdtr_base) ==
                   offsetof(struct smpboot_tramp_params, gdtr_limit) + 2,
               "LGDT reads the limit and the base as one 6-byte image");
/* A far jump through memory reads m16:32: the offset, then the selector. */
_Static_assert(offsetof(struct smpboot_tramp_params, jump32_selector) ==
                   offsetof(struct smpboot_tramp_params, jump32_offset) + 4,
               "jump32 is not an m16:32 far pointer");
_Static_assert(offsetof(struct smpboot_tramp_params, jump64_selector) ==
                   offsetof(struct smpboot_tramp_params, jump64_offset) + 4,
               "jump64 is not an m16:32 far pointer");

/* Where things are in the blob: everything, parameters included, fits its page. */
_Static_assert(SMPBOOT_TRAMP_ASM_BLOB_SIZE <= SMPBOOT_PAGE_SIZE, "trampoline exceeds its page");
_Static_assert(SMPBOOT_TRAMP_ASM_OFF_PARAMS + sizeof(struct smpboot_tramp_params) <=
                   SMPBOOT_TRAMP_ASM_BLOB_SIZE,
               "parameter block lies outside the blob");
_Static_assert(SMPBOOT_TRAMP_ASM_OFF_PARAMS % 8 == 0, "parameter block misaligned");
_Static_assert(SMPBOOT_TRAMP_ASM_OFF_REAL_MODE_SEGMENT_PATCH + 2 <= SMPBOOT_TRAMP_ASM_OFF_PARAMS,
               "real-mode segment patch lies outside the code");
_Static_assert(SMPBOOT_TRAMP_ASM_OFF_PROTECTED_MODE_ENTRY < SMPBOOT_TRAMP_ASM_OFF_PARAMS &&
                   SMPBOOT_TRAMP_ASM_OFF_LONG_MODE_ENTRY < SMPBOOT_TRAMP_ASM_OFF_PARAMS &&
                   SMPBOOT_TRAMP_ASM_OFF_GDT < SMPBOOT_TRAMP_ASM_OFF_PARAMS,
               "jump target or GDT lies outside the code");

/* What the blob assumes about the slot table (src/core/slot.h). */
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_SIZE == SMPBOOT_SLOT_SIZE, "slot size");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_OFF_APIC_ID == SMPBOOT_SLOT_OFF_APIC_ID, "slot apic_id");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_OFF_STATE == SMPBOOT_SLOT_OFF_STATE, "slot state");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_OFF_PROGRESS == SMPBOOT_SLOT_OFF_PROGRESS, "slot progress");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_OFF_STACK_TOP == SMPBOOT_SLOT_OFF_STACK_TOP,
               "slot stack_top");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_OFF_TSC_CLAIMED == SMPBOOT_SLOT_OFF_TSC_CLAIMED,
               "slot tsc_claimed");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_OFF_TSC_LONG_MODE == SMPBOOT_SLOT_OFF_TSC_LONG_MODE,
               "slot tsc_long_mode");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_STATE_KICKED == SMPBOOT_SLOT_KICKED, "slot KICKED");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_STATE_ARRIVED == SMPBOOT_SLOT_ARRIVED, "slot ARRIVED");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_STATE_RELEASED == SMPBOOT_SLOT_RELEASED, "slot RELEASED");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_STATE_SIPIS_DONE == SMPBOOT_SLOT_SIPIS_DONE, "slot SIPIS_DONE");

/* ... and about the progress steps (include/smpboot/cpu.h). */
_Static_assert(SMPBOOT_TRAMP_ASM_PROGRESS_PROTECTED_MODE == SMPBOOT_PROGRESS_PROTECTED_MODE,
               "progress PROTECTED_MODE");
_Static_assert(SMPBOOT_TRAMP_ASM_PROGRESS_PAGING == SMPBOOT_PROGRESS_PAGING, "progress PAGING");
_Static_assert(SMPBOOT_TRAMP_ASM_PROGRESS_LONG_MODE == SMPBOOT_PROGRESS_LONG_MODE,
               "progress LONG_MODE");
_Static_assert(SMPBOOT_TRAMP_ASM_PROGRESS_KERNEL_CR3 == SMPBOOT_PROGRESS_KERNEL_CR3,
               "progress KERNEL_CR3");
_Static_assert(SMPBOOT_TRAMP_ASM_PROGRESS_STACK == SMPBOOT_PROGRESS_STACK, "progress STACK");

#endif /* SMPBOOT_TRAMPOLINE_TRAMP_PARAMS_H */
