"""The PNG: median bring-up time against CPU count, one line per mode, one
panel per accelerator, log-scale y, the bars spanning the interquartile range.
When the ratio base (matrix.RATIO_BASE) ran, a second row of panels shows
each mode's median divided by the base's at the same CPU count. The
references (Linux's modes, the naive-serial code without libsmpboot) are
drawn dashed."""
import matplotlib

matplotlib.use('Agg')  # no display: write files only
import matplotlib.pyplot as plt  # noqa: E402

from .matrix import RATIO_BASE  # noqa: E402

MARKERS = {'serial-spec': 'o', 'parallel-spec': 's', 'parallel-fast': '^',
           'parallel-default': 'D', 'naive-serial': 'X', 'serial-default': 'd',
           'serial-fast': '<', 'linux-serial': 'v', 'linux-parallel': 'P'}
# Fixed per mode, so that a mode has one colour in every panel.
COLOURS = {'serial-spec': 'tab:blue', 'parallel-spec': 'tab:orange',
           'parallel-fast': 'tab:green', 'parallel-default': 'tab:red',
           'naive-serial': 'tab:grey', 'serial-default': 'tab:pink',
           'serial-fast': 'tab:olive',
           'linux-serial': 'tab:purple', 'linux-parallel': 'tab:brown'}
# Modes that are not the library: drawn dashed.
REFERENCES = ('naive-serial',)


def modes_of(results, accel):
    modes = []
    for r in results:
        if r.cell.accel == accel and r.cell.mode.name not in modes:
            modes.append(r.cell.mode.name)
    return modes


def line_style(results, mode):
    linux = any(r.cell.mode.name == mode and r.cell.mode.kernel == 'linux' for r in results)
    return '--' if linux or mode in REFERENCES else '-'


def cpu_axis(axis, counts):
    axis.set_xscale('log', base=2)
    axis.set_xticks(counts)
    axis.set_xticklabels([str(c) for c in counts])
    axis.set_xlabel('CPUs (BSP included)')
    axis.grid(True, which='both', alpha=0.3)


def plot(path, results, title, panel_titles=None):
    accels = sorted({r.cell.accel for r in results}, key=['tcg', 'kvm', 'bochs'].index)
    with_ratios = any(getattr(r, 'ratio_to_default', None) for r in results)
    rows = 2 if with_ratios else 1
    figure, axes = plt.subplots(rows, len(accels), figsize=(6.4 * len(accels), 4.8 * rows),
                                squeeze=False)
    for column, accel in enumerate(accels):
        axis = axes[0][column]
        counts = sorted({r.cell.cpus for r in results
                         if r.cell.accel == accel and r.stats.median_us})
        for mode in modes_of(results, accel):
            # 1 CPU has no AP: 0 us, which a log scale cannot show.
            points = [r for r in results if r.cell.accel == accel and r.cell.mode.name == mode
                      and r.stats.median_us]
            if not points:
                continue
            x = [r.cell.cpus for r in points]
            y = [r.stats.median_us / 1000 for r in points]
            low = [(r.stats.median_us - r.stats.q1_us) / 1000 for r in points]
            high = [(r.stats.q3_us - r.stats.median_us) / 1000 for r in points]
            axis.errorbar(x, y, yerr=[low, high], marker=MARKERS.get(mode, 'x'), capsize=3,
                          color=COLOURS.get(mode), linestyle=line_style(results, mode),
                          label=mode)
        axis.set_yscale('log')
        cpu_axis(axis, counts)
        axis.set_ylabel('bring-up time, median (ms)')
        axis.set_title((panel_titles or {}).get(accel, accel.upper()))
        axis.legend()
        if not with_ratios:
            continue
        axis = axes[1][column]
        for mode in modes_of(results, accel):
            points = [r for r in results if r.cell.accel == accel and r.cell.mode.name == mode
                      and getattr(r, 'ratio_to_default', None)]
            if not points or mode == RATIO_BASE:
                continue
            axis.plot([r.cell.cpus for r in points], [r.ratio_to_default for r in points],
                      marker=MARKERS.get(mode, 'x'), color=COLOURS.get(mode),
                      linestyle=line_style(results, mode), label=mode)
        axis.axhline(1.0, color='grey', linewidth=1)  # the base itself
        axis.set_yscale('log')
        cpu_axis(axis, counts)
        axis.set_ylabel(f'median ÷ median of {RATIO_BASE}')
        axis.set_title(f'{(panel_titles or {}).get(accel, accel.upper())}: '
                       f'ratio to {RATIO_BASE}')
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
