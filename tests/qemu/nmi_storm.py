#!/usr/bin/env python3
"""NMIs from the platform while the APs come up, over many boots.

    nmi_storm.py --kernel IMAGE [--boots N] [--append OPTIONS] [--require-survival]
                 [--no-inject] [-- QEMU ARGS...]

Each boot runs under qemu_session.py (QMP socket; a triple fault stops the
guest instead of ending QEMU). As soon as the kernel has its IDT (the
serial line "minikernel: command line:"), the runner sends QMP `inject-nmi`
(the monitor's `nmi`: an NMI to every CPU) back to back until the guest
exits, stops or the watchdog fires. The kernel counts the NMIs each CPU
takes and prints them (minikernel: nmi: ...). Use rounds=R in --append to
run many bring-ups per boot. With --no-inject the monitor sends nothing:
the NMIs come from the kernel itself (--append fault=nmi_during_bringup has
the BSP broadcast them into the trampoline window), and the runner only
boots, judges and reads the post-mortem.

Outcome of a boot:
  survived     QEMU exit 33 and run_qemu.py's checks pass
  failed       the kernel reported a failure (exit 35, or checks failed)
  triple-fault the guest stopped: the post-mortem says which AP died where
  hang         the watchdog fired

Prints one line per boot, then totals. Exit status 0 when every boot ended
in bounded time with one of the verdicts above (and, with
--require-survival, all survived); 1 otherwise.
"""
import re
import sys
import time

import qemu_session
import run_qemu
import slot_table

TOTAL = re.compile(r'^minikernel: nmi: (\d+) NMIs taken in all')
PER_CPU = re.compile(r'^minikernel: nmi: cpu (\d+) took (\d+)$')
ROUND = re.compile(r'^smpboot: round r=(\d+) ')
BROADCASTS = re.compile(r'^minikernel: fault: (\d+) NMI broadcasts sent')
DURING = re.compile(r'^minikernel: nmi: the BSP took (\d+) NMIs inside smpboot_start')
READY_LINE = 'minikernel: command line:'


def parse_args(argv):
    parser = qemu_session.parser_for(__doc__)
    parser.add_argument('--append', default='rounds=10 postmortem=1 ap_timeout_ms=10000')
    parser.add_argument('--boots', type=int, default=20)
    parser.add_argument('--timeout', type=float, default=90.0, help='watchdog per boot, seconds')
    parser.add_argument('--max-nmis', type=int, default=200000,
                        help='stop injecting after this many in one boot')
    parser.add_argument('--require-survival', action='store_true')
    parser.add_argument('--no-inject', action='store_true',
                        help='inject nothing from the monitor (the kernel sends its own NMIs)')
    parser.add_argument('--expect-ap-nmis', action='store_true',
                        help='a surviving boot must show NMIs taken on an AP too')
    parser.add_argument('-v', '--verbose', action='store_true', help='print each serial log')
    parser.add_argument('qemu_args', nargs='*')
    return parser.parse_args(argv)


def storm(session, max_nmis):
    """Inject NMIs until the guest is done (none when max_nmis is 0); (NMIs sent, outcome)."""
    if max_nmis == 0:
        return 0, session.wait_until_done()
    while not session.seen(READY_LINE):
        if session.exit_status() is not None:
            return 0, 'exited'
        if session.time_left() <= 0:
            return 0, 'hang'
        time.sleep(0.005)
    sent = 0
    while session.time_left() > 0:
        if session.exit_status() is not None:
            return sent, 'exited'
        if session.qmp.events and any(e.get('event') in ('SHUTDOWN', 'STOP')
                                      for e in session.qmp.events):
            return sent, session.wait_until_done()
        if sent >= max_nmis:
            return sent, session.wait_until_done()
        try:
            session.qmp.command('inject-nmi')
            sent += 1
        except qemu_session.QmpError:
            # QEMU is going away (the kernel's exit): decided by the poll above.
            time.sleep(0.01)
    return sent, 'exited' if session.exit_status() is not None else 'hang'


