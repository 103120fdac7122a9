"""YAML text to plain values that remember where they came from.

PyYAML parses (its C parser when present: several times faster, same marks); this module only
composes the event stream into dicts and lists, because the library's own composer does two
things a pre-commit tool cannot afford:
- it recurses once per nesting level, so `[[[[...` deep enough raises RecursionError in the
  Python composer and crashes the process (SIGSEGV, measured) in the C one;
- it hands aliases back as shared nodes, and anything that walks the result (jsonschema does)
  expands a "billion laughs" document exponentially.
Composing from events keeps an explicit stack, bounds depth and the expanded size, and records
the line and column of every key and value on the way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, Union

import yaml
from yaml import events as ev

from dtgen.diagnostics import Diagnostic, Severity, Span

from yaml.parser import Parser as _BaseParser
from yaml.reader import Reader
from yaml.scanner import Scanner


class _PythonParser(Reader, Scanner, _BaseParser):
    """PyYAML's own parser: its messages are the ones diagnostics quote (see parse())."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        _BaseParser.__init__(self)


try:
    # libyaml, several times faster with the same marks (characters, from 0). PyYAML keeps it in
    # yaml.cyaml; `from yaml import CParser` fails, and for a while dtgen silently ran the
    # Python parser on every file because of that.
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]  # not in its __all__, but there
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Parser = _PythonParser  # type: ignore[misc,assignment]


