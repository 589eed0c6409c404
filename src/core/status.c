/* SPDX-License-Identifier: MIT */
#include <smpboot/status.h>

const char *smpboot_status_str(enum smpboot_status status)
{
    switch (status) {
    case SMPBOOT_OK: return "ok";
    case SMPBOOT_ERR_INVALID_ARGUMENT: return "invalid argument";
    case SMPBOOT_ERR_MISSING_CALLBACK: return "missing host callback";
    case SMPBOOT_ERR_BAD_CONFIG: return "bad configuration";
    case SMPBOOT_ERR_BAD_STATE: return "call not valid in this phase";
    case SMPBOOT_ERR_NOT_BSP: return "not called on the BSP";
    case SMPBOOT_ERR_NO_MEMORY: return "out of memory";
    case SMPBOOT_ERR_MAP_FAILED: return "mapping failed";
    case SMPBOOT_ERR_TABLE_FULL: return "table full";
    case SMPBOOT_ERR_UNREACHABLE: return "APIC ID unreachable in this APIC mode";
    case SMPBOOT_ERR_TIMEOUT: return "timed out";
    case SMPBOOT_ERR_IPI_BUSY: return "ICR stayed busy";
    case SMPBOOT_ERR_IPI_ERROR: return "APIC send error";
    case SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE: return "trampoline page not usable";
    case SMPBOOT_ERR_PARTIAL: return "some APs did not come online";
    case SMPBOOT_ERR_MALFORMED_TABLE: return "malformed ACPI table";
    case SMPBOOT_ERR_BAD_CHECKSUM: return "bad ACPI checksum";
    case SMPBOOT_ERR_NOT_FOUND: return "not found (reserved)";
    case SMPBOOT_ERR_UNSUPPORTED: return "unsupported";
    case SMPBOOT_ERR_HOST: return "host callback failed";
    case SMPBOOT_ERR_CLOCK_STUCK: return "host clock does not advance";
    case SMPBOOT_ERR_CPU_NOT_RESET: return "an AP could not be reset: no restart";
    case SMPBOOT_ERR_ABI_MISMATCH: return "headers and library do not match";
    case SMPBOOT_ERR_NO_APIC: return "no usable local APIC";
    }
    return "unknown status";
}
