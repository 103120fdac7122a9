"""Large inputs: a board with 64 regions, 200 devices, 500 map rules and 50 scenarios
(bench/large_board.py) validates, resolves, simulates and emits; a file over the size limit is
refused with a diagnostic, and files near it are handled. Behaviour only: the times are
bench/bench_large.py's job.

Expectations come from the board file itself (parsed here with PyYAML, rules matched here with
the 2010 `?`/`*` semantics), not from dtgen's own output: where each region may lie, which
region each device kind gets, which verdict each scenario expects.

Also here, the two algorithms that made large boards possible, each against the definition it
replaced: combinations of scenarios without trying all 2^n subsets (engine.linked_sets), and
shadowed map rules without comparing every pair (the map-shadowed rule).
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from dtgen.cli import main
from dtgen.mapping import covers
from dtgen.simulate.engine import linked_sets
from dtgen.validate.rules import map_shadowed
from dtgen.yamlsrc import MAX_BYTES

ROOT = Path(__file__).resolve().parent.parent
# The generator is the benchmark's input first; the tests prove the benchmark measures a board
# that is valid and fits, not an error path.
sys.path.insert(0, str(ROOT / "bench"))
from large_board import large_board  # noqa: E402

COUNTS = {"regions": 64, "devices": 200, "rules": 500, "scenarios": 50}
GiB = 1 << 30


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def size_of(value: int | str) -> int:
    """A board-file size or address as a number: what the README's size syntax says."""
    if isinstance(value, int):
        return value
    text = value.strip()
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    scale = units.get(text[-1:], 1)
    number = text[:-1] if scale != 1 else text
    return int(number, 0) * scale


def pattern_matches(pattern: str, name: str) -> bool:
    """The 2010 cma.map matcher: `?` any one character, a trailing `*` the rest."""
    fixed = pattern[:-1] if pattern.endswith("*") else pattern
    if pattern.endswith("*") and len(name) < len(fixed) or not pattern.endswith("*") and len(name) != len(fixed):
        return False
    return all(p in ("?", c) for p, c in zip(fixed, name))


def first_chain(plan: dict, device: str, kind: str) -> list[str]:
    previous = ""
    for rule in plan["map"]:
        dev, _, knd = rule["match"].partition("/")
        dev = dev or previous  # `/kind` reuses the previous rule's device pattern
        previous = dev
        if pattern_matches(dev, device) and pattern_matches(knd, kind):
            return list(rule["regions"])
    raise AssertionError(f"no rule for {device}/{kind}")


@pytest.fixture(scope="module")
def board_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("large") / "large.yaml"
    path.write_text(large_board(**COUNTS))
    return path


@pytest.fixture(scope="module")
def plan(board_file: Path) -> dict:
    return yaml.safe_load(board_file.read_text())


# ---- the generator ----------------------------------------------------------------------


@pytest.mark.parametrize("counts", [COUNTS, {"regions": 24, "devices": 60, "rules": 150, "scenarios": 17}])
def test_generator_gives_exactly_the_counts_asked_for(counts: dict[str, int]) -> None:
    text = large_board(**counts, seed=7)
    plan = yaml.safe_load(text)
    got = {"regions": len(plan["regions"]), "devices": len(plan["devices"]), "rules": len(plan["map"]),
           "scenarios": len(plan["scenarios"])}
    assert got == counts
    assert text == large_board(**counts, seed=7)  # deterministic
    assert text != large_board(**counts, seed=8)


def test_the_board_is_the_realistic_mix_it_claims(plan: dict) -> None:
    regions = plan["regions"]
    assert plan["kernel"]["arch"] == "arm64" and len(plan["memory"]["banks"]) >= 3
    assert sum(1 for r in regions if r.get("default")) == 1
    cma = [r for r in regions if r.get("reusable")]
    assert len(cma) >= 16 and plan["kernel"]["config"]["CONFIG_CMA_AREAS"] >= len(cma)
    for key in ("start", "bank", "alloc_ranges", "alignment", "private_to"):
        assert any(key in r for r in regions), key
    assert any(r.get("no_map") and "start" in r for r in regions)  # fixed carve-outs
    assert any(r.get("no_map") and "start" not in r for r in regions)  # dynamic coherent pools
    assert any(r.get("compatible") is False for r in regions)
    devices = plan["devices"]
    assert {d.get("uses", "devicetree") for d in devices} == {"devicetree", "helper"}
    assert {32, 64} <= {d["dma_mask_bits"] for d in devices}
    assert all(d["node"] == f"&{d['name']}" for d in devices)
    assert any(len(r["regions"]) > 1 for r in plan["map"])  # fallback chains
    assert any("*" in r["match"] or "?" in r["match"] for r in plan["map"])
    assert any(r["match"].startswith("/") for r in plan["map"])
    scenarios = plan["scenarios"]
    assert any("churn" in s for s in scenarios) and any("steps" in s for s in scenarios)
    assert all(s["churn"]["ops"] <= 1000 for s in scenarios if "churn" in s)
    assert any(s.get("expect") == "fails" for s in scenarios)
    steps = [next(iter(step)) for s in scenarios for step in s.get("steps", ())]
    assert {"alloc", "free", "pin"} <= set(steps)


