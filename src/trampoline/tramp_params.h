/* SPDX-License-Identifier: MIT */
/*
 * The trampoline's parameter block and the blob's layout, as the C side
 * sees them. The same layout is written in NASM (asm/trampoline_abi.inc);
 * `python3 asm/regenerate.py` assembles the blob and writes its offsets into
 * the committed trampoline_asm_offsets.h, and the asserts below keep the
 * two in step. Includes are relative to this file, so no header of the
 * kernel's that happens to share a name can stand in for ours.
 */
#ifndef SMPBOOT_TRAMPOLINE_TRAMP_PARAMS_H
#define SMPBOOT_TRAMPOLINE_TRAMP_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <smpboot/cpu.h>
#include <smpboot/host.h>

#include "../core/slot.h"
#include "trampoline_asm_offsets.h"

/* The assembled blob (trampoline_blob.c, generated) and its size in bytes. */
extern const uint8_t smpboot_trampoline_blob[SMPBOOT_TRAMP_ASM_BLOB_SIZE];
extern const size_t smpboot_trampoline_blob_size;

/*
 * Lives at SMPBOOT_TRAMP_ASM_OFF_PARAMS in the page. Absolute addresses are
 * linear, which equals physical for the identity-mapped page.
 */
struct smpboot_tramp_params {
    uint32_t entered_phys;     /* the slot table's arrival counter (slot.h) */
    uint32_t x2apic;           /* nonzero: APs switch to and read x2APIC */
    uint16_t reserved0;        /* aligns page_gdtr_base */
    uint16_t page_gdtr_limit;  /* 32-bit LGDT image: set by the blob */
    uint32_t page_gdtr_base;   /* 32-bit LGDT image: page + GDT offset */
    uint32_t jump32_offset;    /* far pointer into 32-bit code: page + entry */
    uint16_t jump32_selector;  /* set by the blob */
    uint16_t reserved1;
    uint32_t jump64_offset;    /* far pointer into 64-bit code: page + entry */
    uint16_t jump64_selector;  /* set by the blob */
    uint16_t reserved2;
    uint16_t reserved3[3];     /* aligns perm_gdtr_base */
    uint16_t perm_gdtr_limit;  /* 64-bit LGDT image of the library's */
    uint64_t perm_gdtr_base;   /* permanent GDT: virtual, in .rodata */
    uint64_t boot_cr3;         /* below 4 GiB, flag bits clear */
    uint64_t cr3_before_pcide; /* kernel_cr3 without PCID bits if cr4 has PCIDE */
    uint64_t kernel_cr3;       /* the BSP's CR3, as read */
    uint64_t cr0;              /* fixed: SMPBOOT_TRAMP_AP_CR0 */
    uint64_t cr4;              /* the BSP's, allowlisted, PAE set */
    uint64_t efer;             /* the BSP's, as read */
    uint64_t pat;              /* the BSP's, as read */
    uint64_t slots_phys;       /* below 4 GiB */
    uint64_t slots_virt;
    uint32_t slot_count;
    uint32_t armed;            /* SMPBOOT_TRAMP_ASM_ARMED_MAGIC while a bring-up uses the page */
    uint64_t ap_main;          /* &smpboot_ap_main */
    uint16_t reserved5;        /* aligns page_idtr_base */
    uint16_t page_idtr_limit;  /* 32-bit LIDT image: set by the blob */
    uint32_t page_idtr_base;   /* 32-bit LIDT image: page + IDT32 offset */
    uint16_t reserved6[3];     /* aligns session_idtr_base */
    uint16_t session_idtr_limit; /* 64-bit LIDT image of the session's */
    uint64_t session_idtr_base;  /* NMI-only IDT: virtual */
    uint32_t late_entries;     /* entered_phys after remove(): see trampoline.c */
    uint32_t reserved7;
};

