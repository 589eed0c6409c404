#!/usr/bin/env python3
"""Dump the MADT ("APIC" table) that QEMU gives a guest, for the fuzz corpus.

QEMU builds the ACPI tables and the firmware (SeaBIOS) copies them into guest
RAM during POST, so the guest is let run without a boot device until the
RSDP shows up, then stopped. The RAM is saved with QMP `pmemsave` and the
table is found by following RSDP -> XSDT/RSDT -> "APIC", checking each
table's length and checksum on the way.

    dump_qemu_madt.py OUT.bin -- -machine q35 -smp 8

Everything after `--` goes to qemu-system-x86_64 as is. Needs QEMU and its
SeaBIOS; nothing else.
"""
import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

GUEST_RAM_MIB = 64
# SeaBIOS puts the RSDP in the BIOS area; the tables go near the top of RAM.
RSDP_AREA = (0xE0000, 0x100000)
POST_DEADLINE_SECONDS = 60


class Qmp:
    """Just enough of QMP: one command at a time, events skipped."""

    def __init__(self, path, deadline, qemu):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if qemu.poll() is not None:
                    raise RuntimeError("QEMU exited before its QMP socket came up")
                if time.monotonic() > deadline:
                    raise RuntimeError("QEMU's QMP socket never came up")
                time.sleep(0.1)
        self.sock.settimeout(30)
        self.reader = self.sock.makefile("r")
        self._read_message()  # the greeting
        self.command("qmp_capabilities")

    def _read_message(self):
        line = self.reader.readline()
        if not line:
            raise RuntimeError("QEMU closed the QMP connection")
        return json.loads(line)

    def command(self, name, **arguments):
        request = {"execute": name}
        if arguments:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        while True:
            reply = self._read_message()
            if "event" in reply:
                continue
            if "error" in reply:
                raise RuntimeError(f"QMP {name}: {reply['error']}")
            return reply.get("return")


def checksum_ok(data):
    return sum(data) & 0xFF == 0


def table_at(ram, address, signature):
    """The table at `address` if its signature, length and checksum hold."""
    if address + 8 > len(ram) or ram[address:address + 4] != signature:
        return None
    length = struct.unpack_from("<I", ram, address + 4)[0]
    if length < 36 or address + length > len(ram):
        return None
    table = ram[address:address + length]
    return table if checksum_ok(table) else None


def find_rsdp(ram):
    start, end = RSDP_AREA
    for address in range(start, min(end, len(ram)) - 20, 16):  # 16-byte aligned
        if ram[address:address + 8] == b"RSD PTR " and checksum_ok(ram[address:address + 20]):
            return address
    return None


def find_madt(ram):
    rsdp = find_rsdp(ram)
    if rsdp is None:
        return None
    revision = ram[rsdp + 15]
    pointers = []
    if revision >= 2:
        xsdt_address = struct.unpack_from("<Q", ram, rsdp + 24)[0]
        xsdt = table_at(ram, xsdt_address, b"XSDT")
        if xsdt is not None:
            pointers = list(struct.unpack_from(f"<{(len(xsdt) - 36) // 8}Q", xsdt, 36))
    if not pointers:
        rsdt_address = struct.unpack_from("<I", ram, rsdp + 16)[0]
        rsdt = table_at(ram, rsdt_address, b"RSDT")
        if rsdt is None:
            return None
        pointers = list(struct.unpack_from(f"<{(len(rsdt) - 36) // 4}I", rsdt, 36))
    for pointer in pointers:
        madt = table_at(ram, pointer, b"APIC")
        if madt is not None:
            return madt
    return None


def dump(qemu_args, qemu_binary):
    workdir = tempfile.mkdtemp(prefix="madt-dump-")
    qmp_path = os.path.join(workdir, "qmp.sock")
    ram_path = os.path.join(workdir, "ram.bin")
    command = [qemu_binary, "-m", str(GUEST_RAM_MIB), "-display", "none", "-nodefaults",
               "-serial", "none", "-monitor", "none", "-no-reboot",
               "-qmp", f"unix:{qmp_path},server=on,wait=off"] + qemu_args
    qemu = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + POST_DEADLINE_SECONDS
    try:
        qmp = Qmp(qmp_path, deadline, qemu)
        while time.monotonic() < deadline:
            time.sleep(0.5)
            qmp.command("stop")
            qmp.command("pmemsave", val=0, size=GUEST_RAM_MIB << 20, filename=ram_path)
            with open(ram_path, "rb") as f:
                madt = find_madt(f.read())
            if madt is not None:
                qmp.command("quit")
                return madt
            qmp.command("cont")
        raise RuntimeError("no MADT in guest RAM before the deadline")
    except Exception:
        qemu.kill()
        _, err = qemu.communicate()
        sys.stderr.write(err)
        raise
    finally:
        if qemu.poll() is None:
            try:
                qemu.wait(timeout=10)
            except subprocess.TimeoutExpired:
                qemu.kill()
                qemu.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def describe(madt):
    """One line per entry, so the dump can be checked by eye."""
    lines = [f"length {len(madt)}, lapic 0x{struct.unpack_from('<I', madt, 36)[0]:08x}, "
             f"flags 0x{struct.unpack_from('<I', madt, 40)[0]:x}"]
    offset = 44
    while offset + 2 <= len(madt):
        entry_type, entry_length = madt[offset], madt[offset + 1]
        if entry_length < 2:
            lines.append(f"  +{offset}: type {entry_type} bad length {entry_length}")
            break
        entry = madt[offset:offset + entry_length]
        if entry_type == 0:
            lines.append(f"  +{offset}: LAPIC uid {entry[2]} id {entry[3]} "
                         f"flags {struct.unpack_from('<I', entry, 4)[0]:#x}")
        elif entry_type == 9:
            apic_id, flags, uid = struct.unpack_from("<III", entry, 4)
            lines.append(f"  +{offset}: x2APIC id {apic_id} flags {flags:#x} uid {uid}")
        else:
            lines.append(f"  +{offset}: type {entry_type} length {entry_length}")
        offset += entry_length
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="file to write the MADT bytes to")
    parser.add_argument("--qemu", default="qemu-system-x86_64")
    parser.add_argument("--verbose", action="store_true", help="list the entries")
    parser.add_argument("qemu_args", nargs=argparse.REMAINDER,
                        help="after --: arguments for QEMU")
    args = parser.parse_args()
    qemu_args = args.qemu_args[1:] if args.qemu_args[:1] == ["--"] else args.qemu_args
    madt = dump(qemu_args, args.qemu)
    with open(args.output, "wb") as f:
        f.write(madt)
    print(f"{args.output}: {len(madt)} bytes")
    if args.verbose:
        print(describe(madt))


if __name__ == "__main__":
    main()
