"""`dtgen import`: the mapping from a device tree to a board file (dtgen/trees/importer.py) on trees
written by hand, the command's behaviour (files, exit codes, determinism), and a property test:
any reserved-memory tree hypothesis makes up comes back equal through import -> emit -> dtc.

The real-board round trips are in test_import_realtools.py; the bad trees and blobs, with the
message and position each must produce, in tests/corpus/import/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtgen.cli import main
from dtgen.trees.importer import Options, import_tree
from dtgen.model import DtNode, DtProperty, DtTree

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "import"


def u32(*values: int) -> bytes:
    return b"".join(v.to_bytes(4, "big") for v in values)


def text(*values: str) -> bytes:
    return b"".join(v.encode() + b"\0" for v in values)


SPELLED = {"no_map": "no-map", "memory_region": "memory-region"}  # keyword-argument names for DT names


def node(path: str, labels: tuple[str, ...] = (), **props: bytes) -> DtNode:
    return DtNode(path, tuple(DtProperty(SPELLED.get(k, k), v) for k, v in props.items()), labels)


def tree(*nodes: DtNode, memreserve: tuple[tuple[int, int], ...] = ()) -> DtTree:
    return DtTree("board.dts", nodes, memreserve, "dtb")


ROOT_1_1 = node("/", **{"#address-cells": u32(1), "#size-cells": u32(1)})  # type: ignore[arg-type]
MEMORY = node("/memory@40000000", device_type=text("memory"), reg=u32(0x40000000, 0x40000000))
RESERVED = node("/reserved-memory", **{"#address-cells": u32(1), "#size-cells": u32(1), "ranges": b""})  # type: ignore[arg-type]


def run(*nodes: DtNode, memreserve: tuple[tuple[int, int], ...] = (), **options: object) -> tuple[dict, list[str]]:
    board, found, _ = run_text(*nodes, memreserve=memreserve, **options)
    return board, found


def run_text(*nodes: DtNode, memreserve: tuple[tuple[int, int], ...] = (), **options: object) -> tuple[dict, list[str], str]:
    """Import, render through the real template, and read the YAML back."""
    from dtgen.trees.importer import render

    imported, found = import_tree(tree(ROOT_1_1, *nodes, memreserve=memreserve),
                                  Options("test-board", "arm", "6.12", **options))  # type: ignore[arg-type]
    assert imported is not None, [d.render() for d in found]
    written = render(imported)
    return yaml.safe_load(written), [d.render() for d in found], written


def test_memory_memreserve_and_usable_memory() -> None:
    kdump = node("/memory@80000000", device_type=text("memory"), reg=u32(0x80000000, 0x40000000),
                 **{"linux,usable-memory": u32(0x88000000, 0x1000000)})  # type: ignore[arg-type]
    board, found = run(MEMORY, kdump, memreserve=((0x4ff00000, 0x100000),))
    assert found == []
    # linux,usable-memory replaces reg (drivers/of/fdt.c early_init_dt_scan_memory).
    assert board["memory"]["banks"] == [
        {"name": "dram0", "base": 0x40000000, "size": "1G"},
        {"name": "dram1", "base": 0x88000000, "size": "16M"},
    ]
    assert board["memory"]["occupied"] == [{"name": "/memreserve/ 0", "start": 0x4ff00000, "size": "1M"}]


def test_bank_option_replaces_the_tree_memory() -> None:
    board, _ = run(MEMORY, banks=((0x80000000, 1 << 31),))
    assert board["memory"]["banks"] == [{"name": "dram0", "base": 0x80000000, "size": "2G"}]


def test_regions_names_flags_and_properties() -> None:
    nodes = [
        MEMORY, RESERVED,
        # CMA default area without a label: named from the node, node_name kept, replaced by path.
        node("/reserved-memory/linux,cma", compatible=text("shared-dma-pool"), reusable=b"", size=u32(0x4000000),
             alignment=u32(0x400000), **{"linux,cma-default": b""}),  # type: ignore[arg-type]
        # A no-map carve-out without a compatible: `compatible: false`, or emit would add one.
        node("/reserved-memory/mpss@48000000", ("mpss_mem",), reg=u32(0x48000000, 0x2b00000), no_map=b""),
        # A label that is a C keyword is not a region name; the node name is.
        node("/reserved-memory/static-pool@4c000000", ("int",), compatible=text("shared-dma-pool"),
             reg=u32(0x4c000000, 0x100000), no_map=b"", status=text("okay"),
             **{"vendor,id": u32(7), "vendor,pair": u32(1, 2), "vendor,name": text("fw")}),  # type: ignore[arg-type]
        node("/reserved-memory/off", status=text("disabled"), size=u32(0x100000)),
        node("/modem", memory_region=u32(0)),  # points at nothing: left out with a warning
    ]
    nodes[3] = DtNode(nodes[3].path, (*nodes[3].props, DtProperty("phandle", u32(5))), nodes[3].labels)
    nodes.append(node("/soc/modem@4080000", ("modem",), compatible=text("qcom,q6v5-pil"), memory_region=u32(5)))
    board, found, written = run_text(*nodes)
    by_name = {r["name"]: r for r in board["regions"]}
    assert by_name["linux_cma"] == {"name": "linux_cma", "size": "64M", "alignment": "4M", "reusable": True,
                                    "default": True, "node_name": "linux,cma", "replaces": "/reserved-memory/linux,cma"}
    assert by_name["mpss_mem"] == {"name": "mpss_mem", "start": 0x48000000, "size": "43M", "no_map": True,
                                   "compatible": False, "node_name": "mpss", "replaces": "&mpss_mem"}
    pool = by_name["static_pool"]
    assert pool["properties"] == {"status": "okay", "vendor,id": 7, "vendor,name": "fw", "vendor,pair": [1, 2]}
    assert "compatible" not in pool  # shared-dma-pool is what emit writes for no-map anyway
    assert "off" not in by_name
    assert board["devices"] == [{"name": "modem", "node": "&modem", "compatible": "qcom,q6v5-pil", "kinds": ["region0"]}]
    assert board["map"] == [{"match": "modem/region0", "regions": ["mpss_mem"]}]
    assert any("/modem` is left out: memory-region entry 0 points at phandle 0x0" in f for f in found)
    # The kernel skips a disabled node; the file says so where a reader looks for it.
    assert "# - /reserved-memory/off: status disabled, so the kernel skips it" in written


def test_firmware_carveouts_become_occupied_and_stay_in_the_base() -> None:
    board, found = run(MEMORY, RESERVED,
                       node("/reserved-memory/secmon@40000000", reg=u32(0x40000000, 0x200000), no_map=b""),
                       node("/reserved-memory/ramoops@4ff00000", compatible=text("ramoops"), reg=u32(0x4ff00000, 0x100000)))
    assert found == []
    assert "regions" not in board
    assert [o["name"] for o in board["memory"]["occupied"]] == ["/reserved-memory/secmon@40000000",
                                                                "/reserved-memory/ramoops@4ff00000"]


def test_memory_region_names_that_are_not_identifiers() -> None:
    venus = node("/reserved-memory/venus", ("venus_mem",), size=u32(0x500000), no_map=b"", phandle=u32(1))
    fw = node("/reserved-memory/fw", ("fw_mem",), size=u32(0x100000), no_map=b"", phandle=u32(2))
    board, found = run(MEMORY, RESERVED, venus, fw,
                       node("/soc/video@1d00000", ("video",), memory_region=u32(1, 2),
                            **{"memory-region-names": text("venus-mem", "fw")}))  # type: ignore[arg-type]
    assert found == []
    (device,) = board["devices"]
    # Kinds must be identifiers; the names the binding expects are written as they were.
    assert device["kinds"] == ["venus_mem", "fw"]
    assert device["memory_region_names"] == ["venus-mem", "fw"]


def test_dma_ranges_give_the_dma_offset() -> None:
    bus = node("/soc", **{"#address-cells": u32(1), "#size-cells": u32(1),  # type: ignore[arg-type]
                          "dma-ranges": u32(0x80000000, 0x80000000, 0x80000000)})
    big_root = node("/", **{"#address-cells": u32(2), "#size-cells": u32(2)})  # type: ignore[arg-type]
    bus = DtNode(bus.path, tuple(p if p.name != "dma-ranges" else DtProperty("dma-ranges", u32(0x80000000, 0x8, 0, 0x80000000))
                                 for p in bus.props))
    pool = node("/reserved-memory/dsp@81f800000", ("dsp_pool",), compatible=text("shared-dma-pool"),
                reg=u32(8, 0x1f800000, 0, 0x800000), reusable=b"", phandle=u32(3))
    imported, found = import_tree(
        DtTree("k2.dts", (big_root, node("/memory@800000000", device_type=text("memory"), reg=u32(8, 0, 0, 0x80000000)),
                          node("/reserved-memory", **{"#address-cells": u32(2), "#size-cells": u32(2), "ranges": b""}),  # type: ignore[arg-type]
                          pool, bus, node("/soc/dsp@10800000", ("dsp0",), memory_region=u32(3)))),
        Options("k2", "arm", "6.12"))
    assert imported is not None and found == []
    (device,) = imported.devices
    # Bus 0x8000_0000 is CPU 0x8_0000_0000 (keystone.dtsi): offset 0x8_0000_0000 - 0x8000_0000.
    assert ("dma_offset", "0x780000000") in device.fields


@pytest.mark.parametrize("props, expected", [
    ({"size": u32(0, 0x100000)}, "its size is 8 bytes, not #size-cells (1) cells"),
    ({"size": u32(0x100000), "alignment": u32(0, 0x1000)}, "its alignment is 8 bytes, not #address-cells (1) cells"),
    ({"iommu-addresses": u32(1, 0, 0x1000)}, "it has iommu-addresses and no reg or size"),
    ({"compatible": text("shared-dma-pool")}, "it has neither reg nor size"),
])
def test_nodes_the_kernel_refuses_are_left_out_with_a_warning(props: dict[str, bytes], expected: str) -> None:
    board, found = run(MEMORY, RESERVED, DtNode("/reserved-memory/bad", tuple(DtProperty(k, v) for k, v in props.items())))
    assert "regions" not in board
    assert len(found) == 1 and expected in found[0] and "[import-unrepresentable]" in found[0]


def test_reserved_memory_without_ranges_is_refused() -> None:
    imported, found = import_tree(tree(ROOT_1_1, MEMORY, node("/reserved-memory", **{"#address-cells": u32(1), "#size-cells": u32(1)})),  # type: ignore[arg-type]
                                  Options("b", "arm", "6.12"))
    assert imported is None
    assert [d.rule for d in found] == ["reserved-memory-format"]
    assert "unsupported node format, ignoring" in found[0].message


# ---- the command ------------------------------------------------------------------------------------


def _cli(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    here = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, list(args))
    finally:
        os.chdir(here)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def test_blob_to_file_atomically_and_the_board_validates(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "board.yaml"
    code, stdout, err = _cli("import", str(CORPUS / "dtb_good.dtb"), "--arch", "arm", "--kernel", "6.12", "-o", str(out))
    assert code == 0, err
    assert stdout == ""
    assert os.listdir(out.parent) == ["board.yaml"]  # no temporary file left beside it
    assert "imported 1 bank, 1 region, 1 device" in err
    code, report, _ = _cli("validate", str(out))
    assert code == 0, report


def test_failed_import_leaves_the_old_file_alone(tmp_path: Path) -> None:
    out = tmp_path / "board.yaml"
    out.write_text("keep me\n")
    code, _, err = _cli("import", str(CORPUS / "dtb_truncated.dtb"), "--arch", "arm", "--kernel", "6.12", "-o", str(out))
    assert code == 2 and "[dtb-format]" in err
    assert out.read_text() == "keep me\n"


@pytest.mark.parametrize("args, message", [
    (["--kernel", "6.12"], "give --arch arm or --arch arm64"),
    (["--arch", "arm"], "give --kernel"),
    (["--arch", "arm", "--kernel", "six"], "give a version such as 6.12"),
    (["--arch", "arm", "--kernel", "6.12", "--bank", "0x40000000"], "give BASE:SIZE"),
    (["--arch", "arm", "--kernel", "6.12", "--bank", "0x40000000:0"], "give BASE:SIZE"),
    (["--arch", "arm", "--kernel", "6.12", "--board", "Bad Name"], "lower case"),
])
def test_usage_errors(args: list[str], message: str) -> None:
    code, _, err = _cli("import", str(CORPUS / "dtb_good.dtb"), *args)
    assert code == 2 and message in err


def test_unreadable_inputs(tmp_path: Path) -> None:
    code, _, err = _cli("import", str(tmp_path / "missing.dts"), "--arch", "arm", "--kernel", "6.12")
    assert code == 2 and "cannot read: No such file or directory [io-error]" in err
    code, _, err = _cli("import", str(tmp_path), "--arch", "arm", "--kernel", "6.12")
    assert code == 2 and "is a directory [io-error]" in err


def test_output_is_deterministic_across_hash_seeds_and_locales(tmp_path: Path) -> None:
    outputs = []
    for seed, locale in (("0", "C"), ("12345", "C.UTF-8"), ("random", "POSIX")):
        env = {**os.environ, "PYTHONHASHSEED": seed, "LC_ALL": locale, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-m", "dtgen", "import", "dtb_good.dtb", "--arch", "arm", "--kernel", "6.12"],
                              cwd=CORPUS, env=env, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] == outputs[2]


# ---- property: random trees come back through import -> emit -> dtc -------------------------------


def _need_dtc() -> None:
    from tests.support import realtools

    realtools.need("dtc")
    realtools.need("cpp")


names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)


@st.composite
def boards(draw: st.DrawFn) -> str:
    """A small whole .dts: one RAM bank, reserved nodes of every shape dtgen imports, and
    consumers with and without memory-region-names."""
    count = draw(st.integers(1, 5))
    node_names = draw(st.lists(names, min_size=count, max_size=count, unique=True))
    lines = ["/dts-v1/;", "/ {", "\t#address-cells = <1>;", "\t#size-cells = <1>;",
             "\tmemory@40000000 { device_type = \"memory\"; reg = <0x40000000 0x40000000>; };",
             "\treserved-memory {", "\t\t#address-cells = <1>;", "\t\t#size-cells = <1>;", "\t\tranges;"]
    labels = []
    for i, name in enumerate(node_names):
        kind = draw(st.sampled_from(["cma", "coherent", "carveout", "static-cma", "static-coherent"]))
        mib = draw(st.integers(1, 8)) * 4
        body = []
        if kind.startswith("static"):
            start = 0x60000000 + i * 0x2000000
            body.append(f"reg = <{start:#x} {mib << 20:#x}>;")
            # The unit address as reg says, none, or another one: the node name comes back as it was.
            unit = draw(st.sampled_from([f"@{start:x}", "", f"@{start + 0x1000:x}"]))
            name = f"{name}{unit}"
            if draw(st.booleans()):
                body.append("alignment = <0x100000>;")  # ignored by the kernel (reg wins), kept in the tree
        else:
            if draw(st.booleans()):
                name = f"{name}@{0x40000000 + i * 0x100000:x}"
            body.append(f"size = <{mib << 20:#x}>;")
            if draw(st.booleans()):
                body.append(f"alignment = <{1 << draw(st.integers(12, 22)):#x}>;")
            if draw(st.booleans()):
                body.append("alloc-ranges = <0x40000000 0x20000000>;")
        if kind in ("cma", "static-cma"):
            body += ['compatible = "shared-dma-pool";', "reusable;"]
        elif kind in ("coherent", "static-coherent"):
            body += ['compatible = "shared-dma-pool";', "no-map;"]
        else:
            body.append("no-map;")  # a carve-out its driver maps itself: no compatible
        label = f"pool{i}"
        labels.append(label)
        lines.append(f"\t\t{label}: {name} {{ {' '.join(body)} }};")
    lines.append("\t};")
    for d in range(draw(st.integers(0, 3))):
        used = draw(st.lists(st.sampled_from(labels), min_size=1, max_size=3, unique=True))
        props = "memory-region = " + ", ".join(f"<&{lb}>" for lb in used) + ";"
        if draw(st.booleans()):
            props += " memory-region-names = " + ", ".join(f'"{lb}-mem"' for lb in used) + ";"
        lines.append(f"\tdev{d}: device@{0x10000000 + d * 0x1000:x} {{ reg = <{0x10000000 + d * 0x1000:#x} 0x1000>; {props} }};")
    lines.append("};")
    return "\n".join(lines) + "\n"


def _compile(dts: Path, out: Path) -> dict[str, dict[str, object]]:
    from tests.support import realtools as rt

    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(out), str(dts)], check=True, capture_output=True, timeout=60)
    return rt.reserved_memory_view(rt.decode(out))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=boards())
def test_random_trees_round_trip(source: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    _need_dtc()
    tmp = tmp_path_factory.mktemp("rt")
    (tmp / "board.dts").write_text(source)
    code, _, err = _cli("import", "board.dts", "--arch", "arm", "--kernel", "6.12", "-o", "board.yaml", cwd=tmp)
    assert code in (0, 1), err
    code, _, err = _cli("emit", "board.yaml", "--include-root", ".", "-o", "out", "--only", "dtsi", cwd=tmp)
    assert code == 0, err
    merged = tmp / "merged.dts"
    merged.write_text(source + (tmp / "out" / "board-reserved-memory.dtsi").read_text())
    assert _compile(merged, tmp / "merged.dtb") == _compile(tmp / "board.dts", tmp / "base.dtb")


def test_tool_columns_become_character_columns(tmp_path: Path) -> None:
    """gcc counts display columns (tabs to the next multiple of 8, wide characters 2), dtc
    counts bytes; dtgen reports characters, as it does for YAML."""
    from dtgen.trees.source import cpp_messages, dtc_messages

    src = tmp_path / "b.dts"
    src.write_text("/ {\n\t\t#include <missing.h>\n\tx = \"\u00e9\u00e9\"; @@;\n\t\u6f22\u5b57 #error y\n};\n", encoding="utf-8")
    name = str(src)
    # `<` is character 12 on line 2: two tabs (display 16) and `#include ` (9).
    [inc] = cpp_messages(f"{name}:2:26: fatal error: missing.h: No such file or directory", name)
    assert (inc.span.line, inc.span.col) == (2, 12)
    # Two wide characters are four display columns: `#` is character 4, display column 13.
    [wide] = cpp_messages(f"{name}:4:13: error: #error y", name)
    assert wide.span.col == 4
    # `@` is byte 14 (each é is two bytes) and character 12.
    [bad] = dtc_messages(f"{name}:3.14-17: ERROR (property_name_chars): /:@@: Bad character '@' in property name", name)
    assert (bad.span.line, bad.span.col) == (3, 12)
    # Past the end of the line stays past it; a file that cannot be read keeps the tool's column.
    [end] = cpp_messages(f"{name}:2:37: error: x", name)  # display 16 + 20, then one past
    assert end.span.col == 2 + len("#include <missing.h>") + 1
    [gone] = dtc_messages(f"{tmp_path}/nope.dts:1.7-8 syntax error".join(["Error: ", ""]), name)
    assert gone.span.col == 7


def test_node_names_and_static_properties_are_kept_exactly() -> None:
    nodes = [
        MEMORY, RESERVED,
        # mt8173's vpu_dma_mem_region: a static node without a unit address, with `alignment`.
        node("/reserved-memory/vpu_dma_mem_region", ("vpu",), compatible=text("shared-dma-pool"),
             reg=u32(0x47000000, 0x1000000), alignment=u32(0x1000), no_map=b""),
        # tegra's linux,cma@80000000: a dynamic node with a unit address.
        node("/reserved-memory/linux,cma@4a000000", compatible=text("shared-dma-pool"), reusable=b"",
             size=u32(0x4000000), **{"linux,cma-default": b""}),  # type: ignore[arg-type]
        # A unit address unlike reg's start.
        node("/reserved-memory/fw@1", ("fw",), compatible=text("shared-dma-pool"), reg=u32(0x48000000, 0x100000),
             no_map=b""),
    ]
    board, found = run(*nodes)
    assert found == []
    by_name = {r["name"]: r for r in board["regions"]}
    assert by_name["vpu"]["unit_address"] is False
    assert by_name["vpu"]["properties"] == {"alignment": 0x1000}
    assert by_name["linux_cma"]["unit_address"] == "4a000000"
    assert by_name["fw"]["unit_address"] == "1"


def test_memory_the_bootloader_fills_in_is_assumed_from_fixed_nodes() -> None:
    nodes = [
        RESERVED,
        node("/reserved-memory/tz@9e000000", reg=u32(0x9e000000, 0x200000), no_map=b""),
        node("/reserved-memory/pool", compatible=text("shared-dma-pool"), reusable=b"", size=u32(0x10000000)),
    ]
    board, found, written = run_text(*nodes)
    # Rounded down to 256 MiB below the lowest fixed address; room for the tree's 256 MiB of
    # dynamic nodes above the highest.
    assert board["memory"]["banks"] == [{"name": "dram0", "base": 0x90000000, "size": "512M"}]
    assert any("[import-memory-assumed]" in f and "assumes one bank of 512M at 0x90000000" in f for f in found)
    assert "# ASSUMED, the bootloader fills /memory in" in written
    assert "checks" not in board  # no base tree named: nothing to compare /memory with
    board, _, written = run_text(*nodes, base="board.dts")
    # With the base named, its /memory (absent) would be held against the assumed bank.
    assert board["checks"] == {"base-memory": "ignore"}
    assert "base-memory: ignore   # the banks are ASSUMED" in written


def test_kconfig_assumptions_are_written_and_lpae_follows_the_addresses() -> None:
    from dtgen.trees.importer import DEFCONFIG

    board, _, written = run_text(MEMORY)
    assert board["kernel"]["config"] == dict(DEFCONFIG["arm"][1])
    assert "# ASSUMED: Linux 6.12's multi_v7_defconfig values" in written
    high = node("/memory@800000000", device_type=text("memory"), reg=u32(0x8, 0, 0x8000_0000))
    root = node("/", **{"#address-cells": u32(2), "#size-cells": u32(1)})  # type: ignore[arg-type]
    from dtgen.trees.importer import render

    imported, _ = import_tree(tree(root, high), Options("b", "arm", "6.12"))
    assert imported is not None
    assert yaml.safe_load(render(imported))["kernel"]["config"]["CONFIG_ARM_LPAE"] is True


def test_comments_and_base_name_files_as_seen_from_where_they_are_read(tmp_path: Path) -> None:
    """Node comments and /memreserve/ comments both name the source relative to its own folder;
    `devicetree.base` names it relative to the written board file."""
    _need_dtc()
    (tmp_path / ".git").mkdir()  # a repository: its top is the include root the base must stay in
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "board.dts").write_text(
        "/dts-v1/;\n/memreserve/ 0x4ff00000 0x100000;\n/ {\n\t#address-cells = <1>;\n\t#size-cells = <1>;\n"
        "\tmemory@40000000 { device_type = \"memory\"; reg = <0x40000000 0x40000000>; };\n"
        "\treserved-memory {\n\t\t#address-cells = <1>;\n\t\t#size-cells = <1>;\n\t\tranges;\n"
        "\t\tpool: pool { compatible = \"shared-dma-pool\"; reusable; size = <0x1000000>; };\n\t};\n};\n")
    code, _, err = _cli("import", "src/board.dts", "--arch", "arm", "--kernel", "6.12", "-o", "out/imported/x.yaml",
                        cwd=tmp_path)
    assert code == 0, err
    written = (tmp_path / "out" / "imported" / "x.yaml").read_text()
    assert "# /memreserve/ entry 0 of board.dts\n" in written
    assert "# /reserved-memory/pool (board.dts:11)\n" in written
    assert 'base: "../../src/board.dts"' in written
