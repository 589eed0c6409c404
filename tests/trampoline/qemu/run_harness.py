#!/usr/bin/env python3
"""Boot the trampoline harness under QEMU and judge its verdict.

Usage: run_harness.py QEMU IMAGE CPUS [--kvm] [--cpu MODEL] [--memory SIZE] [WORD...]

WORDs go to the harness's command line (x2apic, high-cr3, nmi, nmi-32bit). The harness
prints PASS or FAIL lines on COM1 and leaves through isa-debug-exit: 0x10
means pass, which QEMU reports as exit status 0x21. 0x12 with a SKIP line
means the CPU lacks what a word asks for (PCID under a KVM that hides it):
exit status 77, which Meson reports as a skip. Anything else (another
status, no PASS line, QEMU still running after the timeout) fails.
"""
import argparse
import subprocess
import sys

PASS_STATUS = (0x10 << 1) | 1
SKIP_STATUS = (0x12 << 1) | 1
MESON_SKIP = 77
TIMEOUT_S = 120


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("qemu")
    parser.add_argument("image")
    parser.add_argument("cpus", type=int)
    parser.add_argument("--kvm", action="store_true")
    parser.add_argument("--cpu", default="qemu64")
    parser.add_argument("--memory", default="256M")
    parser.add_argument("words", nargs="*")
    args = parser.parse_intermixed_args()

    command = [
        args.qemu,
        "-accel", "kvm" if args.kvm else "tcg",
        "-cpu", args.cpu,
        "-smp", str(args.cpus),
        "-m", args.memory,
        "-kernel", args.image,
        "-append", " ".join(args.words + ["cpus=%d" % args.cpus]),
        "-display", "none", "-nodefaults", "-no-reboot",
        "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ]
    print(" ".join(command), flush=True)
    try:
        run = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, errors="replace", timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as expired:
        out = expired.stdout or b""
        print(out.decode(errors="replace") if isinstance(out, bytes) else out)
        print("FAIL: QEMU still running after %d s" % TIMEOUT_S)
        return 1
    sys.stdout.write(run.stdout)
    sys.stdout.write(run.stderr)
    if run.returncode == SKIP_STATUS and any(line.startswith("SKIP")
                                             for line in run.stdout.splitlines()):
        return MESON_SKIP
    passed = run.returncode == PASS_STATUS and "PASS" in run.stdout.splitlines()
    if not passed:
        print("FAIL: QEMU exit status %d" % run.returncode)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
