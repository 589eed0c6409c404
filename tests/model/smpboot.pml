/*
 * libsmpboot: the INIT-SIPI handshake between the BSP and its APs (protocol
 * v2), as a Promela model for Spin. It follows smpboot_start() (one parallel
 * batch, or one batch per AP with -DSERIAL), smpboot_finish(), the AP's
 * trampoline claim and smpboot_ap_main(). docs/model.md says what is
 * abstracted and why; tests/model/run_spin.py runs every variant.
 *
 * Slot states: IDLE -> KICKED (BSP) -> CLAIMED (AP, trampoline CAS) ->
 * ONLINE (AP, C CAS). The BSP gives up by CAS: KICKED or CLAIMED ->
 * TIMED_OUT. A retry holds the slot HELD from before its re-INIT until the
 * INIT delay is over, then HELD -> KICKED before its first SIPI.
 *
 * The hardware: an INIT lands some time after its send returns (at the
 * latest when the INIT delay ends, or before a later SIPI to the same CPU is
 * delivered); a SIPI acts only on a CPU in wait-for-SIPI, and a running CPU
 * ignores it (MP spec 1.4, B.4.2).
 *
 * Granularity. A BSP step looks at one AP: its result and state words, then
 * at most one CAS, store or IPI. An AP step makes at most one access to its
 * state word. Checks of flags that only ever go one way (memory given back)
 * sit in the step that uses that memory.
 *
 * Variants (cpp macros: spin -DNAME -a smpboot.pml):
 *   SERIAL           SMPBOOT_MODE_SERIAL: one batch per AP
 *   CONFIG_FAST      one SIPI and sdm_retry only (default: every config mix)
 *   CONFIG_SDM       two SIPIs, no retry only
 *   NAP=2            two APs instead of three
 *   IPI_FAIL         one IPI of the run may fail: ESR error, or a busy ICR
 *   INIT_INSTANT     an INIT takes effect inside its send (the abstraction of
 *                    protocol v1's model, which hid finding B2)
 *   LTL_TERMINATION  the claim `<> bsp_done` (run pan -a -f, without SAFETY)
 *   MUT_AP_NO_CAS    the trampoline claims with check-then-store
 *   MUT_BSP_NO_CAS   the BSP gives up on a KICKED slot with a plain store
 *   MUT_NO_RELEASE   the AP's CAS to ONLINE is not a release
 *   MUT_NO_INIT      finish frees a failed AP's stack without INIT
 *   MUT_NO_SETTLE    finish frees stacks as soon as its INITs are sent
 *   MUT_NO_DEADLINE  the waits for answers have no deadline
 *   MUT_STALL_STORE  STALLED by a plain store, the slot left CLAIMED
 *   MUT_ONLINE_EARLY the AP swaps to ONLINE before its slot stores
 *   MUT_ONLINE_STORE the AP goes ONLINE by check-then-store, not CAS
 *   MUT_FINISH_FREES_ALL  after a failed INIT, finish still frees the
 *                    trampoline page and the slot table
 *   MUT_EARLY_KICK   finding B2: the retry swaps HELD -> KICKED right after
 *                    sending its INIT, before the INIT delay
 *   MUT_SIPI_RESTARTS  hardware without the SIPI-once rule: a SIPI restarts
 *                    a CPU that is already running
 *   PROBE_*          reachability probes: each asserts that a scenario never
 *                    happens, so a violation is the witness that it can
 */

#ifndef NAP
#define NAP 3
#endif

/* enum smpboot_slot_state (src/core/slot.h); 4 and 7 are retired */
#define IDLE      0
#define KICKED    1
#define HELD      2
#define CLAIMED   3
#define ONLINE    5
#define TIMED_OUT 6

/* enum smpboot_cpu_result (include/smpboot/cpu.h) */
#define NOT_STARTED   0
#define R_ONLINE      2
#define R_TIMED_OUT   3
#define R_STALLED     4
#define R_SEND_FAILED 5
#define R_SKIPPED     7

/* Who owns the frames of stack i: AP i, nobody, or someone the kernel gave them to. */
#define STACK_FREE  NAP
#define STACK_OTHER (NAP + 1)

/* enum wait_goal */
#define GOAL_TIME_ONLY 0
#define GOAL_ANSWERED  1
#define GOAL_ONLINE    2

/* What a busy ICR holds (IPI_FAIL). */
#define HELD_INIT 1
#define HELD_SIPI 2

