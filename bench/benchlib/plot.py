"""The PNG: median bring-up time against CPU count, one line per mode, one
panel per accelerator, log-scale y, the bars spanning the interquartile range."""
import matplotlib

matplotlib.use('Agg')  # no display: write files only
import matplotlib.pyplot as plt  # noqa: E402

MARKERS = {'serial-spec': 'o', 'parallel-spec': 's', 'parallel-fast': '^'}


def plot(path, results, title, panel_titles=None):
    accels = sorted({r.cell.accel for r in results}, key=['tcg', 'kvm'].index)
    figure, axes = plt.subplots(1, len(accels), figsize=(6.4 * len(accels), 4.8), squeeze=False)
    for axis, accel in zip(axes[0], accels):
        modes = []
        for r in results:
            if r.cell.accel == accel and r.cell.mode.name not in modes:
                modes.append(r.cell.mode.name)
        for mode in modes:
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
                          label=mode)
        axis.set_xscale('log', base=2)
        axis.set_yscale('log')
        counts = sorted({r.cell.cpus for r in results
                         if r.cell.accel == accel and r.stats.median_us})
        axis.set_xticks(counts)
        axis.set_xticklabels([str(c) for c in counts])
        axis.set_xlabel('CPUs (BSP included)')
        axis.set_ylabel('bring-up time, median (ms)')
        axis.set_title((panel_titles or {}).get(accel, accel.upper()))
        axis.grid(True, which='both', alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
