"""Semantic rules over the board model. Each function is one row of the rule table.

Messages say what the kernel will do and what to change, in the user's units; kernel behaviour is
cited where it comes from (see also dtgen/kernel.py and docs/kernel-research.md).
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

from dtgen import kernel as k
from dtgen.diagnostics import Diagnostic, error, warning
from dtgen.mapping import covers
from dtgen.model import Alloc, Board, Device, Free, Pin, Region
from dtgen.units import fmt_addr, fmt_range, fmt_size, fmt_span, is_power_of_two
from dtgen.validate.registry import E, W, rule


def _err(board: Board, rule_id: str, pointer: str, message: str, hint: str = "") -> Diagnostic:
    return error(rule_id, message, board.source.value(pointer), pointer, hint)


def _warn(board: Board, rule_id: str, pointer: str, message: str, hint: str = "") -> Diagnostic:
    return warning(rule_id, message, board.source.value(pointer), pointer, hint)


def _chains(board: Board) -> Iterator[tuple[Device, int, str, tuple[str, ...], str]]:
    """(device, kind index, kind, regions, rule pointer) for every device kind a rule matches."""
    for device in board.devices:
        for index, kind in enumerate(device.kinds):
            found = board.rule_index.first_match(device.name, kind)
            if found is not None:
                yield device, index, kind, found.regions, found.pointer


@rule("name-unique", E, "two banks, regions, devices or scenarios with one name; a kind listed twice")
def name_unique(board: Board) -> Iterable[Diagnostic]:
    for noun, items in (
        ("bank", board.banks),
        ("region", board.regions),
        ("device", board.devices),
        ("scenario", board.scenarios),
    ):
        seen: dict[str, str] = {}
        for item in items:
            if item.name in seen:
                first = board.source.value(seen[item.name] + "/name")
                yield _err(
                    board,
                    "name-unique",
                    item.pointer + "/name",
                    f"{noun} `{item.name}` is defined twice (first at line {first.line})",
                )
            else:
                seen[item.name] = item.pointer
    for device in board.devices:
        for _index, (kind, count) in enumerate(Counter(device.kinds).items()):
            if count > 1:
                where = [i for i, name in enumerate(device.kinds) if name == kind][1]
                yield _err(
                    board,
                    "name-unique",
                    f"{device.pointer}/kinds/{where}",
                    f"device `{device.name}` lists kind `{kind}` twice",
                )


@rule("bank-overlap", E, "memory banks that overlap")
def bank_overlap(board: Board) -> Iterable[Diagnostic]:
    banks = sorted(board.banks, key=lambda b: (b.base, b.name))
    for before, after in zip(banks, banks[1:]):
        if after.base < before.end:
            yield _err(
                board,
                "bank-overlap",
                after.pointer + "/base",
                f"bank `{after.name}` ({fmt_span(after.base, after.size)}) overlaps bank "
                f"`{before.name}` ({fmt_span(before.base, before.size)})",
            )


@rule("alignment-power-of-two", E, "an alignment that is not a power of two")
def alignment_power_of_two(board: Board) -> Iterable[Diagnostic]:
    for region in board.regions:
        if region.alignment and not is_power_of_two(region.alignment):
            yield _err(
                board,
                "alignment-power-of-two",
                region.pointer + "/alignment",
                f"region `{region.name}` alignment {fmt_size(region.alignment)} is not a power of two",
                hint=f"use {fmt_size(1 << (region.alignment.bit_length() - 1))} or "
                f"{fmt_size(1 << region.alignment.bit_length())}",
            )
    for scenario in board.scenarios:
        for step in scenario.steps:
            if isinstance(step, Alloc) and step.align and not is_power_of_two(step.align):
                yield _err(
                    board,
                    "alignment-power-of-two",
                    step.pointer + "/align",
                    f"alignment {fmt_size(step.align)} is not a power of two",
                )


@rule("align-ignored", W, "a step's `align` on a kernel whose allocation APIs take none")
def align_ignored(board: Board) -> Iterable[Diagnostic]:
    # Since 3.5 a device reaches CMA and coherent pools through dma_alloc_coherent() or the
    # generated helper: neither takes an alignment; both align to get_order(size), capped by
    # CONFIG_CMA_ALIGNMENT in CMA areas (kernel/dma/contiguous.c cma_alloc_aligned(),
    # kernel/dma/coherent.c). The simulator does the same, as the scenario replay showed.
    if k.cma_2010(board.kernel):
        return
    for scenario in board.scenarios:
        for step in scenario.steps:
            if isinstance(step, Alloc) and step.align:
                yield _warn(
                    board,
                    "align-ignored",
                    step.pointer + "/align",
                    f"`align: {fmt_size(step.align)}` has no effect on Linux {board.kernel.version_text}: "
                    "dma_alloc_coherent() and the generated helper take no alignment; they align to "
                    "get_order(size), at most CONFIG_CMA_ALIGNMENT in a CMA area",
                    hint="remove `align`; it is the 2010 cma_alloc() API's",
                )


@rule("region-type", E, "a region that is both `reusable` and `no_map`")
def region_type(board: Board) -> Iterable[Diagnostic]:
    for region in board.regions:
        if region.reusable and region.no_map:
            # kernel/dma/contiguous.c refuses no-map, kernel/dma/coherent.c refuses reusable:
            # no handler claims it and device init fails with -EINVAL.
            yield _err(
                board,
                "region-type",
                region.pointer + "/no_map",
                f"region `{region.name}` is both reusable and no_map: the CMA handler refuses no-map, "
                "the coherent-pool handler refuses reusable, so no device can use it",
                hint="reusable for a CMA area, no_map for a carve-out / coherent pool",
            )


@rule("region-placement", E, "a dynamic region given both `bank` and `alloc_ranges`, or an unknown bank")
def region_placement(board: Board) -> Iterable[Diagnostic]:
    names = {b.name for b in board.banks}
    for region in board.regions:
        if region.bank is not None and region.bank not in names:
            yield _err(
                board,
                "region-placement",
                region.pointer + "/bank",
                f"region `{region.name}` names bank `{region.bank}`, which is not defined",
                hint="banks: " + ", ".join(sorted(names)),
            )
        elif region.bank is not None and region.alloc_ranges:
            yield _err(
                board,
                "region-placement",
                region.pointer + "/alloc_ranges",
                f"region `{region.name}` gives both `bank` and `alloc_ranges`; `bank` is shorthand "
                "for an alloc range covering the bank: give one",
            )


@rule("static-ignores", W, "`alignment` or `alloc_ranges` on a fixed region (the kernel ignores them)")
def static_ignores(board: Board) -> Iterable[Diagnostic]:
    for region in board.regions:
        if region.start is None:
            continue
        for key, present in (("alignment", region.alignment is not None), ("alloc_ranges", bool(region.alloc_ranges))):
            if present:
                # of_reserved_mem.c: a node with `reg` is reserved as is; `alignment` and
                # `alloc-ranges` apply to dynamic (`size`) nodes only.
                yield _warn(
                    board,
                    "static-ignores",
                    f"{region.pointer}/{key}",
                    f"region `{region.name}` has a fixed start; the kernel ignores `{key}` with `reg`",
                )


def _ram(board: Board) -> tuple[int, int]:
    return min(b.base for b in board.banks), max(b.end for b in board.banks)


def _bank_holding(board: Board, start: int, end: int) -> str | None:
    for bank in board.banks:
        if bank.base <= start and end <= bank.end:
            return bank.name
    return None


@rule("region-in-bank", E, "a fixed CMA region outside RAM or across a bank edge; a region outside its `bank`; a region larger than its bank",
      needs=("region-placement", "bank-overlap"))
def region_in_bank(board: Board) -> Iterable[Diagnostic]:
    for region in board.regions:
        if region.start is not None and region.end is not None:
            yield from _fixed_in_bank(board, region, region.start, region.end)
        elif region.bank is not None:
            bank = board.bank(region.bank)
            if bank is not None and region.size > bank.size:
                yield _err(
                    board,
                    "region-in-bank",
                    region.pointer + "/size",
                    f"region `{region.name}` ({fmt_size(region.size)}) is larger than its bank "
                    f"`{bank.name}` ({fmt_size(bank.size)})",
                )


def _fixed_in_bank(board: Board, region: Region, start: int, end: int) -> Iterable[Diagnostic]:
    holder = _bank_holding(board, start, end)
    if holder is not None:
        if region.bank is not None and holder != region.bank:
            yield _err(
                board,
                "region-in-bank",
                region.pointer + "/start",
                f"region `{region.name}` ({fmt_span(start, region.size)}) is in bank `{holder}`, "
                f"not in its bank `{region.bank}`",
            )
        return
    touched = [b for b in board.banks if b.base < end and start < b.end]
    if region.kind != "cma" and not touched and region.bank is None:
        # A carve-out in a hole of /memory is how boards keep firmware memory (hi6220-hikey's
        # ramoops): memblock reserves it and the driver maps it itself. Only CMA needs RAM.
        return
    where = (
        f"crosses the edge of bank `{touched[0].name}` ({fmt_range(touched[0].base, touched[0].end)})"
        if touched
        else "lies outside every memory bank"
    )
    why = (
        ": a CMA area must be RAM the page allocator manages, or the kernel cannot activate it"
        if region.kind == "cma"
        else ""
    )
    yield _err(
        board,
        "region-in-bank",
        region.pointer + "/start",
        f"region `{region.name}` ({fmt_span(start, region.size)}) {where}{why}",
    )


@rule("region-overlap", E, "a no-map region over memory reserved before it: the kernel refuses it (-EBUSY)")
def region_overlap(board: Board) -> Iterable[Diagnostic]:
    """drivers/of/fdt.c early_init_dt_reserve_memory() (6.12): a `no-map` range is refused where
    it overlaps memory already *reserved* (occupied ranges, static nodes earlier in the tree that
    are not no-map); no-map ranges are only marked, so two of them overlap without complaint, and
    memblock_reserve() of a range that overlaps anything succeeds (region-overlap-accepted)."""
    for region, other, shared in _overlaps(board):
        if region.no_map and other[2]:
            yield _err(
                board, "region-overlap", region.pointer + "/start",
                f"no-map region `{region.name}` ({shared} shared) overlaps {other[0]}, reserved before it: "
                "early_init_dt_reserve_memory() refuses it (-EBUSY), the kernel prints \"failed to reserve memory "
                f"for node '{region.node_name or region.name.replace('_', '-')}'\" and the region does not exist",
                hint="move one of the two so that they do not meet, or drop `no_map` if sharing the range is meant")


@rule("region-overlap-accepted", W, "fixed regions that overlap where the kernel accepts both")
def region_overlap_accepted(board: Board) -> Iterable[Diagnostic]:
    for region, other, shared in _overlaps(board):
        if region.no_map and other[2]:
            continue  # region-overlap
        cma = " (CMA then hands that memory to the page allocator)" if region.reusable else ""
        yield _warn(
            board, "region-overlap-accepted", region.pointer + "/start",
            f"region `{region.name}` ({shared} shared) overlaps {other[0]}: the kernel accepts both and only "
            f"logs \"OVERLAP DETECTED!\"{cma}",
            hint="move one of the two so that they do not meet, or describe the shared range once")


def _where(board: Board, pointer: str) -> str:
    """`line N` in the board file, `file:N` in an include: where the other party of a finding is."""
    span = board.source.value(pointer)
    top = board.source.value("").file
    return f"line {span.line}" if span.file == top else f"{span.file}:{span.line}"


def _overlaps(board: Board) -> Iterator[tuple[Region, tuple[str, str, bool], str]]:
    """(region, (what it overlaps, pointer, whether that was reserved), shared range) for every
    fixed device-tree region that overlaps an occupied range or an earlier fixed region, in the
    order the kernel meets them (occupied first, then the tree's order, which is the board's)."""
    earlier: list[tuple[int, int, tuple[str, str, bool]]] = [
        (o.start, o.end, (f"occupied range `{o.name or fmt_addr(o.start)}` ({_where(board, o.pointer)})",
                          o.pointer, not o.no_map)) for o in board.occupied]
    for region in board.regions:
        if region.start is None or "devicetree" not in region.via:
            continue
        start, end = region.start, region.start + region.size
        for other_start, other_end, other in earlier:
            if other_start < end and start < other_end:
                # `start..last`, as resolve and the kernel's boot log write ranges
                yield region, other, f"{fmt_addr(max(start, other_start))}..{fmt_addr(min(end, other_end) - 1)}"
        earlier.append((start, end, (f"region `{region.name}` ({_where(board, region.pointer)})", region.pointer,
                                     not region.no_map)))


@rule("default-not-reusable", E, "`default` on a region that is not reusable (CMA)")
def default_not_reusable(board: Board) -> Iterable[Diagnostic]:
    for region in board.regions:
        if region.default and not region.reusable:
            yield _err(
                board,
                "default-not-reusable",
                region.pointer + "/default",
                f"region `{region.name}` is the default CMA area but is not reusable; "
                "linux,cma-default only works on a reusable shared-dma-pool",
                hint="add `reusable: true`",
            )


@rule("default-multiple", E, "more than one default region")
def default_multiple(board: Board) -> Iterable[Diagnostic]:
    defaults = [r for r in board.regions if r.default]
    if len(defaults) > 1 and not any("cmdline" in r.via for r in defaults):
        first = defaults[0]
        for other in defaults[1:]:
            yield _err(
                board,
                "default-multiple",
                other.pointer + "/default",
                f"region `{other.name}` is a second default CMA area (`{first.name}` is one); "
                "the kernel keeps one and ignores the other",
            )


@rule("cmdline-not-default", E, "`via: cmdline` on a region that is not the default area")
def cmdline_not_default(board: Board) -> Iterable[Diagnostic]:
    for region in board.regions:
        if "cmdline" in region.via and not region.default:
            yield _err(
                board,
                "cmdline-not-default",
                region.pointer + "/via",
                f"region `{region.name}` is reserved by the command line, but `cma=` creates only "
                "the default CMA area",
                hint="add `default: true`, or reserve it in the device tree",
            )


@rule("cmdline-default-conflict", E, "a `cma=` default area together with a device-tree default node")
def cmdline_default_conflict(board: Board) -> Iterable[Diagnostic]:
    cmdline = [r for r in board.regions if "cmdline" in r.via and r.default]
    tree = [r for r in board.regions if r.default and "cmdline" not in r.via]
    if cmdline and tree:
        yield _err(
            board,
            "cmdline-default-conflict",
            cmdline[0].pointer + "/via",
            f"region `{cmdline[0].name}` is the default area from `cma=`, and `{tree[0].name}` is a "
            "linux,cma-default node: with `cma=` on the command line the kernel skips that node and "
            "frees its memory",
            hint="keep one default area",
        )


@rule("via-twice", E, "a region reserved by more than one of devicetree, platform, cmdline")
def via_twice(board: Board) -> Iterable[Diagnostic]:
    for region in board.regions:
        if len(region.via) > 1:
            yield _err(
                board,
                "via-twice",
                region.pointer + "/via",
                f"region `{region.name}` is reserved by {' and '.join(region.via)}: each would "
                "reserve its own copy of the memory",
                hint="choose exactly one `via`",
            )


@rule("via-platform-arch", E, "`via: platform` on arm64 (only ARM32 machines have `.reserve` code)")
def via_platform_arch(board: Board) -> Iterable[Diagnostic]:
    if board.kernel.arch != "arm":
        for region in board.regions:
            if "platform" in region.via:
                yield _err(
                    board,
                    "via-platform-arch",
                    region.pointer + "/via",
                    f"region `{region.name}` is reserved by platform code, but arm64 has no machine "
                    "`.reserve` hook",
                    hint="reserve it in the device tree (`via: devicetree`)",
                )


def _round_choices(value: int, step: int) -> str:
    down = value // step * step
    up = down + step
    return f"{fmt_size(down)} or {fmt_size(up)}" if down else fmt_size(up)


@rule("cma-min-alignment", E, "a CMA region whose start or size breaks the kernel's CMA minimum alignment", needs=("region-type",))
def cma_min_alignment(board: Board) -> Iterable[Diagnostic]:
    align = k.cma_min_alignment(board.kernel)
    for region in board.regions:
        if region.kind != "cma":
            continue
        platform = "platform" in region.via or "cmdline" in region.via
        if region.start is not None and region.start % align.size:
            yield _err(
                board,
                "cma-min-alignment",
                region.pointer + "/start",
                f"reusable region `{region.name}` starts at {fmt_addr(region.start)}, not a multiple "
                f"of {fmt_size(align.size)}, the CMA minimum alignment on {align.why}: "
                + ("cma_declare_contiguous_nid() refuses a misaligned fixed base (-EINVAL)" if platform
                   else "rmem_cma_setup() refuses it and the kernel frees the region at boot"),
                hint=f"start at {fmt_addr(region.start // align.size * align.size)} or "
                f"{fmt_addr((region.start // align.size + 1) * align.size)}",
            )
        if region.size % align.size and not platform:
            yield _err(
                board,
                "cma-min-alignment",
                region.pointer + "/size",
                f"reusable region `{region.name}` is {fmt_size(region.size)}; a CMA area must be a multiple "
                f"of {fmt_size(align.size)} on {align.why}: rmem_cma_setup() fails and the kernel frees it at boot",
                hint=f"use {_round_choices(region.size, align.size)} (or declare the kernel's huge-page "
                "configuration in kernel.config if it has one)",
            )


@rule("cma-areas", E, "more CMA areas than CONFIG_CMA_AREAS allows (the default area counts)")
def cma_areas(board: Board) -> Iterable[Diagnostic]:
    # Slots are taken in boot order (arch/arm/mm/init.c arm_memblock_init): the machine's
    # `.reserve` code, then the device-tree scan, then dma_contiguous_reserve()'s default area.
    cma = sorted(
        (r for r in board.regions if r.kind == "cma" and "cmdline" not in r.via),
        key=lambda r: 0 if "platform" in r.via else 1,
    )
    late_default = k.makes_default_area(
        board.kernel,
        cmdline=any(r.default and "cmdline" in r.via for r in board.regions),
        dt_default=any(r.default for r in board.regions),
        memory_bytes=sum(b.size for b in board.banks))
    limit = k.max_cma_areas(board.kernel)
    count = len(cma) + (1 if late_default else 0)
    if count <= limit:
        return
    fix = f"raise CONFIG_CMA_AREAS to {count if board.kernel.version >= (6, 9) else count - 1}, or merge regions"
    if len(cma) > limit:
        over = cma[limit]
        yield _err(
            board,
            "cma-areas",
            over.pointer + "/name",
            f"{count} CMA areas but this kernel has {limit} slots (MAX_CMA_AREAS): from `{over.name}` on "
            "the kernel prints \"Not enough slots for CMA reserved regions!\" and creates none of them",
            hint=fix,
        )
        return
    yield _err(
        board,
        "cma-areas",
        cma[-1].pointer + "/name",
        f"{len(cma)} CMA area{'s fill' if len(cma) != 1 else ' fills'} this kernel's {limit} "
        f"slot{'s' * (limit != 1)} (MAX_CMA_AREAS), so the default area "
        "(`cma=`, or Kconfig's CONFIG_CMA_SIZE_*), reserved last, gets none and devices without their own area "
        "have no CMA",
        hint=fix + ", or make one region the default (`default: true`)",
    )


@rule("reserved-regions-limit", E, "more reserved-memory nodes than MAX_RESERVED_REGIONS for the kernel version")
def reserved_regions_limit(board: Board) -> Iterable[Diagnostic]:
    limit, counted = k.max_reserved_regions(board.kernel)
    tree = [r for r in board.regions if "devicetree" in r.via]
    nodes = [r for r in tree if counted == "all" or r.start is None]
    if len(nodes) > limit:
        over = nodes[limit]
        what = "dynamic (size-only) nodes" if counted == "dynamic" else "reserved-memory nodes"
        yield _err(
            board,
            "reserved-regions-limit",
            over.pointer + "/name",
            f"{len(nodes)} {what}, but kernel {board.kernel.version_text} keeps at most {limit}: from "
            f"`{over.name}` on it prints \"not enough space for all defined regions\" and drops them",
        )


@rule("coherent-needs-nomap", E, "an ARM32 coherent pool without `no_map` (the kernel refuses it)")
def coherent_needs_nomap(board: Board) -> Iterable[Diagnostic]:
    if board.kernel.arch != "arm":
        return
    for region in board.regions:
        if region.kind == "coherent" and not region.no_map and not region.reusable:
            # kernel/dma/coherent.c rmem_dma_setup(): on ARM "Reserved memory: regions without
            # no-map are not yet supported" and -EINVAL.
            yield _err(
                board,
                "coherent-needs-nomap",
                region.pointer + "/name",
                f"region `{region.name}` is a coherent pool on ARM32 without no_map: "
                "rmem_dma_setup() refuses it and no device gets the pool",
                hint="add `no_map: true`",
            )


@rule("zone-straddle", E, "a CMA region across a zone limit (arm64 4 GiB, ARM32 lowmem); resolve checks placed ones", needs=("region-in-bank",))
def zone_straddle(board: Board) -> Iterable[Diagnostic]:
    low, high = _ram(board)
    for region in board.regions:
        if region.kind != "cma" or region.start is None or region.end is None:
            continue
        for limit, what in k.zone_limits(board.kernel, low, high):
            if region.start < limit < region.end:
                # mm/cma.c: a range spanning two zones cannot be activated; the pages go back
                # to the buddy allocator ("CMA area ... could not be activated").
                yield _err(
                    board,
                    "zone-straddle",
                    region.pointer + "/start",
                    f"reusable region `{region.name}` ({fmt_range(region.start, region.end)}) "
                    f"crosses {what} at {fmt_addr(limit)}: the kernel cannot activate a CMA area "
                    "spanning two zones and returns its pages",
                    hint=f"end it at or below {fmt_addr(limit)} or start it at or above",
                )


@rule("private-unknown-device", E, "`private_to` names a device that is not defined")
def private_unknown_device(board: Board) -> Iterable[Diagnostic]:
    names = {d.name for d in board.devices}
    for region in board.regions:
        for index, name in enumerate(region.private_to):
            if name not in names:
                # `private_to: dev` is one string, `private_to: [a, b]` a list: point at the name.
                item = f"{region.pointer}/private_to/{index}"
                pointer = item if item in board.source.places else f"{region.pointer}/private_to"
                yield _err(
                    board,
                    "private-unknown-device",
                    pointer,
                    f"region `{region.name}` is private to `{name}`, which is not a device",
                )


@rule("map-unknown-region", E, "a map rule naming a region that is not defined")
def map_unknown_region(board: Board) -> Iterable[Diagnostic]:
    names = {r.name for r in board.regions} | {"system"}
    for map_rule in board.rules:
        for index, name in enumerate(map_rule.regions):
            if name not in names:
                pointer = f"{map_rule.pointer}/regions/{index}" if map_rule.pointer.startswith("/map") else map_rule.pointer
                span = board.source.value(pointer) if map_rule.pointer.startswith("/map") else map_rule.regions_span
                yield error(
                    "map-unknown-region",
                    f"map rule `{map_rule.text}` names region `{name}`, which is not defined",
                    span,
                    pointer,
                    hint="`system` names the page allocator; regions: " + ", ".join(sorted(names - {"system"})),
                )


@rule("map-unmatched-kind", E, "a device kind that no map rule matches")
def map_unmatched_kind(board: Board) -> Iterable[Diagnostic]:
    for device in board.devices:
        for index, kind in enumerate(device.kinds):
            if board.rule_index.first_match(device.name, kind) is None:
                yield _err(
                    board,
                    "map-unmatched-kind",
                    f"{device.pointer}/kinds/{index}",
                    f"no map rule matches `{device.name}/{kind}`: the driver would get no memory region",
                    hint=f"add a rule `{{match: {device.name}/{kind}, regions: [...]}}` or a catch-all `*/*`",
                )


@rule("map-shadowed", W, "a map rule that earlier rules shadow (it can never match)")
def map_shadowed(board: Board) -> Iterable[Diagnostic]:
    # Comparing every rule with every earlier one took 44 s for 9,000 rules (an 800 KB file)
    # and hours near the size limit. A pattern without `?` or `*` covers only the same literal
    # pattern (covers()), so earlier rules are filed by their literal parts and a later rule is
    # compared with the few that could cover it; the first in board order is the one named.
    exact: dict[tuple[str, str], int] = {}  # literal device and kind -> first such rule
    by_device: dict[str, list[int]] = {}  # literal device, wildcard kind
    general: list[int] = []  # wildcard device
    rules = board.rules
    for index, later in enumerate(rules):
        device_literal, kind_literal = _literal(later.device), _literal(later.kind)
        first = exact.get((later.device, later.kind), index) if device_literal and kind_literal else index
        for candidates in (by_device.get(later.device, ()) if device_literal else (), general):
            for i in candidates:
                if i >= first:
                    break
                if covers(rules[i].device, later.device) and covers(rules[i].kind, later.kind):
                    first = i
                    break
        if not device_literal:
            general.append(index)
        elif not kind_literal:
            by_device.setdefault(later.device, []).append(index)
        else:
            exact.setdefault((later.device, later.kind), index)
        if first < index:
            earlier = rules[first]
            yield warning(
                "map-shadowed",
                f"map rule `{later.text}` never matches: `{earlier.text}` comes first and matches "
                "everything it would",
                later.span,
                later.pointer,
                hint="the first matching rule wins: move the more specific rule up",
            )


def _literal(pattern: str) -> bool:
    return "?" not in pattern and "*" not in pattern


@rule("map-duplicate-region", W, "a fallback chain that names one region twice")
def map_duplicate_region(board: Board) -> Iterable[Diagnostic]:
    for map_rule in board.rules:
        seen: set[str] = set()
        offset = 0
        for index, name in enumerate(map_rule.regions):
            if name in seen:
                if map_rule.pointer.startswith("/map"):
                    pointer = f"{map_rule.pointer}/regions/{index}"
                    span = board.source.value(pointer)
                else:
                    pointer, base = map_rule.pointer, map_rule.regions_span
                    span = type(base)(base.file, base.line, base.col + offset)
                yield warning(
                    "map-duplicate-region",
                    f"map rule `{map_rule.text}` lists region `{name}` twice; the second try can only fail again",
                    span,
                    pointer,
                )
                break
            seen.add(name)
            offset += len(name) + 1


@rule("private-region-shared", E, "a private region that a map rule offers to another device", needs=("map-unknown-region", "private-unknown-device"))
def private_region_shared(board: Board) -> Iterable[Diagnostic]:
    private = {r.name: r for r in board.regions if r.private_to}
    for device, index, kind, regions, _pointer in _chains(board):
        for name in regions:
            region = private.get(name)
            if region is not None and device.name not in region.private_to:
                yield _err(
                    board,
                    "private-region-shared",
                    f"{device.pointer}/kinds/{index}",
                    f"`{device.name}/{kind}` is mapped to region `{name}`, which is private to "
                    f"{', '.join(region.private_to)}",
                    hint="narrow the map rule's pattern, or add the device to `private_to`",
                )


@rule("dma-reach", E, "a region beyond the DMA mask of a device mapped to it; resolve checks placed ones",
      needs=("map-unknown-region", "region-placement"))
def dma_reach(board: Board) -> Iterable[Diagnostic]:
    for device, index, kind, regions, _pointer in _chains(board):
        limit = device.dma_limit
        for name in regions:
            region = board.region(name)
            if region is None:
                continue
            lowest = _lowest_possible_start(board, region)
            if lowest is not None and lowest + region.size > limit:
                where = (
                    f"ends at {fmt_addr(region.start + region.size)}"
                    if region.start is not None
                    else f"can start no lower than {fmt_addr(lowest)} (its bank or alloc ranges), so it ends"
                    f" at or above {fmt_addr(lowest + region.size)}"
                )
                where += f", beyond the device's {device.reach_text}"
            elif region.start is not None and region.start < device.dma_floor:
                where = f"starts at {fmt_addr(region.start)}, below the device's window: {device.reach_text}"
            elif region.start is not None and not device.reaches(region.start, region.start + region.size):
                where = (f"lies at {fmt_range(region.start, region.start + region.size)}, outside the "
                         f"device's reach: {device.reach_text}")
            else:
                continue
            yield _err(
                board,
                "dma-reach",
                f"{device.pointer}/kinds/{index}",
                f"`{device.name}/{kind}` uses region `{name}`, which {where}",
                hint="keep the region below the mask (start, bank or alloc_ranges) or widen dma_mask_bits",
            )


def _lowest_possible_start(board: Board, region: Region) -> int | None:
    """The lowest address the region could start at: exact for fixed regions, the bank or
    alloc-range start for constrained dynamic ones; None when placement decides (resolve)."""
    if region.start is not None:
        return region.start
    if region.bank is not None:
        bank = board.bank(region.bank)
        return bank.base if bank else None
    if region.alloc_ranges:
        return min(r.start for r in region.alloc_ranges)
    return None


@rule("cma-size-rounded", W, "a CMA area declared by platform code or `cma=` whose size the kernel rounds up",
      needs=("region-type",))
def cma_size_rounded(board: Board) -> Iterable[Diagnostic]:
    align = k.cma_min_alignment(board.kernel)
    for region in board.regions:
        if region.kind == "cma" and ("platform" in region.via or "cmdline" in region.via) and region.size % align.size:
            # mm/cma.c rounds the size up for cma_declare_contiguous*(): memory is lost, not refused.
            yield _warn(
                board,
                "cma-size-rounded",
                region.pointer + "/size",
                f"reusable region `{region.name}` is {fmt_size(region.size)}; the kernel rounds it up to "
                f"{fmt_size(-(-region.size // align.size) * align.size)} (CMA minimum alignment "
                f"{fmt_size(align.size)} on {align.why})",
                hint=f"use {_round_choices(region.size, align.size)}",
            )


@rule("fallback-undeliverable", W, "a fallback chain the device's delivery cannot honour (uses: devicetree)",
      needs=("map-unknown-region", "map-duplicate-region"))
def fallback_undeliverable(board: Board) -> Iterable[Diagnostic]:
    if k.cma_2010(board.kernel):
        return  # the 2010 cma_alloc() walks the device's region list itself
    for device, index, kind, regions, _pointer in _chains(board):
        if device.uses == "devicetree" and len(regions) > 1:
            yield _warn(
                board,
                "fallback-undeliverable",
                f"{device.pointer}/kinds/{index}",
                f"`{device.name}/{kind}` maps to {', '.join(regions)}, but with `uses: devicetree` the "
                f"device holds one memory-region: only `{regions[0]}` is used, and on failure the kernel "
                "falls back to the page allocator, not to the next region",
                hint="set `uses: helper` to have the generated helper walk the chain",
            )


@rule("region-unused", W, "a CMA area or coherent pool that no device maps to and that is not the default", needs=("map-unknown-region",))
def region_unused(board: Board) -> Iterable[Diagnostic]:
    used = {name for r in board.rules for name in r.regions}
    for region in board.regions:
        if region.kind != "plain" and not region.default and region.name not in used:
            yield _warn(
                board,
                "region-unused",
                region.pointer + "/name",
                f"region `{region.name}` ({fmt_size(region.size)}) is reserved but no map rule offers it to a device",
            )


@rule("exclusive-single", W, "an exclusive group with a single scenario")
def exclusive_single(board: Board) -> Iterable[Diagnostic]:
    groups = Counter(s.exclusive for s in board.scenarios if s.exclusive)
    for scenario in board.scenarios:
        if scenario.exclusive and groups[scenario.exclusive] == 1:
            yield _warn(
                board,
                "exclusive-single",
                scenario.pointer + "/exclusive",
                f"scenario `{scenario.name}` is the only one in exclusive group `{scenario.exclusive}`; "
                "a group matters only when scenarios share it",
            )


@rule("scenario-unknown-device", E, "a scenario step naming a device that is not defined")
def scenario_unknown_device(board: Board) -> Iterable[Diagnostic]:
    names = {d.name for d in board.devices}
    for scenario in board.scenarios:
        users = [s for s in scenario.steps if isinstance(s, Alloc)]
        targets = [(s.device, s.pointer) for s in users]
        if scenario.churn:
            targets.append((scenario.churn.device, scenario.churn.pointer))
        for name, pointer in targets:
            if name not in names:
                yield _err(
                    board,
                    "scenario-unknown-device",
                    pointer + "/device",
                    f"scenario `{scenario.name}` uses device `{name}`, which is not defined",
                )


@rule("scenario-unknown-kind", E, "a scenario step naming a kind its device does not have", needs=("scenario-unknown-device",))
def scenario_unknown_kind(board: Board) -> Iterable[Diagnostic]:
    for scenario in board.scenarios:
        for step in scenario.steps:
            if not isinstance(step, Alloc):
                continue
            device = board.device(step.device)
            if device is None:
                continue
            wanted: list[tuple[str, str]] = []
            if step.kind is not None:
                wanted.append((step.kind, step.pointer + "/kind"))
            if step.buffer is not None:
                wanted.extend((p, f"{step.pointer}/buffer/planes/{i}") for i, p in enumerate(step.buffer.planes))
            if not wanted and len(device.kinds) > 1:
                yield _err(
                    board,
                    "scenario-unknown-kind",
                    step.pointer + "/device",
                    f"device `{device.name}` has kinds {', '.join(device.kinds)}: say which one with `kind:`",
                )
            for kind, pointer in wanted:
                if kind not in device.kinds:
                    yield _err(
                        board,
                        "scenario-unknown-kind",
                        pointer,
                        f"device `{device.name}` has no kind `{kind}` (it has {', '.join(device.kinds)})",
                    )
        churn = scenario.churn
        if churn is not None:
            device = board.device(churn.device)
            if device is not None and churn.kind not in device.kinds:
                yield _err(
                    board,
                    "scenario-unknown-kind",
                    churn.pointer + "/kind",
                    f"device `{device.name}` has no kind `{churn.kind}` (it has {', '.join(device.kinds)})",
                )


@rule("buffer-planes", E, "a buffer whose planes go to more kinds than its format allows")
def buffer_planes(board: Board) -> Iterable[Diagnostic]:
    for scenario in board.scenarios:
        for step in scenario.steps:
            if not isinstance(step, Alloc) or step.buffer is None or len(step.buffer.planes) < 2:
                continue
            from dtgen.simulate.formats import SEPARABLE, planes  # only boards that split planes pay

            fmt = step.buffer.format
            count = len(planes(fmt, step.buffer.width, step.buffer.height))
            if fmt not in SEPARABLE and len(set(step.buffer.planes)) > 1:
                yield _err(
                    board,
                    "buffer-planes",
                    step.pointer + "/buffer/planes/1",
                    f"{fmt} is a single-buffer format: its planes follow each other in one allocation "
                    "(V4L2), so they cannot go to different kinds",
                    hint="list one kind, or use a multi-planar format such as NV12MT",
                )
            elif len(step.buffer.planes) > count:
                yield _err(
                    board,
                    "buffer-planes",
                    f"{step.pointer}/buffer/planes/{count}",
                    f"{fmt} has {count} planes, but {len(step.buffer.planes)} kinds are listed",
                )


@rule("scenario-pin", E, "a pin step on a region that is not a CMA area, or past its end")
def scenario_pin(board: Board) -> Iterable[Diagnostic]:
    for scenario in board.scenarios:
        for step in scenario.steps:
            if not isinstance(step, Pin):
                continue
            region = board.region(step.region)
            if region is None or region.kind != "cma" or k.cma_2010(board.kernel):
                what = "not defined" if region is None else "not a mainline CMA area"
                yield _err(
                    board,
                    "scenario-pin",
                    step.pointer + "/region",
                    f"scenario `{scenario.name}` pins pages of `{step.region}`, which is {what}: only CMA "
                    "areas migrate pages out of the way (alloc_contig_range()), so only they can meet a pinned one",
                )
            elif step.offset + step.size > region.size:
                yield _err(
                    board,
                    "scenario-pin",
                    step.pointer + "/size",
                    f"scenario `{scenario.name}` pins {fmt_size(step.size)} at offset {fmt_addr(step.offset)}, past the "
                    f"end of `{region.name}` ({fmt_size(region.size)})",
                )


@rule("scenario-free-unknown", E, "a scenario freeing what it never allocated, or freeing it twice")
def scenario_free_unknown(board: Board) -> Iterable[Diagnostic]:
    for scenario in board.scenarios:
        live: set[str] = set()
        freed: set[str] = set()
        for step in scenario.steps:
            if isinstance(step, Alloc) and step.name:
                live.add(step.name)
                freed.discard(step.name)
            elif isinstance(step, Free):
                if step.name in live:
                    live.remove(step.name)
                    freed.add(step.name)
                    continue
                why = "was already freed" if step.name in freed else "was never allocated (`as:` names an allocation)"
                yield _err(
                    board,
                    "scenario-free-unknown",
                    step.pointer + "/free",
                    f"scenario `{scenario.name}` frees `{step.name}`, which {why}",
                )
