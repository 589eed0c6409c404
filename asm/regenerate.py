#!/usr/bin/env python3
"""Regenerate the trampoline's committed C files from its NASM source.

    python3 asm/regenerate.py               rewrite the committed files
    python3 asm/regenerate.py --check DIR   write them into DIR and compare

The library compiles two generated files, committed so that a kernel that
vendors include/ and src/ needs only a C compiler:

    src/trampoline/trampoline_blob.c         asm/trampoline.asm, assembled
                                             with nasm -f bin, as a byte array
    src/trampoline/trampoline_asm_offsets.h  the offsets and values that
                                             asm/trampoline_offsets.asm emits,
                                             as #defines

NASM stays the source of truth: after any change under asm/, run the first
command and commit the result. --check (the `trampoline_generated` test)
fails, naming that command, when the committed files are stale.
"""

import argparse
import os
import struct
import subprocess
import sys
import tempfile

ASM_DIR = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(os.path.dirname(ASM_DIR), "src", "trampoline")
BLOB_C = "trampoline_blob.c"
OFFSETS_H = "trampoline_asm_offsets.h"
COMMAND = "python3 asm/regenerate.py"

MARKER = b"SMPBOOT-OFFSETS\0"
NAME_BYTES = 40
RECORD = struct.Struct("<%dsQ" % NAME_BYTES)
BYTES_PER_LINE = 12


def assemble(nasm, source, scratch):
    output = os.path.join(scratch, os.path.basename(source) + ".bin")
    subprocess.run([nasm, "-f", "bin", "-w+all", "-Werror", "-I", ASM_DIR + "/",
                    "-o", output, os.path.join(ASM_DIR, source)], check=True)
    with open(output, "rb") as f:
        return f.read()


def parse_offsets(data):
    """The (name, value) records after the marker that trampoline_offsets.asm appends."""
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


def render_offsets(records):
    lines = [
        "/* SPDX-License-Identifier: MIT */",
        "/* Generated from asm/trampoline_offsets.asm by %s: do not edit. */" % COMMAND,
        "#ifndef SMPBOOT_TRAMPOLINE_ASM_OFFSETS_H",
        "#define SMPBOOT_TRAMPOLINE_ASM_OFFSETS_H",
        "",
    ]
    for name, value in records:
        suffix = "ull" if value > 0xFFFFFFFF else "u"
        lines.append("#define SMPBOOT_TRAMP_ASM_%s %#x%s" % (name, value, suffix))
    lines += ["", "#endif", ""]
    return "\n".join(lines)


def render_blob(blob):
    lines = [
        "/* SPDX-License-Identifier: MIT */",
        "/* Generated from asm/trampoline.asm by %s: do not edit. */" % COMMAND,
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        '#include "tramp_params.h"',
        "",
        "/* The blob (nasm -f bin), copied into the trampoline page by the installer. */",
        "const uint8_t smpboot_trampoline_blob[] = {",
    ]
    for offset in range(0, len(blob), BYTES_PER_LINE):
        chunk = blob[offset:offset + BYTES_PER_LINE]
        lines.append("    " + " ".join("0x%02x," % b for b in chunk))
    lines += [
        "};",
        "",
        "const size_t smpboot_trampoline_blob_size = sizeof(smpboot_trampoline_blob);",
        "",
        "_Static_assert(sizeof(smpboot_trampoline_blob) == SMPBOOT_TRAMP_ASM_BLOB_SIZE,",
        '               "the blob and its offsets come from different assemblies");',
        "",
    ]
    return "\n".join(lines)


def generate(nasm):
    """The two files' contents, by name."""
    with tempfile.TemporaryDirectory() as scratch:
        blob = assemble(nasm, "trampoline.asm", scratch)
        offsets_image = assemble(nasm, "trampoline_offsets.asm", scratch)
    records = parse_offsets(offsets_image)
    sizes = [value for name, value in records if name == "BLOB_SIZE"]
    # trampoline_offsets.asm includes trampoline.asm: same bytes, then the table.
    if sizes != [len(blob)] or offsets_image[:len(blob)] != blob:
        raise ValueError("trampoline_offsets.asm does not start with the blob")
    return {BLOB_C: render_blob(blob), OFFSETS_H: render_offsets(records)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--nasm", default="nasm", help="the assembler (default: nasm)")
    parser.add_argument("--check", metavar="DIR",
                        help="write into DIR and compare with the committed files")
    args = parser.parse_args()

    try:
        files = generate(args.nasm)
    except (OSError, subprocess.CalledProcessError, ValueError) as err:
        sys.stderr.write("regenerate.py: %s\n" % err)
        return 1

    out_dir = args.check or OUT_DIR
    os.makedirs(out_dir, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(out_dir, name), "w") as f:
            f.write(text)
    if not args.check:
        print("wrote %s" % ", ".join(os.path.join(OUT_DIR, name) for name in files))
        return 0

    stale = []
    for name, text in files.items():
        try:
            with open(os.path.join(OUT_DIR, name)) as f:
                committed = f.read()
        except OSError:
            committed = None
        if committed != text:
            stale.append(name)
    if stale:
        sys.stderr.write(
            "STALE: src/trampoline/%s %s not what asm/ assembles to now\n"
            "(fresh copies are in %s). Run\n\n    %s\n\nand commit the result.\n"
            % (" and src/trampoline/".join(stale), "are" if len(stale) > 1 else "is",
               out_dir, COMMAND))
        return 1
    print("src/trampoline/%s and %s match asm/" % (BLOB_C, OFFSETS_H))
    return 0


if __name__ == "__main__":
    sys.exit(main())
