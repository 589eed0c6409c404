/* SPDX-License-Identifier: MIT */
/*
 * Byte layout of the ACPI MADT ("APIC" table), ACPI 6.5 section 5.2.12.
 *
 * Offsets are from the start of the table or of one entry. All fields are
 * little-endian and may sit at any alignment.
 */
#ifndef SMPBOOT_MADT_LAYOUT_H
#define SMPBOOT_MADT_LAYOUT_H

/* Common ACPI system description table header (36 bytes). */
#define MADT_SIGNATURE_OFFSET 0u
#define MADT_SIGNATURE_SIZE   4u
#define MADT_LENGTH_OFFSET    4u
#define MADT_LENGTH_SIZE      4u
#define MADT_SDT_HEADER_SIZE  36u

/* MADT-specific header fields that follow it. */
#define MADT_LAPIC_ADDRESS_OFFSET 36u  /* u32 */
#define MADT_FLAGS_OFFSET         40u  /* u32 */
#define MADT_HEADER_SIZE          44u  /* the first entry starts here */

/* Every entry starts with a type byte and a length byte (which counts both). */
#define MADT_ENTRY_TYPE_OFFSET   0u
#define MADT_ENTRY_LENGTH_OFFSET 1u
#define MADT_ENTRY_PREFIX_SIZE   2u

/* Type 0: Processor Local APIC. */
#define MADT_TYPE_LOCAL_APIC        0u
#define MADT_LOCAL_APIC_SIZE        8u
#define MADT_LOCAL_APIC_UID_OFFSET  2u  /* u8 */
#define MADT_LOCAL_APIC_ID_OFFSET   3u  /* u8 */
#define MADT_LOCAL_APIC_FLAGS_OFFSET 4u /* u32 */

/* Type 4: Local APIC NMI. */
#define MADT_TYPE_LOCAL_APIC_NMI         4u
#define MADT_LOCAL_APIC_NMI_SIZE         6u
#define MADT_LOCAL_APIC_NMI_UID_OFFSET   2u  /* u8, 0xFF = all */
#define MADT_LOCAL_APIC_NMI_FLAGS_OFFSET 3u  /* u16, MPS INTI flags */
#define MADT_LOCAL_APIC_NMI_LINT_OFFSET  5u  /* u8 */

/* Type 5: Local APIC Address Override. */
#define MADT_TYPE_LAPIC_OVERRIDE           5u
#define MADT_LAPIC_OVERRIDE_SIZE           12u
#define MADT_LAPIC_OVERRIDE_ADDRESS_OFFSET 4u  /* u64, after 2 reserved bytes */

/* Type 9: Processor Local x2APIC. */
#define MADT_TYPE_LOCAL_X2APIC         9u
#define MADT_LOCAL_X2APIC_SIZE         16u
#define MADT_LOCAL_X2APIC_ID_OFFSET    4u   /* u32, after 2 reserved bytes */
#define MADT_LOCAL_X2APIC_FLAGS_OFFSET 8u   /* u32 */
#define MADT_LOCAL_X2APIC_UID_OFFSET   12u  /* u32 */

/* Type 10: Local x2APIC NMI. */
#define MADT_TYPE_LOCAL_X2APIC_NMI         10u
#define MADT_LOCAL_X2APIC_NMI_SIZE         12u
#define MADT_LOCAL_X2APIC_NMI_FLAGS_OFFSET 2u  /* u16, MPS INTI flags */
#define MADT_LOCAL_X2APIC_NMI_UID_OFFSET   4u  /* u32, 0xFFFFFFFF = all */
#define MADT_LOCAL_X2APIC_NMI_LINT_OFFSET  8u  /* u8, then 3 reserved bytes */

/* Local APIC flags (types 0 and 9). */
#define MADT_CPU_FLAG_ENABLED        0x1u
#define MADT_CPU_FLAG_ONLINE_CAPABLE 0x2u  /* ACPI 6.3+; meaningful only when not Enabled */

/* MPS INTI flags (types 4 and 10). */
#define MADT_INTI_POLARITY_MASK  0x3u
#define MADT_INTI_TRIGGER_SHIFT  2u
#define MADT_INTI_TRIGGER_MASK   0x3u
#define MADT_INTI_RESERVED_VALUE 2u  /* polarity or trigger 2 is reserved */

/* Invalid APIC IDs firmware uses for placeholder entries. */
#define MADT_LOCAL_APIC_ID_INVALID  0xFFu        /* also the xAPIC broadcast ID */
#define MADT_LOCAL_X2APIC_ID_INVALID 0xFFFFFFFFu /* the x2APIC broadcast ID */

/* Local APIC LINT pins: LINT0 and LINT1. */
#define MADT_LINT_MAX 1u

#endif /* SMPBOOT_MADT_LAYOUT_H */
