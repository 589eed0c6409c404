/* The state libsmpboot leaves behind, checked from the kernel. See security.h. */
#include "security.h"

#include "console.h"
#include "cpu.h"
#include "format.h"
#include "layout.h"
#include "paging.h"

#define PAGE 4096u
#define MSR_PAT 0x277u
#define LOWER_HALF_END 0x0000800000000000ull

/*
 * What smpboot_finish() promises of the trampoline page (docs/trampoline.md,
 * "After finish"): nothing of the session, no CR3 and no kernel address.
 * (That it parks a CPU a stray SIPI sends there is the trampoline harness's
 * test, `trampoline_qemu_disarmed`.)
 */
/* The direct map of the first TiB of physical memory: more than any machine this kernel runs on. */
#define DIRECT_MAP_SPAN (1ull << 40)

/* A pointer into the kernel image, the direct map or the stack window (layout.h). */
static bool is_kernel_address(uint64_t word)
{
    return word >= KERNEL_VMA_BASE ||
           (word >= DIRECT_MAP_BASE && word - DIRECT_MAP_BASE < DIRECT_MAP_SPAN) ||
           (word >= STACK_WINDOW_BASE && word - STACK_WINDOW_BASE < STACK_WINDOW_SIZE);
}

/*
 * The entry contract: CR0 is a fixed value whatever the BSP runs with
 * (caches on, no TS), CR4 is PAE plus the BSP's bits from an allowlist;
 * anything else (CET, FRED, PKS, LASS, VMXE, ...) is the entry's to set.
 */
#define CR0_AT_ENTRY 0x80050033ull /* PG | AM | WP | NE | ET | MP | PE */
#define CR4_PAE (1ull << 5)
#define CR4_COPIED_FROM_BSP                                                                        \
    ((1ull << 3) | (1ull << 4) | (1ull << 6) | (1ull << 7) | (1ull << 9) | (1ull << 10) |          \
     (1ull << 11) | (1ull << 12) | (1ull << 16) | (1ull << 17) | (1ull << 18) | (1ull << 20) |     \
     (1ull << 21) | (1ull << 22))
#define CR0_TS (1ull << 3)

#define MSR_MTRRCAP 0xFEu
#define MSR_MTRR_DEF_TYPE 0x2FFu
#define MSR_MTRR_PHYSBASE0 0x200u
#define MTRRCAP_VCNT 0xFFu
#define MTRRCAP_FIX (1ull << 8)
#define CPUID_1_EDX_MTRR (1u << 12)

/* IA32_MTRR_FIX64K_00000, FIX16K_80000/A0000, FIX4K_C0000 ... F8000 (SDM vol. 3, 12.11.2.2). */
static const uint32_t mtrr_fixed_msrs[MTRR_FIXED_COUNT] = {
    0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F,
};

extern char __image_start[], __image_end[];

/* Report at most this many offending leaves, then only count. */
#define SHOWN_MAX 8

