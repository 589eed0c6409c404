"""Writing the results: a CSV row per cell, every round in a second CSV, and Markdown."""
import csv
from dataclasses import asdict
from typing import List

from .stats import STEPS

CELL_COLUMNS = ['accel', 'mode', 'cpus', 'machine', 'rounds', 'failed_rounds',
                'unstamped_rounds', 'boots',
                'first_us', 'median_us', 'min_us', 'max_us', 'iqr_us', 'q1_us', 'q3_us'] + \
               [s[0] for s in STEPS] + \
               ['first_kicked_us', 'last_kicked_us', 'last_online_us', 'call_us', 'slowest_step', 'pages_held',
                'pages_after_finish', 'load1']

ROUND_COLUMNS = ['accel', 'mode', 'cpus', 'boot', 'round', 'cold', 'ok', 'unstamped', 'online',
                 'total', 'bringup_us']


def number(value):
    if value is None:
        return ''
    if isinstance(value, float):
        return f'{value:.1f}'.rstrip('0').rstrip('.')
    return str(value)


def cell_row(result) -> dict:
    stats = result.stats
    row = {'accel': result.cell.accel, 'mode': result.cell.mode.name, 'cpus': result.cell.cpus,
           'machine': result.cell.machine, 'load1': result.load1}
    for key in ('rounds', 'failed_rounds', 'unstamped_rounds', 'boots', 'first_us', 'median_us', 'min_us', 'max_us',
                'iqr_us', 'q1_us', 'q3_us', 'call_us', 'first_kicked_us', 'last_kicked_us', 'last_online_us', 'slowest_step',
                'pages_held', 'pages_after_finish'):
        row[key] = getattr(stats, key)
    row.update(stats.steps)
    return {k: number(v) if not isinstance(v, str) else v for k, v in row.items()}


def write_cells_csv(path, results):
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=CELL_COLUMNS)
        writer.writeheader()
        for result in results:
            writer.writerow(cell_row(result))


def write_rounds_csv(path, results):
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=ROUND_COLUMNS)
        writer.writeheader()
        for result in results:
            for boot_index, rounds in enumerate(result.boots_rounds, 1):
                for round_index, r in enumerate(rounds, 1):
                    writer.writerow({'accel': result.cell.accel, 'mode': result.cell.mode.name,
                                     'cpus': result.cell.cpus, 'boot': boot_index,
                                     'round': round_index, 'cold': int(round_index == 1),
                                     'ok': int(r.ok), 'unstamped': int(r.unstamped),
                                     'online': r.online, 'total': r.total,
                                     'bringup_us': r.bringup_us})


def ms(us):
    return '' if us is None else f'{us / 1000:.2f}'


def us(value):
    return '' if value is None else f'{value:.0f}'


STEP_HEADS = {'kick_to_tramp_us': 'kick→tramp', 'tramp_to_long_us': 'tramp→long',
              'long_to_c_us': 'long→C', 'c_to_online_us': 'C→online'}


def markdown_table(results) -> List[str]:
    lines = ['| accel | CPUs | mode | rounds | first (ms) | median (ms) | min (ms) | max (ms) '
             '| IQR (ms) | ' + ' | '.join(f'{h} (µs)' for h in STEP_HEADS.values()) +
             ' | first kick (ms) | last kick (ms) | slowest step |',
             '|' + ' --- |' * (9 + len(STEP_HEADS) + 3)]
    for r in results:
        s = r.stats
        notes = ([f'{s.failed_rounds} failed'] if s.failed_rounds else []) + \
                ([f'{s.unstamped_rounds} unstamped'] if s.unstamped_rounds else [])
        rounds = f'{s.rounds}' + (f' ({", ".join(notes)})' if notes else '')
        steps = ' | '.join(us(s.steps.get(c)) for c in STEP_HEADS)
        lines.append(f'| {r.cell.accel} | {r.cell.cpus} | {r.cell.mode.name} | {rounds} | '
                     f'{ms(s.first_us)} | {ms(s.median_us)} | {ms(s.min_us)} | {ms(s.max_us)} | '
                     f'{ms(s.iqr_us)} | {steps} | {ms(s.first_kicked_us)} | '
                     f'{ms(s.last_kicked_us)} | '
                     f'{STEP_HEADS.get(s.slowest_step, "")} |')
    return lines


def write_markdown(path, env, command, results, figures, borrowed, problems, plot_name):
    loads = [r.load1 for r in results if r.load1 is not None]
    out = ['# libsmpboot bring-up benchmark', '',
           f'- command: `{command}`',
           f'- date: {env.date}',
           f'- host: {env.host_cpu}, {env.host_cores} cores, Linux {env.kernel_release}, '
           f'load average before the run {env.load_before}' +
           (f', 1-minute load after each cell {min(loads):.1f} to {max(loads):.1f}'
            if loads else ''),
           f'- QEMU: {env.qemu_version}; KVM: {env.kvm}',
           f'- libsmpboot: {env.git_revision}, buildtype {env.build_type}',
           '- guest: the minikernel, `-machine pc`, `-m 512M`, default CPU model',
           '']
    out += ['## Bring-up time', '',
            '`bringup_us`: from the `smpboot_start()` call until the last AP went online. '
            'Statistics over the warm rounds (every round but the first of each boot); '
            '"first" is the first boot\'s first round. Step columns: medians over every AP '
            'of every warm round. "first kick": from the start call to the first INIT (the '
            'library\'s set-up: stacks, slot table, trampoline page and its mapping). '
            '"last kick": when the last AP got its INIT. '
            '"unstamped": rounds in which every AP went online but one had not yet written '
            'its online stamp when `smpboot_start()` returned, so `bringup_us` reads low; '
            'they are left out.', '']
    out += markdown_table(results)
    if plot_name:
        out += ['', f'![bring-up time against CPU count]({plot_name})']
    out += ['', '## Static figures', '']
    if figures.blob_bytes_header is not None:
        out.append(f'- trampoline blob: {figures.blob_bytes_header} bytes '
                   f'(`SMPBOOT_TRAMP_ASM_BLOB_SIZE`)' +
                   (f', `nm -S` agrees: {figures.blob_bytes_symbol}'
                    if figures.blob_bytes_symbol == figures.blob_bytes_header else
                    f', `nm -S` says {figures.blob_bytes_symbol}'))
    if figures.size_totals:
        t = figures.size_totals
        out.append(f'- libsmpboot.a, `size -t` totals: text {t["text"]}, data {t["data"]}, '
                   f'bss {t["bss"]} bytes (Berkeley "text" includes read-only data)')
    if figures.section_bytes:
        b = figures.section_bytes
        out.append('- by section (`size -A`): ' +
                   ', '.join(f'{k} {b.get(k, 0)}' for k in ('text', 'rodata', 'data', 'bss')) +
                   ' bytes')
    if borrowed.per_ap_pages is not None:
        out.append(f'- borrowed during bring-up: {borrowed.fixed_pages:g} pages fixed + '
                   f'{borrowed.per_ap_pages:g} pages per AP (4 KiB pages; measured by the '
                   'minikernel\'s frame accounting)')
        out.append('- pages held (during bring-up / after `smpboot_finish`) by CPU count: ' +
                   ', '.join(f'{c}: {h}/{a}' for c, h, a in borrowed.samples))
    for note in figures.notes:
        out.append(f'- note: {note}')
    if problems:
        out += ['', '## Problems seen', '']
        out += [f'- {p}' for p in problems]
    with open(path, 'w') as f:
        f.write('\n'.join(out) + '\n')
