"""pytest's hooks only: the marker each test module carries (pyproject.toml lists them; `-m "not
slow and not realtools and not browser and not qemu"` is the fast run). What tests share is
in tests/support/."""

from __future__ import annotations

import pytest

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