struct descriptor_register {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

void security_read_control(struct control_state *out)
{
    struct descriptor_register gdtr, idtr;
    __asm__ volatile("mov %%cr0, %0" : "=r"(out->cr0));
    __asm__ volatile("mov %%cr4, %0" : "=r"(out->cr4));
    __asm__ volatile("sgdt %0" : "=m"(gdtr));
    __asm__ volatile("sidt %0" : "=m"(idtr));
    out->gdt_base = gdtr.base;
    out->gdt_limit = gdtr.limit;
    out->idt_base = idtr.base;
    out->idt_limit = idtr.limit;
    out->efer = rdmsr(MSR_EFER);
    out->pat = rdmsr(MSR_PAT);
}

void security_read_mtrrs(struct mtrr_state *out)
{
    *out = (struct mtrr_state){ 0 };
    out->present = (cpuid(1, 0).edx & CPUID_1_EDX_MTRR) != 0;
    if (!out->present)
        return;
    uint64_t cap = rdmsr(MSR_MTRRCAP);
    out->fixed_present = (cap & MTRRCAP_FIX) != 0;
    out->variable_count = (uint32_t)(cap & MTRRCAP_VCNT);
    out->def_type = rdmsr(MSR_MTRR_DEF_TYPE);
    if (out->fixed_present)
        for (uint32_t i = 0; i < MTRR_FIXED_COUNT; i++)
            out->fixed[i] = rdmsr(mtrr_fixed_msrs[i]);
    for (uint32_t i = 0; i < out->variable_count && i < MTRR_VARIABLE_MAX; i++) {
        out->variable[2 * i] = rdmsr(MSR_MTRR_PHYSBASE0 + 2 * i);
        out->variable[2 * i + 1] = rdmsr(MSR_MTRR_PHYSBASE0 + 2 * i + 1);
    }
}

struct feature_bit {
    const char *name;
    uint32_t leaf, reg; /* reg: 1 = EBX, 2 = ECX, 3 = EDX */
    uint32_t cpuid_bit;
    uint32_t cr4_bit;
};

/* CR4 bits and the CPUID bit that says the CPU has each (SDM vol. 3, 2.5). */
static const struct feature_bit cr4_features[] = {
    { "DE", 1, 3, 2, 3 },         { "PSE", 1, 3, 3, 4 },       { "MCE", 1, 3, 7, 6 },
    { "PGE", 1, 3, 13, 7 },       { "OSFXSR", 1, 3, 24, 9 },   { "OSXMMEXCPT", 1, 3, 25, 10 },
    { "UMIP", 7, 2, 2, 11 },      { "VMXE", 1, 2, 5, 13 },     { "FSGSBASE", 7, 1, 0, 16 },
    { "PCIDE", 1, 2, 17, 17 },    { "OSXSAVE", 1, 2, 26, 18 }, { "SMEP", 7, 1, 7, 20 },
    { "SMAP", 7, 1, 20, 21 },     { "PKE", 7, 2, 3, 22 },
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
    /* Lazy-FPU style TS: harmless here (the kernel has no FPU code), fatal in an SSE entry. */
    uint64_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 |= CR0_TS;
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
    /* SYSCALL/SYSRET enable, when the CPU has it (CPUID 0x80000001 EDX bit 11). */
    if (cpu_has(0x80000001u, 3, 11))
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1u);
    /* PAT entry 7 to write-combining (1); the kernel's mappings only use entries 0-3. */
    uint64_t pat = (rdmsr(MSR_PAT) & ~(0xFFull << 56)) | (1ull << 56);
    wrmsr(MSR_PAT, pat);
    kprintf("minikernel: security: BSP state enriched for the comparison: CR4 +%s(now 0x%llx), "
            "CR0 +TS (now 0x%llx), EFER 0x%llx, PAT 0x%llx\n",
            used ? added : "nothing ", (unsigned long long)cr4, (unsigned long long)cr0,
            (unsigned long long)rdmsr(MSR_EFER), (unsigned long long)pat);
}

