#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Builds a tiny kernel that consumes libsmpboot one way, from a clean copy of
the tree, the way an outside kernel would (README, "Integrating").

Paths:
  meson        subprojects/libsmpboot + dependency('libsmpboot'), no -D options
  meson-cross  the same with a cross file that names no nasm (system 'none')
  make         vendored sources through libsmpboot.mk: code models KERNEL, SMALL, PIE
  installed    meson install into a temporary prefix, then pkg-config
  cmake        vendored sources through libsmpboot.cmake
  lists        libsmpboot.mk's and libsmpboot.cmake's lists equal Meson's
  private-headers  a kernel's own arch/arch.h (etc.) first on the include path
  version      version.h, project() and SMPBOOT_VERSION agree; a mismatch stops Meson

The tree copy is the working tree's files as git lists them (tracked and
untracked, minus ignored), so uncommitted work is tested too. Each build runs
on a simulated minimal machine: a fresh environment whose PATH holds only the
tools that path needs, so CMocka, valgrind, QEMU, NASM and Python are out of
sight unless listed.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
KERNEL_SOURCES = [os.path.join(HERE, 'kernel', name) for name in ('main.c', 'libc.c')]
TOOLCHAIN = ['gcc', 'cc', 'as', 'ld', 'ld.bfd', 'ar', 'ranlib', 'nm', 'readelf', 'objcopy',
             'strip', 'sh', 'mkdir', 'rm', 'cat', 'ln']
HIGHER_HALF = '0xffffffff80100000'
# What a library-only configure must not look up: the test tools, and NASM
# (the library builds from the committed C blob).
TEST_TOOLS = r'cmocka|valgrind|qemu|kvm|spin|nasm'


class ConsumerError(Exception):
    pass


def copy_tree(source_root, dest):
    """Copies the files git lists for the working tree (not the build dirs)."""
    listing = subprocess.run(
        ['git', '-C', source_root, 'ls-files', '--cached', '--others', '--exclude-standard', '-z'],
        check=True, stdout=subprocess.PIPE).stdout.decode()
    copied = 0
    for rel in filter(None, listing.split('\0')):
        src = os.path.join(source_root, rel)
        if not os.path.lexists(src):
            continue   # deleted in the working tree, not yet committed
        if os.path.isdir(src) and not os.path.islink(src):
            continue   # a nested repository
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)
        copied += 1
    if copied == 0:
        raise ConsumerError('git listed no file under ' + source_root)


def minimal_env(work, tools, extra=None):
    """A fresh environment (like env -i) whose PATH holds only `tools`."""
    bindir = os.path.join(work, 'minbin')
    os.makedirs(bindir, exist_ok=True)
    for tool in tools:
        found = shutil.which(tool)
        if found is None:
            raise ConsumerError(f'{tool} not found: this test needs it (dev.sh installs it)')
        link = os.path.join(bindir, tool)
        if not os.path.lexists(link):
            os.symlink(os.path.realpath(found), link)
    env = {'PATH': bindir, 'HOME': work, 'LC_ALL': 'C'}
    env.update(extra or {})
    return env


def run(cmd, env, cwd, expect_failure=False):
    print('$ ' + ' '.join(cmd), flush=True)
    result = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if (result.returncode == 0) == expect_failure:
        sys.stdout.write(result.stdout)
        state = 'succeeded, but must fail' if expect_failure else f'failed ({result.returncode})'
        raise ConsumerError(f'{cmd[0]} {state}')
    return result.stdout


def absolute_tool(name):
    found = shutil.which(name)
    if found is None:
        raise ConsumerError(f'{name} not found: this test needs it (dev.sh installs it)')
    return os.path.realpath(found) if name != 'meson' else found


