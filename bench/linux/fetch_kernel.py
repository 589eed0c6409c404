#!/usr/bin/env python3
"""Fetch Debian's Linux kernel for the benchmark's reference modes (bench/run --linux).

    bench/linux/fetch_kernel.py [--dest DIR] [--package NAME]

Downloads the package with `apt-get download` (Debian's archive, nothing
else) and unpacks it with `dpkg -x` into DIR/<package>/ (default
~/.cache/libsmpboot-bench/linux, where bench/run looks). Without --package it
takes the kernel that linux-image-amd64 names if that has parallel bring-up
(Linux 6.5 or later), else the one linux-image-6.12-amd64 names (Debian 12's
linux-image-amd64 is 6.1). Prints the vmlinuz path.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(HERE))

from benchlib import linux_ref  # noqa: E402


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dest', default=linux_ref.DEFAULT_CACHE)
    parser.add_argument('--package', help='a linux-image-<version>-amd64 package name')
    args = parser.parse_args(argv)
    package = args.package or linux_ref.resolve_package()
    print(f'fetch_kernel: {package} into {args.dest}', flush=True)
    image = linux_ref.fetch(args.dest, package)
    linux_ref.check_version(image)
    print(image.vmlinuz)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
