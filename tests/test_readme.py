"""The README's two commands, and its generated reference sections in step with the code."""

from __future__ import annotations

from dtgen.docgen import render_into
from tests.support.common import ROOT


def test_generated_sections_are_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert render_into(readme) == readme, "run: python -m dtgen.docgen --write"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2
    assert block[0].startswith("python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/dtgen emit boards/")
    assert block[1] == "bash scripts/test"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in ci


def test_the_first_command_checks_the_board_and_writes_its_outputs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The dtgen part of the first command, with its output directory moved to a scratch place."""
    import shlex
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    args = shlex.split(readme.split("```sh\n", 1)[1].splitlines()[0].split(".venv/bin/dtgen ", 1)[1])
    out = args.index("-o")
    args[out + 1] = str(tmp_path / "out")
    done = subprocess.run([sys.executable, "-m", "dtgen", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert any(n.endswith(".dtsi") for n in written) and any(n.endswith("-cma.c") for n in written), written


def test_the_first_example_prints_what_it_shows() -> None:
    """The README's first `dtgen validate` example, run: the lines it shows are what dtgen prints."""
    import re
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```\n\$ dtgen validate (\S+)\n(.*?)```", readme, re.S)
    assert block is not None
    done = subprocess.run([sys.executable, "-m", "dtgen", "validate", block.group(1)], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 1
    assert (done.stdout + done.stderr).splitlines() == block.group(2).splitlines()


# Commands the walkthrough shows that need what a checkout does not have: a kernel source tree
# (import's example names one; tests/test_import_realtools.py runs import on real trees), the
# whole-kernel sweep (minutes; tests/test_sweep.py runs a sample), a booted kernel image
# (tests/test_boot_kernels.py).
NOT_RUN_HERE = ("dtgen import linux/", "python3 bench/bench_sweep.py", "dtgen boot ")


def _matches(shown: list[str], printed: list[str]) -> bool:
    """The shown lines are what was printed, except that a `...` line stands for any number of
    lines (the README elides)."""
    segments: list[list[str]] = [[]]
    for line in shown:
        if line == "...":
            segments.append([])
        else:
            segments[-1].append(line)
    first, *middle, last = segments if len(segments) > 1 else (segments[0], segments[0])
    if len(segments) == 1:
        return printed == first
    if printed[: len(first)] != first:
        return False
    at = len(first)
    for seg in middle:
        found = next((i for i in range(at, len(printed) - len(seg) + 1) if printed[i : i + len(seg)] == seg), None)
        if found is None:
            return False
        at = found + len(seg)
    return len(printed) - at >= len(last) and (not last or printed[len(printed) - len(last):] == last)


def test_every_walkthrough_command_prints_what_the_readme_shows() -> None:
    """Each ```-block that starts with `$ dtgen ...` is run from the checkout's top; what it
    prints (stdout and stderr, as a terminal shows them) must contain the block's lines."""
    import re
    import shlex
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\n\$ (.*?)\n(.*?)```", readme, re.S)
    ran = 0
    for command, shown in blocks:
        if command.startswith(NOT_RUN_HERE):
            continue
        assert command.startswith("dtgen ") and not command.endswith("\\"), command
        args = shlex.split(command)[1:]
        done = subprocess.run([sys.executable, "-m", "dtgen", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=300, env={**__import__("os").environ, "COLUMNS": "100"})
        printed = (done.stdout + done.stderr).splitlines()
        assert _matches(shown.rstrip("\n").splitlines(), printed), f"$ {command}\n" + "\n".join(printed[:40])
        ran += 1
    assert ran >= 4


def test_the_walkthrough_comparison_can_fail() -> None:
    printed = ["a", "b", "c", "d"]
    assert _matches(["a", "b", "c", "d"], printed)
    assert _matches(["a", "...", "d"], printed) and _matches(["a", "b", "..."], printed)
    assert _matches(["...", "c", "..."], printed)
    assert not _matches(["a", "c", "..."], printed)  # a line left out without `...`
    assert not _matches(["a", "b"], printed)  # what follows is not elided
    assert not _matches(["a", "...", "x"], printed)


def test_the_layout_section_names_every_module_where_it_is() -> None:
    """README's Layout agrees with the package: every module of dtgen/ is named, in a line of
    its own package's entry (`validate/`, `emit/`, ...), and nothing named is missing."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = text[text.index("## Layout"):text.index("`tests/README.md` maps each feature")]
    entries = re.split(r"\n- ", layout)
    package = ROOT / "dtgen"
    for path in sorted(package.rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        relative = path.relative_to(package)
        folder = f"`{relative.parent.as_posix()}/`" if relative.parent.as_posix() != "." else None
        holders = [e for e in entries if f"`{path.name}`" in e and (folder is None or folder in e)]
        assert holders, f"README's Layout does not name dtgen/{relative.as_posix()}"
    named = set(re.findall(r"`([a-z_]+\.py)`", layout))
    present = {p.name for p in package.rglob("*.py")}
    assert named <= present, f"README's Layout names modules that are gone: {sorted(named - present)}"