def check_kernel(elf, env, cwd, base=None, pie=False):
    """The image holds the library and sits where its link put it."""
    symbols = run(['nm', elf], env, cwd)
    addresses = {}
    for line in symbols.splitlines():
        fields = line.split()
        if len(fields) == 3:
            addresses[fields[2]] = int(fields[0], 16)
    for needed in ('consumer_main', 'smpboot_start', 'smpboot_ap_main', 'smpboot_madt_parse'):
        if needed not in addresses:
            raise ConsumerError(f'{elf}: {needed} missing: the library was not linked in')
    if base is not None and addresses['consumer_main'] < int(base, 16):
        raise ConsumerError(f'{elf}: linked at {addresses["consumer_main"]:#x}, below {base}')
    if pie:
        header = run(['readelf', '-h', elf], env, cwd)
        if not re.search(r'Type:\s+DYN', header):
            raise ConsumerError(f'{elf}: not position-independent')
        relocations = run(['readelf', '-r', elf], env, cwd)
        if 'There are no relocations in this file' not in relocations:
            sys.stdout.write(relocations)
            raise ConsumerError(f'{elf}: runtime relocations: a PIE kernel would have to apply them')
    print(f'ok: {elf}', flush=True)


def place_kernel_sources(dest):
    os.makedirs(dest, exist_ok=True)
    for path in KERNEL_SOURCES:
        shutil.copy(path, dest)


def path_meson(args, work, cross):
    consumer = os.path.join(work, 'consumer')
    place_kernel_sources(consumer)
    shutil.copy(os.path.join(HERE, 'meson', 'meson.build'), consumer)
    copy_tree(args.source_root, os.path.join(consumer, 'subprojects', 'libsmpboot'))
    # No pkg-config, cmake, nasm, python3, cmocka, valgrind or QEMU in sight:
    # Meson runs on its own interpreter.
    env = minimal_env(work, TOOLCHAIN + ['ninja'])
    setup = [absolute_tool('meson'), 'setup', 'build']
    if cross:
        cross_file = os.path.join(work, 'kernel-cross.ini')
        with open(cross_file, 'w') as f:
            f.write("[binaries]\nc = 'gcc'\nar = 'ar'\nstrip = 'strip'\n\n"
                    "[host_machine]\nsystem = 'none'\ncpu_family = 'x86_64'\n"
                    "cpu = 'x86_64'\nendian = 'little'\n")
        setup += ['--cross-file', cross_file]
    log = run(setup, env, consumer)
    # Only the library: no test, no example kernel, nothing probed for them.
    # ("Dependency cmocka skipped: feature tests disabled" is no lookup.)
    for line in log.splitlines():
        if 'skipped' not in line and re.search(TEST_TOOLS, line, re.I):
            sys.stdout.write(log)
            raise ConsumerError('the subproject configure looked up a test tool: ' + line)
    run(['ninja', '-C', 'build'], env, consumer)
    check_kernel(os.path.join(consumer, 'build', 'kernel.elf'), env, consumer, base=HIGHER_HALF)
    if not cross:
        check_parent_options(env, consumer)
    listed = subprocess.run([absolute_tool('meson'), 'test', '-C', 'build', '--list'], env=env,
                            cwd=consumer, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True).stdout
    tests = [line for line in listed.splitlines()
             if line.strip() and 'No tests defined' not in line and 'no work to do' not in line]
    if tests:
        raise ConsumerError('the subproject registered tests in the consumer:\n' + listed)


def library_compile_args(env, consumer):
    targets = json.loads(run([absolute_tool('meson'), 'introspect', '--targets', 'build'], env,
                             consumer))
    for target in targets:
        if target['name'] == 'smpboot' and target['type'] == 'static library':
            return [arg for source in target['target_sources'] if source['language'] == 'c'
                    for arg in source['parameters']]
    raise ConsumerError('the consumer build has no libsmpboot archive')


def check_parent_options(env, consumer):
    """The parent's werror reaches the library; its buildtype does not."""
    if '-Werror' not in library_compile_args(env, consumer):
        raise ConsumerError('the library lost its default -Werror')
    run([absolute_tool('meson'), 'configure', 'build', '-Dlibsmpboot:werror=false',
         '-Dbuildtype=debug'], env, consumer)
    run([absolute_tool('meson'), 'setup', '--reconfigure', 'build'], env, consumer)
    library_args = library_compile_args(env, consumer)
    if '-Werror' in library_args:
        raise ConsumerError('-Dlibsmpboot:werror=false left -Werror on the library')
    if '-O2' not in library_args or '-O0' in library_args:
        raise ConsumerError('a -O0 parent changed the library\'s -O2: ' + ' '.join(library_args))
    run(['ninja', '-C', 'build'], env, consumer)
    print('ok: werror=false reaches the library; buildtype=debug leaves it at -O2', flush=True)


