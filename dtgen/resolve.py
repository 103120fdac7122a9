"""Resolve: where every region lands at boot, and which regions each device kind really gets.

The boot sequence is replayed on a memblock model (dtgen/memblock.py) in the kernel's order
(docs/kernel-research.md sections 9-12):
1. memory already taken before dtgen's regions: `memory.occupied` (/memreserve/, firmware
   nodes of the base tree, the kernel image when the board lists it);
2. ARM32 only: the machine's `.reserve` hook (`via: platform`), which arch/arm/mm/init.c
   arm_memblock_init() calls before the device-tree scan;
3. static reserved-memory nodes (`reg`), reserved during early_init_fdt_scan_reserved_mem();
4. dynamic nodes (`size`), in the order of_reserved_mem.c allocates them for the version;
5. arm64 only: what the kernel allocates for itself before the default area (page tables, the
   unflattened tree, the memmap: dtgen/early_boot.py);
6. the default CMA area dma_contiguous_reserve() makes from `cma=` or Kconfig, unless a
   `linux,cma-default` node already made one.
The emitted .dtsi lists reserved-memory children in board-file order, so board order is DT order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

from dtgen import early_boot
from dtgen import kernel as k
from dtgen.diagnostics import Diagnostic, error, warning
from dtgen.kernelsort import heapsort_bottom_up
from dtgen.memblock import Memblock, Span, round_down, round_up
from dtgen.model import Board, Delivery, EarlyAlloc, Kernel, Layout, MapRow, Placement, Range, Region, ZoneLimit
from dtgen.units import U64_LIMIT, fmt_addr, fmt_range, fmt_size

GiB = 1 << 30
ANYWHERE = U64_LIMIT - 1  # MEMBLOCK_ALLOC_ANYWHERE, (phys_addr_t)~0


@dataclass
class _Boot:
    """State of one replayed boot: memblock, the reserved_mem array, what was placed."""

    board: Board
    memblock: Memblock
    highmem_start: int
    placements: list[Placement] = field(default_factory=list)
    found: list[Diagnostic] = field(default_factory=list)
    # of_reserved_mem.c's reserved_mem[] entries that have a base: the bottom-up/top-down
    # choice for alloc-ranges looks at these (and at nothing else memblock holds).
    rmem: list[Span] = field(default_factory=list)

    @property
    def kernel(self) -> Kernel:
        return self.board.kernel

    def add(self, region: Region | None, start: int, size: int, align: int, by: str, method: str,
            *, static: bool = False, notes: Iterable[str] = (), name: str = "", pointer: str = "") -> Placement:
        placed = Placement(
            region=region.name if region else name,
            start=start,
            size=size,
            alignment=align,
            kind=region.kind if region else "cma",
            no_map=region.no_map if region else False,
            reserved_by=by,
            method=method,
            step=len(self.placements) + 1,
            pointer=region.pointer if region else pointer,
            static=static,
            implicit=region is None,
            notes=tuple(notes),
        )
        self.placements.append(placed)
        self.memblock.reserve(start, start + size, placed.region)
        return placed

    def cannot_place(self, region: Region | None, size: int, align: int, windows: list[tuple[int, int]],
                     why: str = "", name: str = "", pointer: str = "/kernel") -> None:
        label = f"`{region.name}`" if region else name
        room = []
        for start, end in windows:
            window = self.memblock.window(start, end)
            where = _window_text(window, self.memblock)
            best = self.memblock.largest_free(*window)
            room.append(f"the largest free range {where} is {fmt_size(best.size)} at {fmt_addr(best.start)}"
                        if best else f"no memory is free {where}")
        message = f"cannot place {label} ({fmt_size(size)}, align {fmt_size(align)}): {'; '.join(room)}"
        if why:
            message += f"; {why}"
        if region is None:
            self.found.append(warning("default-area-unplaced", message, self.board.source.value(pointer), pointer,
                                      hint="the kernel prints \"cma: Failed to reserve\" and boots without a default CMA area"))
        else:
            self.found.append(error("place-failed", message, self.board.source.value(region.pointer + "/size"),
                                    region.pointer + "/size"))


def _window_text(window: tuple[int, int], mb: Memblock) -> str:
    start, end = window
    top = max((e for _, e in mb.memory), default=0)
    low = min((s for s, _ in mb.memory), default=0)
    if start <= low and end >= top:
        return "in RAM"
    if start <= low:
        return f"below {fmt_addr(end)}"
    if end >= top:
        return f"at or above {fmt_addr(start)}"
    return f"in {fmt_range(start, end)}"


# ---- memory the kernel manages ------------------------------------------------------------


def usable_memory(board: Board) -> tuple[list[tuple[int, int]], list[str]]:
    """RAM as memblock.memory holds it when reserved memory is scanned.

    ARM32 without HIGHMEM drops RAM above lowmem first (arch/arm/mm/mmu.c
    adjust_lowmem_bounds(): "Ignoring RAM at ..."), at memblock_limit, which is the lowmem
    limit rounded down to PMD_SIZE (2 MiB).
    """
    ranges = [(b.base, b.end) for b in board.banks]
    notes: list[str] = []
    kernel = board.kernel
    if kernel.arch == "arm" and not kernel.enabled("CONFIG_HIGHMEM") and ranges:
        first = min(s for s, _ in ranges)
        limit = round_down(first + k.arm32_lowmem_size(kernel), 2 << 20)
        top = max(e for _, e in ranges)
        if top > limit:
            notes.append(
                f"RAM above {fmt_addr(limit)} ({fmt_size(top - limit)}) is not used: ARM32 without "
                "CONFIG_HIGHMEM keeps only lowmem (\"Ignoring RAM at ...\")"
            )
            ranges = [(s, min(e, limit)) for s, e in ranges if s < limit]
    return ranges, notes


def highmem_start(board: Board, memory: list[tuple[int, int]]) -> int:
    """mm/cma.c's highmem_start (__pa(high_memory)): the end of lowmem on ARM32 with HIGHMEM,
    else the end of RAM."""
    top = max((e for _, e in memory), default=0)
    if board.kernel.arch == "arm" and board.kernel.enabled("CONFIG_HIGHMEM") and memory:
        first = min(s for s, _ in memory)
        low_end = first + k.arm32_lowmem_size(board.kernel)
        lowmem = max((min(e, low_end) for s, e in memory if s < low_end), default=first)
        return min(lowmem, top)
    return top


def dma_limit(board: Board, memory: list[tuple[int, int]]) -> int:
    """The limit the arch passes to dma_contiguous_reserve().

    arm64 (arch/arm64/mm/init.c): ZONE_DMA's end, max_zone_phys(): clamped to 4 GiB when RAM
    starts below 4 GiB, else the end of RAM (no dma-ranges restriction modelled).
    ARM32: arm_dma_limit, ~0 without CONFIG_ZONE_DMA (arch/arm/mm/mm.h), and 0xffffffff with it
    on a machine without a dma_zone_size (arch/arm/mm/init.c setup_dma_zone(): every DT machine);
    mm/cma.c rounds it down to the alignment (0xffe00000 with 2 MiB: seen on Debian's LPAE kernel
    with RAM up to 4 GiB) and lowers any limit above the end of RAM to it.
    """
    if not memory:
        return 0
    start, end = min(s for s, _ in memory), max(e for _, e in memory)
    if board.kernel.arch == "arm64":
        return min(end, 4 * GiB) if start < 4 * GiB else end
    if board.kernel.enabled("CONFIG_ZONE_DMA"):
        return min(end, 0xFFFFFFFF)
    return end


# ---- step 2: the ARM32 machine's .reserve code ----------------------------------------------


def _platform_windows(board: Board, region: Region) -> list[tuple[int, int]]:
    return [(w.start, w.end) for w in board.placement_windows(region)] or [(0, ANYWHERE)]


def _place_platform(boot: _Boot, region: Region) -> None:
    if k.cma_2010(boot.kernel):
        _place_2010(boot, region)
    elif region.kind == "cma":
        windows = _platform_windows(boot.board, region)
        for i, (base, limit) in enumerate(windows):
            last = i == len(windows) - 1
            if _cma_declare(boot, region, region.size, region.start or base, limit if region.start is None else 0,
                            region.alignment or 0, fixed=region.start is not None, by="platform", quiet=not last):
                return
    else:
        _place_memblock(boot, region, by="platform", windows=_platform_windows(boot.board, region))


def _place_2010(boot: _Boot, region: Region) -> None:
    """The 2010 CMA patch (mm/cma.c, v2-v6): cma_early_region_register() raises the alignment
    to PAGE_SIZE, rounds `start` up to it and page-aligns the size; cma_early_region_reserve()
    then memblock-reserves a fixed start, or calls __memblock_alloc_base(size, align, 0): in
    2.6.35 a max_addr of 0 is MEMBLOCK_ALLOC_ANYWHERE, which ARM turns into MEMBLOCK_REAL_LIMIT
    (lowmem_end_addr); it rounds the size up to the alignment and searches top-down from the
    highest bank below that. The region has no other limit: a `bank` is honoured by writing
    the start this placement gives."""
    page = boot.kernel.page_size
    align = max(region.alignment or 0, page)
    size = round_up(region.size, page)
    if region.start is not None:
        start = round_up(region.start, align)
        clash = boot.memblock.overlapping(start, start + size)
        if clash:
            _clash(boot, region, start, size, clash[0], "cma_early_region_reserve() finds it reserved and fails")
            return
        boot.add(region, start, size, align, "platform", "fixed start (2010 cma_early_region_reserve)", static=True)
        return
    base, limit = _platform_windows(boot.board, region)[0]
    limit = min(limit, boot.highmem_start)
    found = boot.memblock.find(round_up(size, align), align, base, limit, bottom_up=False)
    if found is None:
        boot.cannot_place(region, size, align, [(base, limit)])
        return
    method = "top-down, highest free range (2010 __memblock_alloc_base)"
    notes: list[str] = []
    if region.bank is not None:
        method = f"top-down in bank `{region.bank}` (2010 __memblock_alloc_base)"
        notes.append("the 2010 region has no limit, so emitted code gives this start to keep it in its bank")
    boot.add(region, found, size, align, "platform", method, notes=notes)


def _clash(boot: _Boot, region: Region, start: int, size: int, other: Span, what: str) -> None:
    boot.found.append(
        error(
            "place-failed",
            f"cannot reserve `{region.name}` at {fmt_range(start, start + size)}: "
            f"`{other.owner}` already holds {fmt_range(other.start, other.end)}; {what}",
            boot.board.source.value(region.pointer + "/start"),
            region.pointer + "/start",
        )
    )


def _cma_declare(boot: _Boot, region: Region | None, size: int, base: int, limit: int, alignment: int,
                 *, fixed: bool, by: str, quiet: bool = False, name: str = "reserved", label: str = "") -> bool:
    """mm/cma.c cma_declare_contiguous_nid(): alignment raised to CMA_MIN_ALIGNMENT_BYTES, base
    and size rounded up and limit down to it, limit clamped to the end of RAM; a fixed area is
    reserved as is, any other placed by cma_alloc_mem()."""
    kernel = boot.kernel
    align = max(alignment, k.cma_min_alignment(kernel).size)
    base = round_up(base, align)
    size = round_up(size, align)
    limit = round_down(limit, align)
    if not base:
        fixed = False
    memory_end = max(e for _, e in boot.memblock.memory)
    if limit == 0 or limit > memory_end:
        limit = memory_end
    label = f"`{region.name}`" if region else label or f"`{name}`"
    pointer = (region.pointer + "/size") if region else "/kernel"
    if fixed:
        if base < boot.highmem_start < base + size:
            boot.found.append(error(
                "zone-straddle",
                f"{label} ({fmt_range(base, base + size)}) crosses the lowmem/highmem boundary at "
                f"{fmt_addr(boot.highmem_start)}: cma_declare_contiguous_nid() refuses it (-EINVAL)",
                boot.board.source.value(pointer), pointer))
            return False
        clash = boot.memblock.overlapping(base, base + size)
        if clash:
            if region is not None:
                _clash(boot, region, base, size, clash[0], "cma_declare_contiguous_nid() returns -EBUSY")
            return False
        boot.add(region, base, size, align, by, "fixed base (cma_declare_contiguous_nid)", static=True,
                 name=name, pointer="/kernel")
        return True
    if base + size > limit:
        if not quiet:
            boot.cannot_place(region, size, align, [(base, limit)], name=label,
                              why=f"it does not fit below the limit {fmt_addr(limit)} (-EINVAL)")
        return False
    found, method = _cma_alloc_mem(boot, size, align, base, limit)
    if found is None:
        if not quiet:
            boot.cannot_place(region, size, align, [(base, limit)], name=label)
        return False
    notes = []
    if method.startswith("bottom-up above 4 GiB") and any(found == s for s, _ in boot.memblock.memory):
        notes.append("bottom-up from the start of a bank: the kernel image often sits here; list it in "
                     "memory.occupied for the exact address")
    boot.add(region, found, size, align, by, method, notes=notes, name=name, pointer="/kernel")
    return True


def _cma_alloc_mem(boot: _Boot, size: int, align: int, base: int, limit: int) -> tuple[int | None, str]:
    """mm/cma.c (facts 3.9): with 64-bit physical addresses, try bottom-up above 4 GiB first
    (since 5.11, "mm: cma: allocate cma areas bottom-up"); then, if [base, limit) crosses into
    highmem, highmem first; then top-down in [base, limit)."""
    kernel, mb = boot.kernel, boot.memblock
    phys64 = kernel.arch == "arm64" or kernel.enabled("CONFIG_ARM_LPAE")
    memory_end = max(e for _, e in mb.memory)
    if phys64 and kernel.version >= (5, 11) and memory_end >= 4 * GiB + size:
        found = mb.find(size, align, max(base, 4 * GiB), limit, bottom_up=True)
        if found is not None:
            return found, f"bottom-up above 4 GiB, below {fmt_addr(limit)} (cma_alloc_mem)"
    if base < boot.highmem_start < limit:
        found = mb.find(size, align, boot.highmem_start, limit, bottom_up=False)
        if found is not None:
            return found, f"top-down in highmem {fmt_range(boot.highmem_start, limit)} (cma_alloc_mem)"
        limit = boot.highmem_start
    found = mb.find(size, align, base, limit, bottom_up=False)
    return found, f"top-down below {fmt_addr(limit)} (cma_alloc_mem)"


def _place_memblock(boot: _Boot, region: Region, by: str, windows: list[tuple[int, int]]) -> None:
    """A non-CMA platform region: memblock_reserve() at a fixed start, else
    memblock_phys_alloc_range() in each window in turn, top-down."""
    align = region.alignment or k.smp_cache_bytes(boot.kernel)
    if region.start is not None:
        clash = boot.memblock.overlapping(region.start, region.start + region.size)
        if clash:
            _clash(boot, region, region.start, region.size, clash[0], "memblock would reserve it twice")
            return
        boot.add(region, region.start, region.size, align, by, "fixed start (memblock_reserve)", static=True)
        return
    for base, limit in windows:
        found = boot.memblock.find(region.size, align, base, limit, bottom_up=False)
        if found is not None:
            boot.add(region, found, region.size, align, by, f"top-down in {fmt_range(base, limit)} (memblock_phys_alloc_range)"
                     if limit != ANYWHERE else "top-down, highest free range (memblock_phys_alloc_range)")
            return
    boot.cannot_place(region, region.size, align, windows)


# ---- steps 3 and 4: reserved-memory nodes -------------------------------------------------


# ae1add247bf8 "of: Check for overlap in reserved memory regions" (about 4.2, tag not checked)
# began sorting reserved_mem[] before the dynamic nodes are allocated; before it they were
# allocated in DT order. v5.10 added the size tie-break to __rmem_cmp (also in 5.4.y stable).
SORT_SINCE = (4, 2)
SIZE_TIEBREAK_SINCE = (5, 10)


def dynamic_order(board: Board, tree: list[Region]) -> list[Region]:
    """The order of_reserved_mem.c allocates dynamic nodes in (docs/kernel-research.md §5).

    From 6.5 (4cea2821882b, `__rmem_cmp` breaks ties on the FDT offset) and in 6.13's rework,
    device-tree order. Before, fdt_init_reserved_mem() sorted the whole reserved_mem[] array
    (static entries with their base and size, dynamic ones as base 0, size 0, all in DT order)
    with lib/sort.c first, and allocated dynamic entries in the sorted order: heapsort is not
    stable, so equal keys come out permuted, the same way every boot.
    """
    version = board.kernel.version
    if k.carries(board.kernel, k.RESERVED_MEM_DT_ORDER) or version < SORT_SINCE:
        return [r for r in tree if r.start is None]
    entries = [(r.start or 0, r.size if r.start is not None else 0, i, r) for i, r in enumerate(tree)]
    by_size = version >= SIZE_TIEBREAK_SINCE

    def rmem_cmp(a: tuple[int, int, int, Region], b: tuple[int, int, int, Region]) -> int:
        # base, then (5.10+) size: "put the dynamic allocations (address == 0, size == 0)
        # before static allocations at address 0x0"; no further tie-break before 6.5.
        if a[0] != b[0]:
            return -1 if a[0] < b[0] else 1
        if by_size and a[1] != b[1]:
            return -1 if a[1] < b[1] else 1
        return 0

    heapsort_bottom_up(entries, rmem_cmp)
    return [e[3] for e in entries if e[3].start is None]



def _windows(board: Board, region: Region) -> list[Range]:
    return list(board.placement_windows(region))


def _dt_alignment(boot: _Boot, region: Region) -> int:
    """of_reserved_mem.c __reserved_mem_alloc_size(): `alignment` absent or 0 means
    SMP_CACHE_BYTES (early_init_dt_alloc_reserved_memory_arch), and a reusable shared-dma-pool
    without no-map is raised to CMA_MIN_ALIGNMENT_BYTES."""
    align = region.alignment or k.smp_cache_bytes(boot.kernel)
    if region.kind == "cma" and region.compatible in (None, "shared-dma-pool"):
        align = max(align, k.cma_min_alignment(boot.kernel).size)
    return align


def _place_dynamic(boot: _Boot, region: Region) -> None:
    align = _dt_alignment(boot, region)
    windows = _windows(boot.board, region)
    if not windows:
        found = boot.memblock.find(region.size, align, 0, ANYWHERE, bottom_up=False)
        if found is None:
            boot.cannot_place(region, region.size, align, [(0, ANYWHERE)])
            return
        _record_dynamic(boot, region, found, align, "top-down, highest free range (no alloc-ranges: no DMA or zone limit)")
        return
    for i, window in enumerate(windows):
        bottom_up, why = _direction(boot, window)
        found = boot.memblock.find(region.size, align, window.start, window.end, bottom_up=bottom_up)
        if found is not None:
            what = "alloc-ranges" if region.alloc_ranges else f"bank `{region.bank}` (as alloc-ranges)"
            which = f"range {i + 1} of {len(windows)} " if len(windows) > 1 else ""
            skipped = f", after {i} full range{'s' * (i != 1)}" if i else ""
            _record_dynamic(boot, region, found, align,
                            f"{'bottom-up' if bottom_up else 'top-down'} in {what} {which}"
                            f"{fmt_range(window.start, window.end)}{why}{skipped}")
            return
    boot.cannot_place(region, region.size, align, [(w.start, w.end) for w in windows])


def _direction(boot: _Boot, window: Range) -> tuple[bool, str]:
    """__reserved_mem_alloc_in_range() (6.5+, 83ba7361e168): bottom-up when the range starts
    inside or at the end of an already saved region, top-down when it ends inside or at the
    start of one, memblock's default (top-down) when both or neither."""
    if not k.carries(boot.kernel, k.RESERVED_MEM_ALLOC_IN_RANGE):
        return False, ""
    start_touch = next((s for s in boot.rmem if s.start <= window.start <= s.end), None)
    end_touch = next((s for s in boot.rmem if s.start <= window.end <= s.end), None)
    if start_touch is not None and end_touch is None:
        return True, f" (the range starts at `{start_touch.owner}`)"
    if end_touch is not None and start_touch is None:
        return False, f" (the range ends at `{end_touch.owner}`)"
    return False, ""


