"""The proving ground: `dtgen boot` on three real Linux 6.12.118 kernels under QEMU's `virt`
machine, and every region must land where dtgen says (issue 16).

The kernels (tests/support/kernels.py): a minimal arm64 kernel built from Debian's linux-source-6.12
(CMA debugfs on), Debian's prebuilt cloud-arm64 kernel, and Debian's ARM32 armmp-lpae kernel.
Each is booted with its own .config as `--kconfig`, so the model gets the kernel's real CMA
alignment, default-area size, zones and linear-map granularity.

The boards: the hand-written boards of tests/boot/boards/ (one placement rule each: stacking,
alloc-ranges bottom-up and top-down, fallback ranges, two banks, a linux,cma-default node, `cma=`,
RAM above 4 GiB, ARM32 lowmem/highmem and an area the kernel cannot activate), and random boards
from tests/support/boardgen.py (fixed seeds here; bench/bench_boot.py draws more). The expectation is the
kernel's own log: each region `matches`, nothing is missing or unexpected.

Without QEMU or the kernels these skip with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtgen.cli import main
from tests.support import boardgen, kernels

ROOT = Path(__file__).resolve().parent.parent
BOARDS = sorted((ROOT / "tests/boot/boards").glob("*.yaml"))
KERNELS = {"minimal": ("arm64", kernels.minimal_arm64), "cloud-arm64": ("arm64", lambda: kernels.debian("cloud-arm64")),
           "armmp-lpae": ("arm", lambda: kernels.debian("armmp-lpae"))}
RANDOM_PER_KERNEL = 8


def _arch_of(board: Path) -> str:
    return "arm64" if "arch: arm64" in board.read_text() else "arm"


def _kernel(name: str) -> kernels.Kernel:
    return KERNELS[name][1]()


def _boot(board: Path, kernel: kernels.Kernel, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    log = tmp_path / f"{board.stem}-{kernel.name}.log"
    result = CliRunner().invoke(main, ["boot", str(board), "--kernel", str(kernel.image), "--kconfig", str(kernel.config),
                                       "--qemu", str(kernels.qemu(kernel.arch)), "--log", str(log), "--format", "json",
                                       "--include-root", str(board.parent)])
    assert result.exit_code in (0, 1), result.stderr
    data = json.loads(result.stdout)
    differences = [r for r in data["rows"] if r["verdict"] != "matches"]
    table = "\n".join(f"{r['region']}: {r['verdict']} predicted {r['predicted']} actual {r['actual']} {r['note']}"
                      for r in data["rows"])
    assert not differences and result.exit_code == 0, f"{board.name} on {kernel.name}:\n{table}\nlog: {log}"
    assert data["kernel"].startswith(f"Linux version {kernel.version}")
    return data


CASES = [(board, name) for board in BOARDS for name, (arch, _) in KERNELS.items() if _arch_of(board) == arch]


@pytest.mark.parametrize("board, kernel_name", CASES, ids=[f"{b.stem}-{k}" for b, k in CASES])
def test_hand_written_board(board: Path, kernel_name: str, tmp_path: Path) -> None:
    data = _boot(board, _kernel(kernel_name), tmp_path)
    assert data["rows"], "a proving-ground board without regions proves nothing"


def test_the_area_across_lowmem_is_placed_and_not_activated(tmp_path: Path) -> None:
    data = _boot(ROOT / "tests/boot/boards/arm-lowmem-highmem.yaml", _kernel("armmp-lpae"), tmp_path)
    row = next(r for r in data["rows"] if r["region"] == "cam_cma")
    assert "could not activate" in row["note"] and "as predicted" in row["note"]


RANDOM = [(name, seed) for name in KERNELS for seed in range(RANDOM_PER_KERNEL)]


@pytest.mark.parametrize("kernel_name, index", RANDOM, ids=[f"{k}-{i}" for k, i in RANDOM])
def test_random_board(kernel_name: str, index: int, tmp_path: Path) -> None:
    kernel = _kernel(kernel_name)
    kconfig = {k: v for k, v in _kconfig(kernel).items()}
    drawn = boardgen.boards(1, kernel.arch, kconfig, first_seed=1000 * index)[0]
    path = tmp_path / f"{drawn.name}.yaml"
    path.write_text(drawn.text)
    _boot(path, kernel, tmp_path)


def _kconfig(kernel: kernels.Kernel) -> dict[str, object]:
    from dtgen.kconfig import parse

    values, _ = parse(kernel.config.read_text(), str(kernel.config))
    return dict(values)
