/*
 * libsmpboot: the INIT-SIPI handshake between the BSP and three APs, as a
 * Promela model for Spin. It follows src/core/bringup.c (one parallel batch,
 * or three serial ones with -DSERIAL), src/core/finish.c, src/core/ap_main.c
 * and asm/trampoline.asm; docs/model.md says what is abstracted and why.
 *
 * Every BSP step touches one AP's words (its result, its slot state, and at
 * most one CAS or store); every AP step holds at most one access to its slot
 * state. Reads of flags that only ever go one way (memory freed) are checked
 * inside the step that uses that memory.
 *
 * Selectable variants (cpp macros, `spin -DNAME -a smpboot.pml`):
 *   VERDICT_FIX     the fix proposed in docs/model.md: the BSP alone writes
 *                   verdicts, and takes a stalled AP's slot by CAS
 *   SERIAL          SMPBOOT_MODE_SERIAL: one batch per AP
 *   IPI_FAIL        an IPI may fail to send (ESR error) or stick in the ICR
 *   MUT_AP_NO_CAS   mutant (a): the trampoline claims with check-then-store
 *   MUT_BSP_NO_CAS  mutant (a): the BSP times an AP out with a plain store
 *   MUT_NO_RELEASE  mutant (b): the AP's release stores and CAS are relaxed
 *   MUT_NO_INIT     mutant (c): finish frees a failed AP's stack, no INIT
 */

#define NAP 3

/* enum smpboot_slot_state (src/core/slot.h) */
#define IDLE      0
#define KICKED    1
#define HELD      2
#define ARRIVED   3
#define RELEASED  4
#define ONLINE    5
#define TIMED_OUT 6

/* enum smpboot_cpu_result (include/smpboot/cpu.h) */
#define NOT_STARTED   0
#define R_ONLINE      2
#define R_TIMED_OUT   3
#define R_STALLED     4
#define R_SEND_FAILED 5
#define R_SKIPPED     7

/* Who owns stack i: AP i (its index), nobody, or someone the kernel gave it to. */
#define STACK_FREE  NAP
#define STACK_OTHER (NAP + 1)

/* enum wait_goal */
#define GOAL_TIME_ONLY 0
#define GOAL_ANSWERED  1
#define GOAL_ONLINE    2

/*
 * A wait polls at most this often before its deadline. A poll that releases
 * nobody changes nothing, so NAP polls (one per AP it may release) give
 * every outcome a longer wait could have.
 */
#define MAXPOLLS NAP

/* --- Memory shared by the BSP and the APs. --- */
byte state[NAP];             /* slot->state */
byte result[NAP];            /* cpus[i].result */
byte stack_owner[NAP];       /* the frames of AP i's stack */
bool tramp_freed;            /* the trampoline page was given back */
bool slots_freed;            /* the slot table was given back */

/* Store buffers for property 4: a plain store waits here until it drains. */
bool buf_online_ns[NAP];     /* slot->online_ns, written by the AP */
bool mem_online_ns[NAP];
bool buf_cpu_progress[NAP];  /* cpus[i].progress = ONLINE, written by the AP */
bool mem_cpu_progress[NAP];

/* --- The hardware, per AP. --- */
bool hw_running[NAP];        /* out of wait-for-SIPI (running or halted) */
bool sipi_pending[NAP];      /* a SIPI was delivered; the AP may start late */
bool init_hit[NAP];          /* an INIT reset the AP; it leaves its code */
bool icr_stuck;              /* IPI_FAIL: the BSP's ICR never went idle */
bool icr_held[NAP];          /* IPI_FAIL: the stuck ICR holds a SIPI for AP i */

/* --- Ghost state, for the assertions only. --- */
byte entries[NAP];           /* (1) kernel entries */
bool on_stack[NAP];          /* (2) AP i runs on (or is halted on) its stack */
bool claimed[NAP];           /* AP i won KICKED -> ARRIVED at least once */
bool went_online[NAP];       /* AP i won RELEASED -> ONLINE */
bool start_done;             /* smpboot_start() returned */

/* (5) A verdict is written once. */
inline verdict(k, v)
{
    assert(result[k] == NOT_STARTED);
    result[k] = v
}

/* (2) The AP runs on its own stack, and that stack is still its own. */
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

/*
 * (4) The BSP acquired state == ONLINE: it reads slot->online_ns
 * (last_online_stamp) and, with the fix, copies the AP's progress.
 */
inline saw_state_online(k)
{
    assert(mem_online_ns[k])
}

/* (4) The BSP (or the kernel, after it) acquired result == ONLINE. */
inline saw_result_online(k)
{
    assert(mem_cpu_progress[k])
}

/*
 * INIT: the AP drops whatever it runs and waits for a SIPI; a SIPI not yet
 * acted on is gone with it. Sent to a CPU that went online, it would kill
 * a CPU the kernel already owns.
 */
