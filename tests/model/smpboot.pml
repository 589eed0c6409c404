/*
 * libsmpboot: the INIT-SIPI handshake between the BSP and its APs, as a
 * Promela model for Spin. It follows src/core/bringup.c (one parallel batch,
 * or one batch per AP with -DSERIAL), src/core/finish.c, src/core/ap_main.c
 * and asm/trampoline.asm as of commit d0f9e7d plus the F2 fix in finish.c; docs/model.md says what is
 * abstracted and why, and tests/model/run_spin.py runs every variant.
 *
 * Granularity. A BSP step looks at one AP: its result and state words, then
 * at most one CAS or store. An AP step makes at most one access to its state
 * word. Checks of flags that only ever go one way (memory given back) sit in
 * the step that uses that memory.
 *
 * Variants (cpp macros: spin -DNAME -a smpboot.pml):
 *   SERIAL          SMPBOOT_MODE_SERIAL: one batch per AP
 *   CONFIG_FAST     smpboot_config_fast() only (default: every config mix)
 *   CONFIG_SDM      smpboot_config_default() only
 *   IPI_FAIL        one IPI of the run may fail: ESR error, or a busy ICR
 *   MUT_FINISH_FREES_ALL  mutant (h), finding F2 before its fix: when an INIT
 *                   fails, finish still frees the trampoline page and slot table
 *   NAP=2           two APs instead of three
 *   LTL_TERMINATION the claim `<> bsp_done` (run pan -a -f, without SAFETY)
 *   MUT_AP_NO_CAS   mutant (a): the trampoline claims with check-then-store
 *   MUT_BSP_NO_CAS  mutant (a): the BSP times an AP out with a plain store
 *   MUT_NO_RELEASE  mutant (b): the AP's release stores and CASes are relaxed
 *   MUT_NO_INIT     mutant (c): finish frees a failed AP's stack, no INIT
 *   MUT_NO_DEADLINE mutant (e): the waits for answers have no deadline
 *   MUT_STALL_STORE mutant (f): STALLED by a plain store, the slot left as
 *                   it is (the race of commit 66c4388)
 *   MUT_ONLINE_EARLY mutant (g): the AP swaps to ONLINE before its last
 *                   stores to the slot
 *   PROBE_*         reachability probes: each asserts that a scenario never
 *                   happens, so a violation is the witness that it can
 */

#ifndef NAP
#define NAP 3
#endif

/* enum smpboot_slot_state (src/core/slot.h) */
#define IDLE      0
#define KICKED    1
#define HELD      2
#define ARRIVED   3
#define RELEASED  4
#define ONLINE    5
#define TIMED_OUT 6
#define SIPIS_DONE 7

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

/* Store buffers for property 4: a plain store waits here until it drains. */
bool buf_online_ns[NAP];     /* slot->online_ns */
bool mem_online_ns[NAP];
bool buf_cpu_progress[NAP];  /* cpus[i].progress = ONLINE */
bool mem_cpu_progress[NAP];

/* --- The hardware, per AP. --- */
bool hw_running[NAP];        /* out of wait-for-SIPI: running, or halted */
bool sipi_pending[NAP];      /* a SIPI arrived; the AP may act on it late */
bool init_hit[NAP];          /* an INIT reset the AP: it leaves its code */
bool icr_stuck;              /* IPI_FAIL: e->icr_stuck, the engine sends no more */
byte icr_held[NAP];          /* IPI_FAIL: the busy ICR still holds an IPI for AP i */
bool ipi_failed;             /* IPI_FAIL: at most one IPI of the run fails */

/* --- Ghost state, for the assertions only. --- */
byte entries[NAP];           /* (1) kernel entries */
bool on_stack[NAP];          /* (2) AP i runs on, or is halted on, its stack */
bool claimed[NAP];           /* AP i won KICKED -> ARRIVED at least once */
bool went_online[NAP];       /* AP i won RELEASED -> ONLINE */
bool reset_running[NAP];     /* an INIT reset AP i while it ran, during start */
bool self_released[NAP];     /* AP i won SIPIS_DONE -> RELEASED */
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

