# SPDX-License-Identifier: MIT
#
# libsmpboot as plain sources, for a kernel's own Makefile (the way libfdt's
# Makefile.libfdt is meant to be included). It defines variables only: no
# rules, no targets. The sources need a C11 compiler and nothing else (no
# NASM, no Python: the trampoline is committed as C).
#
#   include vendor/libsmpboot/libsmpboot.mk
#   SMP_OBJS := $(patsubst $(LIBSMPBOOT_DIR)/%.c,$(O)/libsmpboot/%.o,$(LIBSMPBOOT_SRCS))
#   $(O)/libsmpboot/%.o: $(LIBSMPBOOT_DIR)/%.c
#   	$(CC) $(KERNEL_CFLAGS) $(LIBSMPBOOT_CFLAGS) $(LIBSMPBOOT_CFLAGS_KERNEL) \
#   	      $(addprefix -I,$(LIBSMPBOOT_INCLUDES) $(LIBSMPBOOT_PRIVATE_INCLUDES)) -c -o $@ $<
#
# Your own files need only -I$(LIBSMPBOOT_INCLUDES). The lists are kept equal
# to the Meson build's by the test consumer_lists (tests/consumers).

# Where libsmpboot lives: by default, the folder holding this file.
LIBSMPBOOT_DIR ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

# The library's C sources, relative to LIBSMPBOOT_DIR, then with it.
LIBSMPBOOT_SRC_NAMES := \
	src/arch/x86_64/apic_x2apic.c \
	src/arch/x86_64/apic_xapic.c \
	src/arch/x86_64/clock_refs.c \
	src/arch/x86_64/cpu_control.c \
	src/arch/x86_64/cpu_state.c \
	src/arch/x86_64/park.c \
	src/arch/x86_64/unprivileged.c \
	src/barrier/barrier.c \
	src/barrier/gate.c \
	src/core/after_boot.c \
	src/core/ap_main.c \
	src/core/bringup.c \
	src/core/config.c \
	src/core/cpu_table.c \
	src/core/finish.c \
	src/core/frames.c \
	src/core/init_ipi.c \
	src/core/ipi.c \
	src/core/log.c \
	src/core/names.c \
	src/core/offline.c \
	src/core/pagemap.c \
	src/core/ready.c \
	src/core/slots.c \
	src/core/stacks.c \
	src/core/status.c \
	src/core/tsc_clock.c \
	src/core/wait.c \
	src/madt/madt_parse.c \
	src/madt/madt_walk.c \
	src/trampoline/boot_tables.c \
	src/trampoline/trampoline.c \
	src/trampoline/trampoline_blob.c
LIBSMPBOOT_SRCS := $(addprefix $(LIBSMPBOOT_DIR)/,$(LIBSMPBOOT_SRC_NAMES))

# -I folders: the public headers (<smpboot/...>), and the library's own.
LIBSMPBOOT_INCLUDES := $(LIBSMPBOOT_DIR)/include
LIBSMPBOOT_PRIVATE_INCLUDES := $(LIBSMPBOOT_DIR)/src

# Flags the library's code needs whatever the kernel's own: no libc, no red
# zone (the kernel may take interrupts on its stack), no SSE/MMX/x87 state,
# and no stack protector (an AP runs library code before any per-CPU canary
# exists).
LIBSMPBOOT_CFLAGS := -ffreestanding -mno-red-zone -mno-sse -mno-mmx -mno-80387 \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-omit-frame-pointer

# One of these, matching where the kernel is linked (README, "Integrating"):
#   KERNEL  the top 2 GiB (higher half) or the bottom 2 GiB
#   SMALL   the bottom 2 GiB (identity-mapped kernels)
#   PIE     anywhere, position-independent kernels included
LIBSMPBOOT_CFLAGS_KERNEL := -fno-pic -fno-pie -mcmodel=kernel
LIBSMPBOOT_CFLAGS_SMALL := -fno-pic -fno-pie -mcmodel=small
LIBSMPBOOT_CFLAGS_PIE := -fpie -mcmodel=small
