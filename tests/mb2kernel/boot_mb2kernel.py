#!/usr/bin/env python3
"""Build examples/mb2kernel as an outside consumer would, and boot its ISO.

1. A clean Meson build of examples/mb2kernel (its own project, which reaches
   libsmpboot only through dependency('libsmpboot') with this source tree as
   its subproject) in <work-dir>/build; that build also makes the GRUB ISO.
2. The ISO booted under QEMU (TCG) on each firmware asked for:
     seabios-pc    SeaBIOS, i440FX       (GRUB i386-pc, ACPI 1.0 RSDP -> RSDT)
     seabios-q35   SeaBIOS, Q35
     ovmf-q35      UEFI (Debian's OVMF), Q35 (GRUB x86_64-efi, ACPI 2.0 RSDP -> XSDT)
   Each must end with QEMU status 33 (the kernel's isa-debug-exit success)
   and, as the kernel's last line,
     smpboot: summary online=N expected=M failed=0 mode=... bringup_us=T
   with N == M == the CPU count given to QEMU, after the clock's line
     mb2kernel: clock: TSC K kHz against the <reference>
   (which, when the options say clock=pmtimer|hpet|pit, is that reference).
3. With --append OPTIONS (repeatable): one more ISO per OPTIONS, its GRUB
   entry passing them to the kernel, booted on each firmware instead of
   the plain one.

Exit status: 0 when every boot passed, 1 otherwise, 77 (Meson's "skipped")
when a tool is missing, naming the Debian package. The per-boot time limit
only stops a hung guest; nothing here asserts a duration.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS.fd"
FIRMWARES = ("seabios-pc", "seabios-q35", "ovmf-q35")
SUMMARY = re.compile(r"^smpboot: summary online=(\d+) expected=(\d+) failed=(\d+) "
                     r"mode=(serial|parallel) bringup_us=(\d+)$")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CLOCK_LINE = re.compile(r"^mb2kernel: clock: TSC (\d+) kHz against the (.+)$")
CLOCK_REFERENCES = {"pmtimer": "ACPI PM timer", "hpet": "HPET", "pit": "PIT"}
GRUB_KERNEL_LINE = "multiboot2 /boot/mb2kernel.elf"
EXIT_SUCCESS = 33
SKIP = 77

TOOLS = {
    "meson": "meson",
    "ninja": "ninja-build",
    "nasm": "nasm",
    "qemu-system-x86_64": "qemu-system-x86",
    "grub-mkrescue": "grub-common",
    "xorriso": "xorriso",
    "mformat": "mtools",
}


def missing_tools(firmwares):
    missing = [f"{tool} ({package})" for tool, package in TOOLS.items() if not shutil.which(tool)]
    for platform, package in (("i386-pc", "grub-pc-bin"), ("x86_64-efi", "grub-efi-amd64-bin")):
        if not os.path.isdir(f"/usr/lib/grub/{platform}"):
            missing.append(f"/usr/lib/grub/{platform} ({package})")
    if "ovmf-q35" in firmwares:
        for path in (OVMF_CODE, OVMF_VARS):
            if not os.path.exists(path):
                missing.append(f"{path} (ovmf)")
    return missing


def run_logged(command, log_path):
    with open(log_path, "w") as log:
        return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode


def build(source_root, work_dir):
    """A clean consumer build; returns the ISO's path, or None."""
    build_dir = os.path.join(work_dir, "build")
    shutil.rmtree(build_dir, ignore_errors=True)
    os.makedirs(work_dir, exist_ok=True)
    example = os.path.join(source_root, "examples", "mb2kernel")
    log = os.path.join(work_dir, "build.log")
    for command in (["meson", "setup", build_dir, example], ["ninja", "-C", build_dir]):
        status = run_logged(command, log)
        if status != 0:
            with open(log, errors="replace") as f:
                sys.stdout.write(f.read()[-6000:])
            print(f"FAIL build: `{' '.join(command)}` exited {status} (log: {log})")
            return None
    iso = os.path.join(build_dir, "mb2kernel.iso")
    if not os.path.exists(iso):
        print(f"FAIL build: no {iso} (was grub-mkrescue found at configure time?)")
        return None
    print(f"ok   build: {iso}")
    return iso


def iso_with_options(source_root, build_dir, work_dir, options, index):
    """An ISO whose GRUB entry passes `options` to the kernel; returns its path, or None."""
    example = os.path.join(source_root, "examples", "mb2kernel")
    with open(os.path.join(example, "grub.cfg")) as f:
        config = f.read()
    if config.count(GRUB_KERNEL_LINE) != 1:
        print(f"FAIL build: grub.cfg has no single '{GRUB_KERNEL_LINE}' line for the options")
        return None
    config_path = os.path.join(work_dir, f"grub-{index}.cfg")
    with open(config_path, "w") as f:
        f.write(config.replace(GRUB_KERNEL_LINE, f"{GRUB_KERNEL_LINE} {options}"))
    iso = os.path.join(work_dir, f"mb2kernel-{index}.iso")
    command = [sys.executable, os.path.join(example, "make_iso.py"), shutil.which("grub-mkrescue"),
               os.path.join(build_dir, "mb2kernel.elf"), config_path, iso]
    log = os.path.join(work_dir, f"iso-{index}.log")
    status = run_logged(command, log)
    if status != 0 or not os.path.exists(iso):
        print(f"FAIL build: the ISO for '{options}' (status {status}, log: {log})")
        return None
    print(f"ok   build: {iso} ('{options}')")
    return iso


