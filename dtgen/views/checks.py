"""Scenario verdicts as a text report, a step-by-step story (`--explain`), a size table, and
plain data for JSON. Pure functions; the CLI prints what they return."""

from __future__ import annotations

from typing import Any, Sequence

from dtgen import kernel as k
from dtgen.model import Attempt, Board, Event, Extents, Layout, RegionUse, Verdict
from dtgen.units import fmt_addr, fmt_size

_ALLOCATOR = {
    "cma": "CMA area",
    "coherent": "coherent pool",
    "bf": "2010 best-fit",
    "gen": "2010 genalloc",
}


def _mib(n: int) -> str:
    value = n / (1 << 20)
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _peaks(uses: Sequence[RegionUse]) -> str:
    return ", ".join(f"{u.region} {_mib(u.peak)}/{_mib(u.size)} MiB" for u in uses)


def _extents_text(e: Extents) -> str:
    return f"{fmt_size(e.free)} free, largest free extent {fmt_size(e.largest)}"


def _attempt_text(board: Board, layout: Layout, a: Attempt) -> str:
    if a.region == "page allocator":
        return f"page allocator: {a.note}"
    placed = layout.placement(a.region)
    what = ""
    if placed is not None:
        use_kind = "CMA area" if placed.kind == "cma" else "coherent pool" if placed.kind == "coherent" else "reserved"
        if k.cma_2010(board.kernel):
            region = board.region(a.region)
            use_kind = _ALLOCATOR["gen" if region and region.allocator == "gen" else "bf"]
        what = f" ({use_kind}, {fmt_size(placed.size)})"
    text = f"{a.region}{what}: {fmt_size(a.free)} free, largest free extent {fmt_size(a.largest)}"
    return text + (f"; {a.note}" if a.note else "")


def _no_fallback(board: Board, layout: Layout, event: Event) -> str:
    row = next((r for r in layout.map if (r.device, r.kind) == (event.device, event.kind)), None)
    if row is None:
        return ""
    if k.cma_2010(board.kernel):
        return "every region of the chain tried (the 2010 cma_alloc() walks it)"
    if row.delivery.fallback == "none":
        first = layout.placement(row.delivery.regions[0]) if row.delivery.regions else None
        if first is not None and first.kind == "coherent" and len(row.delivery.regions) == 1:
            return "no fallback: dma_alloc_from_dev_coherent() does not let a request go elsewhere"
        return "no fallback: the chain is exhausted"
    return ""


def failure_lines(board: Board, layout: Layout, v: Verdict, indent: str) -> list[str]:
    e = v.failure
    assert e is not None
    lines = [f"{e.where}: {e.device}/{e.kind} {e.label} {fmt_size(e.size)} (align {fmt_size(e.align) if e.align else '-'})"]
    lines += [f"{indent}{_attempt_text(board, layout, a)}" for a in e.attempts]
    if not e.attempts:
        lines.append(f"{indent}no region: no map rule gives {e.device}/{e.kind} any memory")
    why = _no_fallback(board, layout, e)
    if why:
        lines.append(indent + why)
    return lines


def report(board: Board, layout: Layout, verdicts: Sequence[Verdict], suggestions: dict[str, str] | None = None) -> str:
    singles = sum(len(v.scenarios) == 1 for v in verdicts)
    combos = len(verdicts) - singles
    lines = [f"{board.name}: {singles} scenario{'s' * (singles != 1)}, "
             f"{combos} combination{'s' * (combos != 1)} that can run at once"]
    width = max((len(v.name) for v in verdicts), default=8)
    indent = " " * (width + 2 + 22)
    for v in verdicts:
        if v.fits:
            status = "fits" if v.met else "fits, but expect: fails"
        else:
            status = "FAILS (expected)" if v.met else "FAILS"
        head = f"{v.name:<{width}}  {status:<20}  "
        if v.fits:
            body = f"peak {_peaks(v.regions)}" if v.regions else "no region used"
            frag = [u for u in v.regions if u.at_end.fragmentation > 0.05]
            if frag:
                body += "; fragmentation at end " + ", ".join(f"{u.region} {u.at_end.fragmentation:.2f}" for u in frag)
            lines.append(head + body)
        else:
            fail = failure_lines(board, layout, v, indent)
            lines.append(head + fail[0])
            lines += fail[1:]
            if suggestions and v.name in suggestions:
                lines.append(indent + suggestions[v.name])
        if len(v.scenarios) > 1:
            lines.append(f"{indent}worst interleaving: {v.order}")
        if v.not_guaranteed:
            lines.append(f"{indent}{v.not_guaranteed} request{'s' * (v.not_guaranteed != 1)} only through the page "
                         "allocator: not guaranteed, depends on page-allocator fragmentation")
    missed = [v for v in verdicts if not v.met]
    lines.append(f"{len(missed)} of {len(verdicts)} verdicts miss their expectation" if missed
                 else f"all {len(verdicts)} verdicts meet their expectation")
    return "\n".join(lines) + "\n"


