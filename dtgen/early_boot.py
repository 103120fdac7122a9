"""What arm64 allocates between the reserved-memory scan and dma_contiguous_reserve().

arch/arm64 reserves the device tree's regions in arm64_memblock_init(), then builds the linear
map (paging_init()), unflattens the tree, and only in bootmem_init() sets up the memmap
(sparse_init()) before dma_contiguous_reserve() places the Kconfig/`cma=` default area. Each of
these takes memory top-down from memblock, so the default area lands below all of them:
32 MiB of memmap for 2 GiB of RAM, plus up to 4 MiB of page tables. Measured on QEMU `virt`
with Linux 6.12.118 and replayed exactly (docs/kernel-research.md section 11, which cites the
source of each step). ARM32 calls dma_contiguous_reserve() from arm_memblock_init(), before
its page tables and memmap: nothing of this applies there.

In order (6.12, 4K pages), all top-down:
- A0 the KFENCE pool: 2 MiB, when CONFIG_KFENCE has a sample interval (arm64_kfence_alloc_pool());
- A1 the linear map's page tables, one page per table (map_mem() via early_pgtable_alloc());
- A2 the reserved_mem[] array, 48 bytes a node (6.13, stable 6.12.103: alloc_reserved_mem_array());
- A3 the unflattened device tree (unflatten_device_tree(): one allocation, aligned 8);
- B  NUMA: NODE_DATA and, with more than 256 possible CPUs, the node's cpumask;
- C1-C5 sparse_init(): the mem_section roots and arrays, the usemap, the memmap (2 MiB per
  128 MiB section, 2 MiB aligned), the vmemmap's page tables.

What follows from the RAM, the no-map regions and the configuration is exact. Three inputs
depend on the kernel image and the tree it boots: where the kernel's text ends (how many
page tables a page-granular linear map saves), the size of the unflattened tree, and
sizeof(pg_data_t) with NUMA. `dtgen boot` knows them from the Image header and the tree it
builds; otherwise `ASSUMED` stands in, and resolve says so where it decides the default area.
Those three only matter through which 2 MiB boundary they push the memmap across.
"""

from __future__ import annotations

from dtgen import kernel as k
from dtgen.memblock import Memblock, round_down, round_up
from dtgen.model import Board, EarlyAlloc, ImageFacts

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
SECTION = 128 * MiB  # arm64 SECTION_SIZE_BITS 27 with 4K pages (asm/sparsemem.h)
PAGE = 4 * KiB


# Stand-ins when the image is not known: the kernel 2 MiB into RAM with 24 MiB of text and
# rodata (a Debian arm64 kernel has 25 MiB), QEMU virt's tree unflattened (42 KiB) rounded up,
# and Debian's pg_data_t. Off by a few pages, they move nothing unless they cross 2 MiB.
ASSUMED_TEXT_OFFSET = 2 * MiB
ASSUMED_TEXT_SIZE = 24 * MiB
ASSUMED_TREE_BYTES = 64 * KiB
ASSUMED_PGDAT_BYTES = 0x3740


def assumed(ram_start: int) -> ImageFacts:
    text = ram_start + ASSUMED_TEXT_OFFSET
    return ImageFacts(text, text + ASSUMED_TEXT_SIZE, ASSUMED_TREE_BYTES, ASSUMED_PGDAT_BYTES, False)


def page_granular(board: Board) -> tuple[bool, str]:
    """can_set_direct_map() (arch/arm64/mm/pageattr.c): rodata=full (the Kconfig default),
    debug_pagealloc, or KFENCE without an early pool make the linear map page by page."""
    kernel = board.kernel
    if kernel.enabled("CONFIG_RODATA_FULL_DEFAULT_ENABLED", True):
        return True, "CONFIG_RODATA_FULL_DEFAULT_ENABLED"
    if kernel.enabled("CONFIG_KFENCE") and _kfence_interval(board) == 0:
        return True, "CONFIG_KFENCE with CONFIG_KFENCE_SAMPLE_INTERVAL=0"
    if kernel.enabled("CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT"):
        return True, "CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT"
    return False, "block mappings"


def _kfence_interval(board: Board) -> int:
    return board.kernel.number("CONFIG_KFENCE_SAMPLE_INTERVAL", 100)


def _levels(board: Board) -> int:
    # 39-bit VAs have three levels (the 1 GiB entries sit in the PGD); 48 and 52 have four on a
    # CPU without LPA2, as QEMU's cortex-a57.
    return 3 if board.kernel.enabled("CONFIG_ARM64_VA_BITS_39") else 4


