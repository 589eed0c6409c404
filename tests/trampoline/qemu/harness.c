/*
 * The trampoline on a real (emulated) CPU: install it with the library's
 * own installer, send INIT-SIPI-SIPI to every AP, and check what each AP
 * did, without the rest of the library (no engine: the harness plays the
 * BSP's part of the slot protocol by hand).
 *
 * With -smp N the table has slots for APIC IDs 0..N-2:
 *   IDs 1..N-4  KICKED: must claim the slot (CLAIMED) and arrive in
 *               smpboot_ap_main by a jump, with a zero return address at
 *               rsp = stack_top - 8, rflags = 2, rdi = the slot's upper-half
 *               address, progress STACK, on the library's permanent GDT
 *               (outside the page) with CS = 0x08, DS = ES = SS = FS = GS =
 *               0x10, FS/GS base 0, the fixed CR0, the allowlisted CR4 and
 *               the BSP's CR3, EFER and PAT;
 *   ID N-3      HELD (it waits for the slot, which stays HELD), and ID N-2
 *               in state 7 (the retired SIPIS_DONE, which the v1 blob also
 *               claimed, so it parks): both must touch nothing;
 *   ID N-1      has no slot: must find none and park.
 * An arriving AP must run on the session's NMI-only IDT (IDTR = sb.nmi_idt,
 * which the BSP built as smpboot_start() does). Without "nmi-32bit", no AP
 * may write its slot's NMI stack.
 * Every AP must count itself in the arrival counter after the slot table
 * (one more slot than the table holds, so it lies inside `slots`). The BSP runs
 * with CR0.TS and with CR4 bits outside the allowlist (TSD, PCE), which the
 * APs must not get.
 *
 * Command line words: "x2apic" (the BSP switches to x2APIC and asks the
 * APs to), "high-cr3" (the BSP moves its top-level table above 4 GiB, so
 * the installer builds bootstrap tables), "pcid" (the BSP sets CR4.PCIDE and
 * runs on PCID 5, which the APs must end on too), "nmi" (the BSP sends an
 * NMI to each AP after it arrived, on the session's IDT: each must survive
 * it, proven by the AP's count of wake-ups from HLT), "nmi-32bit" (as "nmi",
 * and the BSP first aims one NMI at each kicked AP it sees in the 32-bit
 * code after the claim; an NMI frame left on a slot's NMI stack must be one
 * from that code. Racy by nature, so not a registered test: an NMI that
 * arrives late can land in the few instructions after paging is switched
 * on that no IDT covers, docs/reliability.md), "disarmed" (first start
 * every AP into the page with its armed flag clear, as smpboot_finish()
 * leaves it: each must park in real mode, writing nothing; then arm it and
 * go on as usual), "cpus=N".
 * Result: "PASS" or "FAIL ..." on COM1, and isa-debug-exit (0x10 on pass);
 * "SKIP ..." and 0x12 when the CPU lacks a feature a word asks for.
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
#define EXIT_SKIP 0x12

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
#define ICR_NMI 0x00004400u         /* NMI, level assert */
#define ICR_BUSY (1u << 12)
#define REPORT_DONE 0x600DD00Eu
/* A PAT that differs from the power-on one, so copying it shows. */
#define HARNESS_PAT 0x0007040500070106ull

#define MSR_FS_BASE 0xC0000100u
#define MSR_GS_BASE 0xC0000101u
#define CR0_TS (1ull << 3)
#define CR4_TSD (1ull << 2)
#define CR4_DE (1ull << 3)
#define CR4_PCE (1ull << 8)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_PCIDE (1ull << 17)
#define CPUID1_ECX_PCID (1u << 17)
#define HARNESS_PCID 5u
/* What the APs must run with: protocol v2's fixed CR0 (PE MP ET NE WP AM PG). */
#define AP_CR0 0x80050033ull
/* CR4 bits the BSP sets that are outside the allowlist: the APs must not get them. */
#define FOREIGN_CR4 (CR4_TSD | CR4_PCE)
#define SEL_CODE64 0x08u
#define SEL_DATA 0x10u
#define SEL_CODE32 0x18u
#define GDT_LIMIT 31u
/* Slot states an AP must not claim: HELD, and the retired SIPIS_DONE (7) of protocol v1. */
#define LOSERS 2u
static const uint32_t loser_states[LOSERS] = {SMPBOOT_SLOT_HELD, 7u};

