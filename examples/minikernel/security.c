/* The state libsmpboot leaves behind, checked from the kernel. See security.h. */
#include "security.h"

#include "console.h"
#include "cpu.h"
#include "layout.h"
#include "paging.h"

#define PAGE 4096u
#define MSR_PAT 0x277u
#define LOWER_HALF_END 0x0000800000000000ull

/*
 * What smpboot_finish() leaves in the trampoline page (src/trampoline/
 * trampoline.c): `cli; hlt; jmp short` back to the HLT at offset 0, HLT in
 * every other byte, so a CPU landing anywhere in the page stops there.
 */
static const uint8_t halt_loop[] = { 0xFA, 0xF4, 0xEB, 0xFC };
#define HLT_OPCODE 0xF4u

/*
 * Bits an AP may legitimately hold differently from the BSP (see
 * asm/trampoline.asm): the trampoline forces the caches on (CR0.CD and NW
 * clear) whatever the BSP runs with, and leaves CR4.LASS off because it
 * would forbid fetching from the low trampoline page; a kernel's entry sets
 * LASS itself later. Every other bit must match.
 */
#define CR0_NOT_COMPARED ((1ull << 29) | (1ull << 30)) /* NW, CD */
#define CR4_NOT_COMPARED (1ull << 27)                  /* LASS */

/* Report at most this many offending leaves, then only count. */
#define SHOWN_MAX 8

void security_read_control(struct control_state *out)
{
    __asm__ volatile("mov %%cr0, %0" : "=r"(out->cr0));
    __asm__ volatile("mov %%cr4, %0" : "=r"(out->cr4));
    out->efer = rdmsr(MSR_EFER);
    out->pat = rdmsr(MSR_PAT);
}

struct feature_bit {
    const char *name;
    uint32_t leaf, reg; /* reg: 1 = EBX, 2 = ECX, 3 = EDX */
    uint32_t cpuid_bit;
    uint32_t cr4_bit;
};

/* CR4 bits and the CPUID bit that says the CPU has each (SDM vol. 3, 2.5). */
static const struct feature_bit cr4_features[] = {
    { "PGE", 1, 3, 13, 7 },       { "OSFXSR", 1, 3, 24, 9 },   { "OSXMMEXCPT", 1, 3, 25, 10 },
    { "UMIP", 7, 2, 2, 11 },      { "FSGSBASE", 7, 1, 0, 16 }, { "PCIDE", 1, 2, 17, 17 },
    { "OSXSAVE", 1, 2, 26, 18 },  { "SMEP", 7, 1, 7, 20 },     { "SMAP", 7, 1, 20, 21 },
};

static bool cpu_has(uint32_t leaf, uint32_t reg, uint32_t bit)
{
    if (cpuid(leaf & 0x80000000u, 0).eax < leaf)
        return false;
    struct cpuid_regs r = cpuid(leaf, 0);
    uint32_t value = reg == 1 ? r.ebx : reg == 2 ? r.ecx : r.edx;
    return (value >> bit) & 1u;
}

void security_enrich_bsp_state(void)
{
    char added[160];
    size_t used = 0;
    uint64_t cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    for (size_t i = 0; i < sizeof(cr4_features) / sizeof(cr4_features[0]); i++) {
        const struct feature_bit *f = &cr4_features[i];
        if (!cpu_has(f->leaf, f->reg, f->cpuid_bit) || (cr4 & (1ull << f->cr4_bit)))
            continue;
        /* PCIDE may only be set with CR3[11:0] zero, which our CR3 is. */
        cr4 |= 1ull << f->cr4_bit;
        __asm__ volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
        for (const char *c = f->name; *c && used + 2 < sizeof(added); c++)
            added[used++] = *c;
        if (used + 1 < sizeof(added))
            added[used++] = ' ';
    }
    added[used] = 0;
    /* SYSCALL/SYSRET enable, when the CPU has it (CPUID 0x80000001 EDX bit 11). */
    if (cpu_has(0x80000001u, 3, 11))
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1u);
    /* PAT entry 7 to write-combining (1); the kernel's mappings only use entries 0-3. */
    uint64_t pat = (rdmsr(MSR_PAT) & ~(0xFFull << 56)) | (1ull << 56);
    wrmsr(MSR_PAT, pat);
    kprintf("minikernel: security: BSP state enriched for the comparison: CR4 +%s(now 0x%llx), "
            "EFER 0x%llx, PAT 0x%llx\n",
            used ? added : "nothing ", (unsigned long long)cr4,
            (unsigned long long)rdmsr(MSR_EFER), (unsigned long long)pat);
}

