"""Fuzzing harness: hypothesis strategies for board files, device-tree sources and kernel
command lines, and the property every run of dtgen must keep.

Shared by the bounded suite (tests/test_fuzz.py) and the long run (bench/bench_fuzz.py), so
the two try the same inputs and differ only in how many.

The property, for any input: dtgen ends with exit 0, 1 or 2; a 1 or 2 comes with at least one
diagnostic; every `file:line:col` it prints points inside the file it names; no traceback and
no internal error (exit 3); and the run ends within a time limit (a hang is a finding too).
dtgen runs in process with DTGEN_DEBUG=1, so an internal error arrives here as the exception
itself, with its traceback, instead of the one-line bug report a user would see.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import signal
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent.parent

# A diagnostic: `file:line:col: error|warning: message [rule]` (line/col optional, as for a
# whole-file I/O error), or click's own usage message.
DIAGNOSTIC = re.compile(r"^(?P<file>[^\n]+?)(?::(?P<line>\d+)(?::(?P<col>\d+))?)?: (?:error|warning): .*\[[a-z0-9-]+\]$", re.M)
USAGE = re.compile(r"^(?:Error|Usage): ", re.M)

# Seconds one command may take on a fuzzed input. The slowest legitimate case in the seeds is
# a few hundred milliseconds; what the fuzzer can make dtgen do is bounded by the schema
# (churn `ops` is capped), and those boards are run only through the commands that stay cheap.
TIME_LIMIT = float(os.environ.get("DTGEN_FUZZ_TIME_LIMIT", "10"))
# Churn operations above which a fuzzed board is validated and resolved but not simulated:
# simulation time is proportional to the ops the board asks for (0.16 s per 100,000), which
# is a cost the user chose, not a hang.
CHEAP_OPS = 200_000


class Finding(AssertionError):
    """A run that broke the property: what was run, and what went wrong."""


class _TooSlow(BaseException):
    # BaseException, so that no `except Exception` inside dtgen swallows it.
    pass


@dataclass
class Stats:
    """What a fuzz run tried: inputs per target and exit codes per command."""

    inputs: Counter[str] = field(default_factory=Counter)
    exits: Counter[str] = field(default_factory=Counter)
    slowest: dict[str, float] = field(default_factory=dict)  # command -> longest run, seconds
    longest: float = 0.0  # the longest single command since the caller last reset it


STATS = Stats()


# ---- running dtgen -----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_dtgen(args: list[str], cwd: Path, files: dict[str, str] | None = None) -> Outcome:
    """Run dtgen in process on `args` in `cwd`; check the property; return what it printed.

    `files` maps the input files' names (as shown in diagnostics) to their text, for the
    position check.
    """
    from click.testing import CliRunner

    from dtgen.cli import main

    def alarm(signum: int, frame: object) -> None:
        raise _TooSlow()

    old_cwd = os.getcwd()
    start = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        os.chdir(cwd)
        result = CliRunner().invoke(main, args, env={"DTGEN_DEBUG": "1", "COLUMNS": "100"})
    except _TooSlow:
        raise Finding(f"dtgen {' '.join(args)}: still running after {TIME_LIMIT:g} s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(old_cwd)
    took = time.perf_counter() - start
    STATS.slowest[args[0]] = max(STATS.slowest.get(args[0], 0.0), took)
    STATS.longest = max(STATS.longest, took)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else repr(result.exception)
        raise Finding(f"dtgen {' '.join(args)}: internal error\n{trace}")
    out = Outcome(result.exit_code, result.stdout, result.stderr)
    STATS.exits[f"{args[0]} {out.code}"] += 1
    _check(args, out, files or {})
    return out


def _check(args: list[str], out: Outcome, files: dict[str, str]) -> None:
    said = out.stdout + out.stderr
    if out.code not in (0, 1, 2):
        raise Finding(f"dtgen {' '.join(args)}: exit {out.code}\n{said}")
    if "Traceback" in said:
        raise Finding(f"dtgen {' '.join(args)}: printed a traceback\n{said}")
    places = [(m.group(0), m.group("file"), m.group("line"), m.group("col")) for m in DIAGNOSTIC.finditer(said)]
    if "json" in args and out.stdout.startswith("{"):
        # JSON output carries its findings as objects; position checks are the same.
        import json

        data = json.loads(out.stdout)
        places += [(repr(d), d.get("file"), d.get("line") or None, d.get("col") or None)
                   for d in data.get("diagnostics", ()) if d.get("severity") in ("error", "warning")]
    if out.code and not places and not USAGE.search(said) and not _verdict_failure(args, out):
        raise Finding(f"dtgen {' '.join(args)}: exit {out.code} with no diagnostic\n{said}")
    for shown, file, line_text, col_text in places:
        text = files.get(file)
        if text is None or line_text is None:
            continue
        line, col = int(line_text), int(col_text or 1)
        # YAML's line breaks (1.1): NEL, LS and PS end lines too, and the reader counts them.
        lines = re.split(r"\r\n|[\r\n\x85\u2028\u2029]", text)
        # A position may sit one past the end (an unexpected end of file).
        if not (1 <= line <= len(lines) + 1 and 1 <= col <= (len(lines[line - 1]) if line <= len(lines) else 0) + 2):
            raise Finding(f"dtgen {' '.join(args)}: position {line}:{col} is outside {file}\n{shown}")


def _verdict_failure(args: list[str], out: Outcome) -> bool:
    """`check` and `size` say a scenario does not fit in their table, not as a diagnostic."""
    return args[0] in ("check", "size") and out.code == 1 and ("FAILS" in out.stdout or "fails" in out.stdout)


# ---- board files -------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    name: str  # the board file's name, relative to the scratch directory
    data: Any = field(repr=False)  # the board as plain values
    extra: tuple[tuple[str, str], ...] = field(repr=False)  # other files it needs (includes), name -> text


def _seeds() -> tuple[Seed, ...]:
    out = []
    paths = sorted(ROOT.glob("boards/*.yaml")) + sorted(ROOT.glob("tests/emit/boards/*.yaml")) \
        + sorted(ROOT.glob("tests/corpus/good/*.yaml"))
    socs = tuple((f"boards/socs/{p.name}", p.read_text()) for p in sorted(ROOT.glob("boards/socs/*.yaml")))
    for path in paths:
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, dict):
            continue
        extra = socs if "include" in data else ()
        out.append(Seed(f"boards/{path.name}", data, extra))
    return tuple(out)


SEEDS = _seeds()

_HUGE = [2**64, 2**64 - 1, 2**63, -(2**63), 10**30, -1, 0, 1, 4095, 1e308, float("inf"), float("nan"), 0.5,
         "16E", "17E", "0xffffffffffffffffff", "1e400", "99999999999T", "-1M", "0x", "1.5G", "4K", "0K", "1_",
         " 1M ", "0b" + "1" * 70, "0o777", "1 M", "1MiB", "1mb", "K"]
_OTHER = [None, True, False, 0, -1, "", "x", "&label", "/path@1", [], {}, [1, 2], ["a"], {"a": 1}, {"name": "x"}, 1.5,
          "\u0000", "\t", "\u202e", "system", "default", "auto", "int", "CONFIG_X"]
_PUNCT = list(":-[]{},&*!|>'\"#%@`\t\n\\") + ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff", "\ud7ff",
                                              "\U0001f600", ": ", "- ", "? ", "---", "...", "<<: ", "*a", "&a ",
                                              "!!python/object/apply:os.system ['true'] ", "!!binary ", "!local ",
                                              "%YAML 1.1\n", "\r\n", "\r"]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, path + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, path + (i,)))
    return out


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(root: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    _get(root, path[:-1])[path[-1]] = new
    return root


def _deep(depth: int, kind: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value] if kind == 0 else {"a": value} if kind == 1 else {"name": "x", "size": value}
    return value


texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@st.composite
def mutation(draw: st.DrawFn, data: Any) -> Any:
    """One structural change to a board: a value deleted, retyped, made huge or tiny, replaced
    by text or deep nesting, duplicated, swapped with another, or a key added."""
    paths = _paths(data)
    path = draw(st.sampled_from(paths))
    op = draw(st.sampled_from(["delete", "retype", "huge", "text", "deep", "dup", "swap", "rename", "long", "add"]))
    if op == "delete" and path:
        parent = _get(data, path[:-1])
        del parent[path[-1]]
        return data
    if op == "retype":
        return _set(data, path, copy.deepcopy(draw(st.sampled_from(_OTHER))))
    if op == "huge":
        return _set(data, path, draw(st.sampled_from(_HUGE)))
    if op == "text":
        return _set(data, path, draw(texts))
    if op == "deep":
        return _set(data, path, _deep(draw(st.integers(2, 120)), draw(st.integers(0, 2))))
    if op == "dup":
        target = _get(data, path)
        if isinstance(target, list) and target:
            target.append(copy.deepcopy(target[draw(st.integers(0, len(target) - 1))]))
        elif path:
            parent = _get(data, path[:-1])
            if isinstance(parent, list):
                parent.append(copy.deepcopy(target))
        return data
    if op == "swap":
        other = draw(st.sampled_from(paths))
        if path and other and path[: len(other)] != other and other[: len(path)] != path:
            a, b = _get(data, path), _get(data, other)
            _set(data, path, copy.deepcopy(b))
            _set(data, other, copy.deepcopy(a))
        return data
    if op == "rename":
        names = [v for p in paths if isinstance(v := _get(data, p), str) and len(v) < 40]
        if names:
            return _set(data, path, draw(st.sampled_from(names)) + draw(st.sampled_from(["", "_", "x", "/x", ","])))
        return data
    if op == "long":
        n = draw(st.sampled_from([300, 5000]))
        return _set(data, path, draw(st.sampled_from(["x" * (n * 10), ["x"] * n, [{"name": f"n{i}"} for i in range(n // 10)]])))
    target = _get(data, path)
    if isinstance(target, dict):
        target[draw(st.sampled_from(["name", "size", "extra", "x-y", "", "0", "start", "via", "kinds", "steps"]))] = \
            copy.deepcopy(draw(st.sampled_from(_OTHER + _HUGE)))
    return data


@st.composite
def text_mutation(draw: st.DrawFn, text: str) -> str:
    """One change to the text itself: what a bad merge or a careless edit does to YAML."""
    lines = text.split("\n")
    i = draw(st.integers(0, max(len(lines) - 1, 0)))
    op = draw(st.sampled_from(["insert", "delete", "duplicate", "indent", "truncate", "swap", "bomb"]))
    if op == "insert":
        line = lines[i]
        at = draw(st.integers(0, len(line)))
        lines[i] = line[:at] + draw(st.sampled_from(_PUNCT)) + line[at:]
    elif op == "delete" and len(lines) > 1:
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "indent":
        lines[i] = draw(st.sampled_from(["", " ", "\t", "   ", "        "])) + lines[i].lstrip(" ")
    elif op == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    elif op == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        # An alias bomb, appended where a top-level key would go.
        lines.append("bomb: &a [" + ", ".join(["x"] * 9) + "]")
        for k in range(draw(st.integers(1, 12))):
            lines.append(f"bomb{k}: &a{k} [" + ", ".join([f"*a{k - 1}" if k else "*a"] * 9) + "]")
    return "\n".join(lines)


@dataclass(frozen=True)
class BoardCase:
    seed: Seed
    text: str = field(repr=False)
    data: bytes  # what is written: usually text as UTF-8, sometimes other bytes


@st.composite
def board_files(draw: st.DrawFn) -> BoardCase:
    """A real board (an example, an emit test board, a good corpus case) with one to three
    structural mutations, dumped in a random YAML style, and sometimes damaged as text."""
    seed = draw(st.sampled_from(SEEDS))
    data = copy.deepcopy(seed.data)
    for _ in range(draw(st.integers(0, 3))):
        data = draw(mutation(data))
    try:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans()),
                              default_flow_style=draw(st.sampled_from([False, None, True])),
                              width=draw(st.sampled_from([80, 40, 1000])))
    except (yaml.YAMLError, RecursionError):  # PyYAML's emitter recurses: keep the input small
        text = yaml.safe_dump(seed.data, sort_keys=False)
    if draw(st.integers(0, 3)) == 0:
        text = draw(text_mutation(text))
    encoding = draw(st.sampled_from(["utf-8"] * 12 + ["utf-16", "latin-1", "bom"]))
    if encoding == "bom":
        raw = b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    else:
        raw = text.encode(encoding, "surrogatepass" if encoding == "utf-8" else "replace")
    return BoardCase(seed, text, raw)


def _churn_ops(data: Any) -> int:
    total = 0
    for p in _paths(data):
        if p and p[-1] == "ops":
            v = _get(data, p)
            total += v if isinstance(v, int) and not isinstance(v, bool) else 0
    return total


def check_board(case: BoardCase, scratch: Path) -> int:
    """Write the case into a fresh `scratch`, run validate, and when the board validates, the
    commands that read it further: resolve, check, emit (every output) and map. A board that
    validates must emit."""
    STATS.inputs["board"] += 1
    if scratch.exists():
        shutil.rmtree(scratch)
    (scratch / "boards").mkdir(parents=True)
    (scratch / ".git").mkdir()  # the include root
    for name, text in case.seed.extra:
        (scratch / name).parent.mkdir(parents=True, exist_ok=True)
        (scratch / name).write_text(text)
    (scratch / case.seed.name).write_bytes(case.data)
    try:
        shown = {case.seed.name: case.data.decode("utf-8")}
    except UnicodeDecodeError:
        shown = {}
    shown.update(dict(case.seed.extra))
    first = run_dtgen(["validate", case.seed.name], scratch, shown)
    if first.code != 0:
        return first.code
    run_dtgen(["resolve", case.seed.name, "--format", "json"], scratch, shown)
    try:
        ops = _churn_ops(yaml.safe_load(case.data))
    except yaml.YAMLError:
        ops = 0
    if ops > CHEAP_OPS:
        return 0
    run_dtgen(["check", case.seed.name], scratch, shown)
    emitted = run_dtgen(["emit", case.seed.name, "-o", "out"], scratch, shown)
    if emitted.code != 0:
        # The gate's promise (dtgen/pipeline.py): a board that validates is a board that emits.
        raise Finding(f"dtgen validate {case.seed.name} passed, but emit exited {emitted.code}:\n"
                      f"{emitted.stdout}{emitted.stderr}")
    if emitted.code == 0:
        run_dtgen(["emit", case.seed.name, "-o", "out", "--only", "report"], scratch, shown)
        run_dtgen(["emit", case.seed.name, "-o", "out", "--check"], scratch, shown)
    run_dtgen(["map", case.seed.name, "-o", "map.svg"], scratch, shown)
    return 0


# ---- device-tree sources for import -------------------------------------------------------


_NAMES = st.sampled_from(["pool", "cma", "linux,cma", "secmon", "ramoops", "mfc-left", "gpu", "x", "a-b", "n"])
_COMPATIBLE = st.sampled_from(['"shared-dma-pool"', '"restricted-dma-pool"', '"ramoops"', '"vendor,thing"', '""',
                               '"shared-dma-pool", "x"', "<1>"])


def _cells(draw: st.DrawFn, value: int, n: int) -> str:
    """`value` as `n` cells, sometimes written the way kernel trees write them."""
    if value >> (32 * n) and draw(st.integers(0, 9)):
        value &= (1 << (32 * n)) - 1  # mostly in range: dtc refuses the rest, which is tested too
    parts = [(value >> (32 * (n - 1 - k))) & 0xFFFFFFFF for k in range(n)]
    style = draw(st.integers(0, 5))
    if style == 0 and n == 1:
        return f"({value >> 20} << 20)" if value and value % (1 << 20) == 0 else f"{value:#x}"
    if style == 1:
        return " ".join(str(p) for p in parts)
    return " ".join(f"{p:#x}" for p in parts)


@st.composite
def dts_sources(draw: st.DrawFn) -> str:
    """A board tree with /memory, /memreserve/, /reserved-memory and consumers: mostly
    well formed, with cells, sizes, references and properties chosen to hit what import
    checks (and a damaged copy a fraction of the time)."""
    ac = draw(st.sampled_from([1, 2, 2, 3]))
    sc = draw(st.sampled_from([1, 2, 2, 0]))
    rac = draw(st.sampled_from([ac, ac, ac, 1, 2]))
    rsc = draw(st.sampled_from([sc, sc, sc, 1, 2]))
    big = st.sampled_from([0, 1, 0x1000, 0x100000, 0x400000, 0x2000000, 0x40000000, 0x80000000, 0xFFFFFFFF,
                           0x100000000, 2**64 - 1])
    out = ["/dts-v1/;"]
    for _ in range(draw(st.integers(0, 2))):
        out.append(f"/memreserve/ {draw(big):#x} {draw(big):#x};")
    if draw(st.integers(0, 9)) == 0:
        out.append('/include/ "missing.dtsi"')
    out.append("/ {")
    out.append(f"\t#address-cells = <{ac}>;\n\t#size-cells = <{sc}>;")
    for i in range(draw(st.integers(0, 2))):
        reg = " ".join(f"{_cells(draw, draw(big), ac)} {_cells(draw, draw(big), sc)}" for _ in range(draw(st.integers(0, 2))))
        prop = draw(st.sampled_from(["reg", "reg", "linux,usable-memory"]))
        out.append(f'\tmemory@{i:x} {{ device_type = "memory"; {prop} = <{reg}>; }};')
    labels: list[str] = []
    if draw(st.integers(0, 7)):
        out.append("\treserved-memory {")
        out.append(f"\t\t#address-cells = <{rac}>;\n\t\t#size-cells = <{rsc}>;")
        if draw(st.integers(0, 5)):
            out.append("\t\tranges;")
        for i in range(draw(st.integers(0, 6))):
            label = f"r{i}"
            labels.append(label)
            props = []
            if draw(st.booleans()):
                props.append(f"reg = <{_cells(draw, draw(big), rac)} {_cells(draw, draw(big), rsc)}>")
            if draw(st.booleans()):
                props.append(f"size = <{_cells(draw, draw(big), rsc)}>")
            if draw(st.booleans()):
                props.append(f"alignment = <{_cells(draw, draw(big), rsc)}>")
            if draw(st.integers(0, 3)) == 0:
                props.append(f"alloc-ranges = <{_cells(draw, draw(big), rac)} {_cells(draw, draw(big), rsc)}>")
            if draw(st.integers(0, 3)) == 0:
                props.append(f"record-size = /bits/ 64 <{draw(big):#x}>")
            for flag in ("no-map", "reusable", "linux,cma-default", "linux,dma-default"):
                if draw(st.integers(0, 3)) == 0:
                    props.append(flag)
            if draw(st.booleans()):
                props.append(f"compatible = {draw(_COMPATIBLE)}")
            if draw(st.integers(0, 5)) == 0:
                props.append("iommu-addresses = <0 0 0 0 0>")
            name = draw(_NAMES)
            unit = f"@{draw(big):x}" if draw(st.booleans()) else ""
            out.append(f"\t\t{label}: {name}{unit}{'_' * i} {{ {'; '.join(props)}{';' if props else ''} }};")
        out.append("\t};")
    for i in range(draw(st.integers(0, 4))):
        props = []
        if labels or draw(st.integers(0, 4)) == 0:
            refs = draw(st.lists(st.sampled_from(labels * 8 + ["nowhere"]) if labels else st.just("nowhere"), min_size=0, max_size=3))
            props.append("memory-region = <" + " ".join(f"&{r}" for r in refs) + ">")
            if draw(st.booleans()):
                names = draw(st.lists(st.sampled_from(["left", "right", "fw", "a b", "x-y", "0", ""]), max_size=3))
                props.append("memory-region-names = " + ", ".join(f'"{n}"' for n in names) if names else "memory-region-names")
        if draw(st.booleans()):
            props.append(f"compatible = {draw(_COMPATIBLE)}")
        if draw(st.integers(0, 4)) == 0:
            props.append(f"dma-ranges = <{_cells(draw, draw(big), ac)} {_cells(draw, draw(big), ac)} {_cells(draw, draw(big), sc)}>")
        out.append(f"\tdev{i}: device@{i:x} {{ {'; '.join(props)}{';' if props else ''} }};")
    if draw(st.integers(0, 9)) == 0 and labels:
        out.append(f"\t/delete-node/ &{labels[0]};")
    out.append("};")
    text = "\n".join(out) + "\n"
    if draw(st.integers(0, 6)) == 0:
        text = _damage(draw, text)
    return text


def _damage(draw: st.DrawFn, text: str) -> str:
    op = draw(st.sampled_from(["truncate", "insert", "delete", "fragment"]))
    if op == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if op == "fragment":
        # No /dts-v1/: import reads it as a fragment, with pydevicetree.
        return text.replace("/dts-v1/;", "", 1)
    at = draw(st.integers(0, len(text)))
    if op == "delete":
        return text[:at] + text[at + draw(st.integers(1, 20)):]
    junk = draw(st.sampled_from(list("{};<>&\"'/#=,@\\\n") + ["/bits/ 8", "'a'", "(1 + (2 * 3))", "\x00", "\u00e9",
                                                                  "#include <missing.h>", "/delete-property/ x;",
                                                                  "&{/}", "0x", "<&>", "label: label:", "/include/ \"/etc/passwd\"",
                                                                  "}" * 40, "{" * 80]))
    return text[:at] + junk + text[at:]


def check_dts(source: str, scratch: Path, arch: str = "arm64") -> int:
    """`dtgen import` of the source; when it writes a board, that board passes the full
    validate (schema included) with no schema error: import only writes what the schema takes."""
    STATS.inputs["dts"] += 1
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    (scratch / "board.dts").write_text(source, encoding="utf-8", errors="surrogatepass")
    out = run_dtgen(["import", "board.dts", "--arch", arch, "--kernel", "6.12", "-o", "board.yaml"], scratch,
                    {"board.dts": source})
    written = scratch / "board.yaml"
    if written.exists():
        text = written.read_text()
        checked = run_dtgen(["validate", "board.yaml"], scratch, {"board.yaml": text})
        if "[schema]" in checked.stderr or "[yaml-" in checked.stderr:
            raise Finding(f"import wrote a board the schema rejects:\n{checked.stderr}\n--- source\n{source}\n--- board\n{text}")
    return out.code


# ---- kernel command lines ------------------------------------------------------------------


_CMDLINE_TOKENS = st.sampled_from([
    "cma=", "cma_map=", "cma.map=", "console=ttyS0", "64M", "0x1000", "16E", "17E", "0", "-", "@", ",", ";", ":", "/",
    "=", "*", "?", "video", "mfc", "s5p-mfc", "a/b", "r1", "bf", "best-fit", "(", ")", "1K", "4K", "\"", "\\", " ",
    "  ", "\t", "99999999999999999999", "0x", "k", "M", "G", "T", "P", "E", "<", ">", "\u00e9", "\x00", "\n", "=",
])


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[str, str]:
    syntax = draw(st.sampled_from(["mainline", "2010-v1", "2010-v3"]))
    if draw(st.integers(0, 3)) == 0:
        return syntax, draw(st.text(max_size=80))
    return syntax, "".join(draw(st.lists(_CMDLINE_TOKENS, max_size=30)))


def check_cmdline(syntax: str, text: str, scratch: Path) -> int:
    """`dtgen cmdline parse`; what it reads (JSON) it also prints as text without failing."""
    STATS.inputs["cmdline"] += 1
    scratch.mkdir(parents=True, exist_ok=True)
    out = run_dtgen(["cmdline", "parse", "--syntax", syntax, "--format", "json", "--", text], scratch)
    if out.code == 0:
        run_dtgen(["cmdline", "parse", "--syntax", syntax, "--", text], scratch)
    return out.code


TARGETS: dict[str, tuple[Callable[[], st.SearchStrategy[Any]], Callable[..., int]]] = {
    "board": (board_files, check_board),
    "dts": (dts_sources, check_dts),
    "cmdline": (command_lines, lambda case, scratch: check_cmdline(case[0], case[1], scratch)),
}


def have_dtc() -> bool:
    return shutil.which("dtc") is not None and shutil.which("cpp") is not None


if __name__ == "__main__":  # pragma: no cover - a quick look at what the strategies make
    print(board_files().example().text if sys.argv[1:] == ["board"] else dts_sources().example())