/* What each AP saw on arrival, by slot index. */
struct report {
    uint64_t rsp;             /* at smpboot_ap_main's first instruction */
    uint64_t rflags;
    uint64_t rdi;
    uint64_t return_address;  /* the 8 bytes at rsp */
    struct smpboot_cpu_state control;
    uint64_t gdt_base;
    uint64_t fs_base;
    uint64_t gs_base;
    uint64_t idt_base;
    uint16_t idt_limit;
    uint16_t gdt_limit;
    uint16_t cs, ds, es, ss, fs, gs;
    uint32_t apic_id;
    uint32_t done;
    uint32_t halt_wakeups;    /* the AP's HLT loop after the report: one per NMI survived */
};

extern uint64_t harness_upper_half;

static struct smpboot_slot slots[MAX_CPUS] __attribute__((aligned(4096)));
static struct report reports[MAX_CPUS];
static uint32_t stray_wakeups;  /* the counter of an AP the table does not know */
static uint8_t stacks[MAX_CPUS][STACK_BYTES] __attribute__((aligned(16)));
static uint8_t low_table_frames[8][4096] __attribute__((aligned(4096)));
static unsigned low_table_frames_used;
static uint64_t next_low_frame = LOW_FRAMES_START;
static struct smpboot_cpu_state bsp;
static struct smpboot_session sb;
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

