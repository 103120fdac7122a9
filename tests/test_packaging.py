"""The installed dtgen is the checkout's: the wheel pip builds holds every module and data file
under dtgen/ (packages are found, not listed by hand, so a new one cannot be left out)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_every_module_and_data_file(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                           str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(done.stdout + done.stderr)
    (wheel,) = tmp_path.glob("dtgen-*.whl")
    inside = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("dtgen/")}
    want = {p.relative_to(ROOT).as_posix() for p in (ROOT / "dtgen").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert want - inside == set()
