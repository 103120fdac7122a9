"""`dtgen verify`: compare the resolved layout with what a kernel printed at boot.

The lines read, with the kernel code that prints them (docs/kernel-research.md section 7):
- `OF: reserved mem: 0x...0000..0x...ffff (N KiB) nomap|map reusable|non-reusable NAME`:
  drivers/of/of_reserved_mem.c, one line per reserved-memory node that initialised (6.3+);
  the exact base and size.
- `Reserved memory: created CMA memory pool at 0x..., size N MiB` (kernel/dma/contiguous.c
  rmem_cma_setup()) and `... created DMA memory pool ...` (kernel/dma/coherent.c
  rmem_dma_setup()), each followed by `OF: reserved mem: initialized node NAME, compatible id
  C` (__reserved_mem_init_node()): the base, and the size in whole MiB (truncated).
- `OF: reserved mem: failed to allocate memory for node 'NAME'` (newer kernels add `: size N MiB`).
- `cma: Reserved N MiB at 0x...` (mm/cma.c, cma_declare_contiguous_nid(), 3.17+; ` on node K`
  in 6.6-6.14): an area declared from memblock: the Kconfig or `cma=` default area, or an
  area the platform code declared. It carries no name.
- `cma: CMA area NAME could not be activated` (mm/cma.c cma_activate_area(), at core_initcall):
  the area straddles a zone boundary (ARM32 lowmem/highmem, arm64 ZONE_DMA32), and its pages
  went back to the page allocator.
- `Reserved memory: bypass NAME node, using cmdline CMA params instead` (rmem_cma_setup() with
  `cma=` on the command line) and `OF: reserved mem: node NAME compatible matching fail`
  (__reserved_mem_init_node(): no handler accepted the node, so it was released);
  `Reserved memory: incorrect alignment of CMA region` says why a CMA node was refused.
- `Kernel command line: ...`, `node   N: [mem 0x...-0x...]` (the RAM the kernel was given),
  and EFI/OP-TEE lines, which say when firmware changed the tree before the kernel saw it.
- `** N printk messages dropped **` (the console could not keep up) and a log that does not
  start at the kernel's banner (`Booting Linux on physical CPU`, `Linux version`): the log is
  incomplete, and a region it does not name is not known to be missing.
A line may carry a `<N>` level, a `[ seconds]` stamp or a journal prefix: the messages are
found anywhere in the line. Addresses are `%pa`, zero-padded to the width of phys_addr_t.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dtgen.emit.dts import node_name
from dtgen.memblock import merge
from dtgen.model import Board, Layout
from dtgen.units import fmt_addr, fmt_range, fmt_size

MiB = 1 << 20

_TABLE = re.compile(r"OF: reserved mem: (0x[0-9a-fA-F]+)\.\.(0x[0-9a-fA-F]+) \((\d+) KiB\) (nomap|map) (reusable|non-reusable) (\S+)")
_POOL = re.compile(r"Reserved memory: created (CMA|DMA) memory pool at (0x[0-9a-fA-F]+), size (\d+) MiB")
_INIT = re.compile(r"OF: reserved mem: initialized node ([^,\s]+), compatible id (\S+)")
_FAILED = re.compile(r"OF: reserved mem: failed to allocate memory for node '([^']+)'")
# __reserved_mem_reserve_reg(): a static node early_init_dt_reserve_memory() refused (-EBUSY: a
# no-map range over memory already reserved).
_NOT_RESERVED = re.compile(r"Reserved memory: failed to reserve memory for node '([^']+)'")
_CMA = re.compile(r"cma: Reserved (\d+) MiB at (0x[0-9a-fA-F]+)")
_CMA_FAILED = re.compile(r"cma: Failed to reserve (\d+) MiB")
_INACTIVE = re.compile(r"cma: CMA area (\S+) could not be activated")
# 6.19 and 6.18.9 (0fd17e598333) skip the node before allocating it, with another line.
_BYPASS = re.compile(r"Reserved memory: bypass (\S+) node, using cmdline CMA params instead"
                     r"|Skipping dt linux,cma-default for \"cma=\" kernel param")
_MATCH_FAIL = re.compile(r"OF: reserved mem: node (\S+) compatible matching fail")
_BAD_ALIGN = re.compile(r"Reserved memory: incorrect alignment of CMA region")
_DROPPED = re.compile(r"\*\* (\d+) printk messages dropped \*\*")
_BANNER = re.compile(r"Booting Linux on physical CPU|Linux version \d")
_RAM = re.compile(r"node +\d+: \[mem (0x[0-9a-fA-F]+)-(0x[0-9a-fA-F]+)\]")
_CMDLINE = re.compile(r"Kernel command line: (.*)$")
_EFI = re.compile(r"\b(EFI stub:|efi: EFI v|efi: UEFI(?! not found))")
_OPTEE = re.compile(r"\boptee: ")
_FIRMWARE_NODE = re.compile(r"optee|tee|secmon|bl31|atf|tfa|trusted|psci|opensbi|uboot|u-boot", re.I)


@dataclass(frozen=True)
class Seen:
    """One reservation the log reports."""

    name: str  # the node name, or "" for a `cma: Reserved` line
    start: int
    size: int
    exact: bool  # False when only whole MiB are known
    line: int
    what: str  # table | CMA pool | DMA pool | cma


@dataclass(frozen=True)
class Log:
    seen: tuple[Seen, ...]
    failed: tuple[tuple[str, int], ...]  # (node name, line)
    cma_failed: tuple[tuple[int, int], ...]  # (MiB, line)
    ram: tuple[tuple[int, int], ...]  # [start, end) as the kernel got it
    cmdline: str | None
    efi: int  # the first EFI line, or 0
    optee: int
    lines: int
    inactive: tuple[tuple[str, int], ...] = ()  # CMA areas that could not be activated: (name, line)
    bypassed: tuple[tuple[str, int], ...] = ()  # linux,cma-default nodes skipped for `cma=` ("": unnamed)
    refused: tuple[tuple[str, int, str], ...] = ()  # (node, line, why) no handler accepted
    dropped: tuple[tuple[int, int], ...] = ()  # (messages, line)
    banner: int = 0  # the line of the kernel's banner, 0 when the log lacks it
    ram_line: int = 0
    cmdline_line: int = 0

    @property
    def incomplete(self) -> str:
        """Why the log may lack lines, or "" when it is whole."""
        if self.dropped:
            count, line = self.dropped[0]
            return f"the console dropped {count} messages at line {line}"
        if not self.banner:
            return "it does not start at the kernel's banner (`Booting Linux`, `Linux version`)"
        return ""


@dataclass(frozen=True)
class Row:
    region: str
    predicted: tuple[int, int] | None  # (start, size)
    actual: Seen | None
    verdict: str  # matches | unseen, or one of DIFFERENCES
    note: str = ""


# Verdicts that are differences: the kernel did something else than predicted.
DIFFERENCES = ("moved", "missing", "unexpected", "bypassed", "refused", "inactive")


@dataclass(frozen=True)
class Report:
    rows: tuple[Row, ...]
    notes: tuple[str, ...]

    @property
    def differs(self) -> bool:
        return any(r.verdict in DIFFERENCES for r in self.rows)


def parse_log(text: str) -> Log:
    seen: list[Seen] = []
    failed: list[tuple[str, int]] = []
    cma_failed: list[tuple[int, int]] = []
    ram: list[tuple[int, int]] = []
    cmdline: str | None = None
    efi = optee = banner = ram_line = cmdline_line = 0
    inactive: list[tuple[str, int]] = []
    bypassed: list[tuple[str, int]] = []
    refused: list[tuple[str, int, str]] = []
    dropped: list[tuple[int, int]] = []
    why_refused = ""
    pending: list[tuple[str, int, int, int]] = []  # pools waiting for their "initialized node" line
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if not banner and _BANNER.search(line):
            banner = number
        if m := _TABLE.search(line):
            start, last = int(m.group(1), 16), int(m.group(2), 16)
            seen.append(Seen(m.group(6), start, last - start + 1, True, number, "table"))
        elif m := _POOL.search(line):
            pending.append((m.group(1), int(m.group(2), 16), int(m.group(3)) * MiB, number))
        elif m := _INIT.search(line):
            if pending:
                kind, start, size, at = pending.pop(0)
                seen.append(Seen(m.group(1), start, size, False, at, f"{kind} pool"))
        elif m := _FAILED.search(line):
            failed.append((m.group(1), number))
        elif m := _NOT_RESERVED.search(line):
            refused.append((m.group(1), number, "early_init_dt_reserve_memory() refused it: a no-map range over "
                                                "memory already reserved (-EBUSY)"))
        elif m := _CMA.search(line):
            seen.append(Seen("", int(m.group(2), 16), int(m.group(1)) * MiB, False, number, "cma"))
        elif m := _CMA_FAILED.search(line):
            cma_failed.append((int(m.group(1)) * MiB, number))
        elif m := _RAM.search(line):
            ram.append((int(m.group(1), 16), int(m.group(2), 16) + 1))
            ram_line = ram_line or number
        elif m := _CMDLINE.search(line):
            if cmdline is None:
                cmdline, cmdline_line = m.group(1).strip(), number
        elif m := _INACTIVE.search(line):
            inactive.append((m.group(1), number))
        elif m := _BYPASS.search(line):
            bypassed.append((m.group(1) or "", number))  # "": the line names no node
        elif _BAD_ALIGN.search(line):
            why_refused = "its base or size is not a multiple of the CMA minimum alignment (\"incorrect alignment of CMA region\")"
        elif m := _MATCH_FAIL.search(line):
            refused.append((m.group(1), number, why_refused))
            why_refused = ""
        elif m := _DROPPED.search(line):
            dropped.append((int(m.group(1)), number))
        if not efi and _EFI.search(line):
            efi = number
        if not optee and _OPTEE.search(line):
            optee = number
    # A node that prints both forms (6.3+) is kept once, with the exact table line.
    exact = {s.name for s in seen if s.exact}
    kept = tuple(s for s in seen if s.exact or not s.name or s.name not in exact)
    return Log(kept, tuple(failed), tuple(cma_failed), tuple(ram), cmdline, efi, optee, len(lines),
               tuple(inactive), tuple(bypassed), tuple(refused), tuple(dropped), banner, ram_line, cmdline_line)


def banner_text(text: str) -> str:
    """The kernel's `Linux version ...` line, without its timestamp, or ""."""
    for line in text.splitlines():
        at = line.find("Linux version ")
        if at >= 0:
            return line[at:].strip()
    return ""