def path_make(args, work):
    consumer = os.path.join(work, 'consumer')
    place_kernel_sources(consumer)
    shutil.copy(os.path.join(HERE, 'make', 'Makefile'), consumer)
    copy_tree(args.source_root, os.path.join(consumer, 'vendor', 'libsmpboot'))
    env = minimal_env(work, TOOLCHAIN + ['make'])
    # [model, image, link flags, lowest address, position-independent, must fail]
    links = [
        ['KERNEL', 'kernel.elf', '-static -no-pie -Wl,-Ttext=' + HIGHER_HALF, HIGHER_HALF, False],
        ['KERNEL', 'low.elf', '-static -no-pie -Wl,-Ttext=0x100000', '0x100000', False],
        ['SMALL', 'kernel.elf', '-static -no-pie -Wl,-Ttext=0x100000', '0x100000', False],
        ['PIE', 'kernel.elf', '-static-pie', None, True],
        # A non-PIE link far from 0 keeps the GOT the -fpie code addresses
        # through (ld would otherwise rewrite it to a 32-bit absolute).
        ['PIE', 'high.elf', '-static -no-pie -Wl,--no-relax -Wl,-Ttext=0xffff800000100000',
         '0xffff800000100000', False],
    ]
    for model, image, link_flags, base, pie in links:
        out = 'out-' + model.lower()
        run(['make', '-j2', 'MODEL=' + model, 'O=' + out, 'IMAGE=' + image,
             'LINK_FLAGS=-nostdlib ' + link_flags], env, consumer)
        check_kernel(os.path.join(consumer, out, image), env, consumer, base=base, pie=pie)
    # The code-model table's limit, shown: the small archive cannot go to the top 2 GiB.
    message = run(['make', 'MODEL=SMALL', 'O=out-small', 'IMAGE=high.elf',
                   'LINK_FLAGS=-nostdlib -static -no-pie -Wl,-Ttext=' + HIGHER_HALF],
                  env, consumer, expect_failure=True)
    if 'relocation truncated to fit' not in message:
        sys.stdout.write(message)
        raise ConsumerError('the small model at the top 2 GiB failed for another reason')
    print('ok: the small archive does not link in the top 2 GiB, as documented', flush=True)
    # clang's -Wcast-align is the one that speaks on x86.
    env = minimal_env(work, ['clang'], {'PATH': env['PATH']})
    run(['make', '-j2', 'CC=clang', 'MODEL=KERNEL', 'O=out-clang',
         'WARNINGS=-Wall -Wextra -Wcast-align -Werror'], env, consumer)
    check_kernel(os.path.join(consumer, 'out-clang', 'kernel.elf'), env, consumer, base=HIGHER_HALF)


def pkg_config_lines(env, cwd, *query):
    return run(['pkg-config'] + list(query) + ['libsmpboot'], env, cwd).strip()


