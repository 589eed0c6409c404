/* Shared set-up for the engine tests: a mock machine, a session, an entry that counts. */
#ifndef SMPBOOT_TESTS_CORE_FIXTURE_H
#define SMPBOOT_TESTS_CORE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <smpboot/smpboot.h>

#include "mock_host.h"
#include "mock_arch.h"

#define FIXTURE_MAX_CPUS 320

struct fixture {
    struct smpboot sb;
    struct smpboot_cpu cpus[FIXTURE_MAX_CPUS];
    struct smpboot_host host;
    struct smpboot_config config;
};

extern struct fixture fx;
/* Times the entry ran, by logical index. */
extern unsigned fx_entries[FIXTURE_MAX_CPUS];

/* A quick config: parallel, no INIT wait, short timeouts: the mock APs answer at once. */
void fx_setup(uint32_t bsp, bool x2apic);
/* smpboot_init + smpboot_add_cpu of every mock AP; asserts success. */
void fx_init_and_add(void);
/* The common tail: join the AP threads and check the mock saw no protocol error. */
void fx_join_and_check(void);
/* Index of the first ICR record with this destination and delivery mode, from `from`; -1 if none. */
int fx_find_icr(unsigned from, uint32_t dest, uint32_t delivery);
/*
 * The ICR records are exactly these (destination, delivery mode) pairs, each
 * a physical, edge, level-assert IPI with no shorthand, every SIPI pointing
 * at the installed trampoline.
 */
void fx_assert_wire(const uint32_t *dest, const uint32_t *delivery, unsigned count);
/* ICR records with this destination and delivery mode. */
unsigned fx_count_icr(uint32_t dest, uint32_t delivery);

#endif
