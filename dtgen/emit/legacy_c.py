"""The 2010 CMA patch's platform C, and the kernel command lines (docs/kernel-research.md 12.4, docs/cmdline.md).

- v1 (Jul 2010): cma_defaults(cma, cma_map), two strings in the command-line grammar, used
  when the command line gives none; then cma_regions_allocate(NULL).
- v2 (Jul 2010, the seed thread's Aquila board): cma_set_defaults(regions, map, asterisk), all
  strings; then cma_early_regions_reserve(NULL).
- v3-v6 (Aug-Nov 2010): cma_set_defaults(regions, map) with a `struct cma_region` array
  ending with `{ }`; then cma_early_regions_reserve(NULL).

The strings (region list and map) are dtgen.emit.cmdline's, which translates the board's rules to
the chosen version's matching rules and enforces its limits; what cannot be expressed is a
`legacy-unexpressible` error at the rule or region.
"""

from __future__ import annotations

from dataclasses import dataclass

from dtgen import kernel as k
from dtgen.emit import cmdline as cl
from dtgen.diagnostics import Diagnostic, error
from dtgen.emit.dts import where
from dtgen.emit.platform_c import prefix_of
from dtgen.emit.templating import c_ident
from dtgen.model import Board, Layout


@dataclass(frozen=True)
class LegacyRegion:
    name: str
    ident: str
    source: str
    description: str
    size: int
    start: int | None
    alignment: int
    allocator: str | None


@dataclass(frozen=True)
class LegacyC:
    board: str
    origin: str
    prefix: str
    version: str
    patch: str
    regions_text: str  # the region string (v1, v2)
    map_text: str
    regions: tuple[LegacyRegion, ...]  # the region array (v3-v6)

    # What differs between the patch versions, decided here rather than in legacy.c.j2, which
    # users may override (--templates) and would otherwise have to copy these choices.
    @property
    def regions_as_string(self) -> bool:
        """v1 and v2 take the regions in the command-line grammar; v3-v6 as a struct array."""
        return self.patch in ("v1", "v2")

    @property
    def defaults_function(self) -> str:
        return "cma_defaults" if self.patch == "v1" else "cma_set_defaults"

    @property
    def defaults_call(self) -> str:
        """v1: cma_defaults(regions, map); v2: cma_set_defaults(regions, map, asterisk);
        v3-v6: cma_set_defaults(regions, map)."""
        args = f"{self.prefix}_cma_regions, {self.prefix}_cma_map" + (", NULL" if self.patch == "v2" else "")
        return f"{self.defaults_function}({args})"

    @property
    def defaults_note(self) -> str:
        return "Used when the command line gives no cma= / cma_map= of its own." if self.patch == "v1" else ""

    @property
    def reserve_function(self) -> str:
        """v1 allocates with cma_regions_allocate(), which returns an error; v2-v6 reserve with
        cma_early_regions_reserve(), which returns nothing."""
        return "cma_regions_allocate" if self.patch == "v1" else "cma_early_regions_reserve"

    @property
    def reserve_returns(self) -> bool:
        return self.patch == "v1"


@dataclass(frozen=True)
class CommandLine:
    board: str
    origin: str
    version: str
    line: str
    syntax: str  # what `dtgen cmdline parse --syntax` reads it with
    notes: tuple[str, ...]


def _problems(board: Board, problems: object) -> list[Diagnostic]:
    out = []
    for p in problems:  # type: ignore[attr-defined]
        out.append(error("legacy-unexpressible", p.message, board.source.value(p.pointer), p.pointer))
    return out


def legacy_c(board: Board, layout: Layout, origin: str) -> tuple[LegacyC, list[Diagnostic]]:
    patch = board.kernel.cma_patch
    regions_text, p1 = cl.legacy_regions(board, layout, patch)
    map_text, p2 = cl.legacy_map(board, patch)
    found = _problems(board, [*p1, *p2])
    regions = []
    for region in board.regions:
        if region.via[0] != "platform":
            continue
        placed = layout.placement(region.name)
        # The patch has no placement window: a region kept in a bank or alloc range gets the
        # start resolve gave it.
        kept = region.bank is not None or bool(region.alloc_ranges)
        start = region.start if region.start is not None else (placed.start if kept and placed else None)
        regions.append(LegacyRegion(region.name, c_ident(region.name), where(board, region.pointer, origin),
                                    region.description, region.size, start, region.alignment or 0, region.allocator))
    code = LegacyC(board.name, origin.replace("\\", "/").rsplit("/", 1)[-1], prefix_of(board),
                   board.kernel.version_text, patch, regions_text, map_text, tuple(regions))
    return code, found


def cmdline(board: Board, layout: Layout, origin: str) -> tuple[CommandLine, list[Diagnostic]]:
    name = origin.replace("\\", "/").rsplit("/", 1)[-1]
    if k.cma_2010(board.kernel):
        patch = board.kernel.cma_patch
        line, problems = cl.legacy_cmdline(board, layout, patch)
        notes: tuple[str, ...] = ()
        if patch == "v2":
            notes = ("v2 reads only `cma=` from the command line; its map is set through "
                     "/sys/kernel/mm/contiguous/map or the platform's cma_set_defaults()",)
        return (CommandLine(board.name, name, board.kernel.version_text, line, cl.syntax_of(patch), notes),
                _problems(board, problems))
    line = cl.mainline_cma(board, layout) or ""
    return CommandLine(board.name, name, board.kernel.version_text, line, "mainline", ()), []
