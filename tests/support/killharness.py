"""Kill `dtgen emit` with SIGKILL at random points and check what it leaves behind.

`dtgen emit` promises that each output file is either the old one or the complete new one
(`_write_atomic`: temporary file, fsync, rename). This harness checks the promise from outside:
two variants A and B of a real board differ in every output file; `dtgen emit` runs again and
again on one output directory, alternating A and B, and is killed part-way; after each kill
every output must be byte-equal to A's or B's version, and the only other files allowed are
dtgen's own temporaries `.NAME.*.tmp`.

Kills come in two kinds, half each:
- `spawn`: after a delay drawn from 0..1.2x a normal run's duration, counted from the start of
  the process, so kills land in start-up, loading, simulation, rendering, the writing loop, the
  interpreter's teardown, and after exit.
- `loop`: after the child prints its first `wrote`/`unchanged` line (the writing loop has
  begun), a delay drawn from 0..1.2x the measured writing loop. The loop is ~1% of a run
  (seven small files, one fsync each, ~3 ms against ~250 ms of start-up and rendering whose
  jitter alone is larger than the loop), so timing from the start almost never lands in it;
  anchoring on the child's own output does, without a test-only hook in dtgen.

Used by tests/test_interrupted_writes.py (a short run) and bench/bench_kill.py (a long one).
POSIX only (SIGKILL, select on a pipe).
"""

from __future__ import annotations

import fnmatch
import os
import random
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BOARD = "exynos4412-odroidu3"
SOC = "exynos4412.yaml"
# Every output this board has: seven files (`c` is a .c and a .h, `layout` a .json and a .yaml).
OUTPUTS = ("dtsi", "dtso", "c", "layout", "report")
# Variant B's edits, and the outputs each reaches (prepare() checks that every file differs):
# - the kernel version is printed in the C source's and header's first comment ("Linux 6.6"),
#   the only board text in the header besides the board's name;
# - the Mali pool's size is in the fragment and overlay (`size = <0x3000000>`), the layout
#   (size and the top-down starts below it) and the report's map.
VARIANT_B_EDITS = (
    ('  version: "6.12"\n', '  version: "6.6"\n'),
    ("  - name: gfx\n    description: Mali-400 GPU buffers, reached through the generated helper\n    size: 32M\n",
     "  - name: gfx\n    description: Mali-400 GPU buffers, reached through the generated helper\n    size: 48M\n"),
)
BUCKETS = ("before writing", "during writing", "after writing", "completed")
MODES = ("spawn", "loop")


@dataclass(frozen=True)
class Variant:
    label: str  # "A" or "B"
    board: Path
    files: dict[str, bytes]  # output name -> the complete file an uninterrupted emit writes


@dataclass(frozen=True)
class Plan:
    scratch: Path  # the include root: a/ and b/ hold the variants, each with its socs/ include
    a: Variant
    b: Variant
    env: dict[str, str]

    @property
    def names(self) -> list[str]:
        return sorted(self.a.files)

    def other(self, variant: Variant) -> Variant:
        return self.b if variant is self.a else self.a


@dataclass(frozen=True)
class Timing:
    run_s: float  # median, process start to exit
    loop_s: float  # median, first to last line of the writing loop


@dataclass
class Tally:
    runs: int = 0  # kills made, violating ones included
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (mode, bucket) -> clean kills
    left_temporary: int = 0  # kills after which a new `.NAME.*.tmp` appeared: killed mid-file
    violations: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def bucket(self, name: str) -> int:
        return sum(n for (_, b), n in self.counts.items() if b == name)


@dataclass(frozen=True)
class Snapshot:
    state: dict[str, str | None]  # output name -> "A", "B", or None (missing or neither)
    temporaries: frozenset[str]
    violations: tuple[str, ...]


def emit_command(include_root: Path, board: Path, out: Path) -> list[str]:
    """Run from ROOT (`python -m` puts the working directory first on sys.path), so the child
    is this checkout's dtgen whatever else is installed."""
    return [sys.executable, "-m", "dtgen", "emit", str(board), "--include-root", str(include_root),
            "--only", ",".join(OUTPUTS), "-o", str(out)]


