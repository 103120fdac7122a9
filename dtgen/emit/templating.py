"""Jinja2 set up for generated kernel text: StrictUndefined (a template mistake is an error at
its template line, never an empty string), no HTML autoescape, and filters that escape every
string from the board file for the language it lands in.

Templates are looked up by name in the `--templates` directory first, then in the ones dtgen
ships, so a user overrides one template without copying the rest.
"""

from __future__ import annotations

import os
import re
import traceback
from dataclasses import dataclass
from typing import Any

from dtgen.emit.dts import Prop
from dtgen.text import one_line


@dataclass(frozen=True)
class TemplateError(Exception):
    """A template that does not parse or render: where, and why (the CLI exits 2)."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: error: {self.message} [template]"


def builtin_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "templates")


# ---- escaping ----------------------------------------------------------------------------


def _escape(text: str, extra: dict[str, str]) -> str:
    out = []
    for ch in str(text):
        if ch in extra:
            out.append(extra[ch])
        elif ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            # Anything else, newlines and non-ASCII included, as UTF-8 byte escapes: both dtc
            # and C read \xNN, and the output stays one line of ASCII.
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8"))
    return "".join(out)


def dts_string(text: str) -> str:
    return '"' + _escape(text, {}) + '"'


def c_string(text: str) -> str:
    # `?` escaped so that no `??x` trigraph can form; a \x escape may swallow a following hex
    # digit in C, so each one ends the literal and a new one starts.
    body = re.sub(r"\?(?=\?)", "?\\\\", _escape(text, {}))
    body = re.sub(r"(\\x[0-9a-f]{2})(?=[0-9A-Fa-f])", r'\1""', body)
    return '"' + body + '"'


def comment(text: str) -> str:
    """Free text inside a /* */ comment: one line, printable ASCII, and no `*/` or `/*`."""
    return one_line(text).replace("*/", "* /").replace("/*", "/ *")


def c_ident(text: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", str(text))
    return ident if re.match(r"[A-Za-z_]", ident) else "_" + ident


def hexnum(value: int) -> str:
    return f"{value:#x}"


def dts_property(prop: Prop) -> str:
    if prop.kind == "flag":
        return f"{prop.name};"
    if prop.kind == "string":
        return f"{prop.name} = {dts_string(prop.text)};"
    return f"{prop.name} = <{' '.join(f'{c:#x}' for c in prop.cells)}>;"


def xml(text: object) -> str:
    """Text or an attribute value in SVG/HTML: the five XML specials escaped, and what XML 1.0's
    Char production forbids (control characters, surrogates, U+FFFE and U+FFFF) shown as
    escapes."""
    out = []
    for ch in str(text):
        if ch in _XML:
            out.append(_XML[ch])
        elif ch < " " and ch not in "\t\n" or ch == "\x7f" or "\ud800" <= ch <= "\udfff" or ch in "\ufffe\uffff":
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


_XML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}


def prose(text: object) -> str:
    """A sentence dtgen wrote for people, in HTML: escaped as `xml`, and the `names` it quotes
    the way Markdown does set as code rather than shown with their backticks."""
    parts = xml(text).split("`")
    if len(parts) % 2 == 0:  # an odd backtick: nothing to pair it with, shown as it is
        return xml(text)
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def px(value: float) -> str:
    """A coordinate with at most one decimal, the same on every machine."""
    text = f"{round(float(value), 1):.1f}"
    return text[:-2] if text.endswith(".0") else text


FILTERS = {
    "dts_string": dts_string,
    "dts_property": dts_property,
    "c_string": c_string,
    "c_ident": c_ident,
    "comment": comment,
    "hex": hexnum,
    "xml": xml,
    "prose": prose,
    "px": px,
}


# ---- rendering ---------------------------------------------------------------------------


class Renderer:
    """Templates (`override` first, then dtgen's own) rendered with the escaping filters.
    `cache_dir`: where compiled templates are kept between runs, when the caller (the CLI)
    chooses to keep them; without it nothing outside the templates is read or written."""

    def __init__(self, override: str | None = None, cache_dir: str | None = None) -> None:
        import jinja2  # only emit pays for Jinja2's import

        self._jinja2 = jinja2
        search = [override, builtin_dir()] if override else [builtin_dir()]
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(search, encoding="utf-8"),
            bytecode_cache=_bytecode_cache(jinja2, cache_dir) if cache_dir else None,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters.update(FILTERS)

    def render(self, name: str, **context: Any) -> str:
        jinja2 = self._jinja2
        try:
            template = self.env.get_template(name)
            text = template.render(**context)
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(e.filename or e.name or name, e.lineno or 0, e.message or "syntax error") from None
        except jinja2.TemplateNotFound as e:
            raise TemplateError(name, 0, f"template `{e.name}` not found") from None
        except Exception as e:  # an undefined variable, a filter given the wrong type, ...
            file, line = _template_frame(e, name)
            raise TemplateError(file, line, f"{type(e).__name__}: {e}") from None
        # Generated files end with exactly one newline, whatever the template's last lines do.
        return text.rstrip("\n") + "\n"


def _bytecode_cache(jinja2, directory: str):  # type: ignore[no-untyped-def]
    """Compiled templates kept between runs (keyed by the template's source checksum): compiling
    them is most of what `emit --check` costs in a pre-commit hook. None when the directory
    cannot be made."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return None

    class Cache(jinja2.FileSystemBytecodeCache):  # type: ignore[misc]
        def dump_bytecode(self, bucket):  # type: ignore[no-untyped-def]
            try:
                super().dump_bytecode(bucket)
            except OSError:
                pass  # a read-only cache only costs time

        def load_bytecode(self, bucket):  # type: ignore[no-untyped-def]
            try:
                super().load_bytecode(bucket)
            except (OSError, EOFError, ValueError):
                bucket.reset()

    return Cache(directory)


def _template_frame(e: BaseException, name: str) -> tuple[str, int]:
    """The innermost traceback frame inside a template: Jinja2 maps compiled code back to the
    template's own file and line."""
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if frame.filename.endswith(".j2"):
            return frame.filename, frame.lineno or 0
    return name, 0
