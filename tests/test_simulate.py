"""Scenario runs: requests worked by hand from the kernel's rules (arithmetic in comments),
deliveries and fallbacks, combinations, churn determinism, and `size` minimality."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dtgen.model import Board, Verdict
from dtgen.resolve import resolve
from dtgen.simulate.engine import combinations, explain, simulate
from dtgen.simulate.prng import SplitMix64
from dtgen.simulate.size import fails_one_granule_less, sizes
from tests.support.common import board_from_text

KiB, MiB = 1 << 10, 1 << 20

HEAD = """
board: t
kernel: {arch: arm64, version: "6.12", page_size: 4K, config: {CONFIG_HUGETLB_PAGE: true, CONFIG_DMA_CMA: false}}
memory:
  banks: [{name: dram, base: 0x80000000, size: 2G}]
"""


def story(text: str, name: str) -> Verdict:
    board = board_from_text(HEAD + text)
    layout, found = resolve(board)
    assert not [d for d in found if d.severity.value == "error"]
    told = explain(board, layout, name)
    assert told is not None
    return told


def test_cma_requests_follow_the_dma_path_rules() -> None:
    # `pool` is 16 MiB CMA placed top-down at 0x100000000 - 16M = 0xff000000 (pfn 0xff000).
    # 20 KiB: count = 5 pages, align = min(get_order(20K) = 3, CONFIG_CMA_ALIGNMENT 8) = 3:
    #   first zero bit 0, already 8-page aligned -> 0xff000000.
    # 20 KiB again: bits 0..4 taken; first zero 5, rounded up to 8 -> page 8 -> 0xff008000.
    # 3 MiB: count 768, get_order(3M) = 10 capped to 8 (256 pages): first zero 13 -> 256
    #   -> 0xff100000.
    told = story("""
regions:
  - {name: pool, size: 16M, reusable: true}
devices:
  - {name: cam, kinds: [frame]}
map:
  - {match: "*/*", regions: [pool]}
scenarios:
  - name: s
    steps:
      - alloc: {device: cam, size: 20K, count: 2}
      - alloc: {device: cam, size: 3M}
""", "s")
    assert [(e.address, e.align) for e in told.events] == [
        (0xFF000000, 32 * KiB), (0xFF008000, 32 * KiB), (0xFF100000, 1 * MiB)]
    assert told.fits


def test_coherent_pool_takes_whole_power_of_two_blocks() -> None:
    # 8 MiB no-map pool; an NV12MT 1920x1080 luma plane is 2,088,960 bytes -> get_order = 9, a
    # 2 MiB block: four fit exactly, the fifth finds 0 bytes free and has no fallback.
    told = story("""
regions:
  - {name: right, size: 8M, no_map: true}
devices:
  - {name: mfc, kinds: [luma]}
map:
  - {match: "*/*", regions: [right]}
scenarios:
  - name: s
    expect: fails
    steps:
      - alloc: {device: mfc, size: 2088960, count: 5}
""", "s")
    assert not told.fits and told.met
    assert told.failure is not None and told.failure.label == "step1[4]"
    attempt = told.failure.attempts[0]
    assert (attempt.region, attempt.free, attempt.largest) == ("right", 0, 0)
    assert len(told.failure.attempts) == 1  # a coherent pool does not fall back


def test_devicetree_cma_falls_back_to_the_page_allocator_up_to_max_order() -> None:
    # 4 MiB CMA area: the first 4 MiB request fills it; the second falls back to the page
    # allocator, which can give 4 MiB (order 10, MAX_PAGE_ORDER with 4K pages) but without a
    # guarantee; an 8 MiB request is beyond any buddy block and fails.
    text = """
regions:
  - {name: pool, size: 4M, reusable: true}
devices:
  - {name: cam, kinds: [frame]}
map:
  - {match: "*/*", regions: [pool]}
scenarios:
  - name: s
    expect: fails
    steps:
      - alloc: {device: cam, size: 4M, count: 2}
      - alloc: {device: cam, size: 8M}
"""
    told = story(text, "s")
    first, second, third = told.events
    assert first.region == "pool" and first.guaranteed
    assert second.ok and not second.guaranteed and [a.region for a in second.attempts] == ["pool", "page allocator"]
    assert not third.ok and told.failure == third and told.not_guaranteed == 1
    assert [a.region for a in third.attempts] == ["pool", "page allocator"]
    assert "largest buddy block (4 MiB)" in third.attempts[-1].note


def test_helper_walks_the_whole_chain() -> None:
    # `uses: helper`: `fast` (4 MiB) is full after the first request, so the second goes to
    # `slow`, placed below it: 0x100000000 - 4M = 0xffc00000 (fast), 0xffc00000 - 4M = 0xff800000.
    told = story("""
