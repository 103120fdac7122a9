"""The resolved layout as data (JSON/YAML) and as an aligned text table for terminals.

Pure functions from a Layout to text or plain data; the CLI prints what they return. Ranges in
text are written `start..last` as the kernel's own boot log writes them ("OF: reserved mem:
0x...000..0x...fff"), so a reader can compare them with dmesg line for line.
"""

from __future__ import annotations

from typing import Any

from dtgen import kernel as k
from dtgen.model import Board, Kernel, Layout, MapRow, Placement
from dtgen.units import fmt_addr, fmt_size

_KIND = {"cma": "CMA", "coherent": "coherent", "plain": "reserved"}
_FALLBACK = {
    "page-allocator": "then the page allocator",
    "none": "no fallback",
}


def kind_text(board: Board, p: Placement) -> str:
    if k.cma_2010(board.kernel) and p.reserved_by == "platform":
        region = board.region(p.region)
        return f"2010 CMA, {(region.allocator if region else None) or 'bf'}"
    return _KIND[p.kind] + (", no-map" if p.no_map else "")


def _span(start: int, end: int) -> str:
    return f"{fmt_addr(start)}..{fmt_addr(end - 1)}"


def gets_text(row: MapRow) -> str:
    regions = ", ".join(row.delivery.regions) or "nothing"
    return f"{regions}; {_FALLBACK[row.delivery.fallback]}"


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths)] + [r[-1]]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def _rules_line(kernel: Kernel, layout: Layout) -> str:
    if k.cma_2010(kernel):
        return "2010 CMA patch set: regions reserved by the machine's .reserve code, in board-file order"
    if k.carries(kernel, k.RESERVED_MEM_DT_ORDER):
        order = "device-tree order"
    else:
        order = "lib/sort.c heapsort order"
    assumed = k.assumed_for_alignment(kernel)
    unstated = f" (assuming {', '.join(assumed)} off: give kernel.config or --kconfig)" if assumed else ""
    return (
        f"CMA minimum alignment {fmt_size(k.cma_min_alignment(kernel).size)}{unstated}; dynamic nodes in {order}; "
        f"default-area limit {fmt_addr(layout.dma_limit)}"
    )


def as_text(board: Board, layout: Layout) -> str:
    kernel = board.kernel
    arch = "ARM32" if kernel.arch == "arm" else "arm64"
    lines = [
        f"{layout.board}: {arch}, Linux {kernel.version_text}, {kernel.page_size >> 10}K pages, "
        f"#address-cells {layout.address_cells}, #size-cells {layout.size_cells}",
        _rules_line(kernel, layout),
        "",
        "memory",
    ]
    rows = [["bank", "range", "size"]]
    rows += [[b.name, _span(b.base, b.end), fmt_size(b.size)] for b in board.banks]
    rows += [[f"occupied {o.name}".rstrip(), _span(o.start, o.end), fmt_size(o.size)] for o in board.occupied]
    lines += _table(rows)
    lines += ["", "regions, in boot order"]
    rows = [["#", "name", "range", "size", "align", "kind", "by", "placed"]]
    for p in layout.placements:
        rows.append([
            str(p.step), p.region, _span(p.start, p.end), fmt_size(p.size),
            fmt_size(p.alignment) if p.alignment else "-", kind_text(board, p), p.reserved_by, p.method,
        ])
    lines += _table(rows)
    noted: dict[str, list[str]] = {}
    for p in layout.placements:
        for note in p.notes:
            noted.setdefault(note, []).append(p.region)
    lines += [f"  note: {', '.join(names)}: {note}" for note, names in noted.items()]
    lines += [f"  note: {note}" for note in layout.notes]
    if layout.zones:
        lines += [f"  zone limit: {fmt_addr(z.address)}, {z.what}" for z in layout.zones]
    if layout.map:
        lines += ["", "map"]
        rows = [["device/kind", "rule (line)", "chain", "gets"]]
        rows += [[f"{r.device}/{r.kind}", f"{r.rule} ({r.rule_line})", ", ".join(r.chain), gets_text(r)] for r in layout.map]
        lines += _table(rows)
    return "\n".join(lines) + "\n"


def as_data(board: Board, layout: Layout) -> dict[str, Any]:
    """Plain data, integers for every number (bytes and addresses), lists in boot order."""
    kernel = board.kernel
    return {
        "board": layout.board,
        "kernel": {"arch": kernel.arch, "version": kernel.version_text, "page_size": kernel.page_size},
        "address_cells": layout.address_cells,
        "size_cells": layout.size_cells,
        "cma_min_alignment": k.cma_min_alignment(kernel).size,
        "dma_limit": layout.dma_limit,
        "memory": [{"start": s, "end": e, "size": e - s} for s, e in layout.memory],
        "occupied": [{"name": o.name, "start": o.start, "end": o.end, "size": o.size} for o in board.occupied],
        "placements": [
            {
                "step": p.step,
                "region": p.region,
                "start": p.start,
                "end": p.end,
                "size": p.size,
                "alignment": p.alignment,
                "kind": p.kind,
                "no_map": p.no_map,
                "reserved_by": p.reserved_by,
                "static": p.static,
                "implicit": p.implicit,
                "method": p.method,
                "notes": list(p.notes),
            }
            for p in layout.placements
        ],
        "zones": [{"address": z.address, "what": z.what} for z in layout.zones],
        "map": [
            {
                "device": r.device,
                "kind": r.kind,
                "rule": r.rule,
                "rule_line": r.rule_line,
                "chain": list(r.chain),
                "gets": list(r.delivery.regions),
                "fallback": r.delivery.fallback,
            }
            for r in layout.map
        ],
        "notes": list(layout.notes),
    }


_HEX_KEYS = {"start", "end", "address", "dma_limit"}


def as_yaml(data: dict[str, Any]) -> str:
    """YAML with addresses in hex (YAML 1.1 reads 0x... as integers) and sizes in decimal bytes."""
    import yaml

    class _Hex(int):
        pass

    class _Dumper(yaml.SafeDumper):
        pass

    _Dumper.add_representer(_Hex, lambda d, v: d.represent_scalar("tag:yaml.org,2002:int", f"{int(v):#x}"))

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        # PyYAML writes NEL, LS and PS as they are (allow_unicode) in plain or single-quoted
        # style, where a reader takes them for line breaks; double quotes escape them.
        style = '"' if any(c in value for c in "\x85\u2028\u2029") else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, text)

    def convert(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {kk: convert(vv, kk) for kk, vv in value.items()}
        if isinstance(value, list):
            return [convert(v, key) for v in value]
        if key in _HEX_KEYS and isinstance(value, int) and not isinstance(value, bool):
            return _Hex(value)
        return value

    return yaml.dump(convert(data), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True)
