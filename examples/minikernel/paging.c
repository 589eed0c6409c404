/* Building and changing the kernel's page tables. See paging.h. */
#include "paging.h"

#include "console.h"
#include "cpu.h"
#include "frames.h"
#include "mem.h"
#include "multiboot.h"

#define PTE_PRESENT (1ull << 0)
#define PTE_WRITE (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_LARGE (1ull << 7)
#define PTE_NX (1ull << 63)
#define PTE_ADDRESS 0x000FFFFFFFFFF000ull

#define ENTRIES_PER_TABLE 512u
#define LARGE_PAGE_SIZE 0x200000ull
#define LOW_MEMORY_END 0x100000ull

/* Levels: 5 = PML5 (paging=5 only), 4 = PML4, 3 = PDPT, 2 = PD (2 MiB leaves), 1 = PT (4 KiB leaves). */
#define LEVEL_PT 1
#define LEVEL_PD 2
#define LEVEL_PML4 4
#define LEVEL_PML5 5

#define CPUID_7_ECX_LA57 (1u << 16)

/* boot.S: leave long mode on the early tables and come back with CR4.LA57 set. */
void boot_switch_to_la57(void);

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __image_end[];

/* The top-level table in CR3. */
static uint64_t root_phys;
/*
 * Where new table frames come from. Before paging_init() switches CR3, only
 * frames the boot tables map (below EARLY_MAP_LIMIT) can be written.
 */
static uint64_t table_min = FRAME_SIZE;
static uint64_t table_limit = EARLY_MAP_LIMIT;
static bool nx_enabled;
static uint64_t mmio_next = MMIO_WINDOW_BASE;
/* The level of the table in CR3: 4, or 5 once paging_enable_five_levels() switched. */
static int top_level = LEVEL_PML4;

static unsigned index_at(uint64_t virt, int level)
{
    return (unsigned)(virt >> (12 + 9 * (level - 1))) & (ENTRIES_PER_TABLE - 1);
}

static uint64_t *table_at(uint64_t phys)
{
    return phys_to_virt(phys);
}

/* A virtual address sign-extended from its top bit: bit 47 with 4 levels, bit 56 with 5. */
static uint64_t canonical(uint64_t virt)
{
    int unused_bits = top_level == LEVEL_PML5 ? 7 : 16;
    return (uint64_t)((int64_t)(virt << unused_bits) >> unused_bits);
}

static bool is_canonical(uint64_t virt)
{
    return canonical(virt) == virt;
}

static uint64_t leaf_bits(uint32_t access)
{
    uint64_t bits = PTE_PRESENT;
    if (access & PAGING_WRITE)
        bits |= PTE_WRITE;
    if (!(access & PAGING_EXEC) && nx_enabled)
        bits |= PTE_NX;
    if (access & PAGING_UNCACHED)
        bits |= PTE_PCD | PTE_PWT; /* PAT entry 3: UC with the power-on PAT */
    return bits;
}

static bool alloc_table(uint64_t *phys)
{
    if (frames_alloc(1, table_min, table_limit, FRAME_SIZE, phys) != SMPBOOT_OK)
        return false;
    memset(table_at(*phys), 0, FRAME_SIZE);
    return true;
}

/*
 * The entry that maps virt at `level`, creating the tables above it when
 * `create`. SMPBOOT_ERR_NOT_FOUND: a table is missing (and !create);
 * SMPBOOT_ERR_MAP_FAILED: a large page above `level` already covers virt;
 * SMPBOOT_ERR_NO_MEMORY: no frame for a new table.
 */
static enum smpboot_status entry_for(uint64_t root, uint64_t virt, int level, bool create,
                                     uint64_t **out)
{
    uint64_t *table = table_at(root);

    for (int l = top_level; l > level; l--) {
        uint64_t *entry = &table[index_at(virt, l)];
        if (!(*entry & PTE_PRESENT)) {
            uint64_t phys;
            if (!create)
                return SMPBOOT_ERR_NOT_FOUND;
            if (!alloc_table(&phys))
                return SMPBOOT_ERR_NO_MEMORY;
            /* Upper levels allow everything; each leaf decides its own rights. */
            *entry = phys | PTE_PRESENT | PTE_WRITE;
        } else if (*entry & PTE_LARGE) {
            return SMPBOOT_ERR_MAP_FAILED;
        }
        table = table_at(*entry & PTE_ADDRESS);
    }
    *out = &table[index_at(virt, level)];
    return SMPBOOT_OK;
}

