#!/usr/bin/env python3
"""Boot the minikernel under Bochs once and judge the run.

    run_bochs.py --kernel IMAGE [--cpus N] [--append OPTIONS] [checks...]

The image goes onto a GRUB rescue ISO (grub-mkrescue, BIOS platform only)
whose grub.cfg loads it with `multiboot` and the given options; Bochs boots
that ISO with N CPUs, COM1 written to a file, emulated time driven by the
instruction count alone (`clock: sync=none`) and no display or prompt.

Bochs has no isa-debug-exit device, so the kernel cannot end the
simulation: after the summary it prints that it found no such device and
halts. The runner watches the serial log, and stops Bochs once that line
(or, failing it, the summary or a panic followed by a short grace period)
has appeared, or when the wall-clock --timeout runs out. Bochs never runs
longer than that.

A run passes when:
  * the serial log holds the summary line
        smpboot: summary online=N expected=M failed=K mode=X bringup_us=T
    as the kernel's last line (only the "no isa-debug-exit device" notice
    may follow);
  * N == M == --expect-cpus (default --cpus), K == 0, X == --expect-mode
    when given, and there is one "smpboot: cpu I apic A online" line per CPU;
  * no line says "panic" or "minikernel: error", and every --expect-line
    pattern occurs;
  * Bochs itself did not stop first (a Bochs panic, such as a triple fault
    with reset_on_triple_fault=0, ends it early).

The serial log is printed, then PASS or FAIL with the reasons. Exit status:
0 pass, 1 fail (a missing tool too: this project has no optional Bochs),
77 when the runner could not set up its own files (a host problem that says
nothing about the code under test).
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))

SUMMARY = re.compile(
    r'^smpboot: summary online=(?P<online>\d+) expected=(?P<expected>\d+) '
    r'failed=(?P<failed>\d+) mode=(?P<mode>serial|parallel) bringup_us=(?P<bringup_us>\d+)$')
CPU_ONLINE = re.compile(r'^smpboot: cpu \d+ apic \d+ online\b')
# power_off() prints this when the isa-debug-exit write did nothing: the
# kernel's very last words under Bochs.
HALTED = re.compile(r'^minikernel: no isa-debug-exit device\b')
PANIC = re.compile(r'^minikernel: panic: ')
ALWAYS_REJECTED = [re.compile(r'panic'), re.compile(r'minikernel: error')]
# GRUB draws its menu with terminal escapes; they are noise in the log.
TERMINAL_ESCAPE = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_HARNESS = 77

GRUB_BIOS_PLATFORM = '/usr/lib/grub/i386-pc'
BOCHS_SHARE = os.environ.get('BXSHARE', '/usr/share/bochs')
DEFAULT_VGABIOS = '/usr/share/vgabios/vgabios.bin'

# 5 million instructions per emulated second: the emulated waits (BIOS,
# TSC calibration, INIT delays, timer ticks) cost few host instructions,
# while an AP's whole trampoline-to-online path (a few thousand
# instructions) stays far inside every bound the kernel sets (1 s at least).
# Host time is then mostly BIOS, GRUB and kernel code, which no ips changes.
DEFAULT_IPS = 5_000_000
# Has x2APIC in CPUID (so apic=x2apic really switches), GenuineIntel
# family 6 (so profile=default chooses no INIT delay, as on real hardware).
DEFAULT_MODEL = 'corei7_haswell_4770'
# After the summary the kernel prints one more line; if that line never
# comes (a kernel that halts differently), this much host time is enough.
GRACE_SECONDS = 3.0
POLL_SECONDS = 0.2


class HarnessError(Exception):
    """The runner could not prepare the run (exit 77)."""


class ToolMissing(Exception):
    """A required program or file is not installed (a failure, exit 1)."""


@dataclass
class BochsRun:
    serial_lines: list
    bochs_exit: object           # None when the runner stopped Bochs
    stopped_because: str
    wall_seconds: float
    summary: dict = None
    bochs_log_tail: list = field(default_factory=list)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser)
    parser.add_argument('--expect-cpus', type=int,
                        help='CPUs that must be online and expected (default: --cpus)')
    parser.add_argument('--expect-mode', choices=['serial', 'parallel'])
    parser.add_argument('--expect-line', action='append', default=[], metavar='REGEX')
    return parser.parse_args(argv)


def kernel_options(text):
    """--append goes into grub.cfg unquoted: only characters GRUB's script
    syntax gives no meaning to ($, ;, quotes, # and the like are refused)."""
    if not re.fullmatch(r'[A-Za-z0-9_=,.:/+ -]*', text):
        raise argparse.ArgumentTypeError(
            f'{text!r}: only letters, digits, spaces and _=,.:/+- are allowed')
    return text


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text}: must be at least 1')
    return value


