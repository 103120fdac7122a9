"""The base tree a board's fragment is merged into (`devicetree.base`): what dtgen reads from it,
and how the board is checked against it and completed from it.

dtc merges the emitted `.dtsi` into the base tree, and the kernel boots the result, so the base
decides things the board file can only repeat: the labels and paths the fragment refers to, the
root's cells, whether `/reserved-memory` exists, the carve-outs and `/memreserve/` entries already
there, and the `dma-ranges` of the buses above each device. Repeating them by hand is how a typo
(`&vpu_g22`) reaches the kernel build, where dtc stops at `Label or path vpu_g22 not found`.

`facts()` keeps only what the checks need, as plain values, so that the facts of a compiled base
can be cached between runs as JSON (dtgen/trees/base_cache.py) and a pre-commit hook does not pay cpp
and dtc on every commit. `check()` and `complete()` are pure.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Iterable, Iterator

from dtgen.diagnostics import Diagnostic, error, warning
from dtgen.model import Board, DmaWindow, DtNode, DtTree, Occupied
from dtgen.units import fmt_addr, fmt_span

# Bumped whenever facts() keeps something new, so that cached facts of an older dtgen are not used.
FACTS_VERSION = 1


@dataclass(frozen=True)
class Reserved:
    """A child of the base's `/reserved-memory`, as fdt_scan_reserved_mem() sees it."""

    path: str
    labels: tuple[str, ...]
    reg: tuple[tuple[int, int], ...]  # (start, size) of a static node
    size: int | None  # a dynamic node's `size`
    no_map: bool
    reusable: bool
    enabled: bool  # `status` okay or absent: the kernel skips disabled nodes

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Bus:
    """A node with `dma-ranges`: empty (1:1), or its entries with the CPU side already
    translated through the buses above it (of_translate_dma_address())."""

    path: str
    windows: tuple[DmaWindow, ...]  # () for an empty dma-ranges


@dataclass(frozen=True)
class BaseTree:
    source: str  # the file as the board names it, for messages
    address_cells: int
    size_cells: int
    labels: tuple[tuple[str, str], ...]  # (label, node path), sorted
    nodes: tuple[tuple[str, tuple[str, ...]], ...]  # (path, compatible strings), depth first
    reserved_memory: bool
    reserved: tuple[Reserved, ...]
    memreserve: tuple[tuple[int, int], ...]
    memory: tuple[tuple[int, int], ...]  # every /memory reg entry with a size
    memory_unset: bool  # /memory is there but all its sizes are 0 (the bootloader fills it in)
    buses: tuple[Bus, ...]

    def path_of(self, ref: str) -> str | None:
        """The node a board's `&label` or `/path` names, or None."""
        if ref.startswith("&"):
            return dict(self.labels).get(ref[1:])
        return ref if ref in dict(self.nodes) else None

    def compatible(self, path: str) -> tuple[str, ...]:
        return dict(self.nodes).get(path, ())

    def windows_of(self, path: str) -> tuple[DmaWindow, ...] | None:
        """The device's bus_dma_region map as of_dma_configure_id() builds it: of_dma_get_range()
        from the device's parent upward to the first non-empty `dma-ranges`; an empty one means
        no translation there, and past one, a node without `dma-ranges` ends the search (no map,
        -ENODEV). None: no map (the device sees physical addresses 1:1)."""
        buses = {b.path: b for b in self.buses}
        node, found = _parent(path), False
        while node is not None:
            bus = buses.get(node)
            if bus is not None and bus.windows:
                return bus.windows
            if found and bus is None:
                return None
            found = True
            node = _parent(node)
        return None


def _parent(path: str) -> str | None:
    if path == "/":
        return None
    head = path.rsplit("/", 1)[0]
    return head or "/"


# ---- reading the facts out of a compiled tree ----------------------------------------------------


def _cells(value: bytes | None) -> list[int] | None:
    if value is None or len(value) % 4:
        return None
    return [int.from_bytes(value[i:i + 4], "big") for i in range(0, len(value), 4)]


