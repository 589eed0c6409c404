"""The machine and tools a run happened on, and getting a build to measure."""
import datetime
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNEL = os.path.join('examples', 'minikernel', 'minikernel.elf')


@dataclass
class Environment:
    date: str
    host_cpu: str
    host_cores: int
    qemu_version: str
    kernel_release: str
    git_revision: str
    build_type: str
    load_before: str
    kvm: str


def output_of(command, cwd=None) -> Optional[str]:
    try:
        return subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, check=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def host_cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def kvm_flavour() -> str:
    """Which module serves /dev/kvm: hardware VT-x/AMD-V, or PVM, the
    software one with shadow page tables that nested sandboxes use."""
    for module, what in (('kvm_intel', 'kvm_intel, Intel VT-x'),
                         ('kvm_amd', 'kvm_amd, AMD-V'),
                         ('kvm_pvm', 'kvm_pvm: PVM, software virtualization with shadow '
                                     'page tables, no VT-x; not representative of '
                                     'hardware KVM')):
        if os.path.isdir(f'/sys/module/{module}'):
            return what
    return 'module unknown'


def build_type(build_dir: str) -> str:
    info = output_of(['meson', 'introspect', '--buildoptions', build_dir])
    if info:
        import json
        for option in json.loads(info):
            if option.get('name') == 'buildtype':
                return str(option.get('value'))
    return 'unknown'


def describe(qemu: str, build_dir: str, kvm: str) -> Environment:
    revision = output_of(['git', 'rev-parse', '--short=12', 'HEAD'], cwd=REPO) or 'unknown'
    if output_of(['git', 'status', '--porcelain', '--untracked-files=no'], cwd=REPO):
        revision += ' (with uncommitted changes)'
    version = (output_of([qemu, '--version']) or 'unknown').splitlines()[0]
    load = ' '.join(f'{x:.2f}' for x in os.getloadavg())
    return Environment(
        date=datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z'),
        host_cpu=host_cpu_model(), host_cores=os.cpu_count() or 0, qemu_version=version,
        kernel_release=platform.release(), git_revision=revision,
        build_type=build_type(build_dir), load_before=load,
        kvm=f'{kvm} ({kvm_flavour()})' if kvm == 'yes' else kvm)


def kvm_status(qemu: str) -> str:
    """'yes', or 'no: <why>', from tests/qemu/kvm_probe.py (boots a few-byte guest)."""
    probe = os.path.join(REPO, 'tests', 'qemu', 'kvm_probe.py')
    env = dict(os.environ, QEMU=qemu)
    result = subprocess.run([sys.executable, probe], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, check=False)
    text = result.stdout.strip() or f'no: the probe exited {result.returncode}'
    return 'yes' if result.returncode == 0 else text


def ensure_build(build_dir: str, build: bool) -> str:
    """The minikernel image in build_dir; configure and build first if asked."""
    if build:
        if not os.path.isfile(os.path.join(build_dir, 'build.ninja')):
            subprocess.run(['meson', 'setup', build_dir, REPO], check=True)
        subprocess.run(['ninja', '-C', build_dir], check=True)
    kernel = os.path.join(build_dir, KERNEL)
    if not os.path.isfile(kernel):
        raise SystemExit(f'bench: no minikernel at {kernel} (build it, or drop --no-build)')
    return kernel
