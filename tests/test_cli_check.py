"""`dtgen check` and `dtgen size` from the command line: reports, --explain, JSON, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from dtgen.cli import main

# A 8 MiB coherent pool; 2,088,960-byte luma planes take 2 MiB blocks: four fit, five do not.
BOARD = """\
board: t
kernel: {arch: arm64, version: "6.12", config: {CONFIG_HUGETLB_PAGE: true, CONFIG_DMA_CMA: false}}
memory:
  banks: [{name: dram, base: 0x80000000, size: 2G}]
regions:
  - {name: right, size: 8M, no_map: true}
devices:
  - {name: mfc, kinds: [luma]}
map:
  - {match: "*/*", regions: [right]}
scenarios:
  - name: four
    steps: [{alloc: {device: mfc, size: 2088960, count: 4, as: f}}, {free: f}]
  - name: five
    expect: {expect}
    steps: [{alloc: {device: mfc, size: 2088960, count: 5, as: f}}, {free: f}]
"""


def run(tmp_path: Path, *args: str, expect: str = "fails") -> Result:
    path = tmp_path / "board.yaml"
    path.write_text(BOARD.replace("{expect}", expect))
    return CliRunner().invoke(main, [*args, str(path)])


def test_check_meets_expectations(tmp_path: Path) -> None:
    result = run(tmp_path, "check")
    assert result.exit_code == 0, result.stdout
    assert "FAILS (expected)" in result.stdout
    assert "right (coherent pool, 8 MiB): 0 bytes free, largest free extent 0 bytes" in result.stdout
    assert "no fallback: dma_alloc_from_dev_coherent()" in result.stdout


def test_check_missed_expectation_exits_1_with_a_size_hint(tmp_path: Path) -> None:
    result = run(tmp_path, "check", expect="fits")
    assert result.exit_code == 1
    # Five 2 MiB blocks need 10 MiB of pool.
    assert "fits with `right` >= 10 MiB (now 8 MiB; see dtgen size)" in result.stdout


def test_explain_tells_every_request(tmp_path: Path) -> None:
    result = run(tmp_path, "check", "--explain", "five")
    assert result.exit_code == 0
    lines = [line for line in result.stdout.splitlines() if "mfc/luma" in line]
    assert len(lines) == 5
    assert "right at 0x" in lines[0] and lines[-1].endswith("-> nothing")


def test_explain_unknown_scenario_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path, "check", "--explain", "nope")
    assert result.exit_code == 2


def test_check_json(tmp_path: Path) -> None:
    data = json.loads(run(tmp_path, "check", "--format", "json").stdout)
    verdicts = {tuple(v["scenarios"]): v for v in data["verdicts"]}
    assert verdicts[("four",)]["fits"] and not verdicts[("five",)]["fits"]
    assert verdicts[("five",)]["failure"]["attempts"][0]["region"] == "right"


def test_size_table(tmp_path: Path) -> None:
    result = run(tmp_path, "size", "--format", "json")
    assert result.exit_code == 0
    (row,) = json.loads(result.stdout)
    # `four` (expect fits) needs four 2 MiB blocks: 8 MiB; `five` (expect fails) is left out.
    assert (row["region"], row["minimal"], row["joint"]) == ("right", 8 << 20, 8 << 20)
    # 10 % margin: 8 MiB * 1.1 = 9,227,468.8 bytes, rounded up to whole pages: 2253 * 4 KiB.
    assert row["with_margin"] == 2253 * 4096


def test_check_on_invalid_board_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "board.yaml"
    path.write_text(BOARD.replace("{expect}", "fails").replace("size: 8M", "size: 0"))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert "[size-value]" in result.stderr


def test_a_combination_that_fails_because_a_member_fails_alone_points_at_it(tmp_path: Path) -> None:
    """One message per mistake: `five` fails alone and so does `four + five` (both in the same
    pool); the size search runs for `five`, and the combination names it instead of searching
    again (each search replays every scenario at a dozen sizes)."""
    board = BOARD.replace("{expect}", "fits").replace(
        "scenarios:\n", "scenarios:\n  - name: other\n    steps: [{alloc: {device: mfc, size: 1M, as: o}}]\n")
    path = tmp_path / "board.yaml"
    path.write_text(board)
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    alone = next(i for i, line in enumerate(lines) if line.startswith("five ") and "FAILS" in line)
    combo = next(i for i, line in enumerate(lines) if line.startswith("other + five") and "FAILS" in line)
    alone_block = "\n".join(lines[alone:alone + 5])
    combo_block = "\n".join(lines[combo:combo + 5])
    assert "fits with `right` >= 10 MiB" in alone_block, result.stdout
    assert "`five` does not fit on its own: see its line" in combo_block, result.stdout
    assert "fits with" not in combo_block, result.stdout
