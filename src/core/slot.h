/*
 * The slot table: one 64-byte slot per AP, shared by the BSP, the trampoline
 * (which reads it through physical addresses in 32-bit mode and virtual ones
 * in long mode) and the AP-side C code. It lives in frames below 4 GiB.
 *
 * The state word is the only thing the BSP and an AP race on, and they race
 * on it only through compare-and-swap:
 *
 *   BSP  IDLE -> KICKED              before the first INIT
 *   BSP  KICKED -> HELD -> KICKED    around a re-INIT (sdm_retry): an AP
 *                                    arriving meanwhile loses and is reset
 *   BSP  KICKED -> SIPIS_DONE        right after its last SIPI of an attempt
 *   AP   KICKED -> ARRIVED           trampoline, before touching its stack;
 *   AP   SIPIS_DONE -> RELEASED      either one, or it parks, touching nothing
 *   BSP  ARRIVED -> RELEASED         once no SIPI will be sent to it any more
 *   BSP  SIPIS_DONE -> HELD -> KICKED   a re-INIT, as above
 *   AP   RELEASED -> ONLINE          C code, just before the kernel's entry
 *   BSP  KICKED/SIPIS_DONE -> TIMED_OUT
 *                                    gives up; a late AP then loses
 *   BSP  ARRIVED/RELEASED -> TIMED_OUT
 *                                    gives up on one that answered but did not
 *                                    go online in time; it then parks
 *
 * The layout is shared with asm/trampoline.asm: keep the offsets below.
 */
#ifndef SMPBOOT_CORE_SLOT_H
#define SMPBOOT_CORE_SLOT_H

#include <stddef.h>
#include <stdint.h>

enum smpboot_slot_state {
    SMPBOOT_SLOT_IDLE = 0,
    SMPBOOT_SLOT_KICKED = 1,
    SMPBOOT_SLOT_HELD = 2,
    SMPBOOT_SLOT_ARRIVED = 3,
    SMPBOOT_SLOT_RELEASED = 4,
    SMPBOOT_SLOT_ONLINE = 5,
    SMPBOOT_SLOT_TIMED_OUT = 6,
    SMPBOOT_SLOT_SIPIS_DONE = 7,
};

/* The AP waited longer than its bound for the BSP's release and parked itself. */
#define SMPBOOT_SLOT_AP_GAVE_UP 1u

struct smpboot_slot {
    uint32_t apic_id;    /* 0: matched by the trampoline */
    uint32_t state;      /* 4: enum smpboot_slot_state; CAS only */
    uint32_t progress;   /* 8: enum smpboot_progress, written by the AP */
    uint32_t ap_flags;   /* 12: SMPBOOT_SLOT_AP_*, written by the AP */
    uint64_t stack_top;  /* 16: virtual; loaded into RSP after winning */
    uint64_t cpu;        /* 24: struct smpboot_cpu *, virtual */
    uint64_t session;    /* 32: struct smpboot *, virtual */
    uint64_t online_ns;  /* 40: the AP's clock when it went online */
    uint64_t tsc_claimed;  /* 48: TSC when the trampoline won the slot */
    uint64_t tsc_long_mode; /* 56: TSC once in long mode on the kernel's CR3 */
};

#define SMPBOOT_SLOT_SIZE 64u
#define SMPBOOT_SLOT_OFF_APIC_ID 0u
#define SMPBOOT_SLOT_OFF_STATE 4u
#define SMPBOOT_SLOT_OFF_PROGRESS 8u
#define SMPBOOT_SLOT_OFF_STACK_TOP 16u
#define SMPBOOT_SLOT_OFF_TSC_CLAIMED 48u
#define SMPBOOT_SLOT_OFF_TSC_LONG_MODE 56u

_Static_assert(sizeof(struct smpboot_slot) == SMPBOOT_SLOT_SIZE, "slot size");
_Static_assert(offsetof(struct smpboot_slot, apic_id) == SMPBOOT_SLOT_OFF_APIC_ID, "slot apic_id");
_Static_assert(offsetof(struct smpboot_slot, state) == SMPBOOT_SLOT_OFF_STATE, "slot state");
_Static_assert(offsetof(struct smpboot_slot, progress) == SMPBOOT_SLOT_OFF_PROGRESS, "slot progress");
_Static_assert(offsetof(struct smpboot_slot, stack_top) == SMPBOOT_SLOT_OFF_STACK_TOP, "slot stack_top");
_Static_assert(offsetof(struct smpboot_slot, tsc_claimed) == SMPBOOT_SLOT_OFF_TSC_CLAIMED, "slot tsc_claimed");
_Static_assert(offsetof(struct smpboot_slot, tsc_long_mode) == SMPBOOT_SLOT_OFF_TSC_LONG_MODE,
               "slot tsc_long_mode");

#endif /* SMPBOOT_CORE_SLOT_H */
