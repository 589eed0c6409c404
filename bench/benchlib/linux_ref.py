"""Linux as a reference in the bring-up benchmark (bench/run --linux).

Debian's kernel image, booted under the same QEMU machine as the minikernel
with no initrd and no root file system: it brings its APs up long before it
looks for a root, so the boot is stopped as soon as it reports the bring-up
done. One boot gives one sample: the time between two of the BSP's printk
lines in kernel/smp.c, from their printk.time stamps:

    [    0.741884] smp: Bringing up secondary CPUs ...
    [    1.503075] smp: Brought up 1 node, 4 CPUs

The image is fetched once, by bench/linux/fetch_kernel.py (apt-get download
of a Debian package, unpacked with dpkg -x), into DEFAULT_CACHE.
"""
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from typing import List, Optional

from . import boot as boot_mod
from .serial_log import Round

DEFAULT_CACHE = os.path.join(os.environ.get('XDG_CACHE_HOME') or
                             os.path.join(os.path.expanduser('~'), '.cache'),
                             'libsmpboot-bench', 'linux')
FETCH_SCRIPT = 'bench/linux/fetch_kernel.py'

# Parallel bring-up (cpuhp.parallel) came with Linux 6.5: an older image would
# boot "linux-parallel" serially and say nothing about it.
MIN_VERSION = (6, 5)

# Every boot gets these. lpj= presets the delay-loop calibration that each AP
# would otherwise repeat inside the measured interval (about 0.25 s each
# under TCG); panic=-1 plus QEMU's -no-reboot ends a boot that got past the
# bring-up without being stopped.
BASE_APPEND = 'console=ttyS0 printk.time=1 panic=-1'

STAMP = r'^\[\s*(?P<s>\d+)\.(?P<us>\d{6})\] '
START = re.compile(STAMP + r'smp: Bringing up secondary CPUs')
END = re.compile(STAMP + r'smp: Brought up (?P<nodes>\d+) nodes?, (?P<cpus>\d+) CPUs?$')
LPJ = re.compile(r'Calibrating delay loop.*\(lpj=(?P<lpj>\d+)\)')
PARALLEL_OFF = re.compile(r'Parallel CPU startup disabled')
PROBLEM = re.compile(r'Kernel panic|BUG:|Oops|WARNING:|CPU\d+ failed to report alive|'
                     r'do_boot_cpu failed|failed to come online')

# Boots per Linux cell (each is one sample); a Linux boot to its bring-up
# costs a few seconds under TCG, far more under nested KVM.
BOOTS = {'tcg': 9, 'kvm': 5}


@dataclass
class LinuxImage:
    vmlinuz: str
    release: str            # e.g. 6.12.117+deb12-amd64
    package: str            # the .deb it came from, if known

    @property
    def version(self):
        numbers = re.match(r'(\d+)\.(\d+)', self.release)
        return (int(numbers[1]), int(numbers[2])) if numbers else (0, 0)


def missing_image_message(where: str) -> str:
    return (f'bench: --linux: no Linux image in {where}. Fetch Debian\'s with '
            f'`{FETCH_SCRIPT}` (apt-get download linux-image-<version>-amd64, dpkg -x '
            f'into {DEFAULT_CACHE}), or name a bzImage with --linux-kernel PATH')


def find_image(path: Optional[str] = None) -> LinuxImage:
    """The image asked for: a vmlinuz file, or a folder fetch_kernel.py filled
    (the newest vmlinuz-* under its */boot/). SystemExit when there is none."""
    where = path or DEFAULT_CACHE
    if os.path.isfile(where):
        name = os.path.basename(where)
        release = name[len('vmlinuz-'):] if name.startswith('vmlinuz-') else 'unknown'
        return LinuxImage(os.path.abspath(where), release, '')
    found = []
    if os.path.isdir(where):
        for package in sorted(os.listdir(where)):
            boot_dir = os.path.join(where, package, 'boot')
            if not os.path.isdir(boot_dir):
                continue
            for name in os.listdir(boot_dir):
                if name.startswith('vmlinuz-'):
                    found.append(LinuxImage(os.path.join(boot_dir, name),
                                            name[len('vmlinuz-'):], package))
    if not found:
        raise SystemExit(missing_image_message(where))
    return max(found, key=lambda image: (image.version, image.release))


