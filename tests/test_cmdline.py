"""Kernel command lines for CMA (dtgen/cmdline.py reads them, dtgen/emit/cmdline.py writes them): fixed vectors from the facts worked by hand,
the Aquila board's 2010 strings, malformed input with exact messages and columns, and round trips.

Facts: docs/kernel-research.md 12.4 and docs/cmdline.md, checked against the patch mails (v1
mm/cma.c cma_param_parse(), RFCv3-v5 "mm: cma: Added command line parameters support") and
kernel/dma/contiguous.c early_cma() with lib/cmdline.c memparse(); docs/cmdline.md.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtgen.cmdline import (
    PAGE_SIZE,
    PATCHES,
    SYNTAXES,
    CmdlineError,
    CmdRegion,
    CmdRule,
    MainlineCma,
    Parsed,
    parse,
)
from dtgen.emit.cmdline import (
    Problem,
    cmdline_parameters,
    legacy_cmdline,
    legacy_map,
    legacy_regions,
    mainline_cma,
    syntax_of,
)
from dtgen.units import memparse_text
from dtgen.load import load
from dtgen.model import Range
from dtgen.resolve import resolve
from tests.support.common import ROOT, board_from_text

K, M, G = 1 << 10, 1 << 20, 1 << 30


def _round_up(n: int, to: int) -> int:
    return -(-n // to) * to


# ---- fixed vectors from the facts --------------------------------------------------------------


def test_v1_documentation_example() -> None:
    # Facts 1.2: `cma=r1=64M@512M/1M:foo(bar);r2=64M/1M`. Sizes are page multiples, 512M is a
    # multiple of 1M, so nothing is rounded; r2 has no `@`, so no start.
    parsed = parse("2010-v1", "cma=r1=64M@512M/1M:foo(bar);r2=64M/1M")
    assert parsed == Parsed("2010-v1", (
        CmdRegion("r1", 64 * M, 512 * M, 1 * M, "foo", "bar", None),
        CmdRegion("r2", 64 * M, None, 1 * M, None, None, None),
    ))
    assert parsed.notes == ()


def test_v2_aquila_strings_read_as_v3() -> None:
    # Facts 1.6: the v2 board's cma_set_defaults() strings, given as v3 parameters. mfc_fw has
    # the `-` (not an asterisk region), the others are asterisk regions; no alignment means
    # PAGE_SIZE (4 KiB); 0x40000000 is already page-aligned.
    parsed = parse("2010-v3", "cma=-mfc_fw=1M/128K;mfc_b1=32M;mfc_b2=16M@0x40000000 "
                              "cma.map=s3c-mfc5/f=mfc_fw;s3c-mfc5/a=mfc_b1;s3c-mfc5/b=mfc_b2")
    assert parsed.regions == (
        CmdRegion("mfc_fw", 1 * M, None, 128 * K, None, None, False),
        CmdRegion("mfc_b1", 32 * M, None, PAGE_SIZE, None, None, True),
        CmdRegion("mfc_b2", 16 * M, 0x40000000, PAGE_SIZE, None, None, True),
    )
    assert parsed.rules == (
        CmdRule(("s3c-mfc5/f",), ("mfc_fw",)),
        CmdRule(("s3c-mfc5/a",), ("mfc_b1",)),
        CmdRule(("s3c-mfc5/b",), ("mfc_b2",)),
    )


def test_v1_comma_example_is_rejected_where_the_parser_stops() -> None:
    # Facts 1.2 quote `cma=a=32M@0,b=32M@512M`, but the v1 grammar separates regions with `;`:
    # cma_param_parse_entry() reads `@0` with memparse(), which stops at the `,`, and then
    # wants `;` or the end ("expecting ';' or end of parameter"). Column 12 is that `,`:
    # c1 m2 a3 =4 a5 =6 3(7) 2(8) M9 @10 0(11) ,12.
    with pytest.raises(CmdlineError) as caught:
        parse("2010-v1", "cma=a=32M@0,b=32M@512M cma_map=foo/a=a,b;foo/b=b,a")
    assert (caught.value.column, caught.value.message) == (
        12, "after region `a`: expected `;` or the end of `cma=`, found `,`; regions are separated by `;`")


def test_v1_comma_example_with_semicolons() -> None:
    # With `;` it parses. v1 reads `@0` as "no start" (cma_region_alloc() places a region whose
    # start is 0 anywhere). In the map, `,` separates patterns or region names: each rule here
    # has one pattern and two regions, tried left to right.
    parsed = parse("2010-v1", "cma=a=32M@0;b=32M@512M cma_map=foo/a=a,b;foo/b=b,a")
    assert parsed.regions == (
        CmdRegion("a", 32 * M, None, PAGE_SIZE, None, None, None),
        CmdRegion("b", 32 * M, 512 * M, PAGE_SIZE, None, None, None),
    )
    assert parsed.rules == (CmdRule(("foo/a",), ("a", "b")), CmdRule(("foo/b",), ("b", "a")))
    assert parsed.notes == ("region `a`: v1 reads `@0` as no start (the kernel places it)",)


@pytest.mark.parametrize(("text", "expected"), [
    # `@start-end`: placed in [0, 4 GiB), fixed only if 0 + 64M == 4G (it is not).
    ("cma=64M@0-4G", MainlineCma(64 * M, 0, 4 * G, False)),
    # `@start` alone: early_cma() sets the limit to start + size, so it is fixed.
    ("cma=64M@512M", MainlineCma(64 * M, 512 * M, 576 * M, True)),
    # `cma=0` disables the default area.
    ("cma=0", MainlineCma(0, 0, 0, False)),
    # Size only: base 0, no limit of its own.
    ("cma=256M", MainlineCma(256 * M, 0, 0, False)),
    # A range exactly as large as the area is fixed (dma_contiguous_reserve()).
    ("cma=64M@0x40000000-0x44000000", MainlineCma(64 * M, 0x40000000, 0x44000000, True)),
    # memparse() suffixes are case-insensitive; base 0 with a leading 0 is octal: 010 = 8.
    ("cma=1g@010m", MainlineCma(1 * G, 8 * M, 8 * M + 1 * G, True)),
])
def test_mainline_vectors(text: str, expected: MainlineCma) -> None:
    assert parse("mainline", text).mainline == expected


def test_mainline_disabled_and_absent() -> None:
    assert parse("mainline", "cma=0").mainline.disabled  # type: ignore[union-attr]
    assert parse("mainline", "console=ttyS0,115200 root=/dev/mmcblk0p2").mainline is None


def test_command_line_splitting_follows_next_arg() -> None:
    # Other parameters are skipped, quotes around a value or a whole parameter are dropped, and
    # (mainline) everything after `--` belongs to init.
    line = 'console=ttyS0 "cma=64M@512M" -- cma=1G'
    assert parse("mainline", line).mainline == MainlineCma(64 * M, 512 * M, 576 * M, True)
    assert parse("mainline", 'cma="32M"').mainline == MainlineCma(32 * M)
    # Inside quotes the column still counts in the text: `"cma=64M@x"`, the x is column 10.
    with pytest.raises(CmdlineError) as caught:
        parse("mainline", '"cma=64M@x"')
    assert (caught.value.column, caught.value.message) == (10, "expected a start address after `@`, found `x`")


def test_kernel_adjusted_values_and_notes() -> None:
    # v1 stores PAGE_ALIGN(5000) = 8192, alignment 8K, start ALIGN(0x1001, 8K) = 0x2000.
    parsed = parse("2010-v1", "cma=a=5000@0x1001/8K")
    assert parsed.regions == (CmdRegion("a", 0x2000, 0x2000, 8 * K),)
    assert parsed.notes == (
        "region `a`: size 0x1388 is page-aligned to 8 KiB",
        "region `a`: start 0x1001 is rounded up to 0x2000 (alignment 8 KiB)",
    )
    # v3: an alignment below a page is raised to PAGE_SIZE (max(alignment, PAGE_SIZE)).
    parsed = parse("2010-v3", "cma=a=1M@1M/1K:bf")
    assert parsed.regions == (CmdRegion("a", 1 * M, 1 * M, PAGE_SIZE, "bf", None, True),)
    assert parsed.notes == ("region `a`: alignment 1 KiB is raised to a page",)
    assert parse("2010-v1", "cma=a=4K").notes == ()


def test_v3_asterisk_list_and_trailing_semicolons() -> None:
    parsed = parse("2010-v3", "cma=a=1M; cma.map=foo=*;")
    assert parsed.rules == (CmdRule(("foo",), ("*",)),)
    assert parse("2010-v1", "cma=").regions == ()


# ---- the Aquila board (2.6.35, boards/samsung-aquila-2010.yaml) --------------------------------

# Placement worked by hand (facts 1.5/1.6 and docs/kernel-research.md "The 2010 patch"): the
# regions are reserved in board order; a region with a start is reserved there; the others go
# top-down in their bank, __memblock_alloc_base(size, align) taking the highest fitting address.
#   bank0 0x30000000-0x35000000, bank1 0x40000000-0x58000000 (all lowmem: no HIGHMEM, 464 MiB).
#   mfc_fw   1M, align 128K: round_down(0x35000000 - 0x100000, 0x20000) = 0x34f00000 = 847M
#   mfc_b1  32M:              0x34f00000 - 0x2000000  = 0x32f00000 = 815M
#   mfc_b2  16M at 0x40000000 (its start)                          = 1G
#   g3d_ctl  4M:              0x32f00000 - 0x400000   = 0x32b00000 = 811M
#   fimc    16M:              0x58000000 - 0x1000000  = 0x57000000 = 1392M
#   gfx     24M:              0x57000000 - 0x1800000  = 0x55800000 = 1368M
#   g3d_bulk 32M:             0x55800000 - 0x2000000  = 0x53800000 = 1336M
# Every region names the best-fit allocator (`:bf`).
AQUILA_REGIONS = ("mfc_fw=1M@847M/128K:bf;mfc_b1=32M@815M:bf;mfc_b2=16M@1G:bf;g3d_ctl=4M@811M:bf;"
                  "fimc=16M@1392M:bf;gfx=24M@1368M:bf;g3d_bulk=32M@1336M:bf")
AQUILA_V2_REGIONS = ";".join("-" + item for item in AQUILA_REGIONS.split(";"))
# v1-v3 match the kind with dtgen's own wildcards, so rules are written as they are.
AQUILA_V2_MAP = ("s3c-mfc5/fw=mfc_fw;s3c-mfc5/left=mfc_b1;s3c-mfc5/right=mfc_b2;g3d/bulk=g3d_bulk,gfx;"
                 "g3d/control=g3d_ctl;g3d/gui=gfx;s5p-fimc.2/*=gfx;s5p-fimc.?/*=fimc")
# v4-v6 compare the type exactly and let a pattern without `/type` match every type: the two
# `/*` rules lose their kind part; the exact kinds stay.
AQUILA_V6_MAP = ("s3c-mfc5/fw=mfc_fw;s3c-mfc5/left=mfc_b1;s3c-mfc5/right=mfc_b2;g3d/bulk=g3d_bulk,gfx;"
                 "g3d/control=g3d_ctl;g3d/gui=gfx;s5p-fimc.2=gfx;s5p-fimc.?=fimc")


@pytest.fixture(scope="module")
def aquila():  # type: ignore[no-untyped-def]
    path = "boards/samsung-aquila-2010.yaml"
    loaded = load(path, lambda p: (ROOT / p).read_bytes(), str(ROOT))
    assert loaded.board is not None
    layout, found = resolve(loaded.board)
    assert not [d for d in found if d.severity.value == "error"]
    return loaded.board, layout


def test_aquila_v2(aquila) -> None:  # type: ignore[no-untyped-def]
    board, layout = aquila
    # v2/v3 mark every region `-`: dtgen gives a request no rule matches nothing, v2 would give
    # it the asterisk regions.
    assert legacy_regions(board, layout, "v2") == (AQUILA_V2_REGIONS, [])
    assert legacy_map(board, "v2") == (AQUILA_V2_MAP, [])
    # v2 reads only `cma=` from the command line; its map is the platform's cma_set_defaults().
    assert legacy_cmdline(board, layout, "v2") == (f"cma={AQUILA_V2_REGIONS}", [])


def test_aquila_v6(aquila) -> None:  # type: ignore[no-untyped-def]
    board, layout = aquila
    assert legacy_regions(board, layout, "v6") == (AQUILA_REGIONS, [])
    assert legacy_map(board, "v6") == (AQUILA_V6_MAP, [])
    # v6 takes no CMA command-line parameters (RFCv6 dropped the command-line patch).
    assert cmdline_parameters("v6") == ()
    assert legacy_cmdline(board, layout, "v6") == ("", [Problem(
        "/kernel/cma_patch", "v6 reads no CMA command-line parameters (the last command-line patch is RFCv5 4/9, "
        "6 Sep 2010): the platform code's cma_set_defaults() gives the regions and map")])


def test_aquila_v1_and_v5_command_lines(aquila) -> None:  # type: ignore[no-untyped-def]
    board, layout = aquila
    assert legacy_cmdline(board, layout, "v1") == (f"cma={AQUILA_REGIONS} cma_map={AQUILA_V2_MAP}", [])
    assert legacy_cmdline(board, layout, "v5") == (f"cma={AQUILA_REGIONS} cma.map={AQUILA_V6_MAP}", [])


@pytest.mark.parametrize("patch", [p for p in PATCHES if p != "v6"])
def test_aquila_reads_back_as_resolve_placed_it(aquila, patch: str) -> None:  # type: ignore[no-untyped-def]
    board, layout = aquila
    text, problems = legacy_cmdline(board, layout, patch)
    assert problems == []
    parsed = parse(syntax_of(patch), text)
    for region in parsed.regions:
        placed = layout.placement(region.name)
        assert (region.start, region.size, region.alignment) == (placed.start, placed.size, placed.alignment)


# ---- emit problems -----------------------------------------------------------------------------

LEGACY_BOARD = """\
board: legacy
kernel: {arch: arm, version: "2.6.35", page_size: 4K, config: {CONFIG_HIGHMEM: false}}
memory:
  banks:
    - {name: low, base: 0x20000000, size: 256M}
    - {name: high, base: 0x40000000, size: 256M}
