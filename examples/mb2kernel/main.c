/*
 * mb2kernel: the BSP's sequence, from GRUB to "every CPU online".
 *
 *  1. read the Multiboot 2 information; reserve the trampoline's low page
 *     before anything else allocates;
 *  2. our own GDT, TSS and IDT on the BSP;
 *  3. ACPI from the RSDP tags: the MADT lists the CPUs, the FADT the PM timer;
 *  4. the local APIC (xAPIC, or x2APIC when the machine needs it) and the clock;
 *  5. libsmpboot: init, add every enabled CPU, start, wait until every AP
 *     said ready, finish; then the summary line and the exit status.
 *
 * Command line (after the image path in grub.cfg): mode=serial|parallel,
 * apic=auto|xapic|x2apic, clock=auto|pmtimer|hpet|pit.
 */
#include "kernel.h"

#include <smpboot/apic.h>

#define SVR_APIC_ENABLE 0x100u
#define SPURIOUS_VECTOR 0xFFu
#define CPUID_1_EDX_APIC (1u << 9)
#define CPUID_1_ECX_X2APIC (1u << 21)
/* How long an AP's entry may take to load its tables and say ready. */
#define READY_TIMEOUT_NS 1000000000ull
#define BSP_IST_STACK_SIZE 4096u

static struct boot_info boot_info;
static struct smpboot session;
static struct smpboot_cpu cpus[MB2_MAX_CPUS];
static struct smpboot_madt_cpu madt_cpus[MB2_MAX_CPUS];
/* Set by each AP once it runs on our tables: the kernel's own proof that
 * the AP got all the way through, independent of libsmpboot's bookkeeping. */
static uint32_t ap_checked_in[MB2_MAX_CPUS];

static uint8_t bsp_double_fault_stack[BSP_IST_STACK_SIZE] __attribute__((aligned(16)));
static uint8_t bsp_nmi_stack[BSP_IST_STACK_SIZE] __attribute__((aligned(16)));

void kmain(uint32_t info_phys);

static void *identity_phys_to_virt(void *ctx, uint64_t phys)
{
    (void)ctx;
    return (void *)(uintptr_t)phys;
}

static void log_line(void *ctx, enum smpboot_log_level level, const char *message)
{
    (void)ctx;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    kprintf("mb2kernel: libsmpboot %s: %s\n", (unsigned)level < 4 ? names[level] : "?", message);
}

/*
 * Where every AP arrives (v2 entry state: CS 0x08, data 0x10, the library's
 * GDT and NMI-only IDT, interrupts off, on its own stack). Load our tables,
 * check in, tell libsmpboot it needs nothing more of the bring-up, and idle.
 */
static void ap_entry(struct smpboot_cpu *cpu)
{
    cpu_tables_load(cpu->index, cpu->extra_stack_top[0], cpu->extra_stack_top[1]);
    __atomic_store_n(&ap_checked_in[cpu->index], 1, __ATOMIC_RELEASE);
    smpboot_ap_ready(cpu);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* Whether command-line option `key` (or `fallback` when absent) is `value`. */
static bool option_equals(const char *key, const char *value, const char *fallback)
{
    char buffer[32];
    if (!bootinfo_option(&boot_info, key, buffer, sizeof(buffer)))
        return string_equal(fallback, value);
    return string_equal(buffer, value);
}

/* Choose xAPIC or x2APIC and fill host->apic; returns the library's mode. */
static enum smpboot_apic_mode setup_local_apic(const struct smpboot_madt_info *madt,
                                               uint32_t stored, struct smpboot_host *host)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(d & CPUID_1_EDX_APIC))
        panic("lapic: this CPU has no local APIC");
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    if (!(base & APIC_BASE_ENABLE))
        panic("lapic: the local APIC is disabled in IA32_APIC_BASE");

    /* xAPIC destinations are 8 bits and 0xFF is broadcast: beyond 254 the
     * machine needs x2APIC, and so does a BSP the firmware left in it. */
    bool needs_x2apic = (base & APIC_BASE_X2APIC) != 0;
    for (uint32_t i = 0; i < stored; i++) {
        if (madt_cpus[i].enabled && (madt_cpus[i].from_x2apic_entry || madt_cpus[i].apic_id > 254))
            needs_x2apic = true;
    }
    if (madt->enabled_count > stored)
        needs_x2apic = needs_x2apic || madt->enabled_count > 255;
    if (option_equals("apic", "x2apic", "auto"))
        needs_x2apic = true;
    if (option_equals("apic", "xapic", "auto") && !(base & APIC_BASE_X2APIC))
        needs_x2apic = false;

    if (needs_x2apic) {
        if (!(c & CPUID_1_ECX_X2APIC))
            panic("lapic: the machine needs x2APIC, which this CPU lacks");
        if (!(base & APIC_BASE_X2APIC))
            wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
        smpboot_apic_use_x2apic(&host->apic);
    } else {
        /* boot.S maps only 3-4 GiB uncached, where the APIC page normally is;
         * registers through a cached mapping would not be registers. */
        if (madt->lapic_phys < UNCACHED_WINDOW_BASE ||
            madt->lapic_phys + PAGE_SIZE > IDENTITY_MAP_LIMIT)
            panic("lapic: registers at %#lx are outside the uncached window [%#lx, %#lx)",
                  madt->lapic_phys, UNCACHED_WINDOW_BASE, IDENTITY_MAP_LIMIT);
        smpboot_apic_use_xapic(&host->apic, (volatile void *)(uintptr_t)madt->lapic_phys);
    }
    /* Software-enable the APIC with a spurious vector our IDT survives. */
    uint32_t svr = host->apic.read(host->apic.ctx, SMPBOOT_APIC_REG_SVR);
    host->apic.write(host->apic.ctx, SMPBOOT_APIC_REG_SVR,
                     (svr & ~0xFFu) | SVR_APIC_ENABLE | SPURIOUS_VECTOR);
    uint32_t bsp_id = host->apic.read(host->apic.ctx, SMPBOOT_APIC_REG_ID);
    if (!needs_x2apic)
        bsp_id >>= 24;
    if (needs_x2apic)
        kprintf("mb2kernel: lapic: x2APIC mode, BSP apic %u, registers in MSRs 0x800-0x8ff\n",
                bsp_id);
    else
        kprintf("mb2kernel: lapic: xAPIC mode, BSP apic %u, registers at %#lx\n", bsp_id,
                madt->lapic_phys);
    return needs_x2apic ? SMPBOOT_APIC_X2APIC : SMPBOOT_APIC_XAPIC;
}

