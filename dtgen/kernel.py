"""What the kernel does, as functions of the board's arch, version and configuration.

Every number here comes from kernel sources (cited per function); the versions are where the
behaviour changed. Rules and placement ask these functions instead of hard-coding 4 MiB.
"""

from __future__ import annotations

from dataclasses import dataclass

from dtgen.model import Kernel

GiB = 1 << 30
MiB = 1 << 20


def cma_2010(kernel: Kernel) -> bool:
    """Whether the board's CMA is the 2010 out-of-tree patch set: kernels before 3.5, when
    Szyprowski's dma-contiguous went in. Its regions are reserved by platform code only
    (cma_early_regions_reserve()) and its cma_alloc() walks the device's region list itself."""
    return kernel.version < (3, 5)


@dataclass(frozen=True)
class Change:
    """A kernel change that moves placement or the boot log, and the releases that carry it.

    Stable series backport such changes, so "6.12" and "6.12.118" place regions differently:
    `mainline` is the first release with the change, `stable` the first release of each older
    series that got it (docs/kernel-research.md section 10 cites each).
    """

    title: str
    mainline: tuple[int, int]
    stable: tuple[tuple[int, int, int], ...] = ()


def carries(kernel: Kernel, change: Change) -> bool:
    """Whether the board's kernel has `change`. A version without a patch level is the series'
    first release (x.y.0), which has no backport yet."""
    series = kernel.version[:2]
    if series >= change.mainline:
        return True
    first = next((s for s in change.stable if s[:2] == series), None)
    return first is not None and kernel.version >= first


# The changes dtgen's model follows, with where each series got them (docs/kernel-research.md
# section 10: the Debian changelog of linux-source-6.12 for 6.12.y, stable review mails for the
# others).

# 8a6e02d0c00e: fdt_scan_reserved_mem() allocates the dynamic nodes right after the static ones
# are memblock-reserved, and saves the static nodes in reserved_mem[] only later
# (fdt_scan_reserved_mem_reg_nodes(), from unflatten_device_tree()), so
# __reserved_mem_alloc_in_range() no longer sees them. Not in 6.6, 6.1, 5.15 or 5.10.
RESERVED_MEM_RESTRUCTURE = Change(
    "of: reserved_mem: Restructure how the reserved memory regions are processed", (6, 13), ((6, 12, 13),))
# 00c9a452a235: reserved_mem[] is allocated from memblock with one entry per node, once the
# tree is unflattened; from then on MAX_RESERVED_REGIONS bounds the dynamic nodes only. 6.12.13
# to 6.12.102 have the restructure without it: one 64-entry array, dynamic nodes first.
RESERVED_MEM_ARRAY = Change(
    "of: reserved_mem: Add code to dynamically allocate reserved_mem array", (6, 13), ((6, 12, 103),))
# 4cea2821882b (`__rmem_cmp` breaks ties on the FDT offset: dynamic nodes in DT order) and
# 83ba7361e168 (__reserved_mem_alloc_in_range(): bottom-up or top-down next to saved regions),
# both 6.5 and never backported (checked in 6.1.158 and 5.15.167).
RESERVED_MEM_DT_ORDER = Change("of: reserved_mem: Use stable allocation order", (6, 5))
RESERVED_MEM_ALLOC_IN_RANGE = Change(
    "of: reserved_mem: Try to keep range allocations contiguous", (6, 5))


@dataclass(frozen=True)
class Alignment:
    """The CMA minimum alignment and the reason for it, for messages."""

    size: int
    order: int
    why: str


def page_shift(kernel: Kernel) -> int:
    return kernel.page_size.bit_length() - 1


def max_page_order(kernel: Kernel) -> int:
    """Largest buddy order (inclusive), ARCH_FORCE_MAX_ORDER.

    Before 6.4 MAX_ORDER was exclusive (arm64 11/12/14, ARM32 11); 23baf831a32c made it inclusive
    (arm64 10/11/13 for 4K/16K/64K pages, ARM32 10). The largest block is the same either way:
    4 MiB with 4K pages. An explicit CONFIG_ARCH_FORCE_MAX_ORDER wins.
    """
    explicit = kernel.number("CONFIG_ARCH_FORCE_MAX_ORDER", 0)
    if explicit > 0:
        return explicit - 1 if kernel.version < (6, 4) else explicit
    if kernel.arch == "arm64":
        return {4096: 10, 16384: 11, 65536: 13}[kernel.page_size]
    return 10


def _huge_order(kernel: Kernel) -> int:
    # HPAGE_SHIFT = PMD_SHIFT: arm64 2 MiB / 32 MiB / 512 MiB blocks; ARM32 LPAE 2 MiB.
    return {4096: 9, 16384: 11, 65536: 13}[kernel.page_size]