static uint32_t check_trampoline_page(uint64_t page)
{
    if (page == 0) {
        kprintf("minikernel: error: security: libsmpboot never allocated a trampoline page\n");
        return 1;
    }
    const volatile uint8_t *bytes = phys_to_virt(page);
    uint32_t wrong = 0, first_wrong = PAGE;
    for (uint32_t i = 0; i < PAGE; i++) {
        uint8_t want = i < sizeof(halt_loop) ? halt_loop[i] : HLT_OPCODE;
        if (bytes[i] != want) {
            if (first_wrong == PAGE)
                first_wrong = i;
            wrong++;
        }
    }
    if (wrong) {
        kprintf("minikernel: error: security: trampoline page 0x%llx: %u bytes are neither the "
                "halt loop nor HLT, the first at offset 0x%x (0x%02x)\n",
                (unsigned long long)page, wrong, first_wrong, bytes[first_wrong]);
        return 1;
    }
    kprintf("minikernel: security: trampoline page 0x%llx after finish: halt loop fa f4 eb fc "
            "at offset 0, HLT (f4) in the other %u bytes\n",
            (unsigned long long)page, PAGE - (uint32_t)sizeof(halt_loop));
    return 0;
}

struct walk {
    uint64_t leaves, bytes;
    uint64_t lower_half, writable_exec;
    uint64_t exec_bytes, writable_bytes;
};

static void visit_leaf(void *ctx, uint64_t virt, uint64_t phys, uint64_t size, uint32_t access)
{
    struct walk *w = ctx;
    w->leaves++;
    w->bytes += size;
    if (access & PAGING_EXEC)
        w->exec_bytes += size;
    if (access & PAGING_WRITE)
        w->writable_bytes += size;
    if (virt < LOWER_HALF_END) {
        if (w->lower_half++ < SHOWN_MAX)
            kprintf("minikernel: error: security: lower-half mapping left: 0x%llx -> 0x%llx "
                    "(%llu KiB)\n",
                    (unsigned long long)virt, (unsigned long long)phys,
                    (unsigned long long)(size / 1024));
    }
    if ((access & PAGING_WRITE) && (access & PAGING_EXEC)) {
        if (w->writable_exec++ < SHOWN_MAX)
            kprintf("minikernel: error: security: writable and executable: 0x%llx -> 0x%llx "
                    "(%llu KiB)\n",
                    (unsigned long long)virt, (unsigned long long)phys,
                    (unsigned long long)(size / 1024));
    }
}

static uint32_t check_page_tables(void)
{
    struct walk w = { 0, 0, 0, 0, 0, 0 };
    if (!paging_nx_enabled()) {
        kprintf("minikernel: error: security: no NX (EFER.NXE off): every page is executable\n");
        return 1;
    }
    paging_for_each_leaf(visit_leaf, &w);
    kprintf("minikernel: security: page walk from CR3 0x%llx: %llu leaves, %llu MiB mapped, "
            "%llu KiB executable, %llu in the lower half, %llu writable+executable\n",
            (unsigned long long)paging_root(), (unsigned long long)w.leaves,
            (unsigned long long)(w.bytes >> 20), (unsigned long long)(w.exec_bytes >> 10),
            (unsigned long long)w.lower_half, (unsigned long long)w.writable_exec);
    return (w.lower_half ? 1u : 0u) + (w.writable_exec ? 1u : 0u);
}

