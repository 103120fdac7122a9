"""Command-line options: rule settings, --kconfig, JSON output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtgen.cli import main

ROOT = Path(__file__).resolve().parent.parent

# 34 MiB is not a multiple of the 4 MiB CMA minimum on ARM32 without hugetlb (pageblock order
# 10: 4 KiB << 10; 34 = 8 * 4 + 2), so this board has exactly one error, at line 8 column 41
# (`34M` starts at index 40), and one warning at line 10 column 27 (the kind `video` whose chain has a fallback).
BOARD = """\
board: test
kernel: {arch: arm, version: "6.1"}
memory:
  banks:
    - {name: dram, base: 0x40000000, size: 1G}
regions:
  - {name: common, size: 64M, reusable: true, default: true}
  - {name: video, reusable: true, size: 34M}
devices:
  - {name: codec, kinds: [video]}
map:
  - {match: codec/video, regions: [video, common]}
"""


def run(tmp_path: Path, *args: str, board: str = BOARD) -> tuple[int, str]:
    path = tmp_path / "board.yaml"
    path.write_text(board)
    result = CliRunner().invoke(main, [*args, str(path)] if args[:1] != ("rules",) else list(args))
    return result.exit_code, result.stdout


def test_error_and_warning(tmp_path: Path) -> None:
    code, out = run(tmp_path, "validate")
    assert code == 1
    lines = [line.split(": ", 1)[1] for line in out.splitlines() if not line.startswith("  ")]
    assert lines == [
        "error: reusable region `video` is 34 MiB; a CMA area must be a multiple of 4 MiB on ARM32, "
        "4K pages, 6.1, without hugetlb (pageblock order 10): rmem_cma_setup() fails and the kernel "
        "frees it at boot [cma-min-alignment]",
        "warning: `codec/video` maps to video, common, but with `uses: devicetree` the device holds one "
        "memory-region: only `video` is used, and on failure the kernel falls back to the page allocator, "
        "not to the next region [fallback-undeliverable]",
    ]
    assert ":8:41:" in out and ":10:27:" in out
    assert "hint: use 32 MiB or 36 MiB" in out


def test_kconfig_changes_the_verdict(tmp_path: Path) -> None:
    # With LPAE and hugetlb, ARM32 pageblocks are 2 MiB sections (order 9): 34 = 17 * 2 is fine.
    kconfig = tmp_path / ".config"
    kconfig.write_text("CONFIG_ARM_LPAE=y\nCONFIG_HUGETLB_PAGE=y\n# CONFIG_HIGHMEM is not set\n")
    code, out = run(tmp_path, "validate", "--kconfig", str(kconfig), "-W", "no-fallback-undeliverable")
    assert (code, out) == (0, "")


def test_rule_settings(tmp_path: Path) -> None:
    assert run(tmp_path, "validate", "--disable", "cma-min-alignment")[0] == 0
    assert run(tmp_path, "validate", "-W", "cma-min-alignment")[0] == 0
    assert run(tmp_path, "validate", "--disable", "cma-min-alignment", "--werror")[0] == 1
    code, out = run(tmp_path, "validate", "-E", "fallback-undeliverable", "--disable", "cma-min-alignment")
    assert code == 1 and "error:" in out and "[fallback-undeliverable]" in out
    assert run(tmp_path, "validate", "-W", "no-such-rule")[0] == 2


def test_json_output(tmp_path: Path) -> None:
    code, out = run(tmp_path, "validate", "--format", "json")
    found = json.loads(out)["diagnostics"]
    assert code == 1
    assert [(d["rule"], d["line"], d["col"], d["pointer"]) for d in found] == [
        ("cma-min-alignment", 8, 41, "/regions/1/size"),
        ("fallback-undeliverable", 10, 27, "/devices/0/kinds/0"),
    ]


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "[io-error]" in result.stdout


def test_rules_lists_every_rule() -> None:
    from dtgen.validate.registry import TABLE

    result = CliRunner().invoke(main, ["rules", "--format", "json"])
    assert {r["id"] for r in json.loads(result.stdout)} == set(TABLE)


def test_a_board_validates_from_its_own_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The include root (the checkout's top) is then `..`: includes and devicetree.base beside
    the board are inside it, a path that climbs out of it is not."""
    monkeypatch.chdir(ROOT / "boards")
    result = CliRunner().invoke(main, ["validate", "exynos4412-odroidu3.yaml"])
    assert result.exit_code == 0, result.stderr


def test_inside_the_root_lexically() -> None:
    from dtgen.load import _inside

    assert _inside(["socs", "a.yaml"], [".."]) and _inside(["..", "x.yaml"], [".."])
    assert not _inside(["..", "..", "x.yaml"], [".."]) and not _inside(["..", "x"], [])
    assert _inside(["a", "b", "c"], ["a", "b"]) and not _inside(["a", "c"], ["a", "b"])
    assert _inside(["..", "r", "x"], ["..", "r"]) and not _inside(["..", "s", "x"], ["..", "r"])


