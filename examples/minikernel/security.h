/*
 * check_security=1: after smpboot_finish(), check what libsmpboot left
 * behind: the trampoline page holds no CR3 and no kernel address, the kernel's page
 * tables map nothing in the lower half and nothing both writable and
 * executable, the stack guard pages are unmapped, and every AP entered the
 * kernel with the machine state of libsmpboot's entry contract
 * (docs/protocol.md): the fixed CR0, PAE plus the BSP's allowlisted CR4
 * bits, the BSP's EFER, PAT and MTRRs, and a GDT and IDT that outlive the
 * trampoline page (the GDT in the kernel image, the IDT in struct smpboot).
 */
#ifndef MK_SECURITY_H
#define MK_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <smpboot/smpboot.h>

/* Variable-range MTRR pairs compared; CPUs report 8-10. */
#define MTRR_VARIABLE_MAX 16u
#define MTRR_FIXED_COUNT 11u

struct mtrr_state {
    bool present;                            /* CPUID.1:EDX.MTRR */
    bool fixed_present;                      /* IA32_MTRRCAP.FIX */
    uint32_t variable_count;                 /* IA32_MTRRCAP.VCNT */
    uint64_t def_type;                       /* IA32_MTRR_DEF_TYPE */
    uint64_t fixed[MTRR_FIXED_COUNT];
    uint64_t variable[2 * MTRR_VARIABLE_MAX]; /* base, mask, base, mask, ... */
};

/* What a CPU found in its control registers. */
struct control_state {
    uint64_t cr0, cr4, efer, pat;
    uint64_t gdt_base, idt_base;
    uint16_t gdt_limit, idt_limit;
    struct mtrr_state mtrr; /* read by security_read_mtrrs() only */
};

/* The control registers and descriptor-table registers (cheap: every AP entry). */
void security_read_control(struct control_state *out);
/* The MTRRs (tens of RDMSRs: check_security=1 only). */
void security_read_mtrrs(struct mtrr_state *out);

/*
 * Before bring-up, turn on in the BSP every control bit this CPU offers that
 * the kernel can live with (CR4: DE, PSE, MCE, PGE, OSFXSR, OSXMMEXCPT,
 * UMIP, FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP, PKE, and VMXE, which the APs
 * must not get; CR0.TS, which they must not get either; EFER.SCE; a PAT
 * with WC in its last entry), so that the comparison checks a state unlike
 * the reset values the APs wake up with. Prints what it set.
 */
void security_enrich_bsp_state(void);

struct security_inputs {
    struct smpboot *session;                 /* after smpboot_finish() */
    const struct control_state *ap_control;  /* by CPU index, read in each AP's entry */
    uint32_t control_entries;                /* entries in ap_control */
    uint64_t trampoline_page;                /* physical; 0 if unknown */
    bool trampoline_poisoned;                /* freed frames are poisoned: nothing to check */
    bool stack_guard;                        /* stacks in a window with guard pages */
    size_t extra_stack_size;                 /* bytes of each extra stack */
    uint32_t extra_stack_count;
};

/* Run every check, print one line per check and one error per problem; the problem count. */
uint32_t security_check(const struct security_inputs *in);

#endif /* MK_SECURITY_H */