/* One stack of an online AP: its pages read+write, no exec; the page below it unmapped. */
static uint32_t check_stack(uint32_t apic_id, const char *which, uintptr_t top, size_t size,
                            bool guarded, uint32_t *guards)
{
    if (top == 0 || size == 0)
        return 0;
    uint64_t base = (uint64_t)top - size;
    uint32_t problems = 0;
    for (uint64_t page = base; page < top; page += PAGE) {
        uint32_t access;
        if (!paging_lookup(page, 0, &access)) {
            kprintf("minikernel: error: security: apic %u %s stack page 0x%llx is not mapped\n",
                    apic_id, which, (unsigned long long)page);
            return problems + 1;
        }
        if (!(access & PAGING_WRITE) || (access & PAGING_EXEC)) {
            kprintf("minikernel: error: security: apic %u %s stack page 0x%llx is %s%s\n", apic_id,
                    which, (unsigned long long)page, access & PAGING_WRITE ? "" : "read-only",
                    access & PAGING_EXEC ? "executable" : "");
            return problems + 1;
        }
    }
    if (guarded) {
        if (paging_lookup(base - PAGE, 0, 0)) {
            kprintf("minikernel: error: security: apic %u %s stack: the guard page 0x%llx is "
                    "mapped\n",
                    apic_id, which, (unsigned long long)(base - PAGE));
            problems++;
        } else {
            (*guards)++;
        }
    }
    return problems;
}

static uint32_t check_stacks(const struct security_inputs *in)
{
    struct smpboot *sb = in->session;
    uint32_t problems = 0, stacks = 0, guards = 0;
    for (uint32_t i = 1; i < smpboot_cpu_count(sb); i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(sb, i);
        if (!cpu || cpu->result != SMPBOOT_CPU_ONLINE)
            continue;
        problems += check_stack(cpu->apic_id, "main", cpu->stack_top, cpu->stack_size,
                                in->stack_guard, &guards);
        stacks++;
        for (uint32_t k = 0; k < in->extra_stack_count && k < SMPBOOT_MAX_EXTRA_STACKS; k++) {
            problems += check_stack(cpu->apic_id, "extra", cpu->extra_stack_top[k],
                                    in->extra_stack_size, in->stack_guard, &guards);
            stacks++;
        }
    }
    if (in->stack_guard)
        kprintf("minikernel: security: %u stacks of online APs read+write, no exec; %u of %u "
                "guard pages below them unmapped\n",
                stacks, guards, stacks);
    else
        kprintf("minikernel: security: %u stacks of online APs read+write, no exec (direct map, "
                "no guard pages: stack_guard=0)\n",
                stacks);
    return problems;
}

/* One register: equal to the BSP's outside the bits that may differ. */
static uint32_t compare_register(uint32_t apic_id, const char *name, uint64_t ap, uint64_t bsp,
                                 uint64_t not_compared)
{
    uint64_t differ = (ap ^ bsp) & ~not_compared;
    if (!differ)
        return 0;
    kprintf("minikernel: error: security: apic %u %s 0x%llx, the BSP's 0x%llx: bits 0x%llx "
            "differ\n",
            apic_id, name, (unsigned long long)ap, (unsigned long long)bsp,
            (unsigned long long)differ);
    return 1;
}

static uint32_t check_control_registers(const struct security_inputs *in)
{
    struct control_state bsp;
    security_read_control(&bsp);
    uint32_t problems = 0, compared = 0;
    struct smpboot *sb = in->session;
    for (uint32_t i = 1; i < smpboot_cpu_count(sb) && i < in->control_entries; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(sb, i);
        if (!cpu || cpu->result != SMPBOOT_CPU_ONLINE)
            continue;
        const struct control_state *ap = &in->ap_control[i];
        problems += compare_register(cpu->apic_id, "CR0", ap->cr0, bsp.cr0, CR0_NOT_COMPARED);
        problems += compare_register(cpu->apic_id, "CR4", ap->cr4, bsp.cr4, CR4_NOT_COMPARED);
        problems += compare_register(cpu->apic_id, "EFER", ap->efer, bsp.efer, 0);
        problems += compare_register(cpu->apic_id, "PAT", ap->pat, bsp.pat, 0);
        compared++;
    }
    kprintf("minikernel: security: control registers of %u APs at entry %s the BSP's: CR0 0x%llx "
            "CR4 0x%llx EFER 0x%llx PAT 0x%llx (not compared: CR0.CD, CR0.NW, CR4.LASS)\n",
            compared, problems ? "differ from" : "equal", (unsigned long long)bsp.cr0,
            (unsigned long long)bsp.cr4, (unsigned long long)bsp.efer,
            (unsigned long long)bsp.pat);
    return problems;
}

uint32_t security_check(const struct security_inputs *in)
{
    uint32_t problems = check_trampoline_page(in->trampoline_page);
    problems += check_page_tables();
    problems += check_stacks(in);
    problems += check_control_registers(in);
    kprintf("minikernel: security: %u problems\n", problems);
    return problems;
}