def _count(node: DtNode | None, name: str, default: int) -> int:
    got = _cells(node.get(name)) if node is not None else None
    return got[0] if got and len(got) == 1 and 1 <= got[0] <= 4 else default


def _rows(value: bytes | None, widths: tuple[int, ...]) -> list[tuple[int, ...]]:
    parts = _cells(value)
    width = sum(widths)
    if not parts or not width or len(parts) % width:
        return []
    out = []
    for i in range(0, len(parts), width):
        row, at = [], i
        for w in widths:
            number = 0
            for part in parts[at:at + w]:
                number = (number << 32) | part
            row.append(number)
            at += w
        out.append(tuple(row))
    return out


def _strings(value: bytes | None) -> tuple[str, ...]:
    if not value or not value.endswith(b"\0"):
        return ()
    return tuple(p.decode("utf-8", "replace") for p in value[:-1].split(b"\0"))


def _enabled(node: DtNode) -> bool:
    status = _strings(node.get("status"))
    return not status or status[0] in ("okay", "ok")


def facts(tree: DtTree, shown: str) -> BaseTree:
    by_path = {n.path: n for n in tree.nodes}
    root = by_path.get("/")
    ac, sc = _count(root, "#address-cells", 2), _count(root, "#size-cells", 1)
    labels = sorted((label, n.path) for n in tree.nodes for label in n.labels)
    rm = by_path.get("/reserved-memory")
    reserved = []
    if rm is not None:
        rac, rsc = _count(rm, "#address-cells", ac), _count(rm, "#size-cells", sc)
        for n in tree.nodes:
            if n.parent != "/reserved-memory" or n.path == "/reserved-memory":
                continue
            size_rows = _rows(n.get("size"), (rsc,))
            reserved.append(Reserved(
                n.path, n.labels, tuple((r[0], r[1]) for r in _rows(n.get("reg"), (rac, rsc)) if r[1]),
                size_rows[0][0] if len(size_rows) == 1 else None,
                n.get("no-map") is not None, n.get("reusable") is not None, _enabled(n)))
    memory: list[tuple[int, int]] = []
    memory_nodes = False
    for n in tree.nodes:
        if n.parent == "/" and (n.name == "memory" or n.name.startswith("memory@")
                                or _strings(n.get("device_type")) == ("memory",)):
            memory_nodes = True
            memory += [(r[0], r[1]) for r in _rows(n.get("reg"), (ac, sc)) if r[1]]
    return BaseTree(
        source=shown, address_cells=ac, size_cells=sc, labels=tuple(labels),
        nodes=tuple((n.path, _strings(n.get("compatible"))) for n in tree.nodes),
        reserved_memory=rm is not None, reserved=tuple(reserved),
        memreserve=tuple(sorted(tree.memreserve)), memory=tuple(sorted(memory)),
        memory_unset=memory_nodes and not memory, buses=tuple(_buses(tree, by_path)))


def _buses(tree: DtTree, by_path: dict[str, DtNode]) -> Iterator[Bus]:
    for node in tree.nodes:
        value = node.get("dma-ranges")
        if value is None or node.path == "/":
            continue
        parent = by_path.get(node.parent)
        widths = (_count(node, "#address-cells", 2), _count(parent, "#address-cells", 2), _count(node, "#size-cells", 1))
        windows = []
        for bus, upstream, size in _rows(value, widths):
            cpu = _translate(upstream, node.parent, by_path)
            if cpu is not None:  # the kernel drops an entry it cannot translate (OF_BAD_ADDR)
                windows.append(DmaWindow(cpu, bus, size))
        yield Bus(node.path, tuple(windows))


