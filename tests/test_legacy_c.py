"""The 2010 platform C compiles: gcc -std=gnu89 -Wall -Wextra -Werror against headers written
from the declarations of the patch version it targets (tests/legacy/README.md names them), for
the bundled 2.6.35 board with patch v2 (strings) and v6 (the region array)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.common import ROOT, need_tool

LEGACY = ROOT / "tests" / "legacy"


def _board_text(patch: str) -> str:
    text = (ROOT / "boards/samsung-aquila-2010.yaml").read_text()
    return text.replace("cma_patch: v2", f"cma_patch: {patch}")


@pytest.mark.parametrize("patch", ["v2", "v6"])
def test_legacy_c_compiles_against_the_patch_declarations(patch: str, tmp_path: Path) -> None:
    gcc = need_tool("gcc")
    board = tmp_path / "samsung-aquila-2010.yaml"
    board.write_text(_board_text(patch))
    out = tmp_path / "out"
    done = subprocess.run(["python3", "-m", "dtgen", "emit", str(board), "-o", str(out), "--only", "legacy-c"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    source = out / "samsung-aquila-2010-cma-2010.c"
    text = source.read_text()
    assert ("struct cma_region" in text) == (patch == "v6")
    built = subprocess.run([gcc, "-std=gnu89", "-Wall", "-Wextra", "-Werror", "-c", "-o", str(tmp_path / "x.o"),
                            "-I", str(LEGACY / patch), "-I", str(LEGACY / "common"), str(source)],
                           capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr


def test_a_wrong_declaration_is_caught(tmp_path: Path) -> None:
    """The check is live: v6 code against v2's declarations does not build."""
    gcc = need_tool("gcc")
    board = tmp_path / "samsung-aquila-2010.yaml"
    board.write_text(_board_text("v6"))
    subprocess.run(["python3", "-m", "dtgen", "emit", str(board), "-o", str(tmp_path / "out"), "--only", "legacy-c"],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    built = subprocess.run([gcc, "-std=gnu89", "-Wall", "-Wextra", "-Werror", "-c", "-o", str(tmp_path / "x.o"),
                            "-I", str(LEGACY / "v2"), "-I", str(LEGACY / "common"),
                            str(tmp_path / "out" / "samsung-aquila-2010-cma-2010.c")],
                           capture_output=True, text=True, timeout=60)
    assert built.returncode != 0
