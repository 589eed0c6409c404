/*
 * The trampoline on a real (emulated) CPU: install it with the library's
 * own installer, send INIT-SIPI-SIPI to every AP, and check what each AP
 * did, without the rest of the library (no engine: the harness plays the
 * BSP's part of the slot protocol by hand).
 *
 * With -smp N the table has slots for APIC IDs 0..N-2:
 *   IDs 1..N-3  KICKED: must arrive in smpboot_ap_main with the BSP's
 *               CR0/CR3/CR4/EFER/PAT, rsp = stack_top - 8, rflags = 2,
 *               rdi = the slot's upper-half address, progress STACK;
 *   ID N-2      left IDLE: must lose the CAS and touch nothing;
 *   ID N-1      has no slot: must find none and park.
 * Every AP must count itself in the page's `entered` counter.
 *
 * Command line words: "x2apic" (the BSP switches to x2APIC and asks the
 * APs to), "high-cr3" (the BSP moves its top-level table above 4 GiB, so
 * the installer builds bootstrap tables), "cpus=N".
 * Result: "PASS" or "FAIL ..." on COM1, and isa-debug-exit (0x10 on pass).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <smpboot/smpboot.h>

#include "arch/arch.h"
#include "core/slot.h"
#include "trampoline/tramp_params.h"
#include "trampoline/trampoline.h"

#define COM1 0x3F8
#define DEBUG_EXIT_PORT 0xF4
#define EXIT_PASS 0x10
#define EXIT_FAIL 0x11

#define MAX_CPUS 16
#define STACK_BYTES 8192
#define HIGH_FRAME 0x100000000ull   /* the first frame above 4 GiB */
#define LOW_FRAMES_START 0x10000ull /* trampoline pages come from here up */
#define LOW_FRAMES_END 0x9F000ull
#define XAPIC_BASE 0xFEE00000ull
#define MSR_APIC_BASE 0x1Bu
#define MSR_X2APIC_ICR 0x830u
#define MSR_EFER 0xC0000080u
#define MSR_PAT 0x277u
#define APIC_BASE_EXTD (1u << 10)
#define ICR_INIT 0x00004500u        /* INIT, level assert */
#define ICR_STARTUP 0x00004600u     /* Start-up, vector in bits 7:0 */
#define ICR_BUSY (1u << 12)
#define REPORT_DONE 0x600DD00Eu
/* A PAT that differs from the power-on one, so copying it shows. */
#define HARNESS_PAT 0x0007040500070106ull

/* Where the AP's report goes: slot bytes the trampoline never touches. */
struct report {
    uint64_t rsp;      /* 24 */
    uint64_t rflags;   /* 32 */
    uint64_t rdi;      /* 40 */
    uint32_t mismatch; /* 48: bit per control register that differed */
    uint32_t done;     /* 52 */
};
#define REPORT_OFFSET 24u
_Static_assert(REPORT_OFFSET + sizeof(struct report) <= SMPBOOT_SLOT_SIZE, "report fits a slot");

extern uint64_t harness_upper_half;

static struct smpboot_slot slots[MAX_CPUS] __attribute__((aligned(4096)));
static uint8_t stacks[MAX_CPUS][STACK_BYTES] __attribute__((aligned(16)));
static uint8_t low_table_frames[8][4096] __attribute__((aligned(4096)));
static unsigned low_table_frames_used;
static uint64_t next_low_frame = LOW_FRAMES_START;
static struct smpboot_cpu_state bsp;
static struct smpboot sb;
static bool x2apic;
static unsigned failures;

/* ---------- port I/O, MSRs, console ---------- */

static void outb(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static void wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "memory");
}

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static void put(const char *s)
{
    while (*s)
        outb(COM1, (uint8_t)*s++);
}

static void put_hex(uint64_t value)
{
    char buf[19] = "0x";
    for (int i = 0; i < 16; i++)
        buf[2 + i] = "0123456789abcdef"[(value >> (60 - 4 * i)) & 0xF];
    buf[18] = 0;
    put(buf);
}

static void check(bool ok, const char *what, uint32_t cpu, uint64_t got, uint64_t want)
{
    if (ok)
        return;
    failures++;
    put("FAIL cpu ");
    put_hex(cpu);
    put(": ");
    put(what);
    put(" got ");
    put_hex(got);
    put(" want ");
    put_hex(want);
    put("\n");
}

_Noreturn static void finish(void)
{
    put(failures == 0 ? "PASS\n" : "FAILED\n");
    outb(DEBUG_EXIT_PORT, failures == 0 ? EXIT_PASS : EXIT_FAIL);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* The compiler may call these; a kernel provides them. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}
void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

/* ---------- the host callbacks ---------- */

static uint64_t upper(uint64_t phys)
{
    return harness_upper_half + phys;
}

