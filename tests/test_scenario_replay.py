"""The scenario replay's harness (tests/support/scenario_replay.py, issue 20), held to what it must do
without a kernel: the script it writes, the tree nodes the driver reads, the log parser, and a
comparison that catches every kind of difference. tests/test_scenario_replay_kernel.py boots it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dtgen.resolve import resolve
from tests.support import scenario_replay as sr
from tests.support.common import need_tool

# The minimal kernel's values that matter to placement and the helper (tests/kernel/
# minimal-arm64.config: 16 MiB default area, 4K pages, no hugetlb); the boot test reads the real
# .config instead.
KCONFIG: dict[str, object] = {"CONFIG_CMA": True, "CONFIG_DMA_CMA": True, "CONFIG_CMA_SIZE_MBYTES": 16,
                              "CONFIG_CMA_ALIGNMENT": 8, "CONFIG_CMA_AREAS": 20, "CONFIG_HUGETLB_PAGE": False}
DT_BOARD = sr.HAND_WRITTEN / "replay-dt.yaml"
HELPER_BOARD = sr.HAND_WRITTEN / "replay-helper.yaml"


@pytest.fixture(scope="module")
def dt_case() -> sr.Case:
    return sr.prepare(DT_BOARD, KCONFIG)


# ---- the script ---------------------------------------------------------------------------


def test_the_script_is_every_request_and_release_of_each_scenario_in_the_models_order(dt_case: sr.Case) -> None:
    from dtgen.simulate.engine import Release, Request, scenario_ops

    steps, planned, handles = sr.script(sr.blocks(dt_case.board, resolve(dt_case.board)[0], dt_case.scenarios, combined=False))
    assert handles == len(planned) and [p.handle for p in planned] == list(range(handles))
    # Each scenario is bracketed, and its requests are the model's, in order.
    starts = [i for i, s in enumerate(steps) if s.startswith("s ")]
    assert [steps[i][2:] for i in starts] == dt_case.scenarios and steps.count("e") == len(dt_case.scenarios)
    board = dt_case.board
    for name in dt_case.scenarios:
        scenario = next(s for s in board.scenarios if s.name == name)
        ops = list(scenario_ops(board, scenario))
        requests = [op for op in ops if isinstance(op, Request)]
        mine = [p for p in planned if p.scenario == name]
        assert [(p.device, p.kind, p.size, p.label) for p in mine] == [(r.device, r.kind, r.size, r.label) for r in requests]
        assert [p.index for p in mine] == list(range(len(requests)))
    # A release frees every handle allocated under its name since the last release of it.
    freed = [int(s.split()[1]) for s in steps if s.startswith("f ")]
    assert len(freed) == len(set(freed))
    allocated_before = {}
    for position, step in enumerate(steps):
        if step.startswith("a "):
            allocated_before[int(step.split()[1])] = position
    assert all(allocated_before[h] < steps.index(f"f {h}") for h in freed)
    frames = next(p for p in planned if p.scenario == "coherent-pool-full")
    first_release = next(s for s in steps if s.startswith("f "))
    assert frames.handle >= 0 and first_release  # the board frees something
    assert any(isinstance(op, Release) for s in board.scenarios for op in scenario_ops(board, s))


def test_a_pin_step_has_no_replay(dt_case: sr.Case) -> None:
    from dataclasses import replace

    from dtgen.model import Pin

    board = dt_case.board
    scenario = board.scenarios[0]
    pinned = replace(board, scenarios=(replace(scenario, steps=(Pin("camera", 0, 4096, ""), *scenario.steps)),))
    with pytest.raises(sr.ToolError, match="pin"):
        sr.script(sr.blocks(pinned, resolve(pinned)[0], [scenario.name], combined=False))


# ---- the tree ------------------------------------------------------------------------------


def test_the_device_nodes_carry_what_the_driver_reads(dt_case: sr.Case, tmp_path: Path) -> None:
    """Compiled with dtc with the fragment after them (as the boot tree has it) and read back:
    every board device at the root with compatible "dtgen,replay" after its own, its kinds, each
    kind's memory-region index (none for a kind the fragment gives no entry), its mask, and the
    script under /dtgen-replay."""
    import libfdt

    dtc = need_tool("dtc")
    steps, _, handles = sr.script(sr.blocks(dt_case.board, resolve(dt_case.board)[0], dt_case.scenarios[:2], combined=False))
    source = "/dts-v1/;\n/ {\n\t#address-cells = <2>;\n\t#size-cells = <2>;\n};\n" + \
        sr.replay_nodes(dt_case, steps, handles) + dt_case.fragment.replace("/dts-v1/;", "")
    (tmp_path / "t.dts").write_text(source)
    from dtgen import qemu

    blob = qemu.dtc(["-q", "-I", "dts", "-O", "dtb"], dtc, source.encode())
    fdt = libfdt.Fdt(blob)

    def strings(path: str, prop: str) -> list[str]:
        return bytes(fdt.getprop(fdt.path_offset(path), prop)).rstrip(b"\0").decode().split("\0")

    def cells(path: str, prop: str) -> list[int]:
        raw = bytes(fdt.getprop(fdt.path_offset(path), prop))
        return [int.from_bytes(raw[i:i + 4], "big") for i in range(0, len(raw), 4)]

    assert strings("/dtgen-cam", "compatible") == ["dtgen-test,cam", "dtgen,replay"]
    assert strings("/dtgen-cam", "dtgen,kinds") == ["bufs", "meta"]
    assert cells("/dtgen-cam", "dtgen,entry") == [0, sr.HANDLE_NONE]  # meta is `system`: no entry
    assert cells("/dtgen-cam", "dtgen,dma-bits") == [32]
    assert len(cells("/dtgen-cam", "memory-region")) == 1  # the fragment's, on the same node
    assert cells("/dtgen-codec", "dtgen,entry") == [0]
    assert strings("/dtgen-replay", "script") == steps and cells("/dtgen-replay", "handles") == [handles]


def test_a_helper_device_names_its_board_and_the_table_holds_its_functions() -> None:
    case = sr.prepare(HELPER_BOARD, KCONFIG)
    steps, _, handles = sr.script(sr.blocks(case.board, resolve(case.board)[0], case.scenarios))
    nodes = sr.replay_nodes(case, steps, handles)
    assert 'dtgen,helper = "replay-helper";' in nodes
    files = sr.helper_table([case, sr.prepare(DT_BOARD, KCONFIG)])
    assert set(files) == {"replay-helper-cma.c", "replay-helper-cma.h", "dtgen-replay-helpers.c"}
    table = files["dtgen-replay-helpers.c"]
    assert '{ "replay-helper", replay_helper_cma_alloc, replay_helper_cma_release },' in table
    assert '#include "replay-helper-cma.h"' in table and table.rstrip().endswith("{ NULL, NULL, NULL }\n};".rstrip())
    assert "replay_helper_cma_alloc(" in files["replay-helper-cma.h"]


# ---- random boards ----------------------------------------------------------------------------


def test_random_boards_place_and_carry_devices_of_both_deliveries(tmp_path: Path) -> None:
    made = [sr.random_board(seed, KCONFIG) for seed in range(20000, 20040)]
    boards = [m for m in made if m is not None]
    assert len(boards) >= 20
    texts = "\n".join(text for _, text in boards)
    assert "uses: helper" in texts and "regions: [system]" in texts
    for name, text in boards[:8]:
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        case = sr.prepare(path, KCONFIG)  # loads, validates, places on virt and emits, or raises
        assert len(case.scenarios) == 3
        assert bool(case.helper) == any(d.uses == "helper" for d in case.board.devices)
    assert sr.random_board(20000, KCONFIG) == made[0]  # a seed is the same board every time


# ---- the log ---------------------------------------------------------------------------------

LOG = """\
[    0.161310] @R attach cam bufs 0 0 camera 0x000000007f400000 0x0000000000800000
[    0.171808] @R begin 35
[    0.171916] @R area camera 0x000000007f400000 8388608
[    0.172007] @R default reserved
garbage @R alloc notanumber ok
[    0.172558] @R scenario s0
[    0.178297] @R alloc 0 ok 0x0000000040900000
[    0.178297] @R alloc 1 fail
[    0.178297] @R error step 3: no device kind x/y
[    0.211197] @R end 35
"""


def test_the_log_records_are_read_wherever_they_sit_in_the_line() -> None:
    run = sr.parse(LOG)
    assert run.began and run.ended and run.default == "reserved"
    assert run.areas == {"camera": (0x7F400000, 8 << 20)}
    assert run.attached == {("cam", "bufs"): (0, "camera", 0x7F400000, 8 << 20)}
    assert run.allocs == {0: 0x40900000, 1: None}
    assert run.errors[0].startswith("unreadable record") and run.errors[1] == "step 3: no device kind x/y"


# ---- the comparison -----------------------------------------------------------------------------


def _booted(case: sr.Case) -> sr.Booted:
    """The prediction without QEMU's facts (the comparison does not care where they come from)."""
    import json

    from dtgen.views.checks import verdict_data
    from dtgen.simulate.engine import explain

    layout, _ = resolve(case.board)
    replayed = sr.blocks(case.board, layout, case.scenarios)
    _, planned, _ = sr.script(replayed)
    verdicts = {n: json.loads(json.dumps(verdict_data(explain(case.board, layout, n)))) for n in case.scenarios}
    _, events = sr.predictions(case.board, layout, case.scenarios, replayed)
    return sr.Booted(case, case.board, layout, b"", "", 1024, planned, verdicts, events)