/* --- Memory shared by the BSP and the APs. --- */
byte state[NAP];             /* slot->state */
byte result[NAP];            /* cpus[i].result */
byte stack_owner[NAP];       /* the frames of AP i's stack */
bool tramp_freed;            /* the trampoline page was given back */
bool slots_freed;            /* the slot table was given back */

/* The AP's plain stores into its slot (stamps), for property 4. */
bool buf_stamps[NAP];        /* still in the AP's store buffer */
bool mem_stamps[NAP];        /* visible to the BSP */

/* --- The hardware, per AP. --- */
bool hw_running[NAP];        /* out of wait-for-SIPI: running, or halted */
bool sipi_pending[NAP];      /* a SIPI arrived; the AP may act on it late */
bool init_inflight[NAP];     /* an INIT was sent and has not landed yet */
bool init_hit[NAP];          /* a reset (INIT) stopped the AP where it was */
bool icr_stuck;              /* IPI_FAIL: e->icr_stuck, the engine sends no more */
byte icr_held[NAP];          /* IPI_FAIL: the busy ICR still holds an IPI for AP i */
bool ipi_failed;             /* IPI_FAIL: at most one IPI of the run fails */

/* --- Ghost state, for the assertions only. --- */
byte entries[NAP];           /* (1) kernel entries */
bool on_stack[NAP];          /* (2) AP i runs on, or is halted on, its stack */
bool claimed[NAP];           /* AP i won KICKED -> CLAIMED at least once */
bool went_online[NAP];       /* AP i won CLAIMED -> ONLINE */
bool reset_running[NAP];     /* PROBE_RETRY_ONLINE: a reset hit AP i running, during start */
bool ran_before_init[NAP];   /* PROBE_LATE_INIT: AP i ran while an INIT to it was on its way */
bool start_done;             /* smpboot_start() returned */
bool bsp_done;               /* ... and smpboot_finish() too */

/* (5) A verdict is written once, over NOT_STARTED. */
inline verdict(k, v)
{
    assert(result[k] == NOT_STARTED);
    result[k] = v
}

/* (2) The AP runs on its own stack, and those frames are still its own. */
inline uses_stack(k)
{
    assert(on_stack[k] && stack_owner[k] == k)
}

/* A plain store to the slot's stamp fields: it sits in the store buffer. */
inline stamp_store(k)
{
    buf_stamps[k] = true;
    mem_stamps[k] = false
}

/* A release CAS: every earlier store of this AP drains first. */
#ifdef MUT_NO_RELEASE
inline release_fence(k) { skip }
#else
inline release_fence(k)
{
    if
    :: buf_stamps[k] -> mem_stamps[k] = true; buf_stamps[k] = false
    :: else -> skip
    fi
}
#endif

/* (4) The BSP acquired state == ONLINE: it reads the AP's stamps. */
inline saw_state_online(k)
{
    assert(mem_stamps[k])
}

/*
 * The CPU is reset and waits for a SIPI; a SIPI it has not acted on yet is
 * gone too. (7): a reset never takes a CPU the kernel owns, nor one holding
 * a claim (CLAIMED is set only by the AP's own CAS, and the BSP takes a
 * claim back only by CAS to TIMED_OUT): otherwise a CPU is lost.
 */
inline reset_cpu(k)
{
    assert(!went_online[k]);
    assert(state[k] != CLAIMED);
    if
    :: hw_running[k] ->
        init_hit[k] = true;
#ifdef PROBE_RETRY_ONLINE
        reset_running[k] = !start_done;
#endif
        skip
    :: else -> skip
    fi;
#ifdef PROBE_LATE_INIT
    assert(!ran_before_init[k]);
#endif
    hw_running[k] = false;
    sipi_pending[k] = false;
    on_stack[k] = false
}

inline init_lands(k)
{
    init_inflight[k] = false;
    reset_cpu(k)
}

/*
 * The INIT leaves the ICR; it lands later (Hardware), or at once with
 * INIT_INSTANT. A second INIT on the way merges with the first.
 */
#ifdef INIT_INSTANT
inline init_sent(k) { init_inflight[k] = true; init_lands(k) }
#else
inline init_sent(k) { init_inflight[k] = true }
#endif

/*
 * A SIPI reaches the AP. IPIs from the BSP to one CPU arrive in order, so an
 * INIT still on its way lands first. In wait-for-SIPI the SIPI is delivered
 * (the AP may act on it late) or lost; a running or halted CPU ignores it.
 */
