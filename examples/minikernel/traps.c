/*
 * Every exception but the NMI is fatal here: the kernel has nothing to recover, so it
 * reports where it happened and stops QEMU with the failure code rather
 * than letting a triple fault reset the machine silently.
 */
#include "traps.h"

#include "console.h"
#include "cpu.h"
#include "lapic.h"
#include "nmi.h"
#include "vectors.h"

#define EXCEPTION_COUNT 32
#define VECTOR_NMI 2
#define VECTOR_PAGE_FAULT 14

static const char *const exception_names[EXCEPTION_COUNT] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range", "#UD invalid opcode", "#NM device not available", "#DF double fault",
    "coprocessor segment overrun", "#TS invalid TSS", "#NP segment not present",
    "#SS stack fault", "#GP general protection", "#PF page fault", "reserved 15",
    "#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD error",
    "#VE virtualization", "#CP control protection", "reserved 22", "reserved 23",
    "reserved 24", "reserved 25", "reserved 26", "reserved 27", "#HV hypervisor injection",
    "#VC VMM communication", "#SX security", "reserved 31",
};

static _Noreturn void report_exception(const struct trap_frame *frame)
{
    panic("%s on apic %d: rip=0x%llx err=0x%llx cr2=0x%llx rsp=0x%llx",
          exception_names[frame->vector], lapic_ready() ? (int)lapic_current_id() : -1,
          (unsigned long long)frame->rip, (unsigned long long)frame->error_code,
          (unsigned long long)(frame->vector == VECTOR_PAGE_FAULT ? read_cr2() : 0),
          (unsigned long long)frame->rsp);
}

void trap_dispatch(struct trap_frame *frame)
{
    /* Platform and watchdog NMIs are not errors here: count them and go on (no EOI). */
    if (frame->vector == VECTOR_NMI) {
        nmi_record();
        return;
    }
    if (frame->vector < EXCEPTION_COUNT)
        report_exception(frame);
    if (frame->vector == VECTOR_SPURIOUS)
        return; /* never acknowledged: the APIC did not mark it in service */
    if (frame->vector >= VECTOR_PIC_FIRST && frame->vector <= VECTOR_PIC_LAST)
        return; /* a spurious IRQ from the masked 8259s: nothing to acknowledge at the APIC */
    /* The timer and the wake-up IPI only end a HLT; there is nothing else to do. */
    lapic_eoi();
}
