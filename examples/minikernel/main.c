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
#include "options.h"
#include "paging.h"
#include "percpu.h"
#include "pic.h"
#include "serial.h"
#include "smp.h"
#include "topology.h"

#define FOUR_GIB 0x100000000ull
#define XAPIC_MAX_ID 254u /* 255 is the xAPIC broadcast ID */

void kmain(uint32_t multiboot_info_phys);

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

void kmain(uint32_t multiboot_info_phys)
{
    serial_init();
    kprintf("\nminikernel: libsmpboot %d.%d example kernel\n", SMPBOOT_VERSION_MAJOR,
            SMPBOOT_VERSION_MINOR);

    /* Descriptor tables first, so that any fault from here on is reported, not a triple fault. */
    descriptors_init_idt();
    percpu_setup(0, 0, (uintptr_t)(bsp_double_fault_stack + sizeof(bsp_double_fault_stack)));
    pic_disable();

    bootinfo_read(multiboot_info_phys, &bootinfo);
    kprintf("minikernel: command line: '%s'\n", bootinfo.cmdline);
    struct options options;
    options_parse(bootinfo.cmdline, &options);

    frames_init(&bootinfo, (uintptr_t)__image_start - KERNEL_VMA_BASE,
                (uintptr_t)__image_end - KERNEL_VMA_BASE);
    paging_init(&bootinfo);
    print_memory(&bootinfo);
    kprintf("minikernel: paging: kernel page tables at 0x%llx, NX %s\n",
            (unsigned long long)paging_root(), paging_nx_enabled() ? "on" : "unavailable");

    if (!acpi_init())
        kprintf("minikernel: warning: no ACPI; the clock and the CPU list will be missing\n");
    clock_init(options.clock);
    topology_read(&topology);

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

    smp_run(&options, &topology, apic_mode, &apic);
}
