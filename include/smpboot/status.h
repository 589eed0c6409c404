/* SPDX-License-Identifier: MIT */
/*
 * libsmpboot: status codes.
 *
 * Every fallible call returns an enum smpboot_status. The values are fixed
 * and never renumbered, so a kernel may log the number alone.
 */
#ifndef SMPBOOT_STATUS_H
#define SMPBOOT_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

enum smpboot_status {
    SMPBOOT_OK = 0,

    /* A pointer argument was NULL or a value was out of range. */
    SMPBOOT_ERR_INVALID_ARGUMENT = 1,
    /* A host callback that this call needs is NULL. */
    SMPBOOT_ERR_MISSING_CALLBACK = 2,
    /* The configuration is inconsistent (see smpboot_config_check()). */
    SMPBOOT_ERR_BAD_CONFIG = 3,
    /* Called in the wrong phase: start twice, add a CPU after start, ... */
    SMPBOOT_ERR_BAD_STATE = 4,
    /* Called on a CPU that is not the BSP recorded by smpboot_init(). */
    SMPBOOT_ERR_NOT_BSP = 5,
    /* The host's frame allocator failed. */
    SMPBOOT_ERR_NO_MEMORY = 6,
    /* The host's map callback failed. */
    SMPBOOT_ERR_MAP_FAILED = 7,
    /* The caller's CPU (or entry) storage is full. */
    SMPBOOT_ERR_TABLE_FULL = 8,
    /* The APIC ID cannot be addressed in the configured APIC mode. */
    SMPBOOT_ERR_UNREACHABLE = 9,
    /* A bounded wait expired. */
    SMPBOOT_ERR_TIMEOUT = 10,
    /* The ICR delivery-status bit never cleared (xAPIC). */
    SMPBOOT_ERR_IPI_BUSY = 11,
    /* The local APIC's error status register reported a send error. */
    SMPBOOT_ERR_IPI_ERROR = 12,
    /* The trampoline page is not a usable page below 1 MiB. */
    SMPBOOT_ERR_BAD_TRAMPOLINE_PAGE = 13,
    /* Bring-up ran, but at least one AP did not come online. */
    SMPBOOT_ERR_PARTIAL = 14,
    /* An ACPI table is malformed (length, entry size, ...). */
    SMPBOOT_ERR_MALFORMED_TABLE = 15,
    /* An ACPI table's checksum does not add up to zero. */
    SMPBOOT_ERR_BAD_CHECKSUM = 16,
    /* Reserved: no call returns it today (kept so that no value is reused). */
    SMPBOOT_ERR_NOT_FOUND = 17,
    /* The machine or configuration asks for something not supported. */
    SMPBOOT_ERR_UNSUPPORTED = 18,
    /* A host callback failed without a more specific code. */
    SMPBOOT_ERR_HOST = 19,
    /*
     * host.now_ns returned the same value for SMPBOOT_CLOCK_STALL_POLLS reads
     * in a row (a clock that needs interrupts, read with them off): a wait
     * was cut short instead of spinning for ever.
     */
    SMPBOOT_ERR_CLOCK_STUCK = 20,
    /*
     * smpboot_start() refuses to restart: smpboot_finish() could not reset
     * some AP (see struct smpboot_cpu.not_reset), so the memory it may still
     * use is kept for good and the session cannot bring CPUs up again.
     */
    SMPBOOT_ERR_CPU_NOT_RESET = 21,
    /*
     * smpboot_init(): the kernel was compiled against headers of another
     * version, or with other struct sizes, than the archive it links.
     */
    SMPBOOT_ERR_ABI_MISMATCH = 22,
    /*
     * smpboot_start(): the BSP has no usable local APIC (CPUID.01H:EDX.APIC
     * clear, or IA32_APIC_BASE.EN clear), so no INIT or SIPI can be sent.
     */
    SMPBOOT_ERR_NO_APIC = 23,
};

/* A constant, NUL-terminated, human-readable name; never NULL. */
const char *smpboot_status_str(enum smpboot_status status);

#ifdef __cplusplus
}
#endif

#endif /* SMPBOOT_STATUS_H */