static bool is_mapped(uint64_t root, uint64_t virt)
{
    uint64_t *table = table_at(root);

    for (int l = top_level; l >= LEVEL_PT; l--) {
        uint64_t entry = table[index_at(virt, l)];
        if (!(entry & PTE_PRESENT))
            return false;
        if (l == LEVEL_PT || (entry & PTE_LARGE))
            return true;
        table = table_at(entry & PTE_ADDRESS);
    }
    return false;
}

static void unmap_pages(uint64_t root, uint64_t virt, size_t pages)
{
    for (size_t i = 0; i < pages; i++) {
        uint64_t *entry;
        uint64_t page = virt + i * FRAME_SIZE;
        if (entry_for(root, page, LEVEL_PT, false, &entry) == SMPBOOT_OK &&
            (*entry & PTE_PRESENT)) {
            *entry = 0;
            invlpg(page);
        }
    }
}

static enum smpboot_status map_pages(uint64_t root, uint64_t virt, uint64_t phys, size_t pages,
                                     uint64_t bits)
{
    for (size_t i = 0; i < pages; i++) {
        uint64_t *entry;
        uint64_t page = virt + i * FRAME_SIZE;
        enum smpboot_status status = entry_for(root, page, LEVEL_PT, true, &entry);
        if (status == SMPBOOT_OK && (*entry & PTE_PRESENT))
            status = SMPBOOT_ERR_MAP_FAILED;
        if (status != SMPBOOT_OK) {
            /* All or nothing: take back what this call mapped. */
            unmap_pages(root, virt, i);
            return status;
        }
        *entry = (phys + i * FRAME_SIZE) | bits;
        invlpg(page);
    }
    return SMPBOOT_OK;
}

/*
 * Direct-map [start, end) (page-aligned), write-back, read-write, no exec:
 * 2 MiB pages where a whole aligned block is free, 4 KiB pages elsewhere.
 * Parts already mapped are left as they are.
 */
static bool direct_map_range(uint64_t root, uint64_t start, uint64_t end)
{
    const uint64_t bits = leaf_bits(PAGING_WRITE);

    for (uint64_t phys = start; phys < end;) {
        uint64_t virt = DIRECT_MAP_BASE + phys;
        if (phys % LARGE_PAGE_SIZE == 0 && end - phys >= LARGE_PAGE_SIZE) {
            uint64_t *pde;
            enum smpboot_status status = entry_for(root, virt, LEVEL_PD, true, &pde);
            if (status == SMPBOOT_ERR_NO_MEMORY)
                return false;
            if (status == SMPBOOT_OK && !(*pde & PTE_PRESENT)) {
                *pde = phys | bits | PTE_LARGE;
                invlpg(virt);
                phys += LARGE_PAGE_SIZE;
                continue;
            }
            if (status == SMPBOOT_OK && (*pde & PTE_LARGE)) {
                phys += LARGE_PAGE_SIZE;
                continue;
            }
            /* Partly mapped with 4 KiB pages already: fill in page by page. */
        }
        if (!is_mapped(root, virt) && map_pages(root, virt, phys, 1, bits) != SMPBOOT_OK)
            return false;
        phys += FRAME_SIZE;
    }
    return true;
}

static uint64_t align_up(uint64_t value, uint64_t align)
{
    return (value + align - 1) & ~(align - 1);
}

static uint64_t align_down(uint64_t value, uint64_t align)
{
    return value & ~(align - 1);
}

static void map_image_section(uint64_t root, const char *start, const char *end, uint32_t access)
{
    uint64_t virt = (uint64_t)(uintptr_t)start;
    size_t pages = (size_t)((uint64_t)(uintptr_t)end - virt) / FRAME_SIZE;
    if (map_pages(root, virt, virt - KERNEL_VMA_BASE, pages, leaf_bits(access)) != SMPBOOT_OK)
        panic("cannot map the kernel image at %p", (const void *)start);
}

