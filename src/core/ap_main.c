/*
 * The AP side in C. The trampoline has already won the slot (KICKED ->
 * ARRIVED) and switched to the AP's own stack. Here the AP waits for the BSP
 * to release it, goes online (RELEASED -> ONLINE, by compare-and-swap: the
 * BSP may give up on it at the same moment) and enters the kernel. After
 * going online it touches neither the slot nor the session's borrowed memory:
 * smpboot_finish() may free them at any moment. The BSP, not the AP, records
 * the CPU's result.
 */
#include "core/session.h"
#include "arch/arch.h"

/*
 * The BSP releases every AP that answered within its own bounded waits, so
 * this only fires when the BSP is far behind (a starved emulator) or gone.
 * It is long on purpose: parking costs a CPU, waiting costs nothing.
 */
static uint64_t release_wait_bound(const struct smpboot *sb)
{
    uint64_t bound = 2 * (sb->config.ap_timeout_ns + sb->config.online_timeout_ns);
    return sb->config.total_timeout_ns > bound ? sb->config.total_timeout_ns : bound;
}

void smpboot_ap_main(void *slot_address)
{
    struct smpboot_slot *slot = slot_address;
    struct smpboot *sb = (struct smpboot *)(uintptr_t)slot->session;
    struct smpboot_cpu *cpu = (struct smpboot_cpu *)(uintptr_t)slot->cpu;

    /*
     * A (clock, TSC) pair, for the BSP to convert the trampoline's TSC stamps.
     * Written before the progress mark that publishes it; the BSP reads it
     * only once this AP is ONLINE. The AP writes nothing else of *cpu: the
     * BSP owns the public fields, and may be giving up on us right now.
     */
    uint64_t arrived = sb->host.now_ns(sb->host.ctx);
    cpu->priv_c_entry_tsc = smpboot_arch_read_tsc();
    cpu->priv_c_entry_ns = arrived;
    __atomic_store_n(&slot->progress, SMPBOOT_PROGRESS_C, __ATOMIC_RELEASE);

    for (;;) {
        uint32_t state = __atomic_load_n(&slot->state, __ATOMIC_ACQUIRE);
        if (state == SMPBOOT_SLOT_RELEASED)
            break;
        if (state != SMPBOOT_SLOT_ARRIVED)
            smpboot_arch_park();  /* the BSP gave up on us */
        /* A BSP that never releases us is far behind or gone: stay out of its way. */
        if (sb->host.now_ns(sb->host.ctx) - arrived > release_wait_bound(sb)) {
            __atomic_store_n(&slot->ap_flags, SMPBOOT_SLOT_AP_GAVE_UP, __ATOMIC_RELEASE);
            smpboot_arch_park();
        }
        smpboot_relax(sb);
    }

    /* What the BSP reads about this CPU, written before the state says ONLINE. */
    smpboot_entry_fn entry = sb->config.entry;
    slot->online_ns = sb->host.now_ns(sb->host.ctx);
    __atomic_store_n(&slot->progress, SMPBOOT_PROGRESS_ONLINE, __ATOMIC_RELEASE);
    uint32_t expected = SMPBOOT_SLOT_RELEASED;
    if (!__atomic_compare_exchange_n(&slot->state, &expected, SMPBOOT_SLOT_ONLINE, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        smpboot_arch_park();  /* the BSP gave up on us at its deadline */

    entry(cpu);
    smpboot_arch_park();
}
