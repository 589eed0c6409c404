#!/usr/bin/env python3
"""Boot the minikernel under QEMU once and judge the run.

    run_qemu.py --kernel IMAGE [checks...] [-- QEMU ARGS...]

QEMU runs with the minikernel contract's options (serial on stdout, no
display, no reboot, isa-debug-exit at 0xf4) plus the accelerator and
whatever follows `--`. A watchdog kills it after --timeout seconds.

A run passes when all of these hold:
  * QEMU exited by itself (no hang) with --expect-exit (33 by default:
    the kernel wrote 0x10 to isa-debug-exit). A triple fault makes QEMU
    exit 0 under -no-reboot, so it fails;
  * the last line on the serial console is the summary
        smpboot: summary online=N expected=M failed=K mode=X bringup_us=T
  * for an expected success: N == M == --expect-cpus, K == 0, X matches
    --expect-mode, and one "smpboot: cpu I apic A online" line per CPU;
    for an expected failure (--expect-exit 35): N != M or K > 0;
  * every --expect-line pattern occurs and no --reject-line pattern does
    (lines with "panic" or "minikernel: error" are rejected in a run that
    is expected to succeed);
  * the summary's counts equal --expect-online, --expect-expected and
    --expect-failed where given (in a run expected to fail too, so a test
    can demand exactly "failed=2").

With --grub multiboot2|multiboot the kernel is not given to QEMU's -kernel
but booted from a GRUB rescue ISO (grub-mkrescue, made in --work-dir) with
that loader command and --append as its command line, on --firmware
seabios or ovmf (Debian's OVMF, a fresh variable store each boot). GRUB's
own terminal output is on the serial console too; its escape sequences are
dropped before judging. A missing tool makes the run exit 77 (skipped).

With --expect-panic REGEX the run must instead end in a kernel panic: QEMU
exits 35 and the last line is "minikernel: panic: " followed by a match of
REGEX. That is how a test checks that a staged failure is caught.

The serial log is printed in full, then PASS or FAIL with the reasons.
Exit status 0 means pass.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SUMMARY = re.compile(
    r'^smpboot: summary online=(?P<online>\d+) expected=(?P<expected>\d+) '
    r'failed=(?P<failed>\d+) mode=(?P<mode>serial|parallel) bringup_us=(?P<bringup_us>\d+)$')
CPU_ONLINE = re.compile(r'^smpboot: cpu \d+ apic \d+ online\b')
ALWAYS_REJECTED = [r'panic', r'minikernel: error']
PANIC_PREFIX = 'minikernel: panic: '

EXIT_SUCCESS = 33  # isa-debug-exit: (0x10 << 1) | 1
EXIT_FAILURE = 35  # (0x11 << 1) | 1
SKIPPED = 77  # meson's "skipped"

OVMF_CODE = '/usr/share/OVMF/OVMF_CODE.fd'
OVMF_VARS = '/usr/share/OVMF/OVMF_VARS.fd'
ANSI_ESCAPE = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')
GRUB_PLATFORMS = {'seabios': ('/usr/lib/grub/i386-pc', 'grub-pc-bin'),
                  'ovmf': ('/usr/lib/grub/x86_64-efi', 'grub-efi-amd64-bin')}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--kernel', required=True, help='the minikernel.elf image')
    parser.add_argument('--qemu', default=os.environ.get('QEMU', 'qemu-system-x86_64'))
    parser.add_argument('--accel', default='tcg', choices=['tcg', 'kvm'])
    parser.add_argument('--accel-props', default='',
                        help='properties for -accel, e.g. thread=single (one host thread for '
                             'every TCG vCPU)')
    parser.add_argument('--append', default='', help='kernel command line (-append)')
    parser.add_argument('--timeout', type=float, default=60.0, help='watchdog, seconds')
    parser.add_argument('--expect-exit', type=int, default=EXIT_SUCCESS,
                        choices=[EXIT_SUCCESS, EXIT_FAILURE])
    parser.add_argument('--expect-cpus', type=int,
                        help='CPUs that must be online and expected (success runs)')
    parser.add_argument('--expect-mode', choices=['serial', 'parallel'])
    parser.add_argument('--expect-online', type=int, help='the summary\'s online=')
    parser.add_argument('--expect-expected', type=int, help='the summary\'s expected=')
    parser.add_argument('--expect-failed', type=int, help='the summary\'s failed=')
    parser.add_argument('--expect-line', action='append', default=[], metavar='REGEX')
    parser.add_argument('--reject-line', action='append', default=[], metavar='REGEX')
    parser.add_argument('--expect-panic', metavar='REGEX',
                        help='the run must end with a panic whose message matches')
    parser.add_argument('--grub', choices=['multiboot2', 'multiboot'],
                        help='boot through a GRUB ISO with this loader command')
    parser.add_argument('--firmware', choices=['seabios', 'ovmf'], default='seabios')
    parser.add_argument('--work-dir', help='where the GRUB ISO is made (default: a temp dir)')
    parser.add_argument('qemu_args', nargs='*', help='after --: more QEMU options')
    return parser.parse_args(argv)


def accel_option(args):
    props = getattr(args, 'accel_props', '')
    return f'{args.accel},{props}' if props else args.accel


def missing_grub_tools(args):
    missing = [f'{tool} ({package})' for tool, package in
               (('grub-mkrescue', 'grub-common'), ('xorriso', 'xorriso'), ('mformat', 'mtools'))
               if not shutil.which(tool)]
    directory, package = GRUB_PLATFORMS[args.firmware]
    if not os.path.isdir(directory):
        missing.append(f'{directory} ({package})')
    if args.firmware == 'ovmf':
        missing += [f'{path} (ovmf)' for path in (OVMF_CODE, OVMF_VARS) if not os.path.exists(path)]
    return missing


def make_grub_iso(args, work_dir):
    """A GRUB rescue ISO that boots the kernel at once, its console on COM1; its path."""
    root = os.path.join(work_dir, 'iso-root')
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, 'boot', 'grub'))
    shutil.copyfile(args.kernel, os.path.join(root, 'boot', 'minikernel.elf'))
    with open(os.path.join(root, 'boot', 'grub', 'grub.cfg'), 'w') as cfg:
        cfg.write('set timeout=0\nset default=0\n'
                  'serial --unit=0 --speed=115200\n'
                  'terminal_input serial\nterminal_output serial\n'
                  f'menuentry "minikernel" {{\n    {args.grub} /boot/minikernel.elf {args.append}\n'
                  '    boot\n}\n')
    iso = os.path.join(work_dir, 'minikernel.iso')
    result = subprocess.run(['grub-mkrescue', '-o', iso, root], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False)
    if result.returncode != 0:
        print(result.stdout)
        raise RuntimeError(f'grub-mkrescue failed with status {result.returncode}')
    return iso


def qemu_command(args, work_dir=None):
    command = [args.qemu, '-serial', 'stdio', '-display', 'none', '-monitor', 'none',
               '-no-reboot', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
               '-accel', accel_option(args)]
    if getattr(args, 'grub', None):
        command += ['-cdrom', make_grub_iso(args, work_dir), '-boot', 'd']
        if args.firmware == 'ovmf':
            # The firmware writes its variable store: a fresh copy each boot.
            variables = os.path.join(work_dir, 'OVMF_VARS.fd')
            shutil.copyfile(OVMF_VARS, variables)
            command += ['-drive', f'if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}',
                        '-drive', f'if=pflash,format=raw,unit=1,file={variables}']
        return command + args.qemu_args
    command += ['-kernel', args.kernel]
    if args.append:
        command += ['-append', args.append]
    return command + args.qemu_args


def run(command, timeout):
    """(exit status or None on timeout, serial text, stderr text, seconds)."""
    start = time.monotonic()
    try:
        proc = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
        status, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as expired:
        status, out, err = None, expired.stdout or b'', expired.stderr or b''
    return (status, out.decode(errors='replace'), err.decode(errors='replace'),
            time.monotonic() - start)


def check_panic(args, lines):
    last = lines[-1] if lines else ''
    if last.startswith(PANIC_PREFIX) and re.search(args.expect_panic, last[len(PANIC_PREFIX):]):
        return []
    return [f'the last line is not a panic matching {args.expect_panic!r}: {last!r}']


def check_summary(args, lines):
    summary = SUMMARY.match(lines[-1]) if lines else None
    if not summary:
        last = lines[-1] if lines else '(no serial output)'
        return [f'the last serial line is not the summary: {last!r}']
    problems = []
    online, expected, failed = (int(summary[k]) for k in ('online', 'expected', 'failed'))
    if args.expect_exit == EXIT_SUCCESS:
        if online != expected or failed != 0:
            problems.append(f'summary reports a failure: online={online} '
                            f'expected={expected} failed={failed}')
        if args.expect_cpus is not None and (online, expected) != (args.expect_cpus,) * 2:
            problems.append(f'{args.expect_cpus} CPUs expected by the test, summary says '
                            f'online={online} expected={expected}')
        announced = sum(1 for line in lines if CPU_ONLINE.match(line))
        if announced != online:
            problems.append(f'{announced} "cpu ... online" lines for {online} CPUs online')
    elif online == expected and failed == 0:
        problems.append('a failure was expected but the summary reports success')
    for key in ('online', 'expected', 'failed'):
        want = getattr(args, 'expect_' + key, None)
        if want is not None and int(summary[key]) != want:
            problems.append(f'summary says {key}={summary[key]}, the test expects {want}')
    if args.expect_mode and summary['mode'] != args.expect_mode:
        problems.append(f'mode={summary["mode"]}, expected {args.expect_mode}')
    return problems


def judge(args, status, serial):
    """The list of reasons the run fails; empty when it passes."""
    problems = []
    serial = ANSI_ESCAPE.sub('', serial)
    lines = [line.rstrip('\r').split('\r')[-1] for line in serial.splitlines()]
    lines = [line for line in lines if line.strip()]

    if status is None:
        problems.append(f'hang: QEMU still running after {args.timeout:g} s (killed)')
    elif status == 0:
        problems.append('QEMU exited 0: a triple fault (reset under -no-reboot) or a shutdown '
                        'that did not go through isa-debug-exit')
    elif status != args.expect_exit:
        problems.append(f'QEMU exit status {status}, expected {args.expect_exit}')

    if args.expect_panic is not None:
        problems += check_panic(args, lines)
    else:
        problems += check_summary(args, lines)

    for pattern in args.expect_line:
        if not any(re.search(pattern, line) for line in lines):
            problems.append(f'no line matches {pattern!r}')
    rejected = list(args.reject_line)
    if args.expect_exit == EXIT_SUCCESS:
        rejected += ALWAYS_REJECTED
    for pattern in rejected:
        for line in lines:
            if re.search(pattern, line):
                problems.append(f'rejected line ({pattern!r}): {line!r}')
    return problems


def main(argv):
    args = parse_args(argv)
    if args.expect_panic is not None:
        args.expect_exit = EXIT_FAILURE
    if not os.path.isfile(args.kernel):
        print(f'FAIL: no kernel image at {args.kernel}')
        return 1
    if args.grub:
        missing = missing_grub_tools(args)
        if missing:
            print('SKIP: missing ' + ', '.join(missing))
            return SKIPPED
        if args.work_dir:
            os.makedirs(args.work_dir, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=args.work_dir, prefix='grub-') as work_dir:
            command = qemu_command(args, work_dir)
            print('$ ' + ' '.join(command), flush=True)
            status, serial, stderr, seconds = run(command, args.timeout)
    else:
        command = qemu_command(args)
        print('$ ' + ' '.join(f"'{c}'" if (' ' in c or not c) else c for c in command),
              flush=True)
        status, serial, stderr, seconds = run(command, args.timeout)

    print('--- serial console ---')
    print(serial.replace('\r\n', '\n').rstrip('\n'))
    print('--- end of serial console ---')
    noise = [line for line in stderr.splitlines()
             if line.strip() and 'exceeds the recommended cpus' not in line]
    if noise:
        print('--- qemu stderr ---')
        print('\n'.join(noise))

    problems = judge(args, status, serial)
    shown = 'timeout' if status is None else status
    if problems:
        print(f'FAIL after {seconds:.1f} s (qemu exit {shown}):')
        for problem in problems:
            print(f'  - {problem}')
        return 1
    print(f'PASS after {seconds:.1f} s (qemu exit {shown})')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