def _record_dynamic(boot: _Boot, region: Region, start: int, align: int, method: str) -> None:
    notes: list[str] = []
    if region.default and boot.kernel.arch == "arm64" and start + region.size > 4 * GiB and not _windows(boot.board, region):
        notes.append(
            "a linux,cma-default node is placed like any dynamic node, with no DMA limit, so it lands "
            "above 4 GiB here (the Kconfig/cma= default area would stay below it): give it "
            "alloc_ranges below 4 GiB if 32-bit devices use it"
        )
    placed = boot.add(region, start, region.size, align, "devicetree", method, notes=notes)
    boot.rmem.append(Span(placed.start, placed.end, placed.region))


def _place_static(boot: _Boot, region: Region) -> None:
    assert region.start is not None
    align = region.alignment or 0
    end = region.start + region.size
    for other in boot.memblock.overlapping(region.start, end):
        if other.owner in {p.region for p in boot.placements if p.reserved_by == "platform"}:
            # The machine's .reserve code ran first and put a region here. memblock_reserve()
            # merges silently; a no-map node fails with -EBUSY ("failed to reserve memory").
            boot.found.append(error(
                "region-overlap",
                f"region `{region.name}` ({fmt_range(region.start, end)}) overlaps `{other.owner}` "
                f"({fmt_range(other.start, other.end)}), which the machine's .reserve code placed "
                "there before the device tree was scanned",
                boot.board.source.value(region.pointer + "/start"), region.pointer + "/start",
                hint=f"give `{other.owner}` a bank or alloc_ranges away from {fmt_addr(region.start)}"))
    where = "" if boot.memblock.is_memory(region.start, region.start + region.size) else ", outside RAM (a hole of /memory)"
    placed = boot.add(region, region.start, region.size, align, "devicetree",
                      f"fixed (reg){where}", static=True)
    if not k.carries(boot.kernel, k.RESERVED_MEM_RESTRUCTURE):
        # Before the restructure (6.13, stable 6.12.13) static nodes are saved in reserved_mem[]
        # during the early scan, so __reserved_mem_alloc_in_range() sees them; since then they
        # are saved after the dynamic nodes were allocated.
        boot.rmem.append(Span(placed.start, placed.end, placed.region))


