"""`dtgen resolve`: the layout table, JSON and YAML, --pin, and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from dtgen.cli import main
from tests.support.common import ROOT

# arm64 6.12, RAM 0x80000000 + 2 GiB. `pool` (32 MiB CMA, alignment raised to 2 MiB) goes
# top-down: 0x100000000 - 32M = 0xfe000000. arm64 then allocates for itself (dtgen/early_boot.py,
# the image assumed 2 MiB into RAM with 24 MiB of text): 1024 - 12 + 3 = 1015 page-table pages
# below the pool (0xfdc09000), the tree (64 KiB, 0xfdbf9000), the mem_section roots (64 KiB,
# 0xfdbe9000) and array (0xfdbe8000), the usemap (16 x 56 bytes, 0xfdbe7c80), and the memmap,
# round_down(0xfdbe7c80 - 32M, 2M) = 0xfba00000. The Kconfig area (16 MiB) follows below the 4 GiB
# DMA limit: 0xfba00000 - 16M = 0xfaa00000.
BOARD = """\
board: t
kernel: {arch: arm64, version: "6.12", config: {CONFIG_HUGETLB_PAGE: true}}
memory:
  banks: [{name: dram, base: 0x80000000, size: 2G}]
regions:
  - {name: pool, size: 32M, reusable: true}
devices:
  - {name: cam, kinds: [frame]}
map:
  - {match: "*/*", regions: [pool]}
"""


def run(tmp_path: Path, *args: str, board: str = BOARD) -> Result:
    path = tmp_path / "board.yaml"
    path.write_text(board)
    return CliRunner().invoke(main, ["resolve", *args, str(path)])


def test_text_layout(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    pool = next(line for line in lines if " pool " in line)
    assert "0xfe000000..0xffffffff" in pool and "32 MiB" in pool and "2 MiB" in pool and "CMA" in pool
    kconfig = next(line for line in lines if " reserved " in line)
    assert "0xfaa00000..0xfb9fffff" in kconfig and "kconfig" in kconfig
    assert any(line.split()[:1] == ["cam/frame"] and "pool; then the page allocator" in line for line in lines)
    assert result.stderr == ""


def test_json_layout(tmp_path: Path) -> None:
    result = run(tmp_path, "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["diagnostics"] == []
    placements = {p["region"]: p for p in data["layout"]["placements"]}
    assert (placements["pool"]["start"], placements["pool"]["end"]) == (0xFE000000, 0x100000000)
    assert placements["reserved"]["implicit"] is True
    assert data["layout"]["map"] == [
        {"device": "cam", "kind": "frame", "rule": "*/*", "rule_line": 10, "chain": ["pool"],
         "gets": ["pool"], "fallback": "page-allocator"}
    ]


def test_yaml_layout_writes_addresses_in_hex(tmp_path: Path) -> None:
    result = run(tmp_path, "--format", "yaml")
    assert result.exit_code == 0
    assert "start: 0xfe000000" in result.stdout
    data = yaml.safe_load(result.stdout)
    assert data["placements"][0]["start"] == 0xFE000000
    assert data["placements"][0]["size"] == 32 << 20


def test_pin_resolves_the_pinned_board_to_the_same_addresses(tmp_path: Path) -> None:
    plain = json.loads(run(tmp_path, "--format", "json").stdout)["layout"]["placements"]
    pinned = json.loads(run(tmp_path, "--format", "json", "--pin").stdout)["layout"]["placements"]
    assert [(p["region"], p["start"]) for p in pinned] == [(p["region"], p["start"]) for p in plain]
    assert next(p for p in pinned if p["region"] == "pool")["static"] is True


def test_validation_errors_stop_before_placement(tmp_path: Path) -> None:
    result = run(tmp_path, board=BOARD.replace("size: 32M", "size: 33M"))
    assert result.exit_code == 1
    assert "[cma-min-alignment]" in result.stderr
    assert result.stdout == ""


def test_placement_error_prints_the_layout_and_exits_1(tmp_path: Path) -> None:
    result = run(tmp_path, board=BOARD.replace("size: 32M", "size: 4G"))
    assert result.exit_code == 1
    assert "board.yaml:6:24: error: cannot place `pool` (4 GiB, align 2 MiB)" in result.stderr
    assert "regions, in boot order" in result.stdout


def test_missing_file_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["resolve", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2


def test_every_example_board_resolves(tmp_path: Path) -> None:
    for board in sorted((ROOT / "boards").glob("*.yaml")):
        result = CliRunner().invoke(main, ["resolve", "--format", "json", str(board)])
        assert result.exit_code == 0, (board.name, result.stdout)
        assert json.loads(result.stdout)["layout"]["placements"]


def test_assumed_kconfig_values_are_named_where_they_decide(tmp_path: Path) -> None:
    """Issue 19: a board without kernel.config gets the Kconfig defaults, said as assumptions."""
    bare = "board: t\nkernel: {arch: arm64, version: \"6.12\"}\nmemory:\n  banks: [{name: d, base: 0x40000000, size: 1G}]\n"
    text = run(tmp_path, board=bare).stdout
    assert "CMA minimum alignment 4 MiB (assuming CONFIG_HUGETLB_PAGE, CONFIG_TRANSPARENT_HUGEPAGE off" in text
    assert "assumes CONFIG_CMA_SIZE_MBYTES at its Kconfig default" in text
    # Stated, they are facts: nothing assumed is said. (hugetlb decides alone: THP does not matter then.)
    stated = bare.replace('version: "6.12"}', 'version: "6.12", config: {CONFIG_HUGETLB_PAGE: true, CONFIG_CMA_SIZE_MBYTES: 32}}')
    text = run(tmp_path, board=stated).stdout
    assert "CMA minimum alignment 2 MiB;" in text and "assuming CONFIG" not in text and "assumes CONFIG" not in text