def _agreeing_run(booted: sr.Booted) -> sr.KernelRun:
    """What a kernel that does what the model says prints: every area, every attachment, each
    request's address (a page-allocator one at an address in no region)."""
    run = sr.KernelRun(began=True, ended=True)
    placed = {p.region: p for p in booted.layout.placements}
    for p in booted.layout.placements:
        if p.kind == "cma":
            run.areas[p.region] = (p.start, p.size)
    for row in booted.layout.map:
        first = row.delivery.regions[0] if row.delivery.regions else "system"
        if first in placed and placed[first].kind in ("cma", "coherent"):
            run.attached[(row.device, row.kind)] = (0, first, placed[first].start, placed[first].size)
    by_scenario: dict[str, list[sr.Planned]] = {}
    for p in booted.planned:
        by_scenario.setdefault(p.scenario, []).append(p)
    for scenario, requests in by_scenario.items():
        for planned, event in zip(requests, booted.events[scenario]):
            last = event["attempts"][-1] if event["attempts"] else None
            if not event["ok"]:
                run.allocs[planned.handle] = None
            elif last["address"] is None:
                run.allocs[planned.handle] = 0x40100000  # low RAM: no region there
            else:
                run.allocs[planned.handle] = last["address"]
    return run


def test_a_kernel_that_does_what_the_model_says_shows_no_difference(dt_case: sr.Case) -> None:
    booted = _booted(dt_case)
    found, compared = sr.requests(booted, _agreeing_run(booted))
    assert found == [] and compared == sum(len(e) for e in booted.events.values()) > 300


