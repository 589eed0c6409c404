/*
 * The four memory functions libsmpboot (and the compiler) may call. There is
 * no libc. They are written with REP MOVSB / STOSB rather than C loops, so
 * the compiler cannot "optimise" a loop back into a call to the very
 * function being defined.
 */
#include "mem.h"

void *memcpy(void *restrict dest, const void *restrict src, size_t n)
{
    void *d = dest;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dest;
}

void *memmove(void *dest, const void *src, size_t n)
{
    unsigned char *d = dest;
    const unsigned char *s = src;

    if (d <= s || d >= s + n)
        return memcpy(dest, src, n);
    /* Overlap with dest above src: copy backwards, from the last byte. */
    d += n - 1;
    s += n - 1;
    __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dest;
}

void *memset(void *dest, int value, size_t n)
{
    void *d = dest;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(value) : "memory");
    return dest;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a;
    const unsigned char *y = b;

    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}
