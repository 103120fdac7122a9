"""Placement, worked by hand from the kernel's rules (the arithmetic is in each comment), and the
map table. No expected address here was taken from dtgen's own output."""

from __future__ import annotations


import pytest

from dtgen.load import load
from dtgen.resolve import pin, resolve
from tests.support.common import ROOT, board_from_text

MiB = 1 << 20


def _arm64(body: str, version: str = "6.12", config: str = "{CONFIG_HUGETLB_PAGE: true}") -> str:
    return f"""
board: t
kernel: {{arch: arm64, version: "{version}", page_size: 4K, config: {config}}}
{body}
"""


def _arm32(body: str, version: str = "6.12", config: str = "{CONFIG_HIGHMEM: true}") -> str:
    return f"""
board: t
kernel: {{arch: arm, version: "{version}", page_size: 4K, config: {config}}}
{body}
"""


def placed(text: str) -> dict[str, tuple[int, int]]:
    layout, found = resolve(board_from_text(text))
    assert not [d for d in found if d.severity.value == "error"], [d.render() for d in found]
    return {p.region: (p.start, p.end) for p in layout.placements}


def order(text: str) -> list[str]:
    layout, _ = resolve(board_from_text(text))
    return [p.region for p in layout.placements]


ONE_BANK_2G = """
memory:
  banks: [{name: dram, base: 0x80000000, size: 2G}]
"""


def test_dynamic_regions_stack_down_from_the_top_of_ram() -> None:
    # RAM 0x80000000..0x100000000. Each node goes top-down to round_down(end - size, align)
    # in the highest free range, in DT order (6.12):
    #   a: 16 MiB, align 64 (SMP_CACHE_BYTES): 0x100000000 - 0x1000000 = 0xff000000
    #   b: 4 MiB, align 1 MiB: 0xff000000 - 0x400000 = 0xfec00000
    #   c: 32 MiB CMA, align raised to 2 MiB (arm64 4K, hugetlb): 0xfec00000 - 0x2000000 = 0xfcc00000
    # then what arm64 allocates for itself (dtgen/early_boot.py; the image assumed at 0x80200000
    # with its text up to 0x81a00000, no NUMA, rodata=full by default: a page-granular map):
    #   page tables: 1024 2 MiB slots - 8 (a) - 2 (b) - 12 (kernel text) + 2 PMD + 1 PUD = 1005
    #     pages below c: 0xfcc00000 - 0x3ed000 = 0xfc813000
    #   the tree (64 KiB assumed): 0xfc803000; mem_section roots 64 KiB: 0xfc7f3000; one section
    #     array page: 0xfc7f2000; the usemap, 16 sections x 56 bytes: 0xfc7f1c80
    #   the memmap, 16 x 2 MiB, 2 MiB aligned: round_down(0xfc7f1c80 - 0x2000000, 2 MiB) = 0xfa600000
    # and the Kconfig default area (16 MiB, CMA 2 MiB) below the 4 GiB DMA limit, top-down: the
    # 1.9 MiB left above the memmap is too small, so 0xfa600000 - 0x1000000 = 0xf9600000
    # (on 6.12.118 under QEMU the same sequence matched every address of memblock=debug's log).
    got = placed(_arm64(ONE_BANK_2G + """
regions:
  - {name: a, size: 16M, no_map: true}
  - {name: b, size: 4M, alignment: 1M, no_map: true}
  - {name: c, size: 32M, reusable: true}
"""))
    assert got == {
        "a": (0xFF000000, 0x100000000),
        "b": (0xFEC00000, 0xFF000000),
        "c": (0xFCC00000, 0xFEC00000),
        "reserved": (0xF9600000, 0xFA600000),
    }


def test_alloc_ranges_are_tried_in_order() -> None:
    # r1 takes the top of range 1 (0x80000000+16M): 0x81000000 - 8M = 0x80800000.
    # r2 (12 MiB) does not fit in the 8 MiB left of range 1 (0x80000000..0x80800000), so
    # range 2 (0xc0000000+64M) is tried: its end touches no saved region and its start neither,
    # so top-down: 0xc4000000 - 12M = 0xc3400000.
    got = placed(_arm64(ONE_BANK_2G + """
regions:
  - {name: r1, size: 8M, no_map: true, alloc_ranges: [{start: 0x80000000, size: 16M}]}
  - name: r2
    size: 12M
    no_map: true
    alloc_ranges: [{start: 0x80000000, size: 16M}, {start: 0xc0000000, size: 64M}]
"""))
    assert got["r1"] == (0x80800000, 0x81000000)
    assert got["r2"] == (0xC3400000, 0xC4000000)


