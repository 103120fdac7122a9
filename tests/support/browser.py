"""Browser harness: load an HTML file in a real headless browser (Debian's `chromium`) and report
what a user's browser would complain about, plus a screenshot to prove it drew something.

dtgen's HTML reports are self-contained (inline SVG and CSS, no scripts, no external fonts), so a
report passes when chromium loads it with no console error, no uncaught exception, no resource
that failed to load and no request for anything outside the file (`RenderResult.errors` empty),
and its screenshot is not blank (`screenshot_stats`). A missing chromium skips the test with the
reason, and fails it under CI=true (tests/support/realtools.py `need`; CI installs it: bash scripts/test).

How chromium is driven, and why (observed with Debian's chromium 156.0.8078.108, bookworm):
- `--screenshot=x.png --enable-logging=stderr --v=0` does write the PNG and logs every console
  message on stderr as `[pid:tid:date/time:INFO:CONSOLE:4] "boom", source: file:///x.html (4)`,
  uncaught exceptions too (`"Uncaught Error: x", ...`). But every level is logged as INFO (for web
  pages chromium logs console messages at INFO whatever their level), so console.error cannot be
  told from console.log; and a resource that fails to load (a missing <img>, an external
  stylesheet whose host does not resolve) prints nothing at all: "Failed to load resource" is a
  DevTools-only message. The stderr log cannot prove "no errors", so it is only kept as evidence
  (`RenderResult.stderr_console`).
- So `render` drives chromium over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
  NUL-terminated JSON, commands on the browser's fd 3, replies and events on its fd 4; no port,
  no websocket, no third-party package). That gives each console message with its level
  (Runtime.consoleAPICalled), uncaught exceptions (Runtime.exceptionThrown), browser-side log
  entries such as "Failed to load resource: net::ERR_FILE_NOT_FOUND" (Log.entryAdded), every
  request the page makes (Network.requestWillBeSent: a request for anything but the file itself
  or a data:/blob:/about: URL is what a self-contained report must not make, loaded or not) and
  every failed load (Network.loadingFailed, with the reason: net::ERR_FILE_NOT_FOUND for a
  missing file, net::ERR_NAME_NOT_RESOLVED for https://example.invalid/: .invalid never
  resolves, so no network is needed). The viewport is Emulation.setDeviceMetricsOverride, the
  screenshot Page.captureScreenshot, the DOM after load DOM.getOuterHTML. A broken image that
  loads (a file that is not a valid PNG) is not reported: chromium logs nothing for it.
- `dump_dom` is chromium's own `--dump-dom` (the serialised DOM after load, on stdout).

Each run has its own --user-data-dir (a temporary directory, removed after), so runs can go in
parallel; chromium runs in its own session, and its whole process group is killed when it is done
or overruns its time limit, so no renderer is left behind.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from tests.support import realtools as rt

T_RENDER = 60  # seconds for one whole render: start, load, screenshot, close
T_SETTLE = 0.25  # seconds without a request in flight after the load event: the page is done
T_CLOSE = 10  # seconds for chromium to exit after Browser.close before its process group is killed

# Schemes a self-contained page may load from (besides the page's own file).
INTERNAL_SCHEMES = ("data:", "blob:", "about:")

# Flags for every run. --no-sandbox: the tests run as root (CI), where chromium refuses the sandbox.
# --disable-dev-shm-usage: containers often have a 64 MB /dev/shm, too small for chromium (Debian's
# wrapper only adds it when /dev/shm has less than 3.8 GB, and its test of that is broken on some
# systems: "[: ...: unexpected operator"). The rest keep a run quiet, offline and reproducible.
FLAGS: tuple[str, ...] = (
    "--headless",  # the "new" headless mode: the only one since chromium 132 (=new is accepted too)
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--mute-audio",
    "--force-device-scale-factor=1",
    "--enable-logging=stderr",
    "--v=0",
)

# fds 3 and 4 are where --remote-debugging-pipe expects its pipes; subprocess cannot put an fd at
# a chosen number without preexec_fn (unsafe with threads), so a tiny Python trampoline does.
_TRAMPOLINE = (
    "import os, sys\n"
    "os.dup2(int(sys.argv[1]), 3)\n"
    "os.dup2(int(sys.argv[2]), 4)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


Json = dict[str, Any]  # a DevTools protocol message, command parameters or result


class BrowserError(rt.ToolError):
    """chromium failed (did not start, crashed, overran its time limit, could not load the page);
    the message carries the tail of its stderr."""


def chromium() -> str:
    """chromium's path; skips the test locally when it is missing, fails it under CI=true."""
    return rt.need("chromium")


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class ConsoleMessage:
    """One message a page's console would show."""

    level: str  # "error", "warning", "info" (console.log/info), "debug", "verbose"
    source: str  # "console-api", "exception", or the Log domain's source ("network", "security", ...)
    text: str
    url: str = ""
    line: int | None = None  # 1-based

    def __str__(self) -> str:
        where = f" ({self.url}:{self.line})" if self.url and self.line else f" ({self.url})" if self.url else ""
        return f"{self.level} [{self.source}] {self.text}{where}"


