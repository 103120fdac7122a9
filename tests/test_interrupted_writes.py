"""Interrupted writes: `dtgen emit` killed with SIGKILL at random points leaves every output
either the old file or the complete new one, and a later run clears the temporaries it left.

The kill harness is tests/support/killharness.py (bench/bench_kill.py runs it longer). The default run
is short for CI; DTGEN_KILL_RUNS=N runs N kills. `pytest -rP` or `-s` shows the counts.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtgen.cli import main
from tests.support import killharness as kh
from tests.support.common import ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32" or not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")

DEFAULT_KILLS = 40


def test_every_output_is_the_old_or_the_complete_new_file_when_emit_is_killed(tmp_path: Path) -> None:
    plan = kh.prepare(tmp_path)
    # Not vacuous: the same seven outputs in both variants, each different between them, so a
    # file that emit left half-written or never wrote cannot pass for the other variant's; and
    # the manifest (the same names in both), which must never be half-written either.
    assert len(plan.names) == 8 and sum(n.endswith(".dtgen-manifest") for n in plan.names) == 1
    assert all(plan.a.files[name] != plan.b.files[name] for name in plan.names if not name.endswith(".dtgen-manifest"))

    out = tmp_path / "out"
    timing = kh.calibrate(plan, out)
    seed = int(os.environ.get("DTGEN_KILL_SEED", time.time_ns() % 2**32))
    tally = kh.run_kills(plan, out, timing, int(os.environ.get("DTGEN_KILL_RUNS", DEFAULT_KILLS)), random.Random(seed))
    leftovers, problems = kh.finish(plan, out)
    report = f"{kh.summary(timing, tally)}\n  temporaries before the final emit: {leftovers}; seed {seed} (DTGEN_KILL_SEED)"
    print(report)

    assert not tally.violations, report
    # Kills that all land before or after the writing loop would pass with a non-atomic write.
    assert tally.bucket("during writing") > 0, report
    assert not problems, problems


def _emit(out: Path, *extra: str) -> int:
    result = CliRunner().invoke(main, ["emit", str(ROOT / "boards" / f"{kh.BOARD}.yaml"), "-o", str(out), *extra])
    return result.exit_code


def test_completed_emit_removes_only_stale_temporaries_of_its_own_outputs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _emit(out) == 0
    hour_ago = time.time() - 3600
    stale = [out / f".{kh.BOARD}-reserved-memory.dtsi.a1b2c3d4.tmp", out / f".{kh.BOARD}-layout.json.zz_99xyz.tmp"]
    # Written after this run started, as a concurrent emit's temporary would be: not ours.
    fresh = out / f".{kh.BOARD}.dtso.e5f6g7h8.tmp"
    foreign = out / ".other-board-reserved-memory.dtsi.a1b2c3d4.tmp"  # another board's output in the same directory
    lookalike = out / f".{kh.BOARD}-reserved-memory.dtsi.a1b2c3d4.orig"  # not a temporary
    for path in [*stale, foreign, lookalike]:
        path.write_text("partial")
        os.utime(path, (hour_ago, hour_ago))
    fresh.write_text("partial")
    os.utime(fresh, (time.time() + 3600, time.time() + 3600))

    assert _emit(out, "--check") == 0  # --check writes nothing, so it removes nothing either
    assert all(p.exists() for p in [*stale, fresh, foreign, lookalike])

    # Every output is unchanged: the run renames nothing but still clears what killed runs left.
    assert _emit(out) == 0
    assert [p.name for p in stale if p.exists()] == []
    assert all(p.exists() for p in [fresh, foreign, lookalike])