inline sipi_arrives(k)
{
    if
    :: init_inflight[k] -> init_lands(k)
    :: else -> skip
    fi;
    if
    :: !hw_running[k] -> sipi_pending[k] = true
    :: !hw_running[k] -> skip
    :: hw_running[k] ->
#ifdef PROBE_SIPI_TO_ONLINE
        assert(!went_online[k]);
#endif
#ifdef MUT_SIPI_RESTARTS
        reset_cpu(k);
        sipi_pending[k] = true;
#endif
        skip
    fi
}

/*
 * One IPI to AP k. With IPI_FAIL, one send of the run (any one) may fail:
 * smpboot_ipi_send reports an ESR error (nothing was delivered), or the ICR
 * stays busy: that IPI may still go out at any later moment (the Hardware
 * process), and the engine sends nothing more (e->icr_stuck). finish.c
 * calls smpboot_ipi_send directly, which fails while the ICR is busy.
 */
#ifdef IPI_FAIL
inline send_ipi(k, ok, kind)
{
    if
    :: kind == HELD_INIT -> init_sent(k); ok = true
    :: kind == HELD_SIPI -> sipi_arrives(k); ok = true
    :: !ipi_failed -> ipi_failed = true; ok = false                     /* ESR error */
    :: !ipi_failed -> ipi_failed = true; icr_held[k] = kind; ok = false /* ICR busy */
    fi
}
inline send_init(k, ok)
{
    if
    :: icr_stuck -> ok = false
    :: else -> send_ipi(k, ok, HELD_INIT); icr_stuck = (icr_held[k] != 0)
    fi
}
inline send_sipi(k, ok)
{
    if
    :: icr_stuck -> ok = false
    :: else -> send_ipi(k, ok, HELD_SIPI); icr_stuck = (icr_held[k] != 0)
    fi
}
#if NAP == 2
#define ICR_BUSY (icr_held[0] != 0 || icr_held[1] != 0)
#else
#define ICR_BUSY (icr_held[0] != 0 || icr_held[1] != 0 || icr_held[2] != 0)
#endif
inline finish_init(k, ok)
{
    if
    :: ICR_BUSY -> ok = false
    :: else -> send_ipi(k, ok, HELD_INIT)
    fi
}
#else
inline send_init(k, ok) { init_sent(k); ok = true }
inline send_sipi(k, ok) { sipi_arrives(k); ok = true }
inline finish_init(k, ok) { init_sent(k); ok = true }
#endif

/* Time passes: every INIT to the batch still on its way lands now. */
inline all_inits_land(lo, hi)
{
    k = lo;
    do
    :: k < hi ->
        if
        :: init_inflight[k] -> init_lands(k)
        :: else -> skip
        fi;
        k++
    :: else -> break
    od;
    k = 0
}

/*
 * note_send_failure(): the AP may have answered an earlier SIPI, so the BSP
 * gives up on it only by CAS, KICKED (or HELD, in a retry) -> TIMED_OUT.
 */
inline send_failed(k)
{
    if
    :: state[k] == KICKED || state[k] == HELD -> state[k] = TIMED_OUT; verdict(k, R_SEND_FAILED)
    :: else -> skip
    fi
}

/* The BSP saw (acquired) state ONLINE: it records the AP's result. */
inline record_online(k)
{
    saw_state_online(k);
    verdict(k, R_ONLINE)
}

/* in_flight(): kicked, and no result yet. */
#define IN_FLIGHT(k) (result[k] == NOT_STARTED && state[k] != IDLE)

/* --------------------------------------------------------------------- */