@dataclass(frozen=True)
class FailedLoad:
    """A request the page made that did not complete."""

    url: str
    kind: str  # the resource type: "Image", "Stylesheet", "Font", "Script", "Document", ...
    error: str  # net::ERR_FILE_NOT_FOUND, net::ERR_NAME_NOT_RESOLVED, ... or "still loading"

    def __str__(self) -> str:
        return f"failed to load {self.kind.lower()} {self.url}: {self.error}"


@dataclass(frozen=True)
class RenderResult:
    """What `render` saw. `errors` is what a self-contained page must not have."""

    png: Path
    url: str
    console: tuple[ConsoleMessage, ...]
    failed_loads: tuple[FailedLoad, ...]
    requests: tuple[str, ...]  # every URL the page requested besides itself, in order
    dom: str  # the serialised DOM after load
    stderr_console: tuple[str, ...]  # the CONSOLE lines of chromium's stderr (every level as INFO)
    seconds: float  # wall time of the whole run
    stderr: str = field(repr=False, default="")

    @property
    def external(self) -> tuple[str, ...]:
        """Requests for anything but a local file or a data:/blob:/about: URL."""
        return tuple(u for u in self.requests if not u.startswith(("file:", *INTERNAL_SCHEMES)))

    @property
    def subresources(self) -> tuple[str, ...]:
        """Requests for anything but a data:/blob:/about: URL: a self-contained page has none."""
        return tuple(u for u in self.requests if not u.startswith(INTERNAL_SCHEMES))

    @property
    def console_errors(self) -> tuple[ConsoleMessage, ...]:
        return tuple(m for m in self.console if m.level == "error")

    @property
    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions, failed loads, and external requests."""
        found = [str(m) for m in self.console_errors]
        found += [str(f) for f in self.failed_loads]
        found += [f"external resource {u}" for u in self.external]
        return found


# --------------------------------------------------------------------------------------------
# Running chromium


def _env() -> dict[str, str]:
    env = rt._env()
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "CHROMIUM_FLAGS", "CHROME_WRAPPER"):
        env.pop(name, None)
    return env


def _file_url(html_path: Path) -> str:
    path = Path(html_path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return path.as_uri()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill chromium's process group (its own session: start_new_session), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=T_CLOSE)


def _read_tail(path: Path, limit: int = 200_000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


# chromium's own noise on a machine without D-Bus, a GPU or a display: left out of error messages.
_NOISE = re.compile(r"dbus/|bluez|idle_linux|vaapi|sandbox_linux|account_consistency|unexpected operator")


def _stderr_tail(text: str, lines: int = 40) -> str:
    kept = [line for line in text.splitlines() if line.strip() and not _NOISE.search(line)]
    return "\n".join(kept[-lines:])


_STDERR_CONSOLE = re.compile(r'^\[[^\]\n]*:CONSOLE[:(](\d+)\)?\] "(.*?)", source: (\S*) \((\d+)\)$', re.M | re.S)


def parse_stderr_console(stderr: str) -> list[str]:
    """The console lines chromium writes with --enable-logging=stderr, as `message (url:line)`:
    `[pid:tid:mmdd/hhmmss.us:INFO:CONSOLE:4] "boom", source: file:///x.html (4)` (chromium 156;
    older ones wrote `CONSOLE(4)]`). A message can span lines; every level shows as INFO."""
    return [f"{m.group(2)} ({m.group(3)}:{m.group(4)})" for m in _STDERR_CONSOLE.finditer(stderr)]


class _Pipe:
    """The DevTools protocol over chromium's --remote-debugging-pipe."""

    def __init__(self, write_fd: int, read_fd: int, deadline: float) -> None:
        self.write_fd = write_fd
        self.read_fd = read_fd
        self.deadline = deadline
        self.timeout = deadline - time.monotonic()
        self.buffer = b""
        self.next_id = 0
        self.events: collections.deque[Json] = collections.deque()

    def send(self, method: str, params: Json | None = None, session: str | None = None) -> int:
        self.next_id += 1
        message: Json = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self.write_fd, data):]
        except BrokenPipeError as e:
            raise BrowserError(f"chromium closed its DevTools pipe (sending {method})") from e
        return self.next_id

    def receive(self, until: float | None = None) -> Json | None:
        """The next message, or None when `until` (else the deadline) passes first."""
        limit = min(until if until is not None else self.deadline, self.deadline)
        while b"\0" not in self.buffer:
            left = limit - time.monotonic()
            if left <= 0:
                if until is not None and until < self.deadline:
                    return None
                raise BrowserError(f"timed out waiting for chromium (time limit {self.timeout:.3g} s)")
            ready, _, _ = select.select([self.read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise BrowserError("chromium closed its DevTools pipe (it exited or crashed)")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: Json | None = None, session: str | None = None) -> Json:
        """Send a command and wait for its reply; events that arrive meanwhile are queued."""
        wanted = self.send(method, params, session)
        while True:
            message = self.receive()
            assert message is not None
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def event(self, until: float | None = None) -> Json | None:
        """The next event (queued first), or None when `until` passes first."""
        while not self.events:
            message = self.receive(until)
            if message is None:
                return None
            if "method" in message:
                self.events.append(message)
        return self.events.popleft()


class _Page:
    """What the page did, gathered from the protocol's events."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.console: list[ConsoleMessage] = []
        self.requests: dict[str, tuple[str, str]] = {}  # request id -> (url, type)
        self.order: list[str] = []
        self.pending: set[str] = set()
        self.stalled: set[str] = set()  # still loading when the harness stopped waiting
        self.failed: dict[str, FailedLoad] = {}
        self.network_log: list[tuple[str, ConsoleMessage]] = []  # (request id, message)
        self.loaded = False
        self.crashed = False
        self.last_activity = time.monotonic()

    def handle(self, event: Json, pipe: _Pipe, session: str) -> None:
        method = event.get("method")
        params: Json = event.get("params") or {}
        if method == "Page.loadEventFired":
            self.loaded = True
        elif method == "Network.requestWillBeSent":
            rid, url = params["requestId"], params["request"]["url"]
            if url != self.url or params.get("type") != "Document":
                if rid not in self.requests:
                    self.order.append(rid)
                self.requests[rid] = (url, str(params.get("type", "Other")))
                self.pending.add(rid)
            self.last_activity = time.monotonic()
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            rid = params["requestId"]
            self.pending.discard(rid)
            if method == "Network.loadingFailed" and rid in self.requests:
                url, kind = self.requests[rid]
                error = params.get("blockedReason") or params.get("errorText") or "failed"
                if params.get("canceled"):
                    error = f"{error} (canceled)"
                self.failed[rid] = FailedLoad(url, str(params.get("type", kind)), str(error))
            self.last_activity = time.monotonic()
        elif method == "Runtime.consoleAPICalled":
            kind = str(params.get("type", "log"))
            level = {"error": "error", "assert": "error", "warning": "warning", "debug": "debug"}.get(kind, "info")
            text = " ".join(_remote_text(a) for a in params.get("args", []))
            frames = (params.get("stackTrace") or {}).get("callFrames") or [{}]
            line = frames[0].get("lineNumber")
            self.console.append(ConsoleMessage(level, "console-api", text, frames[0].get("url", ""),
                                               None if line is None else line + 1))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails") or {}
            exception = details.get("exception") or {}
            text = str(exception.get("description") or exception.get("value") or details.get("text", "exception"))
            text = text.splitlines()[0] if text else "exception"
            if not text.startswith("Uncaught"):
                text = f"{details.get('text', 'Uncaught')} {text}"
            line = details.get("lineNumber")
            self.console.append(ConsoleMessage("error", "exception", text, str(details.get("url", "")),
                                               None if line is None else line + 1))
        elif method == "Log.entryAdded":
            entry = params.get("entry") or {}
            line = entry.get("lineNumber")
            message = ConsoleMessage(str(entry.get("level", "info")), str(entry.get("source", "other")),
                                     str(entry.get("text", "")), str(entry.get("url", "")),
                                     None if line is None else line + 1)
            if entry.get("networkRequestId"):
                self.network_log.append((str(entry["networkRequestId"]), message))
            else:
                self.console.append(message)
        elif method == "Page.javascriptDialogOpening":
            # alert()/confirm() would stop the page until answered.
            self.console.append(ConsoleMessage("error", "dialog", f"{params.get('type')}: {params.get('message')}"))
            pipe.send("Page.handleJavaScriptDialog", {"accept": True}, session)
        elif method in ("Inspector.targetCrashed", "Target.targetCrashed"):
            self.crashed = True

    def settled(self, now: float) -> bool:
        return self.loaded and not self.pending and now - self.last_activity >= T_SETTLE

    def finish(self) -> tuple[list[ConsoleMessage], list[FailedLoad], list[str]]:
        console = list(self.console)
        # "Failed to load resource" log entries repeat a failed load: kept only when it is not one.
        console += [m for rid, m in self.network_log if rid not in self.failed]
        failed = [
            FailedLoad(*self.requests[r], "still loading") if r in self.stalled or r in self.pending else self.failed[r]
            for r in self.order
            if r in self.failed or r in self.stalled or r in self.pending
        ]
        return console, failed, [self.requests[r][0] for r in self.order]


def _remote_text(arg: Json) -> str:
    if "value" in arg:
        value = arg["value"]
        return value if isinstance(value, str) else json.dumps(value)
    return str(arg.get("description") or arg.get("unserializableValue") or arg.get("type", ""))


def _high_fd(fd: int) -> int:
    """fd moved to a number >= 10 (close-on-exec), so that the trampoline's dup2 to 3 and 4
    cannot clobber one pipe with the other."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


def render(
    html_path: Path,
    out_png: Path,
    width: int = 1280,
    height: int = 800,
    *,
    full_page: bool = False,
    timeout: float = T_RENDER,
) -> RenderResult:
    """Load html_path (as a file:// URL) in headless chromium with a width x height viewport,
    wait for the load event and for every request to finish, and write a PNG screenshot of the
    viewport (of the whole page with full_page) to out_png. Returns what the page logged and
    requested; raises BrowserError when chromium fails or overruns `timeout` seconds."""
    binary = chromium()
    url = _file_url(html_path)
    out_png = Path(out_png)
    started = time.monotonic()
    deadline = started + timeout
    with tempfile.TemporaryDirectory(prefix="dtgen-chromium-") as scratch:
        stderr_path = Path(scratch) / "stderr.log"
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        to_browser_r, from_browser_w = _high_fd(to_browser_r), _high_fd(from_browser_w)
        argv = [sys.executable, "-c", _TRAMPOLINE, str(to_browser_r), str(from_browser_w), binary, *FLAGS,
                f"--window-size={width},{height}", f"--user-data-dir={Path(scratch) / 'profile'}",
                "--remote-debugging-pipe", "about:blank"]
        try:
            with open(stderr_path, "wb") as stderr:
                proc = subprocess.Popen(
                    argv, env=_env(), stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                    pass_fds=(to_browser_r, from_browser_w), start_new_session=True,
                )
        except BaseException:
            os.close(to_browser_w)
            os.close(from_browser_r)
            raise
        finally:
            os.close(to_browser_r)  # chromium's ends: only chromium holds them now
            os.close(from_browser_w)
        pipe = _Pipe(to_browser_w, from_browser_r, deadline)
        try:
            try:
                console, failed, requests, dom = _drive(pipe, url, out_png, width, height, full_page, deadline)
                with contextlib.suppress(BrowserError):
                    pipe.send("Browser.close")
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(1.0, min(T_CLOSE, deadline - time.monotonic())))
            except BrowserError as e:
                _kill_group(proc)
                tail = _stderr_tail(_read_tail(stderr_path))
                raise BrowserError(f"{e}\nchromium: {' '.join(argv[5:])}\nits stderr (tail):\n{tail}") from None
        finally:
            _kill_group(proc)  # renderers or a browser that did not close
            os.close(to_browser_w)
            os.close(from_browser_r)
        stderr_text = _read_tail(stderr_path)
    return RenderResult(
        png=out_png, url=url, console=tuple(console), failed_loads=tuple(failed), requests=tuple(requests),
        dom=dom, stderr_console=tuple(parse_stderr_console(stderr_text)), seconds=time.monotonic() - started,
        stderr=stderr_text,
    )


