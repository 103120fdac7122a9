"""Sizes and addresses as board engineers write and read them.

Input follows the kernel's memparse(): a number (decimal, 0x hex, 0o/0b too) with an optional
binary suffix K, M, G, T (also written KiB, MiB..., or KB, MB... as memory data sheets and the
kernel's own `cma=640MB` read them: binary). A lowercase `b` is bits (`256Mb`), never bytes, and
is refused rather than guessed. Output is always hex for addresses and the
largest exact binary unit for sizes, so a message never shows a raw decimal address.
"""

from __future__ import annotations

import re

U64_LIMIT = 1 << 64

_SUFFIX = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}
_SIZE_RE = re.compile(
    r"""^\s*(?P<sign>-?)(?P<num>0[xX][0-9a-fA-F]+(?:_[0-9a-fA-F]+)*|0[oO][0-7]+|0[bB][01]+|[0-9]+(?:_[0-9]+)*)
        \s*(?:(?P<suf>[kKmMgGtTpPeE])(?:iB|B)?|B)?\s*$""",
    re.VERBOSE,
)
# The schema uses the same grammar (ECMA-262 regex, no verbose mode): keep the two in step.
SIZE_PATTERN = (
    r"^\s*-?(0[xX][0-9a-fA-F]+(_[0-9a-fA-F]+)*|0[oO][0-7]+|0[bB][01]+|[0-9]+(_[0-9]+)*)"
    r"\s*(([kKmMgGtTpPeE])(iB|B)?|B)?\s*$"
)


def parse_size(value: object) -> int | None:
    """The integer a size or address stands for, or None when it is not one.

    A bool is not a size even though Python says True == 1: `size: yes` is a mistake.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    m = _SIZE_RE.match(value)
    if not m:
        return None
    value = int(m.group("num").replace("_", ""), 0) << _SUFFIX[(m.group("suf") or "").upper()]
    return -value if m.group("sign") else value


_UNITS = (("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10))


def fmt_size(n: int) -> str:
    """`36 MiB`, `1.5 MiB`, `1028 KiB`, `100 bytes`: always exact, in the largest unit that
    shows the value with at most three decimals."""
    if n < 0:
        return "-" + fmt_size(-n)
    for unit, shift in _UNITS:
        if n >= 1 << shift and (n * 1000) % (1 << shift) == 0:
            text = f"{n / (1 << shift):.3f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    if n >= 1 << 20:
        return f"{n:#x} bytes"
    return "1 byte" if n == 1 else f"{n} bytes"


def fmt_size_read(n: int) -> str:
    """For pictures read at a glance: fmt_size() when it needs at most four digits before the
    point (`36 MiB`, `8.125 MiB`, `2047 MiB`), else the value's largest unit to two decimals,
    marked approximate (`~17.98 MiB` where fmt_size() writes `18416 KiB`)."""
    exact = fmt_size(n)
    if n <= 0:
        return exact
    unit, shift = next(((u, s) for u, s in _UNITS if n >= 1 << s), ("bytes", 0))
    if shift == 0 or len(exact.split(" ")[0].split(".")[0].lstrip("~")) <= 4:
        return exact
    return f"~{n / (1 << shift):.2f} {unit}"


def fmt_part(part: int, whole: int) -> str:
    """`part` in `whole`'s unit when it is at least one of them, for `X of Y` side by side:
    `8.79 MiB of 24 MiB`, not `9000 KiB of 24 MiB`."""
    shift = next((s for _, s in _UNITS if whole >= 1 << s), 0)
    if shift == 0 or part < 1 << shift:
        return fmt_size_read(part)
    unit = next(u for u, s in _UNITS if s == shift)
    if (part * 1000) % (1 << shift) == 0:
        return f"{f'{part / (1 << shift):.3f}'.rstrip('0').rstrip('.')} {unit}"
    return f"~{part / (1 << shift):.2f} {unit}"


def fmt_range(start: int, end: int) -> str:
    """`start..last`, inclusive, as resolve and the kernel's boot log write ranges (`end` is
    exclusive)."""
    return f"{start:#x}..{end - 1:#x}"


def fmt_addr(n: int) -> str:
    return f"{n:#x}"


def fmt_span(start: int, size: int) -> str:
    return f"{fmt_size(size)} at {fmt_addr(start)}"


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def memparse_text(n: int) -> str:
    """`n` as memparse() reads it: the largest exact K/M/G suffix (`64M`, `4G`, `128K`), else hex.

    T, P and E are left out on purpose: memparse() learned them long after 2010 (2.6.35 knows
    only K, M and G), and G writes every large size exactly anyway (`1024G`)."""
    if n == 0:
        return "0"
    for suffix, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n % (1 << shift) == 0:
            return f"{n >> shift}{suffix}"
    return f"{n:#x}"
