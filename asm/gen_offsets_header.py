#!/usr/bin/env python3
"""Turn the table that asm/trampoline_offsets.asm emits into a C header.

Usage: gen_offsets_header.py OFFSETS_BIN OUTPUT_H

The input is the blob followed by a 16-byte marker and fixed-size records
(a NUL-padded name, then a little-endian u64). Each record becomes
`#define SMPBOOT_TRAMP_ASM_<NAME> <value>u`.
"""

import struct
import sys

MARKER = b"SMPBOOT-OFFSETS\0"
NAME_BYTES = 40
RECORD = struct.Struct("<%dsQ" % NAME_BYTES)


def parse(data):
    start = data.rfind(MARKER)
    if start < 0:
        raise ValueError("offset table marker not found")
    table = data[start + len(MARKER):]
    if not table or len(table) % RECORD.size:
        raise ValueError("offset table has %d bytes, not a whole number of records"
                         % len(table))
    records = []
    for raw_name, value in RECORD.iter_unpack(table):
        name = raw_name.rstrip(b"\0").decode("ascii")
        if not name or not name.replace("_", "").isalnum():
            raise ValueError("bad record name %r" % raw_name)
        records.append((name, value))
    return records


def render(records, source):
    lines = [
        "/* Generated from %s by asm/gen_offsets_header.py: do not edit. */" % source,
        "#ifndef SMPBOOT_TRAMPOLINE_ASM_OFFSETS_H",
        "#define SMPBOOT_TRAMPOLINE_ASM_OFFSETS_H",
        "",
    ]
    for name, value in records:
        lines.append("#define SMPBOOT_TRAMP_ASM_%s %#xu" % (name, value))
    lines += ["", "#endif", ""]
    return "\n".join(lines)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s OFFSETS_BIN OUTPUT_H\n" % argv[0])
        return 2
    with open(argv[1], "rb") as f:
        data = f.read()
    try:
        records = parse(data)
    except ValueError as err:
        sys.stderr.write("%s: %s\n" % (argv[1], err))
        return 1
    with open(argv[2], "w") as f:
        f.write(render(records, "asm/trampoline_offsets.asm"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