/* What SGDT and SIDT store in 64-bit mode. */
struct table_register {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static uint16_t selector(int which)
{
    uint16_t value = 0;
    switch (which) {
    case 0: __asm__ volatile("mov %%cs, %0" : "=r"(value)); break;
    case 1: __asm__ volatile("mov %%ds, %0" : "=r"(value)); break;
    case 2: __asm__ volatile("mov %%es, %0" : "=r"(value)); break;
    case 3: __asm__ volatile("mov %%ss, %0" : "=r"(value)); break;
    case 4: __asm__ volatile("mov %%fs, %0" : "=r"(value)); break;
    default: __asm__ volatile("mov %%gs, %0" : "=r"(value)); break;
    }
    return value;
}

/*
 * Called by smpboot_ap_main (harness_boot.asm) on the AP's stack, with what
 * it saw at its first instruction.
 */
uint32_t *harness_ap_report(struct smpboot_slot *slot, uint64_t rsp, uint64_t rflags,
                            uint64_t return_address);
uint32_t *harness_ap_report(struct smpboot_slot *slot, uint64_t rsp, uint64_t rflags,
                            uint64_t return_address)
{
    size_t index = (size_t)(slot - (struct smpboot_slot *)sb.slots);
    if (index >= MAX_CPUS)
        return &stray_wakeups;
    struct report *r = &reports[index];
    r->rsp = rsp;
    r->rflags = rflags;
    r->rdi = (uint64_t)(uintptr_t)slot;
    r->return_address = return_address;
    smpboot_arch_read_cpu_state(&r->control);
    struct table_register gdtr, idtr;
    __asm__ volatile("sgdt %0" : "=m"(gdtr));
    r->gdt_base = gdtr.base;
    r->gdt_limit = gdtr.limit;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    r->idt_base = idtr.base;
    r->idt_limit = idtr.limit;
    r->cs = selector(0);
    r->ds = selector(1);
    r->es = selector(2);
    r->ss = selector(3);
    r->fs = selector(4);
    r->gs = selector(5);
    r->fs_base = rdmsr(MSR_FS_BASE);
    r->gs_base = rdmsr(MSR_GS_BASE);
    r->apic_id = self_apic_id();
    __atomic_store_n(&r->done, REPORT_DONE, __ATOMIC_RELEASE);
    return &r->halt_wakeups;
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

/* Turn on PCIDE (CR3[11:0] is 0 here, as that needs), then run on PCID 5. */
static bool enter_pcid(void)
{
    uint32_t eax = 1, ebx, ecx = 0, edx;
    __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
    if (!(ecx & CPUID1_ECX_PCID))
        return false;
    uint64_t cr3, cr4;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_PCIDE) : "memory");
    __asm__ volatile("mov %0, %%cr3" : : "r"(cr3 | HARNESS_PCID) : "memory");
    return true;
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

static bool is_loser(uint32_t index, uint32_t slot_count)
{
    return index + LOSERS >= slot_count;
}

static void check_arrival(uint32_t i, const struct smpboot_slot *slot, const struct report *r,
                          const struct smpboot_tramp_params *params)
{
    uint64_t slot_virt = (uint64_t)(uintptr_t)sb.slots + i * SMPBOOT_SLOT_SIZE;
    check(r->done == REPORT_DONE, "reached smpboot_ap_main", i, r->done, REPORT_DONE);
    check(slot->state == SMPBOOT_SLOT_CLAIMED, "slot state", i, slot->state,
          SMPBOOT_SLOT_CLAIMED);
    check(slot->progress == SMPBOOT_PROGRESS_STACK, "progress", i, slot->progress,
          SMPBOOT_PROGRESS_STACK);
    check(r->rsp == slot->stack_top - 8, "rsp at entry", i, r->rsp, slot->stack_top - 8);
    check(r->return_address == 0, "return address at entry (jumped, not called)", i,
          r->return_address, 0);
    check(r->rflags == 0x2, "rflags at entry", i, r->rflags, 0x2);
    check(r->rdi == slot_virt, "rdi at entry", i, r->rdi, slot_virt);
    check(r->apic_id == slot->apic_id, "APIC ID", i, r->apic_id, slot->apic_id);

    check(r->control.cr0 == AP_CR0, "CR0 (fixed, whatever the BSP has)", i, r->control.cr0,
          AP_CR0);
    check(r->control.cr3 == bsp.cr3, "CR3", i, r->control.cr3, bsp.cr3);
    check(r->control.cr4 == (bsp.cr4 & ~FOREIGN_CR4), "CR4 (allowlisted bits of the BSP's)", i,
          r->control.cr4, bsp.cr4 & ~FOREIGN_CR4);
    check(r->control.efer == bsp.efer, "EFER", i, r->control.efer, bsp.efer);
    check(r->control.pat == bsp.pat, "PAT", i, r->control.pat, bsp.pat);

    /* The GDT the AP runs on outlives the page: neither its identity nor its alias. */
    uint64_t page_alias = upper(sb.tramp_phys);
    bool in_page = (r->gdt_base >= sb.tramp_phys && r->gdt_base < sb.tramp_phys + 4096) ||
                   (r->gdt_base >= page_alias && r->gdt_base < page_alias + 4096);
    check(!in_page, "GDT outside the trampoline page", i, r->gdt_base, sb.tramp_phys);
    check(r->gdt_base == params->perm_gdtr_base, "GDTR base is the library's GDT", i,
          r->gdt_base, params->perm_gdtr_base);
    check(r->gdt_limit == GDT_LIMIT, "GDTR limit", i, r->gdt_limit, GDT_LIMIT);
    if (!in_page && r->gdt_limit == GDT_LIMIT) {
        const uint64_t *gdt = (const uint64_t *)(uintptr_t)r->gdt_base;
        check(gdt[SEL_CODE64 / 8] & (1ull << 53), "GDT 0x08 is 64-bit code", i,
              gdt[SEL_CODE64 / 8], 0);
        check((gdt[SEL_DATA / 8] & (1ull << 43)) == 0, "GDT 0x10 is data", i, gdt[SEL_DATA / 8],
              0);
        check(gdt[SEL_CODE32 / 8] & (1ull << 54), "GDT 0x18 is 32-bit code", i,
              gdt[SEL_CODE32 / 8], 0);
    }
    check(r->cs == SEL_CODE64, "CS", i, r->cs, SEL_CODE64);
    check(r->ds == SEL_DATA && r->es == SEL_DATA && r->ss == SEL_DATA, "DS/ES/SS", i,
          ((uint64_t)r->ds << 32) | ((uint64_t)r->es << 16) | r->ss, SEL_DATA);
    check(r->fs == SEL_DATA && r->gs == SEL_DATA, "FS/GS", i, ((uint64_t)r->fs << 16) | r->gs,
          SEL_DATA);
    check(r->fs_base == 0 && r->gs_base == 0, "FS/GS base", i, r->fs_base | r->gs_base, 0);

    /* The session's NMI-only IDT, loaded by the trampoline with the AP's stack. */
    uint64_t session_idt = (uint64_t)(uintptr_t)sb.nmi_idt;
    check(r->idt_base == session_idt, "IDTR base is the session's NMI IDT", i, r->idt_base,
          session_idt);
    check(r->idt_limit == sizeof(sb.nmi_idt) - 1, "IDTR limit", i, r->idt_limit,
          sizeof(sb.nmi_idt) - 1);
}

/* Little-endian u32 at `offset` of the slot's NMI stack. */
static uint32_t nmi_stack_word(const struct smpboot_slot *slot, size_t offset)
{
    const uint8_t *b = slot->nmi_stack + offset;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/*
 * What an NMI in the 32-bit code leaves at the slot's end: EIP, CS, EFLAGS
 * (ESP was the slot's end). Returns whether one is there; a frame must come
 * from the code between the claim and paging, on the 32-bit selector.
 */
static bool check_nmi_frame(uint32_t i, const struct smpboot_slot *slot)
{
    size_t top = sizeof(slot->nmi_stack);
    uint32_t eip = nmi_stack_word(slot, top - 12);
    uint32_t cs = nmi_stack_word(slot, top - 8);
    uint32_t eflags = nmi_stack_word(slot, top - 4);
    bool any = false;
    for (size_t b = 0; b < top; b++)
        any |= slot->nmi_stack[b] != 0;
    if (!any)
        return false;
    uint64_t from = sb.tramp_phys + SMPBOOT_TRAMP_ASM_OFF_PROTECTED_MODE_ENTRY;
    uint64_t to = sb.tramp_phys + SMPBOOT_TRAMP_ASM_OFF_NMI_RETURN32;
    check(eip >= from && eip < to, "NMI frame: EIP in the 32-bit code", i, eip, from);
    check((cs & 0xFFFF) == SEL_CODE32, "NMI frame: CS", i, cs, SEL_CODE32);
    check((eflags & 0x202) == 0x2, "NMI frame: EFLAGS (IF clear)", i, eflags, 0x2);
    return true;
}

/*
 * One NMI to each kicked AP seen in the 32-bit code after its claim, until
 * every kicked AP is past it or the bound runs out. Past PAGING an NMI
 * could land in the few instructions before the 64-bit LIDT, which no IDT
 * covers (docs/reliability.md): so each AP gets one, the moment it is seen.
 */
static void nmi_into_32bit_code(uint32_t slot_count, bool sent[], uint64_t bound)
{
    uint64_t start = rdtsc();
    while (rdtsc() - start < bound) {
        bool waiting = false;
        for (uint32_t i = 1; !is_loser(i, slot_count); i++) {
            uint32_t progress = __atomic_load_n(&slots[i].progress, __ATOMIC_ACQUIRE);
            if (sent[i] || progress >= SMPBOOT_PROGRESS_PAGING)
                continue;
            waiting = true;
            if (progress == SMPBOOT_PROGRESS_PROTECTED_MODE) {
                put("NMI to the 32-bit code of slot ");
                put_hex(i);
                put("\n");
                send_ipi(slots[i].apic_id, ICR_NMI);
                sent[i] = true;
            }
        }
        if (!waiting)
            return;
    }
}

/*
 * "disarmed": a page whose armed flag is clear, as smpboot_finish() leaves
 * it (the harness keeps every other parameter valid, so the flag alone must
 * stop them), must park every AP a SIPI starts there, in
 * real mode, before it writes anything: no count, no slot touched. Then the
 * flag is set again, and the usual INIT-SIPI-SIPI that follows must bring
 * every AP on, out of the halt it parked in.
 */
static void start_into_disarmed_page(uint8_t vector, uint32_t slot_count, unsigned cpus)
{
    uint32_t *armed = (uint32_t *)((uint8_t *)sb.tramp_virt + SMPBOOT_TRAMP_ASM_OFF_PARAMS +
                                   SMPBOOT_TRAMP_ASM_PARAM_ARMED);
    check(*armed == SMPBOOT_TRAMP_ASM_ARMED_MAGIC, "installed page armed", 0, *armed,
          SMPBOOT_TRAMP_ASM_ARMED_MAGIC);
    __atomic_store_n(armed, 0u, __ATOMIC_RELEASE);
    for (uint32_t id = 1; id < cpus; id++)
        send_ipi(id, ICR_INIT);
    spin_cycles(10000000);
    for (int round = 0; round < 2; round++) {
        for (uint32_t id = 1; id < cpus; id++)
            send_ipi(id, ICR_STARTUP | vector);
        spin_cycles(1000000);
    }
    spin_cycles(300000000);  /* time to run on, were the flag ignored */
    uint32_t entries = smpboot_trampoline_entries(smpboot_handle_of(&sb));
    check(entries == 0, "disarmed page: APs that reached 32-bit code", 0, entries, 0);
    for (uint32_t i = 1; i < slot_count; i++) {
        check(slots[i].progress == 0, "disarmed page: slot progress", i, slots[i].progress, 0);
        check(slots[i].tsc_claimed == 0, "disarmed page: claim stamp", i, slots[i].tsc_claimed, 0);
        check(reports[i].done == 0, "disarmed page: AP ran on", i, reports[i].done, 0);
    }
    put("disarmed page: no AP left real mode\n");
    __atomic_store_n(armed, SMPBOOT_TRAMP_ASM_ARMED_MAGIC, __ATOMIC_RELEASE);
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
    if (cpus < LOSERS + 3 || cpus > MAX_CPUS) {
        check(false, "cpus= between 5 and 16", 0, cpus, LOSERS + 3);
        finish();
    }

    if (word(cmdline, "high-cr3"))
        move_top_table_high();
    if (word(cmdline, "pcid") && !enter_pcid()) {
        put("SKIP: pcid asked for, but the CPU has no PCID\n");
        outb(DEBUG_EXIT_PORT, EXIT_SKIP);
        finish();
    }
    bool disarmed = word(cmdline, "disarmed");
    bool nmi_32bit = word(cmdline, "nmi-32bit");
    bool nmi = nmi_32bit || word(cmdline, "nmi");
    if (x2apic)
        wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EXTD);
    wrmsr(MSR_PAT, HARNESS_PAT);
    /*
     * Control bits the APs must not inherit (TS: a lazy-FPU BSP; TSD, PCE:
     * outside the allowlist) next to allowlisted ones the boot stub leaves
     * clear (DE, OSFXSR, OSXMMEXCPT). The harness itself uses no FPU.
     */
    uint64_t cr0, cr4;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | CR0_TS));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4"
                     : : "r"(cr4 | FOREIGN_CR4 | CR4_DE | CR4_OSFXSR | CR4_OSXMMEXCPT));
    smpboot_arch_read_cpu_state(&bsp);
    check(self_apic_id() == 0, "BSP APIC ID", 0, self_apic_id(), 0);

    /* The slot table, handed over by its upper-half alias. */
    uint32_t slot_count = cpus - 1;
    for (uint32_t i = 0; i < slot_count; i++) {
        uint32_t state = SMPBOOT_SLOT_IDLE;
        if (i >= 1)
            state = is_loser(i, slot_count) ? loser_states[i + LOSERS - slot_count]
                                            : SMPBOOT_SLOT_KICKED;
        slots[i] = (struct smpboot_slot){
            .apic_id = i,
            .state = state,
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
    /* As smpboot_start() does before the first kick. */
    smpboot_arch_build_nmi_idt(sb.nmi_idt);

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

    uint8_t vector = smpboot_trampoline_sipi_vector(&sb);
    if (disarmed)
        start_into_disarmed_page(vector, slot_count, cpus);

    /* INIT, then two SIPIs, to every AP (the ones without a kicked slot too). */
    for (uint32_t id = 1; id < cpus; id++)
        send_ipi(id, ICR_INIT);
    spin_cycles(10000000);
    bool nmi_sent[MAX_CPUS] = {false};
    for (int round = 0; round < 2; round++) {
        for (uint32_t id = 1; id < cpus; id++) {
            send_ipi(id, ICR_STARTUP | vector);
            /* One AP at a time, so that the BSP watches it through its short 32-bit stretch. */
            if (nmi_32bit && round == 0)
                nmi_into_32bit_code(slot_count, nmi_sent, 200000000ull);
        }
        if (nmi_32bit)
            nmi_into_32bit_code(slot_count, nmi_sent, 2000000000ull);
        else
            spin_cycles(1000000);
    }

    /* Bounded waits: for the kicked APs' reports, then for every AP's count. */
    const uint64_t bound = 20000000000ull;
    uint64_t start = rdtsc();
    for (uint32_t i = 1; !is_loser(i, slot_count); i++)
        while (__atomic_load_n(&reports[i].done, __ATOMIC_ACQUIRE) != REPORT_DONE &&
               rdtsc() - start < bound)
            __asm__ volatile("pause");
    while (smpboot_trampoline_entries(smpboot_handle_of(&sb)) < cpus - 1 && rdtsc() - start < bound)
        __asm__ volatile("pause");
    spin_cycles(10000000);  /* a stray late write would show below */

    /* On the session's IDT now: each arrived AP survives an NMI and counts the wake-up. */
    if (nmi) {
        for (uint32_t i = 1; !is_loser(i, slot_count); i++) {
            if (reports[i].done != REPORT_DONE)
                continue;
            put("NMI to the arrived AP of slot ");
            put_hex(i);
            put("\n");
            send_ipi(slots[i].apic_id, ICR_NMI);
            uint64_t sent_at = rdtsc();
            while (__atomic_load_n(&reports[i].halt_wakeups, __ATOMIC_ACQUIRE) == 0 &&
                   rdtsc() - sent_at < bound)
                __asm__ volatile("pause");
            check(reports[i].halt_wakeups >= 1, "NMI after arrival survived", i,
                  reports[i].halt_wakeups, 1);
        }
    }

    check(smpboot_trampoline_entries(smpboot_handle_of(&sb)) == cpus - 1,
          "APs counted on entering 32-bit code", 0,
          smpboot_trampoline_entries(smpboot_handle_of(&sb)), cpus - 1);
    const struct smpboot_tramp_params *params =
        (const void *)((const uint8_t *)sb.tramp_virt + SMPBOOT_TRAMP_ASM_OFF_PARAMS);
    unsigned frames = 0;
    for (uint32_t i = 1; i < slot_count; i++) {
        struct smpboot_slot *slot = &slots[i];
        if (is_loser(i, slot_count)) {
            /* A loser: nothing written at all. */
            uint32_t want = loser_states[i + LOSERS - slot_count];
            check(slot->state == want, "loser's state", i, slot->state, want);
            check(slot->progress == 0, "loser's progress", i, slot->progress, 0);
            check(slot->tsc_claimed == 0, "loser's claim stamp", i, slot->tsc_claimed, 0);
            check(reports[i].done == 0, "loser ran on", i, reports[i].rsp, 0);
            check(!check_nmi_frame(i, slot), "loser's NMI stack", i, 1, 0);
            continue;
        }
        check_arrival(i, slot, &reports[i], params);
        bool frame = check_nmi_frame(i, slot);
        check(nmi_32bit || !frame, "NMI stack written without an NMI", i, frame, 0);
        frames += frame;
    }
    if (nmi_32bit) {
        unsigned sent = 0;
        for (uint32_t i = 0; i < MAX_CPUS; i++)
            sent += nmi_sent[i];
        put("NMIs sent into the 32-bit code: ");
        put_hex(sent);
        put(", frames they left: ");
        put_hex(frames);
        put("\n");
    }

    smpboot_trampoline_remove(&sb);
    finish();
}
