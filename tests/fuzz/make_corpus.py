#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/corpus/.

    make_corpus.py [--out DIR] [--qemu] [--kvm]

Without options it rewrites only the hand-made tables (hand_*.bin), which
are deterministic. --qemu also re-dumps the tables QEMU 7.2 builds for the
topologies in QEMU_TOPOLOGIES (qemu_*.bin) with dump_qemu_madt.py; --kvm adds
the x2APIC ones, which QEMU only builds under KVM (APIC IDs above 254 need
the in-kernel irqchip's x2APIC support). The files are committed; this script
is how they were made.
"""
import argparse
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

LAPIC_DEFAULT = 0xFEE00000
PCAT_COMPAT = 0x1
ENABLED = 0x1
ONLINE_CAPABLE = 0x2
INTI_HIGH_EDGE = 0x1 | (0x1 << 2)
INTI_LOW_LEVEL = 0x3 | (0x3 << 2)
INTI_RESERVED_POLARITY = 0x2
INTI_RESERVED_TRIGGER = 0x2 << 2

# name -> QEMU arguments; the second group needs /dev/kvm.
QEMU_TOPOLOGIES = {
    "qemu_pc_smp1": ["-machine", "pc", "-smp", "1"],
    "qemu_pc_smp4": ["-machine", "pc", "-smp", "4"],
    "qemu_q35_smp8": ["-machine", "q35", "-smp", "8"],
    "qemu_pc_smp6_sockets2_cores3": ["-machine", "pc", "-smp", "6,sockets=2,cores=3"],
    "qemu_pc_smp2_maxcpus8": ["-machine", "pc", "-smp", "2,maxcpus=8"],
}
X2APIC_IOMMU = ["-accel", "kvm", "-machine", "q35,kernel-irqchip=split",
                "-device", "intel-iommu,intremap=on,eim=on"]
QEMU_KVM_TOPOLOGIES = {
    # 288 possible CPUs, one present: IDs 255..287 are type 9 entries, all disabled.
    "qemu_q35_x2apic_maxcpus288": X2APIC_IOMMU + ["-smp", "1,maxcpus=288"],
    # A cold-plugged CPU in socket 1 has APIC ID 256: an enabled type 9 entry.
    "qemu_q35_x2apic_enabled_id256": X2APIC_IOMMU + [
        "-smp", "1,sockets=2,cores=129,maxcpus=258",
        "-device", "qemu64-x86_64-cpu,socket-id=1,core-id=0,thread-id=0"],
}


class Madt:
    """A MADT assembled entry by entry; finish() sets the length and checksum."""

    def __init__(self, lapic=LAPIC_DEFAULT, flags=PCAT_COMPAT):
        self.data = bytearray(b"APIC" + bytes(4) + bytes([3, 0]) + b"FUZZ  " + b"SEEDTBL "
                              + struct.pack("<I", 1) + b"FUZZ" + struct.pack("<I", 1))
        self.data += struct.pack("<II", lapic, flags)
        assert len(self.data) == 44

    def raw(self, data):
        self.data += data
        return self

    def lapic(self, uid, apic_id, flags=ENABLED):
        return self.raw(struct.pack("<BBBBI", 0, 8, uid, apic_id, flags))

    def x2apic(self, apic_id, flags=ENABLED, uid=None):
        uid = apic_id if uid is None else uid
        return self.raw(struct.pack("<BBHIII", 9, 16, 0, apic_id, flags, uid))

    def lapic_nmi(self, uid, inti, lint):
        return self.raw(struct.pack("<BBBHB", 4, 6, uid, inti, lint))

    def x2apic_nmi(self, inti, uid, lint):
        return self.raw(struct.pack("<BBHIB3x", 10, 12, inti, uid, lint))

    def lapic_override(self, address):
        return self.raw(struct.pack("<BBHQ", 5, 12, 0, address))

    def io_apic(self, ioapic_id=0, address=0xFEC00000, gsi_base=0):
        return self.raw(struct.pack("<BBBBII", 1, 12, ioapic_id, 0, address, gsi_base))

    def source_override(self, source, gsi, inti):
        return self.raw(struct.pack("<BBBBIH", 2, 10, 0, source, gsi, inti))

    def fix_checksum(self, length=None):
        """Checksum over the length field's bytes (or `length`), as firmware would."""
        length = struct.unpack_from("<I", self.data, 4)[0] if length is None else length
        self.data[9] = 0
        covered = self.data[:min(length, len(self.data))]
        self.data[9] = (-sum(covered)) & 0xFF
        return self

    def finish(self, length=None):
        struct.pack_into("<I", self.data, 4, len(self.data) if length is None else length)
        return self.fix_checksum()

    def bytes(self):
        return bytes(self.data)


def qemu_like(cpus=4):
    table = Madt()
    for i in range(cpus):
        table.lapic(i, i)
    table.io_apic().source_override(0, 2, 0)
    for irq in (5, 9, 10, 11):
        table.source_override(irq, irq, 0x000D)
    return table.lapic_nmi(0xFF, 0, 1)


def hand_made():
    """name -> bytes: the broken and unusual tables the fuzzer should start from."""
    seeds = {}
    seeds["hand_empty"] = b""
    seeds["hand_signature_only"] = b"APIC"
    seeds["hand_length_field_zero"] = Madt().finish(length=0).bytes()
    seeds["hand_header_only"] = Madt().finish().bytes()
    seeds["hand_wrong_signature"] = bytes(b"APIX" + qemu_like().finish().bytes()[4:])
    # The length field claims more than the bytes given (mapped_bytes = size).
    seeds["hand_length_past_mapping"] = qemu_like(2).finish(length=300).bytes()
    # The last entry runs 4 bytes past the table's length: with those bytes
    # mapped (the walk must still stop at the length), and without them.
    truncated = qemu_like(2).lapic(9, 9)
    truncated.finish(length=len(truncated.data) - 4)
    seeds["hand_truncated_entry_mapped"] = truncated.bytes()
    seeds["hand_truncated_entry"] = truncated.bytes()[:-4]
    seeds["hand_stray_byte"] = Madt().lapic(0, 0).raw(b"\x00").finish().bytes()
    seeds["hand_entry_length_0"] = Madt().lapic(0, 0).raw(b"\x00\x00").lapic(1, 1).finish().bytes()
    seeds["hand_entry_length_1"] = Madt().lapic(0, 0).raw(b"\x01\x01").lapic(1, 1).finish().bytes()
    seeds["hand_short_types"] = (Madt().lapic(0, 0)
                                 .raw(struct.pack("<BBBBH", 0, 6, 1, 1, 1))       # type 0, 6 < 8
                                 .finish().bytes())
    seeds["hand_short_x2apic"] = (Madt().raw(struct.pack("<BBHII", 9, 12, 0, 300, 1))
                                  .finish().bytes())
    seeds["hand_short_override"] = Madt().lapic(0, 0).raw(struct.pack("<BBHI", 5, 8, 0, 1)).finish().bytes()
    seeds["hand_short_nmi"] = Madt().lapic(0, 0).raw(struct.pack("<BBBB", 4, 4, 0xFF, 0)).finish().bytes()
    seeds["hand_short_x2apic_nmi"] = (Madt().x2apic(1).raw(struct.pack("<BBHIH", 10, 10, 0, 1, 1))
                                      .finish().bytes())
    bad_checksum = qemu_like().finish()
    bad_checksum.data[9] ^= 0x01
    seeds["hand_bad_checksum"] = bad_checksum.bytes()
    seeds["hand_duplicate_ids"] = (Madt().lapic(0, 0).lapic(1, 1).lapic(2, 1).lapic(3, 0)
                                   .lapic(4, 2, ONLINE_CAPABLE).lapic(5, 2).finish().bytes())
    seeds["hand_id_ff"] = (Madt().lapic(0, 0).lapic(1, 0xFF).x2apic(0xFF).x2apic(0xFFFFFFFF)
                           .lapic(2, 0xFF, ONLINE_CAPABLE).finish().bytes())
    seeds["hand_x2apic_shadows_lapic"] = (Madt().lapic(0, 0).lapic(1, 5).x2apic(5, uid=77)
                                          .x2apic(300).lapic(2, 0x2C).x2apic(300, ONLINE_CAPABLE)
                                          .finish().bytes())
    seeds["hand_lapic_shadows_x2apic"] = Madt().x2apic(7).lapic(1, 7).lapic(2, 8).finish().bytes()
    seeds["hand_flags_mix"] = (Madt().lapic(0, 0, ENABLED | ONLINE_CAPABLE).lapic(1, 1, ONLINE_CAPABLE)
                               .lapic(2, 2, 0).lapic(3, 3, 0xFFFFFFFF).x2apic(400, ONLINE_CAPABLE)
                               .x2apic(401, 0).finish().bytes())
    seeds["hand_lapic_override"] = (qemu_like(2).lapic_override(0x1_0000_FEE0_0000)
                                    .lapic_override(0xFEE01000).finish().bytes())
    many_nmis = Madt().lapic(0, 0).lapic(1, 1)
    for i in range(24):
        inti = [0, INTI_HIGH_EDGE, INTI_LOW_LEVEL, INTI_RESERVED_POLARITY, INTI_RESERVED_TRIGGER][i % 5]
        if i % 2:
            many_nmis.lapic_nmi([0xFF, 0, 1][i % 3], inti, i % 3)
        else:
            many_nmis.x2apic_nmi(inti, [0xFFFFFFFF, 0, 1, 0xFF][i % 4], i % 3)
    seeds["hand_many_nmis"] = many_nmis.finish().bytes()
    # Entries longer than their type (later ACPI revisions append fields) and unknown types.
    seeds["hand_long_and_unknown_entries"] = (
        Madt().raw(struct.pack("<BBBBI4x", 0, 12, 0, 0, ENABLED))
        .raw(struct.pack("<BBHIII4x", 9, 20, 0, 1000, ENABLED, 1000))
        .raw(struct.pack("<BB10x", 0x7F, 12)).raw(struct.pack("<BB", 0xFF, 2))
        .raw(struct.pack("<BB78x", 11, 80)).raw(struct.pack("<BBBHB2x", 4, 8, 0xFF, 0, 1))
        .finish().bytes())
    # More CPUs than small capacities, with duplicates past them: the re-walk path.
    crowded = Madt()
    for i in range(20):
        crowded.lapic(i, i)
    for i in range(0, 20, 3):
        crowded.x2apic(i)
    seeds["hand_crowded_duplicates"] = crowded.lapic(21, 5).x2apic(19, ONLINE_CAPABLE).finish().bytes()
    # The table is shorter than the bytes mapped: the tail must be ignored.
    seeds["hand_trailing_bytes"] = qemu_like(2).finish().bytes() + b"\x00\x08\x07\x07\x01\x00\x00\x00"
    return seeds


def write(out, name, data):
    path = os.path.join(out, name + ".bin")
    with open(path, "wb") as f:
        f.write(data)
    print(f"{path}: {len(data)} bytes")


def dump_qemu(out, topologies):
    dumper = os.path.join(HERE, "dump_qemu_madt.py")
    for name, qemu_args in topologies.items():
        subprocess.run([sys.executable, dumper, os.path.join(out, name + ".bin"), "--"]
                       + qemu_args, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(HERE, "corpus"))
    parser.add_argument("--qemu", action="store_true", help="re-dump the QEMU tables (TCG)")
    parser.add_argument("--kvm", action="store_true", help="re-dump the x2APIC tables (KVM)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, data in hand_made().items():
        write(args.out, name, data)
    if args.qemu:
        dump_qemu(args.out, QEMU_TOPOLOGIES)
    if args.kvm:
        dump_qemu(args.out, QEMU_KVM_TOPOLOGIES)


if __name__ == "__main__":
    main()
