/*
 * check_security=1: after smpboot_finish(), check what libsmpboot left
 * behind: the trampoline page holds only its halt loop, the kernel's page
 * tables map nothing in the lower half and nothing both writable and
 * executable, the stack guard pages are unmapped, and every AP entered the
 * kernel with the BSP's CR0, CR4, EFER and PAT.
 */
#ifndef MK_SECURITY_H
#define MK_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <smpboot/smpboot.h>

/* What a CPU found in its control registers. */
struct control_state {
    uint64_t cr0, cr4, efer, pat;
};

void security_read_control(struct control_state *out);

/*
 * Before bring-up, turn on in the BSP every control bit this CPU offers that
 * the kernel can live with (CR4: PGE, OSFXSR, OSXMMEXCPT, UMIP, FSGSBASE,
 * PCIDE, OSXSAVE, SMEP, SMAP; EFER.SCE; a PAT with WC in its last entry), so
 * that the comparison checks a state that differs from the reset values the
 * APs wake up with. Prints what it set.
 */
void security_enrich_bsp_state(void);

struct security_inputs {
    struct smpboot *session;                 /* after smpboot_finish() */
    const struct control_state *ap_control;  /* by CPU index, read in each AP's entry */
    uint32_t control_entries;                /* entries in ap_control */
    uint64_t trampoline_page;                /* physical; 0 if unknown */
    bool stack_guard;                        /* stacks in a window with guard pages */
    size_t extra_stack_size;                 /* bytes of each extra stack */
    uint32_t extra_stack_count;
};

/* Run every check, print one line per check and one error per problem; the problem count. */
uint32_t security_check(const struct security_inputs *in);

#endif /* MK_SECURITY_H */
