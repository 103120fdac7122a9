"""Fuzzing, bounded for CI: mutated board files, random device-tree sources for `import`, and
random kernel command lines; every run keeps the property in tests/support/fuzzing.py (exit 0/1/2
with diagnostics at real positions, no traceback, within a time limit).

DTGEN_FUZZ_EXAMPLES=N runs N inputs per target instead; bench/bench_fuzz.py is the long run
that counts what it tried.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support import fuzzing
from tests.support.realtools import IN_CI, need

EXAMPLES = int(os.environ.get("DTGEN_FUZZ_EXAMPLES", "0"))


def _settings(default: int):  # type: ignore[no-untyped-def]
    # Random inputs on every local run, to explore; the same ones under CI, so that a run that
    # lands is one anybody can repeat. A failure prints the blob that reproduces it.
    return settings(max_examples=EXAMPLES or default, deadline=None, database=None,
                    derandomize=IN_CI, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@_settings(120)
@given(case=fuzzing.board_files())
def test_mutated_board_files(case: fuzzing.BoardCase, tmp_path: Path) -> None:
    fuzzing.check_board(case, tmp_path / "s")


@_settings(40)
@given(source=fuzzing.dts_sources())
def test_random_device_tree_sources_for_import(source: str, tmp_path: Path) -> None:
    need("dtc")
    need("cpp")
    fuzzing.check_dts(source, tmp_path / "s")


@_settings(300)
@given(case=fuzzing.command_lines())
def test_random_command_lines(case: tuple[str, str], tmp_path: Path) -> None:
    fuzzing.check_cmdline(case[0], case[1], tmp_path / "s")


def test_the_property_catches_what_it_should(tmp_path: Path) -> None:
    """The harness itself: an internal error, a position past the file and a silent failure
    are findings, so a green fuzz run means something."""
    ok = fuzzing.Outcome(1, "", "b.yaml:2:1: error: bad [schema]\n")
    fuzzing._check(["validate", "b.yaml"], ok, {"b.yaml": "a: 1\nb: 2\n"})
    with pytest.raises(fuzzing.Finding, match="outside"):
        fuzzing._check(["validate", "b.yaml"], fuzzing.Outcome(1, "", "b.yaml:9:1: error: bad [schema]\n"),
                       {"b.yaml": "a: 1\n"})
    with pytest.raises(fuzzing.Finding, match="no diagnostic"):
        fuzzing._check(["validate", "b.yaml"], fuzzing.Outcome(1, "", "something went wrong\n"), {})
    with pytest.raises(fuzzing.Finding, match="exit 3"):
        fuzzing._check(["validate", "b.yaml"], fuzzing.Outcome(3, "", "dtgen: internal error\n"), {})
    with pytest.raises(fuzzing.Finding, match="traceback"):
        fuzzing._check(["validate", "b.yaml"], fuzzing.Outcome(2, "", "Traceback (most recent call last):\n"
                                                                       "x.yaml: error: y [io-error]\n"), {})