regions:
  - {name: fw, size: 1M, start: 0x20000000, via: platform, allocator: bf}
  - {name: pool, size: 16M, bank: high, via: platform}
  - {name: dt, size: 8M, no_map: true}
devices:
  - {name: vpu, kinds: [fw, frame]}
  - {name: cam, kinds: [frame]}
map:
  - {match: vpu/fw, regions: [fw]}
  - {match: "vpu/fr?me", regions: [pool]}
  - {match: "cam/*", regions: [pool]}
"""


@pytest.fixture(scope="module")
def legacy():  # type: ignore[no-untyped-def]
    board = board_from_text(LEGACY_BOARD)
    layout, _ = resolve(board)
    return board, layout


def test_kind_wildcards_cannot_be_written_for_v4(legacy) -> None:  # type: ignore[no-untyped-def]
    board, _ = legacy
    assert legacy_map(board, "v1") == ("vpu/fw=fw;vpu/fr?me=pool;cam/*=pool", [])
    assert legacy_map(board, "v4") == ("vpu/fw=fw;cam=pool", [Problem(
        "/map/1", "kind pattern `fr?me` of map rule `vpu/fr?me` cannot be written for v4, which compares the type "
        "exactly (`?` and `*` work only in the device part); rule left out")])


def test_rules_naming_system_or_device_tree_regions(legacy) -> None:  # type: ignore[no-untyped-def]
    board, _ = legacy
    rules = (replace(board.rules[0], text="vpu/fw", regions=("fw", "system")),
             replace(board.rules[2], text="cam/*", regions=("dt",), pointer="/map/1"))
    text, problems = legacy_map(replace(board, rules=rules), "v3")
    assert text == ""
    assert problems == [
        Problem("/map/0", "map rule `vpu/fw` falls back to `system`, the page allocator, which a 2010 map cannot "
                          "name; rule left out"),
        Problem("/map/1", "map rule `cam/*` names region `dt`, which is reserved via devicetree: a 2010 map names "
                          "only `via: platform` regions; rule left out"),
    ]


def test_region_problems(legacy) -> None:  # type: ignore[no-untyped-def]
    board, layout = legacy
    fw = board.regions[0]
    regions = (replace(fw, allocator="gen"), replace(fw, name="zero", start=0, allocator="cma", pointer="/regions/1"))
    text, problems = legacy_regions(replace(board, regions=regions), layout, "v3")
    assert text == "-fw=1M@512M:gen;-zero=1M:cma"
    assert problems == [
        Problem("/regions/0", "allocator `gen` of region `fw` exists only in v6; v3 has `bf`"),
        Problem("/regions/1", "region `zero` starts at 0x0, which `cma=` cannot say: v1 reads `@0` as anywhere, "
                              "v3-v5 refuse it"),
        Problem("/regions/1", "allocator `cma` of region `zero` is not a 2010 allocator (`bf`, `gen`)"),
    ]


def test_v1_limits(legacy) -> None:  # type: ignore[no-untyped-def]
    board, layout = legacy
    fw = board.regions[0]
    # 17 regions of `rNN=1M:bf` (9 characters) joined by `;`: v1 holds 16.
    many = tuple(replace(fw, name=f"r{i:02}", start=None, pointer=f"/regions/{i}") for i in range(17))
    _, problems = legacy_regions(replace(board, regions=many), layout, "v1")
    assert problems == [Problem("/regions/16", "region `r16` is the 17th in `cma=`: v1 takes at most 16 regions")]
    # 65 rules: v1 holds 64 (CMA_MAX_MAPPINGS). Each `vpu/fw=fw` is 9 characters and a `;`, so
    # the 52nd rule ends at 52 * 10 - 1 = 519 characters, past the 511 that fit the buffer.
    rules = tuple(replace(board.rules[0], pointer=f"/map/{i}") for i in range(65))
    _, problems = legacy_map(replace(board, rules=rules), "v1")
    assert problems == [
        Problem("/map/51", "`cma_map=` passes 511 characters at rule `vpu/fw`: v1 copies only that many into its "
                           "buffer"),
        Problem("/map/64", "map rule `vpu/fw` is the 65th: v1 takes at most 64 map rules"),
    ]


def test_not_a_2010_kernel(legacy) -> None:  # type: ignore[no-untyped-def]
    board, layout = legacy
    newer = replace(board, kernel=replace(board.kernel, version=(6, 12)))
    _, problems = legacy_map(newer, "v1")
    assert problems == [Problem("/kernel/version", "Linux 6.12 is not a 2010 CMA patch kernel (those are before "
                                                   "3.5); use `cma=` as mainline reads it")]


def test_cmdline_parameters_per_version() -> None:
    assert [cmdline_parameters(p) for p in PATCHES] == [
        ("cma", "cma_map"), ("cma",), ("cma", "cma.map"), ("cma", "cma.map"), ("cma", "cma.map"), ()]
    assert [syntax_of(p) for p in PATCHES] == ["2010-v1"] + ["2010-v3"] * 5


# ---- mainline emit -----------------------------------------------------------------------------

MAINLINE_BOARD = """\
board: mainline
kernel: {arch: arm64, version: "6.12"}
memory:
  banks:
    - {name: low, base: 0x40000000, size: 2G}
    - {name: high, base: 0x880000000, size: 2G}