def expected_clock(options):
    """The reference a clock= option forces, None for auto; raises ValueError when unknown."""
    for word in options.split():
        if word.startswith("clock="):
            value = word[len("clock="):]
            if value == "auto":
                return None
            if value not in CLOCK_REFERENCES:
                raise ValueError(f"unknown {word}; choose from auto, "
                                 + ", ".join(CLOCK_REFERENCES))
            return CLOCK_REFERENCES[value]
    return None


def qemu_command(firmware, iso, smp, memory, work_dir):
    machine = "pc" if firmware == "seabios-pc" else "q35"
    command = ["qemu-system-x86_64", "-machine", machine, "-accel", "tcg",
               "-smp", str(smp), "-m", memory, "-cdrom", iso, "-boot", "d",
               "-serial", "stdio", "-display", "none", "-no-reboot",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    if firmware == "ovmf-q35":
        # The variable store is written by the firmware: each boot gets a fresh copy.
        variables = os.path.join(work_dir, f"OVMF_VARS-{firmware}.fd")
        shutil.copyfile(OVMF_VARS, variables)
        command += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                    "-drive", f"if=pflash,format=raw,unit=1,file={variables}"]
    return command


def kernel_lines(raw):
    """The serial output as lines, without GRUB's terminal escapes and CRs."""
    text = ANSI_ESCAPE.sub("", raw.decode("utf-8", errors="replace")).replace("\r", "\n")
    return [line.strip() for line in text.split("\n") if line.strip()]


def boot(firmware, iso, options, index, smp, memory, time_limit, work_dir):
    label = f"{firmware} '{options}'" if options else firmware
    command = qemu_command(firmware, iso, smp, memory, work_dir)
    log_path = os.path.join(work_dir, f"serial-{firmware}-{index}.log")
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                timeout=time_limit)
        output, status = result.stdout, result.returncode
    except subprocess.TimeoutExpired as expired:
        output, status = expired.stdout or b"", None
    with open(log_path, "wb") as f:
        f.write(output)
    lines = kernel_lines(output)
    kernel = [line for line in lines if line.startswith(("mb2kernel:", "smpboot:"))]

    problems = []
    if status is None:
        problems.append(f"no exit within {time_limit} s (hung guest stopped)")
    elif status != EXIT_SUCCESS:
        problems.append(f"QEMU exit status {status}, want {EXIT_SUCCESS}")
    panics = [line for line in kernel if "panic:" in line or " error:" in line]
    problems += panics
    clock = [m for m in map(CLOCK_LINE.match, kernel) if m]
    want_reference = expected_clock(options)
    if len(clock) != 1:
        problems.append(f"{len(clock)} clock lines ('mb2kernel: clock: TSC ... kHz against the ...'), want 1")
    elif want_reference and clock[0].group(2) != want_reference:
        problems.append(f"the clock used the {clock[0].group(2)}, but the options force the {want_reference}")
    summary = SUMMARY.match(kernel[-1]) if kernel else None
    if not summary:
        problems.append("the kernel's last line is not the summary line: "
                        + (repr(kernel[-1]) if kernel else "no kernel output"))
    else:
        online, expected, failed = (int(summary.group(i)) for i in (1, 2, 3))
        if online != expected:
            problems.append(f"online={online} but expected={expected}")
        if expected != smp:
            problems.append(f"expected={expected} but QEMU has {smp} CPUs")
        if failed != 0:
            problems.append(f"failed={failed}")

    if problems:
        print(f"FAIL {label}: " + "; ".join(problems))
        print(f"     command: {' '.join(command)}")
        print(f"     serial log: {log_path}; its kernel lines:")
        for line in kernel[-40:]:
            print(f"       {line}")
        return False
    print(f"ok   {label}: {clock[0].group(0)}")
    print(f"     {kernel[-1]}")
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source-root", required=True, help="the libsmpboot source tree")
    parser.add_argument("--work-dir", required=True, help="scratch directory (wiped build inside)")
    parser.add_argument("--firmware", default=",".join(FIRMWARES),
                        help="comma-separated, from: " + ", ".join(FIRMWARES))
    parser.add_argument("--smp", type=int, default=4)
    parser.add_argument("--memory", default="256M")
    parser.add_argument("--time-limit", type=int, default=300,
                        help="seconds before a boot counts as hung")
    parser.add_argument("--append", action="append", default=[], metavar="OPTIONS",
                        help="kernel command line (e.g. 'clock=hpet'): boot an ISO whose GRUB "
                             "entry passes it, instead of the plain one; repeatable")
    args = parser.parse_args()

    firmwares = [f for f in args.firmware.split(",") if f]
    unknown = [f for f in firmwares if f not in FIRMWARES]
    if unknown or not firmwares:
        parser.error(f"unknown firmware {unknown}; choose from {', '.join(FIRMWARES)}")
    for options in args.append:
        try:
            expected_clock(options)
        except ValueError as error:
            parser.error(str(error))
    missing = missing_tools(firmwares)
    if missing:
        print("SKIP: missing " + ", ".join(missing))
        return SKIP

    work_dir = os.path.abspath(args.work_dir)
    source_root = os.path.abspath(args.source_root)
    iso = build(source_root, work_dir)
    if iso is None:
        return 1
    # (ISO, options, index): index 0 is the plain ISO, 1.. those of --append.
    images = [(iso, "", 0)]
    if args.append:
        images = [(iso_with_options(source_root, os.path.dirname(iso), work_dir, options, i),
                   options, i) for i, options in enumerate(args.append, start=1)]
        if any(image is None for image, _, _ in images):
            return 1
    results = [boot(f, image, options, i, args.smp, args.memory, args.time_limit, work_dir)
               for image, options, i in images for f in firmwares]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