regions:
  - {name: fast, size: 4M, reusable: true}
  - {name: slow, size: 4M, reusable: true}
devices:
  - {name: gpu, kinds: [bulk], uses: helper}
map:
  - {match: "*/*", regions: [fast, slow]}
scenarios:
  - name: s
    steps:
      - alloc: {device: gpu, size: 4M, count: 2}
""", "s")
    assert [(e.region, e.address) for e in told.events] == [("fast", 0xFFC00000), ("slow", 0xFF800000)]


def test_combinations_respect_exclusive_groups_and_shared_regions() -> None:
    board = board_from_text(HEAD + """
regions:
  - {name: a, size: 8M, reusable: true}
  - {name: b, size: 8M, reusable: true}
devices:
  - {name: x, kinds: [k]}
  - {name: y, kinds: [k]}
map:
  - {match: x/k, regions: [a]}
  - {match: y/k, regions: [b]}
scenarios:
  - {name: v1, exclusive: video, steps: [{alloc: {device: x, size: 1M}}]}
  - {name: v2, exclusive: video, steps: [{alloc: {device: x, size: 1M}}]}
  - {name: ui, steps: [{alloc: {device: x, size: 1M}}]}
  - {name: other, steps: [{alloc: {device: y, size: 1M}}]}
""")
    layout, _ = resolve(board)
    combos = {tuple(s.name for s in c) for c in combinations(board, layout, board.scenarios)}
    # v1 and v2 never run together; `other` shares no region with anyone.
    assert combos == {("v1", "ui"), ("v2", "ui")}


def test_churn_is_deterministic_and_uses_its_own_generator() -> None:
    # SplitMix64 from state 0: the first output of the reference generator is 0xe220a8397b1dcdaf.
    assert SplitMix64(0).next() == 0xE220A8397B1DCDAF
    text = HEAD + """
regions:
  - {name: gfx, size: 8M, reusable: true}
devices:
  - {name: gpu, kinds: [gui]}
map:
  - {match: "*/*", regions: [gfx]}
scenarios:
  - name: gui
    churn: {device: gpu, kind: gui, sizes: [64K, 750K, 1500K], ops: 3000, live_max: 5, seed: 7}
"""
    board = board_from_text(text)
    layout, _ = resolve(board)
    assert simulate(board, layout) == simulate(board, layout)


def test_size_is_minimal_and_sufficient() -> None:
    board = board_from_text(HEAD + """
regions:
  - {name: pool, size: 64M, reusable: true}
  - {name: ring, size: 8M, no_map: true}
devices:
  - {name: cam, kinds: [frame, ring]}
map:
  - {match: cam/frame, regions: [pool]}
  - {match: cam/ring, regions: [ring]}
scenarios:
  - name: s
    steps:
      - alloc: {device: cam, kind: frame, size: 5M, count: 3}
      - alloc: {device: cam, kind: ring, size: 96K, count: 5}
""")
    layout, _ = resolve(board)
    rows = {r.region: r for r in sizes(board, layout, margin_pct=10)}
    # 3 x 5 MiB CMA allocations (order capped at 8: 1 MiB alignment, packed back to back) need
    # 15 MiB, so 16 MiB in 2 MiB granules; five 96 KiB coherent requests each take an order-5
    # block (128 KiB): 640 KiB in pages.
    assert rows["pool"].minimal == 16 * MiB and rows["pool"].granule == 2 * MiB
    assert rows["ring"].minimal == 640 * KiB and rows["ring"].granule == 4 * KiB
    for row in rows.values():
        assert fails_one_granule_less(board, layout, row)
    assert rows["pool"].joint == 16 * MiB and rows["ring"].joint == 640 * KiB
    assert rows["pool"].with_margin == 18 * MiB  # 16 MiB + 10 % = 17.6 MiB, up to 2 MiB granules


def test_seed_board_verdicts() -> None:
    from dtgen.load import load
    from tests.support.common import ROOT

    board = load("boards/samsung-aquila-2010.yaml", lambda p: (ROOT / p).read_bytes(), ".").board
    assert isinstance(board, Board)
    layout, _ = resolve(board)
    verdicts = {v.name: v for v in simulate(board, layout)}
    assert verdicts["hd-decode"].fits and verdicts["sd-trio"].fits
    deep = verdicts["hd-decode-deep"]
    # 32 MiB holds 16 luma planes of 2,088,960 bytes (33,423,360 bytes); the 17th fails.
    assert not deep.fits and deep.met and deep.failure is not None and deep.failure.label == "frames[16].Y"
    assert all(v.met for v in verdicts.values())


def test_seed_board_gui_churn_fails_from_fragmentation_not_exhaustion() -> None:
    from dtgen.load import load
    from tests.support.common import ROOT

    board = load("boards/samsung-aquila-2010.yaml", lambda p: (ROOT / p).read_bytes(), ".").board
    assert isinstance(board, Board)
    layout, _ = resolve(board)
    told = explain(board, layout, "gui-fragments")
    assert told is not None and not told.fits and told.met
    failure = told.failure
    assert failure is not None and failure.churn and failure.size == 3 * MiB
    gfx = failure.attempts[0]
    # More than the request is free, but no hole is big enough: fragmentation.
    assert gfx.free > failure.size > gfx.largest
    use = next(u for u in told.regions if u.region == "gfx")
    assert use.at_failure is not None and use.at_failure.fragmentation > 0.5


def test_a_pinned_page_makes_cma_retry_one_alignment_step_on() -> None:
    # `pool` 16 MiB CMA at 0xff000000 (pfn 0xff000). Page 0 is pinned. 1 MiB: count 256,
    # align order min(get_order(1M) = 8, 8) = 8, mask 255. First fit b = 0 covers the pinned
    # page, alloc_contig_range() -> -EBUSY, bits cleared, start = b + mask + 1 = 256:
    # b = 256 -> 0xff000000 + 256 * 4 KiB = 0xff100000, after one retry.
    told = story("""