def add_run_arguments(parser):
    """The options that say how to boot; shared with bringup_bochs.py."""
    parser.add_argument('--kernel', required=True, help='the minikernel.elf image')
    parser.add_argument('--cpus', type=positive_int, default=4)
    parser.add_argument('--append', default='', type=kernel_options,
                        help='the kernel command line options')
    parser.add_argument('--ips', type=positive_int, default=DEFAULT_IPS,
                        help='emulated instructions per second (cpu: ips=)')
    parser.add_argument('--model', default=DEFAULT_MODEL, help='Bochs CPU model (cpu: model=)')
    parser.add_argument('--megs', type=positive_int, default=128, help='guest memory, MiB')
    parser.add_argument('--timeout', type=float, default=50.0,
                        help='wall-clock bound on the whole Bochs run, seconds')
    parser.add_argument('--bochs', default=os.environ.get('BOCHS', 'bochs'))
    parser.add_argument('--keep', metavar='DIR',
                        help='build the ISO and keep the bochsrc and logs in DIR')


def require_tools(bochs):
    """Every missing program or file, named with the Debian package."""
    missing = []
    for program, package in ((bochs, 'bochs'), ('grub-mkrescue', 'grub-common'),
                             ('xorriso', 'xorriso')):
        if shutil.which(program) is None:
            missing.append(f'{program} (Debian package {package})')
    for path, package in ((GRUB_BIOS_PLATFORM, 'grub-pc-bin'),
                          (os.path.join(BOCHS_SHARE, 'BIOS-bochs-latest'), 'bochsbios'),
                          (DEFAULT_VGABIOS, 'vgabios')):
        if not os.path.exists(path):
            missing.append(f'{path} (Debian package {package})')
    if missing:
        raise ToolMissing('not installed: ' + ', '.join(missing))


def fill_template(name, values):
    with open(os.path.join(HERE, name), encoding='utf-8') as template:
        text = template.read()
    for key, value in values.items():
        text = text.replace(f'@{key}@', str(value))
    leftover = re.search(r'@[A-Z_]+@', text)
    if leftover:
        raise HarnessError(f'{name}: no value for {leftover.group(0)}')
    return text


def build_iso(kernel, options, workdir):
    """A BIOS-only GRUB rescue ISO that boots the kernel with the options."""
    root = os.path.join(workdir, 'iso')
    os.makedirs(os.path.join(root, 'boot', 'grub'), exist_ok=True)
    shutil.copyfile(kernel, os.path.join(root, 'boot', 'minikernel.elf'))
    with open(os.path.join(root, 'boot', 'grub', 'grub.cfg'), 'w', encoding='utf-8') as cfg:
        cfg.write(fill_template('grub.cfg.in', {'OPTIONS': options}))
    iso = os.path.join(workdir, 'minikernel.iso')
    made = subprocess.run(['grub-mkrescue', '-d', GRUB_BIOS_PLATFORM, '-o', iso, root],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120, check=False)
    if made.returncode != 0 or not os.path.exists(iso):
        raise HarnessError('grub-mkrescue failed:\n' + made.stdout)
    return iso