def check_version(image: LinuxImage) -> None:
    if image.version < MIN_VERSION:
        raise SystemExit(f'bench: --linux: {image.vmlinuz} is Linux {image.release}, which has '
                         f'no parallel bring-up (cpuhp.parallel, Linux '
                         f'{".".join(map(str, MIN_VERSION))} and later); fetch a newer one '
                         f'with `{FETCH_SCRIPT}`')


def stamp_us(match) -> int:
    return int(match['s']) * 1_000_000 + int(match['us'])


class LinuxLog:
    """Linux's serial console, fed line by line; `finished` once the bring-up
    is reported, so that boot.boot() stops QEMU there."""

    def __init__(self):
        self.lines: List[str] = []
        self.start_us: Optional[int] = None
        self.end_us: Optional[int] = None
        self.cpus_up: Optional[int] = None
        self.lpj: Optional[int] = None
        self.parallel_disabled = False
        self.problems: List[str] = []
        self.stop_at_lpj = False   # the lpj probe needs nothing after that line

    @property
    def finished(self) -> bool:
        return self.end_us is not None or (self.stop_at_lpj and self.lpj is not None)

    def feed(self, line: str) -> None:
        line = line.rstrip('\r\n')
        self.lines.append(line)
        if PROBLEM.search(line):
            self.problems.append(line)
        if PARALLEL_OFF.search(line):
            self.parallel_disabled = True
        m = LPJ.search(line)
        if m and self.lpj is None:
            self.lpj = int(m['lpj'])
        m = START.match(line)
        if m and self.start_us is None:
            self.start_us = stamp_us(m)
            return None
        m = END.match(line)
        if m and self.start_us is not None and self.end_us is None:
            self.end_us = stamp_us(m)
            self.cpus_up = int(m['cpus'])
        return None

    def bringup_round(self, cpus: int, parallel_asked: bool) -> Round:
        """This boot as one round of the statistics (not ok when incomplete)."""
        if self.start_us is None or self.end_us is None:
            return Round('bring-up not reported', self.cpus_up or 0, cpus, 0)
        status = 'ok'
        if self.cpus_up != cpus:
            status = f'{self.cpus_up} of {cpus} CPUs up'
        elif parallel_asked and self.parallel_disabled:
            status = 'parallel bring-up disabled by the platform'
        return Round(status, self.cpus_up, cpus, self.end_us - self.start_us, number=1)


def append_for(mode, lpj: int) -> str:
    return f'{BASE_APPEND} lpj={lpj} {mode.append}'


def watchdog_seconds(accel: str, cpus: int) -> float:
    """Generous: a boot to the bring-up took 3-15 s under TCG here with 4 CPUs."""
    if accel == 'kvm':
        return 300 + 6 * cpus
    return 120 + 3 * cpus


def probe_lpj(qemu: str, image: LinuxImage, accel: str, machine: str):
    """Boot once with one CPU and take the BSP's own calibration (lpj=...) from
    its log: Linux's value for this guest clock, so nothing is guessed.
    Returns (lpj, '') or (None, why not)."""
    log = LinuxLog()
    log.stop_at_lpj = True
    command = boot_mod.qemu_command(qemu, image.vmlinuz, accel, machine, 1, BASE_APPEND)
    result = boot_mod.boot(command, watchdog_seconds(accel, 1), log=log)
    if log.lpj is not None:
        return log.lpj, ''
    how = (f'QEMU: {result.vm_error}' if result.vm_error else
           'the watchdog fired' if result.timed_out else f'QEMU exited {result.exit_status}')
    last = (log.lines[-1:] or ['nothing'])[0]
    return None, (f'Linux did not boot under {accel}: its one-CPU boot printed no '
                  f'"Calibrating delay loop ... (lpj=N)" line ({how}; last console line: '
                  f'{last!r})')


