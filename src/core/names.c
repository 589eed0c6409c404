/* SPDX-License-Identifier: MIT */
#include <smpboot/cpu.h>

const char *smpboot_cpu_result_str(enum smpboot_cpu_result result)
{
    switch (result) {
    case SMPBOOT_CPU_NOT_STARTED: return "not started";
    case SMPBOOT_CPU_BSP: return "bsp";
    case SMPBOOT_CPU_ONLINE: return "online";
    case SMPBOOT_CPU_TIMED_OUT: return "timed out";
    case SMPBOOT_CPU_STALLED: return "stalled";
    case SMPBOOT_CPU_SEND_FAILED: return "send failed";
    case SMPBOOT_CPU_UNREACHABLE: return "unreachable";
    case SMPBOOT_CPU_SKIPPED: return "skipped";
    case SMPBOOT_CPU_REJECTED: return "rejected";
    case SMPBOOT_CPU_OFFLINE: return "offline";
    case SMPBOOT_CPU_NOT_READY: return "online, not ready";
    }
    return "unknown result";
}

/* Phrased to finish "APIC 5 stopped after ...". */
const char *smpboot_progress_str(enum smpboot_progress progress)
{
    switch (progress) {
    case SMPBOOT_PROGRESS_NONE: return "never reaching protected mode";
    case SMPBOOT_PROGRESS_PROTECTED_MODE: return "entering protected mode";
    case SMPBOOT_PROGRESS_PAGING: return "enabling paging";
    case SMPBOOT_PROGRESS_LONG_MODE: return "entering long mode";
    case SMPBOOT_PROGRESS_KERNEL_CR3: return "loading the kernel's CR3";
    case SMPBOOT_PROGRESS_STACK: return "switching to its stack";
    case SMPBOOT_PROGRESS_C: return "entering C";
    case SMPBOOT_PROGRESS_ONLINE: return "going online";
    case SMPBOOT_PROGRESS_READY: return "saying it was ready";
    }
    return "an unknown step";
}
