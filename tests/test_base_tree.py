"""The base tree (`devicetree.base`): what dtgen reads from it, the cache of those facts, how it
completes the board (cells, dma-ranges windows, occupied memory) and the board's own `checks`.
The messages of each base rule are in the corpus (tests/corpus/bad/base_*)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from dtgen.trees import base_cache
from dtgen.trees import base as base_tree
from dtgen.trees import source as sources
from dtgen.cli import main
from dtgen.model import Device, DmaWindow, DtNode, DtProperty, DtTree
from tests.support import realtools as rt

ROOT = Path(__file__).resolve().parent.parent
GOOD = ROOT / "tests" / "corpus" / "good" / "base_tree"


def _tools() -> sources.Tools:
    rt.need("dtc")
    rt.need("cpp")
    return sources.find_tools()


def _cli(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"DTGEN_KERNEL_TREE": None, **(env or {})})
    return result.exit_code, result.stdout + result.stderr


# ---- the cache -----------------------------------------------------------------------------------


def test_facts_are_cached_by_the_content_of_every_file_cpp_and_dtc_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = _tools()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DTGEN_NO_CACHE", raising=False)
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "soc.dtsi").write_text('/ { soc { gpu: gpu@1000 { compatible = "acme,gpu"; reg = <0x1000 0x10>; }; }; };\n')
    (tmp_path / "board.dts").write_text('/dts-v1/;\n/ { #address-cells = <1>; #size-cells = <1>; soc { #address-cells = <1>; '
                                        '#size-cells = <1>; }; };\n#include "soc.dtsi"\n')
    path, dirs = str(tmp_path / "board.dts"), (str(tmp_path / "inc"),)

    first, why = base_cache.read(path, "board.dts", dirs, tools)
    assert first is not None and why == ""
    assert first.path_of("&gpu") == "/soc/gpu@1000"
    assert len(list((tmp_path / "cache" / "dtgen" / "base").glob("*.json"))) == 1

    calls: list[str] = []
    real = sources.compile_source

    def counting(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(a[0])
        return real(*a, **k)

    monkeypatch.setattr(sources, "compile_source", counting)
    again, _ = base_cache.read(path, "shown elsewhere", dirs, tools)
    assert calls == [] and again == base_tree.BaseTree(**{**first.__dict__, "source": "shown elsewhere"})

    # An included file changes: the entry no longer holds, and the new label is seen.
    (tmp_path / "inc" / "soc.dtsi").write_text('/ { soc { gpu2: gpu@1000 { compatible = "acme,gpu"; reg = <0x1000 0x10>; }; }; };\n')
    changed, _ = base_cache.read(path, "board.dts", dirs, tools)
    assert calls == [path] and changed is not None and changed.path_of("&gpu2") == "/soc/gpu@1000"

    # A damaged entry is a miss, never a crash.
    for entry in (tmp_path / "cache" / "dtgen" / "base").glob("*.json"):
        entry.write_text("{not json")
    assert base_cache.read(path, "board.dts", dirs, tools)[0] == changed
    assert len(calls) == 2


def test_a_dtb_base_is_read_as_it_is(tmp_path: Path) -> None:
    tools = _tools()
    shutil.copy(GOOD / "base.dts", tmp_path / "base.dts")
    blob = tmp_path / "base.dtb"
    done = sources.subprocess.run([tools.dtc or "dtc", "-q", "-@", "-I", "dts", "-O", "dtb", "-o", str(blob),
                                      str(tmp_path / "base.dts")], capture_output=True)
    assert done.returncode == 0, done.stderr
    from_blob, _ = base_cache.read(str(blob), "base.dtb", (), tools)
    from_source, _ = base_cache.read(str(tmp_path / "base.dts"), "base.dtb", (), tools)
    assert from_blob is not None and from_blob == from_source


# ---- what the base completes ---------------------------------------------------------------------


def test_the_base_completes_cells_windows_and_occupied_memory(tmp_path: Path) -> None:
    _tools()
    from dtgen import pipeline
    from dtgen.cli import _read_base, _reader
    from dtgen.validate import Settings

    shutil.copy(GOOD / "base.dts", tmp_path / "base.dts")
    # A 16 MiB pool in a 32 MiB window that the base's firmware node splits: top-down it would
    # start at 0x4f000000, on the firmware; with the base's static node occupied it goes below.
    text = (GOOD / "board.yaml").read_text().replace("regions:\n", "regions:\n  - name: fw_neighbour\n    size: 16M\n"
                                                      "    no_map: true\n    alloc_ranges: [{start: 0x4e000000, size: 32M}]\n")
    text = text.replace("map:\n", "map:\n  - {match: gpu/scratch, regions: [fw_neighbour]}\n").replace("kinds: [bulk]", "kinds: [bulk, scratch]")
    (tmp_path / "board.yaml").write_text(text)
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        outcome = pipeline.run("board.yaml", _reader("."), ".", {}, Settings(), until=pipeline.PLACED,
                               base=lambda board: _read_base(board, None))
    finally:
        os.chdir(here)
    assert not outcome.failed, [d.render() for d in outcome.diagnostics]
    board, layout = outcome.board, outcome.layout
    assert board is not None and layout is not None
    assert board.devicetree is not None and board.devicetree.base_has_reserved_memory
    vpu = board.device("vpu")
    assert vpu is not None and vpu.dma_ranges == (DmaWindow(0x40000000, 0, 0x20000000), DmaWindow(0x60000000, 0x20000000, 0x20000000))
    # The firmware node (static) and /memreserve/ are taken before any dynamic region lands.
    assert {(o.start, o.size) for o in board.occupied} == {(0x4F000000, 0x100000), (0x40000000, 0x100000)}
    neighbour = layout.placement("fw_neighbour")
    assert neighbour is not None and (neighbour.start, neighbour.size) == (0x4E000000, 0x1000000)


def test_the_board_may_state_what_the_base_says() -> None:
    text = (GOOD / "board.yaml").read_text()
    stated = text.replace("  base: base.dts\n", "  base: base.dts\n  address_cells: 1\n  size_cells: 1\n"
                          "  base_has_reserved_memory: true\n")
    stated = stated.replace('kinds: [frames]}', 'kinds: [frames], dma_ranges: [{cpu: 0x60000000, bus: 0x20000000, size: 512M}, '
                            '{cpu: 0x40000000, bus: 0, size: 512M}]}')
    _tools()
    scratch = GOOD.parent / "_stated"
    try:
        scratch.mkdir()
        shutil.copy(GOOD / "base.dts", scratch / "base.dts")
        (scratch / "board.yaml").write_text(stated)
        code, out = _cli("validate", "--include-root", str(scratch), str(scratch / "board.yaml"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert code == 0 and out == "", out


def test_dma_windows_of_nested_buses() -> None:
    def node(path: str, **props: bytes) -> DtNode:
        return DtNode(path, tuple(DtProperty(k.replace("_", "-"), v) for k, v in props.items()))

    def cells(*values: int) -> bytes:
        return b"".join(v.to_bytes(4, "big") for v in values)

    tree = DtTree("t.dts", (
        node("/", **{"#address-cells": cells(1), "#size-cells": cells(1)}),
        node("/outer", **{"#address-cells": cells(1), "#size-cells": cells(1)}, dma_ranges=cells(0x0, 0x80000000, 0x40000000)),
        node("/outer/inner", **{"#address-cells": cells(1), "#size-cells": cells(1)}, dma_ranges=cells(0x1000000, 0x0, 0x1000000)),
        node("/outer/inner/dev"),
        node("/outer/flat", **{"#address-cells": cells(1), "#size-cells": cells(1)}, dma_ranges=b""),
        node("/outer/flat/dev"),
        node("/plain"),
        node("/plain/dev"),
    ))
    base = base_tree.facts(tree, "t.dts")
    # inner's bus 0x1000000 is outer's 0x0, which is the CPU's 0x80000000.
    assert base.windows_of("/outer/inner/dev") == (DmaWindow(0x80000000, 0x1000000, 0x1000000),)
    # An empty dma-ranges means no translation at that level: the search goes on to outer's.
    assert base.windows_of("/outer/flat/dev") == (DmaWindow(0x80000000, 0x0, 0x40000000),)
    assert base.windows_of("/plain/dev") is None


@given(st.lists(st.tuples(st.integers(0, 2**34), st.integers(0, 2**33), st.integers(1, 2**33)), min_size=1, max_size=4),
       st.integers(20, 36), st.integers(0, 2**35), st.integers(1, 2**31))
def test_a_device_reaches_what_one_window_covers_below_its_mask(windows, bits, start, size) -> None:  # type: ignore[no-untyped-def]
    device = Device("d", ("k",), "/devices/0", dma_mask_bits=bits, dma_ranges=tuple(DmaWindow(*w) for w in windows))
    end = start + size
    # dma_coherent_ok(): the start's bus address, plus the size, within the mask; one window
    # covering the whole buffer (a device sees it contiguous).
    expected = any(cpu <= start and end <= cpu + wsize and start - cpu + bus + size <= 1 << bits
                   for cpu, bus, wsize in windows)
    assert device.reaches(start, end) == expected
    assert all(lo < hi for lo, hi in device.windows)


# ---- the board's own checks ----------------------------------------------------------------------


def _board_with_checks(tmp_path: Path, checks: str) -> Path:
    text = (ROOT / "tests" / "corpus" / "bad" / "region_unused.yaml").read_text()
    path = tmp_path / "board.yaml"
    path.write_text(text + checks)
    return path


def test_a_board_sets_its_own_rule_severities_and_the_command_line_wins(tmp_path: Path) -> None:
    plain = _board_with_checks(tmp_path, "")
    code, out = _cli("validate", "--include-root", str(tmp_path), str(plain))
    assert code == 0 and "[region-unused]" in out and "warning" in out

    ignored = _board_with_checks(tmp_path, "checks:\n  region-unused: ignore   # a spare pool\n")
    assert _cli("validate", "--include-root", str(tmp_path), str(ignored)) == (0, "")

    raised = _board_with_checks(tmp_path, "checks:\n  region-unused: error\n")
    code, out = _cli("validate", "--include-root", str(tmp_path), str(raised))
    assert code == 1 and "error:" in out and "[region-unused]" in out
    # -W on the command line names the rule: it keeps the command line's severity.
    code, out = _cli("validate", "-W", "region-unused", "--include-root", str(tmp_path), str(raised))
    assert code == 0 and "warning:" in out

    unknown = _board_with_checks(tmp_path, "checks:\n  region-unsued: ignore\n")
    code, out = _cli("validate", "--include-root", str(tmp_path), str(unknown))
    assert code == 1 and "there is no rule `region-unsued`" in out and "did you mean `region-unused`?" in out

    off = _board_with_checks(tmp_path, "checks:\n  region-unused: off\n")
    code, out = _cli("validate", "--include-root", str(tmp_path), str(off))
    assert code == 1 and "[schema]" in out


# ---- the example boards against their real 6.12 trees --------------------------------------------


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "boards").glob("*.yaml")))
def test_the_example_boards_validate_clean_against_their_kernel_trees(name: str) -> None:
    _tools()
    kernel = rt.kernel_tree()
    code, out = _cli("validate", "--werror", str(ROOT / "boards" / f"{name}.yaml"), env={"DTGEN_KERNEL_TREE": str(kernel)})
    assert code == 0 and out == "", out
