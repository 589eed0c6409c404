#include "mock_arch.h"

#include <pthread.h>
#include <string.h>

static struct smpboot_cpu_state mock_state = {
    .cr0 = 0x80050033u,        /* PG WP NE ET MP PE */
    .cr3 = 0x00101000u,
    .cr4 = 0x000006A0u,        /* PAE PGE OSFXSR OSXMMEXCPT */
    .efer = 0x00000D01u,       /* NXE LMA LME SCE */
    .pat = 0x0007040600070406ull,
};
static unsigned mock_parks;
static char mock_vendor[13];
static uint32_t mock_leaf1_eax;
static bool mock_hypervisor;
static bool mock_cpuid_apic;
static uint64_t mock_apic_base;
static unsigned mock_apic_base_reads;

/* Per simulated CPU (thread): what the library did to "its" CPU state. */
static _Thread_local unsigned irq_mask_depth;
static _Thread_local bool fenced;
static _Thread_local bool nmi_idt_loaded;
static _Thread_local uint64_t last_invlpg;

void mock_arch_set_cpu_state(const struct smpboot_cpu_state *state)
{
    mock_state = *state;
}

unsigned mock_arch_park_count(void)
{
    return __atomic_load_n(&mock_parks, __ATOMIC_ACQUIRE);
}

void mock_arch_set_cpuid(const char *vendor, uint32_t leaf1_eax, bool hypervisor)
{
    memcpy(mock_vendor, vendor, 12);
    mock_leaf1_eax = leaf1_eax;
    mock_hypervisor = hypervisor;
}

void mock_arch_reset(void)
{
    __atomic_store_n(&mock_parks, 0, __ATOMIC_RELEASE);
    mock_arch_set_cpuid("GenuineIntel", 0x000906EAu /* family 6 */, false);
    mock_arch_set_local_apic(true, 0xFEE00900u);  /* BSP, enabled, at the usual base */
    mock_apic_base_reads = 0;
    irq_mask_depth = 0;
    fenced = false;
}

void smpboot_arch_read_cpu_state(struct smpboot_cpu_state *state)
{
    *state = mock_state;
}

/* A simulated AP is a thread: parking it for good means ending the thread. */
_Noreturn void smpboot_arch_park(void)
{
    __atomic_add_fetch(&mock_parks, 1, __ATOMIC_ACQ_REL);
    pthread_exit(0);
}

void smpboot_arch_cpuid(uint32_t leaf, uint32_t regs[4])
{
    regs[0] = regs[1] = regs[2] = regs[3] = 0;
    if (leaf == 0) {
        regs[0] = 1;  /* highest basic leaf */
        memcpy(&regs[1], mock_vendor, 4);      /* EBX */
        memcpy(&regs[3], mock_vendor + 4, 4);  /* EDX */
        memcpy(&regs[2], mock_vendor + 8, 4);  /* ECX */
    } else if (leaf == 1) {
        regs[0] = mock_leaf1_eax;
        regs[2] = mock_hypervisor ? 1u << 31 : 0;
        regs[3] = mock_cpuid_apic ? SMPBOOT_CPUID1_EDX_APIC : 0;
    }
}

void mock_arch_set_local_apic(bool cpuid_apic, uint64_t apic_base)
{
    mock_cpuid_apic = cpuid_apic;
    mock_apic_base = apic_base;
}

unsigned mock_arch_apic_base_reads(void)
{
    return mock_apic_base_reads;
}

uint64_t smpboot_arch_read_apic_base(void)
{
    mock_apic_base_reads++;
    return mock_apic_base;
}

uint64_t smpboot_arch_irq_save(void)
{
    return irq_mask_depth++ ? 0 : 1;
}

void smpboot_arch_irq_restore(uint64_t saved)
{
    (void)saved;
    irq_mask_depth--;
}

bool mock_arch_irqs_masked(void)
{
    return irq_mask_depth > 0;
}

void smpboot_arch_store_fence(void)
{
    fenced = true;
}

bool mock_arch_take_fence(void)
{
    bool was = fenced;
    fenced = false;
    return was;
}

void smpboot_arch_build_nmi_idt(uint64_t idt[6])
{
    for (int i = 0; i < 6; i++)
        idt[i] = 0;
    idt[4] = 1;  /* "a gate for vector 2": enough for the AP side to check */
}

void smpboot_arch_load_nmi_idt(const uint64_t idt[6])
{
    nmi_idt_loaded = idt[4] != 0;
}

void smpboot_arch_invlpg(uint64_t virt)
{
    last_invlpg = virt;
}

bool mock_arch_nmi_idt_loaded(void)
{
    return nmi_idt_loaded;
}

uint64_t mock_arch_last_invlpg(void)
{
    return last_invlpg;
}