def path_installed(args, work):
    tree = os.path.join(work, 'libsmpboot')
    copy_tree(args.source_root, tree)
    prefix = os.path.join(work, 'prefix')
    env = minimal_env(work, TOOLCHAIN + ['ninja'])
    meson = absolute_tool('meson')
    run([meson, 'setup', 'build', '--prefix', prefix, '-Dtests=disabled', '-Dminikernel=disabled'],
        env, tree)
    run([meson, 'install', '-C', 'build'], env, tree)
    pc_files = [os.path.join(root, name) for root, _, names in os.walk(prefix)
                for name in names if name == 'libsmpboot.pc']
    if len(pc_files) != 1:
        raise ConsumerError(f'expected one libsmpboot.pc under {prefix}, found {pc_files}')
    # Only the installed prefix is visible to pkg-config.
    empty = os.path.join(work, 'no-system-pc')
    os.makedirs(empty, exist_ok=True)
    env = minimal_env(work, ['pkg-config'], {'PKG_CONFIG_PATH': os.path.dirname(pc_files[0]),
                                             'PKG_CONFIG_LIBDIR': empty})
    cflags = pkg_config_lines(env, work, '--cflags').split()
    libs = pkg_config_lines(env, work, '--libs').split()
    version = pkg_config_lines(env, work, '--modversion')
    code_model = pkg_config_lines(env, work, '--variable=code_model')
    archive_cflags = pkg_config_lines(env, work, '--variable=archive_cflags')
    print(f'pkg-config: cflags {cflags} libs {libs} version {version} code_model {code_model} '
          f'archive_cflags {archive_cflags}', flush=True)
    header = open(os.path.join(args.source_root, 'include', 'smpboot', 'version.h')).read()
    numbers = [re.search(rf'#define SMPBOOT_VERSION_{part} (\d+)', header).group(1)
               for part in ('MAJOR', 'MINOR', 'PATCH')]
    if version != '.'.join(numbers):
        raise ConsumerError(f'libsmpboot.pc says version {version}, version.h {".".join(numbers)}')
    if (code_model != 'kernel' or '-mcmodel=kernel' not in archive_cflags.split()
            or '\\' in archive_cflags):
        raise ConsumerError('libsmpboot.pc does not state the kernel code model it was built with')
    consumer = os.path.join(work, 'consumer')
    place_kernel_sources(consumer)
    kernel_cflags = ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-ffreestanding',
                     '-mno-red-zone', '-mgeneral-regs-only', '-fno-stack-protector',
                     '-fno-pic', '-fno-pie', '-mcmodel=kernel']
    for name in ('main', 'libc'):
        run(['gcc'] + kernel_cflags + cflags + ['-c', '-o', name + '.o', name + '.c'], env, consumer)
    run(['gcc', '-nostdlib', '-static', '-no-pie', '-Wl,-Ttext=' + HIGHER_HALF,
         '-Wl,-e,consumer_main', '-o', 'kernel.elf', 'main.o', 'libc.o'] + libs, env, consumer)
    check_kernel(os.path.join(consumer, 'kernel.elf'), env, consumer, base=HIGHER_HALF)


def path_cmake(args, work):
    consumer = os.path.join(work, 'consumer')
    place_kernel_sources(consumer)
    shutil.copy(os.path.join(HERE, 'cmake', 'CMakeLists.txt'), consumer)
    copy_tree(args.source_root, os.path.join(consumer, 'vendor', 'libsmpboot'))
    env = minimal_env(work, TOOLCHAIN + ['cmake', 'make'])
    run(['cmake', '-S', '.', '-B', 'build', '-G', 'Unix Makefiles'], env, consumer)
    run(['cmake', '--build', 'build', '-j', '2'], env, consumer)
    check_kernel(os.path.join(consumer, 'build', 'kernel.elf'), env, consumer, base=HIGHER_HALF)


def relative_set(paths, root, what):
    names = [os.path.relpath(os.path.realpath(p), os.path.realpath(root)) for p in paths]
    if len(set(names)) != len(names):
        raise ConsumerError(f'{what} lists a file twice: {sorted(names)}')
    return set(names)


def compare(what, got, want):
    if got != want:
        raise ConsumerError(f'{what} differs from Meson: missing {sorted(want - got)}, '
                            f'extra {sorted(got - want)}')
    print(f'ok: {what} equals Meson\'s', flush=True)


