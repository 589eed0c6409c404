#!/usr/bin/env python3
"""Compare two minikernel images (two library revisions) in one run.

Boots them alternately under TCG, `bench=ROUNDS` per boot, drops each
boot's first round, and prints the median bring-up time per cell and the
ratio after/before. Comparing within one run cancels most of the host's
load; absolute times across runs do not compare on a shared machine.

usage: bench/ab_compare.py BEFORE.elf AFTER.elf [--boots N] [--rounds R]
           [--accel tcg|kvm] [--cpus 16,64] [--profiles default,fast]
           [--before-options OPTS] [--after-options OPTS]

--before-options/--after-options are appended to one side's command line
only: two library revisions whose profiles are named differently (the SDM
sequence was `profile=default` before protocol v2 and is `profile=sdm`
since) are then compared with the same timing policy.
"""
import argparse
import re
import statistics
import subprocess
import sys
import tempfile

ROUND = re.compile(r"smpboot: round r=(\d+) online=\d+ bringup_us=(\d+)")


def boot(image, cpus, options, rounds, accel):
    cmd = ["qemu-system-x86_64", "-kernel", image, "-serial", "stdio", "-display", "none",
           "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-monitor", "none",
           "-accel", accel, "-machine", "q35", "-m", "512M", "-smp", str(cpus),
           "-append", f"{options} bench={rounds} ap_timeout_ms=10000"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    if f"summary online={cpus} expected={cpus} failed=0" not in out:
        # Keep the serial log: a failure that does not come back is otherwise lost.
        with tempfile.NamedTemporaryFile("w", prefix="ab_compare-failed-", suffix=".log",
                                         delete=False) as log:
            log.write(" ".join(cmd) + "\n" + out)
        print(f"boot failed: {image} {cpus} {options}; serial log: {log.name}", file=sys.stderr)
        return []
    return [int(m.group(2)) for m in ROUND.finditer(out)][1:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--boots", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--accel", default="tcg", choices=("tcg", "kvm"))
    parser.add_argument("--cpus", default="16,64")
    parser.add_argument("--profiles", default="default,fast",
                        help="profile words, each a cell: 'default' means no profile= option")
    parser.add_argument("--before-options", default="")
    parser.add_argument("--after-options", default="")
    args = parser.parse_args()
    images = {"before": args.before, "after": args.after}
    extra = {"before": args.before_options, "after": args.after_options}
    cells = []
    for profile in args.profiles.split(","):
        for cpus in args.cpus.split(","):
            options = "mode=parallel" + ("" if profile == "default" else f" profile={profile}")
            cells.append((int(cpus), options))
    samples = {}
    for cpus, options in cells:
        for b in range(args.boots):
            order = ["before", "after"] if b % 2 == 0 else ["after", "before"]
            for side in order:
                samples.setdefault((cpus, options, side), []).extend(
                    boot(images[side], cpus, f"{options} {extra[side]}".strip(), args.rounds,
                         args.accel))
    print(f"before: {args.before} {extra['before']}; after: {args.after} {extra['after']}")
    print(f"{args.accel.upper()}, q35, -m 512M, {args.boots} boots x bench={args.rounds} per side "
          "(first round of each boot dropped), boots alternated")
    print("| CPUs | profile | before median ms (n) | after median ms (n) | after/before |")
    print("| --- | --- | --- | --- | --- |")
    for cpus, options in cells:
        a, b = samples[(cpus, options, "before")], samples[(cpus, options, "after")]
        if a and b:
            ma, mb = statistics.median(a) / 1000, statistics.median(b) / 1000
            print(f"| {cpus} | {options} | {ma:.1f} ({len(a)}) | {mb:.1f} ({len(b)}) | {mb / ma:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