# ---- step 5: the default CMA area --------------------------------------------------------


def _min_not_zero(a: int, b: int) -> int:
    return min(a, b) if a and b else a or b


def _early_allocations(boot: _Boot) -> list[EarlyAlloc]:
    board, mb = boot.board, boot.memblock
    image = board.image or early_boot.assumed(min(s for s, _ in mb.memory))
    nomap = [(p.start, p.end) for p in boot.placements if p.no_map]
    rmem = sum(p.reserved_by == "devicetree" for p in boot.placements)
    return early_boot.allocate(board, mb, nomap, rmem, image)


def _explain_below_early(boot: _Boot, early: list[EarlyAlloc], limit: int) -> None:
    """Say so on the default area when arm64's own allocations sit above it, inside the window it
    was placed top-down in: they pushed it down."""
    placed = boot.placements[-1]
    if placed.static or not any(placed.end <= e.start < limit for e in early):
        return
    boot.placements[-1] = replace(placed, notes=(*placed.notes, *_early_note(boot, early)))


def _early_note(boot: _Boot, early: list[EarlyAlloc]) -> list[str]:
    """Why the default area is where it is on arm64, and what of it rests on assumptions."""
    memmap = next((e for e in early if e.what.startswith("memmap")), None)
    tables = sum(e.size for e in early if e.what.startswith("linear-map"))
    granular, why = early_boot.page_granular(boot.board)
    notes = [f"below what arm64 allocates first: the memmap ({fmt_size(memmap.size)} at {fmt_addr(memmap.start)})"
             if memmap else "below what arm64 allocates first",
             f"{tables // 4096} page-table pages ({'page-granular linear map: ' + why if granular else why})"]
    text = "; ".join(notes)
    if boot.board.image is None or not boot.board.image.known:
        text += ("; the kernel image's text size and the tree's size are assumed (they matter only where they "
                 "push the memmap across a 2 MiB boundary): `dtgen boot` reads them from the image it boots")
    return [text]