def pageblock_order(kernel: Kernel) -> tuple[int, str]:
    """include/linux/pageblock-flags.h for the board's kernel; returns (order, reason)."""
    top = max_page_order(kernel)
    hugetlb = kernel.enabled("CONFIG_HUGETLB_PAGE")
    thp = kernel.enabled("CONFIG_TRANSPARENT_HUGEPAGE")
    # Huge pages exist on ARM32 only with LPAE (hugetlb and THP depend on ARM_LPAE).
    huge_possible = kernel.arch == "arm64" or kernel.enabled("CONFIG_ARM_LPAE")
    if hugetlb and huge_possible:
        return min(_huge_order(kernel), top), "with CONFIG_HUGETLB_PAGE"
    if thp and huge_possible and kernel.version >= (6, 10):
        # "mm: set pageblock_order to HPAGE_PMD_ORDER ... THP enabled" (6.10).
        return min(_huge_order(kernel), top), "with CONFIG_TRANSPARENT_HUGEPAGE, no hugetlb"
    return top, "without hugetlb"


def cma_min_alignment(kernel: Kernel) -> Alignment:
    """CMA_MIN_ALIGNMENT_BYTES: base and size of every CMA area must be multiples of it.

    include/linux/cma.h: `pageblock_nr_pages` pages since 5.19 (11ac3e87ce09); before that
    `max(MAX_ORDER - 1, pageblock_order)`, i.e. the largest buddy block.
    """
    top = max_page_order(kernel)
    if kernel.version < (5, 19):
        order, why = top, "before 5.19 (largest buddy block)"
    else:
        order, why = pageblock_order(kernel)
    arch = "ARM32" if kernel.arch == "arm" else "arm64"
    reason = f"{arch}, {kernel.page_size >> 10}K pages, {kernel.version_text}, {why} (pageblock order {order})"
    return Alignment(kernel.page_size << order, order, reason)


def max_cma_areas(kernel: Kernel) -> int:
    """MAX_CMA_AREAS: `1 + CONFIG_CMA_AREAS` (default 7) before 6.9, `CONFIG_CMA_AREAS`
    (default 8) since ("mm/cma: Make MAX_CMA_AREAS = CONFIG_CMA_AREAS")."""
    old = kernel.version < (6, 9)
    count = kernel.number("CONFIG_CMA_AREAS", 7 if old else 8)
    return count + 1 if old else count


def max_reserved_regions(kernel: Kernel) -> tuple[int, str]:
    """MAX_RESERVED_REGIONS (drivers/of/of_reserved_mem.c) and what counts against it.

    16 up to 4.14, 32 until 5.7 (632c99084052 raised it to 64). Until reserved_mem[] is allocated
    to size (6.13, 6.12.103) every node with `reg` or `size` takes a slot; since then only dynamic
    (`size`) nodes.
    """
    if carries(kernel, RESERVED_MEM_ARRAY):
        return 64, "dynamic"
    if kernel.version >= (5, 7):
        return 64, "all"
    if kernel.version >= (4, 19):
        return 32, "all"
    return 16, "all"


def smp_cache_bytes(kernel: Kernel) -> int:
    """The alignment of a dynamic node without `alignment` (of_reserved_mem.c uses
    SMP_CACHE_BYTES, not PAGE_SIZE): 64 on ARM32 v7 and on arm64 since 4.18 (128 before)."""
    if kernel.arch == "arm64" and kernel.version < (4, 18):
        return 128
    return 64


def arm32_lowmem_size(kernel: Kernel) -> int:
    """Lowmem above PHYS_OFFSET (arch/arm/mm/mmu.c adjust_lowmem_bounds): VMALLOC_END
    0xff800000 less the default 240 MiB vmalloc and the 8 MiB VMALLOC_OFFSET, less PAGE_OFFSET
    (CONFIG_VMSPLIT_*: 3G default 0xC0000000). 768 MiB for the default split."""
    page_offset = 0xC0000000
    if kernel.enabled("CONFIG_VMSPLIT_1G"):
        page_offset = 0x40000000
    elif kernel.enabled("CONFIG_VMSPLIT_2G"):
        page_offset = 0x80000000
    elif kernel.enabled("CONFIG_VMSPLIT_3G_OPT"):
        page_offset = 0xB0000000
    return 0xFF800000 - 240 * MiB - 8 * MiB - page_offset


def zone_limits(kernel: Kernel, ram_start: int, ram_end: int) -> list[tuple[int, str]]:
    """Addresses where one zone ends and the next begins, inside [ram_start, ram_end).

    arm64: ZONE_DMA/DMA32 end at 4 GiB (arch/arm64/mm/init.c, no dma-ranges limit assumed).
    ARM32 with HIGHMEM: lowmem ends `arm32_lowmem_size` above the start of RAM.
    """
    limits: list[tuple[int, str]] = []
    if kernel.arch == "arm64":
        if ram_start < 4 * GiB < ram_end:
            limits.append((4 * GiB, "the 4 GiB ZONE_DMA32 limit"))
    elif kernel.enabled("CONFIG_HIGHMEM"):
        low_end = ram_start + arm32_lowmem_size(kernel)
        if ram_start < low_end < ram_end:
            limits.append((low_end, "the ARM32 lowmem/highmem boundary (VMSPLIT_3G, vmalloc 240 MiB)"))
    return limits


