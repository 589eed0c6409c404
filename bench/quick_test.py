#!/usr/bin/env python3
"""The bench smoke test: run `bench/run --quick` into a temporary folder and
check that its outputs exist and parse. No timing is asserted.

    quick_test.py --build BUILDDIR

Exit status 0 on success. Prints "1 passed, 0 failed" or the reasons.
"""
import argparse
import csv
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)

from benchlib import matrix, report  # noqa: E402

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def check_csv(path):
    problems = []
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != report.CELL_COLUMNS:
            return [f'{path}: columns {reader.fieldnames}, expected {report.CELL_COLUMNS}']
        rows = list(reader)
    wanted = {(c, m) for c in matrix.QUICK_CPUS for m in matrix.QUICK_MODES}
    got = {(int(r['cpus']), r['mode']) for r in rows}
    if got != wanted:
        problems.append(f'{path}: cells {sorted(got)}, expected {sorted(wanted)}')
    for row in rows:
        if row['accel'] != 'tcg':
            problems.append(f'{path}: accel {row["accel"]!r} in a quick run')
        for column in ('rounds', 'median_us', 'min_us', 'max_us', 'iqr_us'):
            try:
                value = float(row[column])
            except ValueError:
                problems.append(f'{path}: {row["mode"]} {row["cpus"]} CPUs: {column} = '
                                f'{row[column]!r} is not a number')
                continue
            if value < 0:
                problems.append(f'{path}: {column} = {value} is negative')
        if row['min_us'] and row['max_us'] and float(row['min_us']) > float(row['max_us']):
            problems.append(f'{path}: min_us > max_us in {row}')
        if int(row['cpus']) > 1 and not row['kick_to_tramp_us']:
            problems.append(f'{path}: {row["mode"]} {row["cpus"]} CPUs: no timeline steps')
    return problems


BREAKDOWN_HEADING = "## Where smpboot_start()'s time goes"


def check_markdown(path):
    with open(path) as f:
        text = f.read()
    problems = []
    head = report.markdown_table([])[0]
    if head not in text:
        problems.append(f'{path}: the results table header is missing')
    main_part, _, breakdown = text.partition(BREAKDOWN_HEADING)
    rows = [line for line in main_part.splitlines() if line.startswith('| tcg |')]
    if len(rows) != len(matrix.QUICK_CPUS) * len(matrix.QUICK_MODES):
        problems.append(f'{path}: {len(rows)} table rows')
    # The minikernel's stats line, parsed: one breakdown row per cell.
    parts = [line for line in breakdown.split('\n## ')[0].splitlines()
             if line.startswith('| tcg |')]
    if len(parts) != len(rows):
        problems.append(f'{path}: {len(parts)} rows under "{BREAKDOWN_HEADING}", '
                        f'{len(rows)} expected')
    for needed in ('trampoline blob:', 'size -t', 'bringup.png'):
        if needed not in text:
            problems.append(f'{path}: no {needed!r}')
    return problems


def check_png(path):
    with open(path, 'rb') as f:
        data = f.read(33)
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b'IHDR':
        return [f'{path}: not a PNG']
    width, height = struct.unpack('>II', data[16:24])
    if width < 100 or height < 100:
        return [f'{path}: {width}x{height} pixels']
    return []


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--build', required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='bench-quick-') as out:
        command = [os.path.join(HERE, 'run'), '--quick', '--no-build', '--build', args.build,
                   '--out', out]
        print('$ ' + ' '.join(command), flush=True)
        # A watchdog for the whole run; each boot has its own inside.
        proc = subprocess.run(command, timeout=300, check=False)
        problems = [] if proc.returncode == 0 else [f'bench/run exited {proc.returncode}']
        for name, check in (('results.csv', check_csv), ('results.md', check_markdown),
                            ('bringup.png', check_png)):
            path = os.path.join(out, name)
            if not os.path.isfile(path):
                problems.append(f'{name} was not written')
                continue
            problems += check(path)
        if not os.path.isfile(os.path.join(out, 'rounds.csv')):
            problems.append('rounds.csv was not written')
    for problem in problems:
        print(f'FAIL: {problem}')
    print('0 passed, 1 failed' if problems else '1 passed, 0 failed')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