def test_alloc_range_starting_at_a_saved_region_goes_bottom_up() -> None:
    # 6.5+ __reserved_mem_alloc_in_range(): `s` is a static node at 0x90000000..0x90100000;
    # r's range starts at 0x90100000, which touches s's end, and ends at 0x98000000, touching
    # nothing: bottom-up, at round_up(0x90100000, 64) = 0x90100000.
    got = placed(_arm64(ONE_BANK_2G + """
regions:
  - {name: s, start: 0x90000000, size: 1M, no_map: true}
  - {name: r, size: 1M, no_map: true, alloc_ranges: [{start: 0x90100000, size: 0x7f00000}]}
"""))
    assert got["r"] == (0x90100000, 0x90200000)
    # The same board on 6.4 has no such choice: memblock's default, top-down from 0x98000000.
    got = placed(_arm64(ONE_BANK_2G + """
regions:
  - {name: s, start: 0x90000000, size: 1M, no_map: true}
  - {name: r, size: 1M, no_map: true, alloc_ranges: [{start: 0x90100000, size: 0x7f00000}]}
""", version="6.4"))
    assert got["r"] == (0x97F00000, 0x98000000)


def test_alignment_absent_means_smp_cache_bytes_not_page_size() -> None:
    # /memreserve/ (occupied) leaves the free top at 0xfffff040. A 256-byte node without
    # `alignment` is aligned to SMP_CACHE_BYTES = 64: round_down(0xfffff040 - 0x100, 64) =
    # 0xffffef40. PAGE_SIZE alignment would give 0xffffe000.
    got = placed(_arm64(ONE_BANK_2G + """
  occupied: [{name: fw, start: 0xfffff040, size: 0xfc0}]
regions:
  - {name: tiny, size: 0x100, no_map: true}
""", config="{CONFIG_HUGETLB_PAGE: true, CONFIG_DMA_CMA: false}"))
    assert got == {"tiny": (0xFFFFEF40, 0xFFFFF040)}


TWO_SIDES_OF_4G = """
memory:
  banks:
    - {name: low, base: 0x80000000, size: 2G}
    - {name: high, base: 0x880000000, size: 2G}
"""


def test_dt_default_node_lands_above_4g_but_the_kconfig_area_stays_below() -> None:
    # A linux,cma-default node is an ordinary dynamic node: top-down in all RAM, no DMA limit:
    #   0x900000000 - 64M = 0x8fc000000 (above 4 GiB).
    layout, found = resolve(board_from_text(_arm64(TWO_SIDES_OF_4G + """
regions:
  - {name: common, size: 64M, reusable: true, default: true}
""")))
    common = layout.placement("common")
    assert common is not None and (common.start, common.end) == (0x8FC000000, 0x900000000)
    assert any("above 4 GiB" in note for note in common.notes)
    # Without the node, dma_contiguous_reserve(arm64_dma_phys_limit) makes the 16 MiB Kconfig
    # area. The limit is 4 GiB (RAM starts below it). cma_alloc_mem(): RAM ends at
    # 0x900000000 >= 4 GiB + 16 MiB, so bottom-up in [4 GiB, 4 GiB) first, which is empty;
    # no highmem; then top-down below 4 GiB: 0x100000000 - 16M = 0xff000000.
    got = placed(_arm64(TWO_SIDES_OF_4G))
    assert got == {"reserved": (0xFF000000, 0x100000000)}


def test_kconfig_area_goes_bottom_up_above_4g_when_all_ram_is_there() -> None:
    # RAM only at 0x880000000..0x900000000: max_zone_phys() gives the end of RAM as limit;
    # cma_alloc_mem() tries bottom-up in [4 GiB, limit): the lowest free address, the bank
    # start 0x880000000 (2 MiB aligned). CONFIG_CMA_SIZE_MBYTES=32.
    layout, _ = resolve(board_from_text(_arm64("""
memory:
  banks: [{name: high, base: 0x880000000, size: 2G}]
""", config="{CONFIG_HUGETLB_PAGE: true, CONFIG_CMA_SIZE_MBYTES: 32}")))
    area = layout.placements[0]
    assert (area.region, area.start, area.end, area.implicit) == ("reserved", 0x880000000, 0x882000000, True)
    assert "bottom-up above 4 GiB" in area.method