regions:
  - {name: pool, size: 16M, reusable: true}
devices:
  - {name: cam, kinds: [frame]}
map:
  - {match: "*/*", regions: [pool]}
scenarios:
  - name: s
    steps:
      - pin: {region: pool, offset: 0, size: 4K}
      - alloc: {device: cam, size: 1M}
""", "s")
    (event,) = told.events
    assert event.address == 0xFF100000
    assert event.attempts[0].note == "1 -EBUSY retry"


# ---- the two run modes ----------------------------------------------------------------------------

_MODES_BOARD = """\
board: modes
kernel: {arch: arm64, version: "6.12"}
memory:
  banks:
    - {name: dram, base: 0x40000000, size: 2G}
regions:
  - {name: small_cma, size: 8M, reusable: true}
  - {name: big_cma, size: 16M, reusable: true}
  - {name: pool, size: 4M, no_map: true}
devices:
  - {name: vpu, kinds: [frames], uses: helper, compatible: "v,vpu"}
  - {name: gpu, kinds: [bulk], compatible: "v,gpu"}
  - {name: dsp, kinds: [fw], compatible: "v,dsp"}
  - {name: isp, kinds: [meta], compatible: "v,isp"}
  - {name: narrow, kinds: [meta], compatible: "v,narrow", dma_mask_bits: 31}
map:
  - {match: vpu/frames, regions: [small_cma, big_cma, system]}
  - {match: gpu/bulk, regions: [big_cma]}
  - {match: dsp/fw, regions: [pool]}
  - {match: "*/meta", regions: [system]}
"""


@settings(max_examples=120, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["vpu/frames", "gpu/bulk", "dsp/fw", "isp/meta", "narrow/meta", "free"]),
                                st.integers(1, 24 * 256), st.integers(0, 9)), min_size=1, max_size=40))
def test_the_fast_run_and_the_recorded_run_agree(steps: list[tuple[str, int, int]]) -> None:
    """run() without record is step()'s loop inlined for long churns; with record every request
    is described. On any sequence of requests and frees they must give the same fits, failure,
    request counts, peaks and use: one-page requests of a device without its own area (isp) and
    grants given back beyond a DMA mask (narrow: 31 bits, the default area near 0xc0000000)
    included."""
    import yaml

    from dtgen.model import Scenario
    from dtgen.pipeline import PLACED, run as run_pipeline
    from dtgen.simulate.engine import run, scenario_ops
    from dtgen.validate import Settings

    lines = []
    names: list[str] = []
    for what, pages, n in steps:
        if what == "free":
            if names:
                lines.append({"free": names.pop(n % len(names))})
            continue
        device, kind = what.split("/")
        name = f"b{len(lines)}"
        names.append(name)
        lines.append({"alloc": {"device": device, "kind": kind, "size": pages * 4096, "as": name}})
    if not lines:
        return
    text = _MODES_BOARD + yaml.safe_dump({"scenarios": [{"name": "s", "expect": "fits", "steps": lines}]}, sort_keys=False)
    store = {"board.yaml": text.encode()}
    outcome = run_pipeline("board.yaml", lambda p: store[p], ".", {}, Settings(), until=PLACED)
    assert outcome.board is not None and outcome.layout is not None, [d.render() for d in outcome.diagnostics]
    scenario: Scenario = outcome.board.scenarios[0]
    fast = run(outcome.board, outcome.layout, list(scenario_ops(outcome.board, scenario)))
    slow = run(outcome.board, outcome.layout, list(scenario_ops(outcome.board, scenario)), record=True)
    assert (fast.failure is None) == (slow.failure is None)
    if fast.failure is not None:
        assert (fast.failure.step, fast.failure.device, fast.failure.kind, fast.failure.size) == \
            (slow.failure.step, slow.failure.device, slow.failure.kind, slow.failure.size)
    assert (fast.requests, fast.not_guaranteed) == (slow.requests, slow.not_guaranteed)
    assert fast.peak == slow.peak and fast.used == slow.used


# ---- what the scenario replay found (tests/support/scenario_replay.py) ------------------------------------

_REPLAY_HEAD = """
board: t
kernel: {arch: arm64, version: "%s", config: {CONFIG_DMA_CMA: true}}
memory:
  banks: [{name: dram, base: 0x40000000, size: 3G}, {name: high, base: 0x100000000, size: 1G}]
