#!/usr/bin/env python3
"""Check matrix.py's verdicts on made-up boots, without booting anything.

The long reliability run is only as good as its counting: a false success
(the kernel claims success but something says otherwise) must never be
counted as a pass, nor a hang or a triple fault as a failure of another
kind. Exit status 0 when every check holds.
"""
import sys
from types import SimpleNamespace

import matrix

GOOD = ['minikernel: libsmpboot 0.1 example kernel',
        'smpboot: cpu 0 apic 0 online (bsp)',
        'smpboot: cpu 1 apic 1 online',
        'smpboot: summary online=2 expected=2 failed=0 mode=serial bringup_us=5']


def qemu(status, lines, cpus=2, problems=()):
    return matrix.classify_qemu(status, lines, cpus, list(problems))[0]


def bochs(lines, exited=None, stopped='the kernel halted', cpus=2, problems=()):
    summary = None
    for line in lines:
        m = matrix.SUMMARY.match(line)
        if m:
            summary = {k: (v if k == 'mode' else int(v)) for k, v in m.groupdict().items()}
    run = SimpleNamespace(bochs_exit=exited, summary=summary, stopped_because=stopped)
    return matrix.classify_bochs(run, lines, cpus, list(problems))[0]


CHECKS = [
    ('a good boot passes', qemu(33, GOOD), 'pass'),
    ('a watchdog kill is a hang', qemu(None, GOOD[:1], problems=['hang']), 'hang'),
    ('exit 0 is a triple fault', qemu(0, GOOD[:1], problems=['exit 0']), 'triple'),
    ('an honest failure is a failure',
     qemu(35, GOOD[:2] + ['smpboot: cpu 1 apic 1 timed out (last step: KICKED)',
                          'smpboot: summary online=1 expected=2 failed=1 mode=serial bringup_us=0'],
          problems=['x']), 'fail'),
    ('exit 33 with online != expected',
     qemu(33, GOOD[:2] + ['smpboot: summary online=1 expected=2 failed=0 mode=serial '
                          'bringup_us=5']), 'false-success'),
    ('exit 33 with failed != 0',
     qemu(33, GOOD[:3] + ['smpboot: summary online=2 expected=2 failed=1 mode=serial '
                          'bringup_us=5']), 'false-success'),
    ('exit 33 with a failed CPU line',
     qemu(33, GOOD[:3] + ['smpboot: cpu 2 apic 2 timed out (last step: KICKED)'] + GOOD[3:]),
     'false-success'),
    ('exit 33 with the summary not last', qemu(33, GOOD + ['minikernel: late words']),
     'false-success'),
    ('exit 33 with no summary', qemu(33, GOOD[:3]), 'false-success'),
    ('exit 33 with expected short of the machine', qemu(33, GOOD, cpus=4), 'false-success'),
    ('exit 33 with an online line missing', qemu(33, GOOD[:1] + GOOD[2:]), 'false-success'),
    ('exit 33 with an error line is a failure', qemu(33, GOOD, problems=['error line']), 'fail'),
    ('Bochs: a good boot passes', bochs(GOOD), 'pass'),
    ('Bochs: stopped by itself is a triple fault', bochs(GOOD[:2], exited=1), 'triple'),
    ('Bochs: no summary by the watchdog is a hang',
     bochs(GOOD[:2], stopped='the wall-clock timeout'), 'hang'),
    ('Bochs: a panic is a failure',
     bochs(GOOD[:2] + ['minikernel: panic: #PF'], stopped='the grace period after the summary '
           'or panic', problems=['no summary']), 'fail'),
    ('Bochs: a success summary with a failed CPU line',
     bochs(GOOD[:3] + ['smpboot: cpu 2 apic 2 timed out'] + GOOD[3:]), 'false-success'),
]


def main():
    bad = 0
    for name, got, want in CHECKS:
        ok = got == want
        bad += not ok
        print(f'{"ok  " if ok else "FAIL"} {name}: {got}' + ('' if ok else f' (want {want})'))
    print('PASS' if bad == 0 else f'FAIL: {bad} of {len(CHECKS)}')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
