#!/usr/bin/env python3
"""Boot the minikernel over a matrix of platforms and count what happens.

    matrix.py --kernel IMAGE [--subset smoke|full] [--repeats N] [--jobs J]
              [--platforms P,P...] [--timeout S] [--append OPTIONS]
              [--log-dir DIR]

A case is a platform, a topology, a CPU model, a bring-up mode and a
libsmpboot profile (profile=default|sdm|fast).

Platforms:
  tcg-pc, tcg-q35        QEMU -kernel (Multiboot 1) under TCG
  kvm-q35                the same under KVM, only where kvm_probe.py says
                         KVM runs a guest here (otherwise skipped, and said)
  grub-seabios-q35       a GRUB rescue ISO (multiboot2) on SeaBIOS, TCG
  grub-ovmf-q35          a GRUB rescue ISO (multiboot2) on OVMF (UEFI), TCG
  bochs                  Bochs through tests/bochs/run_bochs.py (GRUB,
                         multiboot), CPU model corei7_haswell_4770
Topologies:
  smp1, smp2, smp4, smp8   1-8 CPUs, dense APIC IDs
  sparse                   -smp 6,sockets=2,cores=3: APIC IDs 0 1 2 4 5 6
  disabled                 -smp 2,maxcpus=4: two MADT entries not enabled
  high                     -m 5G -smp 4, high_page_tables=1: CR3 above 4 GiB
  la57                     -smp 4, paging=5: 5-level paging (with -cpu max)
CPU models (QEMU): qemu64, max, Skylake-Client, Haswell, EPYC.

--subset full: on tcg-pc and tcg-q35 every topology but la57 with qemu64,
and smp4 with each other model; la57 on tcg-q35 with max; on kvm-q35 smp4
and smp8 with qemu64 and smp4 with max; on both GRUB platforms and on
Bochs smp4; each in both modes and all three profiles (174 cases).
--subset smoke: 8 TCG boots over both machines, every model, mode and
profile, for the qemu test suite (seconds).

Every boot has a wall-clock watchdog (--timeout, or the platform's own:
60 s TCG, 90 s KVM, 120 s GRUB and Bochs) and is counted as exactly one of:
  pass           the run succeeded and every check of run_qemu.py /
                 run_bochs.py holds (summary last, online == expected ==
                 the machine's CPUs, failed=0, one online line per CPU, no
                 panic or error line)
  fail           the run failed and said so (exit 35, or a check failed
                 while the kernel did not claim success)
  hang           the watchdog stopped it before it finished
  triple         a triple fault: QEMU exited 0 (a reset under -no-reboot),
                 or Bochs stopped by itself
  false-success  the kernel claimed success (QEMU exit 33; under Bochs, a
                 summary with online == expected and failed=0) but: the
                 summary is missing or not the last line, online !=
                 expected, failed != 0, expected is not the machine's CPU
                 count, a CPU line reports a failed CPU, or the number of
                 "cpu ... online" lines differs from online=

Prints one row per case, totals per platform and in all, and the reasons
of the first non-passing boots; --log-dir keeps the command and serial log
of every boot that did not pass. Exit status 0 when every boot passed.
"""
import argparse
import concurrent.futures
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import namedtuple
from types import SimpleNamespace

import run_qemu

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'bochs'))
import run_bochs  # noqa: E402  (tests/bochs, found through the path above)

Case = namedtuple('Case', 'platform topology cpu mode profile')

