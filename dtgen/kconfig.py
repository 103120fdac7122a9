"""Reading the kernel configuration values the rules depend on from a kernel `.config`."""

from __future__ import annotations

import re

from dtgen.diagnostics import Diagnostic, Span, error
from dtgen.model import ConfigValue

_LINE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_NOT_SET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


def parse(text: str, file: str) -> tuple[dict[str, ConfigValue], list[Diagnostic]]:
    """`y`/`m` become True, `# ... is not set` False, numbers int, quoted strings str."""
    values: dict[str, ConfigValue] = {}
    problems: list[Diagnostic] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        unset = _NOT_SET.match(line)
        if unset:
            values[unset.group(1)] = False
            continue
        if line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            problems.append(
                error("kconfig-syntax", f"not a .config line: `{line[:60]}`", Span(file, number, 1))
            )
            continue
        name, value = m.group(1), m.group(2)
        values[name] = _value(value)
    return values, problems


def _value(text: str) -> ConfigValue:
    if text in ("y", "m"):
        return True
    if text == "n":
        return False
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    try:
        return int(text, 0)
    except ValueError:
        return text
