#!/usr/bin/env python3
"""libsmpboot.a may call nothing outside itself but memcpy, memset, memmove and
memcmp: a kernel links it with nothing else. Lists what the archive needs
from outside and fails on anything else."""
import subprocess
import sys

ALLOWED = {"memcpy", "memset", "memmove", "memcmp"}


def symbols(nm, archive, *flags):
    out = subprocess.run([nm, "--format=just-symbols", *flags, archive],
                         check=True, capture_output=True, text=True).stdout
    return {line.strip() for line in out.splitlines()
            if line.strip() and not line.endswith(":")}


def main():
    nm, archive = sys.argv[1], sys.argv[2]
    defined = symbols(nm, archive, "--defined-only")
    undefined = symbols(nm, archive, "--undefined-only")
    external = undefined - defined
    print("needs from the kernel:", ", ".join(sorted(external)) or "nothing")
    if "smpboot_init_abi" not in defined or "smpboot_ap_main" not in defined:
        print("the archive lacks the library's own entry points", file=sys.stderr)
        return 1
    stray = external - ALLOWED
    if stray:
        print("calls outside the library:", ", ".join(sorted(stray)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
