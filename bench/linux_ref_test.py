#!/usr/bin/env python3
"""Host-only checks of the benchmark's parsing and reporting, no QEMU: the
Linux reference's console reading, image lookup and errors, the ratio to
the library's default profile, and the minikernel's timeline line with and
without its `ready` stamp.

    linux_ref_test.py

Prints "N passed, M failed"; exit status 1 when any check failed.
"""
import csv
import os
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)

from benchlib import boot as boot_mod  # noqa: E402
from benchlib import linux_ref, matrix, report  # noqa: E402
from benchlib.serial_log import SerialLog  # noqa: E402
from benchlib.stats import cell_stats  # noqa: E402

# The shape of a Linux 6.12 console around its bring-up (4 CPUs, serial).
LINUX_CONSOLE = '''\
[    0.000000] Linux version 6.12.0 (test) #1 SMP
[    0.001584] Calibrating delay loop (skipped) preset value.. 4599.89 BogoMIPS (lpj=9199792)
[    0.741884] smp: Bringing up secondary CPUs ...
[    0.758271] smpboot: x86: Booting SMP configuration:
[    0.758546] .... node  #0, CPUs:      #1 #2 #3
[    1.503075] smp: Brought up 1 node, 4 CPUs
[    1.503584] smpboot: Total of 4 processors activated (9582.67 BogoMIPS)
'''


def feed(log, text):
    for line in text.splitlines():
        log.feed(line + '\r')  # QEMU's serial console ends lines with CR LF
    return log


def test_linux_bringup_is_the_span_between_the_two_lines():
    log = feed(linux_ref.LinuxLog(), LINUX_CONSOLE)
    assert log.finished
    assert log.lpj == 9199792
    rnd = log.bringup_round(4, parallel_asked=False)
    assert rnd.ok, rnd.status
    assert rnd.bringup_us == 1_503_075 - 741_884, rnd.bringup_us
    assert log.problems == []


def test_linux_log_not_finished_before_the_end_line():
    log = feed(linux_ref.LinuxLog(), LINUX_CONSOLE.split('[    1.503075]')[0])
    assert not log.finished
    rnd = log.bringup_round(4, parallel_asked=False)
    assert not rnd.ok and rnd.status == 'bring-up not reported'


def test_linux_fewer_cpus_than_asked_is_a_failed_round():
    text = LINUX_CONSOLE.replace('1 node, 4 CPUs', '1 node, 3 CPUs')
    rnd = feed(linux_ref.LinuxLog(), text).bringup_round(4, parallel_asked=False)
    assert not rnd.ok
    assert rnd.status == '3 of 4 CPUs up', rnd.status


def test_linux_parallel_refused_by_the_platform_is_a_failed_round():
    text = LINUX_CONSOLE.replace(
        '[    0.758271]',
        '[    0.750000] smpboot: Parallel CPU startup disabled by the platform\n[    0.758271]')
    log = feed(linux_ref.LinuxLog(), text)
    assert not log.bringup_round(4, parallel_asked=True).ok
    assert log.bringup_round(4, parallel_asked=False).ok  # serial asked: nothing lost


def test_linux_one_cpu_says_cpu_not_cpus():
    text = ('[    0.500000] smp: Bringing up secondary CPUs ...\n'
            '[    0.500010] smp: Brought up 1 node, 1 CPU\n')
    rnd = feed(linux_ref.LinuxLog(), text).bringup_round(1, parallel_asked=False)
    assert rnd.ok and rnd.bringup_us == 10, rnd


def test_linux_panic_is_reported():
    log = feed(linux_ref.LinuxLog(), LINUX_CONSOLE + '[    2.0] Kernel panic - not syncing: x\n')
    assert len(log.problems) == 1


def test_missing_image_is_a_clear_error():
    with tempfile.TemporaryDirectory() as empty:
        for where in (empty, os.path.join(empty, 'nothing-here')):
            try:
                linux_ref.find_image(where)
            except SystemExit as stop:
                assert 'fetch_kernel.py' in str(stop) and where in str(stop), str(stop)
            else:
                raise AssertionError(f'find_image({where!r}) found something')