def prepare(scratch: Path) -> Plan:
    """Write variants A (the example board as it is) and B into `scratch`, and emit each
    uninterrupted into its own directory for the expected outputs."""
    # PYTHONUNBUFFERED: the child's `wrote` lines reach us when printed (the `loop` kills'
    # anchor), not at exit. A cache of our own: kills while Jinja2 stores compiled templates
    # must not touch the user's, and the run exercises the cache under kills as well.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_CACHE_HOME": str(scratch / "cache")}
    source = (ROOT / "boards" / f"{BOARD}.yaml").read_text()
    variants = []
    for label, edits in (("A", ()), ("B", VARIANT_B_EDITS)):
        text = source
        for old, new in edits:
            if text.count(old) != 1:
                raise AssertionError(f"boards/{BOARD}.yaml changed: {old!r} is not there once; update VARIANT_B_EDITS")
            text = text.replace(old, new)
        directory = scratch / label.lower()
        (directory / "socs").mkdir(parents=True)
        (directory / f"{BOARD}.yaml").write_text(text)
        shutil.copy(ROOT / "boards" / "socs" / SOC, directory / "socs" / SOC)
        expected = scratch / f"expected-{label.lower()}"
        _run_complete(emit_command(scratch, directory / f"{BOARD}.yaml", expected), env)
        files = {p.name: p.read_bytes() for p in sorted(expected.iterdir())}
        variants.append(Variant(label, directory / f"{BOARD}.yaml", files))
    a, b = variants
    if sorted(a.files) != sorted(b.files):
        raise AssertionError(f"A and B emit different file names: {sorted(a.files)} vs {sorted(b.files)}")
    # The manifest lists the same names for both (it is written atomically like the rest).
    same = [name for name in a.files if a.files[name] == b.files[name] and not name.endswith(".dtgen-manifest")]
    if same:
        # A file equal in both would pass every check whatever emit did to it.
        raise AssertionError(f"A and B emit the same {', '.join(same)}; VARIANT_B_EDITS must reach every output")
    return Plan(scratch, a, b, env)