/* A release store or CAS: every earlier store of this AP drains first. */
#ifdef MUT_NO_RELEASE
inline release_fence(k) { skip }
#else
inline release_fence(k)
{
    if
    :: buf_online_ns[k] -> mem_online_ns[k] = true; buf_online_ns[k] = false
    :: else -> skip
    fi;
    if
    :: buf_cpu_progress[k] -> mem_cpu_progress[k] = true; buf_cpu_progress[k] = false
    :: else -> skip
    fi
}
#endif

/* (4) The BSP acquired state == ONLINE: it reads slot->online_ns and progress. */
inline saw_state_online(k)
{
    assert(mem_online_ns[k])
}

/* (4) The BSP, or the kernel after it, acquired result == ONLINE. */
inline saw_result_online(k)
{
    assert(mem_cpu_progress[k])
}

/*
 * INIT: the AP drops whatever it runs and waits for a SIPI; a SIPI it has
 * not acted on yet is gone too. Sent to a CPU that went online, it would
 * kill a CPU the kernel already owns.
 */
inline init_effect(k)
{
    assert(!went_online[k]);
    if
    :: hw_running[k] ->
        init_hit[k] = true;
#ifdef PROBE_RETRY_ONLINE
        reset_running[k] = !start_done;
#endif
        skip
    :: else -> skip
    fi;
    hw_running[k] = false;
    sipi_pending[k] = false;
    on_stack[k] = false
}