def _translate(address: int, path: str, by_path: dict[str, DtNode]) -> int | None:
    """An address on the bus at `path` as a CPU address, through the `dma-ranges` above it
    (of_translate_dma_address(): a missing or empty `dma-ranges` is 1:1 at that level)."""
    while path != "/":
        node = by_path.get(path)
        parent = by_path.get(_parent(path) or "/")
        if node is None:
            return address
        rows = _rows(node.get("dma-ranges"), (_count(node, "#address-cells", 2), _count(parent, "#address-cells", 2),
                                              _count(node, "#size-cells", 1)))
        if rows:
            hit = next((r for r in rows if r[0] <= address < r[0] + r[2]), None)
            if hit is None:
                return None
            address = address - hit[0] + hit[1]
        path = _parent(path) or "/"
    return address


# ---- the board against its base ----------------------------------------------------------------


def complete(board: Board, base: BaseTree) -> Board:
    """The board with what the base tree says and the board file left out: the root's cells,
    whether `/reserved-memory` exists, every device's `dma-ranges` windows, and the memory the
    base already reserves and dtgen does not own (static nodes, `/memreserve/`) as occupied, which
    the kernel reserves before it places any dynamic region."""
    dt = board.devicetree
    assert dt is not None
    said = board.source.places
    devicetree = replace(
        dt,
        address_cells=dt.address_cells if "/devicetree/address_cells" in said else base.address_cells,
        size_cells=dt.size_cells if "/devicetree/size_cells" in said else base.size_cells,
        base_has_reserved_memory=(dt.base_has_reserved_memory if "/devicetree/base_has_reserved_memory" in said
                                  else base.reserved_memory))
    devices = []
    for device in board.devices:
        path = base.path_of(device.node) if device.node else None
        windows = base.windows_of(path) if path else None
        if windows and not device.dma_ranges and f"{device.pointer}/dma_offset" not in said:
            device = replace(device, dma_ranges=windows)
        devices.append(device)
    taken = {(o.start, o.size) for o in board.occupied}
    occupied = list(board.occupied)
    for start, size, name, no_map in _unowned_static(board, base):
        if (start, size) not in taken:
            taken.add((start, size))
            occupied.append(Occupied(name, start, size, "/devicetree/base", no_map))
    return replace(board, devicetree=devicetree, devices=tuple(devices), occupied=tuple(occupied))


def _replaced(board: Board, base: BaseTree) -> set[str]:
    return {p for r in board.regions if r.replaces for p in [base.path_of(r.replaces)] if p}


def _unowned_static(board: Board, base: BaseTree) -> Iterator[tuple[int, int, str, bool]]:
    """(start, size, name, no-map): /memreserve/ first, as the kernel reserves it first."""
    for start, size in base.memreserve:
        yield start, size, f"/memreserve/ {fmt_addr(start)} (base tree)", False
    replaced = _replaced(board, base)
    for node in base.reserved:
        if node.enabled and node.path not in replaced:
            for start, size in node.reg:
                yield start, size, f"{node.path} (base tree)", node.no_map


def check(board: Board, base: BaseTree) -> list[Diagnostic]:
    return [*_references(board, base), *_root(board, base), *_duplicates(board, base), *_unowned_dynamic(board, base),
            *_memory(board, base), *_dma(board, base)]