def test_arm32_reserve_hook_runs_before_the_device_tree() -> None:
    # ARM32 6.1 with HIGHMEM, RAM 0x40000000 + 2 GiB: lowmem ends 768 MiB in, at 0x70000000.
    # The machine .reserve code runs first (arm_memblock_init), although `plat` comes second
    # in the file: cma_declare_contiguous_nid(base 0, limit ~0): align 4 MiB (ARM32, no
    # hugetlb), limit clamped to the end of RAM 0xc0000000; [0, 0xc0000000) crosses highmem,
    # so highmem first, top-down: 0xc0000000 - 64M = 0xbc000000.
    # Then the DT node (16 MiB, no-map, align 64): 0xbc000000 - 16M = 0xbb000000.
    # Then the Kconfig area (16 MiB, CMA 4 MiB), highmem first again: 0xbb000000 - 16M = 0xba000000.
    text = _arm32("""
memory:
  banks: [{name: dram, base: 0x40000000, size: 2G}]
regions:
  - {name: tree, size: 16M, no_map: true}
  - {name: plat, size: 64M, reusable: true, via: platform}
""", version="6.1")
    assert order(text) == ["plat", "tree", "reserved"]
    assert placed(text) == {
        "plat": (0xBC000000, 0xC0000000),
        "tree": (0xBB000000, 0xBC000000),
        "reserved": (0xBA000000, 0xBB000000),
    }


def test_arm32_without_highmem_keeps_only_lowmem() -> None:
    # RAM 0x40000000 + 1 GiB, no HIGHMEM: adjust_lowmem_bounds() drops RAM above
    # 0x40000000 + 768 MiB = 0x70000000 (2 MiB aligned already). A dynamic node lands below
    # it: 0x70000000 - 8M = 0x6f800000.
    layout, _ = resolve(board_from_text(_arm32("""
memory:
  banks: [{name: dram, base: 0x40000000, size: 1G}]
regions:
  - {name: pool, size: 8M, no_map: true}
""", config="{CONFIG_HIGHMEM: false, CONFIG_DMA_CMA: false}")))
    assert [(p.region, p.start) for p in layout.placements] == [("pool", 0x6F800000)]
    assert layout.memory == ((0x40000000, 0x70000000),)
    assert any("256 MiB" in note for note in layout.notes)


THREE_DYNAMIC = """
memory:
  banks: [{name: dram, base: 0x80000000, size: 2G}]
regions:
  - {name: a, size: 1M, no_map: true}
  - {name: b, size: 2M, no_map: true}
  - {name: c, size: 4M, no_map: true}
"""


def test_before_6_5_dynamic_nodes_come_in_heapsort_order() -> None:
    # 6.1 sorts reserved_mem[] = [a, b, c], all with key (base 0, size 0), with the v5.1
    # lib/sort.c heapsort, then allocates in that order. Worked by hand (element indices):
    #   build: a=1 -> 0; sift 0: children 1,2 compare equal -> take 1 (>= 0); leaf reached;
    #          backtrack: cmp(x0, x1) = 0 >= 0 -> back to 0: no move.
    #   n=2: swap(0, 2) -> [c, b, a]; sift 0: only child 1 (d == n), backtrack to 0: no move.
    #   n=1: swap(0, 1) -> [b, c, a]; n=0: done.
    # So b is allocated first (top), then c, then a:
    #   b: 0x100000000 - 2M = 0xffe00000; c: 0xffe00000 - 4M = 0xffa00000; a: 0xffa00000 - 1M = 0xff900000
    text = _arm64(THREE_DYNAMIC, version="6.1", config="{CONFIG_HUGETLB_PAGE: true, CONFIG_DMA_CMA: false}")
    assert order(text) == ["b", "c", "a"]
    assert placed(text) == {"b": (0xFFE00000, 0x100000000), "c": (0xFFA00000, 0xFFE00000), "a": (0xFF900000, 0xFFA00000)}
    # 6.5 added the FDT-offset tie-break: DT order, a at the top.
    text = _arm64(THREE_DYNAMIC, version="6.5", config="{CONFIG_HUGETLB_PAGE: true, CONFIG_DMA_CMA: false}")
    assert order(text) == ["a", "b", "c"]


def test_memreserve_in_the_base_tree_is_not_reused() -> None:
    # /memreserve/ 0xf0000000 + 256 MiB (to the top of RAM): the node lands below it,
    # 0xf0000000 - 32M = 0xee000000.
    got = placed(_arm64(ONE_BANK_2G + """
  occupied: [{name: memreserve, start: 0xf0000000, size: 256M}]
regions:
  - {name: pool, size: 32M, no_map: true}
""", config="{CONFIG_HUGETLB_PAGE: true, CONFIG_DMA_CMA: false}"))
    assert got == {"pool": (0xEE000000, 0xF0000000)}


