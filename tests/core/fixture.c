#include "fixture.h"

#include <stdio.h>
#include <string.h>

#include "core/session.h"
#include "core/slot.h"

struct fixture fx;

struct smpboot_session *fx_session(void)
{
    return smpboot_session_of(&fx.sb);
}
unsigned fx_entries[FIXTURE_MAX_CPUS];
bool fx_entry_says_ready;

static unsigned entry_violations;

#define FX_LOG_LINES 64
static char fx_log_lines[FX_LOG_LINES][200];
static unsigned fx_log_count;

static void fx_log(void *ctx, enum smpboot_log_level level, const char *message)
{
    (void)ctx;
    (void)level;
    if (fx_log_count < FX_LOG_LINES)
        snprintf(fx_log_lines[fx_log_count++], sizeof fx_log_lines[0], "%s", message);
}

void fx_capture_log(void)
{
    fx.host.log = fx_log;
}

bool fx_logged(const char *needle)
{
    for (unsigned i = 0; i < fx_log_count; i++)
        if (strstr(fx_log_lines[i], needle))
            return true;
    return false;
}

/*
 * The kernel entry: it may only run once the AP went online, on the
 * library's NMI-only IDT, having dropped the trampoline page's translation.
 */
static void count_entry(struct smpboot_cpu *cpu)
{
    const struct smpboot_slot *slot = (const struct smpboot_slot *)fx_session()->slots + cpu->index;
    if (__atomic_load_n(&slot->state, __ATOMIC_ACQUIRE) != SMPBOOT_SLOT_ONLINE
        || cpu->arg != fx.config.entry_arg || !mock_arch_nmi_idt_loaded()
        || mock_arch_last_invlpg() != fx_session()->ap_tlb_drop || fx_session()->ap_tlb_drop == 0)
        __atomic_add_fetch(&entry_violations, 1, __ATOMIC_ACQ_REL);
    __atomic_add_fetch(&fx_entries[cpu->index], 1, __ATOMIC_ACQ_REL);
    if (fx_entry_says_ready)
        smpboot_ap_ready(cpu);
}

void fx_setup(uint32_t bsp, bool x2apic)
{
    memset(&fx, 0, sizeof fx);
    memset(fx_entries, 0, sizeof fx_entries);
    entry_violations = 0;
    fx_log_count = 0;
    fx_entry_says_ready = false;
    mock_reset(bsp, x2apic);
    mock_arch_reset();
    mock_fill_host(&fx.host, true);
    /* The SDM profile without its INIT wait: one attempt, no retry, as the tests expect. */
    smpboot_config_sdm(&fx.config);
    fx.config.apic_mode = x2apic ? SMPBOOT_APIC_X2APIC : SMPBOOT_APIC_XAPIC;
    fx.config.init_delay_ns = 0;
    fx.config.sipi_spacing_ns = 200000;
    /* Only the tests of silence shorten ap_timeout; going online gets all the time a
       loaded host may need (it is a bound, not a duration). */
    fx.config.ap_timeout_ns = 20000000000ull;
    fx.config.online_timeout_ns = 20000000000ull;
    fx.config.entry = count_entry;
    fx.config.stack_size = 8192;
}

void fx_init_and_add(void)
{
    assert_int_equal(smpboot_init(&fx.sb, &fx.host, &fx.config, fx.cpus, FIXTURE_MAX_CPUS),
                     SMPBOOT_OK);
    mock_attach(&fx.sb);
    /* Added in reverse: the table must sort them anyway. */
    for (unsigned i = mock_ap_count(); i-- > 0;)
        assert_int_equal(smpboot_add_cpu(&fx.sb, mock_ap_at(i)->apic_id), SMPBOOT_OK);
}

void fx_join_and_check(void)
{
    assert_true(mock_join_aps());
    assert_int_equal(__atomic_load_n(&entry_violations, __ATOMIC_ACQUIRE), 0);
    if (mock_protocol_errors())
        fail_msg("mock saw a protocol error: %s", mock_last_protocol_error());
}

int fx_find_icr(unsigned from, uint32_t dest, uint32_t delivery)
{
    for (unsigned i = from; i < mock_icr_count(); i++) {
        const struct mock_icr *r = mock_icr_at(i);
        if (r->dest == dest && r->delivery == delivery)
            return (int)i;
    }
    return -1;
}

unsigned fx_count_icr(uint32_t dest, uint32_t delivery)
{
    unsigned n = 0;
    for (unsigned i = 0; i < mock_icr_count(); i++) {
        const struct mock_icr *r = mock_icr_at(i);
        if (r->dest == dest && r->delivery == delivery)
            n++;
    }
    return n;
}

void fx_assert_wire(const uint32_t *dest, const uint32_t *delivery, unsigned count)
{
    assert_int_equal(mock_icr_count(), count);
    for (unsigned i = 0; i < count; i++) {
        const struct mock_icr *r = mock_icr_at(i);
        assert_int_equal(r->dest, dest[i]);
        assert_int_equal(r->delivery, delivery[i]);
        assert_int_equal(r->shorthand, 0);
        assert_false(r->logical);
        assert_true(r->level_assert);
        assert_false(r->level_trigger);
        if (r->delivery == SMPBOOT_ICR_STARTUP)
            assert_int_equal((uint64_t)r->vector << 12, fx_session()->tramp_phys);
    }
}
