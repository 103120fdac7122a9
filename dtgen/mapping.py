"""`device/kind` patterns and the 2010 `cma_map` string, as the v1 CMA patch defined them.

Facts 1.2: `?` matches any one character, a trailing `*` the rest (including nothing); a pattern
starting with `/` reuses the previous pattern's device part; the first matching rule wins and its
regions are tried left to right. In v1 a pattern without `/kind` matches only requests with no
kind; every dtgen kind is named, so such a pattern could never match and is reported instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, Protocol, Sequence, TypeVar


class _HasPatterns(Protocol):
    # Read-only, so that a frozen dataclass (model.Rule) is one.
    @property
    def device(self) -> str: ...

    @property
    def kind(self) -> str: ...


RuleLike = TypeVar("RuleLike", bound=_HasPatterns)

_DEVICE_PART = re.compile(r"^[A-Za-z0-9._:+?-]*\*?$")
_KIND_PART = re.compile(r"^[a-z0-9_?]*\*?$")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class PatternError(ValueError):
    """A malformed pattern; `offset` is the character the problem starts at."""

    def __init__(self, message: str, offset: int = 0, hint: str = "") -> None:
        super().__init__(message)
        self.offset = offset
        self.hint = hint


@dataclass(frozen=True)
class Pattern:
    device: str
    kind: str

    @property
    def text(self) -> str:
        return f"{self.device}/{self.kind}"


def split_pattern(text: str, previous_device: str | None) -> Pattern:
    """Check one pattern and resolve a leading `/kind` against the previous device pattern."""
    if "/" not in text:
        raise PatternError(
            f"pattern `{text}` has no `/kind`: in cma_map v1 rules it would match only requests "
            "without a kind, and every dtgen kind is named",
            0,
            hint=f"write `{text}/*` to match every kind of `{text}`",
        )
    device, _, kind = text.partition("/")
    if not device:
        if previous_device is None:
            raise PatternError(f"pattern `{text}` reuses the previous device, but there is none", 0)
        device = previous_device
    elif not _DEVICE_PART.match(device):
        bad = _first_bad(device, _DEVICE_PART)
        raise PatternError(
            f"device pattern `{device}` may use `?` anywhere and `*` only at its end", bad
        )
    if "/" in kind:
        raise PatternError(f"pattern `{text}` has more than one `/`", text.index("/", text.index("/") + 1))
    if not kind:
        raise PatternError(f"pattern `{text}` has an empty kind; write `*` for every kind", len(text))
    if not _KIND_PART.match(kind):
        raise PatternError(
            f"kind pattern `{kind}` may use lower-case identifier characters, `?`, and `*` only at its end",
            text.index("/") + 1 + _first_bad(kind, _KIND_PART),
        )
    return Pattern(device, kind)


def _first_bad(part: str, pattern: re.Pattern[str]) -> int:
    """Index of the first character that makes `part` fail `pattern`: a `*` before the end, or
    a character outside the allowed set."""
    for i, char in enumerate(part):
        if char == "*" and i != len(part) - 1:
            return i
        if not pattern.match(char) and char != "*":
            return i
    return 0


def matches(pattern: str, name: str) -> bool:
    """The 2010 matcher: `?` one character, a trailing `*` anything after."""
    if pattern.endswith("*"):
        head = pattern[:-1]
        return len(name) >= len(head) and _fixed(head, name[: len(head)])
    return len(name) == len(pattern) and _fixed(pattern, name)


def _fixed(pattern: str, name: str) -> bool:
    return all(p == "?" or p == c for p, c in zip(pattern, name))


def covers(general: str, specific: str) -> bool:
    """Whether every name `specific` matches is also matched by `general` (for shadowing)."""
    g_star, s_star = general.endswith("*"), specific.endswith("*")
    g, sp = general.rstrip("*"), specific.rstrip("*")
    if not g_star and (s_star or len(g) != len(sp)):
        return False
    if len(sp) < len(g):
        return False
    # `?` in the general pattern covers any character; a `?` in the specific one only a `?`.
    return all(gc == "?" or (gc == sc and sc != "?") for gc, sc in zip(g, sp))


@dataclass(frozen=True)
class MapEntry:
    """One pattern of a `cma_map` string with the offsets of its text and its region list."""

    pattern: str
    offset: int
    regions: tuple[str, ...]
    regions_offset: int


def parse_cma_map(text: str) -> list[MapEntry]:
    """`dev/kind=r1,r2;*/*=r3` -> entries, in order; raises PatternError with the offset."""
    entries: list[MapEntry] = []
    pos = 0
    for rule in text.split(";"):
        start = pos
        pos += len(rule) + 1
        if not rule.strip():
            if start + len(rule) < len(text):  # only a trailing `;` may leave an empty rule
                raise PatternError("empty rule between `;`", start)
            continue
        if "=" not in rule:
            raise PatternError(f"rule `{rule}` has no `=`: write `patterns=regions`", start)
        patterns, _, regions = rule.partition("=")
        if "=" in regions:
            raise PatternError("rule has more than one `=`", start + len(patterns) + 1 + regions.index("="))
        regions_offset = start + len(patterns) + 1
        names = regions.split(",")
        offset = regions_offset
        for name in names:
            if not _NAME.match(name):
                raise PatternError(
                    f"`{name}` is not a region name" if name else "empty region name", offset
                )
            offset += len(name) + 1
        p_offset = start
        for pattern in patterns.split(","):
            if not pattern:
                raise PatternError("empty pattern", p_offset)
            entries.append(MapEntry(pattern, p_offset, tuple(names), regions_offset))
            p_offset += len(pattern) + 1
    if not entries:
        raise PatternError("cma_map has no rules", 0)
    return entries


def first_match(rules: Sequence[RuleLike], device: str, kind: str) -> RuleLike | None:
    """The rule that decides where `device`/`kind` gets memory: the first whose patterns match
    (a scan; a board's own rules are asked through RuleIndex, `board.rule_index`)."""
    for candidate in rules:
        if matches(candidate.device, device) and matches(candidate.kind, kind):
            return candidate
    return None


class RuleIndex(Generic[RuleLike]):
    """first_match() over one tuple of rules, asked for every device kind: validate and resolve
    ask it for each, and `dtgen size` resolves a board hundreds of times, so a scan of every rule
    per kind made the map table quadratic (500 rules, 200 devices: 80 % of `dtgen size`). The
    rules that can match a device are listed once per device: those naming it literally (found
    by name) and those with `?` or `*` in their device pattern that match it, in rule order;
    then only their kinds are tried. A board owns its index (Board.rule_index)."""

    def __init__(self, rules: Sequence[RuleLike]) -> None:
        self._rules = tuple(rules)
        self._literal: dict[str, list[int]] = {}
        self._wild: list[int] = []
        self._by_device: dict[str, tuple[RuleLike, ...]] = {}
        for index, rule in enumerate(self._rules):
            if "?" in rule.device or "*" in rule.device:
                self._wild.append(index)
            else:
                self._literal.setdefault(rule.device, []).append(index)

    def first_match(self, device: str, kind: str) -> RuleLike | None:
        candidates = self._by_device.get(device)
        if candidates is None:
            order = sorted([*self._literal.get(device, ()), *(i for i in self._wild if matches(self._rules[i].device, device))])
            candidates = self._by_device[device] = tuple(self._rules[i] for i in order)
        for candidate in candidates:
            if matches(candidate.kind, kind):
                return candidate
        return None
