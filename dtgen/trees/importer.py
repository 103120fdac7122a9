"""`dtgen import`: a board file from an existing device tree, the pipeline run backwards.

The tree's `/memory` gives the banks, `/memreserve/` and the reserved nodes that belong to
firmware give occupied ranges, the other `/reserved-memory` children give regions, and every node
with `memory-region` gives a device whose kinds are its `memory-region-names` (else region0..n)
and map rules in entry order. Each region `replaces` the node it came from, so `dtgen emit` of
the result, applied to the same base tree, gives back an equivalent `/reserved-memory` and
equivalent `memory-region` properties.

Which reserved nodes dtgen owns: every dynamic node (the kernel places it, so dtgen must model
the placement), every node a device names in `memory-region`, and every DMA pool
(`shared-dma-pool`, `reusable`, `linux,cma-default`). A static node that none of these is
(a secure-monitor carve-out, a ramoops buffer, a modem's rmtfs) is memory the board's plan
cannot move: it becomes an occupied range, and the base tree keeps its node.

The kernel facts this follows (docs/kernel-research.md 12.1, drivers/of/of_reserved_mem.c,
drivers/of/fdt.c of Linux 6.12):
- `/reserved-memory` needs `ranges` and the root's cell counts, or the kernel ignores the whole
  node ("unsupported node format, ignoring");
- `reg` wins over `size`; the kernel reserves every `reg` entry but records only the first;
- `size` must be exactly #size-cells long, `alignment` #address-cells long, else the node is
  refused ("invalid size property" / "invalid alignment property");
- `status = "disabled"` nodes are skipped; `/memory` is every root child with
  `device_type = "memory"`, using `linux,usable-memory` instead of `reg` when present.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

from dtgen.diagnostics import Diagnostic, Span, error, warning
from dtgen.model import DtNode, DtTree
from dtgen.text import one_line
from dtgen.units import memparse_text

if TYPE_CHECKING:
    from dtgen.trees.base import BaseTree

IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,30}$")
DEVNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$")
NODE_REF = re.compile(r"^(&[A-Za-z_][A-Za-z0-9_]*|/[A-Za-z0-9,._+@/-]*)$")
NODE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9,._+-]{0,30}$")
UNIT = re.compile(r"^[0-9a-zA-Z,._+-]{1,31}$")
COMPATIBLE = re.compile(r"^[a-z0-9][a-z0-9,._+-]*$")
PROP_NAME = re.compile(r"^[a-z0-9#][a-z0-9,._+#-]*$")
C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "bool true false asm typeof alignas alignof static_assert thread_local nullptr constexpr".split()
)
# What a region says through its own fields; anything else on the node goes to `properties`.
HANDLED = frozenset({"reg", "size", "alignment", "alloc-ranges", "reusable", "no-map", "linux,cma-default",
                     "compatible", "phandle", "linux,phandle", "name"})
# What a dynamic node's fields say and a static node's do not: on a static node the kernel ignores
# them (reg wins), and they go through as properties so the tree stays the same.
# The Kconfig values dtgen's placement and allocation rules read, as Linux 6.12's own defconfig for
# the architecture sets them (arm: multi_v7_defconfig, what Debian's armmp kernels start from;
# arm64: defconfig). A device tree does not say them; import writes them into the board file,
# marked as assumed, so that nothing is decided by a value the user cannot see. Held to the real
# `make <defconfig>` output by tests/test_import_realtools.py.
DEFCONFIG: dict[str, tuple[str, tuple[tuple[str, bool | int], ...]]] = {
    "arm": ("multi_v7_defconfig", (
        ("CONFIG_ARM_LPAE", False), ("CONFIG_HIGHMEM", True), ("CONFIG_VMSPLIT_3G", True),
        ("CONFIG_CMA_AREAS", 8), ("CONFIG_CMA_ALIGNMENT", 8), ("CONFIG_CMA_SIZE_MBYTES", 64),
        ("CONFIG_CMA_SIZE_SEL_MBYTES", True), ("CONFIG_DMA_CMA", True), ("CONFIG_ZONE_DMA", True),
    )),
    "arm64": ("defconfig", (
        ("CONFIG_CMA_AREAS", 20), ("CONFIG_CMA_ALIGNMENT", 8), ("CONFIG_CMA_SIZE_MBYTES", 32),
        ("CONFIG_CMA_SIZE_SEL_MBYTES", True), ("CONFIG_DMA_CMA", True), ("CONFIG_ZONE_DMA", True),
        ("CONFIG_ZONE_DMA32", True), ("CONFIG_HUGETLB_PAGE", True), ("CONFIG_TRANSPARENT_HUGEPAGE", True),
        ("CONFIG_RODATA_FULL_DEFAULT_ENABLED", True), ("CONFIG_KFENCE", False), ("CONFIG_NUMA", True),
        ("CONFIG_NR_CPUS", 512), ("CONFIG_MEMORY_HOTREMOVE", True), ("CONFIG_ARM64_VA_BITS_39", False),
        ("CONFIG_PAGE_EXTENSION", False), ("CONFIG_SYSFS", True), ("CONFIG_OF_DYNAMIC", True),
    )),
}

STATIC_ONLY = frozenset({"size", "alignment", "alloc-ranges"})
POOLS = frozenset({"shared-dma-pool", "restricted-dma-pool"})


@dataclass(frozen=True)
class Options:
    board: str
    arch: str
    version: str
    page_size: str = "4K"
    banks: tuple[tuple[int, int], ...] = ()  # --bank BASE:SIZE, replacing the tree's /memory
    # How a source file is named in the written comments (relative to the source's directory,
    # so that the file is the same wherever the kernel tree lives).
    shown: Callable[[str], str] = field(default=lambda p: p, compare=False)
    # `devicetree.base` as the written board names the source: relative to the written file, or
    # (base_in "kernel") to the kernel tree's top; None for a fragment, which is no whole tree.
    base: str | None = None
    base_in: str = "board"


@dataclass(frozen=True)
class Entry:
    """One item of a YAML list: its fields as YAML text, in order, and the comment above it."""

    fields: tuple[tuple[str, str], ...]
    comment: tuple[str, ...] = ()
    block: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # nested mappings (properties)


@dataclass(frozen=True)
class Imported:
    board: str
    source: str
    reader: str
    arch: str
    version: str
    page_size: str
    base: str | None
    base_in: str
    # Where the banks came from when not from the tree's /memory: "--bank", or "assumed" (the
    # bootloader fills /memory in; dtgen guessed from where the tree's fixed addresses lie).
    banks_from: str | None
    above_4g: bool  # a bank, region or occupied range above 4 GiB: on arm only an LPAE kernel reaches it
    address_cells: int
    size_cells: int
    has_reserved_memory: bool
    banks: tuple[Entry, ...]
    occupied: tuple[Entry, ...]
    regions: tuple[Entry, ...]
    devices: tuple[Entry, ...]
    rules: tuple[Entry, ...]
    left_out: tuple[str, ...]  # what the tree has and the board file cannot say, as comment lines


# ---- values --------------------------------------------------------------------------------------


def cells(value: bytes) -> list[int] | None:
    if len(value) % 4:
        return None
    return [int.from_bytes(value[i : i + 4], "big") for i in range(0, len(value), 4)]


def number(parts: list[int]) -> int:
    out = 0
    for part in parts:
        out = (out << 32) | part
    return out


def strings(value: bytes) -> list[str] | None:
    """A string list, as dtc decides whether to print a value as strings: printable text, each
    string terminated, none empty."""
    if not value or not value.endswith(b"\0"):
        return None
    parts = value[:-1].split(b"\0")
    try:
        texts = [p.decode("utf-8") for p in parts]
    except UnicodeDecodeError:
        return None
    if any(not t or not t.isprintable() for t in texts):
        return None
    return texts


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")
_YAML_WORDS = frozenset("y n yes no on off true false null".split())


def scalar(text: str) -> str:
    """A string as a plain YAML scalar where that reads back as the same string, else quoted."""
    return text if _PLAIN.match(text) and text.lower() not in _YAML_WORDS else quoted(text)


def quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's)."""
    import json

    return json.dumps(text, ensure_ascii=True)


