#!/usr/bin/env python3
"""Run the Spin models of libsmpboot and check every expected outcome.

Each run: `spin -a` with its -D macros, gcc on pan.c, ./pan, then one summary
line. A run marked "pass" must search its whole state space and find nothing;
a run marked "fail" (a mutant or a probe) must produce an error, and where
the table names one, that very assertion. Exit status 0 only if
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
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))


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
    ltl: str = ""          # an LTL claim: acceptance cycles under weak fairness, no -DSAFETY
    extended: bool = False # minutes of CPU and GBs: only with --extended, not in the test suite


RUNS = [
    # The protocol (v2) as the code implements it: exhaustive, must be clean.
    Run("bringup", "smpboot.pml", [], "pass",
        "3 APs, parallel, every config, all interleavings", hash_bits=25, big=True),
    Run("bringup-serial", "smpboot.pml", ["SERIAL"], "pass",
        "3 APs, serial mode, every config", hash_bits=25, big=True),
    Run("bringup-terminates", "smpboot.pml", ["LTL_TERMINATION", "NAP=2"], "pass",
        "2 APs: start and finish always return (LTL, weak fairness)", hash_bits=24,
        big=True, ltl="terminates"),
    Run("bringup-ipi-fail", "smpboot.pml", ["IPI_FAIL", "NAP=2"], "pass",
        "2 APs, one IPI may fail (ESR error or busy ICR)", hash_bits=24, big=True),

    # The same with three APs: too long for the test suite (docs/model.md).
    Run("bringup-terminates-3ap", "smpboot.pml", ["LTL_TERMINATION"], "pass",
        "3 APs: start and finish always return (LTL, weak fairness)", hash_bits=26,
        big=True, ltl="terminates", extended=True),
    Run("bringup-ipi-fail-3ap", "smpboot.pml", ["IPI_FAIL"], "pass",
        "3 APs, one IPI may fail (ESR error or busy ICR)", hash_bits=26, big=True,
        extended=True),

    # Mutants: each must be caught, by the property named.
    Run("mutant-a-ap-no-cas", "smpboot.pml", ["MUT_AP_NO_CAS"], "fail",
        "(a) the trampoline claims with check-then-store", expect_text="state[i]==1"),
    Run("mutant-a-bsp-no-cas", "smpboot.pml", ["MUT_BSP_NO_CAS"], "fail",
        "(a) the BSP gives up on a KICKED slot with a plain store",
        expect_text="went_online"),
    Run("mutant-b-no-release", "smpboot.pml", ["MUT_NO_RELEASE"], "fail",
        "(b) the AP's CAS to ONLINE is not a release", expect_text="mem_stamps"),
    Run("mutant-c-no-init", "smpboot.pml", ["MUT_NO_INIT"], "fail",
        "(c) finish frees a failed AP's stack without INIT", expect_text="on_stack"),
    Run("mutant-e-no-deadline", "smpboot.pml",
        ["MUT_NO_DEADLINE", "LTL_TERMINATION", "NAP=2"], "fail",
        "(e) waits for answers without a deadline", expect_text="acceptance cycle",
        ltl="terminates"),
    Run("mutant-f-stall-store", "smpboot.pml", ["MUT_STALL_STORE"], "fail",
        "(f) STALLED by a plain store: the AP still goes online", expect_text="went_online"),
    Run("mutant-g-online-early", "smpboot.pml", ["MUT_ONLINE_EARLY"], "fail",
        "(g) the AP swaps to ONLINE before its slot stores", expect_text="mem_stamps"),
    Run("mutant-h-finish-frees-after-failed-init", "smpboot.pml",
        ["MUT_FINISH_FREES_ALL", "IPI_FAIL", "NAP=2"], "fail",
        "(h) after a failed INIT, finish frees slots and trampoline anyway",
        expect_text="slots_freed"),
    Run("mutant-i-b2-early-kick", "smpboot.pml", ["MUT_EARLY_KICK", "CONFIG_FAST"], "fail",
        "(i) finding B2: HELD -> KICKED right after the re-INIT's send",
        expect_text="went_online"),
    Run("mutant-i-b2-early-kick-instant-init", "smpboot.pml",
        ["MUT_EARLY_KICK", "CONFIG_FAST", "INIT_INSTANT"], "pass",
        "(i) the same bug is invisible if INIT lands inside its send (v1's abstraction)",
        hash_bits=24, big=True),
    Run("mutant-j-sipi-restarts", "smpboot.pml", ["MUT_SIPI_RESTARTS", "CONFIG_SDM"], "fail",
        "(j) hardware without the SIPI-once rule: v2 depends on it",
        expect_text="went_online"),
    Run("mutant-k-online-store", "smpboot.pml", ["MUT_ONLINE_STORE"], "fail",
        "(k) the AP goes ONLINE by check-then-store, not CAS", expect_text="went_online"),
    Run("mutant-l-no-settle", "smpboot.pml", ["MUT_NO_SETTLE"], "fail",
        "(l) finish frees stacks before its INITs have landed", expect_text="on_stack"),

    # Probes: scenarios the clean runs must really contain (a witness is an error).
    Run("probe-all-online", "smpboot.pml", ["PROBE_ALL_ONLINE"], "fail",
        "all three APs go online", expect_text="result[0]==2"),
    Run("probe-late-loss", "smpboot.pml", ["PROBE_LATE_LOSS"], "fail",
        "a late AP loses its claim to TIMED_OUT", expect_text="!=6"),
    Run("probe-held-loss", "smpboot.pml", ["PROBE_HELD_LOSS", "CONFIG_FAST"], "fail",
        "an AP finds its slot HELD during a retry (and waits)", expect_text="!=2"),
    Run("probe-retry-online", "smpboot.pml", ["PROBE_RETRY_ONLINE", "CONFIG_FAST"],
        "fail",
        "an AP reset by the retry's INIT still goes online", expect_text="reset_running"),
    Run("probe-late-init", "smpboot.pml", ["PROBE_LATE_INIT"], "fail",
        "an AP runs between a re-INIT's send and its landing", expect_text="ran_before_init"),
    Run("probe-sipi-to-online", "smpboot.pml", ["PROBE_SIPI_TO_ONLINE", "CONFIG_SDM"], "fail",
        "a second SIPI reaches a CPU already in the kernel", expect_text="went_online"),
    Run("probe-stalled", "smpboot.pml", ["PROBE_STALLED"], "fail",
        "an AP is judged STALLED", expect_text="!=4"),
    Run("probe-mixed", "smpboot.pml", ["PROBE_MIXED"], "fail",
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
    cpu: float = 0.0
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

    cpu = [0.0]

    def step(cmd, timeout):
        """Run cmd in work; count its CPU time (not the wall time: the machine is shared)."""
        with open(os.path.join(work, "step.out"), "w+") as sink:
            proc = subprocess.Popen(cmd, cwd=work, stdout=sink, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + timeout
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    raise subprocess.TimeoutExpired(cmd, timeout)
                time.sleep(0.05)
            proc.returncode = os.waitstatus_to_exitcode(status)
            cpu[0] += usage.ru_utime + usage.ru_stime
            sink.seek(0)
            proc.stdout = sink.read()
            proc.stderr = ""
        return proc

    started = time.monotonic()
    gen = step([args.spin] + defines + ["-a", run.model], 120)
    if gen.returncode != 0:
        return Outcome(run, False, detail="spin -a failed: " + (gen.stderr + gen.stdout).strip())
    cflags = ["-O2" if run.big else "-O0", "-w", "-DCOLLAPSE", "-DMEMLIM=%d" % args.memlim]
    if not run.ltl:
        cflags.append("-DSAFETY")
    build = step([args.cc] + cflags + ["-o", "pan", "pan.c"], 300)
    if build.returncode != 0:
        return Outcome(run, False, detail="cc failed: " + build.stderr.strip()[-2000:])
    pan_cmd = ["./pan", "-n", "-m%d" % args.max_depth, "-w%d" % run.hash_bits]
    if run.ltl:
        pan_cmd += ["-a", "-f", "-N", run.ltl]
    try:
        pan = step(pan_cmd, args.pan_timeout)
    except subprocess.TimeoutExpired:
        return Outcome(run, False, detail="pan timed out after %ds" % args.pan_timeout)
    out = pan.stdout + pan.stderr
    with open(os.path.join(work, "pan.out"), "w") as f:
        f.write(out)

    o = Outcome(run, False)
    o.seconds = time.monotonic() - started
    o.cpu = cpu[0]
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


def execute_bounded(run, args):
    try:
        return execute(run, args)
    except subprocess.TimeoutExpired as e:
        return Outcome(run, False, detail="timed out: %s" % " ".join(e.cmd))


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
    ap.add_argument("--extended", action="store_true",
                    help="also the long runs marked extended (minutes, about 2.5 GB each)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("names", nargs="*", help="run only these (default: all)")
    args = ap.parse_args()

    runs = [r for r in RUNS if args.extended or not r.extended]
    if args.names:
        runs = [r for r in RUNS if r.name in args.names]
        unknown = set(args.names) - {r.name for r in runs}
        if unknown:
            sys.exit("unknown run(s): " + ", ".join(sorted(unknown)))
    if args.list:
        for r in runs:
            print("%-40s %-4s %-12s -D%s  %s" % (r.name, r.expect, r.model,
                                               " -D".join(r.defines) or "-", r.why))
        return 0
    for tool in (args.spin, args.cc):
        if not shutil.which(tool):
            sys.exit("not found: " + tool)
    os.makedirs(args.workdir, exist_ok=True)

    started = time.monotonic()
    outcomes = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(execute_bounded, r, args): r for r in runs}
        for fut in concurrent.futures.as_completed(futures):
            o = fut.result()
            outcomes[o.run.name] = o
            print("%-40s expect=%-4s %-4s states=%-9s errors=%-2s depth=%-4s time=%5.1fs "
                  "cpu=%5.1fs mem=%sMB  %s" % (o.run.name, o.run.expect,
                                               "ok" if o.ok else "FAIL", o.states, o.errors,
                                               o.depth, o.seconds, o.cpu, o.memory, o.detail),
                  flush=True)

    bad = [r.name for r in runs if not outcomes[r.name].ok]
    print("%d runs in %.1fs (CPU %.1fs): %s"
          % (len(runs), time.monotonic() - started, sum(o.cpu for o in outcomes.values()),
             "all as expected" if not bad else "UNEXPECTED: " + ", ".join(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