def story(board: Board, layout: Layout, v: Verdict, suggestion: str = "") -> str:
    lines = [f"{v.name}: {len(v.events)} requests{', expect ' + v.expect if v.expect != 'fits' else ''}"]
    for e in v.events:
        where = f"{e.region} at {fmt_addr(e.address)}" if e.ok and e.address is not None else (
            "the page allocator (not guaranteed)" if e.ok else "nothing")
        tried = [a.region for a in e.attempts]
        chain = f" after {', '.join(tried[:-1])} failed" if e.ok and len(tried) > 1 else ""
        lines.append(f"  {e.where:>8}  {e.device}/{e.kind} {e.label} {fmt_size(e.size)} "
                     f"(align {fmt_size(e.align) if e.align else '-'}) -> {where}{chain}")
        if not e.ok:
            lines += failure_lines(board, layout, v, "      ")[1:]
            if suggestion:
                lines.append("      " + suggestion)
    for u in v.regions:
        lines.append(f"  {u.region}: peak {fmt_size(u.peak)} of {fmt_size(u.size)}; at the end {_extents_text(u.at_end)}"
                     + (f", fragmentation {u.at_end.fragmentation:.2f}" if u.at_end.free else ""))
    lines.append("fits" if v.fits else "FAILS" + (" (expected)" if v.met else ""))
    return "\n".join(lines) + "\n"


def size_table(rows: Sequence[Any], margin: float) -> str:
    out = [["region", "granule", "current", "minimal alone", "minimal together", f"with {margin:g}% margin"]]
    for r in rows:
        out.append([r.region, fmt_size(r.granule), fmt_size(r.current),
                    fmt_size(r.minimal) if r.minimal else "no fit", fmt_size(r.joint) if r.joint else "no fit",
                    fmt_size(r.with_margin) if r.with_margin else "-"])
    widths = [max(len(row[i]) for row in out) for i in range(len(out[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in out) + "\n"


def _extents_data(e: Extents | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"free": e.free, "largest": e.largest, "extents": e.count, "fragmentation": round(e.fragmentation, 4),
            "histogram": [{"up_to": bound, "count": n} for bound, n in e.histogram]}


def event_data(e: Event) -> dict[str, Any]:
    return {
        "scenario": e.scenario, "step": e.step, "device": e.device, "kind": e.kind, "label": e.label,
        "size": e.size, "align": e.align, "ok": e.ok, "guaranteed": e.guaranteed,
        "attempts": [{"region": a.region, "ok": a.ok, "address": a.address, "free": a.free, "largest": a.largest,
                      "note": a.note} for a in e.attempts],
    }


def verdict_data(v: Verdict) -> dict[str, Any]:
    return {
        "scenarios": list(v.scenarios),
        "order": v.order,
        "expect": v.expect,
        "fits": v.fits,
        "met": v.met,
        "requests": v.requests,
        "not_guaranteed": v.not_guaranteed,
        "failure": event_data(v.failure) if v.failure else None,
        "regions": [{"region": u.region, "allocator": u.allocator, "size": u.size, "peak": u.peak,
                     "at_failure": _extents_data(u.at_failure), "at_end": _extents_data(u.at_end)} for u in v.regions],
        "events": [event_data(e) for e in v.events],
    }
