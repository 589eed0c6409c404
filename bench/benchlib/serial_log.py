"""Reading the minikernel's serial console (docs/minikernel.md) into rounds.

A boot with bench=R prints, for every round, in this order:
    minikernel: smpboot_start: <status>, <N> of <M> CPUs online, last AP after <T> us
    smpboot: round r=<R> online=<N> bringup_us=<T>
    smpboot: stats r=<R> total_ns=<t> setup_ns=<t> stacks_ns=<t> trampoline_ns=<t> ipi_ns=<t>
        ipis=<n> mandatory_wait_ns=<t> ap_wait_ns=<t> ready_wait_ns=<t> last_sipi_ns=<t>
        (one line: smpboot_start_stats(), where the BSP's time in the call went)
    minikernel: timeline us: cpu <i> apic <a> kicked <t> trampoline <t> long_mode <t> c <t>
        online <t> [ready <t>]      (one line; ready when the entry called smpboot_ap_ready())
    ...
    minikernel: smpboot_start call took <T> us
    minikernel: memory: libsmpboot held <P> pages during bring-up, <Q> after smpboot_finish ...
and the boot ends with the contract's summary line. The naive-serial reference
(reference=naive-serial, no libsmpboot) prints no START, stats or timeline
lines: its ROUND line starts the round, judged against the CPU count of the
"minikernel: starting <N> APs:" line.
"""
import re
from dataclasses import dataclass, field
from typing import List, Optional

STARTING = re.compile(r'^minikernel: starting (?P<aps>\d+) APs: ')
START = re.compile(r'^minikernel: smpboot_start: (?P<status>.+?), (?P<online>\d+) of '
                   r'(?P<total>\d+) CPUs online, last AP after (?P<us>\d+) us$')
TIMELINE = re.compile(r'^minikernel: timeline us: cpu (?P<cpu>\d+) apic (?P<apic>\d+) '
                      r'kicked (?P<kicked>\d+) trampoline (?P<trampoline>\d+) '
                      r'long_mode (?P<long_mode>\d+) c (?P<c>\d+) online (?P<online>\d+)'
                      r'(?: ready (?P<ready>\d+))?$')
# The per-round contract line (docs/minikernel.md), right after the START line.
ROUND = re.compile(r'^smpboot: round r=(?P<r>\d+) online=(?P<online>\d+) '
                   r'bringup_us=(?P<us>\d+)$')
# smpboot_start_stats() of the round, right after the ROUND line: name=value pairs.
STATS = re.compile(r'^smpboot: stats r=(?P<r>\d+)(?P<pairs>(?: [a-z_]+=\d+)+)$')
STATS_FIELDS = ('total_ns', 'setup_ns', 'stacks_ns', 'trampoline_ns', 'ipi_ns', 'ipis',
                'mandatory_wait_ns', 'ap_wait_ns', 'ready_wait_ns', 'last_sipi_ns')
CALL = re.compile(r'^minikernel: smpboot_start call took (?P<us>\d+) us$')
MEMORY = re.compile(r'^minikernel: memory: libsmpboot held (?P<held>\d+) pages during '
                    r'bring-up, (?P<after>\d+) after smpboot_finish')
SUMMARY = re.compile(r'^smpboot: summary online=(?P<online>\d+) expected=(?P<expected>\d+) '
                     r'failed=(?P<failed>\d+) mode=(?P<mode>serial|parallel) '
                     r'bringup_us=(?P<bringup_us>\d+)$')
PROBLEM = re.compile(r'minikernel: (panic|error)|libsmpboot: error')

STAMPS = ('kicked', 'trampoline', 'long_mode', 'c', 'online')


@dataclass
class Timeline:
    cpu: int
    apic: int
    kicked: int
    trampoline: int
    long_mode: int
    c: int
    online: int
    ready: Optional[int] = None   # printed when the kernel's entry called smpboot_ap_ready()

    def complete(self) -> bool:
        """Every step stamped, in order (an AP that timed out has zeros)."""
        stamps = [getattr(self, s) for s in STAMPS]
        return all(v > 0 for v in stamps[1:]) and stamps == sorted(stamps)


@dataclass
class Round:
    status: str
    online: int
    total: int
    bringup_us: int
    timelines: List[Timeline] = field(default_factory=list)
    number: Optional[int] = None       # r= of the round line
    call_us: Optional[int] = None      # the whole smpboot_start() call
    pages_held: Optional[int] = None
    pages_after_finish: Optional[int] = None
    stats: dict = field(default_factory=dict)   # STATS_FIELDS -> value, from the stats line

    @property
    def ok(self) -> bool:
        return self.status == 'ok' and self.online == self.total

    @property
    def unstamped(self) -> bool:
        """All online, yet smpboot_start() returned before some AP had stamped
        its going online (its online stamp is 0) or before it moved its slot to
        ONLINE (its stamp is later than bringup_us, which only counts ONLINE
        slots). Either way bringup_us reads low. Both stamps come from the same
        clock and start point, so they agree exactly when all is well."""
        return self.ok and any(t.online == 0 or t.online > self.bringup_us
                               for t in self.timelines)

    @property
    def usable(self) -> bool:
        return self.ok and not self.unstamped


class SerialLog:
    """Fed line by line while QEMU runs, so a failed round can stop the boot at once."""

    def __init__(self):
        self.lines: List[str] = []
        self.rounds: List[Round] = []
        self.summary: Optional[re.Match] = None
        self.problems: List[str] = []
        self.expected_total: Optional[int] = None   # from the STARTING line

    def feed(self, line: str) -> Optional[Round]:
        """Take one line; return the round it started, if it started one."""
        line = line.rstrip('\r\n')
        self.lines.append(line)
        if PROBLEM.search(line):
            self.problems.append(line)
        m = START.match(line)
        if m:
            started = Round(m['status'], int(m['online']), int(m['total']), int(m['us']))
            self.rounds.append(started)
            return started
        m = STARTING.match(line)
        if m:
            self.expected_total = int(m['aps']) + 1
            return None
        m = ROUND.match(line)
        if m and (not self.rounds or self.rounds[-1].number is not None):
            # No START line before it: a kernel that does not call smpboot_start().
            online = int(m['online'])
            total = self.expected_total if self.expected_total is not None else online
            started = Round('ok' if online == total else 'partial', online, total, int(m['us']),
                            number=int(m['r']))
            self.rounds.append(started)
            return started
        if not self.rounds:
            return None
        current = self.rounds[-1]
        if m:
            current.number = int(m['r'])
            if int(m['us']) != current.bringup_us or int(m['online']) != current.online:
                self.problems.append(f'round line disagrees with smpboot_start line: {line}')
            return None
        m = STATS.match(line)
        if m:
            pairs = dict(pair.split('=') for pair in m['pairs'].split())
            missing = [f for f in STATS_FIELDS if f not in pairs]
            if missing:
                self.problems.append(f'stats line lacks {", ".join(missing)}: {line}')
            current.stats = {k: int(v) for k, v in pairs.items() if k in STATS_FIELDS}
            return None
        m = CALL.match(line)
        if m:
            current.call_us = int(m['us'])
            return None
        m = TIMELINE.match(line)
        if m:
            current.timelines.append(Timeline(**{k: int(v) for k, v in m.groupdict().items()
                                                 if v is not None}))
            return None
        m = MEMORY.match(line)
        if m:
            current.pages_held = int(m['held'])
            current.pages_after_finish = int(m['after'])
            return None
        m = SUMMARY.match(line)
        if m:
            self.summary = m
        return None