def test_newest_image_is_taken_and_old_ones_refused():
    with tempfile.TemporaryDirectory() as cache:
        for release in ('6.1.0-57-amd64', '6.12.117+deb12-amd64', '6.9.1-amd64'):
            boot = os.path.join(cache, f'linux-image-{release}', 'boot')
            os.makedirs(boot)
            open(os.path.join(boot, f'vmlinuz-{release}'), 'wb').close()
        image = linux_ref.find_image(cache)
        assert image.release == '6.12.117+deb12-amd64', image
        linux_ref.check_version(image)
        old = linux_ref.find_image(os.path.join(cache, 'linux-image-6.1.0-57-amd64', 'boot',
                                                'vmlinuz-6.1.0-57-amd64'))
        try:
            linux_ref.check_version(old)
        except SystemExit as stop:
            assert 'cpuhp.parallel' in str(stop), str(stop)
        else:
            raise AssertionError('Linux 6.1 accepted for the parallel reference')


def test_bench_run_stops_before_booting_without_an_image():
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, os.path.join(HERE, 'run'), '--linux', '--no-plot', '--no-build',
             '--build', os.path.join(tmp, 'no-build'), '--out', os.path.join(tmp, 'out'),
             '--linux-kernel', os.path.join(tmp, 'no-linux')],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode != 0
    assert 'fetch_kernel.py' in proc.stderr, proc.stderr
    assert 'bench: ' not in proc.stdout, proc.stdout  # no cell was run


def test_linux_append_presets_lpj_and_names_the_mode():
    append = linux_ref.append_for(matrix.REFERENCE_MODES['linux-parallel'], 1234)
    words = append.split()
    for needed in ('console=ttyS0', 'printk.time=1', 'lpj=1234', 'cpuhp.parallel=1'):
        assert needed in words, append
    assert 'cpuhp.parallel=0' in matrix.REFERENCE_MODES['linux-serial'].append.split()


class FakeResult:
    def __init__(self, accel, mode, cpus, bringup_us):
        self.cell = matrix.Cell(accel, matrix.mode_named(mode), cpus, 3)
        rounds = []
        for us in bringup_us:
            log = SerialLog()
            log.feed(f'minikernel: smpboot_start: ok, {cpus} of {cpus} CPUs online, '
                     f'last AP after {us} us')
            rounds.append(log.rounds[0])
        self.boots_rounds = [[r] for r in rounds]
        self.stats = cell_stats(self.boots_rounds, cold_rounds=0)
        self.load1 = 1.0
        self.cold_rounds = 0


def test_ratio_is_per_accelerator_and_cpu_count():
    results = [FakeResult('tcg', 'parallel-default', 4, [1000, 2000, 3000]),
               FakeResult('tcg', 'linux-parallel', 4, [50000]),
               FakeResult('tcg', 'linux-parallel', 16, [80000]),     # no base at 16
               FakeResult('kvm', 'parallel-default', 4, [500]),
               FakeResult('kvm', 'linux-serial', 4, [4000])]
    report.attach_ratios(results, matrix.RATIO_BASE)
    ratios = [r.ratio_to_default for r in results]
    assert ratios == [1.0, 25.0, None, 1.0, 8.0], ratios
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'results.csv')
        report.write_cells_csv(path, results)
        with open(path, newline='') as f:
            rows = list(csv.DictReader(f))
    assert [r['ratio_to_default'] for r in rows] == ['1', '25', '', '1', '8'], rows
    assert [r['kernel'] for r in rows] == ['minikernel', 'linux', 'linux', 'minikernel',
                                          'linux'], rows
    table = '\n'.join(report.ratio_tables(results, matrix.RATIO_BASE))
    assert '| 4 | 2.00 (×1) | 50.00 (×25) |' in table, table
    assert '| 4 | 0.50 (×1) | 4.00 (×8) |' in table, table
    assert report.ratio_tables(results[1:3], matrix.RATIO_BASE) == []


