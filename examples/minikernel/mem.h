/*
 * The memory functions of string.c. The kernel has no libc, so it declares
 * them itself rather than including the host's <string.h>.
 */
#ifndef MK_MEM_H
#define MK_MEM_H

#include <stddef.h>

void *memcpy(void *restrict dest, const void *restrict src, size_t n);
void *memmove(void *dest, const void *src, size_t n);
void *memset(void *dest, int value, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif /* MK_MEM_H */