def _minus(ranges: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = list(ranges)
    for h_start, h_end in holes:
        nxt: list[tuple[int, int]] = []
        for start, end in out:
            if h_end <= start or h_start >= end:
                nxt.append((start, end))
                continue
            if start < h_start:
                nxt.append((start, h_start))
            if h_end < end:
                nxt.append((h_end, end))
        out = nxt
    return out


def _union_size(spans: list[tuple[int, int]]) -> int:
    """How many integers the inclusive spans cover together."""
    total, reach = 0, -1
    for lo, hi in sorted(spans):
        if hi <= reach:
            continue
        total += hi - max(lo, reach + 1) + 1
        reach = hi
    return total


def page_table_pages(memory: list[tuple[int, int]], nomap: list[tuple[int, int]], text: int, text_end: int,
                     granular: bool, levels: int, kfence: tuple[int, int] | None = None) -> int:
    """Tables map_mem() allocates (arch/arm64/mm/mmu.c): memory less no-map ranges and the
    kernel's [_text, __init_begin), rounded inward to pages, with the chosen granularity; then the
    kernel alias with blocks allowed; then the KFENCE pool page by page. A table page is made for
    each 512 GiB (PUD table, four levels), 1 GiB (PMD table) and 2 MiB (PTE table) slot not
    covered by a block. Counted over slot numbers as spans, so that a terabyte costs no more than
    a gigabyte to count."""
    holes = [*nomap, (text, text_end)] + ([kfence] if kfence else [])
    loop = [(round_up(s, PAGE), round_down(e, PAGE)) for s, e in _minus(memory, holes)]
    pud: list[tuple[int, int]] = []
    pmd: list[tuple[int, int]] = []
    pte: list[tuple[int, int]] = []

    def within(start: int, end: int, no_block: bool) -> None:
        # [start, end) inside one 1 GiB slot that a block does not cover: its PMD table, and a PTE
        # table for every 2 MiB slot that is not covered whole by a block.
        pmd.append((start >> 30, start >> 30))
        if no_block:
            pte.append((start >> 21, (end - 1) >> 21))
            return
        if start % (2 * MiB):
            pte.append((start >> 21, start >> 21))
        if end % (2 * MiB):
            pte.append(((end - 1) >> 21, (end - 1) >> 21))

    def walk(start: int, end: int, no_block: bool) -> None:
        if start >= end:
            return
        pud.append((start >> 39, (end - 1) >> 39))
        first, last = start >> 30, (end - 1) >> 30
        if no_block:
            pmd.append((first, last))
            pte.append((start >> 21, (end - 1) >> 21))
            return
        head_end = min(end, (first + 1) << 30)
        if start % GiB or head_end % GiB:
            within(start, head_end, no_block)
        if last > first:
            tail_start = last << 30
            if end % GiB:
                within(tail_start, end, no_block)

    for start, end in loop:
        walk(start, end, granular)
    walk(text, text_end, False)
    if kfence:
        walk(kfence[0], kfence[1], True)
    return _union_size(pte) + _union_size(pmd) + (_union_size(pud) if levels >= 4 else 0)


def sections(memory: list[tuple[int, int]]) -> int:
    """128 MiB sections memblock.memory touches, no-map memory included (sparse.c
    memblocks_present() walks every memory range whatever its flags)."""
    return _union_size([(start // SECTION, (end - 1) // SECTION) for start, end in memory if end > start])


def _usage_bytes(board: Board) -> int:
    """sizeof(struct mem_section_usage) and its pageblock flags (include/linux/mmzone.h): an
    rcu_head, one long of subsection map, 4 bits per pageblock rounded up to longs."""
    order, _ = k.pageblock_order(board.kernel)
    bits = 4 * (1 << (15 - order))
    return 16 + 8 + round_up(bits, 64) // 8


def allocate(board: Board, mb: Memblock, nomap: list[tuple[int, int]], rmem_count: int,
             image: ImageFacts) -> list[EarlyAlloc]:
    """Replay A0-C5 on the memblock model; returns what was taken, in order."""
    kernel = board.kernel
    out: list[EarlyAlloc] = []

    def take(what: str, size: int, align: int, low: int = 0, high: int = 1 << 64) -> int | None:
        found = mb.find(size, align, low, high, bottom_up=False)
        if found is None:
            return None
        mb.reserve(found, found + size, what)
        out.append(EarlyAlloc(what, found, size))
        return found

    kfence: tuple[int, int] | None = None
    if kernel.enabled("CONFIG_KFENCE") and _kfence_interval(board):
        pool = take("KFENCE pool (arm64_kfence_alloc_pool)", 2 * MiB, PAGE)
        kfence = (pool, pool + 2 * MiB) if pool is not None else None
    granular, _ = page_granular(board)
    pages = page_table_pages([(s, e) for s, e in mb.memory], nomap, image.text, image.text_end, granular,
                             _levels(board), kfence)
    out.extend(_take_pages(mb, pages, "linear-map page tables (map_mem)"))
    if rmem_count and k.carries(kernel, k.RESERVED_MEM_ARRAY):
        take("reserved_mem[] (alloc_reserved_mem_array)", 48 * rmem_count, 64)
    take("unflattened device tree (unflatten_device_tree)", image.tree_bytes, 8)
    pgdat: int | None = None
    if kernel.enabled("CONFIG_NUMA"):
        pgdat = take("NODE_DATA (arch_numa_init)", image.pgdat_bytes, 64)
        cpus = kernel.number("CONFIG_NR_CPUS", 512)
        if cpus > 256:
            take("node cpumask (alloc_bootmem_cpumask_var)", cpus // 8, 64)
    # sparse_init(): NR_SECTION_ROOTS pointers (SPARSEMEM_EXTREME; PA bits 48 without LPA2 at
    # run time), then one SECTIONS_PER_ROOT array per root the RAM touches.
    per_root = PAGE // (32 if kernel.enabled("CONFIG_PAGE_EXTENSION") else 16)
    roots = (1 << (48 - 27)) // per_root
    take("mem_section roots (sparse_init)", 8 * roots, 64)
    touched = {start // (SECTION * per_root) for start, _ in mb.memory}
    for _ in sorted(touched):
        take("mem_section array (sparse_index_alloc)", PAGE, 64)
    count = sections([(s, e) for s, e in mb.memory])
    usage = count * _usage_bytes(board)
    if kernel.enabled("CONFIG_MEMORY_HOTREMOVE"):
        # Next to the pgdat: in its 128 MiB section (the kernel image's without NUMA) when it fits.
        goal = round_down(pgdat if pgdat is not None else image.text, SECTION)
        if take("usemap (sparse_init_nid)", usage, 64, goal, goal + SECTION) is None:
            take("usemap (sparse_init_nid)", usage, 64)
    else:
        take("usemap (sparse_init_nid)", usage, 64)
    take("memmap (sparse_buffer_init)", count * 2 * MiB, 2 * MiB)
    out.extend(_take_pages(mb, 2, "vmemmap page tables (vmemmap_populate)"))
    return out


def _take_pages(mb: Memblock, count: int, what: str) -> list[EarlyAlloc]:
    """`count` single-page allocations: each takes the highest free page, so together they fill
    the free ranges from the top, one range after the other."""
    out: list[EarlyAlloc] = []
    for start, end in reversed(mb.free_ranges()):
        if count == 0:
            break
        top, low = round_down(end, PAGE), round_up(max(start, PAGE), PAGE)
        n = min(count, max(0, (top - low) // PAGE))
        if n:
            mb.reserve(top - n * PAGE, top, what)
            out.append(EarlyAlloc(what, top - n * PAGE, n * PAGE))
            count -= n
    return out


def unflattened_size(nodes: list[tuple[str, list[str]]], node_bytes: int = 208, prop_bytes: int = 104) -> int:
    """The one allocation __unflatten_device_tree() makes (drivers/of/fdt.c populate_node(),
    populate_properties()): per node sizeof(device_node) and its full name, per property
    sizeof(property), and a `name` property for nodes without one (every dtc blob), each aligned 8;
    ALIGN(total, 4) + 4. `nodes` are (path, property names) in blob order. The sizes are arm64's
    with CONFIG_OF_KOBJ (SYSFS) and without OF_DYNAMIC: 208 and 104."""
    total = 0
    for path, props in nodes:
        name = path.rsplit("/", 1)[-1]
        total = round_up(total, 8) + node_bytes + len(name) + 1
        for _ in props:
            total = round_up(total, 8) + prop_bytes
        if "name" not in props:
            total = round_up(total, 8) + prop_bytes + len(name.split("@")[0]) + 1
    return round_up(total, 4) + 4


def struct_sizes(board: Board) -> tuple[int, int]:
    """sizeof(struct device_node) and sizeof(struct property) on arm64 (include/linux/of.h): the
    kobject and bin_attribute come with CONFIG_OF_KOBJ (= SYSFS), `_flags` with OF_DYNAMIC."""
    kernel = board.kernel
    dynamic = kernel.enabled("CONFIG_OF_DYNAMIC")
    if kernel.enabled("CONFIG_SYSFS", True):
        return 208, 112 if dynamic else 104
    return 144, 40 if dynamic else 32
