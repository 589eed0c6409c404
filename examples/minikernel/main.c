/*
 * The minikernel: boot (boot.S hands over in long mode, on early page
 * tables), set up what libsmpboot needs, and bring up every CPU the ACPI
 * MADT lists. See docs/minikernel.md.
 */
#include <smpboot/smpboot.h>

#include "acpi.h"
#include "bootinfo.h"
#include "clock.h"
#include "console.h"
#include "frames.h"
#include "lapic.h"
#include "layout.h"
#include "multiboot.h"
#include "naive.h"
#include "options.h"
#include "paging.h"
#include "percpu.h"
#include "pic.h"
#include "power.h"
#include "serial.h"
#include "smp.h"
#include "topology.h"

#define FOUR_GIB 0x100000000ull
#define XAPIC_MAX_ID 254u /* 255 is the xAPIC broadcast ID */

void kmain(uint32_t loader_magic, uint32_t info_phys);

extern char __image_start[], __image_end[];

static struct bootinfo bootinfo;
static struct topology topology;
static uint8_t bsp_double_fault_stack[4096] __attribute__((aligned(16)));

/*
 * xAPIC unless something needs x2APIC: a CPU with an ID the xAPIC cannot
 * address, or firmware that already switched the BSP (there is no way back
 * without disabling the APIC). apic= on the command line overrides, within
 * what the CPU supports.
 */
static enum smpboot_apic_mode choose_apic_mode(enum apic_choice choice, const struct topology *t)
{
    bool supported = lapic_x2apic_supported();
    bool needed = t->highest_enabled_id > XAPIC_MAX_ID;

    if (lapic_x2apic_enabled()) {
        kprintf("minikernel: lapic: x2APIC: the firmware left the BSP in x2APIC mode%s\n",
                choice == APIC_CHOICE_XAPIC ? " (apic=xapic ignored)" : "");
        return SMPBOOT_APIC_X2APIC;
    }
    if (choice == APIC_CHOICE_X2APIC) {
        if (supported) {
            kprintf("minikernel: lapic: x2APIC: requested on the command line\n");
            return SMPBOOT_APIC_X2APIC;
        }
        kprintf("minikernel: warning: x2APIC requested but this CPU lacks it; using xAPIC\n");
    } else if (choice == APIC_CHOICE_AUTO && needed) {
        if (supported) {
            kprintf("minikernel: lapic: x2APIC: the MADT lists apic id %u, beyond xAPIC's 254\n",
                    t->highest_enabled_id);
            return SMPBOOT_APIC_X2APIC;
        }
        kprintf("minikernel: warning: x2APIC needed for apic ids > 254 but this CPU lacks it\n");
    }
    if (needed)
        kprintf("minikernel: warning: in xAPIC mode CPUs with apic ids > 254 are unreachable\n");
    return SMPBOOT_APIC_XAPIC;
}

static void print_memory(const struct bootinfo *info)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < info->range_count; i++) {
        if (info->ranges[i].type == MULTIBOOT_MEMORY_AVAILABLE)
            total += info->ranges[i].length;
    }
    kprintf("minikernel: memory: %llu MiB available in %u map entries, top at 0x%llx, "
            "%llu frames free\n",
            (unsigned long long)(total >> 20), info->range_count,
            (unsigned long long)frames_memory_top(), (unsigned long long)frames_free_count());
}

/*
 * No MADT: the kernel cannot tell how many CPUs there are, so "every CPU
 * online" would be a guess. Say so and fail, with expected=0 (the firmware
 * vouched for no CPU), rather than report the BSP alone as a success.
 */
static _Noreturn void refuse_without_cpu_table(const struct options *options)
{
    uint64_t mp = acpi_find_mp_pointer();
    if (mp)
        kprintf("minikernel: madt: an Intel MP table is at 0x%llx, but this kernel reads only "
                "the ACPI MADT\n",
                (unsigned long long)mp);
    kprintf("minikernel: error: no CPU table (ACPI MADT): the number of CPUs is unknown, "
            "so the bring-up cannot be judged\n");
    console_print_last("smpboot: summary online=1 expected=0 failed=0 mode=%s bringup_us=0\n",
                       options->mode == SMPBOOT_MODE_SERIAL ? "serial" : "parallel");
    power_off(false);
}

