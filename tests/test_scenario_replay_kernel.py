"""Scenarios replayed in a real Linux 6.12 kernel (issue 20; tests/support/scenario_replay.py says how):
every request of the hand-written replay boards and of random boards, made by the kernel through
dma_alloc_coherent() and the boards' generated helpers, must get what `dtgen check --explain`
says: the same address in the same region, the page allocator (an address in no reserved
region), or a failure. Without QEMU, the cross compiler or the kernel tree it skips with the
reason; under CI=true it fails instead (realtools.need()).

No bundled example board is here: the replay kernel is arm64 and QEMU's `virt` loads it at
0x40200000, which none of their banks covers (hikey's RAM starts at 0, fsl-ls1043a-rdb's at
0x80000000; the others are ARM32). `test_no_example_board_fits_virt` keeps that true, so that one
that comes to fit joins the replay.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import scenario_replay as sr

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[sr.Outcome]:
    work = tmp_path_factory.mktemp("scenario-replay")
    cases, kernel = sr.replay_cases(work)
    return [sr.run_case(case, kernel, work) for case in cases]


def _categories(outcomes: list[sr.Outcome]) -> dict[str, int]:
    total: dict[str, int] = {}
    for outcome in outcomes:
        for key, count in outcome.categories().items():
            total[key] = total.get(key, 0) + count
    return total


def test_every_request_gets_in_the_kernel_what_dtgen_check_says(outcomes: list[sr.Outcome]) -> None:
    differences = [f"{o.booted.case.name}: {d}" for o in outcomes for d in o.differences]
    assert not differences, "\n".join(differences[:40])
    random_scenarios = sum(len(o.booted.case.scenarios) for o in outcomes if o.booted.case.name.startswith("rand-"))
    assert random_scenarios >= 30
    # Combinations too: each in the three orders check runs them in.
    assert sum(len(o.booted.events) - len(o.booted.case.scenarios) for o in outcomes) >= 30
    assert all(o.compared > 0 for o in outcomes)


def test_the_hand_written_cases_cover_what_the_issue_names(outcomes: list[sr.Outcome]) -> None:
    by_name = {o.booted.case.name: o for o in outcomes}
    dt, helper = by_name["replay-dt"], by_name["replay-helper"]
    verdicts = dt.booted.verdicts
    # A full coherent pool fails with no fallback; a fragmented pool and a churn fail where
    # dtgen says; a full CMA area sends a device-tree device to the page allocator.
    assert not verdicts["coherent-pool-full"]["fits"]
    assert [a["region"] for a in verdicts["coherent-pool-full"]["failure"]["attempts"]] == ["vpool"]
    fragmented, churn = verdicts["fragmented"]["failure"], verdicts["churn"]["failure"]
    assert fragmented["attempts"][-1]["free"] > fragmented["size"]  # enough free, not in one block
    assert churn["attempts"][-1]["largest"] < churn["align"]  # no whole power-of-two block left
    assert dt.categories().get("dma-api: page allocator after a fall-through", 0) > 0
    # The exclusive group's scenarios ran one after the other in one boot.
    assert {"decode-hd", "decode-sd"} <= set(dt.booted.case.scenarios)
    # The generated helper ran in the kernel: its chain fell through two areas to the default
    # area and then the page allocator, and a chain without `system` failed.
    events = helper.booted.verdicts["fall-through"]["events"]
    assert [e["attempts"][-1]["region"] for e in events[:8]] == \
        ["first", "second", "second", "reserved", "reserved", "reserved", "reserved", "page allocator"]
    assert not helper.booted.verdicts["second-only"]["fits"]
    assert helper.compared == sum(len(v["events"]) for v in helper.booted.verdicts.values())


def test_random_boards_reach_memory_every_way(outcomes: list[sr.Outcome]) -> None:
    counts = _categories([o for o in outcomes if o.booted.case.name.startswith("rand-")])
    for key in ("dma-api: CMA area", "dma-api: coherent pool", "dma-api: default area", "dma-api: failed",
                "dma-api: page allocator", "helper: CMA area"):
        assert counts.get(key, 0) > 0, (key, counts)
    assert sum(o.compared for o in outcomes) >= 500


def test_each_boot_is_about_a_second(outcomes: list[sr.Outcome]) -> None:
    seconds = sorted(o.booted.seconds for o in outcomes)
    assert seconds[len(seconds) // 2] < 5, seconds  # measured ~0.4 s here; the issue's budget is ~1 s


def test_no_example_board_fits_virt() -> None:
    from dtgen import boot as plan
    from dtgen.load import load

    fitting = []
    for path in sorted((ROOT / "boards").glob("*.yaml")):
        loaded = load(str(path), lambda p: Path(p).read_bytes(), str(ROOT), {})
        board = loaded.board
        if board is not None and board.kernel.arch == "arm64" and plan.ram_needed(board)[0]:
            fitting.append(path.name)
    assert fitting == [], f"{fitting} fit QEMU's virt machine: add them to the replay (tests/support/scenario_replay.py cases())"
