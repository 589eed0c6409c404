#!/usr/bin/env bash
# The project's quick-start commands, on a fresh Debian machine:
#   ./dev.sh demo   build, then boot the minikernel on 8 CPUs under QEMU
#   ./dev.sh test   build, then run every test suite (unit, qemu, ...)
#   ./dev.sh bench  build, then run the bring-up benchmark (bench/run; --quick for a few cells)
# Both install what they need from Debian's packages first (apt-get, as root
# or through sudo). The build directory is ./build unless SMPBOOT_BUILD_DIR says otherwise.
set -euo pipefail

cd "$(dirname "$0")"
BUILD_DIR=${SMPBOOT_BUILD_DIR:-build}
PACKAGES=(gcc meson ninja-build nasm pkg-config libcmocka-dev python3 qemu-system-x86
          clang libclang-rt-14-dev spin valgrind binutils util-linux python3-matplotlib
          git make cmake grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools ovmf
          bochs bochs-sdl bochsbios vgabios)

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
}

ensure_packages() {
    local missing
    missing=$(missing_packages)
    [ -z "$missing" ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "dev.sh: installing:" $missing
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
}

# Everything on, asked for explicitly: a missing tool is an error here, not a
# suite quietly left out (tests=auto would leave them out).
MESON_OPTIONS=(-Dtests=enabled -Dminikernel=enabled)

configure() {
    if [ -f "$BUILD_DIR/build.ninja" ]; then
        meson setup --reconfigure "$BUILD_DIR" "${MESON_OPTIONS[@]}" >/dev/null
    else
        meson setup "$BUILD_DIR" "${MESON_OPTIONS[@]}"
    fi
    ninja -C "$BUILD_DIR"
}

case "${1:-}" in
    demo)
        ensure_packages
        configure
        exec ninja -C "$BUILD_DIR" demo
        ;;
    test)
        ensure_packages
        configure
        shift
        exec meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 "$@"
        ;;
    bench)
        ensure_packages
        configure
        shift
        exec bench/run --build "$BUILD_DIR" --no-build "$@"
        ;;
    *)
        echo "usage: $0 demo|test|bench [arguments]" >&2
        exit 2
        ;;
esac
