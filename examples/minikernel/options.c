/* Parsing the command line into struct options. */
#include "options.h"

#include <stddef.h>

#include "console.h"

#define ROUNDS_MAX 100
#define ENTRY_DELAY_MAX_MS 10000

/* A word of the command line: [start, start + length). */
struct word {
    const char *start;
    size_t length;
};

static bool word_equals(struct word w, const char *literal)
{
    size_t i = 0;
    for (; literal[i]; i++) {
        if (i >= w.length || w.start[i] != literal[i])
            return false;
    }
    return i == w.length;
}

/* Decimal, no sign; false on an empty word, a stray character or overflow past 2^53. */
static bool parse_unsigned(struct word w, uint64_t *out)
{
    uint64_t value = 0;

    if (w.length == 0)
        return false;
    for (size_t i = 0; i < w.length; i++) {
        if (w.start[i] < '0' || w.start[i] > '9')
            return false;
        value = value * 10 + (uint64_t)(w.start[i] - '0');
        if (value > (1ull << 53))
            return false;
    }
    *out = value;
    return true;
}

static bool parse_bool(struct word w, bool *out)
{
    if (word_equals(w, "1") || word_equals(w, "yes") || word_equals(w, "on")) {
        *out = true;
        return true;
    }
    if (word_equals(w, "0") || word_equals(w, "no") || word_equals(w, "off")) {
        *out = false;
        return true;
    }
    return false;
}

/* The part of `w` before the first `separator`; `w` keeps the rest, separator dropped. */
static struct word split_at(struct word *w, char separator)
{
    size_t i = 0;
    while (i < w->length && w->start[i] != separator)
        i++;
    struct word head = { w->start, i };
    size_t skip = i < w->length ? i + 1 : i;
    w->start += skip;
    w->length -= skip;
    return head;
}

/* An APIC ID: 32 bits, and not the reserved broadcast value 0xFFFFFFFF. */
static bool parse_apic_id(struct word w, uint32_t *out)
{
    uint64_t value;
    if (!parse_unsigned(w, &value) || value >= 0xFFFFFFFFull)
        return false;
    *out = (uint32_t)value;
    return true;
}

/* extra_apic=N[,N...]: all or nothing, so a typo does not start half a list. */
static bool parse_extra_apic(struct word value, struct options *out)
{
    uint32_t ids[EXTRA_APIC_MAX];
    uint32_t count = 0;
    if (value.length == 0)
        return false;
    while (value.length > 0) {
        struct word item = split_at(&value, ',');
        if (count == EXTRA_APIC_MAX || !parse_apic_id(item, &ids[count]))
            return false;
        count++;
    }
    for (uint32_t i = 0; i < count; i++)
        out->extra_apic[i] = ids[i];
    out->extra_apic_count = count;
    return true;
}

static bool parse_fault(struct word value, struct options *out)
{
    if (word_equals(value, "none")) {
        out->fault = FAULT_NONE;
        return true;
    }
    if (word_equals(value, "ap_stack_overflow")) {
        out->fault = FAULT_AP_STACK_OVERFLOW;
        return true;
    }
    if (word_equals(value, "nmi_during_bringup")) {
        out->fault = FAULT_NMI_DURING_BRINGUP;
        return true;
    }
    struct word kind = split_at(&value, ':');
    if (word_equals(kind, "stack_unmapped") && parse_apic_id(value, &out->fault_apic)) {
        out->fault = FAULT_STACK_UNMAPPED;
        return true;
    }
    return false;
}