def test_an_soc_file_is_checked_through_the_boards_that_include_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    socs = tmp_path / "boards" / "socs"
    socs.mkdir(parents=True)
    (socs / "base.yaml").write_text("regions:\n  - {name: soc_pool, size: 6M, reusable: true}\n")
    (socs / "family.yaml").write_text("include: [base.yaml]\n")
    (socs / "orphan.yaml").write_text("regions: []\n")
    board = ("board: {name}\ninclude: [{inc}]\nkernel: {{arch: arm64, version: \"6.12\"}}\n"
             "memory:\n  banks: [{{name: dram, base: 0x40000000, size: 1G}}]\n")
    (tmp_path / "boards" / "a.yaml").write_text(board.format(name="a", inc="socs/family.yaml"))
    (tmp_path / "boards" / "b.yaml").write_text(board.format(name="b", inc="socs/orphan.yaml"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["validate", "boards/socs/base.yaml"])
    # Through a.yaml (base.yaml reaches it through family.yaml), not b.yaml: one board checked,
    # the finding at the SoC file's line.
    assert result.exit_code == 1
    assert "boards/socs/base.yaml:2:28: error:" in result.stdout and "[cma-min-alignment]" in result.stdout
    assert result.stderr.rstrip().endswith("in 1 file") or result.stdout.rstrip().endswith("in 1 file")
    # A file nothing includes is checked as it is: it is no board.
    (socs / "unused.yaml").write_text("regions: []\n")
    alone = CliRunner().invoke(main, ["validate", "boards/socs/unused.yaml"])
    assert "boards/socs/unused.yaml:1:1: error: the board file is missing `board`" in alone.stdout


def test_schema_write_gives_a_board_repository_its_own_copy(tmp_path: Path) -> None:
    """`dtgen schema` names the installed copy (inside the Python environment); `--write DIR`
    copies it where a board repository can commit it and point its editors at it."""
    from dtgen.validate.schema import SCHEMA_PATH

    result = CliRunner().invoke(main, ["schema", "--write", str(tmp_path / "schemas")])
    assert result.exit_code == 0, result.output
    written = tmp_path / "schemas" / "board.schema.json"
    assert result.stdout == f"wrote {written}\n"
    assert written.read_bytes() == SCHEMA_PATH.read_bytes()
    assert json.loads(written.read_text())["$id"] == "urn:dtgen:schema:board:1"
    (tmp_path / "file").write_text("")
    bad = CliRunner().invoke(main, ["schema", "--write", str(tmp_path / "file" / "schemas")])
    assert bad.exit_code == 2 and "[io-error]" in bad.stderr and "Traceback" not in bad.output


def test_rules_board_says_what_a_board_sets_where_and_why(tmp_path: Path) -> None:
    board = tmp_path / "b.yaml"
    board.write_text('board: b\nkernel: {arch: arm64, version: "6.12"}\nmemory:\n  banks:\n'
                     '    - {name: dram, base: 0x40000000, size: 1G}\nchecks:\n'
                     '  region-unused: ignore   # the pool is for a driver the board file does not list\n'
                     '  fallback-undeliverable: warning\n')
    result = CliRunner().invoke(main, ["rules", "--board", str(board)])
    assert result.exit_code == 0, result.output
    tail = result.stdout.split("\n\n")[-1].splitlines()
    assert tail == [f"{board} sets 2 rules:",
                    f"  fallback-undeliverable: warning ({board}:8): no reason given (say why in a comment)",
                    f"  region-unused: ignore ({board}:7): the pool is for a driver the board file does not list"]
    rows = {r["id"]: r for r in json.loads(CliRunner().invoke(main, ["rules", "--board", str(board), "--format", "json"]).stdout)}
    assert rows["region-unused"]["board"] == {"setting": "ignore", "at": f"{board}:7",
                                              "reason": "the pool is for a driver the board file does not list"}
    assert "board" not in rows["place-failed"]
    missing = CliRunner().invoke(main, ["rules", "--board", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "Traceback" not in missing.output


def test_release_tags_name_the_version_of_their_commit() -> None:
    """Every `vX.Y.Z` tag points at a commit whose pyproject.toml says version X.Y.Z, and the
    version dtgen reports is the checkout's."""
    import re
    import subprocess
    import tomllib

    root = Path(__file__).resolve().parent.parent
    version = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    assert CliRunner().invoke(main, ["--version"]).stdout.strip().endswith(version)
    done = subprocess.run(["git", "-C", str(root), "tag", "--list", "v*"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("not a git checkout")
    for tag in done.stdout.split():
        assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), tag
        text = subprocess.run(["git", "-C", str(root), "show", f"{tag}:pyproject.toml"], capture_output=True,
                              text=True, check=True).stdout
        assert tomllib.loads(text)["project"]["version"] == tag[1:], tag
