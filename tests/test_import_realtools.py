"""`dtgen import` round trips on real Linux 6.12 board trees (Debian's linux-source-6.12,
unpacked at test time; tests/support/realtools.py):

    import board.dts -> board.yaml -> emit .dtsi -> cpp + dtc (base + fragment)

and the decoded result's /reserved-memory subtree and every consumer's memory-region(-names)
equal the base tree's own (compared as decoded trees, not text), and the dynamic nodes keep
their order (Linux 6.12 places them in tree order). The boards cover static and dynamic nodes,
`alignment = size` (fsl-ls1043a), `linux,cma-default` (hi6220-hikey, meson-gx), eight consumers
of one pool (Keystone DSPs), no-map carve-outs without a compatible and with alloc-ranges
(msm8916), and the Exynos MFC pools, both from the board .dts and from the standalone
exynos-mfc-reserved-memory.dtsi read by pydevicetree.

Each imported board is also validated: it passes, apart from what the tree really has.
Without the kernel source or dtc these skip locally and fail under CI=true.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtgen.cli import main
from tests.support import realtools as rt

# (arch, board .dts, extra import arguments)
BOARDS = [
    ("arm64", "hi6220-hikey", ()),
    ("arm64", "fsl-ls1043a-rdb", ()),
    ("arm64", "meson-gxbb-odroidc2", ()),
    ("arm", "keystone-k2hk-evm", ("--bank", "0x800000000:2G")),  # U-Boot moves /memory to the LPAE alias
    ("arm64", "apq8016-sbc", ("--bank", "0x80000000:1G")),  # msm8916: the bootloader fills in /memory
    ("arm", "exynos4412-odroidu3", ()),
    # /ahb's dma-ranges has three windows (one offset, two 1:1 SRAMs): every one is imported.
    ("arm", "stm32mp157c-dk2", ("--bank", "0xc0000000:512M")),
    # The top file has no /dts-v1/ (its first #include brings it) and /memory is `reg = <0 0>`:
    # read as a whole tree, with a bank assumed from the fixed nodes.
    ("arm", "qcom-apq8064-asus-nexus7-flo", ()),
    # Static nodes without a unit address and with `alignment`: kept exactly.
    ("arm64", "mt8173-evb", ()),
]
# What the kernel reports for the tree as it is, which --werror would make fatal: Keystone's RAM
# is all above 4 GiB, so the Kconfig default CMA area (below arm_dma_limit) cannot be placed.
EMIT_EXTRA = {"keystone-k2hk-evm": ("--disable", "default-area-unplaced")}


@pytest.fixture(scope="module")
def tools() -> None:
    rt.need("gcc")
    rt.need("dtc")


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def _import_and_emit(source: Path, tmp: Path, *extra: str) -> tuple[str, str, str]:
    emit_extra = EMIT_EXTRA.get(source.name.removesuffix(".dts"), ())
    board = tmp / "board.yaml"
    code, _, err = _cli("import", str(source), "-o", str(board), *extra)
    assert code == 0, err
    text = board.read_text()
    here = os.getcwd()
    os.chdir(tmp)
    try:
        # Checked against its own source as the base (base_in: kernel): an imported board must
        # agree with the tree it came from.
        code, out, err = _cli("emit", "board.yaml", "--include-root", ".", "-o", "out", "--only", "dtsi",
                              "--kernel-tree", str(rt.kernel_tree()), "--werror", *emit_extra)
    finally:
        os.chdir(here)
    assert code == 0, out + err
    (dtsi,) = (tmp / "out").glob("*.dtsi")
    return text, dtsi.read_text(), err


def _dynamic_order(tree: rt.Tree) -> list[str]:
    return [p for p, props in tree.items() if p.startswith("/reserved-memory/") and "size" in props and "reg" not in props]


def _assert_round_trip(dts: Path, fragment: str, tmp: Path) -> dict[str, dict[str, object]]:
    base, _ = rt.compile_dts(dts, out_dir=tmp / "base")
    merged, _ = rt.compile_dts(dts, fragments=[fragment], out_dir=tmp / "merged")
    before, after = rt.decode(base), rt.decode(merged)
    want = rt.reserved_memory_view(before)
    assert rt.reserved_memory_view(after) == want
    assert _dynamic_order(after) == _dynamic_order(before)
    return want


@pytest.mark.parametrize("arch, name, extra", BOARDS, ids=[b[1] for b in BOARDS])
def test_import_emit_round_trip(tools: None, arch: str, name: str, extra: tuple[str, ...], tmp_path: Path) -> None:
    dts = rt.find_dts(name, arch)
    text, fragment, _ = _import_and_emit(dts, tmp_path, *extra)
    view = _assert_round_trip(dts, fragment, tmp_path)
    # The fragment really replaced nodes: every imported region's node is deleted and written again.
    assert "/delete-node/" in fragment
    assert any(path.startswith("/reserved-memory/") for path in view)
    # And the imported board validates, clean (these trees have no finding of their own).
    code, out, _ = _cli("validate", str(tmp_path / "board.yaml"))
    assert code == 0, out
    # Every node keeps its name, unit address or not, and every property: the view compares them.


def test_every_dma_ranges_window_is_imported(tools: None, tmp_path: Path) -> None:
    """stm32mp15's /ahb maps bus 0 to RETRAM at 0x38000000 and its SRAMs 1:1; the remote
    processor's carve-outs sit in those SRAMs, which a first-window offset would put out of reach."""
    import yaml

    text, _, _ = _import_and_emit(rt.find_dts("stm32mp157c-dk2", "arm"), tmp_path, "--bank", "0xc0000000:512M")
    devices = yaml.safe_load(text)["devices"]
    (m4,) = [d for d in devices if "dma_ranges" in d]
    assert m4["dma_ranges"] == [{"cpu": 0x38000000, "bus": 0, "size": "64K"}, {"cpu": 0x10000000, "bus": 0x10000000, "size": "384K"},
                                {"cpu": 0x30000000, "bus": 0x30000000, "size": "384K"}]
    assert "dma_offset" not in m4