def _first(booted: sr.Booted, scenario: str, which: str) -> sr.Planned:
    """The first request of `scenario` the model says is `which`: region | page | failed."""
    events = booted.events[scenario]
    for planned, event in zip([p for p in booted.planned if p.scenario == scenario], events):
        last = event["attempts"][-1]
        kind = "failed" if not event["ok"] else "page" if last["address"] is None else "region"
        if kind == which:
            return planned
    raise AssertionError(f"{scenario} has no {which} request")


@pytest.mark.parametrize(("scenario", "which", "kernel_gives", "message"), [
    ("decode-hd", "region", lambda a: a + 0x1000, "dtgen says vpool at"),
    ("decode-hd", "region", lambda a: None, "the kernel gave failed"),
    ("cma-full-page-allocator", "page", lambda a: 0x7F400000, "dtgen says the page allocator; the kernel gave 0x7f400000 in camera"),
    ("cma-full-page-allocator", "page", lambda a: None, "dtgen says the page allocator; the kernel failed"),
    ("coherent-pool-full", "failed", lambda a: 0x40100000, "dtgen says it fails; the kernel gave 0x40100000"),
])
def test_every_kind_of_difference_is_caught(dt_case: sr.Case, scenario: str, which: str, kernel_gives, message: str) -> None:
    booted = _booted(dt_case)
    run = _agreeing_run(booted)
    planned = _first(booted, scenario, which)
    run.allocs[planned.handle] = kernel_gives(run.allocs[planned.handle])
    found, _ = sr.requests(booted, run)
    assert len(found) == 1 and message in found[0] and f"{scenario} request {planned.index + 1}" in found[0], found