regions:
  - {name: common, size: 256M, reusable: true, default: true, via: cmdline}
"""


@pytest.fixture(scope="module")
def mainline_board():  # type: ignore[no-untyped-def]
    return board_from_text(MAINLINE_BOARD)


def test_mainline_cma_strings(mainline_board) -> None:  # type: ignore[no-untyped-def]
    region = mainline_board.regions[0]

    def emit(**changes: object) -> str | None:
        return mainline_cma(replace(mainline_board, regions=(replace(region, **changes),)), None)

    assert emit() == "cma=256M"
    assert emit(start=0x60000000) == "cma=256M@1536M"
    assert emit(alloc_ranges=(Range(0, 4 * G), Range(0x880000000, 1 * G))) == "cma=256M@0-4G"
    assert emit(bank="high") == "cma=256M@34G-36G"
    assert emit(size=0x1234567) == "cma=0x1234567"
    assert emit(default=False) is None


def test_memparse_text() -> None:
    assert [memparse_text(n) for n in (0, 4 * K, 64 * M, 4 * G, 512 * M, 1 << 40, 0x1001)] == [
        "0", "4K", "64M", "4G", "512M", "1024G", "0x1001"]


def test_mainline_bank_matches_resolve(mainline_board) -> None:  # type: ignore[no-untyped-def]
    """resolve places a `via: cmdline` area with a bank where `cma=size@base-end` puts it; the
    high bank lies above arm64's 4 GiB limit, which 6.12 still applies (min_not_zero)."""
    low = replace(mainline_board, regions=(replace(mainline_board.regions[0], bank="low"),))
    assert mainline_cma(low, None) == "cma=256M@1G-3G"
    layout, found = resolve(low)
    placed = layout.placement("common")
    assert not found and placed is not None and 0x40000000 <= placed.start and placed.end <= 0xC0000000
    high = replace(mainline_board, regions=(replace(mainline_board.regions[0], bank="high"),))
    layout, found = resolve(high)
    assert layout.placement("common") is None and [d.rule for d in found] == ["place-failed"]


