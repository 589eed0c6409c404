#!/usr/bin/env python3
"""Build the libFuzzer target with clang, for meson's custom_target.

The project's C compiler is gcc, which has no libFuzzer, so this calls clang
directly on the harness and the MADT sources. It writes a depfile so that
ninja rebuilds when a header changes.

A build that cannot happen (no clang, no libFuzzer runtime, a compile error)
does not stop the whole project's build: the reason goes to stderr and to the
build log, the fuzzer binary is left absent, and the fuzz tests then fail
with that reason (tests/fuzz/run_fuzz.py). Ninja re-runs this step while the
binary is absent, so installing the missing package is enough.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

CLANG_NAMES = ["clang-14", "clang"]
SANITIZE = ["-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all"]
# Debian ships these in libclang-rt-14-dev (recommended, not required, by clang).
RUNTIME_LIBRARIES = ["libclang_rt.fuzzer-x86_64.a", "libclang_rt.asan-x86_64.a",
                     "libclang_rt.ubsan_standalone-x86_64.a"]
RUNTIME_PACKAGE = "libclang-rt-14-dev"
C_FLAGS = ["-std=c11", "-O1", "-g", "-fno-omit-frame-pointer",
           "-Wall", "-Wextra", "-Werror"]


class BuildError(Exception):
    pass


def find_clang(requested):
    names = [requested] if requested else CLANG_NAMES
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise BuildError(f"no clang found (looked for {', '.join(names)}); "
                     "install Debian's clang (clang-14)")


def check_runtime(clang):
    missing = []
    for library in RUNTIME_LIBRARIES:
        found = subprocess.run([clang, f"-print-file-name={library}"], capture_output=True,
                               text=True).stdout.strip()
        # clang echoes the bare name back when it has no such file.
        if not os.path.isabs(found) or not os.path.exists(found):
            missing.append(library)
    if missing:
        raise BuildError(f"clang's sanitizer/libFuzzer runtime is missing ({', '.join(missing)}); "
                         f"install Debian's {RUNTIME_PACKAGE}")


def run(command, log):
    log.append("$ " + shlex.join(command))
    result = subprocess.run(command, capture_output=True, text=True)
    log.append(result.stdout + result.stderr)
    if result.returncode != 0:
        raise BuildError(f"{os.path.basename(command[0])} failed (exit {result.returncode}):\n"
                         + result.stdout + result.stderr)


def merge_depfiles(depfiles, target):
    """One make-style rule for the binary, listing every header of every source."""
    dependencies = []
    for path in depfiles:
        with open(path) as f:
            text = f.read().replace("\\\n", " ")
        _, _, prerequisites = text.partition(":")
        for name in prerequisites.split():
            if name not in dependencies:
                dependencies.append(name)
    escaped = [name.replace(" ", "\\ ") for name in dependencies]
    return f"{target}: " + " ".join(escaped) + "\n"


def build(args, log):
    clang = find_clang(args.clang)
    version = subprocess.run([clang, "--version"], capture_output=True, text=True).stdout
    log.append(version.splitlines()[0] if version else clang)
    check_runtime(clang)

    includes = [f"-I{directory}" for directory in args.include]
    with tempfile.TemporaryDirectory(prefix="fuzz-build-") as workdir:
        objects, depfiles = [], []
        for index, source in enumerate(args.sources):
            stem = f"{index}-{os.path.splitext(os.path.basename(source))[0]}"
            obj = os.path.join(workdir, stem + ".o")
            depfile = os.path.join(workdir, stem + ".d")
            run([clang] + C_FLAGS + SANITIZE + includes
                + ["-MMD", "-MF", depfile, "-c", source, "-o", obj], log)
            objects.append(obj)
            depfiles.append(depfile)
        partial = args.output + ".partial"
        run([clang] + SANITIZE + objects + ["-o", partial], log)
        os.replace(partial, args.output)
        with open(args.depfile, "w") as f:
            f.write(merge_depfiles(depfiles, args.output))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clang", help="compiler to use (default: clang-14, then clang)")
    parser.add_argument("--output", required=True, help="the fuzzer binary")
    parser.add_argument("--depfile", required=True)
    parser.add_argument("--log", required=True, help="build log; read by run_fuzz.py")
    parser.add_argument("-I", dest="include", action="append", default=[])
    parser.add_argument("sources", nargs="+")
    args = parser.parse_args()

    # A stale binary must not outlive a failed build.
    for path in (args.output, args.depfile):
        if os.path.exists(path):
            os.remove(path)
    log = []
    try:
        build(args, log)
        status = "OK"
    except BuildError as error:
        status = f"FAILED: {error}"
        sys.stderr.write(f"build_fuzzer.py: the fuzzer was not built: {error}\n"
                         "build_fuzzer.py: the fuzz tests will fail until this is fixed\n")
        # Without a depfile ninja would complain; an empty rule keeps it quiet.
        with open(args.depfile, "w") as f:
            f.write(f"{args.output}:\n")
    with open(args.log, "w") as f:
        f.write("\n".join(log + [status]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