static enum smpboot_status alloc_frames(void *ctx, size_t pages, uint64_t limit, uint64_t align,
                                        uint64_t *phys)
{
    (void)ctx;
    if (limit <= 0x100000u) {
        uint64_t page = (next_low_frame + align - 1) & ~(align - 1);
        if (page + pages * 4096 > LOW_FRAMES_END || page + pages * 4096 > limit)
            return SMPBOOT_ERR_NO_MEMORY;
        next_low_frame = page + pages * 4096;
        *phys = page;
        return SMPBOOT_OK;
    }
    if (low_table_frames_used + pages > 8)
        return SMPBOOT_ERR_NO_MEMORY;
    *phys = (uint64_t)(uintptr_t)low_table_frames[low_table_frames_used];
    low_table_frames_used += (unsigned)pages;
    return SMPBOOT_OK;
}

static void free_frames(void *ctx, uint64_t phys, size_t pages)
{
    (void)ctx;
    (void)phys;
    (void)pages;
}

static void *phys_to_virt(void *ctx, uint64_t phys)
{
    (void)ctx;
    return (void *)(uintptr_t)upper(phys);
}

/* ---------- the local APIC ---------- */

static uint32_t xapic_read(uint32_t reg)
{
    return *(volatile uint32_t *)(uintptr_t)(XAPIC_BASE + reg);
}

static uint32_t self_apic_id(void)
{
    if (x2apic)
        return (uint32_t)rdmsr(0x802);
    return xapic_read(SMPBOOT_APIC_REG_ID) >> 24;
}

static void send_ipi(uint32_t apic_id, uint32_t low)
{
    if (x2apic) {
        wrmsr(MSR_X2APIC_ICR, ((uint64_t)apic_id << 32) | low);
        return;
    }
    volatile uint32_t *icr_high = (volatile uint32_t *)(uintptr_t)(XAPIC_BASE + 0x310);
    volatile uint32_t *icr_low = (volatile uint32_t *)(uintptr_t)(XAPIC_BASE + 0x300);
    *icr_high = apic_id << 24;
    *icr_low = low;
    for (uint64_t spins = 0; (*icr_low & ICR_BUSY) && spins < 1000000; spins++)
        __asm__ volatile("pause");
}

static void spin_cycles(uint64_t cycles)
{
    uint64_t start = rdtsc();
    while (rdtsc() - start < cycles)
        __asm__ volatile("pause");
}

/* ---------- the AP side ---------- */

static struct report *report_of(struct smpboot_slot *slot)
{
    return (struct report *)((uint8_t *)slot + REPORT_OFFSET);
}

/* Called by smpboot_ap_main (harness_boot.asm) on the AP's stack. */
void harness_ap_report(struct smpboot_slot *slot);
void harness_ap_report(struct smpboot_slot *slot)
{
    struct smpboot_cpu_state mine;
    smpboot_arch_read_cpu_state(&mine);
    uint32_t mismatch = 0;
    mismatch |= (mine.cr0 != bsp.cr0) << 0;
    mismatch |= (mine.cr3 != bsp.cr3) << 1;
    mismatch |= (mine.cr4 != bsp.cr4) << 2;
    mismatch |= (mine.efer != bsp.efer) << 3;
    mismatch |= (mine.pat != bsp.pat) << 4;
    mismatch |= (self_apic_id() != slot->apic_id) << 5;
    struct report *r = report_of(slot);
    r->mismatch = mismatch;
    __atomic_store_n(&r->done, REPORT_DONE, __ATOMIC_RELEASE);
}

/* ---------- the BSP side ---------- */

static bool word(const char *cmdline, const char *w)
{
    for (const char *p = cmdline; p && *p; p++) {
        if (p != cmdline && p[-1] != ' ')
            continue;
        size_t i = 0;
        while (w[i] && p[i] == w[i])
            i++;
        if (!w[i] && (p[i] == ' ' || p[i] == 0 || p[i] == '='))
            return true;
    }
    return false;
}

static unsigned cpus_from(const char *cmdline)
{
    for (const char *p = cmdline; p && *p; p++) {
        if ((p == cmdline || p[-1] == ' ') && p[0] == 'c' && p[1] == 'p' && p[2] == 'u' &&
            p[3] == 's' && p[4] == '=') {
            unsigned n = 0;
            for (p += 5; *p >= '0' && *p <= '9'; p++)
                n = n * 10 + (unsigned)(*p - '0');
            return n;
        }
    }
    return 0;
}

/* Move the top-level table above 4 GiB and switch to the copy. */
static void move_top_table_high(void)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    const uint64_t *old = (const uint64_t *)(uintptr_t)(cr3 & ~0xFFFull);
    uint64_t *copy = (uint64_t *)(uintptr_t)HIGH_FRAME;
    for (int i = 0; i < 512; i++)
        copy[i] = old[i];
    __asm__ volatile("mov %0, %%cr3" : : "r"(HIGH_FRAME) : "memory");
}