def test_unplaceable_region_says_why_with_numbers() -> None:
    # 2 GiB of RAM, 1.5 GiB taken at the top by firmware: the largest free range is
    # 0x80000000..0xa0000000 (512 MiB); 768 MiB cannot go anywhere.
    layout, found = resolve(board_from_text(_arm64(ONE_BANK_2G + """
  occupied: [{name: fw, start: 0xa0000000, size: 1536M}]
regions:
  - {name: big, size: 768M, no_map: true}
""", config="{CONFIG_HUGETLB_PAGE: true, CONFIG_DMA_CMA: false}")))
    assert [d.rule for d in found] == ["place-failed"]
    assert found[0].message == (
        "cannot place `big` (768 MiB, align 64 bytes): the largest free range in RAM is 512 MiB at 0x80000000"
    )
    assert layout.placement("big") is None


def test_hikey_default_area_lands_where_the_kernel_puts_it() -> None:
    # hi6220-hikey.dts /memory: six ranges; the highest is 0x22000000 + 0x1c000000, ending at
    # 0x3e000000 (ramoops at 0x21f00000 is in a hole, so it takes nothing from RAM).
    # linux,cma: 128 MiB, reusable, no alignment -> 64, raised to the CMA minimum 2 MiB
    # (arm64 4K, CONFIG_HUGETLB_PAGE=y in defconfig). Top-down in the highest free range:
    #   round_down(0x3e000000 - 0x8000000, 0x200000) = 0x36000000.
    board = load("boards/hi6220-hikey.yaml", lambda p: (ROOT / p).read_bytes(), ".").board
    assert board is not None
    layout, found = resolve(board)
    assert found == []
    cma = layout.placement("linux_cma")
    assert cma is not None and (cma.start, cma.size, cma.alignment) == (0x36000000, 128 * MiB, 2 * MiB)
    ramoops = layout.placement("ramoops")
    assert ramoops is not None and ramoops.static and "outside RAM" in ramoops.method
    # A DT default node exists, so dma_contiguous_reserve() makes no Kconfig area.
    assert all(not p.implicit for p in layout.placements)


@pytest.mark.parametrize("path", sorted(p.name for p in (ROOT / "boards").glob("*.yaml")))
def test_example_boards_resolve_cleanly(path: str) -> None:
    loaded = load(f"boards/{path}", lambda p: (ROOT / p).read_bytes(), ".")
    assert loaded.board is not None
    layout, found = resolve(loaded.board)
    assert [d.render() for d in found] == []
    named = {p.region for p in layout.placements if not p.implicit}
    assert named == {r.name for r in loaded.board.regions}


def test_pin_fixes_every_dynamic_region_where_it_landed() -> None:
    board = board_from_text(_arm64(ONE_BANK_2G + """
regions:
  - {name: a, size: 16M, no_map: true}
  - {name: c, size: 32M, reusable: true, alloc_ranges: [{start: 0x80000000, size: 1G}]}
"""))
    layout, _ = resolve(board)
    pinned = pin(board, layout)
    assert all(r.start is not None for r in pinned.regions)
    assert all(not r.alloc_ranges for r in pinned.regions)
    again, found = resolve(pinned)
    assert found == []
    assert [(p.region, p.start, p.end) for p in again.placements] == [(p.region, p.start, p.end) for p in layout.placements]
    assert all(p.static for p in again.placements if not p.implicit)


def test_cma_dynamic_region_across_4g_is_an_error() -> None:
    # RAM 0xc0000000..0x140000000 on arm64. A 64 MiB CMA node with alloc-ranges
    # 0xfe000000 + 64 MiB must straddle 4 GiB (0xfe000000..0x102000000): the kernel cannot
    # activate an area that spans ZONE_DMA32 and ZONE_NORMAL.
    layout, found = resolve(board_from_text(_arm64("""
memory:
  banks: [{name: dram, base: 0xc0000000, size: 2G}]
regions:
  - {name: pool, size: 64M, reusable: true, alloc_ranges: [{start: 0xfe000000, size: 64M}]}
""", config="{CONFIG_HUGETLB_PAGE: true, CONFIG_DMA_CMA: false}")))
    assert [d.rule for d in found] == ["zone-straddle"]
    assert "0xfe000000..0x101ffffff" in found[0].message and "0x100000000" in found[0].message


def test_device_beyond_dma_mask_of_a_placed_region() -> None:
    # The pool lands top-down at 0x8fc000000 (above 4 GiB); a 32-bit device mapped to it
    # cannot reach it.
    layout, found = resolve(board_from_text(_arm64(TWO_SIDES_OF_4G + """
regions:
  - {name: pool, size: 64M, reusable: true}
devices:
  - {name: cam, kinds: [frame], dma_mask_bits: 32}
map:
  - {match: "*/*", regions: [pool]}
""")))
    assert [d.rule for d in found] == ["dma-reach"]
    assert "0x8fc000000..0x8ffffffff" in found[0].message


