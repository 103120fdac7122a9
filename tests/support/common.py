"""The checkout's root, the real-tool skip policy (skip locally, fail under CI=true) and boards
loaded from text, for any test module."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dtgen import pipeline
from dtgen.diagnostics import Diagnostic
from dtgen.validate import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_tool(name: str) -> str:
    """The tool's path; skips locally when it is missing, fails under CI=true (CI installs it)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (CI installs it: bash scripts/test as root)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def check_text(text: str | bytes, name: str = "board.yaml", files: dict[str, str | bytes] | None = None) -> list[Diagnostic]:
    """Load and validate a board given as text; `files` are other files it may include."""
    store = {name: text.encode() if isinstance(text, str) else text}
    for other, content in (files or {}).items():
        store[other] = content.encode() if isinstance(content, str) else content

    def read(path: str) -> bytes:
        if path not in store:
            raise FileNotFoundError(2, "No such file or directory")
        return store[path]

    return list(pipeline.run(name, read, ".", {}, Settings(), until="validated").diagnostics)


def board_from_text(text: str):  # type: ignore[no-untyped-def]
    """A board given as text that must load and validate without errors (warnings allowed)."""
    store = {"board.yaml": text.encode()}

    def read(path: str) -> bytes:
        if path not in store:
            raise FileNotFoundError(2, "No such file or directory")
        return store[path]

    outcome = pipeline.run("board.yaml", read, ".", {}, Settings(), until="validated")
    assert outcome.board is not None and not outcome.failed, [d.render() for d in outcome.diagnostics]
    return outcome.board