# ---- malformed input: exact message and column --------------------------------------------------

MALFORMED = [
    # mainline
    ("mainline", "cma", 1, "`cma` needs a value: `cma=...`"),
    ("mainline", "cma=", 5, "empty `cma=`: the kernel reads it as 0 and disables CMA; write `cma=0` if you mean that"),
    ("mainline", "cma=64M@", 9, "expected a start address after `@`, found nothing"),
    ("mainline", "cma=64X", 7, "unexpected `X` after the size: mainline `cma=` takes `size[@start[-end]]`"),
    ("mainline", "cma=64M@1G+", 11, "unexpected `+` after the start: mainline `cma=` takes `size[@start[-end]]`"),
    ("mainline", "cma=64M@512M-256M", 14, "end 0x10000000 is not above the start 0x20000000"),
    ("mainline", "cma=64M@0-32M", 11, "the range 0x0..0x1ffffff (32 MiB) is smaller than the area (64 MiB): "
                                      "cma_declare_contiguous_nid() fails with -EINVAL"),
    ("mainline", "cma=r1=64M", 5, "expected a size: `r1=64M` is the 2010 patch's region syntax; mainline `cma=` "
                                  "takes `size[@start[-end]]`"),
    ("mainline", "cma=08M", 6, "`8` after a leading 0: memparse() reads `08` as octal and stops here; drop the "
                               "leading 0"),
    ("mainline", "cma=16E", 5, "size `16E` does not fit in 64 bits: memparse() wraps it around"),
    ("mainline", "cma=-1", 5, "expected a size, found `-`"),
    ("mainline", "cma=64M cma=32M", 9, "`cma=` appears twice (first at column 1): the kernel parses both, the second "
                                       "over the first; give it once"),
    ("mainline", "console=ttyS0 cma_map=foo/a=a", 15, "`cma_map=` is the 2010 v1 patch's parameter; a mainline "
                                                      "kernel passes it to init"),
    # 2010 v1
    ("2010-v1", "cma=a=0", 7, "region `a` has size 0: the 2010 patch refuses it (\"invalid size\")"),
    ("2010-v1", "cma=a", 6, "region `a` has no `=size`"),
    ("2010-v1", "cma=a=", 7, "expected a size for region `a` after `=`, found nothing"),
    ("2010-v1", "cma=a!=1M", 6, "`!` cannot appear in a region name (letters, digits, `_ . + -`)"),
    ("2010-v1", "cma==1M", 5, "`=` cannot start a region name (letters, digits, `_`)"),
    ("2010-v1", "cma=a=1M/3K", 10, "region `a`: alignment 0xc00 is not a power of two"),
    ("2010-v1", "cma=a=1M;;b=2M", 10, "empty region: a `;` at the start or two in a row"),
    ("2010-v1", "cma=a=1M:bf(x", 12, "region `a`: the allocator parameters have no closing `)`"),
    ("2010-v1", "cma=a=1M:bf(x;y)", 14, "region `a`: `;` inside the allocator parameters (Documentation/cma.txt "
                                        "forbids it; is a `)` missing?)"),
    ("2010-v1", "cma=a=1M:b!", 11, "`!` cannot appear in an allocator name (letters, digits, `_ . + -`)"),
    ("2010-v1", "cma=a=1T", 8, "suffix `T`: the memparse() of 2010 kernels knows only K, M and G"),
    ("2010-v1", "cma=a=5G", 7, "size `5G` does not fit in 32 bits: the 2010 patch keeps sizes and addresses in 32 "
                               "bits"),
    ("2010-v1", "cma=a=16M@0xfff00000", 7, "region `a` would end at 0x100f00000, beyond 32 bits: the 2010 patch "
                                           "keeps addresses in 32 bits"),
    ("2010-v1", "cma=-a=1M", 5, "`-` cannot start a region name: the non-asterisk `-` is v2-v3 syntax"),
    ("2010-v1", "cma=a=1M;a=2M", 10, "region `a` is defined twice (first at column 5): the kernel would use either"),
    ("2010-v1", "cma=a=1M/4K@8M", 12, "after region `a`: expected `;` or the end of `cma=`, found `@`; the order is "
                                      "`name=size@start/alignment:allocator`"),
    ("2010-v1", "cma=a=1M cma_map=x/y=b", 22, "the rule names region `b`, which `cma=` does not define"),
    ("2010-v1", "cma_map=x/y", 9, "rule `x/y` has no `=`: write `patterns=regions`"),
    ("2010-v1", "cma_map=/y=a", 9, "pattern `/y` reuses the previous pattern's device, but it is the first one"),
    ("2010-v1", "cma_map=fo*o/y=a", 11, "`*` must end the device part of a pattern: the 2010 matcher stops at it and "
                                        "never matches what follows"),
    ("2010-v1", "cma_map=a/b/c=r", 12, "pattern `a/b/...` has more than one `/`"),
    ("2010-v1", "cma_map=a/=r", 11, "pattern `a/` has an empty kind after `/`"),
    ("2010-v1", "cma_map=a/b,=r", 13, "empty pattern"),
    ("2010-v1", "cma_map=a!b=r", 10, "`!` cannot appear in a pattern (letters, digits, `. _ : + -`; `?` one character, "
                                     "a final `*` the rest)"),
    ("2010-v1", "cma_map=a/b=r;;c/d=r", 15, "empty rule: a `;` at the start or two in a row"),
    ("2010-v1", "cma_map=a/b=r,", 15, "empty region name in the rule's list"),
    ("2010-v1", "cma_map=a/b=r=s", 14, "`=` cannot appear in a region name (letters, digits, `_ . + -`)"),
    ("2010-v1", "cma_map=a/b=*", 13, "`*` cannot start a region name"),
    ("2010-v1", "cma.map=a/b=r", 1, "`cma.map=` is the v3-v5 parameter; v1 reads `cma_map=`"),
    ("2010-v1", "cma=" + "x" * 600, 516, "the `cma=` value is 600 characters: v1 copies it into a 512-byte buffer "
                                         "and drops everything from here"),
    # regions r0..r9 take 6 characters with their `;`, r10..r15 7: region 17 starts at 60 + 42 = 102
    # characters into the value, column 4 + 102 + 1.
    ("2010-v1", "cma=" + ";".join(f"r{i}=1M" for i in range(17)), 107, "region 17 is one too many: v1 takes at most "
                                                                       "16 regions"),
    # `a/b=r;` is 6 characters: rule 65 starts at 64 * 6 = 384, column 8 + 384 + 1.
    ("2010-v1", "cma_map=" + ";".join(["a/b=r"] * 65), 393, "rule 65 is one too many: v1 takes at most 64 map rules"),
    # 2010 v3-v5
    ("2010-v3", "cma=a=1M@0", 10, "region `a`: v3-v5 refuse a start of 0 (\"invalid value\"); leave out `@` to let "
                                  "the kernel place the region"),
    ("2010-v3", "cma=a=1M/0", 10, "region `a`: v3-v5 refuse an alignment of 0 (\"invalid value\"); leave out `/` for "
                                  "page alignment"),
    ("2010-v3", "cma=a=1M:foo(bar)", 13, "region `a`: v3-v5 take no allocator parameters: `foo(bar)` would become the "
                                         "allocator's name"),
    ("2010-v3", "cma=--a=1M", 6, "`-` cannot start a region name"),
    ("2010-v3", "cma.map=a=*,b", 12, "`*` stands alone in a region list (v3's asterisk regions)"),
    ("2010-v3", "cma_map=a/b=r", 1, "`cma_map=` is the v1 parameter; v3-v5 read `cma.map=` (v2 had no map parameter)"),
    # r0..r9: 60 characters, r10..r14: 35: region 16 starts at 95, column 4 + 95 + 1.
    ("2010-v3", "cma=" + ";".join(f"r{i}=1M" for i in range(16)), 100, "region 16 is one too many: v3-v5 take at "
                                                                       "most 15 regions (a 16-slot array)"),
]


