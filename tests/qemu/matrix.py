#!/usr/bin/env python3
"""Boot the minikernel over a matrix of machines and count what happens.

    matrix.py --kernel IMAGE [--repeats N] [--jobs J] [--subset ci|full]
              [--accel tcg|kvm] [--timeout S]

Topologies (CPUs as QEMU lays them out, and what the MADT says):
  smp1, smp2, smp4, smp8   1-8 CPUs, dense APIC IDs
  sparse                   -smp 6,sockets=2,cores=3: APIC IDs 0 1 2 4 5 6
  disabled                 -smp 2,maxcpus=4: two MADT entries not enabled
  high                     -m 5G -smp 4, high_page_tables=1: CR3 above 4 GiB
times machines (pc, q35) times modes (serial, parallel), each booted
--repeats times. Every boot is judged by run_qemu.py (a watchdog of
--timeout seconds, the summary line, the per-CPU lines, no error line)
and counted as:
  pass         QEMU exit 33 and every check holds
  fail         the kernel or the checks report a failure
  hang         the watchdog killed QEMU
  triple       QEMU exited 0: a triple fault (a reset under -no-reboot)

Prints one row per case (boots, passes, failures, hangs, triple faults,
median bring-up in microseconds), then the totals, then the reasons of the
first failures. Exit status 0 when every boot passed.

--subset ci is a handful of cases, one boot each, for the qemu test suite;
--subset full (the default) is the whole matrix. The long run documented in
docs/reliability-qemu.md is
    tests/qemu/matrix.py --kernel build/examples/minikernel/minikernel.elf --repeats 5
"""
import concurrent.futures
import re
import statistics
import sys
import time
from types import SimpleNamespace

import qemu_session
import run_qemu

TOPOLOGIES = {
    'smp1': (1, ['-smp', '1'], ''),
    'smp2': (2, ['-smp', '2'], ''),
    'smp4': (4, ['-smp', '4'], ''),
    'smp8': (8, ['-smp', '8'], ''),
    'sparse': (6, ['-smp', '6,sockets=2,cores=3,threads=1'], ''),
    'disabled': (2, ['-smp', '2,maxcpus=4'], ''),
    'high': (4, ['-m', '5G', '-smp', '4'], 'high_page_tables=1'),
}
MACHINES = ('pc', 'q35')
MODES = ('serial', 'parallel')
# One boot each: every topology once, both machines and both modes represented.
CI_CASES = [
    ('smp2', 'pc', 'parallel'), ('smp4', 'q35', 'serial'), ('smp8', 'pc', 'parallel'),
    ('sparse', 'q35', 'parallel'), ('disabled', 'pc', 'serial'), ('high', 'q35', 'parallel'),
    ('smp1', 'q35', 'serial'),
]
# As in the qemu suite: generous bounds, so host load does not read as a failed AP.
AP_TIMEOUT = 'ap_timeout_ms=10000'


def parse_args(argv):
    parser = qemu_session.parser_for(__doc__, accel_props=False)
    parser.add_argument('--subset', default='full', choices=['ci', 'full'])
    parser.add_argument('--repeats', type=int, default=1)
    parser.add_argument('--jobs', type=int, default=2, help='QEMUs at once')
    parser.add_argument('--timeout', type=float, default=60.0, help='watchdog per boot, seconds')
    parser.add_argument('--append', default='', help='more kernel options for every boot')
    return parser.parse_args(argv)


def cases(args):
    if args.subset == 'ci':
        return list(CI_CASES)
    return [(t, m, mode) for t in TOPOLOGIES for m in MACHINES for mode in MODES]


def boot(args, case):
    topology, machine, mode = case
    cpus, qemu_args, append = TOPOLOGIES[topology]
    options = SimpleNamespace(
        kernel=args.kernel, qemu=args.qemu, accel=args.accel, accel_props='',
        append=' '.join(x for x in (f'mode={mode}', append, AP_TIMEOUT, args.append) if x),
        timeout=args.timeout, expect_exit=run_qemu.EXIT_SUCCESS, expect_cpus=cpus,
        expect_mode=mode, expect_line=[], reject_line=[], expect_panic=None,
        expect_online=None, expect_expected=None, expect_failed=None,
        qemu_args=['-machine', machine] + qemu_args)
    status, serial, _, seconds = run_qemu.run(run_qemu.qemu_command(options), args.timeout)
    problems = run_qemu.judge(options, status, serial)
    if status is None:
        verdict = 'hang'
    elif status == 0:
        verdict = 'triple'
    elif problems:
        verdict = 'fail'
    else:
        verdict = 'pass'
    bringup = None
    m = re.search(r'bringup_us=(\d+)\s*$', serial.strip())
    if m:
        bringup = int(m.group(1))
    return case, verdict, problems, bringup, seconds


def main(argv):
    args = parse_args(argv)
    todo = [c for c in cases(args) for _ in range(args.repeats)]
    print(f'matrix: {len(todo)} boots ({len(set(todo))} cases x {args.repeats}), '
          f'{args.jobs} at a time, accel {args.accel}, watchdog {args.timeout:g} s', flush=True)
    started = time.monotonic()
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for result in pool.map(lambda c: boot(args, c), todo):
            results.append(result)

    rows = {}
    for case, verdict, problems, bringup, _ in results:
        row = rows.setdefault(case, {'boots': 0, 'pass': 0, 'fail': 0, 'hang': 0, 'triple': 0,
                                     'bringup': []})
        row['boots'] += 1
        row[verdict] += 1
        if verdict == 'pass' and bringup is not None:
            row['bringup'].append(bringup)

    print(f'{"topology":10} {"machine":7} {"mode":8} {"boots":>5} {"pass":>5} {"fail":>5} '
          f'{"hang":>5} {"triple":>6} {"median bringup_us":>18}')
    for case in sorted(rows):
        row = rows[case]
        median = int(statistics.median(row['bringup'])) if row['bringup'] else '-'
        print(f'{case[0]:10} {case[1]:7} {case[2]:8} {row["boots"]:5} {row["pass"]:5} '
              f'{row["fail"]:5} {row["hang"]:5} {row["triple"]:6} {median!s:>18}')
    totals = {k: sum(r[k] for r in rows.values()) for k in ('boots', 'pass', 'fail', 'hang',
                                                             'triple')}
    print(f'totals: {totals["boots"]} boots, {totals["pass"]} passes, {totals["fail"]} failures, '
          f'{totals["hang"]} hangs (watchdog hits), {totals["triple"]} triple faults '
          f'in {time.monotonic() - started:.0f} s')
    shown = 0
    for case, verdict, problems, _, seconds in results:
        if verdict != 'pass' and shown < 10:
            shown += 1
            print(f'  {"/".join(case)}: {verdict} after {seconds:.1f} s: ' + '; '.join(problems))
    print('PASS' if totals['pass'] == totals['boots'] else 'FAIL')
    return 0 if totals['pass'] == totals['boots'] else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
