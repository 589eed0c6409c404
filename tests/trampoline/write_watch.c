/* See write_watch.h. */
#define _GNU_SOURCE
#include "write_watch.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define PAGE 4096u
#define EFLAGS_TF 0x100ull

static uint8_t *watched;
static bool written[WRITE_WATCH_UNITS];
static struct sigaction old_segv, old_trap;

/*
 * How many bytes the store at `ip` writes: the plain and SSE/AVX stores a
 * compiler emits for word copies. 0 for anything else, which fails the test.
 */
static size_t store_width(const uint8_t *ip)
{
    size_t operand = 4;
    for (;; ip++) {
        if (*ip == 0x66)
            operand = 2;
        else if ((*ip & 0xF0) == 0x40)
            operand = (*ip & 0x08) ? 8 : operand;  /* REX, W bit */
        else
            break;
    }
    switch (ip[0]) {
    case 0x88: case 0xC6:
        return 1;
    case 0x89: case 0xC7:
        return operand;
    case 0x0F:
        return ip[1] == 0xD6 ? 8 : (ip[1] == 0x11 || ip[1] == 0x29 || ip[1] == 0x7F) ? 16 : 0;
    case 0xC4: case 0xC5:
        return 32;  /* VEX: as wide as it may be */
    default:
        return 0;
    }
}

static void on_fault(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    uint8_t *at = info->si_addr;
    if (watched == NULL || at < watched || at >= watched + PAGE)
        abort();  /* a real fault, not a watched write */
    const uint8_t *ip = (const uint8_t *)((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP];
    size_t width = store_width(ip);
    if (width == 0)
        abort();  /* a store this watcher cannot size: extend store_width() */
    size_t first = (size_t)(at - watched);
    size_t last = first + width - 1 < PAGE ? first + width - 1 : PAGE - 1;
    for (size_t unit = first / 4; unit <= last / 4; unit++)
        written[unit] = true;
    /* Let this one store through, and stop right after it (on_step). */
    mprotect(watched, PAGE, PROT_READ | PROT_WRITE);
    ((ucontext_t *)context)->uc_mcontext.gregs[REG_EFL] |= (greg_t)EFLAGS_TF;
}

static void on_step(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)info;
    mprotect(watched, PAGE, PROT_READ);
    ((ucontext_t *)context)->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)EFLAGS_TF;
}

void write_watch_begin(void *page)
{
    watched = page;
    memset(written, 0, sizeof written);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    action.sa_sigaction = on_fault;
    sigaction(SIGSEGV, &action, &old_segv);
    action.sa_sigaction = on_step;
    sigaction(SIGTRAP, &action, &old_trap);
    mprotect(watched, PAGE, PROT_READ);
}

void write_watch_end(void)
{
    mprotect(watched, PAGE, PROT_READ | PROT_WRITE);
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGTRAP, &old_trap, NULL);
    watched = NULL;
}

bool write_watch_written(size_t offset, size_t size)
{
    for (size_t unit = offset / 4; unit * 4 < offset + size && unit < WRITE_WATCH_UNITS; unit++)
        if (written[unit])
            return true;
    return false;
}