def _place_default_area(boot: _Boot, limit: int, early: list[EarlyAlloc] | None = None) -> None:
    """dma_contiguous_reserve(limit): `cma=` if given, else Kconfig, and only when no
    linux,cma-default node made a default area already."""
    board, kernel = boot.board, boot.kernel
    if k.cma_2010(kernel) or not kernel.enabled("CONFIG_DMA_CMA", True):
        return
    cmdline = next((r for r in board.regions if r.default and "cmdline" in r.via), None)
    if cmdline is not None:
        # early_cma(): `cma=size@base` is fixed (limit base + size); `cma=size@base-end` is
        # placed in [base, end), fixed only if it fills it; the end replaces the arch limit
        # when lower (min_not_zero).
        windows = board.placement_windows(cmdline)
        if cmdline.start is not None:
            base, end, fixed = cmdline.start, cmdline.start + cmdline.size, True
        elif windows:
            # one window: `cma=size@base-end` (emit writes a bank that way too)
            base, end = windows[0].start, windows[0].end
            fixed = base + cmdline.size == end
        else:
            base, end, fixed = 0, 0, False
        if _cma_declare(boot, cmdline, cmdline.size, base, _min_not_zero(end, limit), 0, fixed=fixed, by="cmdline"):
            _explain_below_early(boot, early or [], _min_not_zero(end, limit))
        return
    if any(r.default for r in board.regions):
        return
    size = k.default_area_size(kernel, sum(e - s for s, e in boot.memblock.memory))
    if size == 0:
        return
    source = "CONFIG_CMA_SIZE_PERCENTAGE" if kernel.enabled("CONFIG_CMA_SIZE_SEL_PERCENTAGE") else "CONFIG_CMA_SIZE_MBYTES"
    if _cma_declare(boot, None, size, 0, limit, 0, fixed=False, by="kconfig",
                    label=f"the {source} default CMA area `reserved`"):
        _explain_below_early(boot, early or [], limit)
        if not kernel.states(source):
            # arm64 defconfig has 32 MiB, the Kconfig default 16: an assumption, said as one.
            placed = boot.placements[-1]
            boot.placements[-1] = replace(placed, notes=(
                f"its size, {fmt_size(size)}, assumes {source} at its Kconfig default: give kernel.config or "
                "--kconfig" + (" (arm64 defconfig has 32 MiB)" if kernel.arch == "arm64" else ""), *placed.notes))


