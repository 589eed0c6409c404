#!/usr/bin/env python3
"""Check that run_qemu.py tells good runs from bad ones.

Each case boots a tiny hand-made kernel (tiny_images.py) through the runner
and checks the runner's verdict, and for a failure its stated reason: it
must fail a hang, a triple fault, an exit without a summary, a summary that
reports a failure, an expected count or mode that is not met, and pass a run
that ends with a good summary.
Prints one line per case and "N passed, M failed"; exit 0 when all agree.
"""
import os
import subprocess
import sys
import tempfile

import tiny_images

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, 'run_qemu.py')
GOOD = 'smpboot: summary online=2 expected=2 failed=0 mode=parallel bringup_us=7'
CPU_LINES = 'smpboot: cpu 0 apic 0 online (bsp)\nsmpboot: cpu 1 apic 1 online\n'

# (name, image bytes, runner options, None if the runner must pass, else a
# phrase its failure report must contain)
CASES = [
    ('good summary passes', tiny_images.prints_then_exits(CPU_LINES + GOOD + '\n', 0x10),
     ['--expect-cpus', '2', '--expect-mode', 'parallel'], None),
    ('hang fails', tiny_images.hangs(), ['--timeout', '3'], 'hang:'),
    ('triple fault fails', tiny_images.triple_faults(), [], 'triple fault'),
    ('exit without summary fails', tiny_images.exits(0x10), [], 'not the summary'),
    ('failure exit code fails', tiny_images.prints_then_exits(CPU_LINES + GOOD + '\n', 0x11),
     [], 'exit status 35'),
    ('summary with failures fails',
     tiny_images.prints_then_exits(
         'smpboot: summary online=1 expected=2 failed=1 mode=parallel bringup_us=7\n', 0x10),
     [], 'summary reports a failure'),
    ('wrong cpu count fails', tiny_images.prints_then_exits(CPU_LINES + GOOD + '\n', 0x10),
     ['--expect-cpus', '4'], '4 CPUs expected by the test'),
    ('wrong mode fails', tiny_images.prints_then_exits(CPU_LINES + GOOD + '\n', 0x10),
     ['--expect-mode', 'serial'], 'expected serial'),
    ('missing cpu line fails', tiny_images.prints_then_exits(GOOD + '\n', 0x10), [],
     '0 "cpu ... online" lines'),
    ('output after the summary fails',
     tiny_images.prints_then_exits(CPU_LINES + GOOD + '\nmore\n', 0x10), [], 'not the summary'),
    ('panic line fails',
     tiny_images.prints_then_exits('minikernel: panic: boom\n' + CPU_LINES + GOOD + '\n', 0x10),
     [], 'rejected line'),
    ('missing expected line fails', tiny_images.prints_then_exits(CPU_LINES + GOOD + '\n', 0x10),
     ['--expect-line', 'moved above 4 GiB'], 'no line matches'),
    ('expected failure passes',
     tiny_images.prints_then_exits(
         'smpboot: summary online=1 expected=2 failed=1 mode=serial bringup_us=0\n', 0x11),
     ['--expect-exit', '35'], None),
    ('expected panic passes',
     tiny_images.prints_then_exits(CPU_LINES + 'minikernel: panic: #DF double fault on apic 1\n',
                                   0x11), ['--expect-panic', '#DF double fault'], None),
    ('a different panic fails',
     tiny_images.prints_then_exits('minikernel: panic: #GP general protection\n', 0x11),
     ['--expect-panic', '#DF double fault'], 'not a panic matching'),
    ('no panic when one is expected fails',
     tiny_images.prints_then_exits(CPU_LINES + GOOD + '\n', 0x10),
     ['--expect-panic', '#DF'], 'exit status 33, expected 35'),
    ('expected failure that succeeds fails',
     tiny_images.prints_then_exits(CPU_LINES + GOOD + '\n', 0x11), ['--expect-exit', '35'],
     'a failure was expected'),
]


def main():
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, image, options, failure_phrase) in enumerate(CASES):
            path = os.path.join(tmp, f'case{index}.bin')
            with open(path, 'wb') as f:
                f.write(image)
            proc = subprocess.run([sys.executable, RUNNER, '--kernel', path, '--timeout', '20']
                                  + options, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  check=False)
            report = proc.stdout.decode(errors='replace')
            if failure_phrase is None:
                agrees = proc.returncode == 0
            else:
                agrees = proc.returncode == 1 and failure_phrase in report
            if agrees:
                passed += 1
                print(f'ok: {name}')
            else:
                failed += 1
                print(f'NOT OK: {name}: runner exit {proc.returncode}, wanted '
                      f'{"a pass" if failure_phrase is None else repr(failure_phrase)}')
                print(report)
    print(f'{passed} passed, {failed} failed')
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
