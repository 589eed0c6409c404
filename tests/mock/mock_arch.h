/* Host stand-in for src/arch: canned control registers, CPUID and interrupt state; parking ends the thread. */
#ifndef SMPBOOT_TESTS_MOCK_ARCH_H
#define SMPBOOT_TESTS_MOCK_ARCH_H

#include <stdbool.h>

#include "arch/arch.h"

/* What smpboot_arch_read_cpu_state() reports from now on. */
void mock_arch_set_cpu_state(const struct smpboot_cpu_state *state);
/* How many times smpboot_arch_park() ran (each ended its thread). */
unsigned mock_arch_park_count(void);
/* Back to the defaults: an Intel family 6 BSP, no hypervisor. */
void mock_arch_reset(void);

/*
 * The BSP's CPUID: vendor (12 characters), leaf 1 EAX (family/model/
 * stepping, encoded as the CPU does) and the hypervisor bit (leaf 1 ECX[31]).
 */
void mock_arch_set_cpuid(const char *vendor, uint32_t leaf1_eax, bool hypervisor);

/* CPUID.01H:EDX.APIC and IA32_APIC_BASE as the BSP reports them (default: present, 0xFEE00900). */
void mock_arch_set_local_apic(bool cpuid_apic, uint64_t apic_base);
/* How many times IA32_APIC_BASE was read. */
unsigned mock_arch_apic_base_reads(void);

/* On the calling thread: interrupts masked by smpboot_arch_irq_save() right now. */
bool mock_arch_irqs_masked(void);
/* On the calling thread: a store fence ran since the last call (which consumes it). */
bool mock_arch_take_fence(void);
/* On the calling thread: the NMI-only IDT was loaded, and the last INVLPG address (0: none). */
bool mock_arch_nmi_idt_loaded(void);
uint64_t mock_arch_last_invlpg(void);

#endif