def _atomic_pools(boot: _Boot, limit: int, early: list[EarlyAlloc]) -> list[tuple[str, int]]:
    """The DMA atomic pools the default area gives up at boot (kernel.dma_atomic_pools), said
    on the area's placement too."""
    board = boot.board
    if k.cma_2010(board.kernel):
        return []
    index, area = next(((i, p) for i, p in enumerate(boot.placements) if p.kind == "cma" and (
        p.implicit or ((r := board.region(p.region)) is not None and r.default))), (None, None))
    if area is None or index is None:
        return []
    ram = sum(e - s for s, e in boot.memblock.memory)
    taken = sum(p.size for p in boot.placements if p.no_map) + sum(e.size for e in early)
    pools = [(f"DMA atomic pool {gfp}", size) for gfp, size in k.dma_atomic_pools(board.kernel, ram - taken, area.end, limit)]
    if pools:
        total = sum(size for _, size in pools)
        pages = total // board.kernel.page_size
        note = (f"the DMA atomic pools take {fmt_size(total)} of it at boot ({', '.join(g.removeprefix('DMA atomic pool ') for g, _ in pools)}; "
                f"pages 0-{pages - 1} when nothing else allocated first): scenarios start from that")
        boot.placements[index] = replace(area, notes=(*area.notes, note))
    return pools


