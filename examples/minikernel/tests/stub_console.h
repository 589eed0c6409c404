/* What the host tests' console (stub_console.c) has recorded. */
#ifndef MK_TEST_STUB_CONSOLE_H
#define MK_TEST_STUB_CONSOLE_H

#include <stddef.h>

#define STUB_CONSOLE_BYTES 8192

extern char stub_console_text[STUB_CONSOLE_BYTES];
extern size_t stub_console_length;
extern unsigned stub_console_lines;

void stub_console_reset(void);

#endif /* MK_TEST_STUB_CONSOLE_H */
