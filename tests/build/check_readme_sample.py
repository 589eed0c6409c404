#!/usr/bin/env python3
"""The README's "Using it in a kernel" sample must compile as written.

Takes the first C block of that section, puts in front of it the
declarations a kernel would have (the sample's my_* names), and compiles it
freestanding with -Wall -Wextra -Werror against include/. Exit 0 or 1.

usage: check_readme_sample.py CC README.md INCLUDE_DIR
"""
import re
import subprocess
import sys
import tempfile

KERNEL_DECLARATIONS = """\
#include <stddef.h>
#include <stdint.h>
#include <smpboot/smpboot.h>
#define MAX_CPUS 64
uint64_t my_clock_ns(void *ctx);
enum smpboot_status my_alloc_frames(void *ctx, size_t pages, uint64_t limit,
                                    uint64_t align, uint64_t *phys);
void my_free_frames(void *ctx, uint64_t phys, size_t pages);
void *my_phys_to_virt(void *ctx, uint64_t phys);
enum smpboot_status my_map(void *ctx, uint64_t virt, uint64_t phys, size_t pages,
                           uint32_t flags);
void my_unmap(void *ctx, uint64_t virt, size_t pages);
void my_log(void *ctx, enum smpboot_log_level level, const char *message);
void my_log_line(const char *format, ...);
extern volatile void *lapic_mmio;
extern uint64_t my_low_page;
extern uint32_t my_madt_cpu_count;
extern uint32_t my_madt_apic_ids[];
void load_my_gdt(void);
void load_my_idt(void);
void load_my_tss(void);
_Noreturn void my_scheduler_idle(uint32_t index);
void smp_init(void);
"""


def sample(readme_text: str) -> str:
    section = readme_text.split("## Using it in a kernel", 1)
    if len(section) != 2:
        raise SystemExit("readme_sample: no section 'Using it in a kernel' in the README")
    block = re.search(r"```c\n(.*?)```", section[1], re.S)
    if not block:
        raise SystemExit("readme_sample: no C block in 'Using it in a kernel'")
    return block.group(1)


def main() -> int:
    cc, readme, include_dir = sys.argv[1:4]
    source = KERNEL_DECLARATIONS + sample(open(readme, encoding="utf-8").read())
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write(source)
        path = f.name
    command = [cc, "-std=c11", "-ffreestanding", "-Wall", "-Wextra", "-Werror",
               "-I", include_dir, "-c", path, "-o", "/dev/null"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        print("readme_sample: the README's sample does not compile as written:")
        print(result.stderr)
        return 1
    print("readme_sample: the README's sample compiles as written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