# ---- checks on the result ----------------------------------------------------------------


def _zone_checks(boot: _Boot, zones: list[ZoneLimit]) -> None:
    for p in boot.placements:
        if p.kind != "cma" or p.static and p.reserved_by == "devicetree":
            continue  # fixed device-tree regions are validate's zone-straddle
        for zone in zones:
            if p.start < zone.address < p.end:
                pointer = p.pointer + "/size" if not p.implicit else p.pointer
                boot.found.append(error(
                    "zone-straddle",
                    f"CMA area `{p.region}` lands at {fmt_range(p.start, p.end)}, across {zone.what} "
                    f"at {fmt_addr(zone.address)}: the kernel cannot activate it (\"CMA area {p.region} could not "
                    "be activated\") and returns the pages to the page allocator",
                    boot.board.source.value(pointer), pointer,
                    hint="constrain it with alloc_ranges or a bank on one side of the limit"))


def _map(board: Board) -> list[MapRow]:
    rows: list[MapRow] = []
    for device in board.devices:
        for index, kind in enumerate(device.kinds):
            rule = board.rule_index.first_match(device.name, kind)
            if rule is None:
                continue  # validate's map-unmatched-kind
            chain = tuple(
                name for name in rule.regions
                if name == "system" or not (r := board.region(name)) or not r.private_to or device.name in r.private_to
            )
            uses = "helper" if k.cma_2010(board.kernel) else device.uses
            rows.append(MapRow(device.name, kind, rule.text, rule.span.line, chain,
                               _delivery(board, uses, chain), f"{device.pointer}/kinds/{index}"))
    return rows


