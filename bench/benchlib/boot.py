"""One boot of the minikernel under QEMU, read as it runs, with a watchdog."""
import os
import selectors
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import List, Optional

from .serial_log import SerialLog

EXIT_SUCCESS = 33  # isa-debug-exit 0x10
EXIT_FAILURE = 35  # isa-debug-exit 0x11

MEMORY = '512M'


@dataclass
class BootResult:
    command: List[str]
    log: SerialLog
    exit_status: Optional[int]  # None: killed (watchdog, or stopped after a failed round)
    timed_out: bool
    stopped_early: bool
    seconds: float
    stderr: str
    finished_early: bool = False  # stopped because the log had all it wanted
    vm_error: str = ''            # QEMU's accelerator gave up on the guest (it then hangs)


def qemu_command(qemu, kernel, accel, machine, cpus, append):
    return [qemu, '-kernel', kernel, '-serial', 'stdio', '-display', 'none', '-monitor', 'none',
            '-no-reboot', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
            '-accel', accel, '-machine', machine, '-smp', str(cpus), '-m', MEMORY,
            '-append', append]


def boot(command, timeout_s, stop_on_failed_round=True, log=None) -> BootResult:
    """Run QEMU until it exits, the watchdog fires, or a round fails.

    A failed round changes the set of CPUs the later rounds start (a timed-out
    AP is not brought back), so the rest of that boot would not measure the
    same thing: it is cut short and the caller boots again.

    log: what reads the console (default: the minikernel's SerialLog). One
    with a true `finished` attribute has seen all it needs: QEMU is stopped
    there (Linux, after its bring-up, would go on to mount a root it lacks).
    """
    log = SerialLog() if log is None else log
    start = time.monotonic()
    deadline = start + timeout_s
    timed_out = stopped_early = failed_round_seen = finished_early = False
    vm_error = ''
    with tempfile.TemporaryFile() as stderr_file:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=stderr_file)
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        pending = b''
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                if not selector.select(timeout=min(left, 1.0)):
                    vm_error = accelerator_error(stderr_file)
                    if vm_error:
                        break  # QEMU stops the guest and waits: no need for the watchdog
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break  # QEMU closed its end: it is exiting
                pending += chunk
                *whole, pending = pending.split(b'\n')
                for raw in whole:
                    started = log.feed(raw.decode(errors='replace'))
                    if failed_round_seen:
                        stopped_early = True  # its round line is in: enough of this boot
                        break
                    if started is not None and not started.ok and stop_on_failed_round:
                        failed_round_seen = True
                    if getattr(log, 'finished', False):
                        finished_early = True
                        break
                if stopped_early or finished_early:
                    break
            if pending:
                log.feed(pending.decode(errors='replace'))
        finally:
            selector.close()
            if timed_out or stopped_early or finished_early or vm_error:
                proc.kill()
            try:
                status = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                status = proc.wait()
            proc.stdout.close()
        stderr_file.seek(0)
        stderr = stderr_file.read().decode(errors='replace')
    exit_status = None if (timed_out or stopped_early or finished_early or vm_error) else status
    return BootResult(command, log, exit_status, timed_out, stopped_early,
                      time.monotonic() - start, stderr, finished_early, vm_error)


# What QEMU prints when KVM cannot go on with the guest (for instance an
# instruction its emulator lacks); QEMU then pauses the guest for good.
ACCELERATOR_ERRORS = (b'KVM internal error', b'KVM: entry failed')


def accelerator_error(stderr_file) -> str:
    """The first line of such a message in QEMU's stderr so far, or ''.
    pread: QEMU shares this file's offset, which a seek would move."""
    fd = stderr_file.fileno()
    text = os.pread(fd, os.fstat(fd).st_size, 0)
    for marker in ACCELERATOR_ERRORS:
        at = text.find(marker)
        if at >= 0:
            return text[at:].split(b'\n', 1)[0].decode(errors='replace')
    return ''


def watchdog_seconds(accel: str, cpus: int, rounds: int) -> float:
    """Generous bounds, measured on a 2-core host (docs/performance.md):
    TCG up to about 0.04 s per CPU-round, nested KVM up to about 0.6 s."""
    if accel == 'kvm':
        return 120 + 1.5 * cpus * rounds
    return 60 + 0.15 * cpus * rounds


# ---- Bochs (bench/run --accel bochs): emulated time, deterministic ----

BOCHS_RUNNER_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'tests', 'bochs')


def bochs_runner():
    """tests/bochs/run_bochs.py, which builds the GRUB ISO and the bochsrc."""
    import sys
    if BOCHS_RUNNER_DIR not in sys.path:
        sys.path.insert(0, BOCHS_RUNNER_DIR)
    import run_bochs  # noqa: E402 - found through the path just set
    return run_bochs


def bochs_available():
    """None when Bochs and its tools are there, else what is missing."""
    runner = bochs_runner()
    try:
        runner.require_tools(os.environ.get('BOCHS', 'bochs'))
    except runner.ToolMissing as missing:
        return str(missing)
    return None


def bochs_boot(kernel, cpus, append, timeout_s) -> BootResult:
    """One boot under Bochs with `clock: sync=none` (docs/bochs.md): its
    times are emulated, instructions over ips, the same on every run. Bochs
    has no isa-debug-exit: the boot counts as a success when the kernel
    halted after a summary line with every CPU online."""
    import argparse
    runner = bochs_runner()
    parser = argparse.ArgumentParser()
    runner.add_run_arguments(parser)
    args = parser.parse_args(['--kernel', kernel, '--cpus', str(cpus), '--append', append,
                              '--timeout', str(timeout_s)])
    run = runner.run_in_workdir(args, lambda workdir: runner.boot(args, workdir))
    log = SerialLog()
    for line in run.serial_lines:
        log.feed(line)
    summary = run.summary or {}
    ok = (run.stopped_because == 'the kernel halted' and summary.get('failed') == 0
          and summary.get('online') == summary.get('expected'))
    timed_out = run.stopped_because == 'the wall-clock timeout'
    command = [args.bochs, f'(tests/bochs/run_bochs.py --cpus {cpus} --ips {args.ips} '
               f'--model {args.model})', '-append', append]
    return BootResult(command, log, None if timed_out else (EXIT_SUCCESS if ok else EXIT_FAILURE),
                      timed_out, False, run.wall_seconds, '\n'.join(run.bochs_log_tail))


def bochs_watchdog_seconds(cpus: int, rounds: int) -> float:
    """BIOS and GRUB take about 8 s of host time; each CPU-round a few tenths."""
    return 120 + 1.0 * cpus * rounds
