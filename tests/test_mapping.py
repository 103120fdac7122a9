"""The 2010 cma_map patterns: matcher against a regex reference, shadowing against brute force."""

from __future__ import annotations

import re
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtgen.mapping import PatternError, covers, matches, parse_cma_map, split_pattern

ALPHABET = "ab"
pattern_text = st.text(alphabet=ALPHABET + "?", max_size=4).flatmap(
    lambda head: st.sampled_from([head, head + "*"])
)
names = st.text(alphabet=ALPHABET, max_size=5)


def reference(pattern: str, name: str) -> bool:
    # Facts 1.2: `?` any one character, a trailing `*` the rest (including nothing).
    body = "".join("." if c == "?" else re.escape(c) for c in pattern.rstrip("*"))
    return re.fullmatch(body + (".*" if pattern.endswith("*") else ""), name) is not None


@given(pattern_text, names)
def test_matches_reference(pattern: str, name: str) -> None:
    assert matches(pattern, name) == reference(pattern, name)


@given(pattern_text, pattern_text)
def test_covers_is_sound_and_complete_on_short_names(general: str, specific: str) -> None:
    # Brute force over every name up to 6 characters: covers() must agree with "every name the
    # specific pattern matches, the general one matches too" (6 > the longest fixed part + 1).
    universe = ["".join(p) for n in range(7) for p in product(ALPHABET, repeat=n)]
    truth = all(reference(general, n) for n in universe if reference(specific, n))
    assert covers(general, specific) == truth


def test_cma_map_string_offsets() -> None:
    # The 2010 v2 board map (facts 1.6), with a `/kind` rule reusing the previous device.
    entries = parse_cma_map("s3c-mfc5/f=mfc_fw;s3c-mfc5/a=mfc_b1;/b=mfc_b2")
    assert [(e.pattern, e.offset, e.regions, e.regions_offset) for e in entries] == [
        ("s3c-mfc5/f", 0, ("mfc_fw",), 11),
        ("s3c-mfc5/a", 18, ("mfc_b1",), 29),
        ("/b", 36, ("mfc_b2",), 39),
    ]
    assert split_pattern("/b", "s3c-mfc5").device == "s3c-mfc5"


@pytest.mark.parametrize(
    ("text", "offset"),
    [("a/b=x,Y", 6), ("a/b", 0), ("a/b=x;;c/d=y", 6), ("a/b=x=y", 5), ("=x", 0)],
)
def test_cma_map_errors_point_at_the_character(text: str, offset: int) -> None:
    with pytest.raises(PatternError) as caught:
        entries = parse_cma_map(text)
        for e in entries:
            split_pattern(e.pattern, None)
    assert caught.value.offset == offset


def test_pattern_without_kind_is_refused_with_a_fix() -> None:
    with pytest.raises(PatternError) as caught:
        split_pattern("fimc0", None)
    assert "fimc0/*" in caught.value.hint


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_rule_index_answers_as_the_scan_does(data: st.DataObject) -> None:
    """RuleIndex (what a board asks, once per device) against first_match's plain scan."""
    from dataclasses import dataclass

    from dtgen.mapping import RuleIndex, first_match

    @dataclass(frozen=True)
    class R:
        device: str
        kind: str

    part = st.sampled_from(["dev", "de?", "d*", "*", "vpu", "v?u", "gpu", "?pu"])
    rules = tuple(R(d, k) for d, k in data.draw(st.lists(st.tuples(part, st.sampled_from(["a", "?", "*", "b"])), max_size=12)))
    index = RuleIndex(rules)
    for device in ("dev", "vpu", "gpu", "xyz", "d"):
        for kind in ("a", "b", "c"):
            assert index.first_match(device, kind) is first_match(rules, device, kind)
