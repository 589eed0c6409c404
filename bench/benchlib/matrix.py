"""What gets measured: the modes, the CPU counts, and how many rounds."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    name: str
    append: str     # the minikernel's -append options (Linux's, for a reference mode)
    summary: str    # the mode word its summary line must report
    about: str
    kernel: str = 'minikernel'   # 'linux': a reference mode, booted by benchlib.linux_ref


MODES = {
    m.name: m for m in (
        Mode('serial-spec', 'mode=serial profile=sdm', 'serial',
             'one AP at a time, INIT, 10 ms, SIPI, 200 us, second SIPI only if unanswered '
             '(smpboot_config_sdm())'),
        Mode('parallel-spec', 'mode=parallel profile=sdm', 'parallel',
             'all INITs, one 10 ms wait, SIPIs 200 us apart (smpboot_config_sdm())'),
        Mode('parallel-fast', 'mode=parallel profile=fast', 'parallel',
             'all INITs, no INIT wait, one SIPI, SDM retry after 50 ms of silence'),
        Mode('parallel-default', 'mode=parallel profile=default', 'parallel',
             'smpboot_config_default(): all INITs, INIT wait chosen from the BSP\'s CPUID '
             '(0 on a hypervisor or a modern CPU, else 10 ms), two SIPIs, SDM retry'),
        Mode('naive-serial', 'reference=naive-serial', 'serial',
             'no libsmpboot: the minikernel\'s own naive code, one AP at a time, INIT, SIPI, '
             'SIPI back to back, no delay, no retry (what many hobby kernels do)'),
    )
}

# Run only when --modes names them: for finding where the time goes.
OPTIONAL_MODES = {
    m.name: m for m in (
        Mode('serial-default', 'mode=serial profile=default', 'serial',
             'smpboot_config_default() one AP at a time'),
        Mode('serial-fast', 'mode=serial profile=fast', 'serial',
             'smpboot_config_fast() one AP at a time: INIT, one SIPI, wait'),
    )
}

# The mode every other one is divided by in the ratio columns and the ratio plot:
# what a kernel gets when it asks for nothing in particular.
RATIO_BASE = 'parallel-default'

# Linux as a reference (bench/run --linux): Debian's kernel, stopped after its
# bring-up; one sample per boot. cpuhp.parallel is Linux's switch (6.5 and
# later) between the serial and the parallel bring-up.
REFERENCE_MODES = {
    m.name: m for m in (
        Mode('linux-serial', 'cpuhp.parallel=0', 'serial',
             'Linux, one CPU at a time through the whole hotplug state machine',
             kernel='linux'),
        Mode('linux-parallel', 'cpuhp.parallel=1', 'parallel',
             'Linux, every CPU kicked (INIT, SIPI, SIPI) first, then each onlined in turn',
             kernel='linux'),
    )
}

FULL_CPUS = (1, 2, 4, 8, 16, 32, 64)
QUICK_CPUS = (1, 4)
QUICK_MODES = ('serial-spec', 'parallel-fast')

# Rounds per boot: the first is cold (caches, TLBs, QEMU's translated code),
# the rest are the warm samples the statistics use. KVM on the development
# machine (PVM, nested) costs tens of seconds per round at 64 vCPUs, hence
# fewer rounds there.
FULL_ROUNDS = {'tcg': 41, 'kvm': 6, 'bochs': 3}
# Bochs's emulated time is deterministic: one cold round and two warm ones
# (which agree) per cell are enough, and a boot costs seconds of host time
# per CPU, hence fewer CPU counts by default. Debian's Bochs 2.7 stops with
# "register_timer: too many registered timers" at 16 CPUs.
BOCHS_CPUS = (1, 2, 4, 8)
QUICK_ROUNDS = 3

# The minikernel accepts bench=1..100 (also spelled rounds=).
MAX_ROUNDS = 100

# QEMU 7.2's i440fx `pc` machine stops at 255 CPUs; q35 goes further.
PC_MAX_CPUS = 255


def machine_for(cpus: int) -> str:
    return 'pc' if cpus <= PC_MAX_CPUS else 'q35'


@dataclass(frozen=True)
class Cell:
    accel: str
    mode: Mode
    cpus: int
    rounds: int

    @property
    def machine(self) -> str:
        return machine_for(self.cpus)

    @property
    def label(self) -> str:
        return f'{self.accel} {self.mode.name} {self.cpus} CPUs'


def mode_named(name: str) -> Mode:
    for modes in (MODES, OPTIONAL_MODES):
        if name in modes:
            return modes[name]
    return REFERENCE_MODES[name]


def cells(accels, mode_names, cpu_counts, rounds_for):
    """One cell per (accelerator, CPU count, mode), in the order they run, so
    that a reference and the library's modes at one CPU count run close in time."""
    return [Cell(accel, mode_named(name), cpus, rounds_for(accel, mode_named(name)))
            for accel in accels for cpus in cpu_counts for name in mode_names]
