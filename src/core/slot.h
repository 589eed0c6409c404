/* SPDX-License-Identifier: MIT */
/*
 * The slot table: one 128-byte slot per AP, shared by the BSP, the trampoline
 * (which reads it through physical addresses in 32-bit mode and virtual ones
 * in long mode) and the AP-side C code. It lives in frames below 4 GiB.
 *
 * The state word is the only thing the BSP and an AP race on, and they race
 * on it only through compare-and-swap (protocol v2, docs/protocol.md):
 *
 *   BSP  IDLE -> KICKED        release store, before the first INIT
 *   AP   KICKED -> CLAIMED     trampoline, lock cmpxchg, before touching its
 *                              stack; while HELD it waits, reading only; on
 *                              any other state it parks, touching nothing
 *   AP   CLAIMED -> ONLINE     smpboot_ap_main, just before the kernel's entry;
 *                              on failure it parks
 *   BSP  KICKED -> HELD        before a retry's re-INIT: held through the
 *                              whole INIT delay, so an AP waking meanwhile
 *                              waits (reading only) until the INIT resets
 *                              it or the slot is KICKED again: never run twice
 *   BSP  HELD -> KICKED        just before that attempt's first SIPI
 *   BSP  HELD -> TIMED_OUT     the re-INIT could not be sent
 *   BSP  KICKED -> TIMED_OUT   never answered
 *   BSP  CLAIMED -> TIMED_OUT  answered, not online in time; it then parks
 *
 * SIPIs go only to slots still KICKED. The layout is shared with
 * asm/trampoline.asm (asm/trampoline_abi.inc): keep the offsets below.
 */
#ifndef SMPBOOT_CORE_SLOT_H
#define SMPBOOT_CORE_SLOT_H

#include <stddef.h>
#include <stdint.h>

enum smpboot_slot_state {
    SMPBOOT_SLOT_IDLE = 0,
    SMPBOOT_SLOT_KICKED = 1,
    SMPBOOT_SLOT_HELD = 2,
    SMPBOOT_SLOT_CLAIMED = 3,
    /* 4 (RELEASED) and 7 (SIPIS_DONE) are retired: never reuse them. */
    SMPBOOT_SLOT_ONLINE = 5,
    SMPBOOT_SLOT_TIMED_OUT = 6,
};

struct smpboot_slot {
    uint32_t apic_id;    /* 0: matched by the trampoline */
    uint32_t state;      /* 4: enum smpboot_slot_state; CAS only */
    uint32_t progress;   /* 8: enum smpboot_progress, written by the AP */
    /* 12: ns from the AP's C entry to going online (saturated), by the AP */
    uint32_t online_after_ns;
    uint64_t stack_top;  /* 16: virtual; loaded into RSP after winning */
    uint64_t cpu;        /* 24: struct smpboot_cpu *, virtual */
    uint64_t session;    /* 32: struct smpboot_session *, virtual */
    uint64_t c_entry_ns; /* 40: the AP's clock on entering smpboot_ap_main */
    /*
     * 48, 56: the trampoline writes the TSC when it won the slot and once in
     * long mode on the kernel's CR3; smpboot_ap_main rewrites each as the
     * ticks from that step to its own C entry (0: unknown), so that the BSP
     * needs only c_entry_ns and its own tick rate to place the steps.
     */
    uint64_t tsc_claimed;
    uint64_t tsc_long_mode;
    /*
     * 64: the stack of an NMI that hits the trampoline's 32-bit code after
     * the claim (ESP = the slot's end). Only that AP writes it, and only
     * the CPU does, pushing one frame.
     */
    uint8_t nmi_stack[64];
};

#define SMPBOOT_SLOT_SIZE 128u
#define SMPBOOT_SLOT_OFF_APIC_ID 0u
#define SMPBOOT_SLOT_OFF_STATE 4u
#define SMPBOOT_SLOT_OFF_PROGRESS 8u
#define SMPBOOT_SLOT_OFF_STACK_TOP 16u
#define SMPBOOT_SLOT_OFF_TSC_CLAIMED 48u
#define SMPBOOT_SLOT_OFF_TSC_LONG_MODE 56u
#define SMPBOOT_SLOT_OFF_NMI_STACK 64u

_Static_assert(sizeof(struct smpboot_slot) == SMPBOOT_SLOT_SIZE, "slot size");
_Static_assert(offsetof(struct smpboot_slot, apic_id) == SMPBOOT_SLOT_OFF_APIC_ID, "slot apic_id");
_Static_assert(offsetof(struct smpboot_slot, state) == SMPBOOT_SLOT_OFF_STATE, "slot state");
_Static_assert(offsetof(struct smpboot_slot, progress) == SMPBOOT_SLOT_OFF_PROGRESS, "slot progress");
_Static_assert(offsetof(struct smpboot_slot, stack_top) == SMPBOOT_SLOT_OFF_STACK_TOP, "slot stack_top");
_Static_assert(offsetof(struct smpboot_slot, tsc_claimed) == SMPBOOT_SLOT_OFF_TSC_CLAIMED, "slot tsc_claimed");
_Static_assert(offsetof(struct smpboot_slot, tsc_long_mode) == SMPBOOT_SLOT_OFF_TSC_LONG_MODE,
               "slot tsc_long_mode");
_Static_assert(offsetof(struct smpboot_slot, nmi_stack) == SMPBOOT_SLOT_OFF_NMI_STACK &&
                   SMPBOOT_SLOT_SIZE % 16 == 0,
               "slot nmi_stack: runs to the slot's end, which keeps ESP 16-byte aligned");

/*
 * After the last slot: how many APs reached the trampoline's 32-bit code
 * (each adds one with LOCK INC, before it looks for its slot), late ones
 * included. It lives here rather than in the trampoline page so that no AP
 * ever writes the page that holds code (asm/trampoline.asm).
 */
static inline size_t smpboot_slot_table_bytes(uint32_t slot_count)
{
    return (size_t)slot_count * SMPBOOT_SLOT_SIZE + sizeof(uint32_t);
}

static inline uint32_t *smpboot_slot_table_entered(void *slots, uint32_t slot_count)
{
    return (uint32_t *)(void *)((uint8_t *)slots + (size_t)slot_count * SMPBOOT_SLOT_SIZE);
}

/*
 * The trampoline's C landing point (private: only the trampoline installer
 * takes its address). Reached by a JMP on the AP's own stack, with a zero
 * return address pushed, and `slot` the slot it won. Never returns.
 */
_Noreturn void smpboot_ap_main(void *slot);

#endif /* SMPBOOT_CORE_SLOT_H */
