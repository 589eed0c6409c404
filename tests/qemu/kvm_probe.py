#!/usr/bin/env python3
"""Does KVM actually run a guest here?

/dev/kvm existing (or even opening) is not enough: a nested or sandboxed host
may refuse to run vCPUs. So boot a Multiboot kernel of a few bytes
(tiny_images.py) under `-accel kvm` that only writes 0x10 to isa-debug-exit.
QEMU then exits with status 33; anything else (an error, a hang cut short by
the timeout) means no KVM.

Exit status 0 and prints "yes" when KVM works, 1 and "no: <why>" otherwise.
meson.build runs this at configure time to decide whether to register the
KVM variants of the qemu suite.
"""
import os
import subprocess
import sys
import tempfile

import tiny_images


def main() -> int:
    qemu = os.environ.get('QEMU', 'qemu-system-x86_64')
    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        print('no: /dev/kvm is missing or not accessible')
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, 'probe.bin')
        with open(image, 'wb') as f:
            f.write(tiny_images.exits(0x10))
        cmd = [qemu, '-accel', 'kvm', '-kernel', image, '-display', 'none',
               '-serial', 'none', '-monitor', 'none', '-no-reboot', '-m', '64M',
               '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04']
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=20, check=False)
        except FileNotFoundError:
            print(f'no: {qemu} not found')
            return 1
        except subprocess.TimeoutExpired:
            print('no: the probe guest did not finish within 20 s')
            return 1
    if proc.returncode == 33:
        print('yes')
        return 0
    detail = proc.stdout.decode(errors='replace').strip().splitlines()
    print(f'no: qemu exited {proc.returncode}' + (f' ({detail[-1]})' if detail else ''))
    return 1


if __name__ == '__main__':
    sys.exit(main())
