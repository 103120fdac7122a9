"""Kernel command lines for CMA read: `cma=` as mainline and the 2010 patch set take it (the
writers are dtgen/emit/cmdline.py).

Three syntaxes (docs/cmdline.md has the grammars, the limits and the sources):
- `mainline`: `cma=size[@start[-end]]`, kernel/dma/contiguous.c early_cma() (the `@` forms since
  about 3.16; 3.5-3.15 read only the size).
- `2010-v1`: the first CMA patch (20 Jul 2010): `cma=` regions and `cma_map=` rules, each copied
  into a 512-byte buffer by mm/cma.c.
- `2010-v3`: RFCv3-v5 (Aug-Sep 2010), "Added command line parameters support": `cma=` regions
  with an optional `-` (not an asterisk region, v3 only) and `cma.map=` rules. v2 had `cma=` and
  no map parameter; v6 has no command-line parameters at all.

`parse` returns what the kernel ends up with, not the raw text: the 2010 region sizes are
page-aligned, the alignment raised to a page and the start rounded up to it, and `@0` (v1:
"anywhere") is no start. Each rounding is told in `Parsed.notes`. Everything here is pure: no
I/O, no printing; malformed text raises CmdlineError and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from dtgen.memblock import round_up
from dtgen.units import fmt_addr, fmt_range, fmt_size, is_power_of_two

SYNTAXES = ("mainline", "2010-v1", "2010-v3")
PATCHES = ("v1", "v2", "v3", "v4", "v5", "v6")

# The 2010 patch ran on 32-bit ARM: 4 KiB pages, and sizes and addresses in unsigned long,
# size_t and dma_addr_t, which the parsers check against (~(type)0).
PAGE_SIZE = 4096
LEGACY_LIMIT = 1 << 32
MAINLINE_LIMIT = 1 << 64
V1_BUFFER = 512  # CMA_MAX_PARAM_LEN: strlcpy() keeps 511 characters and the NUL
V1_MAX_REGIONS = 16  # CMA_MAX_REGIONS
V1_MAX_RULES = 64  # CMA_MAX_MAPPINGS
V3_MAX_REGIONS = 15  # `static struct cma_region regions[16]`, counted with `!--left`
LEGACY_ALLOCATORS = ("bf", "gen")  # best-fit (v1-v6), genalloc (v6 only)

_SPACE = " \t\n\v\f\r"  # the kernel's isspace() for ASCII
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_NAME_CHARS = _NAME_START | frozenset(".+-")
_DEVICE_CHARS = _NAME_CHARS | frozenset(":")  # dev_name(): the schema's devname characters
_SHIFTS = {"k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}


# ---- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CmdRegion:
    """One region of a 2010 `cma=` value, as the kernel registers it.

    `start` is None when the kernel places the region itself (no `@`, or v1's `@0`);
    `alignment` is the alignment after rounding (at least a page); `allocator` None means the
    first registered allocator; `params` is v1's `(alloc-params)`; `asterisk` is v2/v3's flag
    (False after a leading `-`), None for v1, which has no such thing.
    """

    name: str
    size: int
    start: int | None = None
    alignment: int | None = None
    allocator: str | None = None
    params: str | None = None
    asterisk: bool | None = None


@dataclass(frozen=True)
class CmdRule:
    """One map rule: patterns as written (`dev/kind`, `dev`, `/kind`), then the regions tried
    left to right. In 2010-v3 syntax a region list of `*` alone means v3's asterisk regions."""

    patterns: tuple[str, ...]
    regions: tuple[str, ...]


@dataclass(frozen=True)
class MainlineCma:
    """`cma=` as early_cma() and dma_contiguous_reserve() read it.

    `size` 0 disables the default area (`cma=0`). `base` 0 means anywhere. `end` is the limit
    early_cma() records: 0 for none (the arch limit applies), `base + size` for `@start` alone.
    `fixed` is dma_contiguous_reserve()'s `base + size == limit`: `@start` alone, or a range
    exactly as large as the area; otherwise the area is placed anywhere in [base, end).
    """

    size: int
    base: int = 0
    end: int = 0
    fixed: bool = False

    @property
    def disabled(self) -> bool:
        return self.size == 0


@dataclass(frozen=True)
class Parsed:
    syntax: str
    regions: tuple[CmdRegion, ...] = ()
    rules: tuple[CmdRule, ...] = ()
    mainline: MainlineCma | None = None  # mainline syntax: None when there is no `cma=`
    # What the kernel rounded or read differently from how it is written; not part of equality.
    notes: tuple[str, ...] = field(default=(), compare=False)


class CmdlineError(ValueError):
    """Malformed command-line text; `column` counts from 1 in the text given to parse()."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return self.message


# ---- formatting ------------------------------------------------------------------------------


# ---- the command line ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Param:
    name: str
    value: str | None
    name_at: int  # offset of the name in the text
    value_at: int  # offset of the value's first character


def _params(text: str, stop_at_dashes: bool) -> Iterator[_Param]:
    """Split a command line as lib/cmdline.c next_arg() does: whitespace between parameters,
    `"` quotes around spaces (not escapable), the first `=` after the name's first character
    starts the value, and quotes around the value or the whole parameter are dropped."""
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            return
        quoted = text[i] == '"'
        begin = i + 1 if quoted else i
        in_quote, equals, k = quoted, -1, begin
        while k < n and (in_quote or text[k] not in _SPACE):
            if equals < 0 and text[k] == "=" and k > begin:
                equals = k
            if text[k] == '"':
                in_quote = not in_quote
            k += 1
        # Quotes: one around the whole parameter, or one opening the value, loses its closing
        # partner at the very end of the parameter.
        closing = k - 1 >= begin and text[k - 1] == '"'
        i = k
        if equals < 0:
            yield _Param(text[begin:k - 1 if quoted and closing else k], None, begin, k)
            if stop_at_dashes and text[begin:k] == "--":
                return  # parse_args() hands everything after `--` to init
            continue
        value_at = equals + 1
        value_quoted = value_at < k and text[value_at] == '"'
        if value_quoted:
            value_at += 1
        value_end = k - 1 if (quoted or value_quoted) and closing else k
        yield _Param(text[begin:equals], text[value_at:max(value_at, value_end)], begin, value_at)


_PARAMETERS = {"mainline": ("cma",), "2010-v1": ("cma", "cma_map"), "2010-v3": ("cma", "cma.map")}
_MISPLACED = {
    "mainline": {
        "cma_map": "`cma_map=` is the 2010 v1 patch's parameter; a mainline kernel passes it to init",
        "cma.map": "`cma.map=` is the 2010 v3-v5 patch's parameter; a mainline kernel passes it to init",
    },
    "2010-v1": {"cma.map": "`cma.map=` is the v3-v5 parameter; v1 reads `cma_map=`"},
    "2010-v3": {"cma_map": "`cma_map=` is the v1 parameter; v3-v5 read `cma.map=` (v2 had no map parameter)"},
}


def parse(syntax: str, text: str) -> Parsed:
    """Read the CMA parameters of a kernel command line; other parameters are ignored."""
    if syntax not in SYNTAXES:
        raise ValueError(f"unknown syntax {syntax!r}; one of {', '.join(SYNTAXES)}")
    known = _PARAMETERS[syntax]
    seen: dict[str, _Param] = {}
    for param in _params(text, stop_at_dashes=syntax == "mainline"):
        if param.name in _MISPLACED[syntax]:
            raise CmdlineError(_MISPLACED[syntax][param.name], param.name_at + 1)
        if param.name not in known:
            continue
        if param.value is None:
            raise CmdlineError(f"`{param.name}` needs a value: `{param.name}=...`", param.name_at + 1)
        if param.name in seen:
            raise CmdlineError(
                f"`{param.name}=` appears twice (first at column {seen[param.name].name_at + 1}): the kernel "
                "parses both, the second over the first; give it once",
                param.name_at + 1,
            )
        seen[param.name] = param
    notes: list[str] = []
    if syntax == "mainline":
        cma = seen.get("cma")
        return Parsed(syntax, mainline=None if cma is None else _Mainline(cma, notes).parse(), notes=tuple(notes))
    regions: tuple[CmdRegion, ...] = ()
    if "cma" in seen:
        regions = _Regions(seen["cma"], syntax, notes).parse()
    rules: tuple[CmdRule, ...] = ()
    map_name = "cma_map" if syntax == "2010-v1" else "cma.map"
    if map_name in seen:
        defined = {r.name for r in regions} if "cma" in seen else None
        rules = _Map(seen[map_name], syntax, defined).parse()
    return Parsed(syntax, regions, rules, notes=tuple(notes))


# ---- numbers -----------------------------------------------------------------------------------


def _clip(text: str, most: int = 32) -> str:
    """Long input quoted in a message: its start and an ellipsis."""
    return text if len(text) <= most else text[:most - 3] + "..."


class _Reader:
    """A cursor over one parameter's value that reports errors at columns of the whole text."""

    def __init__(self, param: _Param) -> None:
        self.param = param
        self.text = param.value or ""
        self.pos = 0

    def column(self, pos: int | None = None) -> int:
        return self.param.value_at + (self.pos if pos is None else pos) + 1

    def error(self, message: str, pos: int | None = None) -> CmdlineError:
        return CmdlineError(message, self.column(pos))

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def check_v1_buffer(self) -> None:
        """v1 strlcpy()s each parameter into a CMA_MAX_PARAM_LEN buffer and cuts the rest."""
        if len(self.text) >= V1_BUFFER:
            raise self.error(
                f"the `{self.param.name}=` value is {len(self.text)} characters: v1 copies it into a {V1_BUFFER}-byte "
                "buffer and drops everything from here", V1_BUFFER - 1)

    def shown(self) -> str:
        """The character at the cursor, for messages."""
        char = self.peek()
        return f"`{char}`" if char.isprintable() and not char.isspace() else repr(char)

    def number(self, what: str, label: str, limit: int, suffixes: str, notes: list[str]) -> int:
        """memparse(): simple_strtoull() in base 0 (`0x` hex, a leading `0` octal, else decimal)
        and one optional suffix. Where the kernel would silently read 0 or stop early, this
        is an error."""
        text, start = self.text, self.pos
        i = start
        if text[i:i + 2].lower() == "0x" and i + 2 < len(text) and text[i + 2] in "0123456789abcdefABCDEF":
            i += 2
            while i < len(text) and text[i] in "0123456789abcdefABCDEF":
                i += 1
            value = int(text[start + 2:i], 16)
        elif text[i:i + 1] == "0":
            i += 1
            while i < len(text) and text[i] in "01234567":
                i += 1
            value = int(text[start:i], 8)
            if i < len(text) and text[i] in "89":
                raise self.error(
                    f"`{text[i]}` after a leading 0: memparse() reads `{text[start:i + 1]}` as octal and stops "
                    "here; drop the leading 0", i)
            if i - start > 1:
                notes.append(f"{label} `{text[start:i]}` is octal to memparse() (a leading 0): {value:#x}")
        else:
            while i < len(text) and text[i] in "0123456789":
                i += 1
            if i == start:
                raise self.error(f"expected {what}, found {self.shown() if not self.at_end() else 'nothing'}")
            # 21 decimal digits pass 2^64 (and int() refuses thousands of them).
            value = int(text[start:i]) if i - start <= 21 else limit
        suffix = text[i:i + 1].lower()
        if suffix and suffix in _SHIFTS:
            if suffix not in suffixes:
                raise self.error(
                    f"suffix `{text[i]}`: the memparse() of 2010 kernels knows only K, M and G", i)
            value <<= _SHIFTS[suffix]
            i += 1
        if value >= limit:
            bits = limit.bit_length() - 1
            why = ("the 2010 patch keeps sizes and addresses in 32 bits" if limit == LEGACY_LIMIT
                   else "memparse() wraps it around")
            raise self.error(f"{label} `{_clip(text[start:i])}` does not fit in {bits} bits: {why}", start)
        self.pos = i
        return value


# ---- mainline ----------------------------------------------------------------------------------


class _Mainline(_Reader):
    """kernel/dma/contiguous.c early_cma(): size, then `@base`, then `-limit`."""

    SHAPE = "mainline `cma=` takes `size[@start[-end]]`"

    def __init__(self, param: _Param, notes: list[str]) -> None:
        super().__init__(param)
        self.notes = notes

    def parse(self) -> MainlineCma:
        if self.at_end():
            raise self.error("empty `cma=`: the kernel reads it as 0 and disables CMA; write `cma=0` if you mean that")
        if not self.peek().isdigit() and "=" in self.text:
            raise self.error(f"expected a size: `{_clip(self.text)}` is the 2010 patch's region syntax; {self.SHAPE}")
        size = self.number("a size", "size", MAINLINE_LIMIT, "kmgtpe", self.notes)
        if size == 0:
            self.notes.append("size 0: no default CMA area (CMA disabled)")
        if self.peek() == "B":
            # `640MB`: memparse() stops at the B and early_cma() returns when the next character
            # is not `@`, so the kernel reads 640 MiB, as board files read `MB`.
            self.pos += 1
            if not self.at_end():
                raise self.error(f"the kernel stops reading `cma=` at the `B` and ignores {self.shown()} and all after "
                                 f"it; write the size without `B`: {self.SHAPE}")
            self.notes.append(f"`{_clip(self.text)}`: memparse() reads the size and stops at `B` ({fmt_size(size)})")
        if self.at_end():
            return MainlineCma(size)
        self.expect("@", "the size")
        base_at = self.pos
        base = self.number("a start address after `@`", "start", MAINLINE_LIMIT, "kmgtpe", self.notes)
        if self.at_end():
            if base + size >= MAINLINE_LIMIT:
                raise self.error("start + size does not fit in 64 bits", base_at)
            self.zero_base(base)
            return MainlineCma(size, base, base + size, True)
        self.expect("-", "the start")
        end_at = self.pos
        end = self.number("an end address after `-`", "end", MAINLINE_LIMIT, "kmgtpe", self.notes)
        if not self.at_end():
            raise self.error(f"unexpected {self.shown()} after the end: {self.SHAPE}")
        if end <= base:
            raise self.error(f"end {fmt_addr(end)} is not above the start {fmt_addr(base)}", end_at)
        if end - base < size:
            raise self.error(
                f"the range {fmt_range(base, end)} ({fmt_size(end - base)}) is smaller than the area "
                f"({fmt_size(size)}): cma_declare_contiguous_nid() fails with -EINVAL", end_at)
        if base + size == end:
            self.zero_base(base)
        return MainlineCma(size, base, end, base + size == end)

    def zero_base(self, base: int) -> None:
        if base == 0:
            self.notes.append("start 0: cma_declare_contiguous_nid() does not fix a zero base; the area is placed "
                              "anywhere below its end")

    def expect(self, char: str, after: str) -> None:
        if self.peek() != char:
            raise self.error(f"unexpected {self.shown()} after {after}: {self.SHAPE}")
        self.pos += 1


# ---- 2010 regions ------------------------------------------------------------------------------


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


class _Regions(_Reader):
    """mm/cma.c cma_param_parse(): v1 (`name=size[@start][/align][:[alloc][(params)]]`) and
    RFCv3-v5 (`[-]name=size[@start][/align][:alloc]`), `;`-separated, a trailing `;` allowed."""

    def __init__(self, param: _Param, syntax: str, notes: list[str]) -> None:
        super().__init__(param)
        self.v1 = syntax == "2010-v1"
        self.notes = notes
        self.name_at = 0  # where the region being read names itself

    def parse(self) -> tuple[CmdRegion, ...]:
        if self.v1:
            self.check_v1_buffer()
        regions: list[CmdRegion] = []
        first_at: dict[str, int] = {}
        most = V1_MAX_REGIONS if self.v1 else V3_MAX_REGIONS
        while not self.at_end():
            if len(regions) == most:
                raise self.error(f"region {most + 1} is one too many: " + (
                    f"v1 takes at most {most} regions" if self.v1 else
                    f"v3-v5 take at most {most} regions (a 16-slot array)"))
            region = self.region()
            if region.name in first_at:
                raise self.error(
                    f"region `{region.name}` is defined twice (first at column {first_at[region.name]}): "
                    "the kernel would use either", self.name_at)
            first_at[region.name] = self.column(self.name_at)
            regions.append(region)
            if self.peek() == ";":
                self.pos += 1
        return tuple(regions)

    def region(self) -> CmdRegion:
        asterisk: bool | None = None if self.v1 else True
        if not self.v1 and self.peek() == "-":
            asterisk = False
            self.pos += 1
        name = self.name()
        size_at = self.pos
        size = self.number(f"a size for region `{name}` after `=`", "size", LEGACY_LIMIT, "kmg", self.notes)
        if size == 0:
            raise self.error(f"region `{name}` has size 0: the 2010 patch refuses it (\"invalid size\")", size_at)
        start = self.after("@", "a start address", "start", name)
        if start == 0:
            self.notes.append(f"region `{name}`: v1 reads `@0` as no start (the kernel places it)")
        align_at = self.pos + 1
        alignment = self.after("/", "an alignment", "alignment", name)
        if alignment and not is_power_of_two(alignment):
            raise self.error(f"region `{name}`: alignment {fmt_addr(alignment)} is not a power of two", align_at)
        allocator, params = self.allocator(name) if self.peek() == ":" else (None, None)
        if not self.at_end() and self.peek() != ";":
            raise self.error(self.after_region(name))
        return self.adjusted(CmdRegion(name, size, start or None, alignment or None, allocator, params, asterisk),
                             size_at)

    # NUMPARSE in RFCv3-v5: each number is refused when 0; v1 refuses only a zero size.
    ZERO = {"start": "leave out `@` to let the kernel place the region", "alignment": "leave out `/` for page alignment"}

    def after(self, mark: str, what: str, label: str, region: str) -> int | None:
        """The number after `mark`, or None when the region has no `mark`."""
        if self.peek() != mark:
            return None
        self.pos += 1
        at = self.pos
        value = self.number(f"{what} for region `{region}` after `{mark}`", label, LEGACY_LIMIT, "kmg", self.notes)
        if value == 0 and not self.v1:
            raise self.error(f"region `{region}`: v3-v5 refuse {what.split()[0]} {label} of 0 (\"invalid value\"); "
                             f"{self.ZERO[label]}", at)
        return value

    def name(self) -> str:
        self.name_at = self.pos
        if self.peek() == ";":
            raise self.error("empty region: a `;` at the start or two in a row")
        if self.peek() == "-":
            raise self.error("`-` cannot start a region name: the non-asterisk `-` is v2-v3 syntax"
                             if self.v1 else "`-` cannot start a region name")
        if not self.at_end() and self.peek() not in _NAME_START:
            raise self.error(f"{self.shown()} cannot start a region name (letters, digits, `_`)")
        while not self.at_end() and self.peek() in _NAME_CHARS:
            self.pos += 1
        name = self.text[self.name_at:self.pos]
        if not name:
            raise self.error("expected a region name, found nothing")
        if self.at_end():
            raise self.error(f"region `{name}` has no `=size`")
        if self.peek() != "=":
            raise self.error(f"{self.shown()} cannot appear in a region name (letters, digits, `_ . + -`)")
        self.pos += 1
        return name

    def allocator(self, region: str) -> tuple[str | None, str | None]:
        self.pos += 1
        begin = self.pos
        while not self.at_end() and self.peek() in _NAME_CHARS:
            self.pos += 1
        name = self.text[begin:self.pos] or None
        params: str | None = None
        if self.peek() == "(":
            if not self.v1:
                raise self.error(
                    f"region `{region}`: v3-v5 take no allocator parameters: `{self.text[begin:]}` would become "
                    "the allocator's name")
            open_at = self.pos
            close = self.text.find(")", open_at)
            semicolon = self.text.find(";", open_at)
            if close < 0:
                raise self.error(f"region `{region}`: the allocator parameters have no closing `)`", open_at)
            if 0 <= semicolon < close:
                raise self.error(
                    f"region `{region}`: `;` inside the allocator parameters (Documentation/cma.txt forbids it; "
                    "is a `)` missing?)", semicolon)
            params = self.text[open_at + 1:close]
            self.pos = close + 1
        elif not self.at_end() and self.peek() != ";":
            raise self.error(f"{self.shown()} cannot appear in an allocator name (letters, digits, `_ . + -`)")
        return name, params

    def after_region(self, name: str) -> str:
        char = self.peek()
        message = f"after region `{name}`: expected `;` or the end of `cma=`, found {self.shown()}"
        if char == ",":
            return message + "; regions are separated by `;`"
        if char in "@/:(":
            return message + "; the order is `name=size@start/alignment:allocator`"
        return message

    def adjusted(self, raw: CmdRegion, size_at: int) -> CmdRegion:
        """What cma_param_parse() stores: v1 `alignment ? PAGE_ALIGN(alignment) : PAGE_SIZE`,
        v3 `max(alignment, PAGE_SIZE)` (the same for powers of two); start rounded up to it;
        size PAGE_ALIGNed."""
        align = max(raw.alignment or 0, PAGE_SIZE)
        start = None if raw.start is None else round_up(raw.start, align)
        size = round_up(raw.size, PAGE_SIZE)
        if start is not None and start + size >= LEGACY_LIMIT:
            raise self.error(
                f"region `{raw.name}` would end at {fmt_addr(start + size)}, beyond 32 bits: the 2010 patch keeps "
                "addresses in 32 bits", size_at)
        if size != raw.size:
            self.notes.append(f"region `{raw.name}`: size {fmt_addr(raw.size)} is page-aligned to {fmt_size(size)}")
        if start is not None and start != raw.start:
            self.notes.append(f"region `{raw.name}`: start {fmt_addr(raw.start or 0)} is rounded up to "
                              f"{fmt_addr(start)} (alignment {fmt_size(align)})")
        if raw.alignment is not None and align != raw.alignment:
            self.notes.append(f"region `{raw.name}`: alignment {fmt_size(raw.alignment)} is raised to a page")
        return CmdRegion(raw.name, size, start, align, raw.allocator, raw.params, raw.asterisk)


# ---- 2010 map ----------------------------------------------------------------------------------


class _Map(_Reader):
    """v1 cma_map_param_parse() / v3-v5 cma_map_validate(): `patterns=regions` rules separated by
    `;` (a trailing one allowed), patterns and regions by `,`. The kernels check little more
    than the `=`; this also checks what __cma_where_from() could never match."""

    def __init__(self, param: _Param, syntax: str, defined: set[str] | None) -> None:
        super().__init__(param)
        self.v1 = syntax == "2010-v1"
        self.defined = defined

    def parse(self) -> tuple[CmdRule, ...]:
        if self.v1:
            self.check_v1_buffer()
        rules: list[CmdRule] = []
        while not self.at_end():
            if self.v1 and len(rules) == V1_MAX_RULES:
                raise self.error(f"rule {len(rules) + 1} is one too many: v1 takes at most {V1_MAX_RULES} map rules")
            rules.append(self.rule())
            if self.peek() == ";":
                self.pos += 1
        return tuple(rules)

    def rule(self) -> CmdRule:
        begin = self.pos
        end = self.text.find(";", begin)
        end = len(self.text) if end < 0 else end
        if end == begin:
            raise self.error("empty rule: a `;` at the start or two in a row")
        if "=" not in self.text[begin:end]:
            raise self.error(f"rule `{self.text[begin:end]}` has no `=`: write `patterns=regions`")
        patterns: list[str] = []
        while True:
            patterns.append(self.pattern(first=not patterns and begin == 0))
            if self.peek() != ",":
                break
            self.pos += 1
        self.pos += 1  # the `=`; pattern() stops only at `,` `=` or a bad character
        return CmdRule(tuple(patterns), self.region_list())

    def pattern(self, first: bool) -> str:
        begin = self.pos
        device = self.part("device")
        kind = None
        if self.peek() == "/":
            self.pos += 1
            kind = self.part("kind")
            if not kind:
                raise self.error(f"pattern `{self.text[begin:self.pos]}` has an empty kind after `/`")
        text = self.text[begin:self.pos]
        if self.peek() == "/":
            raise self.error(f"pattern `{text}/...` has more than one `/`")
        if self.peek() not in (",", "="):
            raise self.error(f"{self.shown()} cannot appear in a pattern (letters, digits, `. _ : + -`; `?` one "
                             "character, a final `*` the rest)")
        if not text:
            raise self.error("empty pattern")
        if not device and first:
            raise self.error(f"pattern `{text}` reuses the previous pattern's device, but it is the first one",
                             begin)
        return text

    def part(self, what: str) -> str:
        begin = self.pos
        while not self.at_end() and (self.peek() in _DEVICE_CHARS or self.peek() in "?*"):
            if self.peek() == "*" and self.pos + 1 < len(self.text) and self.text[self.pos + 1] not in "/,=":
                raise self.error(f"`*` must end the {what} part of a pattern: the 2010 matcher stops at it and "
                                 "never matches what follows")
            self.pos += 1
        return self.text[begin:self.pos]

    def region_list(self) -> tuple[str, ...]:
        names: list[str] = []
        while True:
            begin = self.pos
            if not self.v1 and self.peek() == "*" and not names:
                self.pos += 1
                if self.at_end() or self.peek() == ";":
                    return ("*",)  # v3: the asterisk regions
                raise self.error("`*` stands alone in a region list (v3's asterisk regions)")
            while not self.at_end() and self.peek() in _NAME_CHARS:
                self.pos += 1
            name = self.text[begin:self.pos]
            if not name:
                raise self.error("empty region name in the rule's list"
                                 if self.at_end() or self.peek() in ",;" else
                                 f"{self.shown()} cannot start a region name")
            if self.defined is not None and name not in self.defined:
                raise self.error(f"the rule names region `{name}`, which `cma=` does not define", begin)
            names.append(name)
            if self.peek() != ",":
                break
            self.pos += 1
        if not self.at_end() and self.peek() != ";":
            raise self.error(f"{self.shown()} cannot appear in a region name (letters, digits, `_ . + -`)")
        return tuple(names)
