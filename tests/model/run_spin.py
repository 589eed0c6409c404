#!/usr/bin/env python3
"""Run the Spin models of libsmpboot and check every expected outcome.

Each run: `spin -a` with its -D macros, gcc on pan.c, ./pan, then one summary
line. A run marked "pass" must search its whole state space and find nothing;
a run marked "fail" (a mutant, a probe, a known finding) must produce an error,
and where the table names one, that very assertion. Exit status 0 only if
every run met its expectation. See docs/model.md.
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))

# The proposed fixes (docs/model.md, F1 and F2): the model the mutants start from.
FIXED = ["VERDICT_FIX", "FINISH_FIX"]


@dataclass
class Run:
    name: str
    model: str
    defines: list
    expect: str            # "pass" or "fail"
    why: str
    expect_text: str = ""  # for "fail": a substring of pan's error line
    hash_bits: int = 22
    big: bool = False      # a long search: worth gcc -O2 (else -O0 compiles 6x faster)


RUNS = [
    # The code as it stands (commit 66c4388): known findings F1 and F3.
    Run("bringup-code-66c4388", "smpboot.pml", [], "fail",
        "finding F1/F3: STALLED vs ONLINE race; slot table freed under an AP"),
    Run("bringup-code-ipi-fail", "smpboot.pml", ["VERDICT_FIX", "IPI_FAIL", "NAP=2"], "fail",
        "finding F2: finish frees slot table and trampoline after a failed INIT",
        expect_text="freed"),

    # The protocol with the proposed fixes: exhaustive, must be clean.
    Run("bringup", "smpboot.pml", FIXED, "pass",
        "3 APs, parallel, every config, all interleavings", hash_bits=25, big=True),
    Run("bringup-serial", "smpboot.pml", FIXED + ["SERIAL"], "pass",
        "3 APs, serial mode, every config", hash_bits=25, big=True),
    Run("bringup-ipi-fail", "smpboot.pml", FIXED + ["IPI_FAIL", "NAP=2"], "pass",
        "2 APs, one IPI may fail (ESR error or busy ICR)", hash_bits=24, big=True),

    # Mutants: each must be caught.
    Run("mutant-a-ap-no-cas", "smpboot.pml", FIXED + ["MUT_AP_NO_CAS"], "fail",
        "(a) trampoline claims with check-then-store"),
    Run("mutant-a-bsp-no-cas", "smpboot.pml", FIXED + ["MUT_BSP_NO_CAS"], "fail",
        "(a) BSP times out with a plain store"),
    Run("mutant-b-no-release", "smpboot.pml", FIXED + ["MUT_NO_RELEASE"], "fail",
        "(b) AP stores visible out of program order", expect_text="mem_"),
    Run("mutant-c-no-init", "smpboot.pml", FIXED + ["MUT_NO_INIT"], "fail",
        "(c) finish frees a failed AP's stack without INIT"),

    # Probes: scenarios the clean runs must really contain (a witness is an error).
    Run("probe-all-online", "smpboot.pml", FIXED + ["PROBE_ALL_ONLINE"], "fail",
        "all three APs go online", expect_text="result[0]==2"),
    Run("probe-late-loss", "smpboot.pml", FIXED + ["PROBE_LATE_LOSS"], "fail",
        "a late AP loses its claim to TIMED_OUT", expect_text="!=6"),
    Run("probe-held-loss", "smpboot.pml", FIXED + ["PROBE_HELD_LOSS"], "fail",
        "an AP loses its claim to HELD during a retry", expect_text="!=2"),
    Run("probe-retry-online", "smpboot.pml", FIXED + ["PROBE_RETRY_ONLINE"], "fail",
        "an AP reset by the retry's INIT still goes online", expect_text="reset_running"),
    Run("probe-stalled", "smpboot.pml", FIXED + ["PROBE_STALLED"], "fail",
        "an AP is judged STALLED", expect_text="!=4"),
    Run("probe-mixed", "smpboot.pml", FIXED + ["PROBE_MIXED"], "fail",
        "ONLINE, TIMED_OUT and STALLED in one run", expect_text="==4"),

    # The barrier.
    Run("barrier", "barrier.pml", [], "pass",
        "3 participants, 3 rounds, timeouts anywhere"),
    Run("barrier-forever", "barrier.pml", ["NO_TIMEOUT"], "pass",
        "3 participants, 3 rounds, no timeouts: no deadlock"),
    Run("mutant-d-no-sense", "barrier.pml", ["MUT_NO_SENSE"], "fail",
        "(d) waiter ignores the generation it arrived in", expect_text="arrivals"),
    Run("mutant-d-late-sense", "barrier.pml", ["MUT_LATE_SENSE", "NO_TIMEOUT"], "fail",
        "(d) waiter reads the generation after arriving: lost wake-up",
        expect_text="invalid end state"),
    Run("mutant-d-relaxed-arrive", "barrier.pml", ["MUT_RELAXED_ARRIVE"], "fail",
        "(d) arrival without release: data not visible", expect_text="data_mem"),
]


@dataclass
class Outcome:
    run: Run
    ok: bool
    states: str = "?"
    errors: str = "?"
    depth: str = "?"
    seconds: float = 0.0
    memory: str = "?"
    detail: str = ""


def first(pattern, text, default="?"):
    m = re.search(pattern, text, re.MULTILINE)
    return m.group(1) if m else default


def execute(run, args):
    work = os.path.join(args.workdir, run.name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    shutil.copy(os.path.join(HERE, run.model), work)
    defines = ["-D" + d for d in run.defines]

    def step(cmd, timeout):
        return subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)

    started = time.monotonic()
    gen = step([args.spin] + defines + ["-a", run.model], 120)
    if gen.returncode != 0:
        return Outcome(run, False, detail="spin -a failed: " + (gen.stderr + gen.stdout).strip())
    cflags = ["-O2" if run.big else "-O0", "-w", "-DSAFETY", "-DCOLLAPSE",
              "-DMEMLIM=%d" % args.memlim]
    build = step([args.cc] + cflags + ["-o", "pan", "pan.c"], 300)
    if build.returncode != 0:
        return Outcome(run, False, detail="cc failed: " + build.stderr.strip()[-2000:])
    pan_cmd = ["./pan", "-n", "-m%d" % args.max_depth, "-w%d" % run.hash_bits]
    try:
        pan = step(pan_cmd, args.pan_timeout)
    except subprocess.TimeoutExpired:
        return Outcome(run, False, detail="pan timed out after %ds" % args.pan_timeout)
    out = pan.stdout + pan.stderr
    with open(os.path.join(work, "pan.out"), "w") as f:
        f.write(out)

    o = Outcome(run, False)
    o.seconds = time.monotonic() - started
    o.states = first(r"^\s*(\d+) states, stored", out)
    o.errors = first(r"errors: (\d+)", out)
    o.depth = first(r"depth reached (\d+)", out)
    o.memory = first(r"^\s*([\d.]+)\s+total actual memory usage", out)
    error_line = first(r"^pan:\d+: (.*?)(?: \(at depth \d+\))?$", out, "")
    incomplete = [w for w in ("reached -DMEMLIM bound", "max search depth too small",
                              "out of memory") if w in out]

    if o.errors == "?":
        o.detail = "no result from pan: " + out.strip()[-500:]
    elif run.expect == "pass":
        o.ok = o.errors == "0" and not incomplete
        o.detail = "; ".join(incomplete) or error_line
    else:
        o.ok = int(o.errors) >= 1 and (not run.expect_text or run.expect_text in error_line)
        o.detail = error_line or "no error line"
        if o.ok and args.trails:
            trail = step([args.spin, "-t", "-p"] + defines + [run.model], 120)
            with open(os.path.join(work, "trail.txt"), "w") as f:
                f.write(trail.stdout)
    return o


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spin", default=shutil.which("spin") or "spin")
    ap.add_argument("--cc", default=shutil.which("gcc") or shutil.which("cc") or "cc")
    ap.add_argument("--workdir", default="/tmp/smpboot-spin")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (default 2)")
    ap.add_argument("--memlim", type=int, default=3072, help="MB per pan (default 3072)")
    ap.add_argument("--max-depth", type=int, default=20000)
    ap.add_argument("--pan-timeout", type=int, default=1500, help="seconds per pan")
    ap.add_argument("--trails", action="store_true", help="write trail.txt for each error")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("names", nargs="*", help="run only these (default: all)")
    args = ap.parse_args()

    runs = RUNS
    if args.names:
        runs = [r for r in RUNS if r.name in args.names]
        unknown = set(args.names) - {r.name for r in runs}
        if unknown:
            sys.exit("unknown run(s): " + ", ".join(sorted(unknown)))
    if args.list:
        for r in runs:
            print("%-26s %-4s %-12s -D%s  %s" % (r.name, r.expect, r.model,
                                               " -D".join(r.defines) or "-", r.why))
        return 0
    for tool in (args.spin, args.cc):
        if not shutil.which(tool):
            sys.exit("not found: " + tool)
    os.makedirs(args.workdir, exist_ok=True)

    started = time.monotonic()
    outcomes = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(execute, r, args): r for r in runs}
        for fut in concurrent.futures.as_completed(futures):
            o = fut.result()
            outcomes[o.run.name] = o
            print("%-26s expect=%-4s %-4s states=%-9s errors=%-7s depth=%-5s time=%6.1fs "
                  "mem=%sMB  %s" % (o.run.name, o.run.expect, "ok" if o.ok else "FAIL",
                                    o.states, o.errors, o.depth, o.seconds, o.memory,
                                    o.detail), flush=True)

    bad = [r.name for r in runs if not outcomes[r.name].ok]
    print("%d runs in %.1fs: %s" % (len(runs), time.monotonic() - started,
                                    "all as expected" if not bad else "UNEXPECTED: " + ", ".join(bad)))
    findings = [r for r in runs if r.name.startswith("bringup-code") and outcomes[r.name].ok]
    for r in findings:
        print("FINDING (expected until the fix lands, docs/model.md): %s: %s"
              % (r.name, outcomes[r.name].detail))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