@pytest.mark.parametrize(("syntax", "text", "column", "message"), MALFORMED,
                         ids=[f"{s}:{t[:40]}" for s, t, _, _ in MALFORMED])
def test_malformed(syntax: str, text: str, column: int, message: str) -> None:
    with pytest.raises(CmdlineError) as caught:
        parse(syntax, text)
    assert (caught.value.message, caught.value.column) == (message, column)
    assert str(caught.value) == message


def test_v3_has_no_rule_limit_and_v1_keeps_511_characters() -> None:
    assert len(parse("2010-v3", "cma.map=" + ";".join(["a/b=r"] * 100)).rules) == 100
    assert parse("2010-v1", "cma=a=" + "0" * 504 + "1M").regions == (CmdRegion("a", 1 * M, None, PAGE_SIZE),)


def test_long_numbers() -> None:
    # 5000 decimal digits: an error, not Python's int() digit limit leaking out.
    with pytest.raises(CmdlineError) as caught:
        parse("mainline", "cma=" + "9" * 5000)
    assert (caught.value.column, caught.value.message) == (
        5, "size `99999999999999999999999999999...` does not fit in 64 bits: memparse() wraps it around")
    # Leading zeros of a hex number are harmless.
    assert parse("mainline", "cma=0x" + "0" * 5000 + "1M").mainline == MainlineCma(1 * M)


