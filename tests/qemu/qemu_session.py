"""One QEMU boot of the minikernel that a runner can watch and stop: the
serial console read line by line, a QMP socket, and a watchdog.

QEMU runs with the contract's options (run_qemu.qemu_command) plus
    -qmp unix:<socket>,server=on,wait=off
    -action reboot=shutdown,shutdown=pause
With -no-reboot (in the contract) a guest reset becomes a shutdown, and
shutdown=pause turns that shutdown into a stop: after a triple fault the
guest stays in memory, paused, for the post-mortem (slot_table.py), instead
of QEMU exiting 0. The kernel's own exit (isa-debug-exit) still ends QEMU
at once.

Every wait here is bounded; close() always leaves no QEMU behind.
"""
import json
import os
import socket
import subprocess
import tempfile
import threading
import time

import run_qemu


def parser_for(description, accel_props=True):
    """An argument parser with the options every guest runner shares."""
    import argparse
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--kernel', required=True)
    parser.add_argument('--qemu', default='qemu-system-x86_64')
    parser.add_argument('--accel', default='tcg', choices=['tcg', 'kvm'])
    if accel_props:
        parser.add_argument('--accel-props', default='')
    return parser

STOPPED_STATES = ('shutdown', 'guest-panicked', 'internal-error', 'paused', 'io-error')


class QmpError(Exception):
    pass


class Qmp:
    """A minimal QMP client: one command at a time, events kept in order."""

    def __init__(self, path, deadline):
        self.events = []
        self.sock = None
        while True:
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(path)
                self.sock = sock
                break
            except OSError:
                sock.close()
                if time.monotonic() >= deadline:
                    raise QmpError(f'no QMP socket at {path}')
                time.sleep(0.02)
        self.sock.settimeout(5.0)
        self.buffer = b''
        self._read_message()  # the greeting
        self.command('qmp_capabilities')

    def _read_message(self):
        while b'\n' not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout as timeout:
                raise QmpError('QMP did not answer within 5 s') from timeout
            except OSError as error:
                raise QmpError(f'QMP connection lost: {error}') from error
            if not chunk:
                raise QmpError('QMP closed the connection')
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b'\n', 1)
        return json.loads(line)

    def command(self, name, **arguments):
        message = {'execute': name}
        if arguments:
            message['arguments'] = arguments
        try:
            self.sock.sendall(json.dumps(message).encode() + b'\n')
        except OSError as error:
            raise QmpError(f'QMP send failed: {error}') from error
        while True:
            reply = self._read_message()
            if 'event' in reply:
                self.events.append(reply)
                continue
            if 'error' in reply:
                raise QmpError(f'{name}: {reply["error"].get("desc", reply["error"])}')
            return reply.get('return')

    def hmp(self, line):
        return self.command('human-monitor-command', **{'command-line': line})

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None


class Session:
    """Start QEMU; read its serial console in a thread; talk QMP."""

    def __init__(self, args, timeout):
        self.tmp = tempfile.TemporaryDirectory(prefix='smpboot-qmp-')
        self.qmp_path = os.path.join(self.tmp.name, 'qmp.sock')
        self.command = run_qemu.qemu_command(args) + [
            '-qmp', f'unix:{self.qmp_path},server=on,wait=off',
            '-action', 'reboot=shutdown,shutdown=pause']
        self.start = time.monotonic()
        self.deadline = self.start + timeout
        self.lines = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read_serial, daemon=True)
        self.reader.start()
        self.qmp = None
        try:
            self.qmp = Qmp(self.qmp_path, self.deadline)
        except (QmpError, OSError, ValueError):
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise

    def _read_serial(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors='replace').rstrip('\r\n')
            with self.lock:
                self.lines.append(line)

    def serial(self):
        with self.lock:
            return list(self.lines)

    def seen(self, needle):
        with self.lock:
            return any(needle in line for line in self.lines)

    def time_left(self):
        return self.deadline - time.monotonic()

    def exit_status(self):
        return self.proc.poll()

    def run_state(self):
        """QEMU's run state ('running', 'shutdown', ...), or None once QEMU is gone."""
        if self.proc.poll() is not None:
            return None
        try:
            return self.qmp.command('query-status')['status']
        except QmpError:
            return None if self.proc.poll() is not None else 'unknown'

    def wait_until_done(self, poll=0.05):
        """'exited', 'stopped' (paused after a shutdown or panic) or 'hang'."""
        while self.time_left() > 0:
            if self.proc.poll() is not None:
                return 'exited'
            state = self.run_state()
            if state in STOPPED_STATES:
                return 'stopped'
            time.sleep(poll)
        return 'exited' if self.proc.poll() is not None else 'hang'

    def read_memory(self, phys, size):
        """Guest physical memory, through QMP pmemsave into a file of our own."""
        path = os.path.join(self.tmp.name, f'mem-{phys:x}-{size}.bin')
        self.qmp.command('pmemsave', val=phys, size=size, filename=path)
        with open(path, 'rb') as f:
            return f.read()

    def stderr_text(self):
        if self.proc.poll() is None:
            return ''
        return self.proc.stderr.read().decode(errors='replace')

    def close(self):
        """Quit QEMU (politely, then by force), always within a few seconds."""
        if self.proc.poll() is None and self.qmp is not None:
            try:
                self.qmp.command('quit')
            except QmpError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.qmp is not None:
            self.qmp.close()
        self.reader.join(timeout=5)
        self.seconds = time.monotonic() - self.start
        self.tmp.cleanup()
