#!/usr/bin/env python3
"""The fuzz suite's tests: replay the seed corpus, or fuzz for a short while.

    run_fuzz.py replay --fuzzer BIN --build-log LOG --corpus DIR
    run_fuzz.py short  --fuzzer BIN --build-log LOG --corpus DIR --seconds 30 --seed 1

`replay` runs every corpus file once; `short` fuzzes a temporary copy of the
corpus, so nothing is written into the source tree. Either fails on any crash,
sanitizer report or invariant violation, and also when the fuzzer could not
be built: a missing libFuzzer runtime is a failure, never a skip. A crashing
input is copied to --artifacts (in the build directory) for reproduction.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Crash reports must stop the run at once, with a stack trace.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "abort_on_error=0:detect_leaks=1:symbolize=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:symbolize=1",
}
MAX_INPUT_BYTES = 4096
ARTIFACT_PREFIXES = ("crash-", "leak-", "timeout-", "oom-", "slow-unit-")


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def require_fuzzer(fuzzer, build_log):
    if os.path.exists(fuzzer):
        return
    reason = "no build log either"
    if os.path.exists(build_log):
        with open(build_log) as f:
            reason = f.read()
    fail(f"the fuzzer binary {fuzzer} was not built.\n{reason}")


def corpus_files(corpus):
    files = sorted(os.path.join(corpus, name) for name in os.listdir(corpus))
    files = [path for path in files if os.path.isfile(path)]
    if not files:
        fail(f"the seed corpus {corpus} is empty")
    return files


def environment():
    env = dict(os.environ)
    env.update(SANITIZER_ENV)
    return env


def hexdump(path, limit=256):
    with open(path, "rb") as f:
        data = f.read()
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset:offset + 16]
        lines.append(f"  {offset:04x}: {chunk.hex(' ')}")
    if len(data) > limit:
        lines.append(f"  ... ({len(data)} bytes in all)")
    return "\n".join(lines)


def save_artifacts(found, keep_dir, fuzzer):
    if not found:
        return
    if keep_dir:
        os.makedirs(keep_dir, exist_ok=True)
    for path in found:
        kept = path
        if keep_dir:
            kept = os.path.join(keep_dir, os.path.basename(path))
            shutil.copyfile(path, kept)
        print(f"reproducer: {kept}\n{hexdump(path)}\n"
              f"reproduce with: {fuzzer} {kept}", flush=True)


def run_fuzzer(command, cwd):
    print("$ " + " ".join(command), flush=True)
    result = subprocess.run(command, cwd=cwd, env=environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    print(result.stdout, flush=True)
    return result


def replay(args):
    files = corpus_files(args.corpus)
    for path in files:
        size = os.path.getsize(path)
        if size > MAX_INPUT_BYTES:
            fail(f"{path} is {size} bytes; seeds must stay under {MAX_INPUT_BYTES}")
    with tempfile.TemporaryDirectory(prefix="fuzz-replay-") as workdir:
        prefix = os.path.join(workdir, "")
        result = run_fuzzer([args.fuzzer, f"-artifact_prefix={prefix}", "-timeout=10"] + files,
                            workdir)
        found = [os.path.join(workdir, name) for name in os.listdir(workdir)
                 if name.startswith(ARTIFACT_PREFIXES)]
        save_artifacts(found, args.artifacts, args.fuzzer)
        if result.returncode != 0:
            fail(f"the fuzzer exited with {result.returncode} while replaying the corpus")
    # libFuzzer prints one "Executed" line per file; all of them must have run.
    executed = len(re.findall(r"^Executed .* in \d+ ms$", result.stdout, re.M))
    if executed != len(files):
        fail(f"replayed {executed} of {len(files)} corpus files")
    print(f"replayed {executed} corpus files: no crash")


def short(args):
    seeds = corpus_files(args.corpus)
    with tempfile.TemporaryDirectory(prefix="fuzz-short-") as workdir:
        corpus = os.path.join(workdir, "corpus")
        artifacts = os.path.join(workdir, "artifacts")
        os.makedirs(corpus)
        os.makedirs(artifacts)
        for path in seeds:
            shutil.copy(path, corpus)
        result = run_fuzzer([args.fuzzer, corpus, f"-seed={args.seed}",
                             f"-max_total_time={args.seconds}", f"-max_len={MAX_INPUT_BYTES}",
                             "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1",
                             f"-artifact_prefix={os.path.join(artifacts, '')}"],
                            workdir)
        found = [os.path.join(artifacts, name) for name in sorted(os.listdir(artifacts))]
        save_artifacts(found, args.artifacts, args.fuzzer)
        if result.returncode != 0 or found:
            fail(f"the fuzzer exited with {result.returncode} and left {len(found)} "
                 "crashing input(s)")
        if "Done " not in result.stdout:
            fail("the fuzzer did not finish its run")
    print(f"fuzzed for {args.seconds} s (seed {args.seed}): no crash, no invariant violated")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["replay", "short"])
    parser.add_argument("--fuzzer", required=True)
    parser.add_argument("--build-log", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--artifacts", help="where to keep crashing inputs")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.fuzzer = os.path.abspath(args.fuzzer)  # it runs in a temporary directory
    require_fuzzer(args.fuzzer, args.build_log)
    if args.mode == "replay":
        replay(args)
    else:
        short(args)


if __name__ == "__main__":
    main()
