/*
 * Which 4-byte units of one host page the code under test writes, even
 * with the value the word already holds: the page is made read-only, and
 * each write faults, is recorded with the width its instruction stores, and
 * is let through by single-stepping it with the page writable. x86-64
 * Linux only (it sets EFLAGS.TF and reads the store's opcode). It knows the
 * stores a compiler emits for word copies (MOV, MOVQ, SSE and VEX stores,
 * the latter counted as 32 bytes, which can only over-report); any other
 * store (REP STOS, XCHG, F2/F3-prefixed) aborts the test rather than pass
 * unseen. Not under valgrind, which does not single-step on TF.
 */
#ifndef SMPBOOT_TESTS_TRAMPOLINE_WRITE_WATCH_H
#define SMPBOOT_TESTS_TRAMPOLINE_WRITE_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#define WRITE_WATCH_UNITS (4096u / 4u)

/* Start watching `page` (4 KiB aligned): every word's flag is cleared. */
void write_watch_begin(void *page);
/* Stop: the page is writable again. */
void write_watch_end(void);
/* Whether a store made while watched covered any byte of [offset, offset + size). */
bool write_watch_written(size_t offset, size_t size);

#endif