@dataclass
class LinuxBoot:
    round: Round
    result: object     # boot.BootResult
    problems: List[str]


def measure_boot(qemu: str, image: LinuxImage, cell, lpj: int) -> LinuxBoot:
    log = LinuxLog()
    command = boot_mod.qemu_command(qemu, image.vmlinuz, cell.accel, cell.machine, cell.cpus,
                                    append_for(cell.mode, lpj))
    result = boot_mod.boot(command, watchdog_seconds(cell.accel, cell.cpus), log=log)
    parallel = 'cpuhp.parallel=1' in cell.mode.append.split()
    rnd = log.bringup_round(cell.cpus, parallel)
    problems = []
    if result.vm_error:
        problems.append(f'{cell.label}: QEMU: {result.vm_error}')
    elif result.timed_out:
        problems.append(f'{cell.label}: watchdog killed QEMU after {result.seconds:.0f} s '
                        f'before Linux reported its bring-up')
    elif not log.finished:
        problems.append(f'{cell.label}: QEMU exited {result.exit_status} before Linux '
                        'reported its bring-up')
    elif not rnd.ok:
        problems.append(f'{cell.label}: {rnd.status}')
    for line in log.problems[:5]:
        problems.append(f'{cell.label}: `{line}`')
    return LinuxBoot(rnd, result, problems)


def resolve_package(candidates=('linux-image-amd64', 'linux-image-6.12-amd64')) -> str:
    """The first metapackage whose kernel has parallel bring-up, as the versioned
    package it depends on (Debian 12's linux-image-amd64 names 6.1, too old)."""
    tried = []
    for meta in candidates:
        out = subprocess.run(['apt-cache', 'depends', meta], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, check=False).stdout
        m = re.search(r'Depends: (linux-image-(\d+)\.(\d+)\S*-amd64)', out)
        if not m:
            tried.append(f'{meta}: not known to apt-cache')
            continue
        if (int(m[2]), int(m[3])) >= MIN_VERSION:
            return m[1]
        tried.append(f'{meta} -> {m[1]}: older than {".".join(map(str, MIN_VERSION))}')
    raise SystemExit('fetch_kernel: no candidate package with parallel bring-up ('
                     + '; '.join(tried) + '); run `apt-get update`, or name one with --package')


def fetch(dest: str, package: str) -> LinuxImage:
    """apt-get download the package and dpkg -x it into dest/<package>/."""
    target = os.path.join(dest, package)
    os.makedirs(dest, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as download:
        # _apt cannot write into root's cache folder; it warns and downloads anyway.
        subprocess.run(['apt-get', 'download', package], cwd=download, check=True)
        debs = [n for n in os.listdir(download) if n.endswith('.deb')]
        if len(debs) != 1:
            raise SystemExit(f'fetch_kernel: apt-get download left {debs}')
        unpack = target + '.partial'
        subprocess.run(['rm', '-rf', unpack], check=True)
        subprocess.run(['dpkg', '-x', os.path.join(download, debs[0]), unpack], check=True)
        for name in os.listdir(unpack):  # the modules: hundreds of MB no boot here needs
            if name != 'boot':
                subprocess.run(['rm', '-rf', os.path.join(unpack, name)], check=True)
        subprocess.run(['rm', '-rf', target], check=True)
        os.rename(unpack, target)
    boot_dir = os.path.join(target, 'boot')
    images = [n for n in os.listdir(boot_dir)] if os.path.isdir(boot_dir) else []
    images = [n for n in images if n.startswith('vmlinuz-')]
    if len(images) != 1:
        raise SystemExit(f'fetch_kernel: {package} holds {len(images)} boot/vmlinuz-* files')
    return LinuxImage(os.path.join(boot_dir, images[0]), images[0][len('vmlinuz-'):], package)
