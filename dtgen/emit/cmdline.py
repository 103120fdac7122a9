"""Kernel command lines for CMA written: the mainline `cma=` of a board's default area, and the
2010 patch set's `cma=` regions and `cma_map=`/`cma.map=` rules (dtgen/cmdline.py reads all three;
docs/cmdline.md has the grammars, the limits and the sources). The board's own values are
written, so that parsing what is written gives the values resolve places the regions with.
What a kernel cannot take is a Problem (a board pointer and why), which the emitters turn into
diagnostics. Pure: no I/O, no printing."""

from __future__ import annotations

from dataclasses import dataclass

from dtgen import kernel as k
from dtgen.cmdline import (
    LEGACY_ALLOCATORS,
    LEGACY_LIMIT,
    PATCHES,
    V1_BUFFER,
    V1_MAX_REGIONS,
    V1_MAX_RULES,
    V3_MAX_REGIONS,
    ordinal,
)
from dtgen.model import Board, Layout, Region, Rule
from dtgen.units import fmt_addr, fmt_size, is_power_of_two, memparse_text


@dataclass(frozen=True)
class Problem:
    """Something an emitter cannot write for this kernel: the JSON pointer of the board's region
    or rule (or `/kernel/version`, `/kernel/cma_patch`), and why. The caller turns problems into
    diagnostics."""

    pointer: str
    message: str


def syntax_of(patch: str) -> str:
    """The syntax that reads what `legacy_cmdline(..., patch)` writes."""
    _check_patch(patch)
    return "2010-v1" if patch == "v1" else "2010-v3"


# ---- emit: mainline ----------------------------------------------------------------------------


def mainline_cma(board: Board, layout: Layout | None = None) -> str | None:
    """The `cma=` parameter for the board's `default: true, via: cmdline` region, or None.

    `cma=SIZE` places it anywhere below the arch's DMA limit; `cma=SIZE@START` fixes it at the
    region's start; `cma=SIZE@START-END` keeps it in its first alloc range, or else its bank (a
    `cma=` range is one window: a second alloc range cannot be written). `layout` is not needed
    for mainline (the kernel places the area) and is accepted for symmetry with the 2010 emitters.
    """
    region = next((r for r in board.regions if r.default and "cmdline" in r.via), None)
    if region is None:
        return None
    size = memparse_text(region.size)
    if region.start is not None:
        return f"cma={size}@{memparse_text(region.start)}"
    window = _mainline_window(board, region)
    if window is None:
        return f"cma={size}"
    return f"cma={size}@{memparse_text(window[0])}-{memparse_text(window[1])}"


def _mainline_window(board: Board, region: Region) -> tuple[int, int] | None:
    windows = board.placement_windows(region)
    return (windows[0].start, windows[0].end) if windows else None


# ---- emit: the 2010 patch ----------------------------------------------------------------------


def _check_patch(patch: str) -> None:
    if patch not in PATCHES:
        raise ValueError(f"unknown 2010 patch version {patch!r}; one of {', '.join(PATCHES)}")


def _exact_types(patch: str) -> bool:
    """v4-v6 __cma_where_from(): the type is compared character for character."""
    return patch in ("v4", "v5", "v6")


def _kernel_problems(board: Board, patch: str) -> list[Problem]:
    if not k.cma_2010(board.kernel):
        return [Problem("/kernel/version", f"Linux {board.kernel.version_text} is not a 2010 CMA patch kernel "
                                           "(those are before 3.5); use `cma=` as mainline reads it")]
    return []