static bool is_ram(uint32_t type)
{
    return type == MULTIBOOT_MEMORY_AVAILABLE || type == MULTIBOOT_MEMORY_ACPI_RECLAIMABLE ||
           type == MULTIBOOT_MEMORY_NVS;
}

void paging_init(const struct bootinfo *info)
{
    nx_enabled = (rdmsr(MSR_EFER) & EFER_NXE) != 0;

    uint64_t root;
    if (!alloc_table(&root))
        panic("no memory for the page tables");

    /* W^X for the kernel itself: the linker script page-aligns each section. */
    map_image_section(root, __text_start, __text_end, PAGING_EXEC);
    map_image_section(root, __rodata_start, __rodata_end, 0);
    map_image_section(root, __data_start, __image_end, PAGING_WRITE);

    /* Low memory whole (BIOS data, EBDA, where ACPI's RSDP is searched), then all RAM. */
    bool ok = direct_map_range(root, 0, LOW_MEMORY_END);
    for (uint32_t i = 0; ok && i < info->range_count; i++) {
        const struct memory_range *m = &info->ranges[i];
        if (is_ram(m->type))
            ok = direct_map_range(root, align_down(m->base, FRAME_SIZE),
                                  align_up(m->base + m->length, FRAME_SIZE));
    }
    if (!ok)
        panic("no memory for the direct map");

    write_cr3(root);
    root_phys = root;
    /* All RAM is in the direct map now, so tables may come from anywhere. */
    table_limit = UINT64_MAX;
}

static bool clone_level(uint64_t src, uint64_t dst, int level)
{
    const uint64_t *from = table_at(src);
    uint64_t *to = table_at(dst);

    for (unsigned i = 0; i < ENTRIES_PER_TABLE; i++) {
        uint64_t entry = from[i];
        if (!(entry & PTE_PRESENT))
            continue;
        if (level == LEVEL_PT || (entry & PTE_LARGE)) {
            to[i] = entry;
            continue;
        }
        uint64_t child;
        if (!alloc_table(&child))
            return false;
        to[i] = child | (entry & ~PTE_ADDRESS);
        if (!clone_level(entry & PTE_ADDRESS, child, level - 1))
            return false;
    }
    return true;
}

static void free_level(uint64_t table, int level)
{
    const uint64_t *entries = table_at(table);

    if (level > LEVEL_PT) {
        for (unsigned i = 0; i < ENTRIES_PER_TABLE; i++) {
            if ((entries[i] & PTE_PRESENT) && !(entries[i] & PTE_LARGE))
                free_level(entries[i] & PTE_ADDRESS, level - 1);
        }
    }
    if (!frames_free(table, 1))
        kprintf("minikernel: error: page table frame 0x%llx freed twice\n",
                (unsigned long long)table);
}

void paging_move_tables(uint64_t min_phys)
{
    /* Later tables (libsmpboot's identity mapping, say) come from there too. */
    table_min = min_phys;

    uint64_t new_root;
    if (!alloc_table(&new_root) || !clone_level(root_phys, new_root, top_level))
        panic("no memory at or above 0x%llx for the page tables", (unsigned long long)min_phys);
    uint64_t old_root = root_phys;
    write_cr3(new_root);
    root_phys = new_root;
    free_level(old_root, top_level);
}

bool paging_la57_supported(void)
{
    return cpuid(0, 0).eax >= 7 && (cpuid(7, 0).ecx & CPUID_7_ECX_LA57);
}

bool paging_enable_five_levels(void)
{
    if (root_phys != 0 || !paging_la57_supported())
        return false;
    boot_switch_to_la57();
    top_level = LEVEL_PML5;
    return true;
}

int paging_levels(void)
{
    return top_level;
}

uint64_t paging_root(void)
{
    return root_phys;
}

bool paging_nx_enabled(void)
{
    return nx_enabled;
}

enum smpboot_status paging_map(uint64_t virt, uint64_t phys, size_t pages, uint32_t access)
{
    if (pages == 0 || virt % FRAME_SIZE != 0 || phys % FRAME_SIZE != 0)
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    if (pages > (1ull << 36) || !is_canonical(virt) ||
        !is_canonical(virt + (uint64_t)pages * FRAME_SIZE - 1))
        return SMPBOOT_ERR_INVALID_ARGUMENT;
    return map_pages(root_phys, virt, phys, pages, leaf_bits(access));
}