proctype AP(byte i)
{
    bool lost, held;

restart:
    {
        lost = false;
        held = false;
        /*
         * Wait for SIPI. Then, in one step: real mode, 32-bit mode, the scan
         * of the slot table for our APIC ID, and the claim. A late SIPI is
         * this step taken long after the send.
         */
end_wait:
        atomic {
            sipi_pending[i] ->
            sipi_pending[i] = false;
            hw_running[i] = true;
            assert(!tramp_freed && !slots_freed);
#ifdef PROBE_LATE_INIT
            ran_before_init[i] = init_inflight[i];
#endif
#ifndef MUT_AP_NO_CAS
            if
            :: state[i] == KICKED ->        /* lock cmpxchg: KICKED -> CLAIMED */
                state[i] = CLAIMED;
                claimed[i] = true
            :: state[i] == HELD ->
#ifdef PROBE_HELD_LOSS
                assert(state[i] != HELD);
#endif
                held = true                 /* the BSP is re-INITing it: wait */
            :: else ->
#ifdef PROBE_LATE_LOSS
                assert(state[i] != TIMED_OUT);
#endif
                lost = true
            fi
#else
            lost = (state[i] != KICKED)
#endif
        };
#ifndef MUT_AP_NO_CAS
        /*
         * HELD: spin, touching nothing, until the INIT resets it (the unless
         * below) or the BSP arms the slot again or gives up on it; then the
         * claim as above.
         */
        do
        :: held ->
            atomic {
                state[i] != HELD ->
                held = false;
                assert(!slots_freed);
                if
                :: state[i] == KICKED ->
                    state[i] = CLAIMED;
                    claimed[i] = true
                :: else -> lost = true
                fi
            }
        :: else -> break
        od;
#endif
#ifdef MUT_AP_NO_CAS
        if
        :: !lost ->
            atomic {
                assert(!slots_freed);
                /* (3) the store must not overwrite a state the AP has not won */
                assert(state[i] == KICKED);
                state[i] = CLAIMED;
                claimed[i] = true
            }
        :: else -> skip
        fi;
#endif
        if
        :: lost -> goto park    /* (3) having lost, it touches nothing */
        :: else -> assert(result[i] != R_TIMED_OUT)
        fi;

        /*
         * Won: no wait for the BSP. Trampoline stamps, long mode, rsp =
         * slot->stack_top, jmp smpboot_ap_main; there the NMI-only IDT,
         * invlpg of the trampoline page, the C stamps into the slot.
         */
        atomic {
            assert(!tramp_freed && !slots_freed);
            assert(claimed[i]);
            on_stack[i] = true;
            uses_stack(i);
#ifndef MUT_ONLINE_EARLY
            stamp_store(i)
#endif
        };

        /* CLAIMED -> ONLINE (acq_rel CAS); on failure the BSP gave up: park. */
        atomic {
            uses_stack(i);
            assert(!slots_freed);
#ifndef MUT_ONLINE_STORE
            if
            :: state[i] == CLAIMED ->
                release_fence(i);
                state[i] = ONLINE;
                went_online[i] = true
            :: else -> lost = true
            fi
#else
            lost = (state[i] != CLAIMED)
#endif
        };
#ifdef MUT_ONLINE_STORE
        if
        :: !lost ->
            atomic {
                uses_stack(i);
                assert(!slots_freed);
                release_fence(i);
                state[i] = ONLINE;      /* a store: whatever the BSP decided meanwhile */
                went_online[i] = true
            }
        :: else -> skip
        fi;
#endif
        if
        :: lost -> goto park_on_stack
        :: else -> skip
        fi;

#ifdef MUT_ONLINE_EARLY
        atomic {
            uses_stack(i);
            assert(!slots_freed);
            stamp_store(i)
        };
#endif

        /* entry(cpu): the kernel runs on this stack from now on. */
        atomic {
            uses_stack(i);
            entries[i]++;
            assert(entries[i] == 1);        /* (1) */
#ifdef PROBE_RETRY_ONLINE
            assert(!reset_running[i]);
#endif
            skip
        };
end_kernel:
        false;

park_on_stack:
        assert(on_stack[i]);
park:
end_park:
        false   /* cli; hlt: only a reset wakes it */
    } unless {
        atomic { init_hit[i] -> init_hit[i] = false }
    };
    goto restart
}

/*
 * What happens on its own, at any moment: an INIT on its way lands, a plain
 * store becomes visible (only mutant MUT_NO_RELEASE leaves one pending past
 * the AP's CAS), and with IPI_FAIL the IPI held in a busy ICR goes out.
 */
#define LAND(k) :: atomic { init_inflight[k] -> init_lands(k) }
#define DRAIN(k) :: atomic { buf_stamps[k] -> mem_stamps[k] = true; buf_stamps[k] = false }
#define HELD_IPI(k) \
    :: atomic { icr_held[k] == HELD_INIT -> icr_held[k] = 0; init_sent(k) } \
    :: atomic { icr_held[k] == HELD_SIPI -> icr_held[k] = 0; sipi_arrives(k) }