PLATFORMS = {
    'tcg-pc': dict(runner='qemu', accel='tcg', machine='pc', timeout=60.0),
    'tcg-q35': dict(runner='qemu', accel='tcg', machine='q35', timeout=60.0),
    'kvm-q35': dict(runner='qemu', accel='kvm', machine='q35', timeout=90.0),
    'grub-seabios-q35': dict(runner='qemu', accel='tcg', machine='q35', grub='multiboot2',
                             firmware='seabios', timeout=120.0),
    'grub-ovmf-q35': dict(runner='qemu', accel='tcg', machine='q35', grub='multiboot2',
                          firmware='ovmf', timeout=120.0),
    'bochs': dict(runner='bochs', timeout=120.0),
}
# name: (CPUs online and expected, QEMU options, kernel options)
TOPOLOGIES = {
    'smp1': (1, ['-smp', '1'], ''),
    'smp2': (2, ['-smp', '2'], ''),
    'smp4': (4, ['-smp', '4'], ''),
    'smp8': (8, ['-smp', '8'], ''),
    'sparse': (6, ['-smp', '6,sockets=2,cores=3,threads=1'], ''),
    'disabled': (2, ['-smp', '2,maxcpus=4'], ''),
    'high': (4, ['-m', '5G', '-smp', '4'], 'high_page_tables=1'),
    'la57': (4, ['-smp', '4'], 'paging=5'),
}
QEMU_MODELS = ('qemu64', 'max', 'Skylake-Client', 'Haswell', 'EPYC')
BOCHS_MODEL = run_bochs.DEFAULT_MODEL
MODES = ('serial', 'parallel')
PROFILES = ('default', 'sdm', 'fast')
SMOKE_CASES = [
    Case('tcg-pc', 'smp2', 'qemu64', 'parallel', 'default'),
    Case('tcg-q35', 'smp4', 'max', 'serial', 'sdm'),
    Case('tcg-pc', 'sparse', 'Skylake-Client', 'parallel', 'fast'),
    Case('tcg-q35', 'disabled', 'EPYC', 'serial', 'default'),
    Case('tcg-q35', 'high', 'qemu64', 'parallel', 'sdm'),
    Case('tcg-pc', 'smp8', 'Haswell', 'serial', 'fast'),
    Case('tcg-q35', 'la57', 'max', 'parallel', 'default'),
    Case('tcg-q35', 'smp1', 'qemu64', 'serial', 'fast'),
]
# As in the qemu suite: generous bounds, so host load does not read as a failed AP.
AP_TIMEOUT = 'ap_timeout_ms=10000'
VERDICTS = ('pass', 'fail', 'hang', 'triple', 'false-success')

SUMMARY = run_qemu.SUMMARY
CPU_ONLINE = re.compile(r'^smpboot: cpu \d+ apic \d+ online\b')
CPU_FAILED = re.compile(r'^smpboot: cpu \d+ apic \d+ (?!online\b)')


def parse_args(argv):
    # Not qemu_session.parser_for(): the platform, not --accel, picks the accelerator.
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--kernel', required=True)
    parser.add_argument('--qemu', default=os.environ.get('QEMU', 'qemu-system-x86_64'))
    parser.add_argument('--subset', default='full', choices=['smoke', 'full'])
    parser.add_argument('--platforms', default='',
                        help='comma-separated platforms to keep (default: all of the subset)')
    parser.add_argument('--repeats', type=int, default=1)
    parser.add_argument('--jobs', type=int, default=2, help='boots at once')
    parser.add_argument('--timeout', type=float, default=None,
                        help='watchdog per boot, seconds (default: per platform)')
    parser.add_argument('--append', default='', help='more kernel options for every boot')
    parser.add_argument('--log-dir', help='keep the serial log of every boot that did not pass')
    parser.add_argument('--bochs', default=os.environ.get('BOCHS', 'bochs'))
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.jobs < 1:
        parser.error('--repeats and --jobs must be at least 1')
    unknown = [p for p in args.platforms.split(',') if p and p not in PLATFORMS]
    if unknown:
        parser.error(f'unknown platform(s): {", ".join(unknown)}; known: {", ".join(PLATFORMS)}')
    return args