def _suggest(ref: str, base: BaseTree) -> str:
    if ref.startswith("&"):
        close = difflib.get_close_matches(ref[1:], [label for label, _ in base.labels], n=1, cutoff=0.6)
        return f"did you mean `&{close[0]}`?" if close else "no label is close; dtc -@ lists every label in /__symbols__"
    close = difflib.get_close_matches(ref, [path for path, _ in base.nodes], n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else "give the node's full path from the root, or its label"


def _references(board: Board, base: BaseTree) -> Iterable[Diagnostic]:
    for device in board.devices:
        if not device.node:
            continue
        path = base.path_of(device.node)
        here = device.pointer + "/node"
        if path is None:
            what = "label" if device.node.startswith("&") else "node"
            yield error("base-node-missing", f"device `{device.name}`: the base tree {base.source} has no {what} "
                        f"`{device.node}`; dtc would stop with `Label or path {device.node.lstrip('&')} not found`",
                        board.source.value(here), here, hint=_suggest(device.node, base))
            continue
        if device.compatible and device.compatible not in base.compatible(path):
            has = base.compatible(path)
            said = ", ".join(f"`{c}`" for c in has) if has else "no compatible"
            at = device.pointer + "/compatible"
            yield error("base-compatible", f"device `{device.name}` says compatible `{device.compatible}`, but its node "
                        f"{path} in the base tree has {said}", board.source.value(at), at,
                        hint="the binding that decides memory-region(-names) is the node's: give one of its compatibles")
    for region in board.regions:
        if not region.replaces:
            continue
        path = base.path_of(region.replaces)
        here = region.pointer + "/replaces"
        if path is None:
            yield error("base-node-missing", f"region `{region.name}` replaces `{region.replaces}`, which the base tree "
                        f"{base.source} does not have; /delete-node/ would fail in dtc", board.source.value(here), here,
                        hint=_suggest(region.replaces, base))
        elif _parent(path) != "/reserved-memory":
            yield error("base-node-missing", f"region `{region.name}` replaces `{region.replaces}`, which is {path}, "
                        "not a /reserved-memory node", board.source.value(here), here,
                        hint="`replaces` names the base's own reserved-memory node for this region")


def _root(board: Board, base: BaseTree) -> Iterable[Diagnostic]:
    dt = board.devicetree
    assert dt is not None
    said = board.source.places
    for key, mine, theirs in (("address_cells", dt.address_cells, base.address_cells),
                              ("size_cells", dt.size_cells, base.size_cells)):
        here = f"/devicetree/{key}"
        if here in said and mine != theirs:
            yield error("base-cells", f"devicetree.{key} is {mine}, but the base tree's root has "
                        f"#{key.replace('_', '-')} = <{theirs}>", board.source.value(here), here,
                        hint=f"leave it out (it is read from the base) or write {theirs}")
    here = "/devicetree/base_has_reserved_memory"
    if here in said and dt.base_has_reserved_memory != base.reserved_memory:
        truth = "has" if base.reserved_memory else "has no"
        yield error("base-cells", f"base_has_reserved_memory is {str(dt.base_has_reserved_memory).lower()}, but the base "
                    f"tree {truth} /reserved-memory", board.source.value(here), here,
                    hint="leave it out: it is read from the base")


def _duplicates(board: Board, base: BaseTree) -> Iterable[Diagnostic]:
    from dtgen.emit.dts import in_devicetree, node_name

    replaced = _replaced(board, base)
    by_name = {n.name: n for n in base.reserved}
    labels = dict(base.labels)
    for region in board.regions:
        # A region that names what it replaces is meant to take that node's place; a `replaces`
        # the base lacks is reported once, as base-node-missing.
        if not in_devicetree(region) or region.replaces:
            continue
        name = node_name(region)
        twin = by_name.get(name)
        if twin is not None and twin.path not in replaced:
            at = region.pointer + ("/node_name" if region.node_name else "/name")
            yield error("base-node-duplicate", f"region `{region.name}` becomes /reserved-memory/{name}, which the base "
                        f"tree already has: dtc would merge the two into one node", board.source.value(at), at,
                        hint=f"add `replaces: \"{_ref(twin)}\"` to take its place, or give another node_name")
        owner = labels.get(region.name)
        if owner is not None and owner not in replaced:
            at = region.pointer + "/name"
            yield error("base-node-duplicate", f"region `{region.name}` is written with the label `{region.name}`, which "
                        f"the base tree already gives {owner}: dtc stops at a duplicate label",
                        board.source.value(at), at,
                        hint="rename the region, or add `replaces:` if it is that node")


def _ref(node: Reserved) -> str:
    return f"&{node.labels[0]}" if node.labels else node.path


def _unowned_dynamic(board: Board, base: BaseTree) -> Iterable[Diagnostic]:
    if any(r.replaces and base.path_of(r.replaces) is None for r in board.regions):
        return  # a `replaces` typo (base-node-missing) is the likelier story than a missing region
    replaced = _replaced(board, base)
    for node in base.reserved:
        if node.enabled and not node.reg and node.size and node.path not in replaced:
            yield warning("base-dynamic-unowned", f"the base tree's {node.path} ({node.size:#x} bytes, placed by the "
                          "kernel with the board's dynamic regions) is not in the board: placement leaves it out",
                          board.source.value("/devicetree/base"), "/devicetree/base",
                          hint=f"describe it as a region with `replaces: \"{_ref(node)}\"` (dtgen import writes it)")


def _memory(board: Board, base: BaseTree) -> Iterable[Diagnostic]:
    banks = sorted((b.base, b.size) for b in board.banks)
    if not base.memory or _merged(base.memory) == _merged(banks):
        return
    theirs = ", ".join(fmt_span(s, z) for s, z in base.memory)
    yield warning("base-memory", f"the banks differ from the base tree's /memory ({theirs}); the bootloader may "
                  "rewrite /memory, so the banks are what dtgen plans for", board.source.value("/memory/banks"),
                  "/memory/banks", hint="describe the RAM the board boots with; -W no-base-memory if the bootloader changes it")


def _merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for start, size in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], start + size)
        else:
            out.append([start, start + size])
    return [(a, b) for a, b in out]


