#include "mock_arch.h"

#include <pthread.h>

static struct smpboot_cpu_state mock_state = {
    .cr0 = 0x80050033u,        /* PG WP NE ET MP PE */
    .cr3 = 0x00101000u,
    .cr4 = 0x000006A0u,        /* PAE PGE OSFXSR OSXMMEXCPT */
    .efer = 0x00000D01u,       /* NXE LMA LME SCE */
    .pat = 0x0007040600070406ull,
};
static unsigned mock_parks;

void mock_arch_set_cpu_state(const struct smpboot_cpu_state *state)
{
    mock_state = *state;
}

unsigned mock_arch_park_count(void)
{
    return __atomic_load_n(&mock_parks, __ATOMIC_ACQUIRE);
}

void mock_arch_reset(void)
{
    __atomic_store_n(&mock_parks, 0, __ATOMIC_RELEASE);
}

void smpboot_arch_read_cpu_state(struct smpboot_cpu_state *state)
{
    *state = mock_state;
}

/* A simulated AP is a thread: parking it for good means ending the thread. */
_Noreturn void smpboot_arch_park(void)
{
    __atomic_add_fetch(&mock_parks, 1, __ATOMIC_ACQ_REL);
    pthread_exit(0);
}