def test_a_smaller_variant_validates_too(tmp_path: Path) -> None:
    path = tmp_path / "variant.yaml"
    path.write_text(large_board(regions=24, devices=60, rules=150, scenarios=17, seed=7))
    result = run("validate", str(path))
    assert (result.exit_code, result.output) == (0, "")


# ---- the pipeline on the large board -----------------------------------------------------


def test_validate_is_clean(board_file: Path) -> None:
    result = run("validate", str(board_file))
    assert (result.exit_code, result.output) == (0, "")


def test_resolve_places_every_region_inside_its_window_without_overlap(board_file: Path, plan: dict) -> None:
    result = run("resolve", "--format", "json", str(board_file))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["diagnostics"] == []
    placed = {p["region"]: p for p in data["layout"]["placements"] if not p["implicit"]}
    assert set(placed) == {r["name"] for r in plan["regions"]}
    banks = [(size_of(b["base"]), size_of(b["base"]) + size_of(b["size"])) for b in plan["memory"]["banks"]]
    bank_by_name = {b["name"]: (size_of(b["base"]), size_of(b["base"]) + size_of(b["size"])) for b in plan["memory"]["banks"]}
    occupied = [(size_of(o["start"]), size_of(o["start"]) + size_of(o["size"])) for o in plan["memory"]["occupied"]]
    for region in plan["regions"]:
        p = placed[region["name"]]
        start, size = p["start"], size_of(region["size"])
        assert isinstance(start, int) and p["size"] == size and p["end"] == start + size
        assert any(low <= start and start + size <= high for low, high in banks), region["name"]
        assert not any(start < high and low < start + size for low, high in occupied), region["name"]
        if "start" in region:
            assert start == size_of(region["start"])
        if "bank" in region:
            low, high = bank_by_name[region["bank"]]
            assert low <= start and start + size <= high
        if "alloc_ranges" in region:
            windows = [(size_of(w["start"]), size_of(w["start"]) + size_of(w["size"])) for w in region["alloc_ranges"]]
            assert any(low <= start and start + size <= high for low, high in windows)
        if "alignment" in region and "start" not in region:
            assert start % size_of(region["alignment"]) == 0
        if region.get("reusable"):
            # CMA areas: 2 MiB pageblocks (arm64, 4K pages, hugetlb): base and size aligned,
            # and never across the 4 GiB ZONE_DMA32 limit.
            assert start % (2 << 20) == 0 and size % (2 << 20) == 0
            assert not start < 4 * GiB < start + size
    spans = sorted((p["start"], p["end"], name) for name, p in placed.items())
    for (_, end, name), (start, _, other) in zip(spans, spans[1:]):
        assert end <= start, f"{name} overlaps {other}"
    # A 32-bit device reaches [0, 4 GiB): every region its kinds map to lies there.
    for device in plan["devices"]:
        if device["dma_mask_bits"] == 32:
            for kind in device["kinds"]:
                for name in first_chain(plan, device["name"], kind):
                    if name != "system":
                        assert placed[name]["end"] <= 4 * GiB, (device["name"], kind, name)


def test_check_reports_every_scenario_with_its_expected_verdict(board_file: Path, plan: dict) -> None:
    result = run("check", "--format", "json", str(board_file))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["diagnostics"] == []
    expected = {s["name"]: s.get("expect", "fits") for s in plan["scenarios"]}
    alone = {v["scenarios"][0]: v for v in data["verdicts"] if len(v["scenarios"]) == 1}
    assert set(alone) == set(expected)
    for name, expect in expected.items():
        verdict = alone[name]
        assert (verdict["expect"], verdict["fits"], verdict["met"]) == (expect, expect == "fits", True), name
    combos = [v for v in data["verdicts"] if len(v["scenarios"]) > 1]
    groups = {s["name"]: s.get("exclusive") for s in plan["scenarios"]}
    assert combos, "scenarios sharing a region and no exclusive group run together"
    for combo in combos:
        names = combo["scenarios"]
        assert all(expected[n] == "fits" for n in names)
        in_groups = [groups[n] for n in names if groups[n]]
        assert len(in_groups) == len(set(in_groups)), names
        assert combo["fits"] and combo["met"], names


