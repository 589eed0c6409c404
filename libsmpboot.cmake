# SPDX-License-Identifier: MIT
#
# libsmpboot as plain sources, for a kernel built with CMake (the way uACPI's
# uacpi.cmake is used). It sets variables only and builds nothing: compile the
# sources into your kernel, or into a library of your own, with your flags.
# They need a C11 compiler and nothing else (no NASM, no Python).
#
#   include(vendor/libsmpboot/libsmpboot.cmake)
#   add_library(smpboot STATIC ${LIBSMPBOOT_SOURCES})
#   target_include_directories(smpboot PUBLIC ${LIBSMPBOOT_INCLUDES}
#                              PRIVATE ${LIBSMPBOOT_PRIVATE_INCLUDES})
#   target_compile_options(smpboot PRIVATE ${LIBSMPBOOT_COMPILE_OPTIONS}
#                          ${LIBSMPBOOT_COMPILE_OPTIONS_KERNEL})
#
# The lists are kept equal to the Meson build's by the test consumer_lists
# (tests/consumers).

set(LIBSMPBOOT_DIR ${CMAKE_CURRENT_LIST_DIR})

set(LIBSMPBOOT_SOURCES
    ${LIBSMPBOOT_DIR}/src/arch/x86_64/apic_x2apic.c
    ${LIBSMPBOOT_DIR}/src/arch/x86_64/apic_xapic.c
    ${LIBSMPBOOT_DIR}/src/arch/x86_64/clock_refs.c
    ${LIBSMPBOOT_DIR}/src/arch/x86_64/cpu_control.c
    ${LIBSMPBOOT_DIR}/src/arch/x86_64/cpu_state.c
    ${LIBSMPBOOT_DIR}/src/arch/x86_64/park.c
    ${LIBSMPBOOT_DIR}/src/arch/x86_64/unprivileged.c
    ${LIBSMPBOOT_DIR}/src/barrier/barrier.c
    ${LIBSMPBOOT_DIR}/src/barrier/gate.c
    ${LIBSMPBOOT_DIR}/src/core/after_boot.c
    ${LIBSMPBOOT_DIR}/src/core/ap_main.c
    ${LIBSMPBOOT_DIR}/src/core/bringup.c
    ${LIBSMPBOOT_DIR}/src/core/config.c
    ${LIBSMPBOOT_DIR}/src/core/cpu_table.c
    ${LIBSMPBOOT_DIR}/src/core/finish.c
    ${LIBSMPBOOT_DIR}/src/core/frames.c
    ${LIBSMPBOOT_DIR}/src/core/init_ipi.c
    ${LIBSMPBOOT_DIR}/src/core/ipi.c
    ${LIBSMPBOOT_DIR}/src/core/log.c
    ${LIBSMPBOOT_DIR}/src/core/names.c
    ${LIBSMPBOOT_DIR}/src/core/offline.c
    ${LIBSMPBOOT_DIR}/src/core/pagemap.c
    ${LIBSMPBOOT_DIR}/src/core/ready.c
    ${LIBSMPBOOT_DIR}/src/core/slots.c
    ${LIBSMPBOOT_DIR}/src/core/stacks.c
    ${LIBSMPBOOT_DIR}/src/core/status.c
    ${LIBSMPBOOT_DIR}/src/core/tsc_clock.c
    ${LIBSMPBOOT_DIR}/src/core/wait.c
    ${LIBSMPBOOT_DIR}/src/madt/madt_parse.c
    ${LIBSMPBOOT_DIR}/src/madt/madt_walk.c
    ${LIBSMPBOOT_DIR}/src/trampoline/boot_tables.c
    ${LIBSMPBOOT_DIR}/src/trampoline/trampoline.c
    ${LIBSMPBOOT_DIR}/src/trampoline/trampoline_blob.c
)

# The public headers (<smpboot/...>), and the library's own.
set(LIBSMPBOOT_INCLUDES ${LIBSMPBOOT_DIR}/include)
set(LIBSMPBOOT_PRIVATE_INCLUDES ${LIBSMPBOOT_DIR}/src)

# Flags the library's code needs whatever the kernel's own: no libc, no red
# zone (the kernel may take interrupts on its stack), no SSE/MMX/x87 state,
# and no stack protector (an AP runs library code before any per-CPU canary
# exists).
set(LIBSMPBOOT_COMPILE_OPTIONS
    -ffreestanding -mno-red-zone -mno-sse -mno-mmx -mno-80387
    -fno-stack-protector -fno-asynchronous-unwind-tables -fno-omit-frame-pointer)

# One of these, matching where the kernel is linked (README, "Integrating"):
#   KERNEL  the top 2 GiB (higher half) or the bottom 2 GiB
#   SMALL   the bottom 2 GiB (identity-mapped kernels)
#   PIE     anywhere, position-independent kernels included
set(LIBSMPBOOT_COMPILE_OPTIONS_KERNEL -fno-pic -fno-pie -mcmodel=kernel)
set(LIBSMPBOOT_COMPILE_OPTIONS_SMALL -fno-pic -fno-pie -mcmodel=small)
set(LIBSMPBOOT_COMPILE_OPTIONS_PIE -fpie -mcmodel=small)
