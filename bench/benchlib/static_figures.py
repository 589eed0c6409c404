"""Sizes that do not need a boot: the trampoline blob and libsmpboot.a;
and, from the boots, the memory the library borrows."""
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

PAGE = 4096
BLOB_SYMBOL = 'smpboot_trampoline_blob'


@dataclass
class StaticFigures:
    blob_bytes_header: Optional[int] = None   # SMPBOOT_TRAMP_ASM_BLOB_SIZE
    blob_bytes_symbol: Optional[int] = None   # nm -S of the blob symbol
    size_totals: Dict[str, int] = field(default_factory=dict)     # size -t: text data bss
    section_bytes: Dict[str, int] = field(default_factory=dict)   # size -A, by section kind
    notes: List[str] = field(default_factory=list)


def run(command) -> Optional[str]:
    try:
        return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def source_dir(build_dir: str) -> Optional[str]:
    try:
        with open(os.path.join(build_dir, 'meson-info', 'meson-info.json')) as f:
            return json.load(f)['directories']['source']
    except (OSError, ValueError, KeyError):
        return None


def measure(build_dir: str) -> StaticFigures:
    figures = StaticFigures()
    # Generated into the build once; now committed in the source tree (src/trampoline/).
    relative = os.path.join('src', 'trampoline', 'trampoline_asm_offsets.h')
    header = os.path.join(build_dir, relative)
    if not os.path.isfile(header) and source_dir(build_dir):
        header = os.path.join(source_dir(build_dir), relative)
    try:
        with open(header) as f:
            m = re.search(r'#define SMPBOOT_TRAMP_ASM_BLOB_SIZE (0x[0-9a-fA-F]+|\d+)u?', f.read())
        if m:
            figures.blob_bytes_header = int(m[1], 0)
    except OSError:
        figures.notes.append(f'no {header}')

    library = os.path.join(build_dir, 'libsmpboot.a')
    if not os.path.isfile(library):
        figures.notes.append(f'no {library}')
        return figures
    symbols = run(['nm', '-S', library]) or ''
    for line in symbols.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == BLOB_SYMBOL:
            figures.blob_bytes_symbol = int(parts[1], 16)

    # Berkeley format: "text" includes read-only data.
    totals = run(['size', '-t', library]) or ''
    for line in totals.splitlines():
        parts = line.split()
        if parts and parts[-1] == '(TOTALS)':
            figures.size_totals = {'text': int(parts[0]), 'data': int(parts[1]),
                                   'bss': int(parts[2])}
    # System V format, per section: separate code from read-only data.
    sections = run(['size', '-A', library]) or ''
    kinds = {'.text': 'text', '.rodata': 'rodata', '.data': 'data', '.bss': 'bss'}
    for line in sections.splitlines():
        parts = line.split()
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        for prefix, kind in kinds.items():
            if parts[0] == prefix or parts[0].startswith(prefix + '.'):
                figures.section_bytes[kind] = figures.section_bytes.get(kind, 0) + int(parts[1])
    return figures


@dataclass
class Borrowed:
    per_ap_pages: Optional[float]
    fixed_pages: Optional[float]
    samples: List[Tuple[int, int, int]]  # (cpus, pages held during bring-up, after finish)


def borrowed_memory(samples: List[Tuple[int, int, int]]) -> Borrowed:
    """Pages held = fixed + per_ap * APs: fit through the smallest and largest count."""
    by_cpus = {}
    for cpus, held, after in samples:
        if cpus >= 2:
            by_cpus[cpus] = max(by_cpus.get(cpus, (0, 0)), (held, after))
    points = sorted((c, h, a) for c, (h, a) in by_cpus.items())
    if len(points) < 2:
        return Borrowed(None, None, points)
    (c0, h0, _), (c1, h1, _) = points[0], points[-1]
    per_ap = (h1 - h0) / (c1 - c0)
    return Borrowed(per_ap, h0 - per_ap * (c0 - 1), points)
