#!/usr/bin/env bash
# Boot the minikernel under QEMU with its serial console on this terminal.
#
#   tests/qemu/boot.sh [IMAGE] [QEMU OPTIONS...]
#
# IMAGE defaults to build/examples/minikernel/minikernel.elf. Without an
# -smp option the guest gets 8 CPUs. KVM is used when it works here (see
# kvm_probe.py), TCG otherwise; ACCEL=tcg or ACCEL=kvm forces one.
# Kernel options go through -append, e.g.  -append "mode=serial".
#
# Exits 0 when the kernel reports every CPU online (QEMU status 33), 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image=$here/../../build/examples/minikernel/minikernel.elf
if [[ $# -gt 0 && $1 != -* ]]; then
    image=$1
    shift
fi
if [[ ! -f $image ]]; then
    echo "boot.sh: no kernel image at $image (build it: ninja -C build)" >&2
    exit 1
fi

qemu=${QEMU:-qemu-system-x86_64}
accel=${ACCEL:-}
if [[ -z $accel ]]; then
    if python3 "$here/kvm_probe.py" >/dev/null 2>&1; then accel=kvm; else accel=tcg; fi
fi

smp=(-smp 8)
for arg in "$@"; do
    if [[ $arg == -smp ]]; then smp=(); fi
done

echo "boot.sh: $qemu -accel $accel ${smp[*]} $*" >&2
set +e
"$qemu" -kernel "$image" -serial stdio -display none -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -accel "$accel" "${smp[@]}" "$@"
status=$?
set -e

case $status in
    33) echo "boot.sh: every CPU came online (QEMU exit 33)" >&2; exit 0 ;;
    35) echo "boot.sh: the kernel reported a failure (QEMU exit 35)" >&2 ;;
    0) echo "boot.sh: QEMU exited 0: a triple fault, or no isa-debug-exit" >&2 ;;
    *) echo "boot.sh: QEMU exited $status" >&2 ;;
esac
exit 1