void paging_unmap(uint64_t virt, size_t pages)
{
    if (virt % FRAME_SIZE != 0 || !is_canonical(virt))
        return;
    unmap_pages(root_phys, virt, pages);
}

/* Rights of a leaf: writable only if every level allows it, executable only if none forbids it. */
static uint32_t effective_access(uint64_t combined_and, uint64_t combined_or)
{
    uint32_t access = 0;
    if (combined_and & PTE_WRITE)
        access |= PAGING_WRITE;
    if (!nx_enabled || !(combined_or & PTE_NX))
        access |= PAGING_EXEC;
    return access;
}

static void walk_level(uint64_t table, int level, uint64_t base, uint64_t and_bits,
                       uint64_t or_bits, paging_leaf_fn fn, void *ctx)
{
    const uint64_t *entries = table_at(table);
    for (unsigned i = 0; i < ENTRIES_PER_TABLE; i++) {
        uint64_t entry = entries[i];
        if (!(entry & PTE_PRESENT))
            continue;
        uint64_t virt = canonical(base | ((uint64_t)i << (12 + 9 * (level - 1))));
        uint64_t and_here = and_bits & entry, or_here = or_bits | entry;
        if (level == LEVEL_PT || (entry & PTE_LARGE)) {
            uint64_t size = 1ull << (12 + 9 * (level - 1));
            fn(ctx, virt, entry & PTE_ADDRESS & ~(size - 1), size,
               effective_access(and_here, or_here));
            continue;
        }
        walk_level(entry & PTE_ADDRESS, level - 1, virt, and_here, or_here, fn, ctx);
    }
}

void paging_for_each_leaf(paging_leaf_fn fn, void *ctx)
{
    walk_level(root_phys, top_level, 0, ~0ull, 0, fn, ctx);
}

bool paging_lookup(uint64_t virt, uint64_t *phys, uint32_t *access)
{
    const uint64_t *table = table_at(root_phys);
    uint64_t and_bits = ~0ull, or_bits = 0;

    for (int l = top_level; l >= LEVEL_PT; l--) {
        uint64_t entry = table[index_at(virt, l)];
        if (!(entry & PTE_PRESENT))
            return false;
        and_bits &= entry;
        or_bits |= entry;
        if (l == LEVEL_PT || (entry & PTE_LARGE)) {
            uint64_t size = 1ull << (12 + 9 * (l - 1));
            if (phys)
                *phys = (entry & PTE_ADDRESS & ~(size - 1)) + (virt & (size - 1));
            if (access)
                *access = effective_access(and_bits, or_bits);
            return true;
        }
        table = table_at(entry & PTE_ADDRESS);
    }
    return false;
}

void *paging_direct_map(uint64_t phys, uint64_t bytes)
{
    uint64_t start = align_down(phys, FRAME_SIZE);
    uint64_t end = align_up(phys + bytes, FRAME_SIZE);
    if (root_phys == 0 || end < start || end > (1ull << 46))
        return NULL;
    if (!direct_map_range(root_phys, start, end))
        return NULL;
    return phys_to_virt(phys);
}

volatile void *paging_map_mmio(uint64_t phys, uint64_t bytes)
{
    uint64_t first = align_down(phys, FRAME_SIZE);
    uint64_t pages = (align_up(phys + bytes, FRAME_SIZE) - first) / FRAME_SIZE;
    uint64_t window_left = (MMIO_WINDOW_BASE + MMIO_WINDOW_SIZE - mmio_next) / FRAME_SIZE;
    if (root_phys == 0 || pages == 0 || pages > window_left)
        return NULL;
    uint64_t virt = mmio_next;
    uint64_t bits = leaf_bits(PAGING_WRITE | PAGING_UNCACHED);
    if (map_pages(root_phys, virt, first, (size_t)pages, bits) != SMPBOOT_OK)
        return NULL;
    mmio_next += pages * FRAME_SIZE;
    return (volatile void *)(uintptr_t)(virt + (phys - first));
}