def path_lists(args, work):
    root = args.source_root
    env = minimal_env(work, ['make', 'cmake', 'sh'])
    meson_sources = relative_set([p for p in args.meson_sources if p.endswith('.c')], root,
                                 'Meson')
    if args.meson_objects:
        raise ConsumerError('Meson links prebuilt objects that the plain-source lists cannot '
                            f'name: {args.meson_objects}')
    meson_flags = {'': args.meson_c_args.split()}
    for spec in args.meson_model:
        model, flags = spec.split('=', 1)
        meson_flags[model.upper()] = flags.split()

    probe = os.path.join(work, 'probe.mk')
    with open(probe, 'w') as f:
        f.write(f'include {root}/libsmpboot.mk\n'
                'print:\n'
                '\t@echo "SRCS $(LIBSMPBOOT_SRCS)"\n'
                '\t@echo "INCLUDES $(LIBSMPBOOT_INCLUDES)"\n'
                '\t@echo "FLAGS $(LIBSMPBOOT_CFLAGS)"\n'
                + ''.join(f'\t@echo "FLAGS_{m} $(LIBSMPBOOT_CFLAGS_{m})"\n'
                          for m in meson_flags if m))
    make_vars = parse_probe(run(['make', '-s', '-f', probe, 'print'], env, work))

    probe = os.path.join(work, 'probe.cmake')
    with open(probe, 'w') as f:
        f.write(f'include({root}/libsmpboot.cmake)\n'
                'message(STATUS "SRCS ${LIBSMPBOOT_SOURCES}")\n'
                'message(STATUS "INCLUDES ${LIBSMPBOOT_INCLUDES}")\n'
                'message(STATUS "FLAGS ${LIBSMPBOOT_COMPILE_OPTIONS}")\n'
                + ''.join(f'message(STATUS "FLAGS_{m} ${{LIBSMPBOOT_COMPILE_OPTIONS_{m}}}")\n'
                          for m in meson_flags if m))
    cmake_output = run(['cmake', '-P', probe], env, work).replace('-- ', '').replace(';', ' ')
    cmake_vars = parse_probe(cmake_output)

    for name, found in (('libsmpboot.mk', make_vars), ('libsmpboot.cmake', cmake_vars)):
        compare(name + ' sources', relative_set(found['SRCS'], root, name), meson_sources)
        for path in found['SRCS']:
            if not os.path.isfile(path):
                raise ConsumerError(f'{name} lists {path}, which does not exist')
        includes = relative_set(found['INCLUDES'], root, name)
        if includes != {'include'}:
            raise ConsumerError(f'{name}: public includes {sorted(includes)}, not ["include"]')
        for model, flags in meson_flags.items():
            key = 'FLAGS_' + model if model else 'FLAGS'
            if found[key] != flags:
                raise ConsumerError(f'{name} {key} = {found[key]}, Meson uses {flags}')
        print(f'ok: {name} flags equal Meson\'s', flush=True)


def parse_probe(output):
    found = {}
    for line in output.splitlines():
        words = line.split()
        if words:
            found[words[0]] = words[1:]
    return found


