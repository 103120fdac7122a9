"""The README's two commands, and its generated reference sections in step with the code."""

from __future__ import annotations

from dtgen.docgen import render_into
from tests.conftest import ROOT


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