def _delivery(board: Board, uses: str, chain: tuple[str, ...]) -> Delivery:
    """docs/kernel-research.md 12.2: with the device tree alone a device holds one region per kind (one
    cma_area / one dma_mem), and when a CMA area is full dma-direct falls back to the page
    allocator; a coherent pool has no fallback (dma_alloc_from_dev_coherent()). The generated
    helper walks the whole chain and stops there, and so does the 2010 cma_alloc() itself."""
    if not chain:
        return Delivery((), "none")
    if uses == "helper":
        return Delivery(chain, "page-allocator" if "system" in chain else "none")
    first = chain[0]
    region = board.region(first)
    if first == "system" or (region is not None and region.kind == "cma"):
        return Delivery((first,), "page-allocator")
    return Delivery((first,), "none")


def _dma_checks(boot: _Boot, rows: list[MapRow]) -> None:
    by_name = {p.region: p for p in boot.placements if not p.implicit}
    default = next((p for p in boot.placements if p.kind == "cma" and (
        p.implicit or getattr(boot.board.region(p.region), "default", False))), None)
    for row in rows:
        device = boot.board.device(row.device)
        if device is None:
            continue
        if (default is not None and device.uses == "devicetree" and not k.cma_2010(boot.board.kernel)
                and row.delivery.regions[:1] == ("system",) and not device.reaches(default.start, default.end)):
            # __dma_direct_alloc_pages() gives back a CMA page that fails dma_coherent_ok() and
            # asks the page allocator: the default area does not serve this device (proved by
            # the scenario replay, tests/support/scenario_replay.py).
            boot.found.append(warning(
                "dma-reach-default",
                f"`{row.device}/{row.kind}` gets the default CMA area `{default.region}`, which lands at "
                f"{fmt_range(default.start, default.end)}, beyond the device's {device.reach_text}: dma-direct "
                "gives its pages back and asks the page allocator, so the area never serves this device",
                boot.board.source.value(row.pointer), row.pointer,
                hint="keep the default area within the device's reach (alloc_ranges on its node, or the "
                     "kernel's DMA zone), or widen dma_mask_bits"))
        for name in row.chain:
            placed = by_name.get(name)
            if placed is None or device.reaches(placed.start, placed.end):
                continue
            boot.found.append(error(
                "dma-reach",
                f"`{row.device}/{row.kind}` uses region `{name}`, which lands at "
                f"{fmt_range(placed.start, placed.end)}, beyond the device's {device.reach_text}",
                boot.board.source.value(row.pointer), row.pointer,
                hint="keep the region within the device's reach (start, bank or alloc_ranges), or widen dma_mask_bits"))