def path_private_headers(args, work):
    """A kernel's include folder first on the path must not hijack the library's
    private headers (the kernel's arch/arch.h is not the library's)."""
    root = args.source_root
    kinc = os.path.join(work, 'kinc')
    private = []
    for folder, _, names in os.walk(os.path.join(root, 'src')):
        for name in names:
            if name.endswith('.h'):
                rel = os.path.relpath(os.path.join(folder, name), os.path.join(root, 'src'))
                private.append(rel)
                for shadow in (rel, name):   # "arch/arch.h" and plain "arch.h"
                    path = os.path.join(kinc, shadow)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, 'w') as f:
                        f.write(f'#error "the kernel\'s own {shadow} was included"\n')
    env = minimal_env(work, TOOLCHAIN)
    flags = ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-ffreestanding', '-mno-red-zone',
             '-mgeneral-regs-only', '-fno-stack-protector', '-fno-pic', '-fno-pie', '-mcmodel=kernel',
             '-I' + kinc, '-I' + os.path.join(root, 'include'), '-I' + os.path.join(root, 'src')]
    sources = [p for p in args.meson_sources if p.endswith('.c')]
    failures = []
    for source in sources:
        result = subprocess.run(['gcc'] + flags + ['-c', '-o', os.devnull, source], env=env,
                                cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        if result.returncode != 0:
            failures.append(os.path.relpath(source, root))
            first_error = next((line for line in result.stdout.splitlines() if 'error' in line),
                               result.stdout.strip())
            print(first_error)
    print(f'{len(sources)} sources, {len(private)} private headers shadowed, '
          f'{len(failures)} sources took the kernel\'s header', flush=True)
    if failures:
        raise ConsumerError('private includes resolve through the include path: '
                            + ', '.join(failures))


def path_version(args, work):
    """version.h and project() agree, SMPBOOT_VERSION packs them, and a
    mismatch stops the configure with a message naming both."""
    root = args.source_root
    header_path = os.path.join(root, 'include', 'smpboot', 'version.h')
    header = open(header_path).read()
    numbers = [int(re.search(rf'#define SMPBOOT_VERSION_{part} (\d+)', header).group(1))
               for part in ('MAJOR', 'MINOR', 'PATCH')]
    project = re.search(r"version: '([^']+)'", open(os.path.join(root, 'meson.build')).read())
    if project is None or project.group(1) != '.'.join(map(str, numbers)):
        raise ConsumerError(f'meson.build version {project and project.group(1)} != version.h {numbers}')
    env = minimal_env(work, TOOLCHAIN + ['ninja'])
    packed = numbers[0] * 10000 + numbers[1] * 100 + numbers[2]
    probe = os.path.join(work, 'probe.c')
    with open(probe, 'w') as f:
        f.write('#include <smpboot/version.h>\n'
                f'_Static_assert(SMPBOOT_VERSION == {packed}, "SMPBOOT_VERSION packing");\n')
    run(['gcc', '-std=c11', '-Wall', '-Wextra', '-Wundef', '-Werror', '-I',
         os.path.join(root, 'include'), '-c', '-o', os.devnull, probe], env, work)
    print(f'ok: SMPBOOT_VERSION is {packed}', flush=True)

    tree = os.path.join(work, 'libsmpboot')
    copy_tree(root, tree)
    bumped = numbers[2] + 1
    with open(os.path.join(tree, 'include', 'smpboot', 'version.h'), 'w') as f:
        f.write(re.sub(r'(#define SMPBOOT_VERSION_PATCH) \d+', rf'\g<1> {bumped}', header))
    message = run([absolute_tool('meson'), 'setup', 'build', '-Dtests=disabled',
                   '-Dminikernel=disabled'], env, tree, expect_failure=True)
    wanted = f'version.h says {numbers[0]}.{numbers[1]}.{bumped} but project() says'
    if wanted not in message:
        sys.stdout.write(message)
        raise ConsumerError('a version mismatch did not stop the configure with its message')
    print('ok: a version.h that disagrees with project() stops the configure', flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('path', choices=['meson', 'meson-cross', 'make', 'installed', 'cmake',
                                         'lists', 'private-headers', 'version'])
    parser.add_argument('--source-root', required=True)
    parser.add_argument('--work', help='keep the consumer here (default: a temporary folder)')
    parser.add_argument('--meson-sources', nargs='*', default=[])
    parser.add_argument('--meson-objects', nargs='*', default=[])
    parser.add_argument('--meson-c-args', default='')
    parser.add_argument('--meson-model', action='append', default=[], help='MODEL=flags')
    args = parser.parse_args()
    args.source_root = os.path.realpath(args.source_root)

    paths = {
        'meson': lambda work: path_meson(args, work, cross=False),
        'meson-cross': lambda work: path_meson(args, work, cross=True),
        'make': lambda work: path_make(args, work),
        'installed': lambda work: path_installed(args, work),
        'cmake': lambda work: path_cmake(args, work),
        'lists': lambda work: path_lists(args, work),
        'private-headers': lambda work: path_private_headers(args, work),
        'version': lambda work: path_version(args, work),
    }
    try:
        if args.work:
            shutil.rmtree(args.work, ignore_errors=True)
            os.makedirs(args.work)
            paths[args.path](os.path.realpath(args.work))
        else:
            with tempfile.TemporaryDirectory(prefix='smpboot-consumer-') as work:
                paths[args.path](work)
    except (ConsumerError, subprocess.CalledProcessError) as error:
        print(f'FAIL ({args.path}): {error}', file=sys.stderr)
        return 1
    print(f'PASS ({args.path})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