#define SMPBOOT_TRAMP_PARAM_CHECK(field, asm_name)                                   \
    _Static_assert(offsetof(struct smpboot_tramp_params, field) ==                   \
                       SMPBOOT_TRAMP_ASM_PARAM_##asm_name,                           \
                   "trampoline parameter " #field " differs from the NASM layout")

SMPBOOT_TRAMP_PARAM_CHECK(entered_phys, ENTERED_PHYS);
SMPBOOT_TRAMP_PARAM_CHECK(x2apic, X2APIC);
SMPBOOT_TRAMP_PARAM_CHECK(page_gdtr_limit, PAGE_GDTR_LIMIT);
SMPBOOT_TRAMP_PARAM_CHECK(page_gdtr_base, PAGE_GDTR_BASE);
SMPBOOT_TRAMP_PARAM_CHECK(jump32_offset, JUMP32_OFFSET);
SMPBOOT_TRAMP_PARAM_CHECK(jump32_selector, JUMP32_SELECTOR);
SMPBOOT_TRAMP_PARAM_CHECK(jump64_offset, JUMP64_OFFSET);
SMPBOOT_TRAMP_PARAM_CHECK(jump64_selector, JUMP64_SELECTOR);
SMPBOOT_TRAMP_PARAM_CHECK(perm_gdtr_limit, PERM_GDTR_LIMIT);
SMPBOOT_TRAMP_PARAM_CHECK(perm_gdtr_base, PERM_GDTR_BASE);
SMPBOOT_TRAMP_PARAM_CHECK(boot_cr3, BOOT_CR3);
SMPBOOT_TRAMP_PARAM_CHECK(cr3_before_pcide, CR3_BEFORE_PCIDE);
SMPBOOT_TRAMP_PARAM_CHECK(kernel_cr3, KERNEL_CR3);
SMPBOOT_TRAMP_PARAM_CHECK(cr0, CR0);
SMPBOOT_TRAMP_PARAM_CHECK(cr4, CR4);
SMPBOOT_TRAMP_PARAM_CHECK(efer, EFER);
SMPBOOT_TRAMP_PARAM_CHECK(pat, PAT);
SMPBOOT_TRAMP_PARAM_CHECK(slots_phys, SLOTS_PHYS);
SMPBOOT_TRAMP_PARAM_CHECK(slots_virt, SLOTS_VIRT);
SMPBOOT_TRAMP_PARAM_CHECK(slot_count, SLOT_COUNT);
SMPBOOT_TRAMP_PARAM_CHECK(armed, ARMED);
SMPBOOT_TRAMP_PARAM_CHECK(ap_main, AP_MAIN);
SMPBOOT_TRAMP_PARAM_CHECK(page_idtr_limit, PAGE_IDTR_LIMIT);
SMPBOOT_TRAMP_PARAM_CHECK(page_idtr_base, PAGE_IDTR_BASE);
SMPBOOT_TRAMP_PARAM_CHECK(session_idtr_limit, SESSION_IDTR_LIMIT);
SMPBOOT_TRAMP_PARAM_CHECK(session_idtr_base, SESSION_IDTR_BASE);
SMPBOOT_TRAMP_PARAM_CHECK(late_entries, LATE_ENTRIES);
_Static_assert(sizeof(struct smpboot_tramp_params) == SMPBOOT_TRAMP_ASM_PARAMS_SIZE,
               "trampoline parameter block size differs from the NASM layout");

/* LGDT reads the limit and then the base as one image: 6 bytes in 32-bit code, 10 in 64-bit. */
_Static_assert(offsetof(struct smpboot_tramp_params, page_gdtr_base) ==
                   offsetof(struct smpboot_tramp_params, page_gdtr_limit) + 2,
               "the page's GDTR is not one 6-byte image");
_Static_assert(offsetof(struct smpboot_tramp_params, perm_gdtr_base) ==
                   offsetof(struct smpboot_tramp_params, perm_gdtr_limit) + 2,
               "the permanent GDTR is not one 10-byte image");
_Static_assert(offsetof(struct smpboot_tramp_params, page_idtr_base) ==
                   offsetof(struct smpboot_tramp_params, page_idtr_limit) + 2,
               "the page's IDTR is not one 6-byte image");
_Static_assert(offsetof(struct smpboot_tramp_params, session_idtr_base) ==
                   offsetof(struct smpboot_tramp_params, session_idtr_limit) + 2,
               "the session's IDTR is not one 10-byte image");
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
/* The installer sees the blob as code words, then parameter words. */
_Static_assert(SMPBOOT_TRAMP_ASM_OFF_PARAMS + sizeof(struct smpboot_tramp_params) ==
                       SMPBOOT_TRAMP_ASM_BLOB_SIZE &&
                   SMPBOOT_TRAMP_ASM_BLOB_SIZE % 8 == 0,
               "the blob is not its code, then its parameter block, in whole 8-byte words");
_Static_assert(SMPBOOT_TRAMP_ASM_OFF_REAL_MODE_SEGMENT_PATCH + 2 <= SMPBOOT_TRAMP_ASM_OFF_PARAMS,
               "real-mode segment patch lies outside the code");
/* write_page() lists its code patches in this order, which write_code() relies on. */
_Static_assert(SMPBOOT_TRAMP_ASM_OFF_REAL_MODE_SEGMENT_PATCH + 2 <= SMPBOOT_TRAMP_ASM_OFF_IDT32_NMI_GATE,
               "code patches out of order");
_Static_assert(SMPBOOT_TRAMP_ASM_OFF_PROTECTED_MODE_ENTRY < SMPBOOT_TRAMP_ASM_OFF_PARAMS &&
                   SMPBOOT_TRAMP_ASM_OFF_LONG_MODE_ENTRY < SMPBOOT_TRAMP_ASM_OFF_PARAMS &&
                   SMPBOOT_TRAMP_ASM_OFF_LONG_MODE_ENTRY_ON_KERNEL_TABLES <
                       SMPBOOT_TRAMP_ASM_OFF_LONG_MODE_ENTRY &&
                   SMPBOOT_TRAMP_ASM_OFF_GDT < SMPBOOT_TRAMP_ASM_OFF_PARAMS,
               "jump target or GDT lies outside the code");
_Static_assert(SMPBOOT_TRAMP_ASM_OFF_NMI_RETURN32 < SMPBOOT_TRAMP_ASM_OFF_PARAMS &&
                   SMPBOOT_TRAMP_ASM_OFF_IDT32_NMI_GATE + 8 <= SMPBOOT_TRAMP_ASM_OFF_PARAMS &&
                   SMPBOOT_TRAMP_ASM_OFF_IDT32_NMI_GATE ==
                       SMPBOOT_TRAMP_ASM_OFF_IDT32 + 2 * 8 &&
                   SMPBOOT_TRAMP_ASM_IDT32_SIZE == 3 * 8,
               "the page's NMI IDT: vector 2 of three gates, inside the code");

/* The GDT layout protocol v2 promises the kernel's entry (docs/protocol.md). */
_Static_assert(SMPBOOT_TRAMP_ASM_SEL_CODE64 == 0x08 && SMPBOOT_TRAMP_ASM_SEL_DATA == 0x10 &&
                   SMPBOOT_TRAMP_ASM_SEL_CODE32 == 0x18 && SMPBOOT_TRAMP_ASM_GDT_SIZE == 4 * 8,
               "GDT layout");

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
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_OFF_NMI_STACK == SMPBOOT_SLOT_OFF_NMI_STACK,
               "slot nmi_stack");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_STATE_KICKED == SMPBOOT_SLOT_KICKED, "slot KICKED");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_STATE_HELD == SMPBOOT_SLOT_HELD, "slot HELD");
_Static_assert(SMPBOOT_TRAMP_ASM_SLOT_STATE_CLAIMED == SMPBOOT_SLOT_CLAIMED, "slot CLAIMED");

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