def full_cases():
    variants = [(mode, profile) for mode in MODES for profile in PROFILES]
    out = []
    for platform in ('tcg-pc', 'tcg-q35'):
        for topology in TOPOLOGIES:
            if topology != 'la57':
                out += [Case(platform, topology, 'qemu64', m, p) for m, p in variants]
        for model in QEMU_MODELS[1:]:
            out += [Case(platform, 'smp4', model, m, p) for m, p in variants]
    out += [Case('tcg-q35', 'la57', 'max', m, p) for m, p in variants]
    for topology, model in (('smp4', 'qemu64'), ('smp8', 'qemu64'), ('smp4', 'max')):
        out += [Case('kvm-q35', topology, model, m, p) for m, p in variants]
    for platform in ('grub-seabios-q35', 'grub-ovmf-q35'):
        out += [Case(platform, 'smp4', 'qemu64', m, p) for m, p in variants]
    out += [Case('bochs', 'smp4', BOCHS_MODEL, m, p) for m, p in variants]
    return out


def kernel_options(args, case):
    _, _, extra = TOPOLOGIES[case.topology]
    words = [f'mode={case.mode}', f'profile={case.profile}', extra, AP_TIMEOUT, args.append]
    return ' '.join(w for w in words if w)


def clean_lines(serial):
    """The serial console as run_qemu.judge sees it: no escapes, no blank lines."""
    serial = run_qemu.ANSI_ESCAPE.sub('', serial)
    lines = [line.rstrip('\r').split('\r')[-1] for line in serial.splitlines()]
    return [line for line in lines if line.strip()]


def false_success_reasons(lines, cpus):
    """Why a run that claimed success did not succeed; empty when the claim holds."""
    summaries = [i for i, line in enumerate(lines) if SUMMARY.match(line)]
    if not summaries:
        return ['success claimed with no summary line']
    reasons = []
    if summaries[-1] != len(lines) - 1:
        reasons.append(f'the summary is not the last line (then: {lines[-1]!r})')
    summary = SUMMARY.match(lines[summaries[-1]])
    online, expected, failed = (int(summary[k]) for k in ('online', 'expected', 'failed'))
    if online != expected:
        reasons.append(f'online={online} != expected={expected}')
    if failed != 0:
        reasons.append(f'failed={failed}')
    if expected != cpus:
        reasons.append(f'expected={expected}, the machine has {cpus} CPUs')
    reasons += [f'a failed CPU: {line!r}' for line in lines if CPU_FAILED.match(line)]
    announced = sum(1 for line in lines if CPU_ONLINE.match(line))
    if announced != online:
        reasons.append(f'{announced} "cpu ... online" lines for online={online}')
    return reasons


def classify_qemu(status, lines, cpus, problems):
    """(verdict, reasons) of a QEMU boot: status None = killed by the watchdog."""
    if status is None:
        return 'hang', problems
    if status == 0:
        return 'triple', problems
    if status == run_qemu.EXIT_SUCCESS:
        lies = false_success_reasons(lines, cpus)
        if lies:
            return 'false-success', lies
    return ('fail', problems) if problems else ('pass', [])


def classify_bochs(run, lines, cpus, problems):
    """(verdict, reasons) of a Bochs boot (no exit status: the summary is the claim)."""
    if run.bochs_exit is not None:
        return 'triple', problems
    if run.summary is None:
        if any(run_bochs.PANIC.match(line) for line in lines):
            return 'fail', problems
        return ('hang' if run.stopped_because == 'the wall-clock timeout' else 'fail'), problems
    kernel = [line for line in lines if not run_bochs.HALTED.match(line)]
    claimed = (run.summary['online'] == run.summary['expected'] and
               run.summary['failed'] == 0)
    if claimed:
        lies = false_success_reasons(kernel, cpus)
        if lies:
            return 'false-success', lies
    return ('fail', problems) if problems else ('pass', [])


