"""From the rounds of one cell to its figures."""
import statistics
from dataclasses import dataclass, field
from typing import List, Optional

from .serial_log import Round

# Per-AP steps of the timeline: (column, from stamp, to stamp, what it is).
STEPS = (
    ('kick_to_tramp_us', 'kicked', 'trampoline',
     'first INIT sent -> slot won in 32-bit code (INIT wait, SIPI, real mode)'),
    ('tramp_to_long_us', 'trampoline', 'long_mode', 'paging and long mode on'),
    ('long_to_c_us', 'long_mode', 'c', 'kernel CR3, own stack, into the C code'),
    ('c_to_online_us', 'c', 'online',
     'the library\'s C code: NMI-only IDT, the trampoline page\'s TLB entry, stamps, ONLINE'),
    ('online_to_ready_us', 'online', 'ready',
     'the kernel\'s entry until smpboot_ap_ready() (after bringup_us; only when it is called)'),
)
BRINGUP_STEPS = ('kick_to_tramp_us', 'tramp_to_long_us', 'long_to_c_us', 'c_to_online_us')

# Where the BSP's time in smpboot_start() went (smpboot_start_stats(), the
# minikernel's stats line): column -> (field of the line, what it is). Medians
# over the warm rounds, in microseconds.
BREAKDOWN = (
    ('bd_total_us', 'total_ns', 'the whole smpboot_start() call'),
    ('bd_setup_us', 'setup_ns', 'call -> first INIT: stacks, slot table, trampoline page, mapping'),
    ('bd_stacks_us', 'stacks_ns', 'of the set-up: the APs\' stacks'),
    ('bd_trampoline_us', 'trampoline_ns', 'of the set-up: slot table, trampoline page, its mapping'),
    ('bd_ipi_us', 'ipi_ns', 'inside INIT and SIPI sends'),
    ('bd_mandatory_wait_us', 'mandatory_wait_ns', 'INIT delay, SIPI spacing, SDM retry hold'),
    ('bd_ap_wait_us', 'ap_wait_ns', 'waiting for the APs to answer and go online'),
    ('bd_ready_wait_us', 'ready_wait_ns', 'next_after_ready: waiting for each AP\'s ready'),
    ('bd_other_us', None, 'the rest of the call: polls, verdicts, stamps, log lines'),
)


@dataclass
class CellStats:
    rounds: int                  # warm rounds the figures come from
    failed_rounds: int
    unstamped_rounds: int        # all online, but an AP's online stamp missing: left out
    boots: int
    first_us: Optional[int]      # the first boot's first round: cold
    median_us: Optional[float]
    min_us: Optional[int]
    max_us: Optional[int]
    q1_us: Optional[float]
    q3_us: Optional[float]
    iqr_us: Optional[float]
    steps: dict = field(default_factory=dict)   # column -> median over APs and rounds
    call_us: Optional[float] = None             # median smpboot_start() call
    first_kicked_us: Optional[float] = None     # start call -> first INIT: the set-up
    last_kicked_us: Optional[float] = None      # when the last AP got its INIT
    last_online_us: Optional[float] = None      # the last AP's online stamp
    slowest_step: str = ''
    pages_held: Optional[int] = None
    pages_after_finish: Optional[int] = None
    breakdown: dict = field(default_factory=dict)  # BREAKDOWN column -> median (us)
    ipis: Optional[float] = None                   # median IPIs sent per call
    ap_path_us: Optional[float] = None             # median AP: slot won -> online (timeline)


def quartiles(values):
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method='inclusive')
    return q1, q2, q3


def median_or_none(values):
    return statistics.median(values) if values else None


def cell_stats(boots_rounds: List[List[Round]], cold_rounds: int = 1) -> CellStats:
    """boots_rounds: the rounds of each boot, in order. The first cold_rounds
    of each boot are left out of the statistics."""
    first = boots_rounds[0][0] if boots_rounds and boots_rounds[0] else None
    warm = [r for rounds in boots_rounds for r in rounds[cold_rounds:] if r.usable]
    failed = sum(1 for rounds in boots_rounds for r in rounds if not r.ok)
    unstamped = sum(1 for rounds in boots_rounds for r in rounds if r.unstamped)
    times = [r.bringup_us for r in warm]
    q1 = median = q3 = None
    if times:
        q1, median, q3 = quartiles(times)
    out = CellStats(
        rounds=len(warm), failed_rounds=failed, unstamped_rounds=unstamped,
        boots=len(boots_rounds),
        first_us=first.bringup_us if first is not None and first.usable else None,
        median_us=median, min_us=min(times) if times else None,
        max_us=max(times) if times else None, q1_us=q1, q3_us=q3,
        iqr_us=(q3 - q1) if times else None)

    lines = [t for r in warm for t in r.timelines if t.complete()]
    for column, begin, end, _ in STEPS:
        out.steps[column] = median_or_none([getattr(t, end) - getattr(t, begin) for t in lines
                                            if getattr(t, end) is not None])
    out.call_us = median_or_none([r.call_us for r in warm if r.call_us is not None])
    out.first_kicked_us = median_or_none([min(t.kicked for t in r.timelines)
                                          for r in warm if r.timelines])
    out.last_kicked_us = median_or_none([max(t.kicked for t in r.timelines)
                                         for r in warm if r.timelines])
    out.last_online_us = median_or_none([max(t.online for t in r.timelines)
                                         for r in warm if r.timelines])
    # Only the steps inside bringup_us: online→ready comes after it.
    known = {c: v for c, v in out.steps.items() if v is not None and c in BRINGUP_STEPS}
    if known:
        out.slowest_step = max(known, key=known.get)
    out.breakdown, out.ipis = breakdown([r.stats for r in warm if r.stats])
    out.ap_path_us = median_or_none([t.online - t.trampoline for t in lines])
    held = [r.pages_held for r in warm if r.pages_held is not None]
    after = [r.pages_after_finish for r in warm if r.pages_after_finish is not None]
    out.pages_held = max(held) if held else None
    out.pages_after_finish = max(after) if after else None
    return out


def breakdown(rounds_stats):
    """Medians (us) of each BREAKDOWN part over rounds (each a stats-line dict),
    and the median IPI count. 'other' is per round: the call less its parts."""
    if not rounds_stats:
        return {}, None
    parts = ('setup_ns', 'ipi_ns', 'mandatory_wait_ns', 'ap_wait_ns', 'ready_wait_ns')
    out = {}
    for column, name, _ in BREAKDOWN:
        if name is None:
            values = [max(0, st.get('total_ns', 0) - sum(st.get(p, 0) for p in parts))
                      for st in rounds_stats]
        else:
            values = [st[name] for st in rounds_stats if name in st]
        out[column] = statistics.median(values) / 1000 if values else None
    ipis = median_or_none([st['ipis'] for st in rounds_stats if 'ipis' in st])
    return out, ipis