# ---- the stage -------------------------------------------------------------------------


def resolve(board: Board) -> tuple[Layout, list[Diagnostic]]:
    """Place every region and resolve the map. Expects a board that passed validation."""
    memory, notes = usable_memory(board)
    mb = Memblock(memory, board.kernel.page_size)
    boot = _Boot(board, mb, highmem_start(board, mb.memory))
    for occupied in board.occupied:
        mb.reserve(occupied.start, occupied.end, occupied.name or fmt_addr(occupied.start))
    if board.kernel.arch == "arm":
        for region in board.regions:
            if "platform" in region.via:
                _place_platform(boot, region)
    tree = [r for r in board.regions if "devicetree" in r.via]
    for region in tree:
        if region.start is not None:
            _place_static(boot, region)
    for region in dynamic_order(board, tree):
        _place_dynamic(boot, region)
    limit = dma_limit(board, mb.memory)
    early = _early_allocations(boot) if board.kernel.arch == "arm64" else []
    _place_default_area(boot, limit, early)
    pools = _atomic_pools(boot, limit, early)
    ram = (min(s for s, _ in mb.memory), max(e for _, e in mb.memory)) if mb.memory else (0, 0)
    zones = [ZoneLimit(a, w) for a, w in k.zone_limits(board.kernel, *ram)]
    _zone_checks(boot, zones)
    rows = _map(board)
    _dma_checks(boot, rows)
    layout = Layout(
        board=board.name,
        address_cells=board.address_cells,
        size_cells=board.devicetree.size_cells if board.devicetree else board.address_cells,
        memory=tuple(mb.memory),
        placements=tuple(boot.placements),
        map=tuple(rows),
        zones=tuple(zones),
        dma_limit=limit,
        notes=tuple(notes),
        early=tuple(early),
        boot_allocations=tuple(pools),
    )
    return layout, boot.found


def pin(board: Board, layout: Layout) -> Board:
    """The board with every placed region fixed where resolve put it (`--pin`): emit then
    writes `reg` instead of `size`/`alignment`/`alloc-ranges`."""
    placed = {p.region: p for p in layout.placements if not p.implicit}
    regions = tuple(
        replace(r, start=placed[r.name].start, alloc_ranges=(), alignment=None)
        if r.start is None and r.name in placed else r
        for r in board.regions
    )
    return replace(board, regions=regions)
