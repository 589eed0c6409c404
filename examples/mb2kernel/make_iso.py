#!/usr/bin/env python3
"""Make mb2kernel's bootable ISO (BIOS and UEFI) with grub-mkrescue.

usage: make_iso.py <grub-mkrescue> <kernel.elf> <grub.cfg> <output.iso>

grub-mkrescue puts a boot image on the ISO for every GRUB platform installed
on this machine: Debian's grub-pc-bin gives the BIOS one (i386-pc),
grub-efi-amd64-bin the UEFI one (x86_64-efi, which also needs mtools).
"""
import os
import shutil
import subprocess
import sys
import tempfile

GRUB_PLATFORMS = {"i386-pc": "grub-pc-bin (BIOS boot)", "x86_64-efi": "grub-efi-amd64-bin (UEFI boot)"}


def main() -> int:
    if len(sys.argv) != 5:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    grub_mkrescue, kernel, grub_cfg, output = sys.argv[1:]
    for platform, package in GRUB_PLATFORMS.items():
        if not os.path.isdir(os.path.join("/usr/lib/grub", platform)):
            print(f"make_iso.py: warning: no /usr/lib/grub/{platform}: install {package}",
                  file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="mb2kernel-iso-") as root:
        os.makedirs(os.path.join(root, "boot", "grub"))
        shutil.copyfile(kernel, os.path.join(root, "boot", "mb2kernel.elf"))
        shutil.copyfile(grub_cfg, os.path.join(root, "boot", "grub", "grub.cfg"))
        result = subprocess.run([grub_mkrescue, "-o", output, root],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        sys.stdout.write(result.stdout)
        print(f"make_iso.py: grub-mkrescue failed with status {result.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