/*
 * paging=5 on a CPU without LA57: the kernel ran on 4 levels to get this
 * far, but the run asked for 5, so it must not pass. Nothing is started.
 */
static _Noreturn void refuse_without_la57(const struct options *options,
                                          const struct topology *t)
{
    uint32_t expected = topology_expected(t);
    kprintf("minikernel: error: paging=5: this CPU has no LA57 (CPUID.07H:ECX[16] is clear), "
            "so 5-level paging is unavailable; no AP started\n");
    console_print_last("smpboot: summary online=1 expected=%u failed=%u mode=%s bringup_us=0\n",
                       expected, expected > 0 ? expected - 1 : 0,
                       options->mode == SMPBOOT_MODE_SERIAL ||
                               options->reference == REFERENCE_NAIVE_SERIAL
                           ? "serial"
                           : "parallel");
    power_off(false);
}

void kmain(uint32_t loader_magic, uint32_t info_phys)
{
    serial_init();
    kprintf("\nminikernel: libsmpboot %d.%d example kernel\n", SMPBOOT_VERSION_MAJOR,
            SMPBOOT_VERSION_MINOR);

    /* Descriptor tables first, so that any fault from here on is reported, not a triple fault. */
    descriptors_init_idt();
    percpu_setup(0, 0, (uintptr_t)(bsp_double_fault_stack + sizeof(bsp_double_fault_stack)));
    pic_disable();

    bootinfo_read(loader_magic, info_phys, &bootinfo);
    kprintf("minikernel: command line: '%s'\n", bootinfo.cmdline);
    kprintf("minikernel: loader: %s\n", bootinfo.loader);
    struct options options;
    options_parse(bootinfo.cmdline, &options);

    /* Before paging_init(): LA57 can only be switched on with paging off (boot.S). */
    bool la57_missing = options.paging_levels == 5 && !paging_enable_five_levels();

    frames_init(&bootinfo, (uintptr_t)__image_start - KERNEL_VMA_BASE,
                (uintptr_t)__image_end - KERNEL_VMA_BASE);
    paging_init(&bootinfo);
    print_memory(&bootinfo);
    kprintf("minikernel: paging: kernel page tables at 0x%llx, NX %s, %d levels\n",
            (unsigned long long)paging_root(), paging_nx_enabled() ? "on" : "unavailable",
            paging_levels());

    const char *no_apic_reason;
    if (!lapic_present(&no_apic_reason))
        panic("no local APIC: %s; this kernel needs one to start the other CPUs",
              no_apic_reason);

    if (!acpi_init(&bootinfo))
        kprintf("minikernel: warning: no ACPI; the clock and the CPU list will be missing\n");
    clock_init(options.clock);
    if (!topology_read(&topology))
        refuse_without_cpu_table(&options);
    if (la57_missing)
        refuse_without_la57(&options, &topology);

    enum smpboot_apic_mode apic_mode = choose_apic_mode(options.apic, &topology);
    struct smpboot_apic_ops apic;
    lapic_init_bsp(apic_mode, topology.valid ? topology.info.lapic_phys : 0, &apic);
    percpu_self()->apic_id = lapic_current_id();
    lapic_timer_calibrate();

    if (options.high_page_tables) {
        if (frames_memory_top() > FOUR_GIB) {
            paging_move_tables(FOUR_GIB);
            kprintf("minikernel: paging: page tables moved above 4 GiB, root at 0x%llx\n",
                    (unsigned long long)paging_root());
        } else {
            kprintf("minikernel: warning: high_page_tables=1 ignored: no memory above 4 GiB\n");
        }
    }

    if (options.reference == REFERENCE_NAIVE_SERIAL)
        naive_serial_run(&options, &topology, apic_mode);
    smp_run(&options, &topology, apic_mode, &apic);
}
