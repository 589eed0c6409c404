#!/usr/bin/env python3
"""Boot the minikernel so that a triple fault stops QEMU instead of ending it,
then read libsmpboot's slot table out of guest memory and say which AP died
where.

    postmortem.py --kernel IMAGE [--append OPTIONS] [--expect-died APIC:STEP]
                  [-- QEMU ARGS...]

QEMU gets the contract's options plus a QMP socket and
`-action reboot=shutdown,shutdown=pause` (qemu_session.py). The kernel must
print where the slot table's address is kept (postmortem=1, implied by
fault=stack_unmapped:<apic> and fault=nmi_during_bringup). When the guest
stops, the runner reads that address and the table with QMP `pmemsave`,
decodes each slot's state and progress mark (slot_table.py, from the
library's headers) and reports e.g.

    post-mortem: APIC 2 died after 'switching to its stack' (STACK)

plus each vCPU's RIP, RSP, CR0 and IDT from `info registers -a`.

--expect-stop passes whenever the guest stopped, and only records who died.
--expect-died APIC:STEP (STEP an enum smpboot_progress name such as STACK)
makes the run pass only when the guest stopped (a triple fault, not the
kernel's own exit) and exactly that AP was caught at exactly that step.
Without it the runner only reports. A watchdog (--timeout) bounds the whole
run: QEMU is always gone when it returns.
"""
import sys

import qemu_session
import run_qemu
import slot_table


def parse_args(argv):
    parser = qemu_session.parser_for(__doc__)
    parser.add_argument('--append', default='')
    parser.add_argument('--timeout', type=float, default=60.0)
    parser.add_argument('--expect-died', metavar='APIC:STEP')
    parser.add_argument('--expect-stop', action='store_true',
                        help='pass when the guest stopped (a triple fault), whoever died where')
    parser.add_argument('qemu_args', nargs='*')
    return parser.parse_args(argv)


def run(args):
    """(outcome, report lines, died list, serial lines, seconds)."""
    session = qemu_session.Session(args, args.timeout)
    report, died = [], []
    try:
        outcome = session.wait_until_done()
        if outcome == 'stopped':
            events = [e for e in session.qmp.events if e.get('event') == 'SHUTDOWN']
            reason = events[-1]['data'].get('reason') if events else 'unknown'
            report.append(f'post-mortem: the guest stopped (QMP state '
                          f'{session.run_state()}, shutdown reason {reason})')
            lines, died = slot_table.postmortem(session)
            report += lines + slot_table.cpu_registers(session)
        elif outcome == 'exited':
            report.append(f'QEMU exited by itself with status {session.exit_status()}: '
                          'no triple fault')
        else:
            report.append(f'hang: the guest neither stopped nor exited within {args.timeout:g} s')
    finally:
        session.close()
    return outcome, report, died, session.serial(), session.seconds


def judge(args, outcome, died, layout):
    if args.expect_stop and outcome != 'stopped':
        return [f'expected a triple fault that stops the guest, got: {outcome}']
    if not args.expect_died:
        return [] if outcome != 'hang' else ['the run hung']
    apic_text, _, step = args.expect_died.partition(':')
    want = (int(apic_text), step)
    problems = []
    if outcome != 'stopped':
        problems.append(f'expected a triple fault that stops the guest, got: {outcome}')
    got = [(apic, layout.progress_name(progress)) for apic, progress in died]
    if got != [want]:
        problems.append(f'expected exactly APIC {want[0]} to die at {want[1]}, the slot table '
                        f'says {got or "nobody"}')
    return problems


def main(argv):
    args = parse_args(argv)
    layout = slot_table.Layout()
    print('$ ' + ' '.join(run_qemu.qemu_command(args)) +
          ' -qmp unix:<tmp>/qmp.sock,server=on,wait=off -action reboot=shutdown,shutdown=pause',
          flush=True)
    outcome, report, died, serial, seconds = run(args)
    print('--- serial console ---')
    print('\n'.join(serial))
    print('--- end of serial console ---')
    print('\n'.join(report))
    problems = judge(args, outcome, died, layout)
    if problems:
        print(f'FAIL after {seconds:.1f} s:')
        for problem in problems:
            print(f'  - {problem}')
        return 1
    print(f'PASS after {seconds:.1f} s ({outcome})')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
