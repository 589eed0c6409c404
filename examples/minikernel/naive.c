/* REFERENCE, NOT A FEATURE: reference=naive-serial. See naive.h. */
#include "naive.h"

#include "clock.h"
#include "console.h"
#include "cpu.h"
#include "frames.h"
#include "lapic.h"
#include "mem.h"
#include "paging.h"
#include "percpu.h"
#include "power.h"

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
/* Only so that a test cannot hang; a hobby kernel would spin for ever. */
#define FLAG_WAIT_NS (10000 * NS_PER_MS)
#define STACK_PAGES 4u
#define LOW_MEMORY_END 0x100000ull
#define FOUR_GIB 0x100000000ull
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LME (1ull << 8)

extern const char naive_trampoline_start[], naive_trampoline_end[];
extern const char naive_trampoline_code32[], naive_trampoline_code64[], naive_trampoline_gdt[];
extern const char naive_param_gdt_base[], naive_param_far32[], naive_param_far64[];
extern const char naive_param_cr3[], naive_param_cr4[], naive_param_efer[];
extern const char naive_param_stack[], naive_param_entry[], naive_param_arg[];

struct naive_ap {
    uint32_t apic_id;
    uint64_t stack_top;
    bool online; /* its flag came, this round */
};

static struct naive_ap aps[MAX_CPUS]; /* index 0 is the BSP */
/* Written by each AP: the round in which it arrived, and when. */
static uint32_t arrived_round[MAX_CPUS];
static uint64_t arrival_ns[MAX_CPUS];
static uint8_t *page;     /* the trampoline page, through the direct map */
static uint64_t page_phys;

static uint64_t read_cr4(void)
{
    uint64_t value;
    __asm__ volatile("mov %%cr4, %0" : "=r"(value));
    return value;
}

static size_t offset_of(const char *label)
{
    return (size_t)((uintptr_t)label - (uintptr_t)naive_trampoline_start);
}

static void put32(const char *label, uint32_t value)
{
    memcpy(page + offset_of(label), &value, sizeof(value));
}

static void put64(const char *label, uint64_t value)
{
    memcpy(page + offset_of(label), &value, sizeof(value));
}

/* On the AP, in 64-bit mode on its own stack: arg = index | round << 32. */
static _Noreturn void naive_ap_arrived(uint64_t arg)
{
    uint32_t index = (uint32_t)arg;
    arrival_ns[index] = clock_now_ns();
    __atomic_store_n(&arrived_round[index], (uint32_t)(arg >> 32), __ATOMIC_RELEASE);
    cpu_halt_forever();
}

static _Noreturn void refuse(const char *why, uint32_t expected)
{
    kprintf("minikernel: error: reference=naive-serial: %s\n", why);
    console_print_last("smpboot: summary online=1 expected=%u failed=%u mode=serial bringup_us=0\n",
                       expected, expected > 0 ? expected - 1 : 0);
    power_off(false);
}

/* The page below 1 MiB, identity mapped (read + execute), with the blob and the fixed parameters. */
static bool install_trampoline(void)
{
    size_t size = (size_t)(naive_trampoline_end - naive_trampoline_start);
    if (frames_alloc(1, FRAME_SIZE, LOW_MEMORY_END, FRAME_SIZE, &page_phys) != SMPBOOT_OK)
        return false;
    if (paging_map(page_phys, page_phys, 1, PAGING_EXEC) != SMPBOOT_OK)
        return false;
    page = phys_to_virt(page_phys);
    memset(page, 0, FRAME_SIZE);
    memcpy(page, naive_trampoline_start, size);
    put32(naive_param_gdt_base, (uint32_t)(page_phys + offset_of(naive_trampoline_gdt)));
    put32(naive_param_far32, (uint32_t)(page_phys + offset_of(naive_trampoline_code32)));
    put32(naive_param_far64, (uint32_t)(page_phys + offset_of(naive_trampoline_code64)));
    put32(naive_param_cr3, (uint32_t)paging_root());
    put32(naive_param_cr4, (uint32_t)(CR4_PAE | (read_cr4() & CR4_LA57)));
    put32(naive_param_efer, (uint32_t)(EFER_LME | (rdmsr(MSR_EFER) & EFER_NXE)));
    put64(naive_param_entry, (uint64_t)(uintptr_t)naive_ap_arrived);
    return true;
}

/* INIT, SIPI, SIPI, then spin on the flag. true when it came in time. */
static bool start_one(uint32_t index, uint32_t round)
{
    struct naive_ap *ap = &aps[index];
    put64(naive_param_stack, ap->stack_top);
    put64(naive_param_arg, (uint64_t)index | (uint64_t)round << 32);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    uint8_t vector = (uint8_t)(page_phys >> 12);
    bool sent = lapic_send_init(ap->apic_id) && lapic_send_startup(ap->apic_id, vector) &&
                lapic_send_startup(ap->apic_id, vector);
    uint64_t start = clock_now_ns();
    while (sent && __atomic_load_n(&arrived_round[index], __ATOMIC_ACQUIRE) != round) {
        if (clock_now_ns() - start > FLAG_WAIT_NS) {
            /* Stop it, or it would arrive later on the next AP's parameters. */
            (void)lapic_send_init(ap->apic_id);
            return false;
        }
        cpu_pause();
    }
    return sent;
}

