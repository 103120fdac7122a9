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
    assert "dtgen validate boards/" in block[0] and block[1] == "bash scripts/test"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in ci
