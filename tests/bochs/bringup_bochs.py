#!/usr/bin/env python3
"""Boot the minikernel under Bochs N times and print each run's bringup_us.

    bringup_bochs.py --kernel IMAGE --runs N [--cpus C] [--append OPTIONS] [--ips I]

Under `clock: sync=none` Bochs's emulated time is a function of the
instructions executed, so the same image, options, CPU count, CPU model and
ips give the same bringup_us every time. This script shows that: it prints
one line per run and a verdict, and exits 1 when a run fails (judged as
run_bochs.py judges it) or the values differ.

Each line: run R bringup_us=T start_call_us=S wall_s=W (S is the kernel's
"smpboot_start call took" figure, W the host seconds the run took, which
is not deterministic and is printed only to size timeouts).
"""
import argparse
import os
import re
import sys

import run_bochs

START_CALL = re.compile(r'^minikernel: smpboot_start call took (\d+) us$')


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    run_bochs.add_run_arguments(parser)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--expect-mode', choices=['serial', 'parallel'])
    args = parser.parse_args(argv)
    args.expect_cpus = None
    args.expect_line = []
    if args.runs < 1:
        parser.error('--runs must be at least 1')
    return args


def start_call_us(run):
    for line in run.serial_lines:
        match = START_CALL.match(line)
        if match:
            return int(match.group(1))
    return None


def main(argv):
    args = parse_args(argv)
    if not os.path.isfile(args.kernel):
        print(f'FAIL: no kernel image at {args.kernel}')
        return run_bochs.EXIT_FAIL
    print(f'bochs: {args.cpus} CPUs, model {args.model}, ips {args.ips}, '
          f'options "{args.append}"')
    keep = args.keep
    values = []
    for number in range(1, args.runs + 1):
        if keep:
            args.keep = os.path.join(keep, f'run{number}')
        try:
            run_bochs.require_tools(args.bochs)
            run = run_bochs.run_in_workdir(args, lambda workdir: run_bochs.boot(args, workdir))
        except run_bochs.ToolMissing as missing:
            print(f'FAIL: {missing}')
            return run_bochs.EXIT_FAIL
        except (run_bochs.HarnessError, OSError) as problem:
            print(f'HARNESS PROBLEM (not a test result): {problem}')
            return run_bochs.EXIT_HARNESS
        reasons = run_bochs.judge(run, args)
        if reasons:
            print('\n'.join(run.serial_lines))
            print(f'FAIL: run {number}:\n  ' + '\n  '.join(reasons))
            return run_bochs.EXIT_FAIL
        bringup = run.summary['bringup_us']
        values.append((bringup, start_call_us(run)))
        print(f'run {number} bringup_us={bringup} start_call_us={start_call_us(run)} '
              f'wall_s={run.wall_seconds:.1f}', flush=True)
    if len(set(values)) == 1:
        print(f'deterministic: {args.runs} runs, bringup_us={values[0][0]} every time')
        return run_bochs.EXIT_PASS
    print(f'NOT deterministic: {len(set(values))} different results in {args.runs} runs')
    return run_bochs.EXIT_FAIL


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