_Noreturn void naive_serial_run(const struct options *options, const struct topology *topology,
                                enum smpboot_apic_mode apic_mode)
{
    uint32_t expected = topology_expected(topology);
    uint32_t bsp_id = lapic_current_id();

    kprintf("minikernel: reference=naive-serial: a REFERENCE for the benchmark, not libsmpboot: "
            "INIT, SIPI, SIPI one AP at a time, no delays, no retries, a 10 s bound per AP%s\n",
            options->mode == SMPBOOT_MODE_PARALLEL && options->mode_set
                ? " (mode=parallel ignored)"
                : "");
    if (paging_root() >= FOUR_GIB)
        refuse("its trampoline loads CR3 in 32-bit mode and the page tables are above 4 GiB "
               "(high_page_tables=1)",
               expected);
    if (!install_trampoline())
        refuse("no page below 1 MiB for its trampoline, or it cannot be mapped", expected);

    uint32_t count = 1;
    aps[0].apic_id = bsp_id;
    for (uint32_t i = 0; i < topology->stored; i++) {
        const struct smpboot_madt_cpu *cpu = &topology->cpus[i];
        if (!cpu->enabled || cpu->apic_id == bsp_id)
            continue;
        if (count == MAX_CPUS)
            refuse("more CPUs than this kernel's table holds", expected);
        uint64_t stack;
        if (frames_alloc(STACK_PAGES, FRAME_SIZE, UINT64_MAX, FRAME_SIZE, &stack) != SMPBOOT_OK)
            refuse("no memory for the AP stacks", expected);
        aps[count].apic_id = cpu->apic_id;
        aps[count].stack_top = (uint64_t)(uintptr_t)phys_to_virt(stack) + STACK_PAGES * FRAME_SIZE;
        count++;
    }
    kprintf("minikernel: starting %u APs: mode=serial reference=naive-serial apic=%s "
            "trampoline page 0x%llx\n",
            count - 1, apic_mode == SMPBOOT_APIC_X2APIC ? "x2apic" : "xapic",
            (unsigned long long)page_phys);

    uint32_t rounds = count == 1 ? 1 : options->rounds;
    if (count == 1 && options->rounds > 1)
        kprintf("minikernel: bench: no AP to start again: one round, not %u\n", options->rounds);
    uint32_t online = 1;
    uint64_t bringup_us = 0;
    for (uint32_t round = 1; round <= rounds; round++) {
        if (round > 1) {
            /* Back to wait-for-SIPI, as smpboot_offline() does; not timed. */
            for (uint32_t i = 1; i < count; i++)
                (void)lapic_send_init(aps[i].apic_id);
            kprintf("minikernel: round %u of %u: starting the APs again\n", round, rounds);
        }
        /* The timed interval: from the first INIT to the last AP's stamp. */
        uint64_t start = clock_now_ns(), last = start;
        online = 1;
        for (uint32_t i = 1; i < count; i++) {
            aps[i].online = start_one(i, round);
            if (!aps[i].online)
                continue;
            online++;
            uint64_t at = arrival_ns[i];
            if (at > last)
                last = at;
        }
        bringup_us = (last - start) / NS_PER_US;
        kprintf("smpboot: round r=%u online=%u bringup_us=%llu\n", round, online,
                (unsigned long long)bringup_us);
        if (round == rounds)
            kprintf("smpboot: cpu 0 apic %u online (bsp)\n", bsp_id);
        for (uint32_t i = 1; i < count; i++) {
            if (!aps[i].online)
                continue;
            if (round == rounds)
                kprintf("smpboot: cpu %u apic %u online\n", i, aps[i].apic_id);
            else
                kprintf("minikernel: round %u: cpu %u apic %u online\n", round, i,
                        aps[i].apic_id);
        }
    }
    for (uint32_t i = 1; i < count; i++) {
        if (!aps[i].online)
            kprintf("smpboot: cpu %u apic %u timed out (naive-serial: no flag within %llu ms)\n",
                    i, aps[i].apic_id, (unsigned long long)(FLAG_WAIT_NS / NS_PER_MS));
    }
    uint32_t aps_expected = expected > 0 ? expected - 1 : 0;
    uint32_t failed = aps_expected > online - 1 ? aps_expected - (online - 1) : 0;
    bool success = online == expected && failed == 0;
    console_print_last("smpboot: summary online=%u expected=%u failed=%u mode=serial "
                       "bringup_us=%llu\n",
                       online, expected, failed, (unsigned long long)bringup_us);
    power_off(success);
}