active proctype Hardware()
{
end_idle:
    do
    LAND(0)
    LAND(1)
    DRAIN(0)
    DRAIN(1)
#if NAP >= 3
    LAND(2)
    DRAIN(2)
#endif
#ifdef IPI_FAIL
    HELD_IPI(0)
    HELD_IPI(1)
#if NAP >= 3
    HELD_IPI(2)
#endif
#endif
    od
}

/* --------------------------------------------------------------------- */

/* poll_batch(): record every AP that went online, count the rest. */
inline poll_batch()
{
    atomic { unanswered = 0; not_online = 0; j = first };
    do
    :: atomic {
        j < last ->
            if
            :: IN_FLIGHT(j) ->
                if
                :: state[j] == KICKED || state[j] == HELD -> unanswered++
                :: state[j] == CLAIMED -> not_online++
                :: state[j] == ONLINE -> record_online(j)
                :: state[j] == TIMED_OUT -> skip
                fi
            :: else -> skip
            fi;
            j++
        }
    :: atomic { j >= last -> j = 0 }; break
    od
}

/*
 * wait_batch(): poll, stop on the goal, else at the deadline. A poll changes
 * no state an AP reads: it only records ONLINE, which is final and which
 * any later poll or give_verdicts() records just the same. A wait of many
 * polls therefore reaches nothing that one poll, taken at the moment the
 * wait ends, does not: the model polls once (the AP steps that a longer
 * wait lets happen may all come before that poll).
 */
inline wait_batch(wanted)
{
    goal = wanted;
    do
    :: poll_batch();
        if
        :: goal == GOAL_ANSWERED && unanswered == 0 -> break
        :: goal == GOAL_ONLINE && unanswered == 0 && not_online == 0 -> break
        :: else ->
#ifndef MUT_NO_DEADLINE
            break                                   /* now >= until */
#else
            if
            :: goal == GOAL_TIME_ONLY -> break
            :: else -> skip                         /* no deadline: poll again */
            fi
#endif
        fi
    od;
    atomic { goal = 0; unanswered = 0; not_online = 0 }
}

/*
 * kick_batch(): INITs, the INIT delay, the SIPIs. The first attempt kicks
 * every IDLE slot; a retry holds every slot still KICKED (KICKED -> HELD by
 * CAS) before its re-INIT and keeps it HELD until the INIT delay is over.
 */
inline kick_batch(retry, nsipi)
{
    j = first;
    do
    :: j < last ->
        if
        :: !retry ->
            atomic {
                if
                :: result[j] == NOT_STARTED && state[j] == IDLE ->
                    /* now >= total_deadline: once late, late for the rest */
                    if
                    :: late = true
                    :: skip
                    fi;
                    if
                    :: late || icr_stuck -> verdict(j, R_SKIPPED)
                    :: else ->
                        state[j] = KICKED;      /* release store: slot fields published */
                        send_init(j, ok);
                        if
                        :: !ok -> send_failed(j)
                        :: else -> skip
                        fi
                    fi
                :: else -> skip
                fi;
                ok = true
            }
        :: retry ->
            atomic {
                held = (IN_FLIGHT(j) && state[j] == KICKED);
                if
                :: held -> state[j] = HELD      /* CAS KICKED -> HELD */
                :: else -> skip                 /* answered meanwhile */
                fi
            };
            if
            :: held ->
                atomic {
                    send_init(j, ok);
#ifdef MUT_EARLY_KICK
                    if
                    :: state[j] == HELD -> state[j] = KICKED
                    :: else -> skip
                    fi;
#endif
                    if
                    :: !ok -> send_failed(j)
                    :: else -> skip
                    fi;
                    held = false;
                    ok = true
                }
            :: else -> skip
            fi
        fi;
        j++
    :: else -> break
    od;
    j = 0;

    /*
     * The INIT delay. The retry's is the SDM's 10 ms, by whose end its INITs
     * have landed; then HELD -> KICKED, just before its first SIPI. The first
     * attempt's may be 0: nothing of ours runs on an AP before our first
     * SIPI, which its INIT precedes on the wire.
     */
    wait_batch(GOAL_TIME_ONLY);
    if
    :: retry ->
        atomic { all_inits_land(first, last) };
        j = first;
        do
        :: atomic {
            j < last ->
                if
                :: state[j] == HELD -> state[j] = KICKED    /* CAS HELD -> KICKED */
                :: else -> skip
                fi;
                j++
            }
        :: atomic { j >= last -> j = 0 }; break
        od
    :: else -> skip
    fi;

    /*
     * SIPI rounds: only to slots still KICKED. The load of the state and the
     * ICR write are two steps: the AP may claim in between, and the SIPI
     * then reaches a running CPU.
     */
    round = 0;
    do
    :: round < nsipi ->
        if
        :: round > 0 -> wait_batch(GOAL_ANSWERED)
        :: else -> skip
        fi;
        j = first;
        do
        :: atomic { j < last && !(IN_FLIGHT(j) && state[j] == KICKED) -> j++ }
        :: atomic { j < last && IN_FLIGHT(j) && state[j] == KICKED -> skip };
            atomic {
                send_sipi(j, ok);
                if
                :: !ok -> send_failed(j)
                :: else -> skip
                fi;
                ok = true;
                j++
            }
        :: atomic { j >= last -> j = 0 }; break
        od;
        round++
    :: else -> break
    od;
    round = 0
}