"""


def _told(text: str, name: str = "s", version: str = "6.12") -> Verdict:
    board = board_from_text(_REPLAY_HEAD % version + text)
    layout, found = resolve(board)
    assert not [d for d in found if d.severity.value == "error"], [d.render() for d in found]
    told = explain(board, layout, name)
    assert told is not None
    return told


_ONE_PAGE = """
regions:
  - {name: linux_cma, node_name: linux-cma, size: 32M, reusable: true, default: true,
     alloc_ranges: [{start: 0x50000000, size: 256M}]}
devices:
  - {name: dt, kinds: [meta], compatible: "t,dt"}
  - {name: own, kinds: [meta], compatible: "t,own"}
  - {name: helped, kinds: [meta], compatible: "t,helped", uses: helper}
map:
  - {match: dt/meta, regions: [system]}
  - {match: own/meta, regions: [linux_cma]}
  - {match: helped/meta, regions: [system]}
scenarios:
  - name: s
    steps:
      - alloc: {device: dt, size: 4096}
      - alloc: {device: dt, size: 4097}
      - alloc: {device: own, size: 100}
      - alloc: {device: helped, size: 4096}
"""


def test_one_page_of_the_default_area_is_the_page_allocators_for_a_device_without_it() -> None:
    # dma_alloc_contiguous() (6.12): dev->cma_area whatever the size; the default area only for
    # more than a page. `own` names the linux,cma-default node: the area is its dev->cma_area.
    # The helper calls cma_alloc() itself, whatever the size.
    told = _told(_ONE_PAGE)
    where = [(e.device, e.region if e.guaranteed else "page allocator") for e in told.events]
    assert where == [("dt", "page allocator"), ("dt", "linux_cma"), ("own", "linux_cma"), ("helped", "linux_cma")]
    assert [a.region for a in told.events[0].attempts] == ["page allocator"]  # the area is not tried


def test_before_5_3_the_default_area_served_one_page_too() -> None:
    told = _told(_ONE_PAGE, version="5.2")
    assert all(e.guaranteed and e.region == "linux_cma" for e in told.events)


def test_a_steps_align_is_not_passed_to_mainline_pools() -> None:
    # dma_alloc_coherent() takes no alignment: 64 KiB aligns to get_order(64K) = 4 pages.
    told = _told("""
regions:
  - {name: pool, size: 8M, reusable: true, alloc_ranges: [{start: 0x50000000, size: 256M}]}
devices:
  - {name: cam, kinds: [bufs]}
map:
  - {match: cam/bufs, regions: [pool]}
scenarios:
  - name: s
    steps:
      - alloc: {device: cam, size: 64K, align: 4M, count: 2}
""")
    first, second = told.events
    assert second.address - first.address == 64 * KiB and second.align == 64 * KiB


def test_dma_direct_gives_back_cma_pages_beyond_the_dma_mask() -> None:
    # The default node without alloc-ranges is placed top-down in the high bank, above a 32-bit
    # device's reach: __dma_direct_alloc_pages() frees what dma_coherent_ok() refuses and asks
    # the page allocator; a 64-bit device keeps the page; the helper does not check.
    told = _told("""
regions:
  - {name: linux_cma, node_name: linux-cma, size: 32M, reusable: true, default: true}
devices:
  - {name: narrow, kinds: [k], dma_mask_bits: 32}
  - {name: wide, kinds: [k], dma_mask_bits: 64}
map:
  - {match: "*/k", regions: [system]}
scenarios:
  - name: s
    steps:
      - alloc: {device: narrow, size: 1M}
      - alloc: {device: wide, size: 1M}
      - alloc: {device: narrow, size: 1M}
""")
    narrow, wide, again = told.events
    assert not narrow.guaranteed and [a.region for a in narrow.attempts] == ["linux_cma", "page allocator"]
    assert "beyond the device's 32-bit DMA mask" in narrow.attempts[0].note
    # The page given back is free again: the wide device gets the very range narrow was offered
    # (past the DMA atomic pools at the area's start).
    assert wide.guaranteed and narrow.attempts[0].note.startswith(f"{wide.address:#x} is beyond")
    assert not again.guaranteed
