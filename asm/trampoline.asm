; SPDX-License-Identifier: MIT
; libsmpboot: the AP trampoline.
;
; An Application Processor starts here in real mode after a Startup IPI,
; at offset 0 of a 4 KiB page below 1 MiB that the host allocated. It walks
; to 64-bit mode in small, checked steps, claims the slot the BSP prepared
; for it, takes the control state the installer chose, moves to the
; library's permanent GDT and its own stack, and jumps to
; smpboot_ap_main(slot) in C. After that jump nothing on the AP refers to
; the page any more, so smpboot_finish() may take it away at any time.
;
; The page is position-independent as seen from the AP: the installer
; (src/trampoline/trampoline.c) copies this blob in, then patches the few
; absolute addresses the CPU needs (the real-mode segment, the GDT bases and
; the two far-jump targets) and fills the parameter block at `params`.
;
; Registers that live across the steps:
;   ebx / rbx  linear address of the page (from real mode on)
;   esi        physical address of the AP's slot (32-bit code)
;   edi        index of the AP's slot in the table (32-bit code on)
;
; No stack is used before the AP has won its slot: a losing AP must leave
; no trace in memory, and there is no memory an AP could call its own.
; Every AP that reaches the 32-bit code increments the arrival counter that
; follows the slot table; no AP ever writes this page. An emulator that
; translates guest code (QEMU's TCG) keeps its translation of a page that
; nobody writes, and the installer rewrites only the words that changed,
; so a second bring-up runs the code translated by the first.
;
; NMIs: until the claim the IDT is empty (an NMI shuts the AP down: it
; owns no memory a handler could push to). From the claim on, the AP runs
; on the 64 scratch bytes at the end of its slot with the page's 32-bit
; NMI-only IDT, whose handler returns. Setting CR0.PG makes that IDT
; unreadable (IA-32e mode reads 16-byte gates), so the 64-bit code loads
; the session's NMI-only IDT and the AP's own stack as soon as the kernel's
; page tables map them. docs/reliability.md counts the windows left.
;
; Built with `nasm -f bin`: assembled at origin 0, so every label is its
; offset in the page. The library does not assemble it at build time: it
; compiles the committed src/trampoline/trampoline_blob.c, which
; `python3 asm/regenerate.py` makes from this file (a test checks that the
; two agree).

%include "trampoline_abi.inc"

; --- Architectural constants (Intel SDM vol. 3). ---
CR0_PE              equ 1 << 0      ; protected mode
CR0_NW              equ 1 << 29     ; not write-through (cache off if CD)
CR0_CD              equ 1 << 30     ; cache disable
CR4_PCIDE           equ 1 << 17     ; process-context IDs: only settable in IA-32e mode
MSR_APIC_BASE       equ 0x1B        ; IA32_APIC_BASE
APIC_BASE_EXTD      equ 1 << 10     ; x2APIC mode
APIC_BASE_EN        equ 1 << 11     ; local APIC globally enabled
APIC_BASE_ADDR_MASK equ 0xFFFFF000  ; MMIO base, bits 31:12 (bits 63:32 are in edx)
XAPIC_REG_ID        equ 0x20        ; xAPIC ID register, ID in bits 31:24
XAPIC_ID_SHIFT      equ 24
MSR_X2APIC_ID       equ 0x802       ; x2APIC ID register: the full 32-bit ID
MSR_PAT             equ 0x277       ; IA32_PAT
MSR_EFER            equ 0xC0000080  ; IA32_EFER
EFER_LME            equ 1 << 8      ; long mode enable
EFER_LMA            equ 1 << 10     ; long mode active: set by the CPU, not by us

; --- Our GDTs' selectors (index * 8, table indicator 0, RPL 0). The page's
; temporary GDT and the library's permanent one have this same layout, so
; the switch between them needs no CS reload. ---
SEL_CODE64          equ 0x08
SEL_DATA            equ 0x10
SEL_CODE32          equ 0x18        ; only the trampoline's 32-bit step uses it

; A flat segment: base 0, limit 0xFFFFF in 4 KiB granules (4 GiB).
; Layout of a descriptor: limit 15:0 in bits 15:0, base 23:0 in bits 39:16,
; access byte in bits 47:40, limit 19:16 in bits 51:48, flags in 55:52,
; base 31:24 in bits 63:56.
%define FLAT_DESCRIPTOR(access, flags) \
    (0xFFFF | ((access) << 40) | (0xF << 48) | ((flags) << 52))
; Access bytes: present, ring 0, code/data (S=1), and the accessed bit
; already set, so the CPU never writes the GDT (it is read-only once
; paging is on).
ACCESS_CODE         equ 0x9B        ; P | S | execute, read | accessed
ACCESS_DATA         equ 0x93        ; P | S | read, write | accessed
FLAGS_32            equ 0xC         ; G (4 KiB granules) | D (32-bit default)
FLAGS_64            equ 0xA         ; G | L (64-bit code; D must be 0)
; The descriptors. The installer builds the permanent GDT from these same
; values (trampoline_asm_offsets.h), so the two tables cannot differ.
DESC_CODE64         equ FLAT_DESCRIPTOR(ACCESS_CODE, FLAGS_64)
DESC_DATA           equ FLAT_DESCRIPTOR(ACCESS_DATA, FLAGS_32)
DESC_CODE32         equ FLAT_DESCRIPTOR(ACCESS_CODE, FLAGS_32)

    org 0

; =========================================================================
; Real mode. The SIPI left CS:IP pointing at offset 0 of this page, but we
; do not rely on which CS:IP pair that is.
; =========================================================================
    bits 16
trampoline_start:
    cli                             ; nothing may interrupt us until the kernel says so
    cld
    ; Normalise CS:IP to (page >> 4):offset, whatever pair we came in on.
    ; The installer writes the page's segment into this instruction.
    jmp 0x0000:real_mode_normalized
real_mode_segment_patch equ $ - 2   ; the far jump's segment word

real_mode_normalized:
    mov ax, cs
    mov ds, ax                      ; data relative to the page from here on

    ; A page that no bring-up armed (smpboot_finish() disarms it) stops a
    ; CPU that a stray SIPI sent here, before it writes anything. A flag in
    ; the parameters rather than a halt loop written over this code: the
    ; code then stays byte for byte the same from one bring-up to the next.
    cmp dword [params + tramp_params.armed], ARMED_MAGIC
    jne park_real_mode

    ; The page's linear base, used by the 32-bit and 64-bit code.
    movzx ebx, ax
    shl ebx, 4

    ; An empty IDT: a stray NMI or exception now triple-faults (a shutdown,
    ; which QEMU and most boards turn into a machine reset) instead of
    ; running whatever the IVT points at. smpboot_ap_main replaces it.
    o32 lidt [null_idtr]
    o32 lgdt [params + tramp_params.page_gdtr_limit]

    ; INIT leaves CD/NW as they were: make sure the caches are on. Then
    ; switch on protection; paging comes later.
    ;
    ; No WBINVD first (Linux does one): turning CD off needs a flush only
    ; if the caches may hold stale lines, which needs NW = 1 while lines
    ; were valid. CD = NW = 1 is the RESET state, with every cache line
    ; invalid, and with NW = 0 the caches stay coherent even while CD = 1.
    ; Firmware that set NW = 1 on a running AP would break far more than
    ; this. A WBINVD would instead write back and empty the caches that
    ; the running CPUs share, once per AP, and exit to the hypervisor in a
    ; virtual machine.
    mov eax, cr0
    and eax, ~(CR0_CD | CR0_NW)
    or eax, CR0_PE
    mov cr0, eax
    ; Load CS from the GDT: a far jump through the patched m16:32 pointer.
    jmp dword far [params + tramp_params.jump32_offset]

; A CPU started in a disarmed page stops here for good, interrupts off.
; Only INIT wakes it usefully.
park_real_mode:
    cli
.halt:
    hlt
    jmp .halt

; =========================================================================
; 32-bit protected mode, flat segments, paging still off: physical
; addresses work, in particular the local APIC and the slot table.
; =========================================================================
    bits 32
protected_mode_entry:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax

    ; Count ourselves first, so the BSP can tell "never started" from
    ; "started but lost on the way". The counter is in the slot table, not
    ; in this page: see the header.
    mov eax, [ebx + params + tramp_params.entered_phys]
    lock inc dword [eax]

    ; --- Who am I? Ask the local APIC (CPUID's initial APIC ID is only 8
    ; bits and not necessarily the current ID). ---
    mov ecx, MSR_APIC_BASE
    rdmsr                           ; edx:eax = IA32_APIC_BASE
    cmp dword [ebx + params + tramp_params.x2apic], 0
    jne .x2apic

    ; xAPIC: read the ID register through the MMIO page. Paging is off, so
    ; that page must lie below 4 GiB.
    test edx, edx
    jnz park
    and eax, APIC_BASE_ADDR_MASK
    mov eax, [eax + XAPIC_REG_ID]
    shr eax, XAPIC_ID_SHIFT
    jmp .find_slot

.x2apic:
    ; Enable the APIC, then x2APIC mode: going from disabled straight to
    ; x2APIC is an illegal transition (#GP). Each write keeps edx, the high
    ; half of the MSR, as read.
    or eax, APIC_BASE_EN
    wrmsr
    or eax, APIC_BASE_EXTD
    wrmsr
    mov ecx, MSR_X2APIC_ID
    rdmsr                           ; eax = the 32-bit x2APIC ID

.find_slot:
    ; --- Find the slot with our APIC ID: a linear scan of slot_count. ---
    mov esi, [ebx + params + tramp_params.slots_phys]
    mov ecx, [ebx + params + tramp_params.slot_count]
    xor edi, edi
.next_slot:
    cmp edi, ecx
    jae park                        ; not in the table: nobody expects us
    cmp [esi + SLOT_OFF_APIC_ID], eax
    je .claim_slot
    add esi, SLOT_SIZE
    inc edi
    jmp .next_slot

.claim_slot:
    ; KICKED -> CLAIMED, atomically, and on at once: nothing waits for the
    ; BSP after this. HELD means the BSP is re-INITing us: wait, touching
    ; nothing, until its INIT resets us or it arms the slot again. QEMU and
    ; KVM run a SIPI of the first attempt that is still pending right after
    ; that INIT, so we may arrive here after the INIT: parked, we would
    ; ignore the SIPI that follows the re-arming and time out. Any other
    ; state means the BSP has given up on us (or we won already, in an
    ; earlier life): vanish without touching anything, the slot, its
    ; progress and our stack included.
    mov edx, SLOT_STATE_CLAIMED
.try_claim:
    mov eax, SLOT_STATE_KICKED
    lock cmpxchg [esi + SLOT_OFF_STATE], edx
    je .claimed
    cmp eax, SLOT_STATE_HELD        ; cmpxchg left the state it found in eax
    jne park
    pause
    jmp .try_claim
.claimed:
    ; The slot is ours, its NMI scratch bytes too: the stack first, then
    ; the IDT that pushes on it. One frame (EFLAGS, CS, EIP: 12 bytes) is
    ; all there is: after an NMI, NMIs stay blocked until the 64-bit IRETQ.
    lea esp, [esi + SLOT_SIZE]
    lidt [ebx + params + tramp_params.page_idtr_limit]
    mov dword [esi + SLOT_OFF_PROGRESS], PROGRESS_PROTECTED_MODE
    ; Timestamps are raw TSC: the host clock cannot be called from here. The
    ; BSP converts them with a ratio it measures over the bring-up.
    rdtsc
    mov [esi + SLOT_OFF_TSC_CLAIMED], eax
    mov [esi + SLOT_OFF_TSC_CLAIMED + 4], edx

    ; --- Take the control state the installer chose (a fixed CR0, the BSP's
    ; allowlisted CR4 bits, its EFER and PAT), in the order the CPU demands. ---

    ; CR4 first: PAE (always in it) is required by long mode, and LA57
    ; (5-level paging) can only change while paging is off. PCIDE can only
    ; be set in IA-32e mode: it waits for long mode. Every other allowed
    ; bit is legal here; the allowlist has nothing above bit 31.
    mov eax, [ebx + params + tramp_params.cr4]
    and eax, ~CR4_PCIDE
    mov cr4, eax

    ; The boot page tables: below 4 GiB, and they map this page 1:1.
    mov eax, [ebx + params + tramp_params.boot_cr3]
    mov cr3, eax

    ; EFER: long mode, NX, SYSCALL, as on the BSP. LMA is the CPU's to set.
    mov ecx, MSR_EFER
    mov eax, [ebx + params + tramp_params.efer]
    mov edx, [ebx + params + tramp_params.efer + 4]
    and eax, ~EFER_LMA
    or eax, EFER_LME
    wrmsr

    ; PAT before paging, so no access ever sees a different memory type.
    mov ecx, MSR_PAT
    mov eax, [ebx + params + tramp_params.pat]
    mov edx, [ebx + params + tramp_params.pat + 4]
    wrmsr

    ; The fixed CR0 (PG, WP, NE, ..., caches on, TS clear). Setting PG
    ; with EFER.LME activates IA-32e mode: we continue in compatibility
    ; mode, fetching through the page tables, from the identity mapping.
    mov dword [esi + SLOT_OFF_PROGRESS], PROGRESS_PAGING
    mov eax, [ebx + params + tramp_params.cr0]
    mov cr0, eax
    ; The page is read-only from here on: read it, never write it.
    jmp far [ebx + params + tramp_params.jump64_offset]

; An AP with no slot (or a lost one) stops here for good. Only INIT wakes
; it usefully; an NMI finds the empty IDT and triple-faults.
park:
    cli
.halt:
    hlt
    jmp .halt

; The page's 32-bit NMI handler: back to where it hit, without IRETD. KVM
; emulates an IRET from protected mode with paging off on some hosts and its
; emulator has no protected-mode IRET: the guest stops with an internal
; error. A near return does the same here (CS is unchanged, and the code
; after the claim reads no flags the NMI could have changed) but leaves NMIs
; blocked: the 64-bit code unblocks them with an IRETQ once an NMI is
; survivable again.
nmi_return32:
    ret 8                           ; EIP; drop CS and EFLAGS

; =========================================================================
; 64-bit mode, on the boot page tables, still on no stack. Since `mov cr0`
; the page's 32-bit IDT is misread (IA-32e mode reads 16-byte gates): an NMI
; now shuts the AP down until the LIDT of the session's 64-bit IDT, so that
; comes as early as the page tables allow.
; =========================================================================
    bits 64
; The far jump lands here when the boot tables are the kernel's own (its CR3
; is below 4 GiB): the AP's stack, its slot and the session's IDT are all
; mapped already, so it takes them before anything else. 32-bit addressing
; zero-extends ebx and edi, whose upper halves are undefined here.
long_mode_entry_on_kernel_tables:
    imul esi, edi, SLOT_SIZE
    add rsi, [ebx + params + tramp_params.slots_virt]
    mov rsp, [rsi + SLOT_OFF_STACK_TOP]
    lidt [ebx + params + tramp_params.session_idtr_limit]
    ; Then as below: the same loads again change nothing.

; Otherwise (bootstrap tables) here: they map the page and the kernel's upper
; half only, so the stack and IDT wait for the kernel's tables.
long_mode_entry:
    ; Upper register halves are undefined after the mode switch: writing
    ; the 32-bit halves zero-extends them.
    mov ebx, ebx
    mov edi, edi

    ; The kernel's page tables, before PCIDE: with PCIDE still clear this
    ; load flushes every non-global translation, the boot tables' ones
    ; included, whatever PCID the kernel runs on (a PCIDE 0 -> 1 change
    ; would flush nothing). Its low 12 bits are zero if PCIDE follows, as
    ; setting PCIDE requires. This page is identity-mapped in the kernel's
    ; tables too, so execution continues below.
    mov rax, [rbx + params + tramp_params.cr3_before_pcide]
    mov cr3, rax
    ; The full CR4 (PCIDE now), then CR3 once more with its PCID if it has one.
    mov rax, [rbx + params + tramp_params.cr4]
    mov cr4, rax
    mov rax, [rbx + params + tramp_params.kernel_cr3]
    cmp rax, [rbx + params + tramp_params.cr3_before_pcide]
    je .on_kernel_tables
    mov cr3, rax
.on_kernel_tables:

    ; From now on the slot is reached through its virtual address, which
    ; the kernel's page tables are sure to map.
    imul rsi, rdi, SLOT_SIZE
    add rsi, [rbx + params + tramp_params.slots_virt]
    ; At once our own stack (16-byte aligned) and the session's NMI-only
    ; IDT: since `mov cr0` above, the page's 32-bit IDT is misread and an
    ; NMI would shut us down.
    mov rsp, [rsi + SLOT_OFF_STACK_TOP]
    lidt [rbx + params + tramp_params.session_idtr_limit]
    mov dword [rsi + SLOT_OFF_PROGRESS], PROGRESS_LONG_MODE
    mov dword [rsi + SLOT_OFF_PROGRESS], PROGRESS_KERNEL_CR3
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov [rsi + SLOT_OFF_TSC_LONG_MODE], rax

    ; The library's permanent GDT, in the kernel image: the page may go
    ; away once we have left it. Same layout, so CS = 0x08 stays valid;
    ; the data selectors are loaded again from the new table. In 64-bit
    ; mode that also sets the FS and GS bases to the descriptor's 0.
    lgdt [rbx + params + tramp_params.perm_gdtr_limit]
    mov eax, SEL_DATA
    mov ds, eax
    mov es, eax
    mov ss, eax
    mov fs, eax
    mov gs, eax

    mov dword [rsi + SLOT_OFF_PROGRESS], PROGRESS_STACK
    ; The stack's first use: an NMI taken in the 32-bit code left NMIs
    ; blocked (see nmi_return32), and an IRETQ to the next instruction
    ; unblocks them. An unmapped stack kills the AP here, at STACK.
    mov rax, rsp
    push SEL_DATA                   ; SS
    push rax                        ; RSP
    pushfq
    push SEL_CODE64                 ; CS
    lea rax, [rel .nmis_unblocked]  ; the identity address we run at
    push rax
    iretq
.nmis_unblocked:

    ; Then C: rdi = slot, rbp = 0 ends any frame-pointer walk, and
    ; rflags = 0 (IF, DF, AC, TF clear; bit 1 always reads 1), cleared last
    ; because XOR sets flags.
    mov rax, [rbx + params + tramp_params.ap_main]
    xor ebp, ebp
    mov rdi, rsi
    push 0
    popfq
    ; A zero return address where a call would push one, for the SysV
    ; alignment at entry (rsp + 8 a multiple of 16) and for stack walkers:
    ; a call would leave an address in the page, which is freed later.
    ; smpboot_ap_main never returns.
    push 0
    jmp rax

; =========================================================================
; Data. The APs only read it.
; =========================================================================

; The IDTR image for "no interrupts at all": limit 0, base 0.
    align 8
null_idtr:
    dw 0
    dd 0

; The 32-bit NMI-only IDT, from the claim until paging is on: vectors 0 and
; 1 absent (as fatal as no IDT), vector 2 a present 32-bit interrupt gate
; (DPL 0) to nmi_return32 in SEL_CODE32, whose linear address the
; installer writes into the two offset halves.
IDT32_GATE_INTERRUPT equ 0x8E
    align 8
idt32:
    dq 0
    dq 0
idt32_nmi_gate:
    dw 0                                        ; offset 15:0 (installer)
    dw SEL_CODE32
    db 0, IDT32_GATE_INTERRUPT
    dw 0                                        ; offset 31:16 (installer)
idt32_end:

; The temporary GDT, until the AP is on the kernel's page tables.
    align 8
gdt:
    dq 0                                        ; the null descriptor
    dq DESC_CODE64                              ; SEL_CODE64
    dq DESC_DATA                                ; SEL_DATA
    dq DESC_CODE32                              ; SEL_CODE32
gdt_end:

; The parameter block. The installer fills every zero below; the values
; set here are the blob's own.
    align 16
params:
    istruc tramp_params
        at tramp_params.page_gdtr_limit, dw gdt_end - gdt - 1
        at tramp_params.jump32_selector, dw SEL_CODE32
        at tramp_params.jump64_selector, dw SEL_CODE64
        at tramp_params.page_idtr_limit, dw idt32_end - idt32 - 1
    iend
trampoline_end:

; The blob, parameters included, must fit in its page.
    times -((trampoline_end - trampoline_start) > TRAMP_PAGE_SIZE) db 0
; The selectors above must name the GDT's entries.
    times -((gdt_end - gdt) != 4 * 8) db 0
; The NMI gate is vector 2 of the page's IDT.
    times -((idt32_nmi_gate - idt32) != 2 * 8 || (idt32_end - idt32) != 3 * 8) db 0
    times -(SEL_CODE64 != 1 * 8 || SEL_DATA != 2 * 8 || SEL_CODE32 != 3 * 8) db 0