/* A SIPI reaches a CPU in wait-for-SIPI, or is lost; a running CPU ignores it. */
inline sipi_effect(k)
{
    if
    :: !hw_running[k] -> sipi_pending[k] = true
    :: !hw_running[k] -> skip
    :: hw_running[k] -> skip
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
    :: kind == HELD_INIT -> init_effect(k); ok = true
    :: kind == HELD_SIPI -> sipi_effect(k); ok = true
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
inline send_init(k, ok) { init_effect(k); ok = true }
inline send_sipi(k, ok) { sipi_effect(k); ok = true }
inline finish_init(k, ok) { init_effect(k); ok = true }
#endif

/*
 * note_send_failure(): the AP may have answered an earlier SIPI, so the BSP
 * gives up on it only by CAS.
 */
inline send_failed(k)
{
    if
    :: state[k] == KICKED -> state[k] = TIMED_OUT; verdict(k, R_SEND_FAILED)
    :: else -> skip
    fi
}

/* The BSP saw (acquired) state ONLINE: it records the AP's result. */
inline record_online(k)
{
    saw_state_online(k);
    saw_result_online(k);
    verdict(k, R_ONLINE)
}

/* in_flight(): kicked, and no result yet. */
#define IN_FLIGHT(k) (result[k] == NOT_STARTED && state[k] != IDLE)

/* --------------------------------------------------------------------- */

proctype AP(byte i)
{
    bool lost;
#ifdef MUT_AP_NO_CAS
    bool saw_kicked;
#endif

restart:
    {
        lost = false;
        /*
         * Wait for SIPI. Then, in one step: real mode (params.entered++, the
         * GDT), 32-bit mode, the scan of the slot table for our APIC ID, and
         * the claim. A late SIPI is this step taken long after the send.
         */
end_wait:
        atomic {
            sipi_pending[i] ->
            sipi_pending[i] = false;
            hw_running[i] = true;
            assert(!tramp_freed && !slots_freed);
#ifndef MUT_AP_NO_CAS
            if
            :: state[i] == KICKED ->        /* lock cmpxchg: KICKED -> ARRIVED */
                state[i] = ARRIVED;
                claimed[i] = true
            :: else -> lost = true
            fi
#else
            saw_kicked = (state[i] == KICKED)
#endif
        };
#ifdef MUT_AP_NO_CAS
        if
        :: saw_kicked ->
            atomic {
                assert(!slots_freed);
                /* (3) the store must not overwrite a state the AP has not won */
                assert(state[i] == KICKED);
                state[i] = ARRIVED;
                claimed[i] = true;
                saw_kicked = false
            }
        :: else -> lost = true
        fi;
#endif
        /* Lost that: lock cmpxchg SIPIS_DONE -> RELEASED, else jne park. */
        if
        :: lost ->
            atomic {
                assert(!slots_freed);
                if
                :: state[i] == SIPIS_DONE ->
                    state[i] = RELEASED;
                    claimed[i] = true;
#ifdef PROBE_SELF_RELEASE
                    self_released[i] = true;
#endif
                    lost = false
                :: else ->
#ifdef PROBE_LATE_LOSS
                    assert(state[i] != TIMED_OUT);
#endif
#ifdef PROBE_HELD_LOSS
                    assert(state[i] != HELD);
#endif
                    skip
                fi
            }
        :: else -> skip
        fi;
        if
        :: lost -> goto park    /* (3) having lost, it touches nothing */
        :: else -> assert(result[i] != R_TIMED_OUT)
        fi;

        /*
         * Won. Progress and TSC stores, the control registers from params,
         * long mode, rsp = slot->stack_top, call smpboot_ap_main, progress C.
         */
        atomic {
            assert(!tramp_freed && !slots_freed);
            assert(claimed[i]);
            on_stack[i] = true;
            uses_stack(i)
        };

        /*
         * Poll for RELEASED. Any state but ARRIVED: the BSP gave up on us,
         * park. After release_wait_bound(): flag GAVE_UP in the slot, park.
         */
        do
        :: atomic { state[i] == RELEASED -> uses_stack(i); assert(!slots_freed) }; break
        :: atomic { state[i] == ARRIVED -> uses_stack(i); assert(!slots_freed) }
        :: atomic { state[i] != RELEASED && state[i] != ARRIVED -> uses_stack(i); assert(!slots_freed) };
            goto park_on_stack
        :: atomic { uses_stack(i); assert(!slots_freed) };  /* ap_flags = GAVE_UP */
            goto park_on_stack
        od;

#ifndef MUT_ONLINE_EARLY
        /*
         * cpu->progress = ONLINE, slot->online_ns, cpu->timeline.online (plain
         * stores); slot->progress = ONLINE (release store).
         */
        atomic {
            uses_stack(i);
            assert(!slots_freed);
            buf_cpu_progress[i] = true;
            buf_online_ns[i] = true;
            release_fence(i)
        };
#endif

        /* RELEASED -> ONLINE (acq_rel CAS); on failure the BSP gave up: park. */
        atomic {
            uses_stack(i);
            assert(!slots_freed);
            if
            :: state[i] == RELEASED ->
                release_fence(i);
                state[i] = ONLINE;
                went_online[i] = true
            :: else -> lost = true
            fi
        };
        if
        :: lost -> goto park_on_stack
        :: else -> skip
        fi;

#ifdef MUT_ONLINE_EARLY
        atomic {
            uses_stack(i);
            assert(!slots_freed);
            buf_cpu_progress[i] = true;
            buf_online_ns[i] = true;
            release_fence(i)
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
#ifdef PROBE_SELF_RELEASE
            assert(!self_released[i]);
#endif
            skip
        };
end_kernel:
        false;

park_on_stack:
        assert(on_stack[i]);
park:
end_park:
        false   /* cli; hlt: only INIT wakes it */
    } unless {
        atomic { init_hit[i] -> init_hit[i] = false }
    };
    goto restart
}

/*
 * What happens on its own, at any moment: a pending plain store becomes
 * visible (only mutant (b) leaves stores pending between steps: release
 * ordering drains them inside the releasing step), and with IPI_FAIL the
 * IPI held in a busy ICR goes out after all.
 */
#define DRAIN(buf, mem, k) :: atomic { buf[k] -> mem[k] = true; buf[k] = false }
#define HELD_IPI(k) \
    :: atomic { icr_held[k] == HELD_INIT -> icr_held[k] = 0; init_effect(k) } \
    :: atomic { icr_held[k] == HELD_SIPI -> icr_held[k] = 0; sipi_effect(k) }

active proctype Hardware()
{
end_idle:
    do
    DRAIN(buf_online_ns, mem_online_ns, 0)
    DRAIN(buf_online_ns, mem_online_ns, 1)
    DRAIN(buf_cpu_progress, mem_cpu_progress, 0)
    DRAIN(buf_cpu_progress, mem_cpu_progress, 1)
#if NAP >= 3
    DRAIN(buf_online_ns, mem_online_ns, 2)
    DRAIN(buf_cpu_progress, mem_cpu_progress, 2)
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

/* poll_batch(): release every AP that answered, count the rest. */
inline poll_batch()
{
    atomic { unanswered = 0; not_online = 0; j = first };
    do
    :: atomic {
        j < last ->
            if
            :: IN_FLIGHT(j) ->
                if
                :: state[j] == KICKED || state[j] == HELD || state[j] == SIPIS_DONE -> unanswered++
                :: state[j] == ARRIVED -> state[j] = RELEASED; not_online++
                :: state[j] == RELEASED -> not_online++
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
 * wait_batch(): poll, stop on the goal, else the deadline may have passed
 * after any poll. The deadline is time, and time always comes, so the model
 * bounds the polls: at most one per AP of the batch, and none more once no
 * AP of the batch is KICKED, HELD or ARRIVED (RELEASABLE, a test the model
 * makes, not a read the BSP makes). A poll changes shared state only by
 * releasing an ARRIVED AP, at most once per AP, or by recording ONLINE,
 * which the next poll or the final loop records just the same: nothing
 * reads a result word meanwhile. So longer waits reach nothing new.
 */
#define CAN_RELEASE(k) (first <= k && k < last && \
                        (state[k] == KICKED || state[k] == HELD || state[k] == ARRIVED))
#if NAP >= 3
#define RELEASABLE (CAN_RELEASE(0) || CAN_RELEASE(1) || CAN_RELEASE(2))
#else
#define RELEASABLE (CAN_RELEASE(0) || CAN_RELEASE(1))
#endif

inline wait_batch(wanted)
{
    goal = wanted;
    do
    :: poll_batch();
        if
        :: goal == GOAL_ANSWERED && unanswered == 0 -> break
        :: goal == GOAL_ONLINE && unanswered == 0 && not_online == 0 -> break
        :: else ->
            polls++;
            if
#ifndef MUT_NO_DEADLINE
            :: break                                            /* now >= until */
#else
            :: goal == GOAL_TIME_ONLY -> break
            :: goal != GOAL_TIME_ONLY -> polls = 0              /* no deadline */
#endif
            :: polls < last - first && RELEASABLE -> skip       /* relax, poll again */
            fi
        fi
    od;
    atomic { goal = 0; polls = 0; unanswered = 0; not_online = 0 }
}

/* kick_batch(): INITs (a retry holds each slot around its INIT), then SIPIs. */
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
                if
                :: result[j] == NOT_STARTED && (state[j] == KICKED || state[j] == SIPIS_DONE) ->
                    state[j] = HELD;            /* CAS KICKED, else SIPIS_DONE, -> HELD */
                    held = true
                :: else -> held = false     /* answered meanwhile */
                fi
            };
            if
            :: held ->
                atomic { send_init(j, ok) };
                atomic {
                    if
                    :: state[j] == HELD -> state[j] = KICKED
                    :: else -> skip
                    fi;
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

    wait_batch(GOAL_TIME_ONLY);

    round = 0;
    do
    :: round < nsipi ->
        if
        :: round > 0 -> wait_batch(GOAL_ANSWERED)
        :: else -> skip
        fi;
        j = first;
        do
        :: atomic {
            j < last ->
                if
                :: IN_FLIGHT(j) && state[j] == KICKED ->
                    send_sipi(j, ok);
                    if
                    :: !ok -> send_failed(j)
                    :: else -> skip
                    fi;
                    ok = true
                :: else -> skip
                fi;
                j++
            }
        :: atomic { j >= last -> j = 0 }; break
        od;
        round++
    :: else -> break
    od;
    round = 0;

    /* Every SIPI of this attempt is out: KICKED -> SIPIS_DONE by CAS. */
    j = first;
    do
    :: atomic {
        j < last ->
            if
            :: IN_FLIGHT(j) && state[j] == KICKED -> state[j] = SIPIS_DONE
            :: else -> skip
            fi;
            j++
        }
    :: atomic { j >= last -> j = 0 }; break
    od
}

/* give_verdicts(): time out the silent, wait for the released, judge the rest. */
inline give_verdicts()
{
    j = first;
    do
    :: j < last ->
#ifndef MUT_BSP_NO_CAS
        atomic {
            if
            :: IN_FLIGHT(j) && (state[j] == KICKED || state[j] == SIPIS_DONE) ->
                /* CAS KICKED, else SIPIS_DONE, -> TIMED_OUT */
                state[j] = TIMED_OUT;
                verdict(j, R_TIMED_OUT)
            :: else -> skip
            fi;
            j++
        }
#else
        atomic { pending = (IN_FLIGHT(j) && (state[j] == KICKED || state[j] == SIPIS_DONE)) };
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
         * Answered, not online: CAS RELEASED -> TIMED_OUT, else CAS ARRIVED ->
         * TIMED_OUT, then STALLED. Both failing means it went online: the
         * poll of this one AP records it.
         */
        atomic {
            if
            :: IN_FLIGHT(j) ->
                if
                :: state[j] == RELEASED || state[j] == ARRIVED ->
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
            pending = (IN_FLIGHT(j) && (state[j] == ARRIVED || state[j] == RELEASED));
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
    byte j, first, last, round, polls, goal, unanswered, not_online, sipi_count;
    bool sdm_retry, late, held, ok = true, pending, init_failed;

    /*
     * The config: smpboot_config_fast() (one SIPI, SDM retry), the default
     * (two SIPIs, no retry), or by default any mix of the two.
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

    /* last_online_stamp(), smpboot_online_count(): what start reports. */
    j = 0;
    do
    :: atomic {
        j < NAP ->
            if
            :: state[j] == ONLINE -> saw_state_online(j)
            :: else -> skip
            fi;
            j++
        }
    :: atomic { j >= NAP -> j = 0 }; break
    od;
    do
    :: atomic {
        j < NAP ->
            assert(result[j] != NOT_STARTED);   /* (5) every AP has its verdict */
            if
            :: result[j] == R_ONLINE -> saw_result_online(j)
            :: else -> skip
            fi;
            j++
        }
    :: atomic { j >= NAP -> j = 0 }; break
    od;
    start_done = true;

    /* smpboot_finish(): INIT every AP that is not online, then free its stack. */
    do
    :: j < NAP ->
        atomic {
            pending = (result[j] != R_ONLINE);
            if
            :: !pending -> saw_result_online(j)
            :: else -> skip
            fi
        };
        if
        :: pending ->
            atomic {
                if
                :: state[j] != IDLE ->
#ifndef MUT_NO_INIT
                    finish_init(j, ok);
#endif
                    if
                    :: ok -> state[j] = IDLE
                    :: else -> skip
                    fi
                :: else -> skip
                fi
            };
            if
            :: ok ->
                atomic {
                    assert(!on_stack[j]);       /* (2) nobody runs on it */
                    stack_owner[j] = STACK_FREE
                }
            :: else -> init_failed = true   /* the stack is leaked, not freed */
            fi
        :: else -> skip
        fi;
        atomic { pending = false; ok = true; j++ }
    :: else -> break
    od;
    j = 0;
#ifndef MUT_FINISH_FREES_ALL
    /* An AP that INIT could not reach may still read both: keep them too (finish.c). */
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
     * no SIPI coming), one that went online still owns its stack, and the
     * verdicts agree with what the APs did.
     */
    atomic {
        do
        :: j < NAP ->
            if
            :: result[j] != R_ONLINE ->
#ifndef IPI_FAIL
                assert(!hw_running[j] && !sipi_pending[j] && !on_stack[j]);
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