def legacy_regions(board: Board, layout: Layout, patch: str) -> tuple[str, list[Problem]]:
    """The 2010 regions string: the value of `cma=`, and what v1's cma_defaults() and v2's
    cma_set_defaults() take as a string (v3-v6 take a region array instead).

    The board's `via: platform` regions in board order. `@start` is the region's start, or for a
    region kept in a bank or alloc range, where resolve placed it: the 2010 patch knows no range
    constraint. v2/v3 mark every region `-` (not an asterisk region): dtgen gives a request no
    rule matches nothing, while v2/v3 would hand it the asterisk regions.
    """
    _check_patch(patch)
    problems = _kernel_problems(board, patch)
    items: list[str] = []
    platform = [r for r in board.regions if "platform" in r.via]
    most = V1_MAX_REGIONS if patch == "v1" else V3_MAX_REGIONS
    for index, region in enumerate(platform):
        text, found = _region_text(region, layout, patch)
        problems.extend(found)
        if index == most:
            problems.append(Problem(region.pointer, f"region `{region.name}` is the {ordinal(most + 1)} in `cma=`: "
                                                    f"{patch} takes at most {most} regions"))
        if patch == "v1" and _crosses_buffer(items, text):
            problems.append(Problem(region.pointer, f"`cma=` passes {V1_BUFFER - 1} characters at region "
                                                    f"`{region.name}`: v1 copies only that many into its buffer"))
        items.append(text)
    return ";".join(items), problems


def _crosses_buffer(items: list[str], text: str) -> bool:
    """Whether adding `text` makes the `;`-joined value pass v1's 511 usable characters."""
    before = len(";".join(items))
    return before < V1_BUFFER <= before + len(text) + (1 if items else 0)


def _region_text(region: Region, layout: Layout, patch: str) -> tuple[str, list[Problem]]:
    problems: list[Problem] = []
    start = region.start
    if start is None and (region.bank is not None or region.alloc_ranges):
        placed = layout.placement(region.name)
        if placed is None:
            problems.append(Problem(region.pointer, f"region `{region.name}` has no placement to write as `@start` "
                                                    "(resolve could not place it)"))
        else:
            start = placed.start
    text = ("-" if patch in ("v2", "v3") else "") + f"{region.name}={memparse_text(region.size)}"
    if start == 0:
        problems.append(Problem(region.pointer, f"region `{region.name}` starts at 0x0, which `cma=` cannot say: "
                                                "v1 reads `@0` as anywhere, v3-v5 refuse it"))
    elif start is not None:
        text += f"@{memparse_text(start)}"
    if region.alignment:
        if not is_power_of_two(region.alignment):
            problems.append(Problem(region.pointer, f"region `{region.name}`: alignment "
                                                    f"{fmt_addr(region.alignment)} is not a power of two"))
        text += f"/{memparse_text(region.alignment)}"
    if region.allocator is not None:
        if region.allocator not in LEGACY_ALLOCATORS:
            problems.append(Problem(region.pointer, f"allocator `{region.allocator}` of region `{region.name}` is "
                                                    "not a 2010 allocator (`bf`, `gen`)"))
        elif region.allocator == "gen" and patch != "v6":
            problems.append(Problem(region.pointer, f"allocator `gen` of region `{region.name}` exists only in v6; "
                                                    f"{patch} has `bf`"))
        text += f":{region.allocator}"
    end = region.size + (start or 0)
    if end >= LEGACY_LIMIT or (region.alignment or 0) >= LEGACY_LIMIT:
        problems.append(Problem(region.pointer, f"region `{region.name}` ({fmt_size(region.size)}"
                                                f"{'' if start is None else ' at ' + fmt_addr(start)}) does not fit "
                                                "in 32 bits, where the 2010 patch keeps sizes and addresses"))
    return text, problems


