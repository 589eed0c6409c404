"""What gets measured: the modes, the CPU counts, and how many rounds."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    name: str
    append: str     # the minikernel's -append options
    summary: str    # the mode word its summary line must report
    about: str


MODES = {
    m.name: m for m in (
        Mode('serial-spec', 'mode=serial profile=default', 'serial',
             'one AP at a time, INIT, 10 ms, SIPI, 200 us, second SIPI only if unanswered'),
        Mode('parallel-spec', 'mode=parallel profile=default', 'parallel',
             'all INITs, one 10 ms wait, SIPIs 200 us apart (the library default)'),
        Mode('parallel-fast', 'mode=parallel profile=fast', 'parallel',
             'all INITs, no INIT wait, one SIPI, SDM retry after 50 ms of silence'),
    )
}

FULL_CPUS = (1, 2, 4, 8, 16, 32, 64)
QUICK_CPUS = (1, 4)
QUICK_MODES = ('serial-spec', 'parallel-fast')

# Rounds per boot: the first is cold (caches, TLBs, QEMU's translated code),
# the rest are the warm samples the statistics use. KVM on the development
# machine (PVM, nested) costs tens of seconds per round at 64 vCPUs, hence
# fewer rounds there.
FULL_ROUNDS = {'tcg': 41, 'kvm': 6}
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


def cells(accels, mode_names, cpu_counts, rounds_for):
    """One cell per (accelerator, CPU count, mode), in the order they run."""
    return [Cell(accel, MODES[name], cpus, rounds_for(accel))
            for accel in accels for cpus in cpu_counts for name in mode_names]