def dma_atomic_pools(kernel: Kernel, managed: int, area_end: int, dma_zone_end: int) -> list[tuple[str, int]]:
    """The DMA atomic pools made at boot from the default CMA area, in order: (gfp, bytes).

    arm64 (kernel/dma/pool.c dma_atomic_pool_init(), postcore_initcall): 128 KiB per GiB of
    managed memory, at most a MAX_PAGE_ORDER block, at least 128 KiB, for GFP_KERNEL, GFP_DMA
    (with CONFIG_ZONE_DMA) and GFP_DMA32 (with CONFIG_ZONE_DMA32). atomic_pool_expand() takes
    each as one get_order() block from the default area through dma_alloc_from_contiguous()
    when cma_in_zone() says the area lies in the pool's zone, else from the page allocator.
    ARM32 (arch/arm/mm/dma-mapping.c atomic_pool_init()): one 256 KiB pool
    (DEFAULT_DMA_COHERENT_POOL_SIZE) from the default area when there is one. Seen on 6.12.118
    under QEMU: 768 KiB, pages 0-191 of the default area, on 2 GiB of arm64 RAM.
    `managed` is totalram_pages() in bytes; only the power of two it falls under matters.
    """
    shift = page_shift(kernel)
    if kernel.arch != "arm64":
        return [("GFP_KERNEL", 256 * 1024)]
    largest = 1 << max_page_order(kernel)
    pages = max(min((managed >> shift) // ((1 << 30) // (128 * 1024)), largest), (128 * 1024) >> shift)
    block = kernel.page_size << (pages - 1).bit_length()
    pools = [("GFP_KERNEL", True)]
    if kernel.enabled("CONFIG_ZONE_DMA", True):
        pools.append(("GFP_DMA", area_end - 1 <= dma_zone_end - 1))
    if kernel.enabled("CONFIG_ZONE_DMA32", True):
        pools.append(("GFP_DMA32", area_end - 1 <= max(0xFFFFFFFF, dma_zone_end - 1)))
    return [(gfp, block) for gfp, in_zone in pools if in_zone]


def default_area_size(kernel: Kernel, memory_bytes: int) -> int:
    """The size of the default CMA area dma_contiguous_reserve() makes without `cma=`
    (kernel/dma/contiguous.c): CONFIG_CMA_SIZE_MBYTES (default 16), or CONFIG_CMA_SIZE_PERCENTAGE
    (default 10) of memblock_phys_mem_size() in pages, as CONFIG_CMA_SIZE_SEL_* chooses; 0 makes
    none."""
    size_bytes = kernel.number("CONFIG_CMA_SIZE_MBYTES", 16) << 20
    pages = memory_bytes // kernel.page_size
    by_percent = (pages * kernel.number("CONFIG_CMA_SIZE_PERCENTAGE", 10) // 100) * kernel.page_size
    if kernel.enabled("CONFIG_CMA_SIZE_SEL_PERCENTAGE"):
        return by_percent
    if kernel.enabled("CONFIG_CMA_SIZE_SEL_MIN"):
        return min(size_bytes, by_percent)
    if kernel.enabled("CONFIG_CMA_SIZE_SEL_MAX"):
        return max(size_bytes, by_percent)
    return size_bytes


def makes_default_area(kernel: Kernel, cmdline: bool, dt_default: bool, memory_bytes: int) -> bool:
    """Whether dma_contiguous_reserve() creates an area (one CMA slot): with CONFIG_DMA_CMA, from
    `cma=`, else from Kconfig when no linux,cma-default node made one and the size is not 0."""
    if not kernel.enabled("CONFIG_DMA_CMA", True):
        return False
    return cmdline or (not dt_default and default_area_size(kernel, memory_bytes) > 0)


def assumed_for_alignment(kernel: Kernel) -> list[str]:
    """The options that decide the CMA minimum alignment (pageblock_order) which the board does
    not state and whose value would change it: dtgen takes their Kconfig default (off), and says
    so where it matters."""
    from dataclasses import replace
    from itertools import product

    names = ["CONFIG_HUGETLB_PAGE", "CONFIG_TRANSPARENT_HUGEPAGE"] + (["CONFIG_ARM_LPAE"] if kernel.arch == "arm" else [])
    unstated = [n for n in names if not kernel.states(n)]
    sizes = {cma_min_alignment(replace(kernel, config=(*kernel.config, *zip(unstated, values)))).size
             for values in product((False, True), repeat=len(unstated))}
    return unstated if len(sizes) > 1 else []