def test_timeline_with_and_without_ready():
    log = SerialLog()
    log.feed('minikernel: smpboot_start: ok, 3 of 3 CPUs online, last AP after 577 us')
    log.feed('minikernel: timeline us: cpu 1 apic 1 kicked 112 trampoline 422 long_mode 527 '
             'c 573 online 577 ready 671')
    log.feed('minikernel: timeline us: cpu 2 apic 2 kicked 113 trampoline 430 long_mode 530 '
             'c 570 online 575')
    lines = log.rounds[0].timelines
    assert [t.cpu for t in lines] == [1, 2], lines
    assert lines[0].ready == 671 and lines[1].ready is None, lines
    stats = cell_stats([[log.rounds[0]]], cold_rounds=0)
    assert stats.steps['c_to_online_us'] == 4.5, stats.steps
    assert stats.steps['online_to_ready_us'] == 94, stats.steps


def test_stats_line_gives_the_breakdown():
    log = SerialLog()
    log.feed('minikernel: smpboot_start: ok, 3 of 3 CPUs online, last AP after 577 us')
    log.feed('smpboot: round r=1 online=3 bringup_us=577')
    log.feed('smpboot: stats r=1 total_ns=900000 setup_ns=100000 stacks_ns=30000 '
             'trampoline_ns=60000 ipi_ns=200000 ipis=6 mandatory_wait_ns=50000 '
             'ap_wait_ns=400000 ready_wait_ns=0 last_sipi_ns=350000')
    log.feed('minikernel: timeline us: cpu 1 apic 1 kicked 100 trampoline 420 long_mode 527 '
             'c 573 online 577')
    log.feed('minikernel: timeline us: cpu 2 apic 2 kicked 110 trampoline 430 long_mode 530 '
             'c 570 online 575')
    assert not log.problems, log.problems
    assert log.rounds[0].stats['ipis'] == 6, log.rounds[0].stats
    stats = cell_stats([[log.rounds[0]]], cold_rounds=0)
    assert stats.breakdown['bd_setup_us'] == 100, stats.breakdown
    assert stats.breakdown['bd_ap_wait_us'] == 400, stats.breakdown
    # The call less setup, IPIs, policy, AP and ready waits.
    assert stats.breakdown['bd_other_us'] == 150, stats.breakdown
    assert stats.ipis == 6 and stats.ap_path_us == 151, (stats.ipis, stats.ap_path_us)


def test_stats_line_missing_a_field_is_a_problem():
    log = SerialLog()
    log.feed('minikernel: smpboot_start: ok, 2 of 2 CPUs online, last AP after 5 us')
    log.feed('smpboot: stats r=1 total_ns=9 setup_ns=1')
    assert any('stats line lacks' in p for p in log.problems), log.problems


def test_naive_reference_round_lines_start_rounds():
    log = SerialLog()
    log.feed('minikernel: starting 3 APs: mode=serial reference=naive-serial apic=xapic')
    first = log.feed('smpboot: round r=1 online=4 bringup_us=900')
    second = log.feed('smpboot: round r=2 online=3 bringup_us=10000900')
    assert first is not None and first.ok and first.total == 4, first
    assert second is not None and not second.ok, second
    assert [r.number for r in log.rounds] == [1, 2], log.rounds


def test_boot_stops_when_kvm_gives_up_on_the_guest():
    # QEMU prints this and then waits forever with the guest paused.
    fake_qemu = ['sh', '-c', 'echo "KVM internal error. Suberror: 1" >&2; '
                 'echo "extra data[0]: 0x1" >&2; exec sleep 120']
    result = boot_mod.boot(fake_qemu, 90, log=linux_ref.LinuxLog())
    assert not result.timed_out, result
    assert result.vm_error == 'KVM internal error. Suberror: 1', result.vm_error
    assert 'extra data' in result.stderr, result.stderr


def main():
    tests = [(name, fn) for name, fn in globals().items()
             if name.startswith('test_') and callable(fn)]
    failed = 0
    for name, fn in tests:
        try:
            fn()
            print(f'ok   {name}')
        except Exception:  # noqa: BLE001 - report every failure, go on with the others
            failed += 1
            print(f'FAIL {name}')
            traceback.print_exc()
    print(f'{len(tests) - failed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