class _Mark(Protocol):
    """Where an event starts: yaml.error.Mark (the Python parser) or yaml._yaml.Mark (libyaml)."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


MAX_DEPTH = 64
# The largest generated board dtgen is tested on (bench/large_board.py: 64 regions, 200 devices,
# 500 map rules, 50 scenarios) is 72 KB and 9,563 values; real boards are a few KB. The limits
# leave twenty to thirty times that, and bound what a hostile or broken file costs: an alias
# bomb stops at MAX_NODES before it costs memory, and the densest file accepted takes seconds
# (bench/bench_large.py; it took 41 s and 617 MB under the earlier 1,000,000 and 8 MiB).
MAX_NODES = 200_000
MAX_BYTES = 2 << 20

Value = Union["YMap", "YSeq", str, int, float, bool, None]


class YMap(dict):  # type: ignore[type-arg]
    """A mapping that knows where it, each key and each value stand in the source."""

    span: Span
    key_spans: dict[str, Span]
    value_spans: dict[str, Span]
    weight: int


class YSeq(list):  # type: ignore[type-arg]
    span: Span
    item_spans: list[Span]
    weight: int


@dataclass(frozen=True)
class Parsed:
    value: Value
    span: Span
    diagnostics: tuple[Diagnostic, ...]


class _Stop(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


_CORE_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_resolver = yaml.resolver.Resolver()
_constructor = yaml.constructor.SafeConstructor()


def _unreadable(rule: str, message: str, span: Span, hint: str = "") -> Diagnostic:
    return Diagnostic(Severity.ERROR, rule, message, span, hint=hint, unreadable=True)


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def decode(data: bytes, file: str) -> tuple[str | None, Diagnostic | None]:
    """UTF-8 text, or the reason a board file cannot be read as text (with its position)."""
    span = Span(file, 1, 1)
    if len(data) > MAX_BYTES:
        from dtgen.units import fmt_size

        return None, _unreadable(
            "yaml-too-large",
            # The reader stops one byte past the limit, so the true size is not known.
            f"file is larger than {fmt_size(MAX_BYTES)}, the limit for board files",
            span,
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        len(data) >= 2 and (data[0] == 0) != (data[1] == 0)
    ):
        return None, _unreadable(
            "yaml-encoding",
            "file is UTF-16 (or UTF-32); board files are UTF-8",
            span,
            hint="re-save it as UTF-8, e.g. `iconv -f UTF-16 -t UTF-8`",
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        line, col = _position(good, len(good))
        return None, _unreadable(
            "yaml-encoding",
            f"byte {data[exc.start]:#04x} is not UTF-8; is this a binary file?",
            Span(file, line, col),
        )
    # One regular-expression search, not a Python loop over every character (0.45 s on a file
    # near MAX_BYTES): C0 controls but tab, LF and CR; DEL and C1 controls but NEL (U+0085).
    control = _CONTROL.search(text)
    if control is not None:
        code = ord(control.group())
        line, col = _position(text, control.start())
        what = "NUL byte" if code == 0 else f"control character U+{code:04X}"
        return None, _unreadable(
            "yaml-encoding", f"{what} in a text file; is this a binary file?", Span(file, line, col)
        )
    return text, None


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")


def parse(data: bytes, file: str) -> Parsed:
    """Compose one YAML document into located values.

    Returns the value (None for an empty file) and the diagnostics; an unreadable file gives a
    single diagnostic marked unreadable.
    """
    text, problem = decode(data, file)
    if problem is not None or text is None:
        return Parsed(None, Span(file, 1, 1), (problem,) if problem else ())
    for parser in dict.fromkeys((_Parser, _PythonParser)):
        composer = _Composer(file, parser)
        try:
            value, span = composer.compose(text)
        except _Stop as stop:
            return Parsed(None, Span(file, 1, 1), (*composer.diagnostics, stop.diagnostic))
        except yaml.MarkedYAMLError as exc:
            # libyaml words its errors differently (and places some elsewhere): a file that
            # does not parse is read again by PyYAML's parser, whose messages dtgen explains.
            # Only broken files pay for the second, slower pass.
            error = _syntax_error(exc, file)
            continue
        except yaml.YAMLError as exc:  # reader errors carry no mark in some PyYAML builds
            return Parsed(None, Span(file, 1, 1), (_unreadable("yaml-syntax", str(exc), Span(file)),))
        return Parsed(value, span, tuple(composer.diagnostics))
    return Parsed(None, Span(file, 1, 1), (error,))


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    span = Span(file, mark.line + 1, mark.column + 1) if mark else Span(file)
    problem = (exc.problem or "invalid YAML").strip()
    if "'\\t'" in problem or "\\t" in problem:
        return _unreadable(
            "yaml-syntax",
            "tab character where YAML expects indentation or a value",
            span,
            hint="YAML indents with spaces only",
        )
    message = problem
    if exc.context:
        message = f"{exc.context.strip()}: {problem}"
    return _unreadable("yaml-syntax", message, span)


class _Composer:
    def __init__(self, file: str, parser: type = _Parser) -> None:
        self.parser = parser
        self.file = file
        self.anchors: dict[str, tuple[Value, int]] = {}
        self.nodes = 0
        self.diagnostics: list[Diagnostic] = []

    def span(self, mark: _Mark | None) -> Span:
        # Both parsers mark every event; the stubs allow None, which would be the file alone.
        if mark is None:
            return Span(self.file)
        return Span(self.file, mark.line + 1, mark.column + 1)

    def charge(self, weight: int, mark: _Mark | None) -> None:
        self.nodes += weight
        if self.nodes > MAX_NODES:
            raise _Stop(
                _unreadable(
                    "yaml-too-large",
                    f"document expands to more than {MAX_NODES:,} values (alias expansion?)",
                    self.span(mark),
                    hint="board files do not need nested aliases; write the values out",
                )
            )

    def compose(self, text: str) -> tuple[Value, Span]:
        parser = self.parser(text)
        # Stack frames: [container, pending key or _NO_KEY, key span, anchor]
        stack: list[list[object]] = []
        result: Value = None
        result_span = Span(self.file, 1, 1)
        documents = 0
        try:
            while True:
                event = parser.get_event()
                if event is None or isinstance(event, ev.StreamEndEvent):
                    break
                if isinstance(event, (ev.StreamStartEvent, ev.DocumentEndEvent)):
                    continue
                if isinstance(event, ev.DocumentStartEvent):
                    documents += 1
                    if documents > 1:
                        raise _Stop(
                            _unreadable(
                                "yaml-syntax",
                                "more than one YAML document; a board file is one document",
                                self.span(event.start_mark),
                            )
                        )
                    continue
                if isinstance(event, (ev.MappingStartEvent, ev.SequenceStartEvent)):
                    if len(stack) >= MAX_DEPTH:
                        raise _Stop(
                            _unreadable(
                                "yaml-too-deep",
                                f"nesting deeper than {MAX_DEPTH} levels",
                                self.span(event.start_mark),
                            )
                        )
                    self.check_tag(event)
                    container: YMap | YSeq
                    if isinstance(event, ev.MappingStartEvent):
                        container = YMap()
                        container.key_spans, container.value_spans = {}, {}
                    else:
                        container = YSeq()
                        container.item_spans = []
                    container.span = self.span(event.start_mark)
                    container.weight = 1
                    self.charge(1, event.start_mark)
                    stack.append([container, _NO_KEY, None, event.anchor])
                    continue
                if isinstance(event, (ev.MappingEndEvent, ev.SequenceEndEvent)):
                    frame = stack.pop()
                    done = frame[0]
                    assert isinstance(done, (YMap, YSeq))
                    if frame[3]:
                        self.anchors[str(frame[3])] = (done, done.weight)
                    if stack:
                        self.add(stack[-1], done, done.span, done.weight, event.start_mark)
                    else:
                        result, result_span = done, done.span
                    continue
                if isinstance(event, ev.AliasEvent):
                    if event.anchor not in self.anchors:
                        raise _Stop(
                            _unreadable(
                                "yaml-syntax",
                                f"alias *{event.anchor} names no anchor defined before it",
                                self.span(event.start_mark),
                            )
                        )
                    value, weight = self.anchors[event.anchor]
                    self.charge(weight, event.start_mark)
                    span = self.span(event.start_mark)
                    if stack:
                        self.add(stack[-1], value, span, weight, event.start_mark)
                    else:
                        result, result_span = value, span
                    continue
                if isinstance(event, ev.ScalarEvent):
                    if _is_merge_key(event) and stack and _awaits_key(stack[-1]):
                        stack[-1][1], stack[-1][2] = _MERGE, self.span(event.start_mark)
                        continue
                    value = self.scalar(event)
                    self.charge(1, event.start_mark)
                    span = self.span(event.start_mark)
                    if event.style in ("'", '"'):
                        # Point at the text, so offsets inside a one-line string (a cma_map
                        # rule, say) land on the right column.
                        span = Span(span.file, span.line, span.col + 1)
                    if event.anchor:
                        self.anchors[event.anchor] = (value, 1)
                    if stack:
                        self.add(stack[-1], value, span, 1, event.start_mark, event)
                    else:
                        result, result_span = value, span
                    continue
        except RecursionError:  # pragma: no cover - the event parser is not recursive
            raise _Stop(_unreadable("yaml-too-deep", "nesting too deep", Span(self.file))) from None
        return result, result_span

    def check_tag(self, event: ev.NodeEvent) -> None:
        tag = getattr(event, "tag", None)
        if tag is None or tag == "!":
            return
        allowed = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"} | _CORE_TAGS
        if tag not in allowed:
            raise _Stop(
                Diagnostic(
                    Severity.ERROR,
                    "yaml-tag",
                    f"YAML tag {_short_tag(tag)} is not allowed in a board file",
                    self.span(event.start_mark),
                    hint="board files hold plain strings, numbers, booleans, lists and mappings",
                )
            )

    def scalar(self, event: ev.ScalarEvent) -> Value:
        tag = event.tag
        if tag is None or tag == "!":
            tag = _resolver.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
            if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in event.value:
                # YAML 1.1 reads `1:30` as the base-60 number 90; keep the text, so the
                # schema reports it as the malformed size it is.
                return event.value
        else:
            self.check_tag(event)
        if tag not in _CORE_TAGS:
            raise _Stop(
                Diagnostic(
                    Severity.ERROR,
                    "yaml-tag",
                    f"`{event.value}` reads as a YAML {_short_tag(tag)}, which board files do not use",
                    self.span(event.start_mark),
                    hint="quote it to make it a string",
                )
            )
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark)  # type: ignore[arg-type]  # libyaml's Mark, not the stubs' yaml.Mark
        try:
            return _constructor.construct_object(node)  # type: ignore[no-any-return]
        except (yaml.YAMLError, ValueError) as exc:
            raise _Stop(
                Diagnostic(
                    Severity.ERROR,
                    "yaml-syntax",
                    f"`{event.value}` is not a valid {_short_tag(tag)}: {exc}",
                    self.span(event.start_mark),
                    unreadable=True,
                )
            ) from None
        finally:
            # construct_object() remembers every node it built, for the aliases of a document;
            # only construct_document() forgets them. Called one scalar at a time, the shared
            # constructor kept every scalar (and its marks) of every file alive: 0.5-0.9 GB and
            # most of the time on a file near MAX_NODES, the garbage collector walking them all.
            _constructor.constructed_objects.clear()

    def add(
        self,
        frame: list[object],
        value: Value,
        span: Span,
        weight: int,
        mark: _Mark | None,
        event: ev.ScalarEvent | None = None,
    ) -> None:
        container = frame[0]
        if isinstance(container, YSeq):
            container.append(value)
            container.item_spans.append(span)
            container.weight += weight
            return
        assert isinstance(container, YMap)
        if frame[1] is _NO_KEY:
            if not isinstance(value, str):
                if isinstance(value, (YMap, YSeq)):
                    raise _Stop(
                        Diagnostic(
                            Severity.ERROR,
                            "yaml-syntax",
                            "a mapping key must be a plain name, not a list or mapping",
                            span,
                            unreadable=True,
                        )
                    )
                # `on:`/`yes:` read as booleans and `1:` as an int in YAML 1.1; keep the text as
                # written and say so, rather than letting a non-string key reach the schema.
                self.diagnostics.append(
                    Diagnostic(
                        Severity.ERROR,
                        "yaml-key-type",
                        f"key `{event.value if event else value}` reads as a YAML "
                        f"{_YAML_TYPE.get(type(value).__name__, type(value).__name__)}, not a name",
                        span,
                        hint="quote the key",
                    )
                )
                value = event.value if event else str(value)
            frame[1], frame[2] = value, span
            return
        key = frame[1]
        key_span = frame[2]
        assert isinstance(key_span, Span)
        frame[1] = _NO_KEY
        if key is _MERGE:
            self.merge(container, value, key_span)
            container.weight += weight
            return
        assert isinstance(key, str)
        if key in container and not getattr(container, "_merged", {}).get(key):
            first = container.key_spans[key]
            self.diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "yaml-duplicate-key",
                    f"duplicate key `{key}` (first at line {first.line}); YAML keeps only one",
                    key_span,
                )
            )
            return
        if getattr(container, "_merged", {}).pop(key, False):
            del container[key]
        container[key] = value
        container.key_spans[key] = key_span
        container.value_spans[key] = span
        container.weight += weight

    def merge(self, container: YMap, source: Value, span: Span) -> None:
        """`<<: *defaults`: keys not given explicitly come from the merged mapping(s)."""
        sources = source if isinstance(source, YSeq) else [source]
        merged: dict[str, bool] = getattr(container, "_merged", {})
        for item in sources:
            if not isinstance(item, YMap):
                raise _Stop(
                    Diagnostic(
                        Severity.ERROR,
                        "yaml-syntax",
                        "`<<` merges mappings only",
                        span,
                        unreadable=True,
                    )
                )
            for key, value in item.items():
                if key in container:
                    continue
                container[key] = value
                container.key_spans[key] = item.key_spans[key]
                container.value_spans[key] = item.value_spans[key]
                merged[key] = True
        container._merged = merged  # type: ignore[attr-defined]


_YAML_TYPE = {"NoneType": "null", "bool": "boolean", "int": "integer", "float": "number"}
_NO_KEY = object()
_MERGE = object()


def _is_merge_key(event: ev.ScalarEvent) -> bool:
    return event.value == "<<" and event.tag is None and bool(event.implicit[0])


def _awaits_key(frame: list[object]) -> bool:
    return isinstance(frame[0], YMap) and frame[1] is _NO_KEY


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else tag