static void print_timeline(const struct smpboot_cpu *cpu)
{
    const struct smpboot_timeline *t = &cpu->timeline;
    kprintf("mb2kernel: timeline us: cpu %u apic %u kicked %lu trampoline %lu long_mode %lu "
            "c %lu online %lu ready %lu\n",
            cpu->index, cpu->apic_id, t->kicked / 1000, t->trampoline / 1000,
            t->long_mode / 1000, t->c_entry / 1000, t->online / 1000, t->ready / 1000);
}

void kmain(uint32_t info_phys)
{
    console_init();
    kprintf("mb2kernel: libsmpboot %u.%u example kernel, Multiboot 2\n", SMPBOOT_VERSION_MAJOR,
            SMPBOOT_VERSION_MINOR);

    bootinfo_parse(info_phys, &boot_info);
    kprintf("mb2kernel: command line: '%s'\n", boot_info.command_line);
    frames_init(&boot_info);

    cpu_tables_init();
    cpu_tables_load(0, (uintptr_t)(bsp_double_fault_stack + BSP_IST_STACK_SIZE),
                    (uintptr_t)(bsp_nmi_stack + BSP_IST_STACK_SIZE));

    /* Without the MADT there is no list of CPUs, so no claim of success. */
    if (!acpi_init(&boot_info))
        panic("acpi: no usable RSDP in the Multiboot 2 information, so no MADT");
    const struct acpi_sdt_header *madt_table = acpi_find("APIC");
    if (!madt_table)
        panic("acpi: no MADT (\"APIC\" table)");
    struct smpboot_madt_info madt;
    enum smpboot_status status = smpboot_madt_parse(madt_table, madt_table->length, &madt,
                                                    madt_cpus, MB2_MAX_CPUS, NULL, 0);
    if (status != SMPBOOT_OK && status != SMPBOOT_ERR_TABLE_FULL)
        panic("madt: %s", smpboot_status_str(status));
    uint32_t stored = madt.cpu_count < MB2_MAX_CPUS ? madt.cpu_count : MB2_MAX_CPUS;
    uint32_t expected = madt.enabled_count;
    kprintf("mb2kernel: madt: %u CPUs listed, %u enabled, %u entries skipped, local APIC at %#lx\n",
            madt.cpu_count, madt.enabled_count, madt.skipped_count, madt.lapic_phys);
    if (expected == 0)
        panic("madt: no enabled CPU");

    /* now_ns and clock_ctx: clock_init(), below. */
    struct smpboot_host host = {
        .ctx = NULL,
        .alloc_frames = frames_alloc,
        .free_frames = frames_free,
        .phys_to_virt = identity_phys_to_virt,
        /* NULL map/unmap: the kernel promises low memory is identity-mapped
         * executable, which boot.S does for all of [4 KiB, 4 GiB). */
        .map = NULL,
        .unmap = NULL,
        .log = log_line,
        /* NULL relax (PAUSE): it also runs on APs before our entry, where an
         * interrupt-based idle would have no IDT of ours to wake through. */
        .relax = NULL,
    };
    enum smpboot_apic_mode apic_mode = setup_local_apic(&madt, stored, &host);
    char clock_choice[16];
    clock_init(&host, bootinfo_option(&boot_info, "clock", clock_choice, sizeof(clock_choice))
                          ? clock_choice
                          : NULL);

    struct smpboot_config config;
    smpboot_config_default(&config);
    config.apic_mode = apic_mode;
    if (option_equals("mode", "serial", "parallel"))
        config.mode = SMPBOOT_MODE_SERIAL;
    config.entry = ap_entry;
    config.extra_stack_count = 2; /* IST1 double fault, IST2 NMI */
    config.extra_stack_size = 4096;
    config.ready_timeout_ns = READY_TIMEOUT_NS;
    const char *mode_name = config.mode == SMPBOOT_MODE_SERIAL ? "serial" : "parallel";

    status = smpboot_init(&session, &host, &config, cpus, MB2_MAX_CPUS);
    if (status != SMPBOOT_OK)
        panic("smpboot_init: %s", smpboot_status_str(status));

    /* Enabled CPUs the kernel could not even hand to the library count as failed. */
    uint32_t not_added = 0;
    uint32_t enabled_stored = 0;
    for (uint32_t i = 0; i < stored; i++) {
        if (!madt_cpus[i].enabled)
            continue;
        enabled_stored++;
        status = smpboot_add_cpu(&session, madt_cpus[i].apic_id);
        if (status != SMPBOOT_OK) {
            kprintf("mb2kernel: error: smpboot_add_cpu(apic %u): %s\n", madt_cpus[i].apic_id,
                    smpboot_status_str(status));
            not_added++;
        }
    }
    if (madt.enabled_count > enabled_stored) {
        kprintf("mb2kernel: error: %u enabled CPUs beyond this kernel's %u-entry table\n",
                madt.enabled_count - enabled_stored, MB2_MAX_CPUS);
        not_added += madt.enabled_count - enabled_stored;
    }

    uint64_t free_before = frames_free_pages();
    kprintf("mb2kernel: starting %u APs: mode=%s apic=%s\n", smpboot_cpu_count(&session) - 1,
            mode_name, apic_mode == SMPBOOT_APIC_X2APIC ? "x2apic" : "xapic");
    enum smpboot_status start_status = smpboot_start(&session);
    uint64_t free_during = frames_free_pages();
    enum smpboot_status ready_status = smpboot_wait_ready(&session);
    enum smpboot_status finish_status = smpboot_finish(&session);
    kprintf("mb2kernel: smpboot_start: %s, smpboot_wait_ready: %s, smpboot_finish: %s\n",
            smpboot_status_str(start_status), smpboot_status_str(ready_status),
            smpboot_status_str(finish_status));
    kprintf("mb2kernel: memory: libsmpboot held %lu pages during bring-up, %lu after finish\n",
            free_before - free_during, free_before - frames_free_pages());

    uint32_t failed = not_added;
    for (uint32_t i = 0; i < smpboot_cpu_count(&session); i++) {
        struct smpboot_cpu *cpu = smpboot_cpu_get(&session, i);
        if (cpu->result == SMPBOOT_CPU_BSP) {
            kprintf("smpboot: cpu %u apic %u online (bsp)\n", cpu->index, cpu->apic_id);
            continue;
        }
        print_timeline(cpu);
        bool checked_in = __atomic_load_n(&ap_checked_in[cpu->index], __ATOMIC_ACQUIRE) != 0;
        if (cpu->result == SMPBOOT_CPU_ONLINE && checked_in) {
            kprintf("smpboot: cpu %u apic %u online\n", cpu->index, cpu->apic_id);
        } else {
            failed++;
            kprintf("smpboot: cpu %u apic %u %s (last step: %s, esr %#x, retries %u%s)\n",
                    cpu->index, cpu->apic_id, smpboot_cpu_result_str(cpu->result),
                    smpboot_progress_str(cpu->progress), cpu->esr, cpu->retries,
                    cpu->result == SMPBOOT_CPU_ONLINE ? ", never checked in" : "");
        }
    }
    if (finish_status != SMPBOOT_OK)
        failed++;

    uint32_t online = smpboot_online_count(&session);
    kprintf("smpboot: summary online=%u expected=%u failed=%u mode=%s bringup_us=%lu\n", online,
            expected, failed, mode_name, smpboot_bringup_ns(&session) / 1000);
    machine_exit(online == expected && failed == 0 ? EXIT_SUCCESS_CODE : EXIT_FAILURE_CODE);
}