def _run_complete(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
    return done


def calibrate(plan: Plan, out: Path, runs: int = 3) -> Timing:
    """Time uninterrupted emits into `out`, alternating B and A so each one rewrites every file
    (the writing loop at its longest). Leaves `out` complete."""
    durations, loops = [], []
    for i in range(runs):
        variant = plan.b if i % 2 == 0 else plan.a
        start = time.perf_counter()
        proc = subprocess.Popen(emit_command(plan.scratch, variant.board, out), cwd=ROOT, env=plan.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        assert proc.stdout is not None
        stamps = [time.perf_counter() for _ in iter(proc.stdout.readline, b"")]
        _, err = proc.communicate()
        durations.append(time.perf_counter() - start)
        if proc.returncode != 0 or len(stamps) != len(plan.names):
            raise AssertionError(f"calibration emit exited {proc.returncode} after {len(stamps)} lines: {err.decode()}")
        loops.append(stamps[-1] - stamps[0])
    return Timing(run_s=statistics.median(durations), loop_s=statistics.median(loops))


def inspect(plan: Plan, out: Path) -> Snapshot:
    """Which variant each output in `out` is, dtgen's temporaries, and every file that breaks
    the promise: an output missing, empty, a prefix, or a mix; any file that is neither an
    output nor one of its temporaries."""
    state: dict[str, str | None] = {}
    problems = []
    present = set(os.listdir(out))
    for name in plan.names:
        if name not in present:
            state[name] = None
            problems.append(f"{name}: missing")
            continue
        data = (out / name).read_bytes()
        state[name] = next((v.label for v in (plan.a, plan.b) if data == v.files[name]), None)
        if state[name] is None:
            problems.append(f"{name}: {_describe(data, plan.a.files[name], plan.b.files[name])}")
    temporaries = {entry for entry in present if any(fnmatch.fnmatchcase(entry, f".{name}.*.tmp") for name in plan.names)}
    for stray in sorted(present - set(plan.names) - temporaries):
        problems.append(f"{stray}: neither an output nor a temporary of one")
    return Snapshot(state, frozenset(temporaries), tuple(problems))


def _describe(data: bytes, a: bytes, b: bytes) -> str:
    if not data:
        return "empty"
    prefix_of = [label for label, full in (("A", a), ("B", b)) if full.startswith(data)]
    if prefix_of:
        whose = " and ".join(f"{label}'s" for label in prefix_of)
        return f"the first {len(data)} bytes of {whose}"
    return f"{len(data)} bytes, neither A's ({len(a)}) nor B's ({len(b)})"


def _target(plan: Plan, state: dict[str, str | None], last: Variant) -> Variant:
    """The variant that makes emit rewrite the most files; after a kill that left a mix, the
    one not emitted last."""
    on_a = sum(1 for v in state.values() if v == "A")
    on_b = sum(1 for v in state.values() if v == "B")
    if on_a != on_b:
        return plan.b if on_a > on_b else plan.a
    return plan.other(last)


def kill_once(plan: Plan, out: Path, target: Variant, mode: str, delay_s: float) -> tuple[int, str]:
    """Start emitting `target` into `out`, SIGKILL it after the delay (counted from the start
    for `spawn`, from its first line of output for `loop`), and reap it."""
    proc = subprocess.Popen(emit_command(plan.scratch, target.board, out), cwd=ROOT, env=plan.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    assert proc.stdout is not None
    if mode == "loop":
        # A run that hangs before writing should not hang the harness: a generous cap.
        ready, _, _ = select.select([proc.stdout], [], [], 30.0)
        if ready:
            os.read(proc.stdout.fileno(), 4096)
    time.sleep(delay_s)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    return proc.returncode, err.decode(errors="replace")


def run_kills(plan: Plan, out: Path, timing: Timing, runs: int, rng: random.Random) -> Tally:
    """`runs` killed emits into `out` (which calibrate() left complete), checking after each."""
    tally = Tally()
    started = time.perf_counter()
    last = plan.a
    before = inspect(plan, out)
    for i in range(runs):
        target = _target(plan, before.state, last)
        last = target
        mode = rng.choice(MODES)
        delay = rng.uniform(0.0, 1.2 * (timing.run_s if mode == "spawn" else timing.loop_s))
        code, err = kill_once(plan, out, target, mode, delay)
        tally.runs += 1
        after = inspect(plan, out)
        problems = list(after.violations)
        if code not in (0, -signal.SIGKILL):
            problems.append(f"emit exited {code}: {err.strip()}")
        # Files the run had to rewrite, and files it did; a file that already was the target's
        # must not change (to the other variant or anything else).
        # (The manifest is the same in both variants: inspect() holds it whole, nothing more.)
        differing = [n for n in plan.names if plan.a.files[n] != plan.b.files[n]]
        to_change = {n for n in differing if before.state[n] != target.label}
        changed = {n for n in differing if after.state[n] != before.state[n]}
        for name in sorted(changed - to_change):
            problems.append(f"{name}: was {target.label}'s already, now {after.state[name] or 'neither'}")
        if code == 0 and changed != to_change:
            problems.append(f"emit exited 0 but left {', '.join(sorted(to_change - changed))} as they were")
        if problems:
            tally.violations.extend(f"kill {i + 1} ({mode}, {delay * 1000:.1f} ms, emitting {target.label}): {p}" for p in problems)
            # Put `out` right so the next kills are checked against a known state.
            _run_complete(emit_command(plan.scratch, target.board, out), plan.env)
            before = inspect(plan, out)
            continue
        if code == 0:
            bucket = "completed"
        elif not changed:
            bucket = "before writing"
        elif changed == to_change:
            bucket = "after writing"
        else:
            bucket = "during writing"
        tally.counts[mode, bucket] += 1
        if after.temporaries - before.temporaries:
            tally.left_temporary += 1
        before = after
    tally.elapsed_s = time.perf_counter() - started
    return tally


def finish(plan: Plan, out: Path) -> tuple[int, list[str]]:
    """One uninterrupted emit into `out` after the kills: it must leave exactly the complete
    outputs, and none of the temporaries the killed runs left. Returns how many temporaries
    there were before it, and what is wrong after."""
    before = inspect(plan, out)
    target = _target(plan, before.state, plan.b)
    _run_complete(emit_command(plan.scratch, target.board, out), plan.env)
    after = inspect(plan, out)
    problems = list(after.violations)
    # By content, not by label: the manifest is the same in both variants, so inspect() labels it "A".
    problems += [f"{name}: is not {target.label}'s" for name in plan.names
                 if after.state[name] is not None and (out / name).read_bytes() != target.files[name]]
    problems += [f"{name}: left behind by the killed runs, still there" for name in sorted(after.temporaries)]
    return len(before.temporaries), problems


def summary(timing: Timing, tally: Tally) -> str:
    lines = [f"normal run {timing.run_s * 1000:.0f} ms, writing loop {timing.loop_s * 1000:.1f} ms; "
             f"{tally.runs} kills in {tally.elapsed_s:.1f} s"]
    width = max(len(b) for b in BUCKETS)
    lines.append(f"  {'bucket':<{width}}  {'spawn':>6}  {'loop':>6}  {'total':>6}")
    for bucket in BUCKETS:
        per_mode = [tally.counts[mode, bucket] for mode in MODES]
        lines.append(f"  {bucket:<{width}}  {per_mode[0]:6d}  {per_mode[1]:6d}  {sum(per_mode):6d}")
    lines.append(f"  kills that left a temporary (killed between mkstemp and rename): {tally.left_temporary}")
    lines.append(f"  violations: {len(tally.violations)}")
    lines += [f"    {v}" for v in tally.violations[:20]]
    if len(tally.violations) > 20:
        lines.append(f"    ... and {len(tally.violations) - 20} more")
    return "\n".join(lines)
