"""The round trip over the kernel's own board trees (bench/bench_sweep.py), on every n-th of
Linux 6.12's 2,739 arm and arm64 .dts files: each board with /reserved-memory children must come
back equivalent, have nothing to emit, or be refused with a finding that names the construct and
its line. The whole sweep (every tree, about 3 minutes on 2 cores) is `python3 bench/bench_sweep.py`.
Without the kernel source or dtc this skips locally and fails under CI=true."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from tests.support import realtools as rt

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = 150  # trees; about a third have /reserved-memory children


def _sweep():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_sweep", ROOT / "bench" / "bench_sweep.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_sweep"] = module
    spec.loader.exec_module(module)
    return module


def test_sampled_kernel_boards_round_trip(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rt.need("gcc")
    rt.need("dtc")
    sweep = _sweep()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    picked = sweep._pick(sweep.boards(rt.kernel_tree()), SAMPLE, [])
    assert len(picked) == SAMPLE
    results = sweep.run(picked, os.cpu_count() or 1)
    # The sample reaches every class that matters: boards that re-emit and boards that do not.
    assert len(results) >= SAMPLE // 4
    assert {"equivalent", "nothing-to-emit"} <= {r.klass for r in results}
    bad = [f"{r.board}: {r.klass}: {r.message}" for r in results if r.klass not in sweep.GOOD]
    assert bad == []
    refused = [r for r in results if r.klass == "refused"]
    assert all(r.rules and r.message for r in refused)
