"""Reading the minikernel's serial console (docs/minikernel.md) into rounds.

A boot with bench=R prints, for every round, in this order:
    minikernel: smpboot_start: <status>, <N> of <M> CPUs online, last AP after <T> us
    smpboot: round r=<R> online=<N> bringup_us=<T>
    minikernel: timeline us: cpu <i> apic <a> kicked <t> trampoline <t> long_mode <t> c <t>
        online <t> [ready <t>]      (one line; ready when the entry called smpboot_ap_ready())
    ...
    minikernel: smpboot_start call took <T> us
    minikernel: memory: libsmpboot held <P> pages during bring-up, <Q> after smpboot_finish ...
and the boot ends with the contract's summary line.
"""
import re
from dataclasses import dataclass, field
from typing import List, Optional

START = re.compile(r'^minikernel: smpboot_start: (?P<status>.+?), (?P<online>\d+) of '
                   r'(?P<total>\d+) CPUs online, last AP after (?P<us>\d+) us$')
TIMELINE = re.compile(r'^minikernel: timeline us: cpu (?P<cpu>\d+) apic (?P<apic>\d+) '
                      r'kicked (?P<kicked>\d+) trampoline (?P<trampoline>\d+) '
                      r'long_mode (?P<long_mode>\d+) c (?P<c>\d+) online (?P<online>\d+)'
                      r'(?: ready (?P<ready>\d+))?$')
# The per-round contract line (docs/minikernel.md), right after the START line.
ROUND = re.compile(r'^smpboot: round r=(?P<r>\d+) online=(?P<online>\d+) '
                   r'bringup_us=(?P<us>\d+)$')
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
        if not self.rounds:
            return None
        current = self.rounds[-1]
        m = ROUND.match(line)
        if m:
            current.number = int(m['r'])
            if int(m['us']) != current.bringup_us or int(m['online']) != current.online:
                self.problems.append(f'round line disagrees with smpboot_start line: {line}')
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
