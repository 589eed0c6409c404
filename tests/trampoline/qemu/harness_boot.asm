; The trampoline harness's boot stub: a Multiboot (v1) entry that builds
; page tables, enters long mode and calls harness_main(multiboot_info).
;
; Paging as a small kernel would set it up:
;   - 0..8 GiB identity-mapped with 2 MiB pages (so frames above 4 GiB are
;     reachable too), writable, executable;
;   - the same 8 GiB again in the upper half (PML4[256], or PML5[256] with
;     5-level paging), so the slot table and stacks can be given to the
;     trampoline by virtual addresses that differ from their physical ones.
; 5-level paging is used whenever the CPU offers it (CPUID.7.0:ECX.LA57).
;
; Also here: smpboot_ap_main, the AP's landing point, which hands the state
; the trampoline left (rsp, rflags, the return address slot; rdi is the
; slot) to C before anything changes it.

MULTIBOOT_MAGIC     equ 0x1BADB002
MULTIBOOT_ADDRESSES equ 1 << 16     ; load by the header's address fields
MULTIBOOT_FLAGS     equ MULTIBOOT_ADDRESSES

PTE_PRESENT         equ 1 << 0
PTE_WRITABLE        equ 1 << 1
PTE_LARGE           equ 1 << 7      ; a 2 MiB page in a page directory
LARGE_PAGE          equ 0x200000
MAPPED_GIB          equ 8
CR0_PE              equ 1 << 0
CR0_MP              equ 1 << 1
CR0_ET              equ 1 << 4
CR0_NE              equ 1 << 5
CR0_WP              equ 1 << 16
CR0_PG              equ 1 << 31
CR4_PAE             equ 1 << 5
CR4_PGE             equ 1 << 7
CR4_LA57            equ 1 << 12
MSR_EFER            equ 0xC0000080
EFER_SCE            equ 1 << 0
EFER_LME            equ 1 << 8
EFER_NXE            equ 1 << 11
CPUID_LA57_BIT      equ 16          ; CPUID.(EAX=7,ECX=0):ECX

extern harness_main
extern harness_ap_report
extern __load_start
extern __load_end
extern __bss_end

global harness_entry32
global harness_upper_half
global smpboot_ap_main

section .multiboot progbits alloc noexec nowrite align=4
multiboot_header:
    dd MULTIBOOT_MAGIC
    dd MULTIBOOT_FLAGS
    dd -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)
    dd multiboot_header                     ; header_addr
    dd __load_start                         ; load_addr
    dd __load_end                           ; load_end_addr
    dd __bss_end                            ; bss_end_addr
    dd harness_entry32                      ; entry_addr

section .text
bits 32
harness_entry32:
    cli
    mov esp, boot_stack_top
    mov [multiboot_info], ebx

    ; Page directories: entry i maps 2 MiB page i (8 GiB in all).
    mov edi, page_directories
    xor ecx, ecx
.next_pde:
    mov eax, ecx
    shl eax, 21                             ; low half of i * 2 MiB
    or eax, PTE_PRESENT | PTE_WRITABLE | PTE_LARGE
    mov edx, ecx
    shr edx, 11                             ; high half of i * 2 MiB
    mov [edi + ecx * 8], eax
    mov [edi + ecx * 8 + 4], edx
    inc ecx
    cmp ecx, MAPPED_GIB * 512
    jb .next_pde

    ; The PDPT points at the 8 directories; the PML4 at the PDPT, twice.
    xor ecx, ecx
.next_pdpte:
    mov eax, ecx
    shl eax, 12
    add eax, page_directories
    or eax, PTE_PRESENT | PTE_WRITABLE
    mov [pdpt + ecx * 8], eax
    inc ecx
    cmp ecx, MAPPED_GIB
    jb .next_pdpte
    mov eax, pdpt
    or eax, PTE_PRESENT | PTE_WRITABLE
    mov [pml4], eax
    mov [pml4 + 256 * 8], eax

    ; 5-level paging if the CPU has it.
    mov eax, 7
    xor ecx, ecx
    cpuid
    mov ebx, CR4_PAE | CR4_PGE
    mov esi, pml4
    mov dword [harness_upper_half + 4], 0xFFFF8000
    bt ecx, CPUID_LA57_BIT
    jnc .paging_levels_chosen
    mov eax, pml4
    or eax, PTE_PRESENT | PTE_WRITABLE
    mov [pml5], eax
    mov [pml5 + 256 * 8], eax
    or ebx, CR4_LA57
    mov esi, pml5
    mov dword [harness_upper_half + 4], 0xFF000000
.paging_levels_chosen:
    mov cr4, ebx
    mov cr3, esi
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_SCE | EFER_LME | EFER_NXE
    wrmsr
    mov eax, CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE
    mov cr0, eax
    lgdt [gdt_pointer]
    jmp 0x08:entry64

bits 64
entry64:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, boot_stack_top
    mov edi, [multiboot_info]
    call harness_main
.halt:
    cli
    hlt
    jmp .halt

; The trampoline enters this on the AP's own stack with rdi = its slot.
; harness_ap_report(slot, rsp, rflags, [rsp]) returns the AP's wake-up
; counter: with interrupts off only an NMI ends the HLT, and the NMI must
; return (on the session's IDT) for the count to grow.
smpboot_ap_main:
    mov rsi, rsp
    pushfq
    pop rdx
    mov rcx, [rsi]                          ; what a ret would return to
    sub rsp, 8                              ; keep the SysV alignment for the call
    call harness_ap_report
    mov rbx, rax
.ap_halt:
    cli
    hlt
    lock inc dword [rbx]
    jmp .ap_halt

section .data
align 8
gdt:
    dq 0
    dq 0x00AF9A000000FFFF                   ; 0x08: 64-bit code
    dq 0x00CF92000000FFFF                   ; 0x10: data
gdt_pointer:
    dw gdt_pointer - gdt - 1
    dq gdt
harness_upper_half:
    dq 0                                    ; set above: where the upper-half alias starts

section .bss
align 4096
pml5:               resb 4096
pml4:               resb 4096
pdpt:               resb 4096
page_directories:   resb 4096 * MAPPED_GIB
boot_stack:         resb 16384
boot_stack_top:
multiboot_info:     resd 1

section .note.GNU-stack noalloc noexec nowrite progbits
