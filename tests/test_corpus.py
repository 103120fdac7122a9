"""The diagnostics corpus: every board in tests/corpus/ against the exact diagnostics dtgen must
print for it.

Layout (see tests/corpus/README.md):
- bad/NAME.yaml + bad/NAME.expect: one mistake, its diagnostics and the exit code;
- bad/NAME/ (entry point board.yaml, include root the directory itself, an optional `.config`
  passed as --kconfig) + bad/NAME.expect beside it;
- good/NAME.yaml or good/NAME/: must validate with exit 0; an optional NAME.expect lists warnings;
- resolve/NAME.yaml + resolve/NAME.expect: a board that validates but that `dtgen resolve` must
  refuse or warn about (placement, zones, DMA reach), its diagnostics read from stderr.

An .expect holds one line per diagnostic, `LINE:COL: SEVERITY: MESSAGE [rule-id]` (what follows
`FILE:` in `dtgen validate` output, hint lines left out), sorted as dtgen prints them, then
`exit: N`. A diagnostic located in another file (an include) keeps that file's path; one without
a position is written `SEVERITY: MESSAGE [rule-id]`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
ENTRY = "board.yaml"
SUMMARY = re.compile(r"^\d+ errors?, \d+ warnings? in \d+ files?$")
IMPORTED = re.compile(r"^\S+: imported \d+ banks?, ")


@dataclass(frozen=True)
class Case:
    kind: str  # bad | good | resolve | emit
    name: str
    cwd: Path  # the directory the CLI runs in; also the include root
    entry: str  # the board file, relative to cwd
    expect: Path

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def kconfig(self) -> str | None:
        return ".config" if self.entry == ENTRY and (self.cwd / ".config").is_file() else None


KINDS = ("bad", "good", "resolve", "emit", "import")
IMPORT_SUFFIXES = (".dts", ".dtsi", ".dtb")


def _cases() -> list[Case]:
    found: list[Case] = []
    for kind in KINDS:
        top = CORPUS / kind
        for path in sorted(top.iterdir()):
            if path.is_dir():
                found.append(Case(kind, path.name, path, ENTRY, top / f"{path.name}.expect"))
            elif path.suffix == ".yaml" or (kind == "import" and path.suffix in IMPORT_SUFFIXES):
                found.append(Case(kind, path.stem, top, path.name, top / f"{path.stem}.expect"))
    return found


CASES = _cases()
BAD = [c for c in CASES if c.kind != "good"]


def _extra(case: Case, suffix: str) -> list[str]:
    extra = case.expect.with_suffix(suffix)
    return extra.read_text(encoding="utf-8").split() if extra.exists() else []


def _env(case: Case) -> dict[str, str]:
    # A kernel tree the caller's environment names would change the base-tree cases.
    return {"DTGEN_KERNEL_TREE": None, **dict(line.split("=", 1) for line in _extra(case, ".env"))}  # type: ignore[dict-item]


def _args(case: Case, out: str) -> list[str]:
    if case.kind == "import":
        # The board goes to stdout, so that nothing is written; findings on it name `<stdout>`.
        return ["import", case.entry, "--arch", "arm", "--kernel", "6.12", *_extra(case, ".args")]
    if case.kind == "emit":
        args = ["emit", "--include-root", ".", "-o", out]
        extra = case.expect.with_suffix(".args")
        if extra.exists():
            args += extra.read_text(encoding="utf-8").split()
        if (case.cwd / "templates").is_dir() and case.entry == ENTRY:
            args += ["--templates", "templates"]
    else:
        args = ["resolve" if case.kind == "resolve" else "validate", "--include-root", "."]
    if case.kconfig:
        args += ["--kconfig", case.kconfig]
    return [*args, case.entry]


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None


def run(case: Case) -> Run:
    """The real CLI, in-process, in the case's directory (paths in messages stay short)."""
    import tempfile

    here = os.getcwd()
    os.chdir(case.cwd)
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "out")
        try:
            result = CliRunner().invoke(main, _args(case, out), env=_env(case))
        finally:
            os.chdir(here)
        # An emit case is a board emit must refuse: it writes nothing.
        assert not os.path.exists(out), f"{case.id}: emit wrote {os.listdir(out)}"
    return Run(result.exit_code, result.stdout, result.stderr, result.exception)