def test_unknown_syntax_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown syntax"):
        parse("2010-v9", "cma=1M")


# ---- round trips -------------------------------------------------------------------------------

_LEGACY_BASE = board_from_text(LEGACY_BOARD)
_MAINLINE_BASE = board_from_text(MAINLINE_BOARD)

names = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(lambda n: n != "system"),
                 min_size=1, max_size=6, unique=True)
device_patterns = st.tuples(
    st.from_regex(r"[a-z0-9][a-z0-9.:+-]{0,4}", fullmatch=True),
    st.sampled_from(["", "?", "*", "?*"]),
).map(lambda t: t[0] + t[1])
exact_kinds = st.from_regex(r"[a-z][a-z0-9_]{0,4}", fullmatch=True)
wild_kinds = st.one_of(exact_kinds, st.just("*"), st.from_regex(r"[a-z?][a-z0-9_?]{0,3}\*?", fullmatch=True))


@st.composite
def legacy_boards(draw, patch: str):  # type: ignore[no-untyped-def]
    """A 2.6.35 board with platform regions of three sorts (a start in bank `low`, kept in bank
    `high`, anywhere) and rules in the subset the patch version can express."""
    base = _LEGACY_BASE
    region_names = draw(names)
    regions = []
    for i, name in enumerate(region_names):
        where = draw(st.sampled_from(["start", "bank", "anywhere"]))
        allocators = [None, "bf", "gen"] if patch == "v6" else [None, "bf"]
        regions.append(replace(
            base.regions[0],
            name=name,
            pointer=f"/regions/{i}",
            size=draw(st.integers(1, 16 * M)),
            start=draw(st.integers(0x20000000, 0x2fffffff)) if where == "start" else None,
            bank="high" if where == "bank" else None,
            alignment=draw(st.one_of(st.none(), st.integers(0, 22).map(lambda k: 1 << k))),
            allocator=draw(st.sampled_from(allocators)),
        ))
    rules = []
    for i in range(draw(st.integers(0, 6))):
        device = draw(device_patterns)
        # v4-v6 can write `*` and exact types only; v1-v3 every dtgen kind pattern.
        kind = draw(st.one_of(st.just("*"), exact_kinds) if patch in ("v4", "v5", "v6") else wild_kinds)
        chain = tuple(draw(st.lists(st.sampled_from(region_names), min_size=1, max_size=3, unique=True)))
        rules.append(replace(base.rules[0], text=f"{device}/{kind}", device=device, kind=kind, regions=chain,
                             pointer=f"/map/{i}"))
    return replace(base, regions=tuple(regions), rules=tuple(rules), devices=())


