; SPDX-License-Identifier: MIT
; libsmpboot: the trampoline's layout, as numbers the C side can check.
;
; Assembles the blob itself (so every label has its final offset), then a
; table of (name, value) records after it. asm/regenerate.py turns the
; table into src/trampoline/trampoline_asm_offsets.h, and
; src/trampoline/tramp_params.h compares each value with its C twin.
;
; Record format, after the 16-byte marker: a name of OFFSET_NAME_BYTES
; bytes (NUL-padded ASCII), then the value as a little-endian u64.

%include "trampoline.asm"

OFFSET_NAME_BYTES equ 40

%macro offset_record 2
    %strlen %%len %1
    %if %%len >= OFFSET_NAME_BYTES
        %error offset name too long: %1
    %endif
    db %1
    times OFFSET_NAME_BYTES - %%len db 0
    dq %2
%endmacro

    align 16
    db "SMPBOOT-OFFSETS", 0

    ; Where things are in the blob.
    offset_record "BLOB_SIZE", trampoline_end - trampoline_start
    offset_record "OFF_REAL_MODE_SEGMENT_PATCH", real_mode_segment_patch
    offset_record "OFF_PROTECTED_MODE_ENTRY", protected_mode_entry
    offset_record "OFF_LONG_MODE_ENTRY", long_mode_entry
    offset_record "OFF_LONG_MODE_ENTRY_ON_KERNEL_TABLES", long_mode_entry_on_kernel_tables
    offset_record "OFF_GDT", gdt
    offset_record "GDT_SIZE", gdt_end - gdt
    offset_record "OFF_IDT32", idt32
    offset_record "OFF_IDT32_NMI_GATE", idt32_nmi_gate
    offset_record "IDT32_SIZE", idt32_end - idt32
    offset_record "OFF_NMI_RETURN32", nmi_return32
    offset_record "OFF_PARAMS", params
    offset_record "SEL_CODE64", SEL_CODE64
    offset_record "SEL_DATA", SEL_DATA
    offset_record "SEL_CODE32", SEL_CODE32
    ; The descriptors, for the permanent GDT the installer builds.
    offset_record "DESC_CODE64", DESC_CODE64
    offset_record "DESC_DATA", DESC_DATA
    offset_record "DESC_CODE32", DESC_CODE32

    ; The parameter block, field by field.
    offset_record "PARAMS_SIZE", tramp_params_size
    offset_record "PARAM_ENTERED_PHYS", tramp_params.entered_phys
    offset_record "PARAM_X2APIC", tramp_params.x2apic
    offset_record "PARAM_PAGE_GDTR_LIMIT", tramp_params.page_gdtr_limit
    offset_record "PARAM_PAGE_GDTR_BASE", tramp_params.page_gdtr_base
    offset_record "PARAM_JUMP32_OFFSET", tramp_params.jump32_offset
    offset_record "PARAM_JUMP32_SELECTOR", tramp_params.jump32_selector
    offset_record "PARAM_JUMP64_OFFSET", tramp_params.jump64_offset
    offset_record "PARAM_JUMP64_SELECTOR", tramp_params.jump64_selector
    offset_record "PARAM_PERM_GDTR_LIMIT", tramp_params.perm_gdtr_limit
    offset_record "PARAM_PERM_GDTR_BASE", tramp_params.perm_gdtr_base
    offset_record "PARAM_BOOT_CR3", tramp_params.boot_cr3
    offset_record "PARAM_CR3_BEFORE_PCIDE", tramp_params.cr3_before_pcide
    offset_record "PARAM_KERNEL_CR3", tramp_params.kernel_cr3
    offset_record "PARAM_CR0", tramp_params.cr0
    offset_record "PARAM_CR4", tramp_params.cr4
    offset_record "PARAM_EFER", tramp_params.efer
    offset_record "PARAM_PAT", tramp_params.pat
    offset_record "PARAM_SLOTS_PHYS", tramp_params.slots_phys
    offset_record "PARAM_SLOTS_VIRT", tramp_params.slots_virt
    offset_record "PARAM_SLOT_COUNT", tramp_params.slot_count
    offset_record "PARAM_ARMED", tramp_params.armed
    offset_record "ARMED_MAGIC", ARMED_MAGIC
    offset_record "PARAM_AP_MAIN", tramp_params.ap_main
    offset_record "PARAM_PAGE_IDTR_LIMIT", tramp_params.page_idtr_limit
    offset_record "PARAM_PAGE_IDTR_BASE", tramp_params.page_idtr_base
    offset_record "PARAM_SESSION_IDTR_LIMIT", tramp_params.session_idtr_limit
    offset_record "PARAM_SESSION_IDTR_BASE", tramp_params.session_idtr_base
    offset_record "PARAM_LATE_ENTRIES", tramp_params.late_entries

    ; What the blob assumes about the slot table and the progress steps.
    offset_record "SLOT_SIZE", SLOT_SIZE
    offset_record "SLOT_OFF_APIC_ID", SLOT_OFF_APIC_ID
    offset_record "SLOT_OFF_STATE", SLOT_OFF_STATE
    offset_record "SLOT_OFF_PROGRESS", SLOT_OFF_PROGRESS
    offset_record "SLOT_OFF_STACK_TOP", SLOT_OFF_STACK_TOP
    offset_record "SLOT_OFF_TSC_CLAIMED", SLOT_OFF_TSC_CLAIMED
    offset_record "SLOT_OFF_TSC_LONG_MODE", SLOT_OFF_TSC_LONG_MODE
    offset_record "SLOT_OFF_NMI_STACK", SLOT_OFF_NMI_STACK
    offset_record "SLOT_STATE_KICKED", SLOT_STATE_KICKED
    offset_record "SLOT_STATE_HELD", SLOT_STATE_HELD
    offset_record "SLOT_STATE_CLAIMED", SLOT_STATE_CLAIMED
    offset_record "PROGRESS_PROTECTED_MODE", PROGRESS_PROTECTED_MODE
    offset_record "PROGRESS_PAGING", PROGRESS_PAGING
    offset_record "PROGRESS_LONG_MODE", PROGRESS_LONG_MODE
    offset_record "PROGRESS_KERNEL_CR3", PROGRESS_KERNEL_CR3
    offset_record "PROGRESS_STACK", PROGRESS_STACK