inline init_effect(k)
{
    assert(!went_online[k]);
    if
    :: hw_running[k] -> init_hit[k] = true
    :: else -> skip
    fi;
    hw_running[k] = false;
    sipi_pending[k] = false;
    icr_held[k] = false;
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
 * One IPI to AP k, as smpboot_ipi_send sees it: sent (ok), refused (the ESR
 * flags an error; nothing was delivered), or the ICR stays busy: the IPI
 * may still go out at any later moment (icr_held), and every later send
 * fails at once.
 */
#ifdef IPI_FAIL
inline send_init(k, ok)
{
    if
    :: icr_stuck -> ok = false
    :: else ->
        if
        :: init_effect(k); ok = true
        :: ok = false
        :: icr_stuck = true; ok = false  /* an INIT held in the ICR: see note in docs */
        fi
    fi
}
inline send_sipi(k, ok)
{
    if
    :: icr_stuck -> ok = false
    :: else ->
        if
        :: sipi_effect(k); ok = true
        :: ok = false
        :: icr_stuck = true; icr_held[k] = true; ok = false
        fi
    fi
}
#else
inline send_init(k, ok) { init_effect(k); ok = true }
inline send_sipi(k, ok) { sipi_effect(k); ok = true }
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

/* With the fix, the BSP records an AP that it saw ONLINE. */
inline record_online(k)
{
    saw_state_online(k);
    mem_cpu_progress[k] = true;  /* the BSP copies slot->progress itself */
    verdict(k, R_ONLINE)
}

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
#ifndef MUT_AP_NO_CAS
end_wait:
        atomic {
            sipi_pending[i] ->
            sipi_pending[i] = false;
            hw_running[i] = true;
            assert(!tramp_freed && !slots_freed);
            if
            :: state[i] == KICKED ->        /* lock cmpxchg: KICKED -> ARRIVED */
                state[i] = ARRIVED;
                assert(result[i] != R_TIMED_OUT);
                claimed[i] = true
            :: else -> lost = true          /* jne park */
            fi
        };
#else
end_wait:
        atomic {
            sipi_pending[i] ->
            sipi_pending[i] = false;
            hw_running[i] = true;
            assert(!tramp_freed && !slots_freed);
            saw_kicked = (state[i] == KICKED)
        };
        if
        :: saw_kicked ->
            atomic {
                assert(!slots_freed);
                /* (3) the store must not overwrite a state the AP did not win */
                assert(state[i] == KICKED);
                state[i] = ARRIVED;
                claimed[i] = true
            }
        :: else -> lost = true
        fi;
#endif
        if
        :: lost -> goto park    /* touching nothing: no stack, no slot */
        :: else -> skip
        fi;

        /*
         * Won. Progress stores, the control registers from params, long
         * mode, rsp = slot->stack_top, call smpboot_ap_main, progress = C.
         */
        atomic {
            assert(!tramp_freed && !slots_freed);
            assert(claimed[i]);
            on_stack[i] = true;
            uses_stack(i)
        };

        /* Wait for RELEASED; after release_wait_bound(), park on the stack. */
        do
        :: atomic { state[i] == RELEASED -> uses_stack(i); assert(!slots_freed) }; break
        :: atomic { state[i] != RELEASED -> uses_stack(i); assert(!slots_freed) }
        :: goto park_on_stack
        od;

        /* online_ns = now (plain store); progress = ONLINE (release store). */
        atomic {
            uses_stack(i);
            assert(!slots_freed);
            buf_online_ns[i] = true;
            release_fence(i)
        };

        /* RELEASED -> ONLINE (acq_rel CAS); on failure, park. */
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

#ifndef VERDICT_FIX
        /* cpu->progress = ONLINE (plain); cpu->result = ONLINE (release). */
        atomic {
            uses_stack(i);
            buf_cpu_progress[i] = true;
            release_fence(i);
            verdict(i, R_ONLINE)
        };
#endif

        /* entry(cpu): the kernel runs on this stack from now on. */
        atomic {
            uses_stack(i);
            entries[i]++;
            assert(entries[i] == 1)     /* (1) */
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
 * The other side of the store buffers: a pending plain store becomes
 * visible at some moment. Only mutant (b) leaves stores pending between
 * steps; with release ordering they drain inside the releasing step.
 */
#define DRAIN(buf, mem, k) :: atomic { buf[k] -> mem[k] = true; buf[k] = false }

active proctype StoreBuffers()
{
end_drain:
    do
    DRAIN(buf_online_ns, mem_online_ns, 0)
    DRAIN(buf_online_ns, mem_online_ns, 1)
    DRAIN(buf_online_ns, mem_online_ns, 2)
    DRAIN(buf_cpu_progress, mem_cpu_progress, 0)
    DRAIN(buf_cpu_progress, mem_cpu_progress, 1)
    DRAIN(buf_cpu_progress, mem_cpu_progress, 2)
    od
}

/* --------------------------------------------------------------------- */

/* poll_batch(): release every AP that answered, count the rest. */
inline poll_batch()
{
    unanswered = 0;
    not_online = 0;
    j = first;
    do
    :: j < last ->
        atomic {
            if
            :: result[j] == NOT_STARTED && state[j] != IDLE ->   /* in_flight */
                if
                :: state[j] == KICKED || state[j] == HELD -> unanswered++
                :: state[j] == ARRIVED -> state[j] = RELEASED; not_online++
                :: state[j] == RELEASED -> not_online++
                :: state[j] == ONLINE ->
#ifdef VERDICT_FIX
                    record_online(j)
#else
                    skip        /* the AP sets its own result */
#endif
                :: state[j] == TIMED_OUT -> skip
                fi
            :: else -> skip
            fi;
            j++
        }
    :: else -> break
    od;
    j = 0
}

/*
 * wait_batch(): poll, stop on the goal, else the deadline may have passed
 * after any poll. The deadline is time, and time always comes: at most
 * MAXPOLLS polls.
 */
inline wait_batch(wanted)
{
    goal = wanted;
    polls = 0;
    do
    :: poll_batch();
        if
        :: goal == GOAL_ANSWERED && unanswered == 0 -> break
        :: goal == GOAL_ONLINE && unanswered == 0 && not_online == 0 -> break
        :: else ->
            polls++;
            if
            :: break                        /* now >= until */
            :: polls < MAXPOLLS -> skip     /* relax, poll again */
            fi
        fi
    od;
    goal = 0;
    polls = 0;
    unanswered = 0;
    not_online = 0
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
                fi
            }
        :: retry ->
            atomic {
                if
                :: result[j] == NOT_STARTED && state[j] == KICKED ->
                    state[j] = HELD;
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
        :: j < last ->
            atomic {
                if
                :: result[j] == NOT_STARTED && state[j] == KICKED ->
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
        :: else -> break
        od;
        j = 0;
        round++
    :: else -> break
    od;
    round = 0
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
            :: result[j] == NOT_STARTED && state[j] == KICKED ->
                state[j] = TIMED_OUT;
                verdict(j, R_TIMED_OUT)
            :: else -> skip
            fi;
            j++
        }
#else
        atomic { pending = (result[j] == NOT_STARTED && state[j] == KICKED) };
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
#ifndef VERDICT_FIX
        /* in_flight(), then (a separate store) result = STALLED */
        atomic { pending = (result[j] == NOT_STARTED && state[j] != IDLE) };
        atomic {
            if
            :: pending -> verdict(j, R_STALLED)
            :: else -> skip
            fi;
            pending = false;
            j++
        }
#else
        /* A stalled AP's slot is taken by CAS, so it can never go online. */
        atomic {
            if
            :: result[j] == NOT_STARTED && state[j] != IDLE ->
                if
                :: state[j] == ARRIVED || state[j] == RELEASED ->
                    state[j] = TIMED_OUT;
                    verdict(j, R_STALLED)
                :: state[j] == ONLINE -> record_online(j)
                :: else -> assert(false)    /* KICKED and HELD were judged above */
                fi
            :: else -> skip
            fi;
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
        /* any_unanswered(): one more poll */
        poll_batch();
        if
        :: unanswered > 0 ->
            unanswered = 0;
            not_online = 0;
            kick_batch(true, 2);
            wait_batch(GOAL_ANSWERED)
        :: else -> unanswered = 0; not_online = 0
        fi
    :: else -> skip
    fi;
    give_verdicts()
}

active proctype BSP()
{
    byte j, first, last, round, polls, goal, unanswered, not_online, sipi_count;
    bool sdm_retry, late, held, ok = true, pending;

    /* Any valid config: 1 or 2 SIPIs, with or without the SDM retry. */
    if
    :: sipi_count = 1
    :: sipi_count = 2
    fi;
    if
    :: sdm_retry = false
    :: sdm_retry = true
    fi;

    /* smpboot_start(): prepare() allocated the stacks and the slot table. */
    atomic {
        j = 0;
        do
        :: j < NAP -> stack_owner[j] = j; j++
        :: else -> break
        od;
        j = 0;
        run AP(0);
        run AP(1);
        run AP(2)
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

    /* last_online_stamp(), then smpboot_online_count(): what start reports. */
    j = 0;
    do
    :: j < NAP ->
        atomic {
            if
            :: state[j] == ONLINE -> saw_state_online(j)
            :: else -> skip
            fi;
            j++
        }
    :: else -> break
    od;
    j = 0;
    do
    :: j < NAP ->
        atomic {
            assert(result[j] != NOT_STARTED);   /* (5) every AP has a verdict */
            if
            :: result[j] == R_ONLINE -> saw_result_online(j)
            :: else -> skip
            fi;
            j++
        }
    :: else -> break
    od;
    j = 0;
    start_done = true;

    /* smpboot_finish(): INIT every AP not online, then free its stack. */
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
                    send_init(j, ok);
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
            :: else -> skip     /* INIT failed: the stack is leaked, not freed */
            fi
        :: else -> skip
        fi;
        atomic { pending = false; ok = true; j++ }
    :: else -> break
    od;
    j = 0;
    tramp_freed = true;     /* smpboot_trampoline_remove() */
    slots_freed = true;     /* smpboot_slots_destroy() */

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
     * no SIPI coming), and one that went online still owns its stack.
     * Verdicts agree with what the APs did.
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
            j++
        :: else -> break
        od;
        j = 0
    }
}
