"""Writing the results: a CSV row per cell, every round in a second CSV, and Markdown."""
import csv
from typing import List

from .matrix import RATIO_BASE
from .stats import BREAKDOWN, STEPS

# kernel: minikernel, or linux for a reference mode. ratio_to_default: this
# cell's median over the median of matrix.RATIO_BASE at the same accelerator
# and CPU count (empty when either is missing).
CELL_COLUMNS = ['accel', 'mode', 'kernel', 'cpus', 'machine', 'rounds', 'failed_rounds',
                'unstamped_rounds', 'boots',
                'first_us', 'median_us', 'min_us', 'max_us', 'iqr_us', 'q1_us', 'q3_us',
                'ratio_to_default'] + \
               [s[0] for s in STEPS] + \
               ['first_kicked_us', 'last_kicked_us', 'last_online_us', 'call_us', 'slowest_step', 'pages_held',
                'pages_after_finish', 'load1'] + \
               [b[0] for b in BREAKDOWN] + ['ipis', 'ap_path_us']

ROUND_COLUMNS = ['accel', 'mode', 'cpus', 'boot', 'round', 'cold', 'ok', 'unstamped', 'online',
                 'total', 'bringup_us']


def number(value):
    if value is None:
        return ''
    if isinstance(value, float):
        return f'{value:.1f}'.rstrip('0').rstrip('.')
    return str(value)


def ratio_text(value):
    return '' if value is None else f'{value:.3g}'


def attach_ratios(results, base_mode):
    """Set each result's ratio_to_default: its median over base_mode's median
    at the same accelerator and CPU count, when both have one (a 1-CPU cell's
    median is 0: no ratio)."""
    base = {(r.cell.accel, r.cell.cpus): r.stats.median_us for r in results
            if r.cell.mode.name == base_mode}
    for r in results:
        denominator = base.get((r.cell.accel, r.cell.cpus))
        r.ratio_to_default = (r.stats.median_us / denominator
                              if denominator and r.stats.median_us is not None else None)


def cell_row(result) -> dict:
    stats = result.stats
    row = {'accel': result.cell.accel, 'mode': result.cell.mode.name,
           'kernel': result.cell.mode.kernel, 'cpus': result.cell.cpus,
           'machine': result.cell.machine, 'load1': result.load1}
    for key in ('rounds', 'failed_rounds', 'unstamped_rounds', 'boots', 'first_us', 'median_us', 'min_us', 'max_us',
                'iqr_us', 'q1_us', 'q3_us', 'call_us', 'first_kicked_us', 'last_kicked_us', 'last_online_us', 'slowest_step',
                'pages_held', 'pages_after_finish', 'ipis', 'ap_path_us'):
        row[key] = getattr(stats, key)
    row.update(stats.steps)
    row.update(stats.breakdown)
    row = {k: number(v) if not isinstance(v, str) else v for k, v in row.items()}
    row['ratio_to_default'] = ratio_text(getattr(result, 'ratio_to_default', None))
    return row


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
                    # cold: left out of the statistics as a cold round
                    cold = round_index <= getattr(result, 'cold_rounds', 1)
                    writer.writerow({'accel': result.cell.accel, 'mode': result.cell.mode.name,
                                     'cpus': result.cell.cpus, 'boot': boot_index,
                                     'round': round_index, 'cold': int(cold),
                                     'ok': int(r.ok), 'unstamped': int(r.unstamped),
                                     'online': r.online, 'total': r.total,
                                     'bringup_us': r.bringup_us})


def ms(us):
    return '' if us is None else f'{us / 1000:.2f}'


def us(value):
    return '' if value is None else f'{value:.0f}'


STEP_HEADS = {'kick_to_tramp_us': 'kick→tramp', 'tramp_to_long_us': 'tramp→long',
              'long_to_c_us': 'long→C', 'c_to_online_us': 'C→online',
              'online_to_ready_us': 'online→ready'}


def markdown_table(results) -> List[str]:
    lines = ['| accel | CPUs | mode | rounds | first (ms) | median (ms) | min (ms) | max (ms) '
             '| IQR (ms) | ÷ default | ' + ' | '.join(f'{h} (µs)' for h in STEP_HEADS.values()) +
             ' | first kick (ms) | last kick (ms) | slowest step |',
             '|' + ' --- |' * (10 + len(STEP_HEADS) + 3)]
    for r in results:
        s = r.stats
        notes = ([f'{s.failed_rounds} failed'] if s.failed_rounds else []) + \
                ([f'{s.unstamped_rounds} unstamped'] if s.unstamped_rounds else [])
        rounds = f'{s.rounds}' + (f' ({", ".join(notes)})' if notes else '')
        steps = ' | '.join(us(s.steps.get(c)) for c in STEP_HEADS)
        lines.append(f'| {r.cell.accel} | {r.cell.cpus} | {r.cell.mode.name} | {rounds} | '
                     f'{ms(s.first_us)} | {ms(s.median_us)} | {ms(s.min_us)} | {ms(s.max_us)} | '
                     f'{ms(s.iqr_us)} | {ratio_text(getattr(r, "ratio_to_default", None))} | '
                     f'{steps} | {ms(s.first_kicked_us)} | '
                     f'{ms(s.last_kicked_us)} | '
                     f'{STEP_HEADS.get(s.slowest_step, "")} |')
    return lines