def _expected_region(board, layout, region, patch: str) -> CmdRegion:  # type: ignore[no-untyped-def]
    # cma_param_parse(): alignment raised to a page, start rounded up to it, size page-aligned;
    # a region kept in a bank is written at the start resolve placed it.
    align = max(region.alignment or 0, PAGE_SIZE)
    start = region.start
    if region.bank is not None:
        start = layout.placement(region.name).start
    return CmdRegion(region.name, _round_up(region.size, PAGE_SIZE),
                     None if start is None else _round_up(start, align), align, region.allocator, None,
                     None if patch == "v1" else patch not in ("v2", "v3"))


def _expected_rule(rule, patch: str) -> CmdRule:  # type: ignore[no-untyped-def]
    exact_types = patch in ("v4", "v5", "v6")
    pattern = rule.device if exact_types and rule.kind == "*" else f"{rule.device}/{rule.kind}"
    return CmdRule((pattern,), rule.regions)


@pytest.mark.parametrize("patch", PATCHES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_legacy_round_trip(patch: str, data: st.DataObject) -> None:
    board = data.draw(legacy_boards(patch))
    layout, _ = resolve(board)
    regions, problems = legacy_regions(board, layout, patch)
    rules, more = legacy_map(board, patch)
    assert problems == [] and more == []
    expected = Parsed(syntax_of(patch),
                      tuple(_expected_region(board, layout, r, patch) for r in board.regions),
                      tuple(_expected_rule(r, patch) for r in board.rules))
    if patch == "v6":
        # No command line: the strings are cma_set_defaults()'s, in the v4-v5 grammar.
        text = f"cma={regions}" + (f" cma.map={rules}" if rules else "")
        assert legacy_cmdline(board, layout, patch)[0] == ""
    else:
        text, problems = legacy_cmdline(board, layout, patch)
        assert problems == []
        if patch == "v2":
            expected = replace(expected, rules=())
    assert parse(syntax_of(patch), text) == expected
    # And what the kernel reads is where resolve placed each region with a start or a bank.
    for region in parse(syntax_of(patch), text).regions:
        placed = layout.placement(region.name)
        if region.start is not None and placed is not None:
            assert (region.start, region.size, region.alignment) == (placed.start, placed.size, placed.alignment)


@st.composite
def mainline_boards(draw):  # type: ignore[no-untyped-def]
    region = _MAINLINE_BASE.regions[0]
    size = draw(st.integers(1, 1 << 34))
    where = draw(st.sampled_from(["start", "range", "anywhere"]))
    if where == "start":
        region = replace(region, size=size, start=draw(st.integers(0, 1 << 36)))
    elif where == "range":
        start = draw(st.integers(0, 1 << 36))
        region = replace(region, size=size, alloc_ranges=(Range(start, size + draw(st.integers(0, 1 << 34))),))
    else:
        region = replace(region, size=size)
    return replace(_MAINLINE_BASE, regions=(region,))


@settings(max_examples=200, deadline=None)
@given(mainline_boards())
def test_mainline_round_trip(board) -> None:  # type: ignore[no-untyped-def]
    # early_cma() (facts 5): `@start` alone is fixed with limit start + size; `@start-end` is
    # placed in [start, end), fixed only if start + size == end; no `@` is base 0, no limit.
    # These are the base, end and fixed that resolve's _place_default_area() passes on.
    region = board.regions[0]
    if region.start is not None:
        expected = MainlineCma(region.size, region.start, region.start + region.size, True)
    elif region.alloc_ranges:
        window = region.alloc_ranges[0]
        expected = MainlineCma(region.size, window.start, window.end, window.start + region.size == window.end)
    else:
        expected = MainlineCma(region.size)
    text = mainline_cma(board, None)
    assert text is not None
    assert parse("mainline", text) == Parsed("mainline", mainline=expected)


# ---- fuzz --------------------------------------------------------------------------------------

FUZZ_ALPHABET = "cma_.=;,:/@-*?()\"' \t0123456789xXkKmMgGtTeEabfr!"


@settings(max_examples=1500, deadline=None)
@given(syntax=st.sampled_from(SYNTAXES),
       prefix=st.sampled_from(["", "cma=", "cma_map=", "cma.map=", "cma=a=1M cma_map=", "cma=a=1M cma.map=", "--"]),
       text=st.text(alphabet=FUZZ_ALPHABET, max_size=60))
def test_fuzz_raises_only_cmdline_errors(syntax: str, prefix: str, text: str) -> None:
    line = prefix + text
    try:
        parsed = parse(syntax, line)
    except CmdlineError as caught:
        assert 1 <= caught.column <= len(line) + 1
        assert caught.message
    else:
        assert parsed.syntax == syntax


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_fuzz_any_unicode(text: str) -> None:
    for syntax in SYNTAXES:
        try:
            parse(syntax, "cma=" + text)
            parse(syntax, "cma_map=" + text + " cma.map=" + text)
        except CmdlineError:
            pass
