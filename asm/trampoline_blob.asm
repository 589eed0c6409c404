; libsmpboot: the assembled trampoline (trampoline.asm, -f bin) as read-only
; data for the library, between two symbols:
;
;   extern const uint8_t smpboot_trampoline_blob[];      its first byte
;   extern const uint8_t smpboot_trampoline_blob_end[];  one past its last
;
; The build passes the binary's path as SMPBOOT_TRAMPOLINE_BIN (-D) and
; assembles this file with -f elf64.

%ifndef SMPBOOT_TRAMPOLINE_BIN
    %error "define SMPBOOT_TRAMPOLINE_BIN as the path of the assembled trampoline"
%endif

    section .rodata align=16

    global smpboot_trampoline_blob:data (smpboot_trampoline_blob_end - smpboot_trampoline_blob)
    global smpboot_trampoline_blob_end:data 0

smpboot_trampoline_blob:
    incbin SMPBOOT_TRAMPOLINE_BIN
smpboot_trampoline_blob_end:

; No executable stack for whatever links this.
    section .note.GNU-stack noalloc noexec nowrite progbits