def breakdown_table(results) -> List[str]:
    rows = [r for r in results if r.stats and r.stats.breakdown]
    if not rows:
        return []
    out = ['| accel | CPUs | mode | call | set-up | set-up per AP | stacks | trampoline | '
           'IPIs (count) | policy waits | AP waits | AP path | ready waits | other |',
           '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for r in rows:
        b = r.stats.breakdown
        aps = max(1, r.cell.cpus - 1)
        per_ap = b['bd_setup_us'] / aps if b.get('bd_setup_us') is not None else None
        out.append(f'| {r.cell.accel} | {r.cell.cpus} | {r.cell.mode.name} | '
                   f'{us(b.get("bd_total_us"))} | {us(b.get("bd_setup_us"))} | {us(per_ap)} | '
                   f'{us(b.get("bd_stacks_us"))} | {us(b.get("bd_trampoline_us"))} | '
                   f'{us(b.get("bd_ipi_us"))} ({number(r.stats.ipis)}) | '
                   f'{us(b.get("bd_mandatory_wait_us"))} | {us(b.get("bd_ap_wait_us"))} | '
                   f'{us(r.stats.ap_path_us)} | {us(b.get("bd_ready_wait_us"))} | '
                   f'{us(b.get("bd_other_us"))} |')
    return out


def ratio_tables(results, base_mode) -> List[str]:
    """Per accelerator: CPU counts down, modes across, "median ms (×ratio)"."""
    if not any(r.cell.mode.name == base_mode for r in results):
        return []
    out = []
    for accel in [a for a in ('tcg', 'kvm', 'bochs') if any(r.cell.accel == a for r in results)]:
        mine = [r for r in results if r.cell.accel == accel]
        modes = []
        for r in mine:
            if r.cell.mode.name not in modes:
                modes.append(r.cell.mode.name)
        by_cell = {(r.cell.cpus, r.cell.mode.name): r for r in mine}
        out += [f'{accel.upper()}, median ms (× the median of {base_mode}):', '',
                '| CPUs | ' + ' | '.join(modes) + ' |', '|' + ' --- |' * (len(modes) + 1)]
        for cpus in sorted({r.cell.cpus for r in mine}):
            cells = []
            for mode in modes:
                r = by_cell.get((cpus, mode))
                if r is None or r.stats.median_us is None:
                    cells.append('')
                    continue
                ratio = getattr(r, 'ratio_to_default', None)
                cells.append(ms(r.stats.median_us) +
                             ('' if ratio is None else f' (×{ratio_text(ratio)})'))
            out.append(f'| {cpus} | ' + ' | '.join(cells) + ' |')
        out.append('')
    return out[:-1] if out else out


def write_markdown(path, env, command, results, figures, borrowed, problems, plot_name,
                   linux_notes=()):
    loads = [r.load1 for r in results if r.load1 is not None]
    out = ['# libsmpboot bring-up benchmark', '',
           f'- command: `{command}`',
           f'- date: {env.date}',
           f'- host: {env.host_cpu}, {env.host_cores} cores, Linux {env.kernel_release}, '
           f'load average before the run {env.load_before}' +
           (f', 1-minute load after each cell {min(loads):.1f} to {max(loads):.1f}'
            if loads else ''),
           f'- libsmpboot: {env.git_revision}, buildtype {env.build_type}',
           ]
    accels = {r.cell.accel for r in results}
    if accels - {'bochs'}:
        out += [f'- QEMU: {env.qemu_version}; KVM: {env.kvm}',
                '- guest under QEMU: the minikernel, `-machine pc`, `-m 512M`, default CPU model']
    if 'bochs' in accels:
        out += ['- guest under Bochs: the minikernel from a GRUB rescue ISO, '
                '`tests/bochs/run_bochs.py` defaults (model `corei7_haswell_4770`, '
                '`ips=5000000`, 128 MiB, `clock: sync=none`)']
    out += [f'- reference: {note}' for note in linux_notes]
    out += ['']
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
    if linux_notes:
        out += ['For the `linux-*` modes each boot is one sample and all count: `bringup_us` '
                'is the time between the printk stamps of Linux\'s "smp: Bringing up '
                'secondary CPUs" and "smp: Brought up" lines, which spans its whole CPU '
                'hotplug bring-up (per-CPU set-up, INIT-SIPI-SIPI, each AP\'s own '
                'initialisation up to online), more work than the library\'s figure.', '']
    out += markdown_table(results)
    parts = breakdown_table(results)
    if parts:
        out += ['', '## Where smpboot_start()\'s time goes', '',
                'From `smpboot_start_stats()` (the minikernel\'s `smpboot: stats` line), '
                'medians over the warm rounds, µs. "set-up": the call to the first INIT '
                '(of it: the stacks, and the slot table with the trampoline page and its '
                'mapping); "IPIs": inside the INIT and SIPI sends; "policy waits": the INIT '
                'delay, the SIPI spacing, the SDM retry; "AP waits": the BSP waiting for the '
                'APs to answer and go online, which holds the AP path (each AP\'s own steps '
                'from its slot won to online, median from the timeline) and the rest: the '
                'SIPI\'s delivery, real mode, and the host scheduling vCPUs; "other": the '
                'call less its parts (polls, verdicts, log lines).', ''] + parts
    ratios = ratio_tables(results, RATIO_BASE)
    if ratios:
        out += ['', '## Ratios to the library\'s default profile', ''] + ratios
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