def diagnostics(case: Case, out: Run) -> list[str]:
    """The run as .expect lines: file prefix stripped, hints and the summary dropped."""
    lines: list[str] = []
    prefix = case.entry + ":"
    for line in (out.stderr if case.kind in ("resolve", "emit", "import") else out.stdout).splitlines():
        if line.startswith("  hint:") or SUMMARY.match(line) or IMPORTED.match(line):
            continue
        if line.startswith(prefix):
            line = line[len(prefix):].lstrip(" ")
        lines.append(line)
    lines.append(f"exit: {out.exit_code}")
    return lines


def expected(case: Case) -> list[str]:
    if not case.expect.exists():
        assert case.kind == "good", f"{case.id}: {case.expect.name} is missing"
        return ["exit: 0"]
    return case.expect.read_text(encoding="utf-8").splitlines()


def _needs_tools(case: Case) -> None:
    """Whole .dts trees go through cpp and dtc (skipped without them locally, failing under CI);
    a case that empties PATH tests what happens without them."""
    has_base = case.entry == ENTRY and any(case.cwd.glob("*.dts"))
    if (has_base or (case.kind == "import" and case.entry.endswith(".dts"))) and "PATH" not in _env(case):
        from tests.support import realtools

        realtools.need("dtc")
        realtools.need("cpp")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case(case: Case) -> None:
    _needs_tools(case)
    out = run(case)
    assert diagnostics(case, out) == expected(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "good"], ids=lambda c: c.id)
def test_good_has_no_errors(case: Case) -> None:
    out = run(case)
    assert out.exit_code == 0, out.stdout
    assert ": error: " not in out.stdout


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_no_traceback(case: Case) -> None:
    out = run(case)
    text = out.stdout + out.stderr
    assert "Traceback" not in text
    assert "internal error" not in text
    assert out.exception is None or isinstance(out.exception, SystemExit), repr(out.exception)
    assert out.exit_code in (0, 1, 2)


def test_corpus_is_well_formed() -> None:
    """Every .expect belongs to a case and ends with its exit line; every bad case has one."""
    names = {(c.kind, c.expect.name) for c in CASES}
    for kind in KINDS:
        for expect in (CORPUS / kind).glob("*.expect"):
            assert (kind, expect.name) in names, f"{kind}/{expect.name} has no board"
            lines = expect.read_text(encoding="utf-8").splitlines()
            assert lines and re.fullmatch(r"exit: [0-2]", lines[-1]), f"{kind}/{expect.name}: last line"
            for line in lines[:-1]:
                assert re.fullmatch(r"(\S+:)?(\d+(:\d+)?: )?(error|warning): .* \[[a-z0-9-]+\]", line), line
            if kind == "good":
                assert lines[-1] == "exit: 0" and not any(": error: " in f" {ln}" for ln in lines)
    for case in BAD:
        assert case.expect.exists(), f"{case.id} has no .expect"


def test_every_rule_has_a_bad_case() -> None:
    import dtgen.validate  # noqa: F401  (registers the semantic rules)
    from dtgen.validate.registry import TABLE

    covered = set()
    for case in BAD:
        if case.expect.exists():
            covered |= set(re.findall(r"\[([a-z0-9-]+)\]$", case.expect.read_text(encoding="utf-8"), re.M))
    missing = sorted(set(TABLE) - covered)
    assert not missing, "rules without a bad case in tests/corpus/bad or resolve: " + ", ".join(missing)


# ---- through the real process: exit codes, crashes, time ------------------------------------


