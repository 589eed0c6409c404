"""Decoding libsmpboot's slot table from a dump of guest memory.

The layout and the names come from the library's own sources, so this
stays in step with them:
  src/core/slot.h        struct smpboot_slot: SMPBOOT_SLOT_OFF_* offsets,
                         SMPBOOT_SLOT_SIZE, enum smpboot_slot_state
  include/smpboot/cpu.h  enum smpboot_progress
  src/core/names.c       smpboot_progress_str(): "APIC 5 stopped after ..."

The minikernel (postmortem=1, or a staged fault) prints, before
smpboot_start():
  minikernel: postmortem: slots_phys is kept at physical 0x...
  minikernel: postmortem: slot <i> apic <a>
The first is where struct smpboot keeps the table's physical address while
a bring-up runs; reading it after the machine stopped gives the table.
"""
import os
import re
import struct

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..'))
HOLDER = re.compile(r'minikernel: postmortem: slots_phys is kept at physical 0x([0-9a-f]+)')
SLOT_LINE = re.compile(r'minikernel: postmortem: slot (\d+) apic (\d+)$')


def _read(relative):
    with open(os.path.join(ROOT, relative), encoding='utf-8') as f:
        return f.read()


def _enum(text, enum_name, prefix):
    body = re.search(r'enum ' + enum_name + r'\s*\{(.*?)\};', text, re.S)
    if not body:
        raise ValueError(f'enum {enum_name} not found')
    values = {}
    for name, value in re.findall(prefix + r'(\w+)\s*=\s*(\d+)', body.group(1)):
        values[int(value)] = name
    return values


class Layout:
    def __init__(self):
        slot_h = _read('src/core/slot.h')
        self.size = int(re.search(r'#define SMPBOOT_SLOT_SIZE (\d+)u', slot_h).group(1))
        self.offsets = {name.lower(): int(value) for name, value in
                        re.findall(r'#define SMPBOOT_SLOT_OFF_(\w+) (\d+)u', slot_h)}
        self.states = _enum(slot_h, 'smpboot_slot_state', 'SMPBOOT_SLOT_')
        self.progress = _enum(_read('include/smpboot/cpu.h'), 'smpboot_progress',
                              'SMPBOOT_PROGRESS_')
        names_c = _read('src/core/names.c')
        self.progress_text = {}
        for name, text in re.findall(r'case SMPBOOT_PROGRESS_(\w+): return "([^"]*)";', names_c):
            for number, enum_name in self.progress.items():
                if enum_name == name:
                    self.progress_text[number] = text

    def state_name(self, value):
        return self.states.get(value, f'unknown({value})')

    def progress_name(self, value):
        return self.progress.get(value, f'unknown({value})')

    def step_text(self, value):
        return self.progress_text.get(value, self.progress_name(value))


def parse_map(lines):
    """(physical address of the slots_phys holder, {slot index: apic id}) from the serial log."""
    holder, slots = None, {}
    for line in lines:
        m = HOLDER.search(line)
        if m:
            holder = int(m.group(1), 16)
        m = SLOT_LINE.search(line)
        if m:
            slots[int(m.group(1))] = int(m.group(2))
    return holder, slots


def decode(layout, data, count):
    """One dict per slot: apic_id, state, progress, stack_top."""
    entries = []
    off = layout.offsets
    for i in range(count):
        base = i * layout.size
        chunk = data[base:base + layout.size]
        if len(chunk) < layout.size:
            break
        word = lambda o: struct.unpack_from('<I', chunk, o)[0]
        entries.append({
            'index': i,
            'apic_id': word(off['apic_id']),
            'state': word(off['state']),
            'progress': word(off['progress']),
            'stack_top': struct.unpack_from('<Q', chunk, off['stack_top'])[0],
        })
    return entries


# Answered (won the slot) but not online: an AP that stopped on the way.
IN_FLIGHT_STATES = ('CLAIMED',)


def postmortem(session, layout=None):
    """Read the slot table out of a stopped guest. Returns (lines, died) where
    died lists (apic, progress value) of every AP caught between answering
    and going online."""
    layout = layout or Layout()
    holder, slot_map = parse_map(session.serial())
    if holder is None:
        return ['post-mortem: the kernel never printed where slots_phys is kept '
                '(boot it with postmortem=1)'], []
    slots_phys = struct.unpack('<Q', session.read_memory(holder, 8))[0]
    if slots_phys == 0:
        return ['post-mortem: slots_phys is 0: no bring-up was running (no slot table)'], []
    count = max(slot_map) + 1 if slot_map else 1
    entries = decode(layout, session.read_memory(slots_phys, count * layout.size), count)
    lines = [f'post-mortem: slot table at 0x{slots_phys:x} (address read at 0x{holder:x}), '
             f'{count} slots']
    died = []
    for e in entries:
        state = layout.state_name(e['state'])
        expected_apic = slot_map.get(e['index'])
        mismatch = '' if expected_apic in (None, e['apic_id']) else \
            f' (the kernel said apic {expected_apic}: wrong table?)'
        lines.append(f'post-mortem:   slot {e["index"]} apic {e["apic_id"]}: state {state}, '
                     f'progress {layout.progress_name(e["progress"])} '
                     f'("{layout.step_text(e["progress"])}"), stack_top {e["stack_top"]:#x}{mismatch}')
        if e['index'] > 0 and state in IN_FLIGHT_STATES:
            died.append((e['apic_id'], e['progress']))
    for apic, progress in died:
        lines.append(f"post-mortem: APIC {apic} died after '{layout.step_text(progress)}' "
                     f'({layout.progress_name(progress)})')
    if not died:
        lines.append('post-mortem: no AP was caught between answering and going online')
    return lines, died


def cpu_registers(session):
    """RIP, RSP, CR0 and the IDT of each vCPU, from the monitor's `info registers -a`."""
    try:
        text = session.qmp.hmp('info registers -a')
    except Exception as error:  # the post-mortem goes on without it
        return [f'post-mortem: info registers failed: {error}']
    lines, cpu = [], None
    fields = {}
    for line in text.splitlines():
        m = re.match(r'CPU#(\d+)', line)
        if m:
            if cpu is not None:
                lines.append(_cpu_line(cpu, fields))
            cpu, fields = int(m.group(1)), {}
            continue
        # A vCPU in 32-bit mode prints EIP and ESP instead of RIP and RSP.
        for key in ('RIP', 'RSP', 'EIP', 'ESP', 'CR0', 'CR4', 'EFL'):
            m = re.search(key + r'=([0-9a-f]+)', line)
            if m and key not in fields:
                fields[key] = m.group(1)
        m = re.match(r'IDT=\s*([0-9a-f]+)\s+([0-9a-f]+)', line)
        if m:
            fields['IDT'] = f'{m.group(1)}/{m.group(2)}'
        if 'HLT=' in line:
            m = re.search(r'HLT=(\d)', line)
            fields['HLT'] = m.group(1) if m else '?'
    if cpu is not None:
        lines.append(_cpu_line(cpu, fields))
    return lines


def _cpu_line(cpu, fields):
    return ('post-mortem:   vCPU ' + str(cpu) + ': ' +
            ' '.join(f'{k}={fields[k]}' for k in ('RIP', 'RSP', 'EIP', 'ESP', 'EFL', 'CR0', 'CR4',
                                                   'IDT', 'HLT') if k in fields))
