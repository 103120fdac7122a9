"""Shared test helpers: loading boards from text, the real-tool skip policy, and the markers each
test module carries (pyproject.toml lists them; `-m "not slow and not realtools and not
browser and not qemu"` is the fast run)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dtgen.diagnostics import Diagnostic
from dtgen import pipeline
from dtgen.validate import Settings

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# By module: what its tests need, or how long they take. A module that mixes in a few quick
# dtc runs (test_import, test_corpus) stays unmarked: those skip without dtc.
MARKS = {
    "test_emit_realtools.py": "realtools", "test_import_realtools.py": "realtools", "test_sweep.py": "realtools",
    "test_realtools_harness.py": "realtools", "test_base_tree.py": "realtools", "test_packaging.py": "slow",
    "test_map_browser.py": "browser", "test_browser_harness.py": "browser",
    "test_kernels.py": "qemu", "test_boot_kernels.py": "qemu", "test_cma_replay.py": "qemu",
    "test_scenario_replay_kernel.py": "qemu",
    "test_fuzz.py": "slow", "test_interrupted_writes.py": "slow", "test_large.py": "slow",
    "test_precommit.py": "realtools",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        mark = MARKS.get(item.path.name)
        if mark:
            item.add_marker(getattr(pytest.mark, mark))


def need_tool(name: str) -> str:
    """The tool's path; skips locally when it is missing, fails under CI=true (CI installs it)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (CI installs it: bash scripts/test as root)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def check_text(text: str | bytes, name: str = "board.yaml", files: dict[str, str | bytes] | None = None) -> list[Diagnostic]:
    """Load and validate a board given as text; `files` are other files it may include."""
    store = {name: text.encode() if isinstance(text, str) else text}
    for other, content in (files or {}).items():
        store[other] = content.encode() if isinstance(content, str) else content

    def read(path: str) -> bytes:
        if path not in store:
            raise FileNotFoundError(2, "No such file or directory")
        return store[path]

    return list(pipeline.run(name, read, ".", {}, Settings(), until="validated").diagnostics)


def board_from_text(text: str):  # type: ignore[no-untyped-def]
    """A board given as text that must load and validate without errors (warnings allowed)."""
    store = {"board.yaml": text.encode()}

    def read(path: str) -> bytes:
        if path not in store:
            raise FileNotFoundError(2, "No such file or directory")
        return store[path]

    outcome = pipeline.run("board.yaml", read, ".", {}, Settings(), until="validated")
    assert outcome.board is not None and not outcome.failed, [d.render() for d in outcome.diagnostics]
    return outcome.board
