"""The CMA debugfs replay (issue 16): random alloc/free sequences on a real Linux 6.12.118 kernel
through /sys/kernel/debug/cma/<area>/, and dtgen's bitmap model must leave the same bitmap after
every step (tests/support/cma_replay.py says how).

The first tests hold the harness itself to what the kernel does, without QEMU: the newc archive
the kernel unpacks, debugfs's `free` (newest chunk first, partial from the chunk's head), the
u32 words of the `bitmap` file, the log parser, and that a wrong model is caught. The last boots
the minimal kernel: without QEMU, the cross compiler or the kernel it skips with the reason, and
under CI=true it fails instead (realtools.need()).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dtgen.simulate.cma_bitmap import CmaArea
from tests.support import cma_replay as replay
from tests.support.cma_replay import DebugfsArea, ReplaySequence, Step

# ---- the initramfs ------------------------------------------------------------------------


def _members(archive: bytes) -> list[tuple[str, int, bytes, tuple[int, int], int]]:
    """(name, mode, data, rdev, ino) of each member, read the way init/initramfs.c reads them."""
    out = []
    at = 0
    while True:
        assert archive[at:at + 6] == b"070701", at
        fields = [int(archive[at + 6 + 8 * i:at + 14 + 8 * i], 16) for i in range(13)]
        ino, mode, size, rmajor, rminor, namesize = fields[0], fields[1], fields[6], fields[9], fields[10], fields[11]
        name_at = at + 110
        name = archive[name_at:name_at + namesize]
        assert name.endswith(b"\0")
        data_at = name_at + namesize + (-(name_at + namesize) % 4)
        assert data_at % 4 == 0
        if name == b"TRAILER!!!\0":
            assert data_at == len(archive)
            return out
        out.append((name[:-1].decode(), mode, archive[data_at:data_at + size], (rmajor, rminor), ino))
        at = data_at + size + (-(data_at + size) % 4)


def test_the_initramfs_holds_init_the_script_and_the_console() -> None:
    archive = replay.initramfs(b"\x7fELF init", "replay-a alloc 3\n")
    members = {name: (mode, data, rdev) for name, mode, data, rdev, _ in _members(archive)}
    assert members["init"] == (0o100755, b"\x7fELF init", (0, 0))
    assert members["replay.txt"] == (0o100644, b"replay-a alloc 3\n", (0, 0))
    assert members["dev/console"] == (0o020600, b"", (5, 1))
    assert {"dev", "proc", "sys"} <= set(members)
    assert len(archive) % 4 == 0


def test_newc_pads_names_and_data_to_four_bytes_and_numbers_every_member() -> None:
    entries = [replay.Entry("a" * n, replay.S_IFREG | 0o644, b"x" * n) for n in range(1, 9)]
    members = _members(replay.newc(entries))
    assert [(name, data) for name, _, data, _, _ in members] == [("a" * n, b"x" * n) for n in range(1, 9)]
    assert len({ino for *_, ino in members}) == len(members)
    with pytest.raises(ValueError, match="leading slash"):
        replay.newc([replay.Entry("/init", replay.S_IFREG | 0o755)])


# ---- debugfs's alloc and free (mm/cma_debug.c) ----------------------------------------------


def _area(pages: int = 64, order_per_bit: int = 0, base_pfn: int = 0x1000) -> DebugfsArea:
    return DebugfsArea("a", CmaArea(base_pfn, pages, order_per_bit))


def test_alloc_is_order_zero_first_fit_and_fails_with_enomem() -> None:
    area = _area()
    assert [area.alloc(n) for n in (3, 5, 1)] == [0, 0, 0]
    assert area.chunks == [(0x1000, 3), (0x1003, 5), (0x1008, 1)]
    assert area.alloc(0) == -replay.ENOMEM  # cma_alloc() returns NULL for no pages
    assert area.alloc(65) == -replay.ENOMEM  # more bits than the bitmap
    assert area.alloc(56) == -replay.ENOMEM  # 55 pages left
    assert area.alloc(55) == 0
    assert area.words() == (0xFFFFFFFF, 0xFFFFFFFF) and area.used() == 64 and area.maxchunk() == 0


def test_free_takes_the_newest_chunk_first() -> None:
    area = _area()
    for n in (3, 5, 1):
        area.alloc(n)
    assert area.free(1) == 0  # exactly the newest chunk
    assert area.chunks == [(0x1000, 3), (0x1003, 5)]
    assert area.free(2) == 0  # part of the newest: its first two pages go back
    assert area.chunks == [(0x1000, 3), (0x1005, 3)]
    assert replay.set_runs(area.bits()) == [(0, 3), (5, 8)]
    assert area.free(4) == 0  # the rest of it, then the head of the one before
    assert area.chunks == [(0x1001, 2)]
    assert replay.set_runs(area.bits()) == [(1, 3)]
    assert area.free(100) == 0  # the list runs out first: the write still succeeds
    assert area.chunks == [] and area.bits() == 0 and area.area.available_count == 64


def test_a_partial_free_is_refused_with_order_per_bit_above_zero() -> None:
    area = _area(order_per_bit=1)
    area.alloc(4)
    area.alloc(4)
    area.free(6)  # the newest whole, then 2 of the next: refused, and the write stops there
    assert area.chunks == [(0x1000, 4)]
    assert replay.set_runs(area.bits()) == [(0, 2)]


def test_the_bitmap_file_is_u32_words_low_bits_first() -> None:
    area = _area(pages=40)  # DIV_ROUND_UP(40, 32) = 2 words
    area.alloc(1)
    area.alloc(33)
    area.free(1)  # the head of the 33 pages: bit 1
    assert area.words() == (0xFFFFFFFD, 0x3)
    assert replay.bits_of(area.words()) == area.bits()
    assert replay.set_runs(area.bits()) == [(0, 1), (2, 34)]
    assert replay.describe_runs(area.bits()) == "0 2-33"
    assert replay.describe_runs(0) == "none"


# ---- sequences, the script, the log ---------------------------------------------------------


def _models() -> dict[str, DebugfsArea]:
    small = DebugfsArea("small", CmaArea(0x70000, 2048))
    default = DebugfsArea(replay.DEFAULT_AREA, CmaArea(0xBC400, 4096))
    default.area.alloc(192, 6)  # as the DMA atomic pools leave it
    return {"small": small, replay.DEFAULT_AREA: default}


def test_sequences_are_seeded_cover_every_kind_of_step_and_leave_the_area_as_found() -> None:
    first, again = replay.random_sequences(_models(), 30), replay.random_sequences(_models(), 30)
    assert first == again
    assert all(replay.MIN_STEPS <= len(s.steps) <= replay.MAX_STEPS for s in first)
    models = _models()
    start = {name: model.words() for name, model in models.items()}
    kinds = dict.fromkeys(replay.KINDS, 0)
    for sequence in first:
        for kind, n in replay.step_kinds(models, [sequence]).items():
            kinds[kind] += n
        assert models[sequence.area].words() == start[sequence.area] and not models[sequence.area].chunks
    assert all(kinds.values()), kinds


def _fake_log(models: dict[str, DebugfsArea], sequences: list[ReplaySequence]) -> str:
    """What the init prints, from a model playing the kernel, with kernel lines in between."""
    lines = ["[    0.350395] Run /init as init process", "@R begin"]
    for model in models.values():
        lines.append(f"@R area {model.name} base_pfn {model.area.base_pfn} count {model.area.count} order_per_bit 0")

    def state(step: int, model: DebugfsArea) -> str:
        words = " ".join(str(w) for w in model.words())
        return f"@R state {step} {model.name} used {model.used()} maxchunk {model.maxchunk()} bitmap {words}"

    lines += [state(0, model) for model in models.values()]
    index = 0
    for sequence in sequences:
        for step in sequence.steps:
            index += 1
            ret = models[step.area].apply(step.op, step.pages)
            lines += [f"@R step {index} {step.line()} ret {ret}", state(index, models[step.area])]
    lines += [f"@R end {index}", "[    1.729037] reboot: Power down"]
    return "\n".join(lines) + "\n"


def test_a_log_of_the_model_itself_agrees_and_a_changed_word_is_named() -> None:
    sequences = replay.random_sequences(_models(), 4)
    log = _fake_log(_models(), sequences)
    parsed = replay.parse_replay(log)
    assert parsed.began and parsed.ended == sum(len(s.steps) for s in sequences) and not parsed.errors
    assert replay.compare(parsed, _models(), sequences) == []
    # Step 3's bitmap with one more bit set in its first word.
    lines = log.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("@R state 3 "))
    head, words = lines[at].split(" bitmap ")
    first, *rest = words.split()
    lines[at] = f"{head} bitmap {' '.join([str(int(first) ^ (1 << 31)), *rest])}"
    found = replay.compare(replay.parse_replay("\n".join(lines)), _models(), sequences)
    assert found and found[0].startswith(f"step 3 (sequence {sequences[0].seed}, ") and "from bit 31" in found[0]


def test_a_model_without_the_atomic_pools_is_caught_before_the_first_step() -> None:
    sequences = replay.random_sequences(_models(), 2)
    parsed = replay.parse_replay(_fake_log(_models(), sequences))
    models = _models()
    models[replay.DEFAULT_AREA] = DebugfsArea(replay.DEFAULT_AREA, CmaArea(0xBC400, 4096))
    found = replay.compare(parsed, models, sequences)
    assert found[0] == ("before the first step, reserved: bitmap differs from bit 0 (page 0xbc400); "
                        "kernel set bits: 0-191; model: none")


def test_a_broken_replay_is_reported_not_passed() -> None:
    sequences = [ReplaySequence(1, "small", (Step("small", "alloc", 3), Step("small", "free", 2048)))]
    assert replay.compare(replay.parse_replay("no init here\n"), _models(), sequences) == [
        "the init never started (no `@R begin` in the log)"]
    cut = "\n".join(_fake_log(_models(), sequences).splitlines()[:-3])  # the last step's state and the end lost
    found = replay.compare(replay.parse_replay(cut + "\n@R error open /sys/kernel/debug/cma errno 2\n"), _models(), sequences)
    assert "the init said: open /sys/kernel/debug/cma errno 2" in found
    assert "2 steps in the script, 2 replayed, the init's end says None" in found
    assert any("step 2" in f and "no state printed" in f for f in found)


def test_the_script_is_one_step_a_line() -> None:
    sequences = [ReplaySequence(7, "replay-a", (Step("replay-a", "alloc", 3), Step("replay-a", "free", 2048)))]
    assert replay.script(sequences) == "# sequence 7 on replay-a\nreplay-a alloc 3\nreplay-a free 2048\n"


# ---- on the real kernel -----------------------------------------------------------------------


def test_debugfs_replays_leave_the_bitmaps_the_model_predicts(tmp_path: Path) -> None:
    from tests.support import kernels

    kernel = kernels.minimal_arm64()
    outcome = replay.run(kernel, tmp_path)
    assert len(outcome.sequences) >= 20 and outcome.steps >= 20 * replay.MIN_STEPS
    shown = "\n".join(outcome.disagreements[:20])
    assert not outcome.disagreements, (
        f"{len(outcome.disagreements)} differences between the kernel and dtgen's model "
        f"(log: {tmp_path / 'replay.log'}):\n{shown}")
    # The default area as user space finds it: the three 256 KiB DMA atomic pools, pages 0-191.
    initial = outcome.replay.initial[replay.DEFAULT_AREA]
    assert replay.set_runs(replay.bits_of(initial.words)) == [(0, 192)]
    assert set(outcome.replay.areas) == {"replay-a", "replay-b@70000000", replay.DEFAULT_AREA}