def write_bochsrc(args, iso, workdir):
    path = os.path.join(workdir, 'bochsrc')
    text = fill_template('bochsrc.in', {
        'MEGS': args.megs,
        'BIOS': os.path.join(BOCHS_SHARE, 'BIOS-bochs-latest'),
        'VGABIOS': DEFAULT_VGABIOS,
        'IPS': args.ips,
        'MODEL': args.model,
        'CPUS': args.cpus,
        'ISO': iso,
        'SERIAL_LOG': os.path.join(workdir, 'serial.log'),
        'BOCHS_LOG': os.path.join(workdir, 'bochs.log'),
    })
    with open(path, 'w', encoding='utf-8') as rc:
        rc.write(text)
    return path


def bochs_has_debugger(bochs):
    """Debian's Bochs has the internal debugger, which stops at the first
    instruction and waits for a command: such a Bochs gets `continue` from
    a command file (-rc) and end-of-file on stdin at any later prompt."""
    usage = subprocess.run([bochs, '--help'], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=30, check=False)
    return re.search(r'^\s*-rc\b', usage.stdout, re.MULTILINE) is not None


def read_serial_lines(path):
    try:
        with open(path, 'rb') as log:
            raw = log.read()
    except FileNotFoundError:
        return []
    text = TERMINAL_ESCAPE.sub('', raw.decode('utf-8', errors='replace'))
    return [line.rstrip('\r') for line in text.split('\n')]