def test_import_reads_what_the_tree_says(tools: None, tmp_path: Path) -> None:
    """Spot checks against the 6.12 sources (values read from the .dtsi files by hand)."""
    import yaml

    text, _, _ = _import_and_emit(rt.find_dts("fsl-ls1043a-rdb", "arm64"), tmp_path)
    board = yaml.safe_load(text)
    # fsl-ls1043a.dtsi: bman_fbpr size = <0 0x1000000>, alignment = <0 0x1000000>, no-map.
    fbpr = next(r for r in board["regions"] if r["name"] == "bman_fbpr")
    assert (fbpr["size"], fbpr["alignment"], fbpr["no_map"]) == ("16M", "16M", True)
    assert fbpr["replaces"] == "&bman_fbpr"
    # qman takes memory-region = <&qman_fqd &qman_pfdr>: two kinds, in that order.
    assert {"match": "qman/region0", "regions": ["qman_fqd"]} in board["map"]
    assert {"match": "qman/region1", "regions": ["qman_pfdr"]} in board["map"]

    text, _, _ = _import_and_emit(rt.find_dts("keystone-k2hk-evm", "arm"), tmp_path / "k2", "--bank", "0x800000000:2G")
    board = yaml.safe_load(text)
    # keystone.dtsi soc0: dma-ranges = <0x80000000 0x8 0x00000000 0x80000000>:
    # bus 0x8000_0000 is CPU 0x8_0000_0000, so the offset is 0x8_0000_0000 - 0x8000_0000.
    dsps = [d for d in board["devices"] if d["name"].startswith("dsp")]
    assert len(dsps) == 8 and all(d["dma_offset"] == 0x780000000 for d in dsps)


def test_standalone_mfc_fragment_through_pydevicetree(tools: None, tmp_path: Path) -> None:
    """exynos-mfc-reserved-memory.dtsi alone: no /dts-v1/, and `&mfc` is defined elsewhere, so dtc
    cannot compile it; pydevicetree reads it. Its regions, emitted onto the ODROID-U3 tree, give
    back that tree's own MFC nodes and the codec's memory-region."""
    source = rt.find_dts("exynos-mfc-reserved-memory.dtsi", "arm")
    text, fragment, _ = _import_and_emit(source, tmp_path, "--bank", "0x40000000:2047M")
    assert "read with pydevicetree" in text
    assert 'node: "&mfc"' in text
    view = _assert_round_trip(rt.find_dts("exynos4412-odroidu3", "arm"), fragment, tmp_path)
    codec = next(entry for entry in view.values() if "memory-region" in entry)
    assert codec["memory-region"] == ["/reserved-memory/region-mfc-left", "/reserved-memory/region-mfc-right"]


@pytest.mark.parametrize("reader", ["libfdt", "python"])
def test_import_of_a_dtb_equals_import_of_its_source(tools: None, reader: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The same tree as .dts and as the .dtb dtc makes of it gives the same board file, apart
    from the header and the source positions a blob does not carry; with either blob reader."""
    if reader == "libfdt":
        try:
            import libfdt  # noqa: F401
        except ImportError:
            rt.need("pylibfdt is not installed (the test extra has it)")
    monkeypatch.setenv("DTGEN_FDT", reader)
    dts = rt.find_dts("hi6220-hikey", "arm64")
    dtb, _ = rt.compile_dts(dts, overlay_symbols=True, out_dir=tmp_path / "dtb")
    from_source, _, _ = _import_and_emit(dts, tmp_path / "a")
    from_blob, _, _ = _import_and_emit(dtb, tmp_path / "b", "--arch", "arm64", "--kernel", "6.12", "--board", "hi6220-hikey")

    def body(text: str) -> list[str]:
        import re

        # The source is named as the base (in the kernel tree); the blob, outside any, is not.
        lines = [line for line in text.splitlines() if not line.startswith("#") and not line.lstrip().startswith("# ")
                 and not line.lstrip().startswith(("base:", "base_in:"))]
        return [re.sub(r'"Imported from [^"]*"|"hi6220-hikey\.dt[sb]"', "NAME", line) for line in lines]

    assert body(from_blob) == body(from_source)


@pytest.mark.parametrize("arch", ["arm", "arm64"])
def test_assumed_kconfig_is_the_real_defconfig(arch: str, tmp_path: Path) -> None:
    """The Kconfig values import writes as assumed are what `make <defconfig>` of the 6.12 tree
    gives (configuring only, with Debian's cross compiler: a few seconds)."""
    from dtgen.trees.importer import DEFCONFIG
    from dtgen.kconfig import parse

    for tool in ("make", "gcc", "bison", "flex", rt.ARCHES[arch][0] + "gcc"):
        rt.need(tool)
    name, values = DEFCONFIG[arch]
    rt._run(["make", "-C", rt.kernel_tree(), f"O={tmp_path}", f"ARCH={arch}", f"CROSS_COMPILE={rt.ARCHES[arch][0]}",
             "-s", name], timeout=rt.T_PREPARE)
    real, problems = parse((tmp_path / ".config").read_text(), ".config")
    assert problems == []
    assert {key: real.get(key, False) for key, _ in values} == dict(values)
