/*
 * A simulated machine for the engine's host tests: physical memory and a
 * frame allocator, a local APIC that records every ICR write (and flags an
 * xAPIC ICR pair written with interrupts on, or an x2APIC ICR write with no
 * store fence before it) and counts the BSP's register accesses, a clock,
 * and APs that are threads. An AP behaves
 * like the trampoline would: on the SIPI it answers, it finds its slot by
 * APIC ID and wins it by compare-and-swap (KICKED -> CLAIMED), then a thread
 * enters smpboot_ap_main() as that CPU.
 */
#ifndef SMPBOOT_TESTS_MOCK_HOST_H
#define SMPBOOT_TESTS_MOCK_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include <smpboot/smpboot.h>

#define MOCK_MAX_APS 320
#define MOCK_MAX_ICR 4096
#define MOCK_LOW_BYTES (64u << 20)          /* phys [0, 64 MiB) */
#define MOCK_HIGH_BASE (1ull << 32)         /* phys [4 GiB, 4 GiB + 16 MiB) */
#define MOCK_HIGH_BYTES (16u << 20)

enum mock_ap_behavior {
    MOCK_AP_PROMPT,       /* answers the first SIPI after INIT */
    MOCK_AP_SECOND_SIPI,  /* loses the first SIPI, answers the second */
    MOCK_AP_SILENT,       /* never answers (absent or dead CPU) */
    MOCK_AP_LATE,         /* runs the trampoline only after the BSP gave up */
    MOCK_AP_STALL,        /* wins its slot, then dies in long mode */
    MOCK_AP_NEEDS_SDM,    /* ignores SIPIs sent without a 10 ms INIT delay */
    MOCK_AP_SLOW,         /* reaches its slot only after the BSP's last SIPI */
    /*
     * Wakes on the first SIPI but its trampoline reaches the slot only once
     * the BSP re-INITs it (sdm_retry): it claims the slot the moment it is
     * KICKED, and is cut off in the trampoline when that INIT lands. Every
     * later SIPI it answers at once.
     */
    MOCK_AP_CLAIMS_DURING_REINIT,
    /*
     * Answers no SIPI of the first attempt, but the first attempt's SIPI is
     * still pending when the retry's INIT lands, and runs right after it (QEMU
     * and KVM apply a pending SIPI after a pending INIT, whatever the order
     * they were sent in): the AP reaches its slot while the BSP holds it.
     * From then on it is running, so it ignores the retry's SIPIs.
     */
    MOCK_AP_STALE_SIPI_AFTER_REINIT,
};

struct mock_icr {
    uint32_t sender;       /* APIC ID of the CPU that wrote it */
    uint32_t dest;
    uint32_t delivery;     /* bits 10:8 of ICR_LOW, as SMPBOOT_ICR_* */
    uint8_t vector;
    bool level_assert;
    bool level_trigger;
    uint32_t shorthand;    /* bits 19:18 */
    bool logical;          /* bit 11 */
    uint64_t at_ns;
};

enum mock_event_kind { MOCK_EV_ICR, MOCK_EV_ALLOC, MOCK_EV_FREE, MOCK_EV_MAP, MOCK_EV_UNMAP };

struct mock_event {
    enum mock_event_kind kind;
    uint64_t a;  /* ICR: dest; ALLOC/FREE: phys; MAP/UNMAP: virt */
    uint64_t b;  /* ICR: delivery; ALLOC/FREE/MAP/UNMAP: pages */
};

struct mock_ap {
    uint32_t apic_id;
    enum mock_ap_behavior behavior;
    uint32_t inits;            /* INITs that landed */
    uint32_t inits_sent;       /* INITs written to the ICR for it (atomic) */
    uint32_t sipis_sent;       /* SIPIs written to the ICR for it, answered or not (atomic) */
    uint32_t resets;           /* atomic: bumped when an INIT lands; a thread of an older
                                  generation is cut off at its next mock call */
    bool init_in_flight;       /* with mock_set_init_delay(): written, not landed yet */
    uint64_t init_lands_at_ns;
    uint32_t sipis;            /* since the last INIT */
    uint64_t init_at_ns;
    bool running;              /* not in wait-for-SIPI */
    bool won_slot;             /* written atomically: a late AP's thread sets these */
    bool lost_slot;            /* ran the trampoline and lost: parked untouched */
    bool reset_while_late;
    uint32_t entries;          /* times the kernel entry ran on it */
    uint64_t stack_top_seen;
};

/* Fresh machine: all memory free, no APs, the BSP as given. */
void mock_reset(uint32_t bsp_apic_id, bool x2apic);
/* Add an AP that the "hardware" has. */
void mock_add_ap(uint32_t apic_id, enum mock_ap_behavior behavior);
/* Callbacks for smpboot_init(); with_write_icr false exercises the xAPIC fallback. */
void mock_fill_host(struct smpboot_host *host, bool with_write_icr);
/* The session whose slot table the simulated trampoline reads. */
void mock_attach(struct smpboot *sb);

/*
 * host.alloc_stack/free_stack from the test's heap (page-aligned, each
 * checked on free against what was handed out); fail the n-th alloc_stack
 * call (0: none).
 */
