/*
 * Line output for every CPU: kprintf formats a whole line, then writes it
 * under one lock, so lines from different CPUs never interleave.
 */
#ifndef MK_CONSOLE_H
#define MK_CONSOLE_H

#define CONSOLE_LINE_MAX 256

void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Print the kernel's final line and keep the console lock for good, so that
 * nothing any other CPU prints can come after it.
 */
void console_print_last(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "minikernel: panic: ..." and stop QEMU with the failure code. */
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* MK_CONSOLE_H */