void harness_main(uint32_t multiboot_info);
void harness_main(uint32_t multiboot_info)
{
    const uint32_t *mbi = (const uint32_t *)(uintptr_t)multiboot_info;
    const char *cmdline = (mbi[0] & (1u << 2)) ? (const char *)(uintptr_t)mbi[4] : "";
    unsigned cpus = cpus_from(cmdline);
    x2apic = word(cmdline, "x2apic");
    put("trampoline harness: ");
    put(cmdline);
    put("\n");
    if (cpus < 4 || cpus > MAX_CPUS) {
        check(false, "cpus= between 4 and 16", 0, cpus, 4);
        finish();
    }

    if (word(cmdline, "high-cr3"))
        move_top_table_high();
    if (x2apic)
        wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EXTD);
    wrmsr(MSR_PAT, HARNESS_PAT);
    smpboot_arch_read_cpu_state(&bsp);
    check(self_apic_id() == 0, "BSP APIC ID", 0, self_apic_id(), 0);

    /* The slot table, handed over by its upper-half alias. */
    uint32_t slot_count = cpus - 1;
    for (uint32_t i = 0; i < slot_count; i++) {
        slots[i] = (struct smpboot_slot){
            .apic_id = i,
            .state = (i >= 1 && i + 2 < cpus) ? SMPBOOT_SLOT_KICKED : SMPBOOT_SLOT_IDLE,
            .stack_top = upper((uint64_t)(uintptr_t)stacks[i] + STACK_BYTES),
        };
    }
    sb.host.alloc_frames = alloc_frames;
    sb.host.free_frames = free_frames;
    sb.host.phys_to_virt = phys_to_virt;
    sb.config.apic_mode = x2apic ? SMPBOOT_APIC_X2APIC : SMPBOOT_APIC_XAPIC;
    sb.cpu_count = slot_count;
    sb.slots_phys = (uint64_t)(uintptr_t)slots;
    sb.slots = (void *)(uintptr_t)upper((uint64_t)(uintptr_t)slots);

    enum smpboot_status status = smpboot_trampoline_install(&sb);
    check(status == SMPBOOT_OK, "install", 0, status, SMPBOOT_OK);
    if (status != SMPBOOT_OK)
        finish();
    check((bsp.cr3 >= HIGH_FRAME) == (sb.boot_tables_pages != 0), "bootstrap tables", 0,
          sb.boot_tables_pages, bsp.cr3);
    put("page ");
    put_hex(sb.tramp_phys);
    put(" boot tables ");
    put_hex(sb.boot_tables_pages);
    put(" cr4 ");
    put_hex(bsp.cr4);
    put("\n");

    /* INIT, then two SIPIs, to every AP (the ones without a kicked slot too). */
    uint8_t vector = smpboot_trampoline_sipi_vector(&sb);
    for (uint32_t id = 1; id < cpus; id++)
        send_ipi(id, ICR_INIT);
    spin_cycles(10000000);
    for (int round = 0; round < 2; round++) {
        for (uint32_t id = 1; id < cpus; id++)
            send_ipi(id, ICR_STARTUP | vector);
        spin_cycles(1000000);
    }

    /* Bounded waits: for the kicked APs' reports, then for every AP's count. */
    const uint64_t bound = 20000000000ull;
    uint64_t start = rdtsc();
    for (uint32_t i = 1; i + 2 < cpus; i++)
        while (__atomic_load_n(&report_of(&slots[i])->done, __ATOMIC_ACQUIRE) != REPORT_DONE &&
               rdtsc() - start < bound)
            __asm__ volatile("pause");
    while (smpboot_trampoline_entered(&sb) < cpus - 1 && rdtsc() - start < bound)
        __asm__ volatile("pause");
    spin_cycles(10000000);  /* a stray late write would show below */

    check(smpboot_trampoline_entered(&sb) == cpus - 1, "APs counted in real mode", 0,
          smpboot_trampoline_entered(&sb), cpus - 1);
    for (uint32_t i = 1; i < slot_count; i++) {
        struct smpboot_slot *slot = &slots[i];
        struct report *r = report_of(slot);
        if (i + 2 == cpus) {
            /* The loser: nothing written at all. */
            check(slot->state == SMPBOOT_SLOT_IDLE, "loser's state", i, slot->state,
                  SMPBOOT_SLOT_IDLE);
            check(slot->progress == 0, "loser's progress", i, slot->progress, 0);
            check(r->done == 0 && r->rsp == 0, "loser ran on", i, r->rsp, 0);
            continue;
        }
        check(r->done == REPORT_DONE, "reached smpboot_ap_main", i, r->done, REPORT_DONE);
        check(slot->state == SMPBOOT_SLOT_ARRIVED, "slot state", i, slot->state,
              SMPBOOT_SLOT_ARRIVED);
        check(slot->progress == SMPBOOT_PROGRESS_STACK, "progress", i, slot->progress,
              SMPBOOT_PROGRESS_STACK);
        check(r->rsp == slot->stack_top - 8, "rsp at entry", i, r->rsp, slot->stack_top - 8);
        check(r->rflags == 0x2, "rflags at entry", i, r->rflags, 0x2);
        check(r->rdi == (uint64_t)(uintptr_t)sb.slots + i * SMPBOOT_SLOT_SIZE, "rdi at entry", i,
              r->rdi, (uint64_t)(uintptr_t)sb.slots + i * SMPBOOT_SLOT_SIZE);
        check(r->mismatch == 0, "control registers or APIC ID differ (bits cr0 cr3 cr4 efer pat id)",
              i, r->mismatch, 0);
    }

    smpboot_trampoline_remove(&sb);
    finish();
}