void mock_use_heap_stacks(struct smpboot_host *host, unsigned fail_call);
unsigned mock_heap_stacks_outstanding(void);

/* Fault injection. n counts calls from 1; 0 turns it off. */
void mock_fail_alloc_call(unsigned n);
void mock_fail_map_call(unsigned n);
void mock_set_icr_stuck(bool stuck);
/*
 * ESR as the SDM describes it: a send's errors collect out of sight, and an
 * ESR write makes those collected since the previous write readable. This
 * raises `value` on every IPI sent from now on (0: none).
 */
void mock_set_esr(uint32_t value);
/*
 * IPIs to `dest` raise Send Accept Error (ESR bit 2), as on a P6/Pentium
 * APIC bus (or Bochs) where no APIC has that ID. 0xFFFFFFFF: none.
 */
void mock_set_accept_error(uint32_t dest);
/* The BSP sleeps this long right after the first SIPI an AP answers (a starved host). */
void mock_stall_bsp_once(uint64_t ns);
/*
 * An INIT lands this long after its ICR write instead of inside it (0: at
 * once). Meanwhile the AP runs on: a CPU may still claim its slot. It lands
 * at the first mock call (clock, relax, APIC) after that time, or just
 * before the next SIPI to the same AP (IPIs from one sender arrive in order).
 * Freeing frames while any INIT is in flight is a protocol error.
 */
void mock_set_init_delay(uint64_t ns);
/* From now on host.now_ns returns the same value for ever (a clock that needs interrupts). */
void mock_stop_clock(void);
/* host.now_ns reads `value` now and runs on from there (to test values near UINT64_MAX). */
void mock_set_clock_now(uint64_t value);
/*
 * Every ICR write moves host.now_ns forward by this much (0: off): a slow,
 * contended host, simulated without waiting for it.
 */
void mock_set_icr_cost(uint64_t ns);
/* Every alloc_frames call, and every map call, moves host.now_ns forward by this much (0: off). */
void mock_set_alloc_cost(uint64_t ns);
void mock_set_map_cost(uint64_t ns);
/* host.now_ns calls made on the BSP's thread since mock_reset(). */
uint64_t mock_bsp_clock_reads(void);
/* Make the next trampoline-page allocation return this address instead. */
void mock_force_low_page(uint64_t phys);

/* Run the calling thread as if it were the CPU with this APIC ID. */
void mock_become_cpu(uint32_t apic_id);

/* Wait (bounded) for every simulated AP thread to end. false on timeout. */
bool mock_join_aps(void);

/*
 * The BSP's local-APIC accesses, by register, in windows cut at its ICR
 * writes: a window is every access after one IPI's ICR write up to and
 * including the next IPI's ICR write, keyed by the kinds of those two IPIs.
 * MOCK_IPI_NONE at the front: before the first IPI; at the back: after the
 * last one so far. Only the thread that is the BSP counts.
 */
enum mock_ipi_kind {
    MOCK_IPI_NONE,
    MOCK_IPI_FIXED,
    MOCK_IPI_NMI,
    MOCK_IPI_INIT,
    MOCK_IPI_SIPI,
    MOCK_IPI_OTHER,
    MOCK_IPI_KINDS,
    MOCK_IPI_ANY = MOCK_IPI_KINDS,  /* in a query: either end may be of any kind */
};

enum mock_apic_reg {
    MOCK_REG_ID,
    MOCK_REG_ESR,
    MOCK_REG_ICR_LOW,
    MOCK_REG_ICR_HIGH,
    MOCK_REG_ICR,  /* host.apic.write_icr: the whole ICR in one call */
    MOCK_REG_OTHER,
    MOCK_REG_COUNT,
};

struct mock_apic_counts {
    unsigned windows;  /* the windows summed (the open one once it has an access) */
    unsigned reads[MOCK_REG_COUNT];
    unsigned writes[MOCK_REG_COUNT];
};

/* The windows from an IPI of kind `after` to one of kind `before`, summed. */
struct mock_apic_counts mock_apic_accesses(enum mock_ipi_kind after, enum mock_ipi_kind before);
/* Every access the BSP made, windows or not. */
unsigned mock_apic_access_total(void);

unsigned mock_icr_count(void);
const struct mock_icr *mock_icr_at(unsigned index);
unsigned mock_event_count(void);
const struct mock_event *mock_event_at(unsigned index);
struct mock_ap *mock_ap_by_id(uint32_t apic_id);
unsigned mock_ap_count(void);
struct mock_ap *mock_ap_at(unsigned index);

uint64_t mock_pages_outstanding(void);
unsigned mock_maps_outstanding(void);
/* Flags of the mapping that covers virt, or -1 when nothing maps it. */
int mock_mapping_flags(uint64_t virt);
unsigned mock_alloc_calls(void);
/* Allocate a frame in the high (>= 4 GiB) region, outside the accounting. */
uint64_t mock_alloc_high_frame(void);
void *mock_phys_to_virt(uint64_t phys);
bool mock_phys_is_allocated(uint64_t phys, uint64_t bytes);

/* Errors the simulated hardware saw (e.g. a SIPI to a page not installed). */
unsigned mock_protocol_errors(void);
const char *mock_last_protocol_error(void);

#endif