def legacy_map(board: Board, patch: str) -> tuple[str, list[Problem]]:
    """The 2010 map string: the value of `cma_map=` (v1) or `cma.map=` (v3-v5), and what
    cma_set_defaults() takes (v2-v6). One rule per dtgen rule, in board order.

    Patterns keep their meaning: v1-v3 match the kind with `?` and a final `*` as dtgen does; v4-v6
    compare the type exactly and let a pattern without `/type` match any type, so `dev/*` becomes
    `dev`, an exact kind stays, and any other kind pattern cannot be written. A rule that cannot be
    written (such a kind, `system`, or a region not reserved by the platform code) is left out
    and reported: later rules may then catch its requests.
    """
    _check_patch(patch)
    problems = _kernel_problems(board, patch)
    texts: list[str] = []
    for rule in board.rules:
        text, found = _rule_text(board, rule, patch)
        problems.extend(found)
        if text is None:
            continue
        if patch == "v1" and len(texts) == V1_MAX_RULES:
            problems.append(Problem(rule.pointer, f"map rule `{rule.text}` is the {ordinal(V1_MAX_RULES + 1)}: v1 "
                                                  f"takes at most {V1_MAX_RULES} map rules"))
        if patch == "v1" and _crosses_buffer(texts, text):
            problems.append(Problem(rule.pointer, f"`cma_map=` passes {V1_BUFFER - 1} characters at rule "
                                                  f"`{rule.text}`: v1 copies only that many into its buffer"))
        texts.append(text)
    return ";".join(texts), problems


def _rule_text(board: Board, rule: Rule, patch: str) -> tuple[str | None, list[Problem]]:
    problems: list[Problem] = []
    for name in rule.regions:
        region = board.region(name)
        if name == "system":
            problems.append(Problem(rule.pointer, f"map rule `{rule.text}` falls back to `system`, the page "
                                                  "allocator, which a 2010 map cannot name; rule left out"))
        elif region is None or "platform" not in region.via:
            via = "is not defined" if region is None else f"is reserved via {region.reserved_by}"
            problems.append(Problem(rule.pointer, f"map rule `{rule.text}` names region `{name}`, which {via}: a "
                                                  "2010 map names only `via: platform` regions; rule left out"))
    if _exact_types(patch):
        if rule.kind == "*":
            pattern = rule.device
        elif "?" in rule.kind or "*" in rule.kind:
            problems.append(Problem(rule.pointer, f"kind pattern `{rule.kind}` of map rule `{rule.text}` cannot be "
                                                  f"written for {patch}, which compares the type exactly (`?` and "
                                                  "`*` work only in the device part); rule left out"))
            pattern = ""
        else:
            pattern = f"{rule.device}/{rule.kind}"
    else:
        pattern = f"{rule.device}/{rule.kind}"
    if problems:
        return None, problems
    return f"{pattern}={','.join(rule.regions)}", problems


def cmdline_parameters(patch: str) -> tuple[str, ...]:
    """The CMA parameters the patch version reads from the command line: v1 `cma`, `cma_map`;
    v2 `cma` only (its map came from cma_set_defaults() or sysfs); v3-v5 `cma`, `cma.map`
    (with CONFIG_CMA_CMDLINE); v6 none (no command-line patch was posted with it)."""
    _check_patch(patch)
    return {"v1": ("cma", "cma_map"), "v2": ("cma",), "v6": ()}.get(patch, ("cma", "cma.map"))


def legacy_cmdline(board: Board, layout: Layout, patch: str) -> tuple[str, list[Problem]]:
    """The command-line parameters that give a 2010 kernel the board's regions (and map).

    v1: `cma=... cma_map=...`. v2: `cma=...` alone; the map stays with cma_set_defaults() in the
    platform code (or /sys/kernel/mm/contiguous/map), which is not a problem but the v2 design.
    v3-v5: `cma=... cma.map=...`. v6 reads no CMA parameters: the text is empty and the problem
    says so. An empty regions or map string leaves its parameter out.
    """
    names = cmdline_parameters(patch)
    if not names:
        return "", [*_kernel_problems(board, patch),
                    Problem("/kernel/cma_patch", "v6 reads no CMA command-line parameters (the last command-line "
                                                 "patch is RFCv5 4/9, 6 Sep 2010): the platform code's "
                                                 "cma_set_defaults() gives the regions and map")]
    regions, problems = legacy_regions(board, layout, patch)
    parts = [f"cma={regions}"] if regions else []
    if len(names) > 1:
        rules, more = legacy_map(board, patch)
        problems.extend(p for p in more if p not in problems)
        if rules:
            parts.append(f"{names[1]}={rules}")
    return " ".join(parts), problems