@pytest.fixture(scope="module")
def emitted(board_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    out = tmp_path_factory.mktemp("emit")
    return out, run("emit", str(board_file), "-o", str(out))


def test_emit_writes_every_region_node_and_device_node(emitted: tuple[Path, Result], plan: dict) -> None:
    out, result = emitted
    assert result.exit_code == 0, result.output
    stem = plan["board"]
    names = {p.name for p in out.iterdir()}
    assert {f"{stem}-reserved-memory.dtsi", f"{stem}-reserved-memory.dtso", f"{stem}-cma.c", f"{stem}-cma.h",
            f"{stem}-layout.json", f"{stem}-layout.yaml"} <= names
    text = (out / f"{stem}-reserved-memory.dtsi").read_text()
    block = text[text.index("\treserved-memory {"):text.index("\n\t};\n", text.index("\treserved-memory {"))]
    labels = re.findall(r"^\t\t([a-z_][a-z0-9_]*): [^ ]+ \{$", block, re.M)
    assert sorted(labels) == sorted(r["name"] for r in plan["regions"])  # 64 nodes, one per region
    for device in plan["devices"]:
        chains = [first_chain(plan, device["name"], kind) for kind in device["kinds"]]
        node = re.search(rf"^&{device['name']} \{{\n\tmemory-region = (.*);$", text, re.M)
        if device.get("uses") == "helper" or all(c[0] == "system" for c in chains):
            assert node is None, device["name"]  # no memory-region: the helper, or the default area
            continue
        assert node is not None, device["name"]
        assert node.group(1) == ", ".join(f"<&{c[0]}>" for c in chains)  # in `kinds` order
        if device.get("memory_region_names"):
            assert f'\tmemory-region-names = {", ".join(chr(34) + k + chr(34) for k in device["kinds"])};' in text
    helper_c = (out / f"{stem}-cma.c").read_text()
    for device in plan["devices"]:
        if device.get("uses") == "helper":
            assert f'"{device["compatible"]}"' in helper_c, device["name"]


def test_emit_twice_is_byte_identical(emitted: tuple[Path, Result], board_file: Path, tmp_path: Path) -> None:
    first, result = emitted
    assert result.exit_code == 0
    again = run("emit", str(board_file), "-o", str(tmp_path))
    assert again.exit_code == 0, again.output
    tree = {p.name: p.read_bytes() for p in first.iterdir()}
    assert tree == {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    rewrite = run("emit", str(board_file), "-o", str(first))
    assert rewrite.exit_code == 0 and all(line.startswith("unchanged ") for line in rewrite.stdout.splitlines())
    assert run("emit", "--check", str(board_file), "-o", str(first)).exit_code == 0


# ---- files at and over the size limit ------------------------------------------------------


def padded(board: str, total: int) -> bytes:
    """A valid board whose description fills it up to `total` bytes (folded lines of text)."""
    head = board.replace("description: >-\n", "description: >-\n  padding follows.\n", 1).encode()
    line = b"  " + b"lorem ipsum dolor sit amet " * 3 + b"\n"
    cut = head.index(b"  padding follows.\n") + len(b"  padding follows.\n")
    room = total - len(head)
    filler = line * (room // len(line)) + b"  " + b"x" * max(0, room % len(line) - 3) + b"\n"
    data = head[:cut] + filler[: room] + head[cut:]
    assert len(data) == total
    return data


@pytest.mark.parametrize("command", ["validate", "check", "emit"])
def test_a_ten_megabyte_file_is_refused_with_a_diagnostic(command: str, tmp_path: Path) -> None:
    path = tmp_path / "ten.yaml"
    path.write_bytes(padded(large_board(**COUNTS), 10 << 20))
    args = [command, str(path)] + (["-o", str(tmp_path / "out")] if command == "emit" else [])
    result = run(*args)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    diagnostics = [line for line in result.output.splitlines() if ": error: " in line]
    assert len(diagnostics) == 1
    limit = f"{MAX_BYTES >> 20} MiB"
    assert re.fullmatch(rf"{re.escape(str(path))}:1:1: error: file is .*\b{limit}\b.* \[yaml-too-large\]", diagnostics[0])
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_valid_board_just_under_the_limit_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "full.yaml"
    path.write_bytes(padded(large_board(**COUNTS), MAX_BYTES))
    result = run("validate", str(path))
    assert (result.exit_code, result.output) == (0, "")


def test_many_nodes_are_handled(tmp_path: Path) -> None:
    """1,000 devices, 12,000 map rules and 500 scenarios in one file (0.6 MB, 86,000 YAML values):
    findings or none, never a traceback, and no rule that compares every pair of rules (which
    took hours at this size). bench/bench_large.py measures files right under the size and
    value limits (yamlsrc.MAX_BYTES, MAX_NODES), which take longer than CI affords."""
    lines = ["board: many", 'kernel: {arch: arm64, version: "6.12", config: {CONFIG_HUGETLB_PAGE: true}}',
             "memory:", "  banks:", "    - {name: dram, base: 0x80000000, size: 2G}",
             "regions:", "  - {name: common, size: 64M, reusable: true, default: true}", "devices:"]
    lines += [f"  - {{name: dev{i}, kinds: [a, b]}}" for i in range(1000)]
    lines.append("map:")
    lines += [f'  - {{match: "dev{i % 1000}/{"ab"[i // 1000 % 2]}", regions: [common]}}' for i in range(12000)]
    lines.append("scenarios:")
    lines += [f"  - {{name: s{i}, steps: [{{alloc: {{device: dev{i % 1000}, kind: a, size: 4K}}}}]}}"
              for i in range(500)]
    path = tmp_path / "many.yaml"
    path.write_text("\n".join(lines) + "\n")
    result = run("validate", str(path))
    assert result.exit_code in (0, 1, 2) and isinstance(result.exception, (SystemExit, type(None)))
    assert "Traceback" not in result.output and "internal error" not in result.output
    # Rules 2,000.. repeat rules 0..1,999 exactly: each is shadowed by its twin, named in the
    # warning, and nothing else is reported.
    shadowed = [line for line in result.output.splitlines() if "[map-shadowed]" in line]
    assert len(shadowed) == 10_000
    assert "`dev0/a` comes first" in shadowed[0] and "`dev999/b` comes first" in shadowed[-1]
    assert result.exit_code == 0  # warnings only


# ---- the algorithms against their definitions -------------------------------------------


def linked_by_definition(touched: list[frozenset[str]], groups: list[str | None], limit: int) -> list[tuple[int, ...]]:
    """What combinations() computed before: every subset of two or more, kept when no group
    repeats and the regions link all of them; past `limit`, only those no other one contains."""
    def linked(members: tuple[int, ...]) -> bool:
        reached, pending = set(touched[members[0]]), list(members[1:])
        while True:
            joining = [i for i in pending if touched[i] & reached]
            if not joining:
                return not pending
            for i in joining:
                reached |= touched[i]
                pending.remove(i)

    found = []
    for size in range(2, len(touched) + 1):
        for members in itertools.combinations(range(len(touched)), size):
            in_groups = [groups[i] for i in members if groups[i]]
            if len(in_groups) == len(set(in_groups)) and linked(members):
                found.append(members)
    if len(found) > limit:
        sets = [frozenset(c) for c in found]
        found = [c for c, s in zip(found, sets) if not any(s < other for other in sets)]
    return found


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(st.tuples(st.frozensets(st.sampled_from("pqrstu"), max_size=2),
                             st.sampled_from([None, None, "g1", "g2", "g3"])), max_size=10),
    limit=st.sampled_from([0, 1, 3, 10, 64]),
)
def test_linked_sets_are_the_combinations_by_definition(items: list[tuple[frozenset[str], str | None]], limit: int) -> None:
    touched, groups = [t for t, _ in items], [g for _, g in items]
    assert linked_sets(touched, groups, limit) == linked_by_definition(touched, groups, limit)


def test_fifty_scenarios_need_not_try_every_subset() -> None:
    # 50 scenarios on one region, no groups: 2^50 subsets link, and the one maximal set is kept.
    assert linked_sets([frozenset({"pool"})] * 50, [None] * 50) == [tuple(range(50))]
    # The large board's shape: ten groups of four, each on its own regions, and one ungrouped
    # scenario beside each group: 10 x 4 pairs, no set of three (a group runs one at a time).
    touched = [frozenset({f"r{i // 4}"}) for i in range(40)] + [frozenset({f"r{g}"}) for g in range(10)]
    groups = [f"g{i // 4}" for i in range(40)] + [None] * 10
    assert linked_sets(touched, groups) == [(i, 40 + i // 4) for i in range(40)]


def shadowed_by_definition(rules: list[SimpleNamespace]) -> list[tuple[int, int]]:
    found = []
    for index, later in enumerate(rules):
        for earlier_index, earlier in enumerate(rules[:index]):
            if covers(earlier.device, later.device) and covers(earlier.kind, later.kind):
                found.append((index, earlier_index))
                break
    return found


PATTERN = st.builds(lambda body, star: body + ("*" if star or not body else ""),
                    st.text("ab?", max_size=3), st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(PATTERN, PATTERN), max_size=14))
def test_map_shadowed_names_the_first_covering_rule(patterns: list[tuple[str, str]]) -> None:
    rules = [SimpleNamespace(device=d, kind=k, text=str(i), span=None, pointer=f"/map/{i}")
             for i, (d, k) in enumerate(patterns)]
    board = SimpleNamespace(rules=tuple(rules))
    got = [(int(d.pointer.rsplit("/", 1)[1]), int(d.message.split("`")[3])) for d in map_shadowed(board)]  # type: ignore[arg-type]
    assert got == shadowed_by_definition(rules)