def test_map_rows_and_delivery() -> None:
    layout, found = resolve(board_from_text(_arm64(ONE_BANK_2G + """
regions:
  - {name: fast, size: 16M, reusable: true}
  - {name: slow, size: 16M, reusable: true}
  - {name: fw, size: 1M, no_map: true, private_to: [vpu]}
devices:
  - {name: vpu, kinds: [fw, work], uses: helper}
  - {name: cam, kinds: [frame]}
map:
  - {match: vpu/fw, regions: [fw]}
  - {match: "*/work", regions: [fast, slow, system]}
  - {match: "*/*", regions: [fast]}
""")))
    rows = {(r.device, r.kind): r for r in layout.map}
    assert rows["vpu", "fw"].delivery.regions == ("fw",) and rows["vpu", "fw"].delivery.fallback == "none"
    assert rows["vpu", "work"].delivery.regions == ("fast", "slow", "system")
    assert rows["vpu", "work"].rule == "*/work"
    assert rows["cam", "frame"].delivery.regions == ("fast",)
    assert rows["cam", "frame"].delivery.fallback == "page-allocator"


def test_resolve_is_deterministic_and_pure() -> None:
    board = board_from_text(_arm64(TWO_SIDES_OF_4G + """
regions:
  - {name: a, size: 16M, no_map: true}
  - {name: b, size: 32M, reusable: true, alloc_ranges: [{start: 0x80000000, size: 1G}]}
"""))
    first, _ = resolve(board)
    second, _ = resolve(board)
    assert first == second


def test_dma_offset_moves_the_device_window() -> None:
    # keystone.dtsi dma-ranges: bus 0x80000000 is phys 0x800000000, offset 0x780000000. With a
    # 32-bit mask the device reaches phys 0x780000000..0x880000000: the pool placed top-down
    # at 0x840000000 - 8M = 0x83f800000 is in reach; the same device without the offset is not.
    text = _arm32("""
devicetree: {address_cells: 2, size_cells: 2}
memory:
  banks: [{name: ddr, base: 0x800000000, size: 1G}]
regions:
  - {name: pool, size: 8M, no_map: true}
devices:
  - {name: dsp0, kinds: [dsp], dma_offset: 0x780000000}
map:
  - {match: "*/*", regions: [pool]}
""", config="{CONFIG_ARM_LPAE: true, CONFIG_HIGHMEM: true, CONFIG_DMA_CMA: false}")
    layout, found = resolve(board_from_text(text))
    assert found == [] and layout.placement("pool").start == 0x83F800000  # type: ignore[union-attr]
    layout, found = resolve(board_from_text(text.replace(", dma_offset: 0x780000000", "")))
    assert [d.rule for d in found] == ["dma-reach"]
    assert "beyond the device's 32-bit DMA mask (0x100000000)" in found[0].message


def test_a_static_node_changes_the_heapsort_permutation() -> None:
    # 6.1, DT order [a, s, b, c] where s is static at 0x90000000 (key base 0x90000000) and a,
    # b, c are dynamic (key 0). Bottom-up heapsort, by hand:
    #   build a=1: leaf path ends at 3 (d == n); cmp(s, c) > 0: s stays.
    #   build a=0: path 0 -> 1 (cmp(s, b) >= 0) -> 3 (d == n); backtrack: cmp(a, c) = 0 -> up to
    #     1; cmp(a, s) < 0 stops: rotate 0..1 -> [s, a, b, c].
    #   n=3: swap(0,3) -> [c, a, b, s]; sift: nothing moves (all equal).
    #   n=2: swap(0,2) -> [b, a, c, s]; n=1: swap(0,1) -> [a, b, c, s].
    # So the dynamic nodes go a, b, c here, while [a, b, c] alone sorts to [b, c, a].
    text = _arm64("""
memory:
  banks: [{name: dram, base: 0x80000000, size: 2G}]
regions:
  - {name: a, size: 1M, no_map: true}
  - {name: s, start: 0x90000000, size: 1M, no_map: true}
  - {name: b, size: 2M, no_map: true}
  - {name: c, size: 4M, no_map: true}
""", version="6.1", config="{CONFIG_HUGETLB_PAGE: true, CONFIG_DMA_CMA: false}")
    assert order(text) == ["s", "a", "b", "c"]