def _same_size(seen: Seen, size: int) -> bool:
    return seen.size == size if seen.exact else seen.size == size // MiB * MiB


def _straddles(layout: Layout, start: int, end: int) -> bool:
    return any(start < zone.address < end for zone in layout.zones)


def compare(board: Board, layout: Layout, log: Log, log_name: str) -> Report:
    rows: list[Row] = []
    notes: list[str] = []
    used: set[int] = set()
    by_name = {s.name: i for i, s in enumerate(log.seen) if s.name}
    failed = dict(log.failed)
    bypassed = dict(log.bypassed)
    refused = {name: (line, why) for name, line, why in log.refused}
    inactive = dict(log.inactive)
    # A log with no reservation line at all proves nothing either way: that is a finding.
    incomplete = log.incomplete if log.seen or log.failed or log.bypassed or log.refused else ""
    given = next((w for w in (log.cmdline or "").split() if w.startswith("cma=")), None)
    modern_table = board.kernel.version >= (6, 3)
    for p in layout.placements:
        region = board.region(p.region)
        predicted = (p.start, p.size)
        area = "reserved"  # the name mm/cma.c gives the Kconfig/cma= default area
        if p.reserved_by == "devicetree" and region is not None:
            name = area = node_name(region)
            index = by_name.get(name)
            if index is None:
                if name not in bypassed and region.default and "" in bypassed:
                    bypassed[name] = bypassed[""]
                if name in bypassed:
                    rows.append(Row(p.region, predicted, None, "bypassed",
                                    f"the kernel skipped and freed `{name}` ({log_name}:{bypassed[name]}) because the "
                                    f"command line has `{given or 'cma='}` ({log_name}:{log.cmdline_line}); that area "
                                    "replaces it"))
                elif name in refused:
                    line, why = refused[name]
                    what = ("the kernel did not reserve" if why.startswith("early_init_dt_reserve_memory")
                            else "no handler accepted")
                    rows.append(Row(p.region, predicted, None, "refused",
                                    f"{what} `{name}` ({log_name}:{line})" + (f": {why}" if why else "")
                                    + ("" if what.startswith("the kernel") else "; the kernel released it")))
                elif name in failed:
                    rows.append(Row(p.region, predicted, None, "missing",
                                    f"the kernel could not allocate `{name}` ({log_name}:{failed[name]})"))
                elif p.kind == "plain" and not modern_table:
                    rows.append(Row(p.region, predicted, None, "unseen",
                                    f"kernels before 6.3 print only nodes a handler claims; `{name}` has none"))
                elif incomplete:
                    rows.append(Row(p.region, predicted, None, "unseen", f"no line names `{name}`, but the log is incomplete"))
                else:
                    rows.append(Row(p.region, predicted, None, "missing", f"no line names the node `{name}`"))
                continue
            used.add(index)
            seen = log.seen[index]
        else:
            # `cma: Reserved` lines carry no name: match an unnamed line by address, then by size.
            if p.kind != "cma":
                rows.append(Row(p.region, predicted, None, "unseen", "the kernel prints no line for this reservation"))
                continue
            candidates = [i for i, s in enumerate(log.seen) if not s.name and i not in used]
            index = next((i for i in candidates if log.seen[i].start == p.start), None)
            if index is None:
                index = next((i for i in candidates if _same_size(log.seen[i], p.size)), None)
            if index is None:
                gone = next((n for size, n in log.cma_failed if size == p.size // MiB * MiB), None)
                if gone:
                    rows.append(Row(p.region, predicted, None, "missing", f"cma could not reserve it ({log_name}:{gone})"))
                elif incomplete:
                    rows.append(Row(p.region, predicted, None, "unseen", "no `cma: Reserved` line, but the log is incomplete"))
                else:
                    rows.append(Row(p.region, predicted, None, "missing", "no `cma: Reserved` line for it"))
                continue
            used.add(index)
            seen = log.seen[index]
        if not (seen.start == p.start and _same_size(seen, p.size)):
            moved_ram = bool(log.ram) and _merged(log.ram) != _merged(layout.memory)
            rows.append(Row(p.region, predicted, seen, "moved", "the kernel got other RAM (see the notes)" if moved_ram else ""))
        elif p.kind == "cma" and area in inactive:
            expected = _straddles(layout, p.start, p.end)
            rows.append(Row(p.region, predicted, seen, "matches" if expected else "inactive",
                            f"placed as predicted; the kernel could not activate the CMA area ({log_name}:{inactive[area]})"
                            + (", as predicted: it crosses a zone limit" if expected else "")))
        else:
            rows.append(Row(p.region, predicted, seen, "matches"))
    for i, s in enumerate(log.seen):
        if i in used:
            continue
        why = ""
        if s.name and _FIRMWARE_NODE.search(s.name):
            why = "a firmware node: OP-TEE, TF-A or the bootloader added it to the tree before the kernel saw it"
        elif not s.name and given is not None:
            why = f"the area the command line's `{given}` makes ({log_name}:{log.cmdline_line}); the board has no cma= region"
        rows.append(Row(s.name or "(unnamed CMA area)", None, s, "unexpected", why))

    ram = _merged(layout.memory)
    if log.ram and _merged(log.ram) != ram:
        text = ", ".join(f"{fmt_range(a, b)}" for a, b in _merged(log.ram))
        cause = ("the EFI stub replaced /memory with the UEFI memory map" if log.efi else
                 "the bootloader rewrote /memory (U-Boot fixes up the memory node from its own settings)")
        notes.append(f"the kernel got RAM {text}, not the board's banks: {cause}; placements that depend on the "
                     f"top of RAM move with it ({log_name}:{log.efi or log.ram_line})")
    if log.optee:
        notes.append(f"OP-TEE is running ({log_name}:{log.optee}): it reserves its own memory through the tree")
    if given is not None and not any(r.default and r.via[0] == "cmdline" for r in board.regions):
        notes.append(f"the command line has `{given}` ({log_name}:{log.cmdline_line}), which the board does not: it "
                     "replaces the default area and makes the kernel skip a linux,cma-default node")
    if incomplete and (log.seen or log.failed):
        notes.append(f"the log is incomplete: {incomplete}; regions it does not name are `unseen`, not missing "
                     "(a serial log from the first line, or `journalctl -k -b`, has every line)")
    if not log.seen and not log.failed:
        notes.append("the log has no reserved-memory or CMA lines: is it the start of the boot (dmesg's ring buffer "
                     "may have wrapped; a serial log or `journalctl -k -b` has it all)?")
    return Report(tuple(rows), tuple(notes))


def _merged(ranges: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> list[tuple[int, int]]:
    return merge(list(ranges))


def as_text(report: Report, log_name: str) -> str:
    def span(start: int, size: int, exact: bool = True) -> str:
        return f"{fmt_addr(start)} {fmt_size(size) if exact else f'{size // MiB} MiB (whole MiB)'}"

    rows = [["region", "predicted", "in the log", "verdict"]]
    for r in report.rows:
        predicted = span(*r.predicted) if r.predicted else "-"
        actual = f"{span(r.actual.start, r.actual.size, r.actual.exact)} ({log_name}:{r.actual.line})" if r.actual else "-"
        rows.append([r.region, predicted, actual, r.verdict + (f": {r.note}" if r.note else "")])
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip() for row in rows]
    lines += [f"note: {n}" for n in report.notes]
    differing = sum(r.verdict in DIFFERENCES for r in report.rows)
    lines.append(f"{differing} difference{'s' if differing != 1 else ''}" if differing else "the log matches the prediction")
    return "\n".join(lines) + "\n"


def as_data(report: Report) -> dict[str, object]:
    return {
        "rows": [
            {"region": r.region, "verdict": r.verdict, "note": r.note,
             "predicted": {"start": r.predicted[0], "size": r.predicted[1]} if r.predicted else None,
             "actual": {"name": r.actual.name, "start": r.actual.start, "size": r.actual.size, "exact": r.actual.exact,
                        "line": r.actual.line, "from": r.actual.what} if r.actual else None}
            for r in report.rows
        ],
        "notes": list(report.notes),
        "differs": report.differs,
    }