/* Returns false when the value is not one this key accepts. */
static bool apply(struct options *out, struct word key, struct word value)
{
    if (word_equals(key, "mode")) {
        if (word_equals(value, "serial"))
            out->mode = SMPBOOT_MODE_SERIAL;
        else if (word_equals(value, "parallel"))
            out->mode = SMPBOOT_MODE_PARALLEL;
        else
            return false;
        out->mode_set = true;
        return true;
    }
    if (word_equals(key, "profile")) {
        if (word_equals(value, "default"))
            out->profile = PROFILE_DEFAULT;
        else if (word_equals(value, "sdm"))
            out->profile = PROFILE_SDM;
        else if (word_equals(value, "fast"))
            out->profile = PROFILE_FAST;
        else
            return false;
        return true;
    }
    if (word_equals(key, "init_delay_us")) {
        out->init_delay_set = parse_unsigned(value, &out->init_delay_us);
        return out->init_delay_set;
    }
    if (word_equals(key, "ap_timeout_ms")) {
        /* libsmpboot's own check refuses 0 and more than a minute. */
        out->ap_timeout_set = parse_unsigned(value, &out->ap_timeout_ms);
        return out->ap_timeout_set;
    }
    if (word_equals(key, "apic")) {
        if (word_equals(value, "auto"))
            out->apic = APIC_CHOICE_AUTO;
        else if (word_equals(value, "xapic"))
            out->apic = APIC_CHOICE_XAPIC;
        else if (word_equals(value, "x2apic"))
            out->apic = APIC_CHOICE_X2APIC;
        else
            return false;
        return true;
    }
    if (word_equals(key, "clock")) {
        if (word_equals(value, "auto"))
            out->clock = CLOCK_CHOICE_AUTO;
        else if (word_equals(value, "pmtimer"))
            out->clock = CLOCK_CHOICE_PMTIMER;
        else if (word_equals(value, "hpet"))
            out->clock = CLOCK_CHOICE_HPET;
        else if (word_equals(value, "cpuid"))
            out->clock = CLOCK_CHOICE_CPUID;
        else if (word_equals(value, "pit"))
            out->clock = CLOCK_CHOICE_PIT;
        else
            return false;
        return true;
    }
    if (word_equals(key, "high_page_tables"))
        return parse_bool(value, &out->high_page_tables);
    /* bench=R is the name the benchmark contract uses; rounds=R says the same. */
    if (word_equals(key, "bench") || word_equals(key, "rounds")) {
        uint64_t rounds;
        if (!parse_unsigned(value, &rounds) || rounds < 1 || rounds > ROUNDS_MAX)
            return false;
        out->rounds = (uint32_t)rounds;
        return true;
    }
    if (word_equals(key, "stack_guard"))
        return parse_bool(value, &out->stack_guard);
    if (word_equals(key, "fault"))
        return parse_fault(value, out);
    if (word_equals(key, "extra_apic"))
        return parse_extra_apic(value, out);
    if (word_equals(key, "late_aps"))
        return parse_bool(value, &out->late_aps);
    if (word_equals(key, "check_security"))
        return parse_bool(value, &out->check_security);
    if (word_equals(key, "postmortem"))
        return parse_bool(value, &out->postmortem);
    if (word_equals(key, "next_after_ready"))
        return parse_bool(value, &out->next_after_ready);
    if (word_equals(key, "entry_delay_ms")) {
        uint64_t ms;
        if (!parse_unsigned(value, &ms) || ms < 1 || ms > ENTRY_DELAY_MAX_MS)
            return false;
        out->entry_delay_ms = (uint32_t)ms;
        return true;
    }
    if (word_equals(key, "paging")) {
        if (word_equals(value, "4"))
            out->paging_levels = 4;
        else if (word_equals(value, "5"))
            out->paging_levels = 5;
        else
            return false;
        return true;
    }
    if (word_equals(key, "reference")) {
        if (word_equals(value, "none"))
            out->reference = REFERENCE_NONE;
        else if (word_equals(value, "naive-serial"))
            out->reference = REFERENCE_NAIVE_SERIAL;
        else
            return false;
        return true;
    }

    kprintf("minikernel: warning: unknown option '%.*s' ignored\n", (int)key.length, key.start);
    return true;
}

void options_parse(const char *cmdline, struct options *out)
{
    *out = (struct options){
        .profile = PROFILE_DEFAULT,
        .mode_set = false,
        .mode = SMPBOOT_MODE_PARALLEL,
        .init_delay_set = false,
        .init_delay_us = 0,
        .ap_timeout_set = false,
        .ap_timeout_ms = 0,
        .apic = APIC_CHOICE_AUTO,
        .clock = CLOCK_CHOICE_AUTO,
        .high_page_tables = false,
        .stack_guard = false,
        .rounds = 1,
        .fault = FAULT_NONE,
        .fault_apic = 0,
        .extra_apic_count = 0,
        .extra_apic = { 0 },
        .late_aps = false,
        .check_security = false,
        .postmortem = false,
        .next_after_ready = false,
        .entry_delay_ms = 0,
        .paging_levels = 4,
        .reference = REFERENCE_NONE,
    };

    const char *p = cmdline;
    while (*p) {
        while (*p == ' ')
            p++;
        struct word word = { p, 0 };
        while (p[word.length] && p[word.length] != ' ')
            word.length++;
        p += word.length;
        if (word.length == 0)
            continue;

        size_t equals = 0;
        while (equals < word.length && word.start[equals] != '=')
            equals++;
        if (equals == word.length)
            continue; /* no '=': the image path, or a word for someone else */

        struct word key = { word.start, equals };
        struct word value = { word.start + equals + 1, word.length - equals - 1 };
        if (!apply(out, key, value))
            kprintf("minikernel: warning: bad value in '%.*s' ignored\n", (int)word.length,
                    word.start);
    }
}