static uint32_t check_trampoline_page(uint64_t page)
{
    if (page == 0) {
        kprintf("minikernel: error: security: libsmpboot never allocated a trampoline page\n");
        return 1;
    }
    uint32_t problems = 0;
    const volatile uint64_t *words = phys_to_virt(page);
    uint64_t cr3 = paging_root();
    for (uint32_t i = 0; i < PAGE / 8; i++) {
        uint64_t word = words[i];
        if (word == cr3 || is_kernel_address(word)) {
            kprintf("minikernel: error: security: trampoline page 0x%llx after finish: offset "
                    "0x%x holds 0x%llx, %s\n",
                    (unsigned long long)page, i * 8, (unsigned long long)word,
                    word == cr3 ? "the kernel's CR3" : "a kernel address");
            problems++;
        }
    }
    if (problems)
        return 1;
    kprintf("minikernel: security: trampoline page 0x%llx after finish: no CR3 and no kernel "
            "address in its %u words\n",
            (unsigned long long)page, PAGE / 8);
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

/* One register against the value the entry contract gives it. */
static uint32_t compare_register(uint32_t apic_id, const char *name, uint64_t ap, uint64_t want)
{
    if (ap == want)
        return 0;
    kprintf("minikernel: error: security: apic %u %s 0x%llx, the contract says 0x%llx: bits "
            "0x%llx differ\n",
            apic_id, name, (unsigned long long)ap, (unsigned long long)want,
            (unsigned long long)(ap ^ want));
    return 1;
}

static bool inside(uint64_t address, uint64_t bytes, uint64_t start, uint64_t end)
{
    return address >= start && address + bytes <= end && address + bytes >= address;
}

/*
 * The GDT in the kernel image (libsmpboot's .rodata), the IDT inside
 * struct smpboot: both outlive the trampoline page, which finish frees.
 */
static uint32_t check_descriptor_tables(uint32_t apic_id, const struct control_state *ap,
                                        const struct smpboot *sb)
{
    uint32_t problems = 0;
    uint64_t image_start = (uint64_t)(uintptr_t)__image_start;
    uint64_t image_end = (uint64_t)(uintptr_t)__image_end;
    uint64_t session = (uint64_t)(uintptr_t)sb;
    if (!inside(ap->gdt_base, (uint64_t)ap->gdt_limit + 1, image_start, image_end)) {
        kprintf("minikernel: error: security: apic %u entered with its GDT at 0x%llx (limit "
                "0x%x), outside the kernel image\n",
                apic_id, (unsigned long long)ap->gdt_base, ap->gdt_limit);
        problems++;
    }
    if (ap->idt_limit == 0 ||
        !inside(ap->idt_base, (uint64_t)ap->idt_limit + 1, session, session + sizeof(*sb))) {
        kprintf("minikernel: error: security: apic %u entered with its IDT at 0x%llx (limit "
                "0x%x), not libsmpboot's in struct smpboot\n",
                apic_id, (unsigned long long)ap->idt_base, ap->idt_limit);
        problems++;
    }
    return problems;
}

/* Every MTRR zero: the power-on state, MTRRs disabled. */
static bool mtrrs_in_reset_state(const struct mtrr_state *m)
{
    uint64_t any = m->def_type;
    for (uint32_t i = 0; i < MTRR_FIXED_COUNT; i++)
        any |= m->fixed[i];
    for (uint32_t i = 0; i < 2 * MTRR_VARIABLE_MAX; i++)
        any |= m->variable[i];
    return any == 0;
}

/*
 * QEMU's TCG (hypervisor signature "TCGTCGTCGTCG") clears the MTRRs on
 * INIT, which the SDM says INIT keeps: its APs enter with every MTRR zero
 * whatever firmware programmed. KVM keeps them, as hardware does.
 */
static bool init_clears_mtrrs_here(void)
{
    if (!(cpuid(1, 0).ecx & (1u << 31)))
        return false;
    struct cpuid_regs r = cpuid(0x40000000u, 0);
    const uint32_t tcg = 0x54474354u; /* "TCGT" read as a little-endian word */
    return r.ebx == tcg && r.ecx == 0x43544743u && r.edx == 0x47435447u;
}

static uint32_t compare_mtrrs(uint32_t apic_id, const struct mtrr_state *ap,
                              const struct mtrr_state *bsp, uint32_t *cleared_by_init)
{
    if (ap->present && mtrrs_in_reset_state(ap) && !mtrrs_in_reset_state(bsp) &&
        init_clears_mtrrs_here()) {
        (*cleared_by_init)++;
        return 0;
    }
    uint32_t problems = 0;
    char name[32];
    if (ap->present != bsp->present || ap->fixed_present != bsp->fixed_present ||
        ap->variable_count != bsp->variable_count) {
        kprintf("minikernel: error: security: apic %u reports other MTRRs than the BSP "
                "(%u variable, fixed %s)\n",
                apic_id, ap->variable_count, ap->fixed_present ? "yes" : "no");
        return 1;
    }
    problems += compare_register(apic_id, "IA32_MTRR_DEF_TYPE", ap->def_type, bsp->def_type);
    for (uint32_t i = 0; bsp->fixed_present && i < MTRR_FIXED_COUNT; i++) {
        format(name, sizeof(name), "fixed MTRR 0x%x", mtrr_fixed_msrs[i]);
        problems += compare_register(apic_id, name, ap->fixed[i], bsp->fixed[i]);
    }
    for (uint32_t i = 0; i < 2 * bsp->variable_count && i < 2 * MTRR_VARIABLE_MAX; i++) {
        format(name, sizeof(name), "variable MTRR 0x%x", MSR_MTRR_PHYSBASE0 + i);
        problems += compare_register(apic_id, name, ap->variable[i], bsp->variable[i]);
    }
    return problems;
}

static uint32_t check_entry_state(const struct security_inputs *in)
{
    struct control_state bsp;
    security_read_control(&bsp);
    security_read_mtrrs(&bsp.mtrr);
    uint64_t cr4_want = CR4_PAE | (bsp.cr4 & CR4_COPIED_FROM_BSP);
    uint32_t problems = 0, mtrr_problems = 0, compared = 0, mtrrs_cleared = 0;
    struct smpboot *sb = in->session;
    for (uint32_t i = 1; i < smpboot_cpu_count(sb) && i < in->control_entries; i++) {
        const struct smpboot_cpu *cpu = smpboot_cpu_get(sb, i);
        if (!cpu || cpu->result != SMPBOOT_CPU_ONLINE)
            continue;
        const struct control_state *ap = &in->ap_control[i];
        problems += compare_register(cpu->apic_id, "CR0", ap->cr0, CR0_AT_ENTRY);
        problems += compare_register(cpu->apic_id, "CR4", ap->cr4, cr4_want);
        problems += compare_register(cpu->apic_id, "EFER", ap->efer, bsp.efer);
        problems += compare_register(cpu->apic_id, "PAT", ap->pat, bsp.pat);
        problems += check_descriptor_tables(cpu->apic_id, ap, sb);
        mtrr_problems += compare_mtrrs(cpu->apic_id, &ap->mtrr, &bsp.mtrr, &mtrrs_cleared);
        compared++;
    }
    kprintf("minikernel: security: control registers of %u APs at entry %s: CR0 0x%llx "
            "(fixed; BSP 0x%llx), CR4 0x%llx (PAE + allowlist; BSP 0x%llx), EFER 0x%llx, "
            "PAT 0x%llx\n",
            compared, problems ? "break the contract" : "follow the contract",
            (unsigned long long)CR0_AT_ENTRY, (unsigned long long)bsp.cr0,
            (unsigned long long)cr4_want, (unsigned long long)bsp.cr4,
            (unsigned long long)bsp.efer, (unsigned long long)bsp.pat);
    kprintf("minikernel: security: descriptor tables of %u APs at entry: GDT in the kernel "
            "image, IDT in struct smpboot%s\n",
            compared, problems ? " (or an error above)" : "");
    if (mtrrs_cleared)
        kprintf("minikernel: security: MTRRs of %u APs at entry all zero: QEMU's TCG clears "
                "them on INIT (hardware and KVM keep them); not counted\n",
                mtrrs_cleared);
    if (bsp.mtrr.present)
        kprintf("minikernel: security: MTRRs of %u APs at entry %s the BSP's: def_type 0x%llx, "
                "%s fixed-range, %u variable pairs\n",
                compared - mtrrs_cleared, mtrr_problems ? "differ from" : "equal",
                (unsigned long long)bsp.mtrr.def_type, bsp.mtrr.fixed_present ? "11" : "no",
                bsp.mtrr.variable_count);
    else
        kprintf("minikernel: security: no MTRRs on this CPU: nothing to compare\n");
    return problems + mtrr_problems;
}

uint32_t security_check(const struct security_inputs *in)
{
    uint32_t problems = 0;
    if (in->trampoline_poisoned)
        kprintf("minikernel: security: trampoline page not checked: poisoned when freed "
                "(entry_delay_ms=)\n");
    else
        problems += check_trampoline_page(in->trampoline_page);
    problems += check_page_tables();
    problems += check_stacks(in);
    problems += check_entry_state(in);
    kprintf("minikernel: security: %u problems\n", problems);
    return problems;
}
