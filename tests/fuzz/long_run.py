#!/usr/bin/env python3
"""A long fuzzing run of the MADT reader, with a summary at the end.

    long_run.py --fuzzer BUILD/tests/fuzz/fuzz_madt --seconds 1200 [--jobs 1]
                [--seed N] [--workdir DIR]

It fuzzes a copy of tests/fuzz/corpus in a work directory (a temporary one,
deleted afterwards, unless --workdir names one to keep), then prints the
executions, exec/s, coverage (cov/ft), the grown corpus and the crashes.
Nothing is written into the source tree.

One worker by default: the machine is shared and has 2 cores. With --jobs 1
libFuzzer runs in this process's child directly (the same as -jobs=1
-workers=1, without the log redirection); --jobs N > 1 passes -jobs=N
-workers=N and reads the workers' fuzz-*.log files.
"""
import argparse
import datetime
import glob
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ARTIFACT_PREFIXES = ("crash-", "leak-", "timeout-", "oom-", "slow-unit-")
SANITIZER_ENV = {
    "ASAN_OPTIONS": "abort_on_error=0:detect_leaks=1:symbolize=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:symbolize=1",
}
# "#123456 REDUCE cov: 281 ft: 1234 corp: 300/20Kb lim: 4096 exec/s: 6000 rss: 400Mb"
STATUS_LINE = re.compile(r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)/(\S+)"
                         r"(?:.*?exec/s: (\d+))?", re.M)


def last_status(text):
    matches = list(STATUS_LINE.finditer(text))
    return matches[-1] if matches else None


def final_stat(text, name):
    match = re.search(rf"^stat::{name}:\s+(\d+)", text, re.M)
    return int(match.group(1)) if match else None


def corpus_size(corpus):
    files = [os.path.join(corpus, n) for n in os.listdir(corpus)]
    return len(files), sum(os.path.getsize(f) for f in files)


def fuzz(args, workdir):
    corpus = os.path.join(workdir, "corpus")
    artifacts = os.path.join(workdir, "artifacts")
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    for seed_file in glob.glob(os.path.join(args.corpus, "*")):
        shutil.copy(seed_file, corpus)
    seeds = corpus_size(corpus)

    command = [os.path.abspath(args.fuzzer), corpus, f"-max_total_time={args.seconds}",
               f"-max_len={args.max_len}", "-timeout=10", "-rss_limit_mb=2048",
               "-print_final_stats=1", f"-artifact_prefix={os.path.join(artifacts, '')}"]
    if args.seed is not None:
        command.append(f"-seed={args.seed}")
    if args.jobs > 1:
        command += [f"-jobs={args.jobs}", f"-workers={args.jobs}"]
    env = dict(os.environ)
    env.update(SANITIZER_ENV)

    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"started {started:%Y-%m-%d %H:%M:%S} UTC on {platform.node()} "
          f"({os.cpu_count()} cores)\n$ {' '.join(command)}", flush=True)
    log_path = os.path.join(workdir, "fuzzer.log")
    with open(log_path, "w") as log:
        result = subprocess.run(command, cwd=workdir, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    with open(log_path, errors="replace") as f:
        text = f.read()
    for worker_log in sorted(glob.glob(os.path.join(workdir, "fuzz-*.log"))):
        with open(worker_log, errors="replace") as f:
            text += f.read()
    finished = datetime.datetime.now(datetime.timezone.utc)

    crashes = sorted(name for name in os.listdir(artifacts) if name.startswith(ARTIFACT_PREFIXES))
    status = last_status(text)
    executions = final_stat(text, "number_of_executed_units")
    if executions is None and status:
        executions = int(status.group(1))
    exec_per_sec = final_stat(text, "average_exec_per_sec")
    elapsed = (finished - started).total_seconds()
    files, total_bytes = corpus_size(corpus)

    print(f"finished {finished:%Y-%m-%d %H:%M:%S} UTC after {elapsed:.0f} s; "
          f"fuzzer exit code {result.returncode}")
    print(f"executions:  {executions}")
    print(f"exec/s:      {exec_per_sec if exec_per_sec is not None else 'n/a'}"
          + (f" (overall {executions / elapsed:.0f})" if executions and elapsed else ""))
    if status:
        print(f"coverage:    cov: {status.group(3)} ft: {status.group(4)} "
              f"(fuzzer's corpus: {status.group(5)} units, {status.group(6)})")
    print(f"new units:   {final_stat(text, 'new_units_added')}")
    print(f"peak RSS:    {final_stat(text, 'peak_rss_mb')} MB")
    print(f"corpus:      {seeds[0]} seeds ({seeds[1]} bytes) -> {files} files ({total_bytes} bytes)")
    print(f"crashes:     {len(crashes)}")
    for name in crashes:
        print(f"  {os.path.join(artifacts, name)}")
    if crashes or result.returncode != 0:
        tail = text.strip().splitlines()[-40:]
        print("last lines of the fuzzer's output:\n" + "\n".join(tail))
    return 1 if crashes or result.returncode != 0 else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fuzzer", required=True, help="the fuzz_madt binary")
    parser.add_argument("--seconds", type=int, default=1200)
    parser.add_argument("--jobs", type=int, default=1, help="parallel workers (default 1)")
    parser.add_argument("--seed", type=int, help="libFuzzer -seed (default: random)")
    parser.add_argument("--max-len", type=int, default=4096)
    parser.add_argument("--corpus", default=os.path.join(HERE, "corpus"),
                        help="seed corpus (only read)")
    parser.add_argument("--workdir", help="keep the grown corpus, log and crashes here")
    args = parser.parse_args()
    if not os.path.exists(args.fuzzer):
        sys.exit(f"no fuzzer at {args.fuzzer}: build it with ninja -C BUILD tests/fuzz/fuzz_madt")
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
        return fuzz(args, args.workdir)
    with tempfile.TemporaryDirectory(prefix="fuzz-long-") as workdir:
        return fuzz(args, workdir)


if __name__ == "__main__":
    sys.exit(main())