def _drive(
    pipe: _Pipe, url: str, out_png: Path, width: int, height: int, full_page: bool, deadline: float
) -> tuple[list[ConsoleMessage], list[FailedLoad], list[str], str]:
    # A tab of our own (rather than the one chromium opens, which may not exist yet).
    target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network", "Inspector"):
        pipe.call(f"{domain}.enable", None, session)
    pipe.call("Emulation.setDeviceMetricsOverride",
              {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
    with contextlib.suppress(BrowserError):  # cosmetic: --hide-scrollbars does the same
        pipe.call("Emulation.setScrollbarsHidden", {"hidden": True}, session)
    page = _Page(url)
    pipe.events.clear()  # about:blank's own events
    navigated = pipe.call("Page.navigate", {"url": url}, session)
    if navigated.get("errorText"):
        raise BrowserError(f"{url}: {navigated['errorText']}")
    # Load, then no request in flight for T_SETTLE. A request that never ends (a host that does
    # not answer) must not hang the run: at 2/3 of the time limit, what is still loading is
    # reported as a failed load ("still loading"), loading is stopped (a pending stylesheet
    # blocks rendering, and so the screenshot) and the screenshot is taken anyway.
    settle_by = time.monotonic() + 2 / 3 * (deadline - time.monotonic())
    while not page.settled(time.monotonic()):
        now = time.monotonic()
        if now >= settle_by:
            if not page.loaded:
                page.console.append(ConsoleMessage("error", "harness", "the load event did not fire", url))
            page.stalled = set(page.pending)
            pipe.call("Page.stopLoading", None, session)
            break
        wait_until = min(settle_by, now + T_SETTLE) if page.loaded and not page.pending else settle_by
        event = pipe.event(until=wait_until)
        if event is not None and event.get("sessionId") in (None, session):
            page.handle(event, pipe, session)
        if page.crashed:
            raise BrowserError(f"{url}: the page crashed")
    # Web fonts (none in a self-contained report, but a page may declare them) before the picture.
    wait_fonts = "Promise.race([document.fonts.ready, new Promise(r => setTimeout(r, 2000))]).then(() => true)"
    pipe.call("Runtime.evaluate", {"expression": wait_fonts, "awaitPromise": True, "returnByValue": True}, session)
    shot: Json = {"format": "png", "fromSurface": True}
    if full_page:
        metrics = pipe.call("Page.getLayoutMetrics", None, session)
        size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
        shot["clip"] = {"x": 0, "y": 0, "width": max(width, int(size.get("width", width))),
                        "height": max(height, int(size.get("height", height))), "scale": 1}
        shot["captureBeyondViewport"] = True
    data = pipe.call("Page.captureScreenshot", shot, session)["data"]
    document = pipe.call("DOM.getDocument", {"depth": 0}, session)["root"]
    dom = pipe.call("DOM.getOuterHTML", {"nodeId": document["nodeId"]}, session)["outerHTML"]
    # Messages that arrived with the replies above.
    while pipe.events:
        event = pipe.events.popleft()
        if event.get("sessionId") in (None, session):
            page.handle(event, pipe, session)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    out_png.write_bytes(base64.b64decode(str(data)))
    console, failed, requests = page.finish()
    return console, failed, requests, str(dom)


def dump_dom(html_path: Path, *, timeout: float = T_RENDER) -> str:
    """The DOM after load, serialised by chromium's own `--dump-dom` (its stdout)."""
    binary = chromium()
    url = _file_url(html_path)
    with tempfile.TemporaryDirectory(prefix="dtgen-chromium-") as scratch:
        out_path, err_path = Path(scratch) / "dom.html", Path(scratch) / "stderr.log"
        argv = [binary, *FLAGS, f"--user-data-dir={Path(scratch) / 'profile'}", "--dump-dom", url]
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(argv, env=_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise BrowserError(f"timed out after {timeout:.0f} s: {' '.join(argv)}\n"
                               f"{_stderr_tail(_read_tail(err_path))}") from None
        finally:
            _kill_group(proc)
        dom = out_path.read_bytes().decode(errors="replace")
        if code != 0 or not dom.strip():
            raise BrowserError(f"exit {code}, {len(dom)} characters of DOM: {' '.join(argv)}\n"
                               f"{_stderr_tail(_read_tail(err_path))}")
    return dom


# --------------------------------------------------------------------------------------------
# PNG


class PngError(ValueError):
    """Not a PNG this decoder reads."""


@dataclass(frozen=True)
class Png:
    """A decoded PNG: 8 bits per sample, `channels` samples per pixel (1 grey, 2 grey+alpha,
    3 RGB, 4 RGBA; palette images are expanded to RGB or, with tRNS, RGBA), rows top down."""

    width: int
    height: int
    channels: int
    pixels: bytes  # height rows of width * channels bytes, no filter bytes

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        start = (y * self.width + x) * self.channels
        return tuple(self.pixels[start:start + self.channels])

    def rgba(self) -> bytes:
        """Every pixel as 4 bytes R, G, B, A."""
        n = self.width * self.height
        src = self.pixels
        out = bytearray(b"\xff" * (4 * n))
        if self.channels in (1, 2):
            for i in range(3):
                out[i::4] = src[0::self.channels]
            if self.channels == 2:
                out[3::4] = src[1::2]
        else:
            for i in range(self.channels):
                out[i::4] = src[i::self.channels]
        return bytes(out)


_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel


def decode_png(data: bytes | Path) -> Png:
    """Decode a non-interlaced 8-bit PNG (colour types 0, 2, 3, 4, 6: what chromium and most
    encoders write), checking signature, chunk CRCs and sizes; raises PngError otherwise."""
    if isinstance(data, (str, Path)):
        data = Path(data).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise PngError("not a PNG (bad signature)")
    pos, header, palette, trns, idat, ended = 8, None, None, None, [], False
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise PngError(f"truncated {kind!r} chunk")
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise PngError(f"bad CRC in {kind!r} chunk")
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"tRNS":
            trns = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            ended = True
            break
    if header is None or not idat or not ended:
        raise PngError("missing IHDR, IDAT or IEND")
    width, height, depth, colour, compression, filter_method, interlace = header
    if colour not in _CHANNELS or depth != 8:
        raise PngError(f"unsupported: colour type {colour}, bit depth {depth} (8-bit types 0, 2, 3, 4, 6 only)")
    if compression or filter_method or interlace:
        raise PngError(f"unsupported: compression {compression}, filter {filter_method}, interlace {interlace}")
    if width == 0 or height == 0:
        raise PngError("empty image")
    bpp = _CHANNELS[colour]
    stride = width * bpp
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as e:
        raise PngError(f"bad image data: {e}") from e
    if len(raw) != height * (stride + 1):
        raise PngError(f"image data is {len(raw)} bytes, expected {height * (stride + 1)}")
    rows: list[bytes] = []
    prev = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1:start + 1 + stride]
        row = _unfilter(kind, line, prev, bpp)
        rows.append(row)
        prev = row
    pixels = b"".join(rows)
    if colour == 3:
        if palette is None or len(palette) % 3:
            raise PngError("palette image without a valid PLTE")
        entries = len(palette) // 3
        if max(pixels) >= entries:
            raise PngError("palette index out of range")
        alpha = (trns or b"") + b"\xff" * entries
        channels = 4 if trns else 3
        table = [palette[3 * i:3 * i + 3] + (alpha[i:i + 1] if trns else b"") for i in range(entries)]
        pixels = b"".join(table[i] for i in pixels)
        return Png(width, height, channels, pixels)
    return Png(width, height, bpp, pixels)


def _unfilter(kind: int, line: bytes, prev: bytes, bpp: int) -> bytes:
    """Undo one scanline's filter (PNG spec 9.2: None, Sub, Up, Average, Paeth)."""
    if kind == 0:
        return line
    n = len(line)
    if kind == 2:  # Up: bytewise addition of two rows, as one big integer (SWAR)
        return _add_lanes(int.from_bytes(line, "little"), int.from_bytes(prev, "little"), n).to_bytes(n, "little")
    if kind == 1:  # Sub: a prefix sum over each channel, by doubling shifts (Hillis-Steele, SWAR)
        x, shift, mask = int.from_bytes(line, "little"), bpp, (1 << (8 * n)) - 1
        while shift < n:
            x = _add_lanes(x, (x << (8 * shift)) & mask, n)
            shift *= 2
        return x.to_bytes(n, "little")
    out = bytearray(line)
    if kind == 3:  # Average
        for i in range(n):
            left = out[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + ((left + prev[i]) >> 1)) & 0xFF
    elif kind == 4:  # Paeth
        for i in range(n):
            if i >= bpp:
                a, c = out[i - bpp], prev[i - bpp]
            else:
                a = c = 0
            b = prev[i]
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            out[i] = (out[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    else:
        raise PngError(f"unknown filter type {kind}")
    return bytes(out)


_LANE_MASKS: dict[int, tuple[int, int]] = {}


def _add_lanes(a: int, b: int, n: int) -> int:
    """Add n byte lanes of a and b (little-endian integers), each modulo 256, in one go: the low
    7 bits of each lane add without crossing into the next, the top bit is a carry-less xor."""
    if n not in _LANE_MASKS:
        _LANE_MASKS[n] = (int.from_bytes(b"\x7f" * n, "little"), int.from_bytes(b"\x80" * n, "little"))
    low, high = _LANE_MASKS[n]
    return ((a & low) + (b & low)) ^ ((a ^ b) & high)


class ScreenshotStats(NamedTuple):
    width: int
    height: int
    colours: int  # distinct colours (RGBA)
    non_background: float  # fraction of pixels that are not the background colour

    def blank(self, *, min_colours: int = 3, min_fraction: float = 0.001) -> bool:
        """Trivial: fewer than min_colours colours, or less than min_fraction of it drawn on."""
        return self.colours < min_colours or self.non_background < min_fraction


def screenshot_stats(png: bytes | Path | Png, background: tuple[int, ...] | None = None) -> ScreenshotStats:
    """(width, height, distinct colours, fraction of pixels that are not the background). The
    background is the given colour (RGB or RGBA), else the most common one."""
    image = png if isinstance(png, Png) else decode_png(png)
    counts = collections.Counter(memoryview(image.rgba()).cast("I"))
    total = image.width * image.height
    if background is None:
        background_count = counts.most_common(1)[0][1]
    else:
        colour = bytes(background) + (b"\xff" if len(background) == 3 else b"")
        background_count = counts.get(struct.unpack("=I", colour)[0], 0)
    return ScreenshotStats(image.width, image.height, len(counts), 1 - background_count / total)