def one_boot(args, layout):
    session = qemu_session.Session(args, args.timeout)
    notes = []
    try:
        sent, outcome = storm(session, 0 if args.no_inject else args.max_nmis)
        if outcome == 'stopped':
            lines, died = slot_table.postmortem(session, layout)
            notes += lines + slot_table.cpu_registers(session)
            where = ', '.join(f"APIC {a} after '{layout.step_text(p)}'" for a, p in died)
            verdict = 'triple-fault'
            summary = f'stopped: {where or "no AP in flight (see post-mortem)"}'
        elif outcome == 'hang':
            verdict, summary = 'hang', f'watchdog after {args.timeout:g} s'
        else:
            verdict, summary = None, ''
    finally:
        session.close()
    serial = session.serial()
    status = session.exit_status()
    if verdict is None:
        problems = run_qemu.judge(args, status, '\n'.join(serial))
        verdict = 'survived' if not problems else 'failed'
        summary = f'exit {status}' + ('' if not problems else ': ' + '; '.join(problems))
    counts = {}
    total = None
    rounds = 0
    during = 0
    broadcasts = None
    for line in serial:
        m = BROADCASTS.match(line)
        if m:
            broadcasts = int(m.group(1))
        m = DURING.match(line)
        if m:
            during += int(m.group(1))
        m = TOTAL.match(line)
        if m:
            total = int(m.group(1))
        m = PER_CPU.match(line)
        if m:
            counts[int(m.group(1))] = int(m.group(2))
        m = ROUND.match(line)
        if m:
            rounds = max(rounds, int(m.group(1)))
    if verdict == 'survived' and args.expect_ap_nmis and \
            not any(n > 0 for cpu, n in counts.items() if cpu > 0):
        verdict, summary = 'failed', 'no AP took an NMI: the storm did not reach them'
    return {
        'verdict': verdict, 'summary': summary, 'sent': sent, 'taken': total,
        'bsp': counts.get(0), 'aps': sum(n for cpu, n in counts.items() if cpu > 0),
        'rounds': rounds, 'during': during, 'broadcasts': broadcasts, 'seconds': session.seconds, 'serial': serial, 'notes': notes,
    }


def main(argv):
    args = parse_args(argv)
    args.expect_exit = run_qemu.EXIT_SUCCESS
    args.expect_panic = None
    args.expect_line, args.reject_line = [], []
    args.expect_cpus = args.expect_mode = None
    layout = slot_table.Layout()
    print('$ ' + ' '.join(run_qemu.qemu_command(args)) + ' -qmp ... -action '
          'reboot=shutdown,shutdown=pause', flush=True)
    results = []
    for boot in range(1, args.boots + 1):
        r = one_boot(args, layout)
        results.append(r)
        taken = '?' if r['taken'] is None else r['taken']
        print(f'boot {boot:3}: {r["verdict"]:12} NMIs sent {r["sent"]:6} taken {taken!s:>6} '
              f'(BSP {r["bsp"] if r["bsp"] is not None else "?"}, of them {r["during"]} inside '
              f'smpboot_start; APs {r["aps"]}), '
              f'{r["rounds"]} bring-ups, '
              + ('' if r['broadcasts'] is None else f'{r["broadcasts"]} broadcast by the BSP, ')
              + f'{r["seconds"]:.1f} s: {r["summary"]}', flush=True)
        for note in r['notes']:
            print('          ' + note)
        if args.verbose or r['verdict'] not in ('survived', 'triple-fault'):
            print('\n'.join('          | ' + line for line in r['serial'][-40:]))

    def count(verdict):
        return sum(1 for r in results if r['verdict'] == verdict)

    sent = sum(r['sent'] for r in results)
    taken = sum(r['taken'] or 0 for r in results)
    bringups = sum(r['rounds'] for r in results)
    print(f'totals: {len(results)} boots, {bringups} bring-ups: {count("survived")} survived, '
          f'{count("failed")} failed, {count("triple-fault")} triple faults, {count("hang")} hangs; '
          f'{sent} NMIs sent, {taken} taken by the kernel '
          f'({sum(r["during"] for r in results)} by the BSP inside smpboot_start, '
          f'{sum(r["aps"] for r in results)} on APs)')
    hung = count('hang')
    not_survived = len(results) - count('survived')
    if hung:
        print(f'FAIL: {hung} boots hung')
        return 1
    if args.require_survival and not_survived:
        print(f'FAIL: {not_survived} of {len(results)} boots did not survive (--require-survival)')
        return 1
    if not args.require_survival:
        print('note: this run asserts only that every boot ended in bounded time with a clear '
              'verdict, not that every boot survived')
    print('PASS')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