def flow(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


# ---- the import ----------------------------------------------------------------------------------


@dataclass
class _State:
    tree: DtTree
    options: Options
    found: list[Diagnostic] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    facts: BaseTree | None = None
    assumed_banks: bool = False

    def base(self) -> BaseTree:
        """The tree's facts as the base-tree checks read them (dma-ranges windows), made once."""
        if self.facts is None:
            from dtgen.trees.base import facts

            self.facts = facts(self.tree, self.tree.source)
        return self.facts

    def span(self, node: DtNode, prop: str | None = None) -> Span:
        if prop is not None:
            got = node.prop(prop)
            if got is not None and got.span is not None:
                return got.span
        return node.span or Span(self.tree.source)

    def cite(self, node: DtNode, prop: str | None = None) -> str:
        span = self.span(node, prop)
        if span.line:
            return f"{node.path} ({self.options.shown(span.file)}:{span.line})"
        return node.path

    def unique(self, name: str, sep: str = "_") -> str:
        base, n = name, 2
        while name in self.names:
            suffix = f"{sep}{n}"
            name = base[: 31 - len(suffix)] + suffix
            n += 1
        self.names.add(name)
        return name


def import_tree(tree: DtTree, options: Options) -> tuple[Imported | None, list[Diagnostic]]:
    st = _State(tree, options)
    root = tree.node("/")
    if root is None:
        # A blob always has a root (the reader checks); a source may not: an empty file, or a
        # fragment that only amends nodes defined elsewhere (`&label { ... };`).
        rule, what = ("dtb-format", "the blob") if tree.reader == "dtb" else ("dts-syntax", "the source")
        return None, [replace(error(rule, f"{what} defines no root node (`/ {{ ... }};`): "
                                          "nothing to import", Span(tree.source)), unreadable=True)]
    reserved = tree.node("/reserved-memory")
    # A fragment (a reserved-memory .dtsi) does not set the root's cells; its /reserved-memory,
    # which must equal the root's, tells them.
    cells_from = root if root.get("#address-cells") is not None or reserved is None else reserved
    ac = _cell_count(cells_from, "#address-cells", 2)
    sc = _cell_count(cells_from, "#size-cells", 1)
    if cells_from is not root:
        st.left_out.append(f"cell counts ({ac} address, {sc} size) from /reserved-memory: the source does not set the root's")
    banks = _banks(st, ac, sc)
    if banks is None:
        return None, st.found
    if reserved is not None and not _reserved_memory_usable(st, reserved, ac, sc):
        return None, st.found
    phandles = _phandles(tree)
    referenced = _referenced(tree, phandles)
    occupied = [Entry((("name", quoted(f"/memreserve/ {i}")), ("start", f"{a:#x}"), ("size", memparse_text(s))),
                      (f"/memreserve/ entry {i} of {options.shown(tree.source) if tree.reader != 'dtb' else 'the blob'}",))
                for i, (a, s) in enumerate(tree.memreserve) if s]
    regions: list[Entry] = []
    region_of: dict[str, str] = {}  # node path -> region name
    if reserved is not None:
        for node in _children(tree, reserved.path):
            got = _region(st, node, ac, sc, node.path in referenced)
            if isinstance(got, _Region):
                regions.append(got.entry)
                region_of[node.path] = got.name
            elif isinstance(got, _Occupied):
                occupied.extend(got.entries)
    devices, rules = _devices(st, phandles, region_of)
    imported = Imported(
        board=options.board,
        source=posixpath.basename(tree.source.replace("\\", "/")),
        reader=tree.reader,
        arch=options.arch,
        version=options.version,
        page_size=options.page_size,
        base=options.base,
        base_in=options.base_in,
        banks_from="--bank" if options.banks else ("assumed" if st.assumed_banks else None),
        above_4g=any(_above_4g(e) for e in (*banks, *occupied, *regions)),
        address_cells=ac,
        size_cells=sc,
        has_reserved_memory=reserved is not None,
        banks=tuple(banks),
        occupied=tuple(occupied),
        regions=tuple(regions),
        devices=tuple(devices),
        rules=tuple(rules),
        left_out=tuple(st.left_out),
    )
    return imported, st.found


def _above_4g(entry: Entry) -> bool:
    fields = dict(entry.fields)
    start = fields.get("base") or fields.get("start")
    return start is not None and int(start, 0) >= 1 << 32


def _cell_count(node: DtNode, name: str, default: int) -> int:
    value = cells(node.get(name) or b"")
    return value[0] if value and len(value) == 1 and 1 <= value[0] <= 4 else default


def _children(tree: DtTree, path: str) -> list[DtNode]:
    return [n for n in tree.nodes if n.parent == path and n.path != path]


def _disabled(node: DtNode) -> bool:
    status = strings(node.get("status") or b"")
    return bool(status) and status[0] not in ("okay", "ok")  # type: ignore[index]


def _entries(value: bytes, counts: tuple[int, ...]) -> list[tuple[int, ...]] | None:
    parts = cells(value)
    width = sum(counts)
    if parts is None or width == 0 or len(parts) % width:
        return None
    out = []
    for i in range(0, len(parts), width):
        row, at = [], i
        for count in counts:
            row.append(number(parts[at : at + count]))
            at += count
        out.append(tuple(row))
    return out


# ---- banks ---------------------------------------------------------------------------------------


def _banks(st: _State, ac: int, sc: int) -> list[Entry] | None:
    tree = st.tree
    if st.options.banks:
        return [Entry((("name", f"dram{i}"), ("base", f"{b:#x}"), ("size", memparse_text(s))), ("from --bank",))
                for i, (b, s) in enumerate(st.options.banks)]
    memories = [n for n in _children(tree, "/") if (strings(n.get("device_type") or b"") or [""])[0] == "memory"]
    out: list[Entry] = []
    zero: list[DtNode] = []
    for node in memories:
        if _disabled(node):
            st.left_out.append(f"{node.path}: status disabled, so the kernel does not use it")
            continue
        prop = "linux,usable-memory" if node.get("linux,usable-memory") is not None else "reg"
        rows = _entries(node.get(prop) or b"", (ac, sc))
        if rows is None:
            st.found.append(error("import-memory", f"`{node.path}` {prop} is not a list of (address, size) pairs of "
                                  f"{ac}+{sc} cells", st.span(node, prop)))
            continue
        first = True
        for base, size in rows:
            if size == 0:
                zero.append(node)
                continue
            note = (st.cite(node, prop) + (f", {prop}" if prop != "reg" else "") + (f", {len(rows)} ranges" if len(rows) > 1 else ""),)
            out.append(Entry((("name", f"dram{len(out)}"), ("base", f"{base:#x}"), ("size", memparse_text(size))),
                             note if first else ()))
            first = False
    for node in dict.fromkeys(zero) if out else ():
        st.found.append(warning("import-memory-size", f"`{node.path}` has an entry of size 0: the bootloader fills in "
                                "the real size at boot", st.span(node, "reg"),
                                hint="give the board's banks with --bank BASE:SIZE"))
    if not out:
        why = "has no /memory node (device_type = \"memory\")" if not memories else "has no /memory range of non-zero size"
        at = st.span(memories[0], "reg") if memories else st.span(tree.nodes[0])
        starts = [b for node in dict.fromkeys(zero) for b, s in _entries(node.get("reg") or b"", (ac, sc)) or [] if s == 0]
        guess = _assumed_bank(st, ac, sc, starts[0] if starts else None)
        if guess is None:
            st.found.append(error("import-memory", f"the tree {why}, and no fixed address in /reserved-memory or "
                                  "/memreserve/ tells where RAM is: a board file needs its RAM banks",
                                  at, hint="give them with --bank BASE:SIZE (repeat for each bank)"))
            return None
        base, size, basis = guess
        st.assumed_banks = True
        st.found.append(warning("import-memory-assumed", f"the tree {why} (the bootloader fills it in): the board file "
                                f"assumes one bank of {memparse_text(size)} at {base:#x} ({basis})", at,
                                hint="give the real banks with --bank BASE:SIZE (repeat for each bank)"))
        return [Entry((("name", "dram0"), ("base", f"{base:#x}"), ("size", memparse_text(size))),
                      ("ASSUMED, the bootloader fills /memory in: " + basis + ".",
                       "Replace it with the board's real banks (or import again with --bank BASE:SIZE)."))]
    return out


GUESS_GRAIN = 256 << 20  # DRAM bases and sizes are multiples of this on every arm/arm64 SoC in 6.12


def _assumed_bank(st: _State, ac: int, sc: int, known_base: int | None) -> tuple[int, int, str] | None:
    """One bank that holds every fixed address the tree gives (static reserved nodes, alloc-ranges,
    /memreserve/) and room for its dynamic nodes: from /memory's own address when the tree gives
    one with size 0, else from the lowest fixed address rounded down to 256 MiB. This is what the
    placement needs to be checked; the kernel's real RAM can only be larger."""
    spans: list[tuple[int, int]] = [(a, s) for a, s in st.tree.memreserve if s]
    dynamic = 0
    for node in _children(st.tree, "/reserved-memory"):
        if node.get("reg") is not None:
            # A disabled node's address still says where the SoC's RAM is.
            spans += [(a, s) for a, s in _entries(node.get("reg") or b"", (ac, sc)) or [] if s]
            continue
        if _disabled(node):
            continue
        ranges = _entries(node.get("alloc-ranges") or b"", (ac, sc)) or []
        spans += [(a, s) for a, s in ranges if s]
        got = cells(node.get("size") or b"")
        if not ranges and got and len(got) == sc:
            dynamic += number(got)
    if known_base is not None and spans and (known_base == 0 or known_base > min(a for a, _ in spans)):
        known_base = None  # `reg = <0 0>`, a placeholder, or an address above fixed nodes: no base
    if known_base is None and not spans:
        return None
    low = known_base if known_base is not None else min(a for a, _ in spans) // GUESS_GRAIN * GUESS_GRAIN
    high = max([a + s for a, s in spans if a + s > low] or [low]) + dynamic
    size = max(GUESS_GRAIN, -(-(high - low) // GUESS_GRAIN) * GUESS_GRAIN)
    if ac == 1:
        size = min(size, (1 << 32) - low)
    if known_base is not None:
        basis = ("from /memory's own address, sized to hold the tree's fixed addresses and dynamic nodes"
                 if spans or dynamic else "from /memory's own address")
    else:
        basis = ("from the tree's lowest fixed address (reserved nodes, alloc-ranges, /memreserve/) rounded down to "
                 "256 MiB, sized to hold them all")
    return low, size, basis


# ---- /reserved-memory ------------------------------------------------------------------------------


def _reserved_memory_usable(st: _State, node: DtNode, ac: int, sc: int) -> bool:
    count = len(_children(st.tree, node.path))
    problems = []
    if node.get("ranges") is None:
        problems.append("has no `ranges`")
    elif node.get("ranges"):
        problems.append("has a non-empty `ranges`")
    for name, want in (("#address-cells", ac), ("#size-cells", sc)):
        got = cells(node.get(name) or b"")
        if not got or got != [want]:
            problems.append(f"has {name} {got[0] if got and len(got) == 1 else 'missing'} where the root has {want}")
    if not problems:
        return True
    st.found.append(error(
        "reserved-memory-format",
        f"/reserved-memory {' and '.join(problems)}: the kernel logs \"unsupported node format, ignoring\" and "
        f"reserves none of its {count} node{'s' * (count != 1)}",
        st.span(node), hint=f"give it `ranges;` and the root's cell counts ({ac} address, {sc} size)"))
    return False


def _phandles(tree: DtTree) -> dict[int, str]:
    out: dict[int, str] = {}
    for node in tree.nodes:
        for name in ("phandle", "linux,phandle"):
            value = cells(node.get(name) or b"")
            if value and len(value) == 1:
                out.setdefault(value[0], node.path)
    return out


def _referenced(tree: DtTree, phandles: dict[int, str]) -> set[str]:
    out: set[str] = set()
    for node in tree.nodes:
        for handle in cells(node.get("memory-region") or b"") or []:
            if handle in phandles:
                out.add(phandles[handle])
    return out


@dataclass(frozen=True)
class _Region:
    """A reserved-memory node that becomes a board-file region."""

    name: str
    entry: Entry


@dataclass(frozen=True)
class _Occupied:
    """A node the base tree keeps: its ranges become occupied memory."""

    entries: tuple[Entry, ...]


def _region(st: _State, node: DtNode, ac: int, sc: int, referenced: bool) -> _Region | _Occupied | None:
    """What one /reserved-memory child becomes: a region, occupied ranges the base tree keeps,
    or nothing (left out, with the reason in `st`)."""
    name_part, _, unit = node.name.partition("@")
    if _disabled(node):
        st.left_out.append(f"{st.cite(node)}: status disabled, so the kernel skips it")
        return None
    compatible = strings(node.get("compatible") or b"")
    reg = node.get("reg")
    fields: list[tuple[str, str]] = []
    notes: list[str] = [st.cite(node)]
    static = reg is not None
    if static:
        rows = _entries(reg or b"", (ac, sc))
        if not rows:
            _leave_out(st, node, f"its reg is not (address, size) pairs of {ac}+{sc} cells", "reg")
            return None
        start, size = rows[0]
        if len(rows) > 1:
            st.found.append(warning("import-unrepresentable", f"`{node.path}` has {len(rows)} reg entries; the kernel "
                                    "reserves them all but records only the first, and a region has one: the "
                                    "node stays in the base tree and its ranges become occupied", st.span(node, "reg")))
            no_map_field = (("no_map", "true"),) if node.get("no-map") is not None else ()
            st.left_out.append(f"{node.path}: {len(rows)} reg entries (kept in the base tree)")
            return _Occupied(tuple(Entry((("name", quoted(f"{node.path} reg[{i}]")), ("start", f"{a:#x}"),
                                          ("size", memparse_text(s)), *no_map_field), (st.cite(node, "reg"),))
                                    for i, (a, s) in enumerate(rows)))
        if size == 0:
            _leave_out(st, node, "its reg has size 0", "reg")
            return None
        pool = bool(compatible and compatible[0] in POOLS) or node.get("reusable") is not None
        if not referenced and not pool and node.get("linux,cma-default") is None:
            what = f"compatible \"{compatible[0]}\"" if compatible else "no compatible"
            no_map_field = (("no_map", "true"),) if node.get("no-map") is not None else ()
            return _Occupied((Entry((("name", quoted(node.path)), ("start", f"{start:#x}"), ("size", memparse_text(size)),
                                     *no_map_field),
                                    (st.cite(node) + f": {what}{', no-map' if node.get('no-map') is not None else ''}; "
                                     "not a DMA pool and in no memory-region, so it stays in the base tree",)),))
        fields.append(("start", f"{start:#x}"))
        fields.append(("size", memparse_text(size)))
        if unit != f"{start:x}":
            # Kept as the tree has it (no unit address, or one unlike the reg start), so that the
            # node and every path naming it stay the same.
            fields.append(("unit_address", quoted(unit) if unit else "false"))
            _check_unit(st, node, unit)
        for extra in ("size", "alignment", "alloc-ranges"):
            if node.get(extra) is not None:
                notes.append(f"`{extra}` kept as a property; the kernel ignores it: reg wins")
    else:
        size_value = node.get("size")
        if size_value is None:
            why = "has iommu-addresses and no reg or size" if node.get("iommu-addresses") is not None else "has neither reg nor size"
            _leave_out(st, node, f"it {why}", None)
            return None
        got = cells(size_value)
        if got is None or len(got) != sc:
            _leave_out(st, node, f"its size is {len(size_value)} bytes, not #size-cells ({sc}) cells: the kernel "
                       "refuses the node (\"invalid size property\")", "size")
            return None
        size = number(got)
        if size == 0:
            _leave_out(st, node, "its size is 0", "size")
            return None
        fields.append(("size", memparse_text(size)))
        alignment = node.get("alignment")
        if alignment is not None:
            got = cells(alignment)
            if got is None or len(got) != ac:
                _leave_out(st, node, f"its alignment is {len(alignment)} bytes, not #address-cells ({ac}) cells: the "
                           "kernel refuses the node (\"invalid alignment property\")", "alignment")
                return None
            if number(got):
                fields.append(("alignment", memparse_text(number(got))))
        ranges = node.get("alloc-ranges")
        if ranges is not None:
            rows = _entries(ranges, (ac, sc))
            if not rows:
                _leave_out(st, node, f"its alloc-ranges is not (address, size) pairs of {ac}+{sc} cells", "alloc-ranges")
                return None
            fields.append(("alloc_ranges", flow([f"{{start: {a:#x}, size: {memparse_text(s)}}}" for a, s in rows])))
        if unit:
            fields.append(("unit_address", quoted(unit)))
            _check_unit(st, node, unit)
    for flag, key in (("reusable", "reusable"), ("no-map", "no_map"), ("linux,cma-default", "default")):
        if node.get(flag) is not None:
            fields.append((key, "true"))
    if compatible:
        if len(compatible) > 1:
            notes.append(f"compatible also lists {', '.join(compatible[1:])} (dropped)")
            st.found.append(warning("import-unrepresentable", f"`{node.path}` lists {len(compatible)} compatible "
                                    "strings; a region has one, the first is kept", st.span(node, "compatible")))
        if COMPATIBLE.match(compatible[0]) and (compatible[0] != "shared-dma-pool" or not _pool_default(node)):
            fields.append(("compatible", scalar(compatible[0])))
        elif not COMPATIBLE.match(compatible[0]):
            notes.append(f"compatible {compatible[0]!r} dropped: not a compatible string dtgen can write")
    elif _pool_default(node):
        # emit writes shared-dma-pool on reusable and no-map regions unless told there is none.
        fields.append(("compatible", "false"))
    name = _region_name(st, node)
    wanted_node = name.replace("_", "-")
    if name_part != wanted_node and NODE_NAME.match(name_part):
        fields.append(("node_name", scalar(name_part)))
    elif name_part != wanted_node:
        st.found.append(warning("import-unrepresentable", f"`{node.path}`: a node name of {len(name_part)} characters "
                                f"is longer than a board file's node_name (31); emit names the node `{wanted_node}`",
                                st.span(node)))
    label = next((lb for lb in node.labels if NODE_REF.match("&" + lb)), None)
    replaces = f"&{label}" if label else node.path
    if NODE_REF.match(replaces):
        fields.append(("replaces", quoted(replaces)))
    props = _properties(st, node, HANDLED - STATIC_ONLY if static else HANDLED)
    return _Region(name, Entry((("name", name), *fields), tuple(notes), (("properties", props),) if props else ()))


def _check_unit(st: _State, node: DtNode, unit: str) -> None:
    if unit and not UNIT.match(unit):
        st.found.append(warning("import-unrepresentable", f"`{node.path}`: unit address `{unit}` is not one a board "
                                "file's unit_address takes (letters, digits, `,._+-`, at most 31)", st.span(node)))


def _pool_default(node: DtNode) -> bool:
    return node.get("reusable") is not None or node.get("no-map") is not None


def _leave_out(st: _State, node: DtNode, why: str, prop: str | None) -> None:
    st.found.append(warning("import-unrepresentable", f"`{node.path}` is left out: {why}", st.span(node, prop)))
    st.left_out.append(f"{node.path}: left out, {why}")


def _identifier(text: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "region"
    if name[0].isdigit():
        name = "r_" + name
    name = name[:31]
    return name + "_" if name in C_KEYWORDS else name


def _region_name(st: _State, node: DtNode) -> str:
    for label in node.labels:
        if IDENT.match(label) and label not in C_KEYWORDS and label not in st.names:
            st.names.add(label)
            return label
    base = node.name.partition("@")[0]
    return st.unique(_identifier(base))


def _properties(st: _State, node: DtNode, handled: frozenset[str]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for prop in node.props:
        if prop.name in handled:
            continue
        if prop.name == "linux,dma-default" or not prop.value:
            value: str | None = "true" if not prop.value else None
        elif (texts := strings(prop.value)) is not None and len(texts) == 1:
            value = quoted(texts[0])
        elif (parts := cells(prop.value)) is not None and not texts:
            value = f"{parts[0]:#x}" if len(parts) == 1 else flow([f"{p:#x}" for p in parts])
        else:
            value = None
        if prop.name == "iommu-addresses" or value is None or not PROP_NAME.match(prop.name):
            why = "holds phandles" if prop.name == "iommu-addresses" else (
                "is not a name dtgen writes" if value is not None else "is not one string, cells or a flag")
            st.found.append(warning("import-unrepresentable", f"`{node.path}` property `{prop.name}` {why}: left out "
                                    "of the region", st.span(node, prop.name)))
            st.left_out.append(f"{node.path}: property {prop.name!r} ({len(prop.value)} bytes) left out")
            continue
        out.append((prop.name if re.match(r"^[a-z0-9_-]+$", prop.name) else quoted(prop.name), value))
    return tuple(sorted(out))


# ---- devices -----------------------------------------------------------------------------------------


def _devices(st: _State, phandles: dict[int, str], region_of: dict[str, str]) -> tuple[list[Entry], list[Entry]]:
    devices: list[Entry] = []
    rules: list[Entry] = []
    used: set[str] = set()
    for node in st.tree.nodes:
        value = node.get("memory-region")
        if value is None or node.path.startswith("/reserved-memory/"):
            continue
        handles = cells(value)
        if not handles:
            _leave_out_device(st, node, "its memory-region is empty or not a list of phandles")
            continue
        targets: list[str] = []
        for i, handle in enumerate(handles):
            path = phandles.get(handle)
            region = region_of.get(path or "")
            if region is None:
                where = f"`{path}`" if path else f"phandle {handle:#x}, which no node has"
                why = ("which is not under /reserved-memory" if path and not path.startswith("/reserved-memory/")
                       else "which dtgen does not import as a region")
                _leave_out_device(st, node, f"memory-region entry {i} points at {where}" + (f", {why}" if path else ""))
                break
            targets.append(region)
        else:
            entry, name, kinds = _device(st, node, targets, used)
            devices.append(entry)
            for kind, region in zip(kinds, targets):
                rules.append(Entry((("match", scalar(f"{name}/{kind}")), ("regions", flow([region])))))
    return devices, rules


def _leave_out_device(st: _State, node: DtNode, why: str) -> None:
    st.found.append(warning("import-reference", f"`{node.path}` is left out: {why}", st.span(node, "memory-region")))
    st.left_out.append(f"{node.path}: device left out, {why}")


def _device(st: _State, node: DtNode, targets: list[str], used: set[str]) -> tuple[Entry, str, list[str]]:
    label = next((lb for lb in node.labels if NODE_REF.match("&" + lb)), None)
    if node.path.startswith("&"):
        ref, base = node.path, node.path[1:]
    else:
        ref = f"&{label}" if label else node.path
        base = label or node.name.partition("@")[0]
    name = re.sub(r"[^A-Za-z0-9._:+-]", ".", base)[:60] or "device"
    if not DEVNAME.match(name):
        name = "dev." + name
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}-{n}", n + 1
    used.add(candidate)
    names = strings(node.get("memory-region-names") or b"")
    notes = [st.cite(node, "memory-region")]
    if names is not None and len(names) != len(targets):
        st.found.append(warning("import-reference", f"`{node.path}` has {len(targets)} memory-region entries and "
                                f"{len(names)} memory-region-names; the names are left out",
                                st.span(node, "memory-region-names")))
        names = None
    kinds: list[str] = []
    for i, text in enumerate(names or [f"region{i}" for i in range(len(targets))]):
        kind = _identifier(text)
        while kind in kinds:
            kind = f"{kind[:28]}_{i}"
        kinds.append(kind)
    fields: list[tuple[str, str]] = [("name", scalar(candidate))]
    if NODE_REF.match(ref) or ref.startswith("&"):
        fields.append(("node", quoted(ref)))
    windows = st.base().windows_of(node.path) if not node.path.startswith("&") else None
    if windows and len(windows) > 1:
        # Every entry: a device reaches a region that one of them covers (stm32mp15's /ahb maps
        # DDR with an offset and its SRAMs 1:1).
        fields.append(("dma_ranges", flow([f"{{cpu: {w.cpu:#x}, bus: {w.bus:#x}, size: {memparse_text(w.size)}}}" for w in windows])))
        notes.append("dma_ranges from the dma-ranges above it")
    elif windows and windows[0].cpu != windows[0].bus:
        fields.append(("dma_offset", f"{windows[0].cpu - windows[0].bus:#x}"))
        notes.append("dma_offset from the dma-ranges above it")
    compatible = strings(node.get("compatible") or b"")
    if compatible and COMPATIBLE.match(compatible[0]):
        fields.append(("compatible", scalar(compatible[0])))
    fields.append(("kinds", flow(kinds)))
    if names is not None:
        fields.append(("memory_region_names", "true" if names == kinds else flow([quoted(t) for t in names])))
    if _disabled(node):
        notes.append("status disabled in the tree")
    return Entry(tuple(fields), tuple(notes)), candidate, kinds


# ---- the written file ----------------------------------------------------------------------------
# Written here rather than through Jinja2: this is a board file for the user to edit, not kernel
# text, and Jinja2's import is a tenth of the command's start-up (bench/bench_import.py).

HEADER = """\
# The comment above each entry names the node it came from. A device tree does not say what
# the rest of the board file does: check each device's DMA reach (dma_mask_bits, default 32),
# whether its driver uses the generated helper (uses: helper), the kernel's .config
# (kernel.config or --kconfig), and write the use cases as scenarios."""


def comment(text: str) -> str:
    """Free text as one line of printable ASCII, safe after `#`."""
    return one_line(text)


def _yaml_list(items: tuple[Entry, ...], indent: str) -> list[str]:
    out: list[str] = []
    for item in items:
        out += [f"{indent}# {comment(line)}" for line in item.comment]
        if item.block or len(item.fields) > 4:
            out += [f"{indent}{'- ' if i == 0 else '  '}{key}: {value}" for i, (key, value) in enumerate(item.fields)]
            for key, pairs in item.block:
                out.append(f"{indent}  {key}:")
                out += [f"{indent}    {k}: {v}" for k, v in pairs]
        else:
            out.append(f"{indent}- {{" + ", ".join(f"{key}: {value}" for key, value in item.fields) + "}")
    return out


def render(board: Imported) -> str:
    lines = [f"# Written by `dtgen import` from {comment(board.source)} (read with {comment(board.reader)}).", HEADER,
             f"board: {board.board}", f"description: {quoted('Imported from ' + board.source)}", "",
             "kernel:", f"  arch: {board.arch}", f"  version: {quoted(board.version)}", f"  page_size: {board.page_size}"]
    if board.arch in DEFCONFIG:
        name, values = DEFCONFIG[board.arch]
        lines += [f"  # ASSUMED: Linux 6.12's {name} values; a device tree does not say them. Replace them with",
                  "  # the board's own .config values, or give every command --kconfig .config (it wins).",
                  "  config:"]
        for key, value in values:
            note = ""
            if key == "CONFIG_ARM_LPAE" and board.above_4g:
                value, note = True, "   # the tree has RAM or regions above 4 GiB, which only LPAE reaches (Debian: armmp-lpae)"
            lines.append(f"    {key}: {'true' if value is True else 'false' if value is False else value}{note}")
    lines += ["", "devicetree:"]
    if board.base is None and board.base_in == "outside":
        lines.append(f"  # base: {comment(board.source)} is outside this file's include root: copy it in to check the board against it")
    elif board.base is None:
        lines.append(f"  # base: {comment(board.source)} is a fragment, not a whole tree: name the board .dts that includes it")
    else:
        lines.append(f"  base: {quoted(board.base)}")
        if board.base_in == "kernel":
            lines.append("  base_in: kernel   # relative to the kernel tree: give --kernel-tree (or DTGEN_KERNEL_TREE)")
    lines += [f"  address_cells: {board.address_cells}", f"  size_cells: {board.size_cells}"]
    if board.has_reserved_memory:
        lines.append("  base_has_reserved_memory: true")
    if board.banks_from and board.base is not None:
        why = "came from --bank" if board.banks_from == "--bank" else "are ASSUMED (see below)"
        lines += ["", "checks:", f"  base-memory: ignore   # the banks {why}, not from the tree's /memory"]
    lines += ["", "memory:", "  banks:", *_yaml_list(board.banks, "    ")]
    if board.occupied:
        lines += ["  occupied:", *_yaml_list(board.occupied, "    ")]
    for key, items in (("regions", board.regions), ("devices", board.devices), ("map", board.rules)):
        if items:
            lines += ["", f"{key}:", *_yaml_list(items, "  ")]
    if board.left_out:
        lines += ["", "# Left out: the board file cannot say these, or the kernel ignores them."]
        lines += [f"# - {comment(line)}" for line in board.left_out]
    return "\n".join(lines) + "\n"
