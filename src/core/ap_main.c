/* SPDX-License-Identifier: MIT */
/*
 * The AP side in C. The trampoline has already won the slot (KICKED ->
 * CLAIMED), switched to the AP's own stack and jumped here. The AP takes the
 * library's NMI-only IDT, drops its translation of the trampoline page,
 * leaves its stamps in the slot and goes online (CLAIMED -> ONLINE, by
 * compare-and-swap: the BSP may give up on it at the same moment). After
 * going online it touches neither the slot nor anything smpboot_finish()
 * frees. The BSP, not the AP, records the CPU's result.
 */
#include "session.h"
#include "../arch/arch.h"

/* The trampoline's TSC stamp as ticks before C entry; 0 when unknown. */
static uint64_t ticks_before(uint64_t stamp, uint64_t c_entry_tsc)
{
    if (stamp == 0 || stamp > c_entry_tsc)
        return 0;
    uint64_t ticks = c_entry_tsc - stamp;
    return ticks ? ticks : 1;
}

_Noreturn void smpboot_ap_main(void *slot_address)
{
    struct smpboot_slot *slot = slot_address;
    const struct smpboot_session *sb = (const struct smpboot_session *)(uintptr_t)slot->session;
    struct smpboot_cpu *cpu = (struct smpboot_cpu *)(uintptr_t)slot->cpu;

    uint64_t c_entry_ns = smpboot_now(sb);
    uint64_t c_entry_tsc = smpboot_arch_read_tsc();

    /* Until the entry loads its own IDT, an NMI (a panic stop) must not reset the machine. */
    smpboot_arch_load_nmi_idt(sb->nmi_idt);
    /* It left the trampoline page for good: no stale translation may outlive the page. */
    smpboot_arch_invlpg(sb->ap_tlb_drop);

    /* The AP's stamps go in its slot, never in *cpu, which the kernel reads meanwhile. */
    slot->tsc_claimed = ticks_before(slot->tsc_claimed, c_entry_tsc);
    slot->tsc_long_mode = ticks_before(slot->tsc_long_mode, c_entry_tsc);
    slot->c_entry_ns = c_entry_ns;
    __atomic_store_n(&slot->progress, SMPBOOT_PROGRESS_C, __ATOMIC_RELEASE);

    smpboot_entry_fn entry = sb->config.entry;
    uint64_t online_ns = smpboot_now(sb);
    uint64_t after = online_ns > c_entry_ns ? online_ns - c_entry_ns : 0;
    slot->online_after_ns = after > UINT32_MAX ? UINT32_MAX : (uint32_t)after;
    __atomic_store_n(&slot->progress, SMPBOOT_PROGRESS_ONLINE, __ATOMIC_RELEASE);
    uint32_t expected = SMPBOOT_SLOT_CLAIMED;
    if (!__atomic_compare_exchange_n(&slot->state, &expected, SMPBOOT_SLOT_ONLINE, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        smpboot_arch_park();  /* the BSP gave up on us at its deadline */

    entry(cpu);
    smpboot_arch_park();
}