def _process(*args: str, cwd: Path = CORPUS, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("DTGEN_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "dtgen", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["validate", "good/minimal_arm64.yaml"], 0),
        (["validate", "bad/size_value_zero.yaml"], 1),
        (["validate", "bad/binary_garbage.yaml"], 2),
        (["validate", "bad/yaml_encoding_utf16_bom.yaml"], 2),
        (["validate", "bad/no_such_file.yaml"], 2),
        (["validate", "-W", "no-such-rule", "good/minimal_arm64.yaml"], 2),
        (["validate", "--bogus-option", "good/minimal_arm64.yaml"], 2),
        (["validate"], 2),
    ],
    ids=["clean", "findings", "binary", "utf16", "missing-file", "bad-W", "bad-option", "no-file"],
)
def test_exit_codes_of_the_process(args: list[str], code: int) -> None:
    done = _process(*args)
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_missing_file_says_so() -> None:
    done = _process("validate", "bad/no_such_file.yaml")
    assert done.stdout.splitlines()[0] == (
        "bad/no_such_file.yaml: error: cannot read `bad/no_such_file.yaml`: No such file or directory [io-error]"
    )


@pytest.mark.parametrize(
    "name", ["yaml_too_deep_flow", "yaml_too_deep_block", "yaml_too_deep_map", "yaml_too_large_alias_bomb"]
)
def test_hostile_yaml_does_not_crash_or_hang(name: str) -> None:
    # The timeout guards against a hang (TimeoutExpired fails the test); speed is the bench's job.
    done = _process("validate", f"{name}.yaml", cwd=CORPUS / "bad", timeout=60)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)  # not a signal (< 0)
    assert "Traceback" not in done.stdout + done.stderr


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"board: min\n" + b"# padding padding padding padding padding padding padding\n" * 150_000)
    done = _process("validate", str(big), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout.startswith(f"{big}:1:1: error: ") and "[yaml-too-large]" in done.stdout


BOARD_CASES = [c for c in CASES if c.kind == "emit" and not c.expect.with_suffix(".args").exists()
               and not (c.cwd / "templates").is_dir()]


@pytest.mark.parametrize("case", BOARD_CASES, ids=lambda c: c.id)
def test_validate_finds_what_emit_refuses(case: Case) -> None:
    """Every check runs before any output (dtgen/pipeline.py): a board emit refuses fails
    `dtgen validate` with the same findings, so a hook that runs validate catches it."""
    here = os.getcwd()
    os.chdir(case.cwd)
    try:
        args = ["validate", "--include-root", ".", *(["--kconfig", case.kconfig] if case.kconfig else []), case.entry]
        result = CliRunner().invoke(main, args, env=_env(case))
    finally:
        os.chdir(here)
    got = diagnostics(Case(**{**case.__dict__, "kind": "bad"}), Run(result.exit_code, result.stdout, result.stderr,
                                                                     result.exception))
    assert got == expected(case)


def test_every_prerequisite_names_a_registered_rule() -> None:
    from dtgen.validate import BY_NAME
    from dtgen.validate.registry import TABLE

    unknown = sorted({need for info in TABLE.values() for need in info.needs if need not in TABLE} | (BY_NAME - set(TABLE)))
    assert not unknown, f"prerequisites that are no rule: {unknown}"


def test_each_rule_reports_with_its_own_severity() -> None:
    """One id, one severity (the table's): a check that can warn and refuse is two rules, so
    that -W/--disable of one never silences the other. Held over every expected finding."""
    import re

    from dtgen.validate.registry import TABLE

    finding = re.compile(r"\b(error|warning): .*\[([a-z0-9-]+)\]$")
    wrong = []
    for expect in sorted(CORPUS.rglob("*.expect")):
        for line in expect.read_text(encoding="utf-8").splitlines():
            m = finding.search(line)
            if m and m.group(2) in TABLE and TABLE[m.group(2)].severity.value != m.group(1):
                wrong.append(f"{expect.relative_to(CORPUS)}: {m.group(2)} as {m.group(1)}")
    assert not wrong, wrong
