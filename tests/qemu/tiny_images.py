"""Tiny Multiboot kernels, a few bytes of 32-bit code each, made on the fly.

QEMU loads them by the Multiboot header's address fields (flag bit 16), so
they need no ELF headers: a 32-byte header at load address 1 MiB, then the
code. kvm_probe.py uses one to see whether KVM runs a guest;
runner_selftest.py uses the others to check that run_qemu.py fails hangs,
triple faults and wrong output.
"""
import struct

MULTIBOOT_MAGIC = 0x1BADB002
MULTIBOOT_ADDRESS_FIELDS = 0x00010000
LOAD_ADDR = 0x100000
HEADER_SIZE = 32
CODE_ADDR = LOAD_ADDR + HEADER_SIZE

# 32-bit machine code pieces.
HALT_FOREVER = bytes([0xFA, 0xF4, 0xEB, 0xFD])   # cli; hlt; jmp back to hlt


def exit_with(value):
    """mov al, value; out 0xf4, al (isa-debug-exit); then halt."""
    return bytes([0xB0, value, 0xE6, 0xF4]) + HALT_FOREVER


def image(code):
    flags = MULTIBOOT_ADDRESS_FIELDS
    checksum = (-(MULTIBOOT_MAGIC + flags)) & 0xFFFFFFFF
    end = CODE_ADDR + len(code)
    header = struct.pack('<8I', MULTIBOOT_MAGIC, flags, checksum,
                         LOAD_ADDR,   # header_addr
                         LOAD_ADDR,   # load_addr
                         end,         # load_end_addr
                         end,         # bss_end_addr
                         CODE_ADDR)   # entry_addr
    return header + code


def exits(value):
    """Writes `value` to isa-debug-exit at once: QEMU exits (value << 1) | 1."""
    return image(exit_with(value))


def hangs():
    """Halts with interrupts off: only a watchdog ends it."""
    return image(HALT_FOREVER)


def triple_faults():
    """Loads an empty IDT and raises #BP: #GP, #DF, then a triple fault."""
    # lidt [CODE_ADDR + 8]; int3; two bytes of padding; 6-byte IDTR of zeros
    idtr_addr = CODE_ADDR + 8
    code = bytes([0x0F, 0x01, 0x1D]) + struct.pack('<I', idtr_addr) + bytes([0xCC])
    return image(code + bytes(6))


def prints_then_exits(text, value):
    """Writes `text` to COM1 byte by byte, then `value` to isa-debug-exit."""
    # mov esi, msg; mov dx, 0x3f8
    # next: lodsb; test al, al; jz done; out dx, al; jmp next
    # done: exit_with(value)
    loop = bytes([0xAC, 0x84, 0xC0, 0x74, 0x03, 0xEE, 0xEB, 0xF8])
    tail = exit_with(value)
    prologue_length = 5 + 4
    message_addr = CODE_ADDR + prologue_length + len(loop) + len(tail)
    code = (bytes([0xBE]) + struct.pack('<I', message_addr) + bytes([0x66, 0xBA, 0xF8, 0x03])
            + loop + tail)
    return image(code + text.encode() + b'\0')