def boot_qemu(args, case, platform, timeout):
    cpus, qemu_args, _ = TOPOLOGIES[case.topology]
    options = SimpleNamespace(
        kernel=args.kernel, qemu=args.qemu, accel=platform['accel'], accel_props='',
        append=kernel_options(args, case), timeout=timeout,
        expect_exit=run_qemu.EXIT_SUCCESS, expect_cpus=cpus, expect_mode=case.mode,
        expect_line=[], reject_line=[], expect_panic=None, expect_online=None,
        expect_expected=None, expect_failed=None, grub=platform.get('grub'),
        firmware=platform.get('firmware', 'seabios'),
        qemu_args=['-machine', platform['machine'], '-cpu', case.cpu] + qemu_args)
    with tempfile.TemporaryDirectory(prefix='smpboot-matrix-') as work_dir:
        command = run_qemu.qemu_command(options, work_dir)
        status, serial, _, seconds = run_qemu.run(command, timeout)
    problems = run_qemu.judge(options, status, serial)
    lines = clean_lines(serial)
    verdict, reasons = classify_qemu(status, lines, cpus, problems)
    return verdict, reasons, lines, seconds, ' '.join(command)


def boot_bochs(args, case, timeout):
    cpus, _, _ = TOPOLOGIES[case.topology]
    options = SimpleNamespace(
        kernel=args.kernel, cpus=cpus, append=kernel_options(args, case),
        ips=run_bochs.DEFAULT_IPS, model=case.cpu, megs=128, timeout=timeout, bochs=args.bochs,
        keep=None, expect_cpus=cpus, expect_mode=case.mode, expect_line=[])
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='smpboot-matrix-bochs-') as work_dir:
        run = run_bochs.boot(options, work_dir)
    problems = run_bochs.judge(run, options)
    lines = run_bochs.kernel_lines(run)
    verdict, reasons = classify_bochs(run, lines, cpus, problems)
    command = (f'tests/bochs/run_bochs.py --kernel {args.kernel} --cpus {cpus} '
               f'--model {case.cpu} --append "{options.append}"')
    return verdict, reasons, lines, time.monotonic() - started, command


def boot(args, case, number):
    platform = PLATFORMS[case.platform]
    timeout = args.timeout if args.timeout is not None else platform['timeout']
    try:
        if platform['runner'] == 'bochs':
            verdict, reasons, lines, seconds, command = boot_bochs(args, case, timeout)
        else:
            verdict, reasons, lines, seconds, command = boot_qemu(args, case, platform, timeout)
    except (OSError, RuntimeError, subprocess.SubprocessError,
            run_bochs.HarnessError) as problem:
        # The harness itself broke (no ISO, no temp dir): not a verdict on the kernel.
        verdict, reasons, lines, seconds, command = 'fail', [f'harness: {problem}'], [], 0.0, ''
    if verdict != 'pass' and args.log_dir:
        name = f'{number:05d}-{"-".join(case)}-{verdict}.log'
        with open(os.path.join(args.log_dir, name), 'w', encoding='utf-8') as log:
            log.write(f'$ {command}\n' + '\n'.join(lines) + '\n--- reasons:\n' +
                      '\n'.join(reasons) + '\n')
    bringup = None
    for line in reversed(lines):
        m = SUMMARY.match(line)
        if m:
            bringup = int(m['bringup_us'])
            break
    return case, verdict, reasons, bringup, seconds


def available_platforms(args, wanted):
    """The platforms that can run here; prints why any is skipped."""
    keep = set()
    for name in wanted:
        platform = PLATFORMS[name]
        if platform['runner'] == 'bochs':
            try:
                run_bochs.require_tools(args.bochs)
            except run_bochs.ToolMissing as missing:
                print(f'matrix: skipping {name}: {missing}')
                continue
        elif platform['accel'] == 'kvm':
            probe = subprocess.run([sys.executable, os.path.join(HERE, 'kvm_probe.py')],
                                   stdout=subprocess.PIPE, text=True, check=False)
            if probe.returncode != 0:
                print(f'matrix: skipping {name}: KVM does not run a guest here '
                      f'({probe.stdout.strip()})')
                continue
        elif platform.get('grub'):
            missing = run_qemu.missing_grub_tools(SimpleNamespace(firmware=platform['firmware']))
            if missing:
                print(f'matrix: skipping {name}: missing {", ".join(missing)}')
                continue
        keep.add(name)
    return keep