def _dma(board: Board, base: BaseTree) -> Iterable[Diagnostic]:
    said = board.source.places
    for device in board.devices:
        path = base.path_of(device.node) if device.node else None
        if path is None:
            continue
        windows = base.windows_of(path) or ()
        stated_ranges = f"{device.pointer}/dma_ranges" in said
        stated_offset = f"{device.pointer}/dma_offset" in said
        if not (stated_ranges or stated_offset):
            continue  # complete() took the base's
        mine = tuple(sorted((w.cpu, w.bus, w.size) for w in device.dma_ranges))
        theirs = tuple(sorted((w.cpu, w.bus, w.size) for w in windows))
        if stated_ranges and mine == theirs:
            continue
        if stated_offset and len({w.cpu - w.bus for w in windows}) <= 1 \
                and device.dma_offset == (windows[0].cpu - windows[0].bus if windows else 0):
            continue
        text = ", ".join(f"{w.cpu:#x} at bus {w.bus:#x} ({w.size:#x} bytes)" for w in windows) or "none (1:1)"
        at = f"{device.pointer}/{'dma_ranges' if stated_ranges else 'dma_offset'}"
        yield error("base-dma-ranges", f"device `{device.name}`: its bus's dma-ranges in the base tree give {text}, "
                    "which the board's DMA window does not match", board.source.value(at), at,
                    hint="leave dma_offset and dma_ranges out (they are read from the base) or copy every window")


# ---- the cached form -------------------------------------------------------------------------


def to_json(base: BaseTree) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(base)


def from_json(data: dict) -> BaseTree:  # type: ignore[type-arg]
    """The facts to_json() wrote; raises (KeyError, TypeError, ValueError) on anything else,
    which the cache takes as a miss."""
    def pairs(rows: list) -> tuple[tuple[int, int], ...]:  # type: ignore[type-arg]
        return tuple((int(a), int(b)) for a, b in rows)

    return BaseTree(
        source=str(data["source"]), address_cells=int(data["address_cells"]), size_cells=int(data["size_cells"]),
        labels=tuple((str(a), str(b)) for a, b in data["labels"]),
        nodes=tuple((str(p), tuple(str(c) for c in cs)) for p, cs in data["nodes"]),
        reserved_memory=bool(data["reserved_memory"]),
        reserved=tuple(Reserved(str(r["path"]), tuple(r["labels"]), pairs(r["reg"]),
                                None if r["size"] is None else int(r["size"]), bool(r["no_map"]),
                                bool(r["reusable"]), bool(r["enabled"])) for r in data["reserved"]),
        memreserve=pairs(data["memreserve"]), memory=pairs(data["memory"]), memory_unset=bool(data["memory_unset"]),
        buses=tuple(Bus(str(b["path"]), tuple(DmaWindow(int(w["cpu"]), int(w["bus"]), int(w["size"])) for w in b["windows"]))
                    for b in data["buses"]))
