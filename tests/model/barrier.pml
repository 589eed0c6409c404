/*
 * libsmpboot: the sense-reversing barrier of src/barrier/barrier.c as a
 * Promela model for Spin: NPART participants, ROUNDS arrivals each, and a
 * timeout that may end any wait (the real bound is time). A participant
 * that timed out calls again, as the API asks: BAD_STATE until its round
 * completes, then an arrival in the next round.
 *
 * Variants (cpp macros):
 *   NO_TIMEOUT        every wait is SMPBOOT_WAIT_FOREVER (checks deadlock)
 *   MUT_NO_SENSE      mutant (d): the waiter compares the generation with
 *                     the one at init, not the one it arrived in
 *   MUT_LATE_SENSE    mutant (d'): the waiter reads the generation it waits
 *                     to see move only after its own arrival
 *   MUT_RELAXED_ARRIVE  mutant (d''): the arrival is not a release
 */

#ifndef NPART
#define NPART 3
#endif
#ifndef ROUNDS
#define ROUNDS 3
#endif

byte remaining = NPART;      /* barrier->remaining */
byte generation;             /* barrier->generation: completed rounds */
byte arrived[NPART];         /* barrier->arrived[i]: round mark of i's last arrival */

/* What each participant wrote before arriving: its round, once visible. */
byte data_buf[NPART];        /* a plain store still in the store buffer (0: none) */
byte data_mem[NPART];

/* Ghost: arrivals counted in each round (index: the round's mark). */
byte arrivals[ROUNDS + 1];
byte finished;

/* Release: the participant's earlier plain stores drain first. */
#ifdef MUT_RELAXED_ARRIVE
inline release_fence(k) { skip }
#else
inline release_fence(k)
{
    if
    :: data_buf[k] != 0 -> data_mem[k] = data_buf[k]; data_buf[k] = 0
    :: else -> skip
    fi
}
#endif

/*
 * SMPBOOT_OK for round `m`: everyone arrived in it (the property), and
 * everything they wrote before arriving is visible.
 */
inline passed(m)
{
    assert(arrivals[m] == NPART);
    q = 0;
    do
    :: q < NPART -> assert(data_mem[q] >= m); q++
    :: else -> q = 0; break
    od
}

proctype Participant(byte self)
{
    byte g, mark, r, q, calls;
    bool bad;

    do
    :: calls < ROUNDS ->
        /* Work of this round, then its result published with a plain store. */
        atomic { data_buf[self] = calls + 1 };

        /* smpboot_barrier_wait(): acquire the generation; own arrival record. */
        atomic {
            g = generation;
            mark = g + 1;
            bad = (arrived[self] == mark)
        };
        if
        :: bad -> bad = false   /* SMPBOOT_ERR_BAD_STATE: our round is not over; call again */
        :: else ->
            arrived[self] = mark;
            /* acq_rel fetch_sub */
            atomic {
                assert(remaining > 0);
                release_fence(self);
                remaining--;
                r = remaining;
                arrivals[mark]++
            };
            calls++;
            if
            :: r == 0 ->
                remaining = NPART;                  /* relaxed */
                atomic { generation = mark; passed(mark) }  /* release; SMPBOOT_OK */
            :: else ->
#ifdef MUT_LATE_SENSE
                g = generation;
#endif
#ifdef MUT_NO_SENSE
                g = 0;
#endif
                do
                :: atomic { generation != g -> passed(mark) }; break   /* SMPBOOT_OK */
#ifndef NO_TIMEOUT
                :: break                                   /* SMPBOOT_ERR_TIMEOUT */
#endif
                od
            fi;
            atomic { g = 0; mark = 0; r = 0 }
        fi
    :: else -> break
    od;
    finished++
}

/* A plain store becomes visible at some moment. */
#define DRAIN(k) :: atomic { data_buf[k] != 0 -> data_mem[k] = data_buf[k]; data_buf[k] = 0 }

active proctype StoreBuffers()
{
end_idle:
    do
    DRAIN(0)
    DRAIN(1)
#if NPART >= 3
    DRAIN(2)
#endif
    od
}

init
{
    byte i;
    atomic {
        do
        :: i < NPART -> run Participant(i); i++
        :: else -> break
        od
    };
    /* Every arrival counted, every round completed. */
    finished == NPART;
    assert(generation == ROUNDS);
    i = 1;
    do
    :: i <= ROUNDS -> assert(arrivals[i] == NPART); i++
    :: else -> break
    od
}
