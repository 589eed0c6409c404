/*
 * Boot options, from the Multiboot command line (QEMU: -append "..."):
 *
 *   mode=serial|parallel    bring-up mode (default: parallel)
 *   profile=default|sdm|fast start from smpboot_config_default(), _sdm() or _fast()
 *   init_delay_us=N         INIT-to-SIPI delay in microseconds
 *   ap_timeout_ms=N         how long an AP may take to answer and go online
 *   apic=auto|xapic|x2apic  local APIC mode (default: auto, see lapic.c)
 *   clock=auto|pmtimer|hpet|cpuid|pit  where the TSC's rate comes from
 *   high_page_tables=0|1    move the page tables above 4 GiB before bring-up
 *   stack_guard=0|1         AP stacks in a virtual window with guard pages
 *   bench=N (or rounds=N)   bring the APs up N times (1-100), offline in between,
 *                           printing each round's bringup_us
 *   fault=none|ap_stack_overflow|stack_unmapped:<apic>|nmi_during_bringup
 *                           a deliberate failure, to test that it is caught
 *   extra_apic=N[,N...]     also start these APIC IDs (absent or disabled in the MADT)
 *   late_aps=0|1            a first bring-up so short that every AP is late
 *   check_security=0|1      after smpboot_finish, check what the library left behind
 *   postmortem=0|1          print where the slot table's address is kept, for a
 *                           runner that reads guest memory after a triple fault
 *   next_after_ready=0|1    serial mode: kick AP n+1 only once AP n said ready
 *   entry_delay_ms=N        each AP's entry waits N ms (1-10000) on libsmpboot's
 *                           GDT and IDT, reloads its segment registers and takes
 *                           a self-NMI there, while the BSP has already called
 *                           smpboot_finish() and freed frames are poisoned
 *   paging=4|5              page-table levels for the whole kernel (5: LA57)
 *   reference=none|naive-serial  naive-serial: bring the APs up without
 *                           libsmpboot, as many hobby kernels do (naive.c), for
 *                           the benchmark's comparison
 *
 * Words without '=' are ignored: loaders put the image path first.
 */
#ifndef MK_OPTIONS_H
#define MK_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <smpboot/config.h>

enum apic_choice { APIC_CHOICE_AUTO, APIC_CHOICE_XAPIC, APIC_CHOICE_X2APIC };
enum clock_choice {
    CLOCK_CHOICE_AUTO,
    CLOCK_CHOICE_PMTIMER,
    CLOCK_CHOICE_HPET,
    CLOCK_CHOICE_CPUID,
    CLOCK_CHOICE_PIT,
};
enum profile_choice { PROFILE_DEFAULT, PROFILE_SDM, PROFILE_FAST };
enum reference_choice { REFERENCE_NONE, REFERENCE_NAIVE_SERIAL };
enum fault_choice {
    FAULT_NONE,
    FAULT_AP_STACK_OVERFLOW,
    FAULT_STACK_UNMAPPED,
    FAULT_NMI_DURING_BRINGUP,
};

/* Bound on extra_apic= IDs. */
#define EXTRA_APIC_MAX 16

struct options {
    enum profile_choice profile;
    bool mode_set;
    enum smpboot_bringup_mode mode;
    bool init_delay_set;
    uint64_t init_delay_us;
    bool ap_timeout_set;
    uint64_t ap_timeout_ms;
    enum apic_choice apic;
    enum clock_choice clock;
    bool high_page_tables;
    bool stack_guard;
    uint32_t rounds;
    enum fault_choice fault;
    uint32_t fault_apic;          /* fault=stack_unmapped:<apic> */
    uint32_t extra_apic_count;
    uint32_t extra_apic[EXTRA_APIC_MAX];
    bool late_aps;
    bool check_security;
    bool postmortem;
    bool next_after_ready;
    uint32_t entry_delay_ms; /* 0: off */
    uint32_t paging_levels;  /* 4 or 5 */
    enum reference_choice reference;
};

/* Defaults first, then each option in turn; a bad one is reported and skipped. */
void options_parse(const char *cmdline, struct options *out);

#endif /* MK_OPTIONS_H */