/* give_verdicts(): time out the silent, wait for the claimed, judge the rest. */
inline give_verdicts()
{
    j = first;
    do
    :: j < last ->
#ifndef MUT_BSP_NO_CAS
        atomic {
            if
            :: IN_FLIGHT(j) && state[j] == KICKED ->
                state[j] = TIMED_OUT;               /* CAS KICKED -> TIMED_OUT */
                verdict(j, R_TIMED_OUT)
            :: else -> skip
            fi;
            j++
        }
#else
        atomic { pending = (IN_FLIGHT(j) && state[j] == KICKED) };
        atomic {
            if
            :: pending -> state[j] = TIMED_OUT; verdict(j, R_TIMED_OUT)
            :: else -> skip
            fi;
            pending = false;
            j++
        }
#endif
    :: else -> break
    od;
    j = 0;

    wait_batch(GOAL_ONLINE);

    j = first;
    do
    :: j < last ->
#ifndef MUT_STALL_STORE
        /*
         * Claimed, not online: CAS CLAIMED -> TIMED_OUT, then STALLED. A
         * failed CAS means it went online: the poll of this one AP records it.
         */
        atomic {
            if
            :: IN_FLIGHT(j) ->
                if
                :: state[j] == CLAIMED ->
                    state[j] = TIMED_OUT;
                    verdict(j, R_STALLED)
                :: state[j] == ONLINE -> record_online(j)
                :: else -> skip
                fi
            :: else -> skip
            fi;
            j++
        }
#else
        atomic {
            pending = (IN_FLIGHT(j) && state[j] == CLAIMED);
            if
            :: IN_FLIGHT(j) && state[j] == ONLINE -> record_online(j)
            :: else -> skip
            fi
        };
        atomic {
            if
            :: pending -> verdict(j, R_STALLED)
            :: else -> skip
            fi;
            pending = false;
            j++
        }
#endif
    :: else -> break
    od;
    j = 0
}

inline run_batch()
{
    kick_batch(false, sipi_count);
    wait_batch(GOAL_ANSWERED);
    if
    :: sdm_retry && !icr_stuck ->
        poll_batch();   /* any_unanswered() */
        if
        :: unanswered > 0 ->
            atomic { unanswered = 0; not_online = 0 };
            kick_batch(true, 2);
            wait_batch(GOAL_ANSWERED)
        :: else -> atomic { unanswered = 0; not_online = 0 }
        fi
    :: else -> skip
    fi;
    give_verdicts()
}