def print_report(results, started):
    rows = {}
    for case, verdict, _, bringup, _ in results:
        row = rows.setdefault(case, dict.fromkeys(VERDICTS, 0))
        row.setdefault('bringup', [])
        row[verdict] += 1
        if verdict == 'pass' and bringup is not None:
            row['bringup'].append(bringup)
    header = (f'{"platform":17} {"topology":9} {"cpu":15} {"mode":8} {"profile":7} {"boots":>5} '
              f'{"pass":>5} {"fail":>5} {"hang":>5} {"triple":>6} {"false":>5} '
              f'{"median bringup_us":>17}')
    print(header)
    for case in sorted(rows):
        row = rows[case]
        median = int(statistics.median(row['bringup'])) if row['bringup'] else '-'
        boots = sum(row[v] for v in VERDICTS)
        print(f'{case.platform:17} {case.topology:9} {case.cpu:15} {case.mode:8} '
              f'{case.profile:7} {boots:5} {row["pass"]:5} {row["fail"]:5} {row["hang"]:5} '
              f'{row["triple"]:6} {row["false-success"]:5} {median!s:>17}')
    platforms = {}
    for case, verdict, _, _, _ in results:
        platforms.setdefault(case.platform, dict.fromkeys(VERDICTS, 0))[verdict] += 1
    for name in sorted(platforms):
        counts = platforms[name]
        print(f'platform {name}: {sum(counts.values())} boots, ' +
              ', '.join(f'{counts[v]} {v}' for v in VERDICTS))
    totals = dict.fromkeys(VERDICTS, 0)
    for _, verdict, _, _, _ in results:
        totals[verdict] += 1
    print(f'totals: {len(results)} boots, {totals["pass"]} passes, {totals["fail"]} failures, '
          f'{totals["hang"]} hangs (watchdog hits), {totals["triple"]} triple faults, '
          f'{totals["false-success"]} false successes in {time.monotonic() - started:.0f} s')
    shown = 0
    for case, verdict, reasons, _, seconds in results:
        if verdict != 'pass' and shown < 10:
            shown += 1
            print(f'  {"/".join(case)}: {verdict} after {seconds:.1f} s: ' + '; '.join(reasons))
    return totals


def main(argv):
    args = parse_args(argv)
    if not os.path.isfile(args.kernel):
        print(f'FAIL: no kernel image at {args.kernel}')
        return 1
    chosen = list(SMOKE_CASES) if args.subset == 'smoke' else full_cases()
    if args.platforms:
        wanted = args.platforms.split(',')
        chosen = [c for c in chosen if c.platform in wanted]
    runnable = available_platforms(args, sorted({c.platform for c in chosen}))
    chosen = [c for c in chosen if c.platform in runnable]
    if not chosen:
        print('FAIL: no case can run here')
        return 1
    if args.log_dir:
        os.makedirs(args.log_dir, exist_ok=True)
    # Repeat the whole list, so a slow platform's boots are spread over the run.
    todo = [c for _ in range(args.repeats) for c in chosen]
    timeout = f'{args.timeout:g} s' if args.timeout is not None else 'per platform'
    print(f'matrix: {len(todo)} boots ({len(chosen)} cases x {args.repeats}) on '
          f'{", ".join(sorted(runnable))}, {args.jobs} at a time, watchdog {timeout}',
          flush=True)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda item: boot(args, item[1], item[0]), enumerate(todo)))
    totals = print_report(results, started)
    ok = totals['pass'] == len(results)
    print('PASS' if ok else 'FAIL')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