def stop(process):
    """End Bochs and anything it started: its own process group."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def boot(args, workdir):
    """Run Bochs once; returns a BochsRun. Never takes longer than
    args.timeout seconds of Bochs plus the grace and stop times."""
    iso = build_iso(args.kernel, args.append, workdir)
    bochsrc = write_bochsrc(args, iso, workdir)
    command = [args.bochs, '-q', '-f', bochsrc]
    if bochs_has_debugger(args.bochs):
        commands = os.path.join(workdir, 'debugger-commands')
        with open(commands, 'w', encoding='utf-8') as rc:
            rc.write('continue\n')
        command += ['-rc', commands]
    serial_log = os.path.join(workdir, 'serial.log')
    console = open(os.path.join(workdir, 'bochs.out'), 'wb')
    started = time.monotonic()
    # No window, no sound device: SDL's dummy drivers.
    environment = dict(os.environ, SDL_VIDEODRIVER='dummy', SDL_AUDIODRIVER='dummy')
    process = subprocess.Popen(command, cwd=workdir, stdin=subprocess.DEVNULL,
                               stdout=console, stderr=subprocess.STDOUT,
                               env=environment, start_new_session=True)
    deadline = started + args.timeout
    final_by = None
    reason = 'the wall-clock timeout'
    try:
        while True:
            now = time.monotonic()
            lines = read_serial_lines(serial_log)
            if any(HALTED.match(line) for line in lines):
                reason = 'the kernel halted'
                break
            if final_by is None and any(SUMMARY.match(line) or PANIC.match(line)
                                        for line in lines):
                final_by = now + GRACE_SECONDS
            if final_by is not None and now >= final_by:
                reason = 'the grace period after the summary or panic'
                break
            if process.poll() is not None:
                reason = f'Bochs exited by itself (status {process.returncode})'
                break
            if now >= deadline:
                break
            time.sleep(POLL_SECONDS)
    finally:
        exited = process.poll()
        stop(process)
        console.close()
    run = BochsRun(serial_lines=read_serial_lines(serial_log), bochs_exit=exited,
                   stopped_because=reason, wall_seconds=time.monotonic() - started)
    for line in run.serial_lines:
        match = SUMMARY.match(line)
        if match:
            run.summary = {key: (value if key == 'mode' else int(value))
                           for key, value in match.groupdict().items()}
    run.bochs_log_tail = bochs_log_problems(workdir)
    if exited is None:
        # The SDL display reports the runner's own SIGTERM as a panic.
        run.bochs_log_tail = [line for line in run.bochs_log_tail
                              if 'User requested shutdown' not in line]
    return run


def bochs_log_problems(workdir):
    """Bochs's own panics and errors ('p[' and 'e[' lines), the last few."""
    problems = []
    for name in ('bochs.log', 'bochs.out'):
        try:
            with open(os.path.join(workdir, name), encoding='utf-8', errors='replace') as log:
                problems += [line.rstrip() for line in log
                             if re.match(r'^\d+[pe]\[', line) or 'PANIC' in line]
        except FileNotFoundError:
            pass
    return problems[-20:]


def kernel_lines(run):
    """The serial lines from the kernel's banner on, blank lines dropped."""
    lines = [line for line in run.serial_lines if line.strip()]
    for index, line in enumerate(lines):
        if line.startswith('minikernel: libsmpboot'):
            return lines[index:]
    return lines


def judge(run, args):
    """The reasons the run failed; empty when it passed."""
    reasons = []
    lines = kernel_lines(run)
    if run.bochs_exit is not None:
        reasons.append(f'Bochs stopped before the kernel finished (status {run.bochs_exit})')
    if any("display library 'sdl2' not available" in line for line in run.bochs_log_tail):
        reasons.append('this Bochs has no SDL2 display (Debian package bochs-sdl)')
    if run.summary is None:
        reasons.append(f'no summary line (Bochs stopped after {run.wall_seconds:.1f} s: '
                       f'{run.stopped_because})')
        return reasons
    meaningful = [line for line in lines if not HALTED.match(line)]
    if not meaningful or not SUMMARY.match(meaningful[-1]):
        reasons.append('the summary is not the kernel\'s last line')
    expect_cpus = args.expect_cpus if args.expect_cpus is not None else args.cpus
    summary = run.summary
    if summary['online'] != summary['expected']:
        reasons.append(f'online={summary["online"]} but expected={summary["expected"]}')
    if summary['expected'] != expect_cpus:
        reasons.append(f'expected={summary["expected"]}, the test wants {expect_cpus}')
    if summary['failed'] != 0:
        reasons.append(f'failed={summary["failed"]}')
    if args.expect_mode and summary['mode'] != args.expect_mode:
        reasons.append(f'mode={summary["mode"]}, the test wants {args.expect_mode}')
    online_lines = sum(1 for line in lines if CPU_ONLINE.match(line))
    if online_lines != expect_cpus:
        reasons.append(f'{online_lines} "smpboot: cpu ... online" lines, want {expect_cpus}')
    for line in lines:
        if any(pattern.search(line) for pattern in ALWAYS_REJECTED):
            reasons.append(f'rejected line: {line}')
    for pattern in args.expect_line:
        if not any(re.search(pattern, line) for line in lines):
            reasons.append(f'no line matches {pattern!r}')
    return reasons


def run_in_workdir(args, action):
    """action(workdir) in --keep's directory or a temporary one."""
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        return action(os.path.abspath(args.keep))
    with tempfile.TemporaryDirectory(prefix='smpboot-bochs-') as workdir:
        return action(workdir)


def main(argv):
    args = parse_args(argv)
    if not os.path.isfile(args.kernel):
        print(f'FAIL: no kernel image at {args.kernel}')
        return EXIT_FAIL
    try:
        require_tools(args.bochs)
        run = run_in_workdir(args, lambda workdir: boot(args, workdir))
    except ToolMissing as missing:
        print(f'FAIL: {missing}')
        return EXIT_FAIL
    except subprocess.TimeoutExpired as stuck:
        print(f'FAIL: {stuck}')
        return EXIT_FAIL
    except (HarnessError, OSError) as problem:
        print(f'HARNESS PROBLEM (not a test result): {problem}')
        return EXIT_HARNESS
    print('\n'.join(run.serial_lines))
    print(f'--- bochs: {args.cpus} CPUs, model {args.model}, ips {args.ips}, '
          f'options "{args.append}"; stopped after {run.wall_seconds:.1f} s: '
          f'{run.stopped_because}')
    if run.bochs_log_tail:
        print('--- bochs log, panics and errors:')
        print('\n'.join(run.bochs_log_tail))
    reasons = judge(run, args)
    if reasons:
        print('FAIL:\n  ' + '\n  '.join(reasons))
        return EXIT_FAIL
    print(f'PASS: bringup_us={run.summary["bringup_us"]}')
    return EXIT_PASS


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
