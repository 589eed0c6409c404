/* Shared set-up for the engine tests: a mock machine, a session, an entry that counts. */
#ifndef SMPBOOT_TESTS_CORE_FIXTURE_H
#define SMPBOOT_TESTS_CORE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <smpboot/smpboot.h>

#include "core/session.h"
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
/* The library's view of fx.sb (src/core/session.h), for checks of its internals. */
struct smpboot_session *fx_session(void);
/* Times the entry ran, by logical index. */
extern unsigned fx_entries[FIXTURE_MAX_CPUS];
/* The fixture's entry calls smpboot_ap_ready() when this is set (fx_setup clears it). */
extern bool fx_entry_says_ready;

/* A quick config: the SDM profile, parallel, no INIT wait: the mock APs answer at once. */
void fx_setup(uint32_t bsp, bool x2apic);
/* Route fx.host.log into a buffer that fx_logged() searches (fx_setup empties it). */
void fx_capture_log(void);
/* A captured line contains `needle`. */
bool fx_logged(const char *needle);
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