active proctype BSP()
{
    byte j, k, first, last, round, goal, unanswered, not_online, sipi_count;
    bool sdm_retry, late, held, ok = true, pending, init_failed;
    bool unreset[NAP];

    /*
     * The config: one or two SIPIs, with or without sdm_retry (default:
     * two and retry; smpboot_config_sdm(): two, no retry; fast: one, retry).
     */
#if defined(CONFIG_FAST)
    sipi_count = 1;
    sdm_retry = true;
#elif defined(CONFIG_SDM)
    sipi_count = 2;
    sdm_retry = false;
#else
    if
    :: sipi_count = 1
    :: sipi_count = 2
    fi;
    if
    :: sdm_retry = false
    :: sdm_retry = true
    fi;
#endif

    /* smpboot_start(): prepare() allocated the stacks and built the slot table. */
    atomic {
        j = 0;
        do
        :: j < NAP -> stack_owner[j] = j; run AP(j); j++
        :: else -> break
        od;
        j = 0
    };

#ifdef SERIAL
    first = 0;
    do
    :: first < NAP -> last = first + 1; run_batch(); first++
    :: else -> break
    od;
    first = 0;
    last = 0;
#else
    first = 0;
    last = NAP;
    run_batch();
#endif

    /*
     * last_online_stamp(), smpboot_online_count(): what start reports. (5):
     * every AP has its verdict, and no slot is left KICKED, HELD or CLAIMED.
     */
    do
    :: atomic {
        j < NAP ->
            assert(result[j] != NOT_STARTED);
            assert(state[j] == IDLE || state[j] == ONLINE || state[j] == TIMED_OUT);
            if
            :: state[j] == ONLINE -> saw_state_online(j)
            :: else -> skip
            fi;
            j++
        }
    :: atomic { j >= NAP -> j = 0 }; break
    od;
    start_done = true;

    /* smpboot_finish(): INIT every AP that is not online and was kicked (slot not IDLE). */
    do
    :: j < NAP ->
        atomic {
            if
            :: result[j] != R_ONLINE && state[j] != IDLE ->
#ifndef MUT_NO_INIT
                finish_init(j, ok);
#endif
                if
                :: !ok -> unreset[j] = true; init_failed = true
                :: else -> skip
                fi
            :: else -> skip
            fi;
            ok = true;
            j++
        }
    :: else -> break
    od;
    j = 0;

    /* settle(): an INIT that left the ICR lands before anything is freed. */
#ifndef MUT_NO_SETTLE
    atomic { all_inits_land(0, NAP) };
#endif

    /* The stacks of the APs it reset; an AP it could not reset keeps its own. */
    do
    :: atomic {
        j < NAP ->
            if
            :: result[j] != R_ONLINE && !unreset[j] ->
                assert(!on_stack[j]);       /* (2) nobody runs on it */
                stack_owner[j] = STACK_FREE
            :: else -> skip
            fi;
            j++
        }
    :: atomic { j >= NAP -> j = 0 }; break
    od;
#ifndef MUT_FINISH_FREES_ALL
    /* An AP that INIT could not reach may still read both: keep them too. */
    if
    :: !init_failed ->
        tramp_freed = true;
        slots_freed = true
    :: else -> skip
    fi;
#else
    tramp_freed = true;     /* smpboot_trampoline_remove() */
    slots_freed = true;     /* smpboot_slots_destroy() */
#endif

    /* The kernel hands the freed frames to someone else. */
    atomic {
        do
        :: j < NAP ->
            if
            :: stack_owner[j] == STACK_FREE -> stack_owner[j] = STACK_OTHER
            :: else -> skip
            fi;
            j++
        :: else -> break
        od;
        j = 0
    };

    /*
     * After finish: a CPU that is not online is quiescent (in wait-for-SIPI,
     * no SIPI or INIT coming), one that went online still owns its stack,
     * and the verdicts agree with what the APs did.
     */
    atomic {
        do
        :: j < NAP ->
            if
            :: result[j] != R_ONLINE ->
#ifndef IPI_FAIL
                assert(!hw_running[j] && !sipi_pending[j] && !on_stack[j] && !init_inflight[j]);
#endif
                assert(!went_online[j])
            :: else -> assert(went_online[j] && stack_owner[j] == j)
            fi;
            assert(result[j] != R_TIMED_OUT || !claimed[j]);
            assert(result[j] != R_STALLED || claimed[j]);
            j++
        :: else -> break
        od;
        j = 0
    };
#ifdef PROBE_ALL_ONLINE
    assert(!(result[0] == R_ONLINE && result[1] == R_ONLINE && result[NAP - 1] == R_ONLINE));
#endif
#ifdef PROBE_STALLED
    assert(result[0] != R_STALLED && result[1] != R_STALLED && result[NAP - 1] != R_STALLED);
#endif
#ifdef PROBE_MIXED
    /* one online, one timed out, one stalled, in one run */
    assert(!(result[0] == R_ONLINE && result[1] == R_TIMED_OUT && result[NAP - 1] == R_STALLED));
#endif
    bsp_done = true
}

#ifdef LTL_TERMINATION
/* (5) smpboot_start() and smpboot_finish() return, under weak fairness (-f). */
ltl terminates { <> bsp_done }
#endif