def test_a_silent_step_a_driver_error_a_wrong_attachment_and_an_unfinished_run_are_caught(dt_case: sr.Case) -> None:
    booted = _booted(dt_case)
    run = _agreeing_run(booted)
    del run.allocs[booted.planned[0].handle]
    run.errors.append("step 9: no device kind x/y")
    run.attached[("cam", "bufs")] = (-16, "camera", 0x7F400000, 8 << 20)
    found = sr.compare(booted, run)[0][:1] + sr.requests(booted, run)[0]
    assert any("the kernel printed nothing for it" in f for f in found)
    assert any(f == "the driver said: step 9: no device kind x/y" for f in found)
    assert any(f.startswith("cam/bufs: attached camera") and "ret -16" in f for f in found)
    run.ended = False
    found, compared = sr.compare(booted, run)
    assert compared == 0 and "the replay did not finish" in found[-1]


def test_combinations_are_replayed_in_every_interleaving(tmp_path: Path) -> None:
    """A board whose scenarios share a region: the script holds each scenario alone, then the
    combination in each of check's three orders, and their events are the engine's runs of those
    orders (the worst of which is check's verdict)."""
    from dtgen.simulate.engine import combinations, interleavings, verdict

    path = tmp_path / "pair.yaml"
    path.write_text("""
board: pair
kernel: {arch: arm64, version: "6.12.118"}
memory:
  banks: [{name: dram, base: 0x40000000, size: 1G}]
regions:
  - {name: pool, size: 8M, reusable: true}
devices:
  - {name: cam, node: "&cam", compatible: "t,cam", kinds: [k]}
map:
  - {match: cam/k, regions: [pool]}
scenarios:
  - name: a
    steps:
      - alloc: {device: cam, size: 3M, as: x}
      - alloc: {device: cam, size: 1M, as: y}
      - free: x
  - name: b
    steps:
      - alloc: {device: cam, size: 2M, count: 2, as: z}
""")
    case = sr.prepare(path, KCONFIG)
    layout, _ = resolve(case.board)
    replayed = sr.blocks(case.board, layout, case.scenarios)
    names = [name for name, _ in replayed]
    assert names == ["a", "b", "a+b@round-robin-by-step", "a+b@each-fully-allocated-in-turn",
                     "a+b@each-fully-allocated-in-turn-reversed"]
    combo = combinations(case.board, layout, case.board.scenarios)[0]
    assert [list(ops) for _, ops in replayed[2:]] == [ops for _, ops in interleavings(case.board, combo)]
    steps, planned, handles = sr.script(replayed)
    # In a combination both scenarios name their buffers; the handles keep them apart.
    robin = [p for p in planned if p.scenario == "a+b@round-robin-by-step"]
    assert [(p.device, p.label) for p in robin] == [("cam", "x"), ("cam", "z[0]"), ("cam", "y"), ("cam", "z[1]")]
    verdicts, events = sr.predictions(case.board, layout, case.scenarios, replayed)
    assert set(events) == set(names) and all(len(events[n]) == len([p for p in planned if p.scenario == n]) for n in names)
    worst = verdict(case.board, layout, combo, record=True)
    label = worst.order.replace(",", "").replace(" ", "-")
    assert [e["attempts"][-1]["address"] for e in events[f"a+b@{label}"]] == [e.address for e in worst.events]
