"""Sizes: the memparse()-style reader against an independent reference, and exact formatting."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from dtgen.units import fmt_size, parse_size

SHIFT = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}


@given(st.integers(0, 1 << 40), st.sampled_from(sorted(SHIFT)), st.booleans(), st.booleans(), st.booleans())
def test_parse_matches_reference(number: int, suffix: str, hexa: bool, lower: bool, ib: bool) -> None:
    text = (hex(number) if hexa else str(number)) + (suffix.lower() if lower else suffix)
    if suffix and ib:
        text += "iB"
    assert parse_size(text) == number << SHIFT[suffix]


def test_parse_refuses_what_memparse_would_misread() -> None:
    assert parse_size("-4M") == -(4 << 20)  # read, so the range check can say "greater than zero"
    for text in ("", "M", "12Q", "--4M", "1.5M", "0x", "4 M B", "1e6", "0xG"):
        assert parse_size(text) is None, text
    assert parse_size(True) is None  # `size: yes` is a mistake, not 1 byte
    assert parse_size(None) is None


@given(st.integers(1, 1 << 64))
def test_fmt_size_is_exact(n: int) -> None:
    number, unit = fmt_size(n).split(" ")
    if number.startswith("0x"):  # inexact huge values are shown in hex bytes
        assert unit == "bytes" and int(number, 16) == n
        return
    scale = {"bytes": 1, "byte": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50, "EiB": 1 << 60}[unit]
    assert Fraction(number) * scale == n


def test_fmt_size_examples() -> None:
    # The units a board engineer reads in messages: exact, largest unit, no raw decimals.
    assert fmt_size(0x2400000) == "36 MiB"
    assert fmt_size(3 << 19) == "1.5 MiB"
    assert fmt_size((1 << 20) + 4096) == "1028 KiB"
    assert fmt_size(100) == "100 bytes"


def test_schema_size_pattern_is_the_parsers() -> None:
    # The schema refuses what parse_size cannot read; the two grammars are kept identical.
    from dtgen.units import SIZE_PATTERN
    from dtgen.validate.schema import schema

    assert schema()["$defs"]["size"]["anyOf"][1]["pattern"] == SIZE_PATTERN  # type: ignore[index]
