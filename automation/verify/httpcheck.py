"""The end-to-end HTTP check: many concurrent ``GET /color`` calls through front, judged statistically.

Split in three so each part is testable on its own:

* :func:`sample_colors` does the I/O (bounded concurrency, per-request timeout) and returns raw samples;
* :func:`judge_samples` is pure: it turns samples plus the configured weights into a verdict and stats;
* :func:`check_http` / :func:`check_http_async` glue the two together.

Pass criteria (all must hold):

* errors (transport failures, timeouts, non-200 answers, unparseable bodies) are at most
  ``floor(max_error_rate * requests)``; the default ``max_error_rate`` of 1% allows 2 errors in 200,
  enough to ride out one connection reset during an ELB target change but not a broken backend;
* the color counts satisfy :func:`automation.verify.stats.evaluate_shares` at ``alpha`` (default
  0.001): every positive-weight color appears, no zero-weight or unknown color appears, and each
  share is consistent with its weight by an exact two-sided binomial test.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import signal
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import h11

from automation.verify.model import CheckResult, HttpStats, VerifyReport, weights_problems
from automation.verify.poll import PollResult, poll_until
from automation.verify.settings import (
    DEFAULT_ALPHA,
    DEFAULT_CONCURRENCY,
    DEFAULT_HTTP_CHECK,
    DEFAULT_MAX_ERROR_RATE,
    DEFAULT_REQUESTS,
    DEFAULT_TIMEOUT_S,
    HttpCheckSettings,
)
from automation.verify.stats import evaluate_shares, percentile_nearest_rank

COLOR_PATH = "/color"

# A color is a short token; anything longer is an error page or a misrouted answer, not a color.
_MAX_COLOR_LENGTH = 64
_HTTP_OK = 200


@dataclass
class HttpSamples:
    """Raw outcome of a burst: latencies of good answers, color counts and error counts by kind."""

    requests: int = 0
    latencies_ms: list[float] = field(default_factory=list[float])
    colors: Counter[str] = field(default_factory=Counter[str])
    errors: Counter[str] = field(default_factory=Counter[str])
    wall_s: float = 0.0

    @property
    def error_count(self) -> int:
        """Total failed requests of every kind."""
        return sum(self.errors.values())


def _shown_url(url: str) -> str:
    """``url`` for messages: user and password, if any, replaced by ``***``; at most 80 characters."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    shown = f"{scheme}{sep}{authority}{slash}{path}"
    return repr(shown if len(shown) <= 80 else shown[:77] + "...")


def front_url_problem(front_url: str) -> str | None:
    """Why ``front_url`` cannot be the URL of front (None when it can): checked before any request.

    It must be an ASCII ``http(s)://host[:port][/path]`` with no blanks or control characters, a
    host whose labels IDNA accepts (1-63 characters each), a port in 1-65535, and no user or password
    (they would be printed in the report and logs; front takes none).
    """
    url = front_url if "://" in front_url else "http://" + front_url
    if any(c.isspace() or not c.isprintable() for c in url) or not url.isascii():
        return "it holds blanks, control or non-ASCII characters (give an IDN host in punycode)"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port out of 0-65535 or not a number
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return f"the scheme is {parts.scheme!r}"
    if parts.username is not None or parts.password is not None:
        return "it holds a user or password (front needs none; they would be printed in reports and logs)"
    host = parts.hostname
    if not host:
        return "it has no host"
    if port == 0:
        return "port 0 (expected 1-65535)"
    try:
        host.encode("idna")  # an IPv6 literal (urlsplit checked it) encodes too
    except UnicodeError as exc:
        return f"the host is not a valid DNS name ({exc})"
    return None


def color_url(front_url: str, path: str = COLOR_PATH) -> str:
    """``front_url`` with ``path`` appended, unless the URL already ends with it.

    Accepts a bare host (``a1b2.elb.amazonaws.com``) and assumes http, because that is what a
    LoadBalancer Service hostname output looks like. Raises ``ValueError`` saying what is wrong with
    a URL :func:`front_url_problem` refuses (user and password never shown).
    """
    problem = front_url_problem(front_url)
    if problem is not None:
        raise ValueError(
            f"front URL must be http(s)://host[:port][/path], got {_shown_url(front_url)}: {problem}"
        )
    if "://" not in front_url:
        front_url = "http://" + front_url
    parts = urlsplit(front_url)
    base_path = parts.path.rstrip("/")
    if not base_path.endswith(path.rstrip("/")):
        base_path += path
    return urlunsplit((parts.scheme, parts.netloc, base_path, parts.query, ""))


def _token(text: str) -> str | None:
    """A color as the report can show it: 1-64 printable characters without whitespace; else None.

    Whatever front sends ends up in the terminal and the report: control codes (ESC sequences that
    retitle or clear a terminal), lone surrogates that cannot be written, and megabytes of "color" are
    not a version's name but a broken answer."""
    token = text.strip()
    if not token or len(token) > _MAX_COLOR_LENGTH or not token.isprintable():
        return None
    if any(ch.isspace() for ch in token):
        return None
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return token


def parse_color(content_type: str, body: bytes) -> str | None:
    """The color in a front answer: JSON ``{"color": ...}`` or a plain-text token; ``None`` if neither."""
    if "json" in content_type.lower():
        try:
            payload: object = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the parser's depth
            return None
        if isinstance(payload, dict):
            # json.loads only produces str keys; the values are what needs checking.
            color = cast("dict[str, object]", payload).get("color")
            if isinstance(color, str):
                return _token(color)
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return _token(text)


VERSION_HEADER = b"x-crossmesh-version"
"""front's answer header naming the version (color) of colorapp that answered (the apps' contract)."""


def answer_color(version: str | None, content_type: str, body: bytes) -> str | None:
    """The version that answered: front's ``x-crossmesh-version`` header when it sent one (each version
    is judged by its own answer, whatever the body says), else the color in the body."""
    if version is not None:
        return _token(version)
    return parse_color(content_type, body)


class _Answer:
    """One HTTP answer: status, content type, front's version header (``None`` if absent) and body."""

    __slots__ = ("body", "content_type", "status", "version")

    def __init__(self, status: int, content_type: str, body: bytes, version: str | None = None) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body
        self.version = version


MAX_ANSWER_BYTES = 64 * 1024
"""The most of an answer's body the check reads (front's answer is a color: a few bytes)."""


T = TypeVar("T")


class _KeepAlive:
    """One HTTP/1.1 keep-alive connection: asyncio streams for the bytes, h11 for the protocol.

    h11 is the HTTP/1.1 state machine httpx and httpcore are built on; driving it directly over
    asyncio streams costs about a quarter of the client CPU per request that httpcore's pool (with
    anyio under it) did, which is what lets the whole command beat the curl loop tenfold at 1,000
    requests (bench/verify/run.py). A connection that fails or that the server closes is dropped
    and the next request opens a new one, as a pool of size one would.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.headers = [("Host", parts.netloc), ("User-Agent", "crossmesh-verify"), ("Accept", "*/*")]
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.h11: h11.Connection | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, h11.Connection]:
        if self.reader is None or self.writer is None or self.h11 is None:
            try:
                if self.https:
                    import ssl  # noqa: PLC0415 - only for https fronts

                    self.reader, self.writer = await asyncio.open_connection(
                        self.host, self.port, ssl=ssl.create_default_context(), server_hostname=self.host
                    )
                else:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            except TimeoutError:
                raise
            except OSError as exc:  # refused, unreachable, no such host, TLS handshake failure
                raise _ConnectError(str(exc) or type(exc).__name__) from exc
            self.h11 = h11.Connection(h11.CLIENT)
        return self.reader, self.writer, self.h11

    async def get(self) -> _Answer:
        reader, writer, connection = await self._open()
        try:
            writer.write(
                connection.send(h11.Request(method="GET", target=self.target, headers=self.headers))
                + (connection.send(h11.EndOfMessage()) or b"")
            )
            status, content_type, body = 0, "", bytearray()
            version: str | None = None
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(await reader.read(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    content_type = next(
                        (v.decode("latin-1") for k, v in event.headers if k == b"content-type"), ""
                    )
                    # h11 lower-cases header names.
                    version = next(
                        (v.decode("latin-1") for k, v in event.headers if k == VERSION_HEADER), None
                    )
                elif isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > MAX_ANSWER_BYTES:
                        # front's answer is a color; an endless body must not fill the machine.
                        raise h11.RemoteProtocolError(f"answer body longer than {MAX_ANSWER_BYTES} bytes")
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise h11.RemoteProtocolError("server closed the connection without answering")
        except BaseException:
            self.close()
            raise
        if connection.our_state is h11.DONE and connection.their_state is h11.DONE:
            connection.start_next_cycle()
        else:  # "Connection: close", or HTTP/1.0: the next request needs a new connection
            self.close()
        return _Answer(status, content_type, bytes(body), version)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = self.h11 = None


class _ConnectError(ConnectionError):
    """The TCP (or TLS) connection could not be opened."""


def _classify_exception(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionError):
        return "connect error"
    if isinstance(exc, h11.ProtocolError | asyncio.IncompleteReadError):
        return "protocol error"
    return type(exc).__name__


# Every failure a GET can end in: timeouts, refused or reset connections, malformed answers.
_REQUEST_ERRORS = (TimeoutError, OSError, h11.ProtocolError, asyncio.IncompleteReadError)


async def sample_colors(
    url: str,
    *,
    requests: int = DEFAULT_REQUESTS,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> HttpSamples:
    """Send ``requests`` GETs to ``url`` with at most ``concurrency`` in flight; never raises for I/O.

    Each of ``concurrency`` workers owns one keep-alive connection (:class:`_KeepAlive`) and pulls
    from a shared request budget.

    Each request is bounded by ``timeout_s`` end to end (connecting included, so a server that
    trickles bytes cannot stretch one request indefinitely). The whole burst therefore takes at most
    about ``ceil(requests / concurrency) * timeout_s``.
    Latency is measured for successful answers only: a timeout's "latency" is just the timeout.
    """
    if requests < 1 or concurrency < 1 or timeout_s <= 0:
        raise ValueError("requests and concurrency must be >= 1 and timeout_s > 0")
    samples = HttpSamples(requests=requests)
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        # Workers pull from a shared budget instead of one task per request, so memory and
        # scheduling cost stay proportional to the concurrency, not to the request count.
        connection = _KeepAlive(url)
        try:
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                try:
                    async with asyncio.timeout(timeout_s):
                        answer = await connection.get()
                except _REQUEST_ERRORS as exc:
                    samples.errors[_classify_exception(exc)] += 1
                    continue
                elapsed_ms = (time.perf_counter() - started) * 1000.0
                if answer.status != _HTTP_OK:
                    samples.errors[f"HTTP {answer.status}"] += 1
                    continue
                color = answer_color(answer.version, answer.content_type, answer.body)
                if color is None:
                    samples.errors[
                        "unparseable version header" if answer.version is not None else "unparseable body"
                    ] += 1
                    continue
                samples.colors[color] += 1
                samples.latencies_ms.append(elapsed_ms)
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, requests))))
    samples.wall_s = time.perf_counter() - started
    return samples


def allowed_errors(requests: int, max_error_rate: float) -> int:
    """The error budget: ``floor(max_error_rate * requests)`` (2 of 200 at the default 1%)."""
    if not 0 <= max_error_rate <= 1:
        raise ValueError(f"max_error_rate must be in [0, 1], got {max_error_rate}")
    # The small epsilon keeps 0.01 * 200 from flooring to 1 through binary rounding.
    return math.floor(max_error_rate * requests + 1e-9)


def judge_samples(
    samples: HttpSamples,
    weights: Mapping[str, int],
    *,
    alpha: float = DEFAULT_ALPHA,
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE,
    name: str = "http /color",
) -> tuple[CheckResult, HttpStats]:
    """Pure verdict over a burst's samples; see the module docstring for the pass criteria."""
    successes = sum(samples.colors.values())
    shares: dict[str, float] = {}
    # Configured colors first and always present (a missing color shows as 0.0), then strays.
    for color in list(weights) + sorted(set(samples.colors) - set(weights)):
        shares[color] = round(samples.colors.get(color, 0) / successes, 4) if successes else 0.0
    p50 = percentile_nearest_rank(samples.latencies_ms, 50)
    p99 = percentile_nearest_rank(samples.latencies_ms, 99)
    stats = HttpStats(
        requests=samples.requests,
        errors=samples.error_count,
        p50_ms=None if p50 is None else round(p50, 2),
        p99_ms=None if p99 is None else round(p99, 2),
        shares=shares,
    )

    budget = allowed_errors(samples.requests, max_error_rate)
    problems: list[str] = []
    if samples.error_count > budget:
        kinds = ", ".join(f"{kind} x{count}" for kind, count in samples.errors.most_common())
        problems.append(f"{samples.error_count} errors exceed the budget of {budget} ({kinds})")
    verdict = evaluate_shares(samples.colors, weights, alpha=alpha)
    problems.extend(verdict.problems)

    counts = ", ".join(f"{color}={samples.colors.get(color, 0)}" for color in shares)
    wanted = ", ".join(f"{color}={weight}" for color, weight in weights.items())
    summary = (
        f"{samples.requests} requests, {samples.error_count} errors (budget {budget}), "
        f"p50 {_ms(stats.p50_ms)}, p99 {_ms(stats.p99_ms)}; answers {counts}; weights {wanted}"
    )
    if verdict.p_values:
        tested = ", ".join(f"{color} p={value:.3g}" for color, value in verdict.p_values.items())
        summary += f"; binomial {tested} at alpha {verdict.alpha_per_test:.3g}"
    detail = summary if not problems else "; ".join(problems) + " | " + summary
    return CheckResult(name=name, ok=not problems, detail=detail), stats


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


async def check_http_async(
    front_url: str, weights: Mapping[str, int], settings: HttpCheckSettings = DEFAULT_HTTP_CHECK
) -> tuple[CheckResult, HttpStats]:
    """Run the burst against ``front_url`` + ``/color`` and judge it against ``weights``."""
    url = color_url(front_url)
    samples = await sample_colors(
        url, requests=settings.requests, concurrency=settings.concurrency, timeout_s=settings.timeout_s
    )
    return judge_samples(
        samples, weights, alpha=settings.alpha, max_error_rate=settings.max_error_rate, name=f"http {url}"
    )


def check_http(
    front_url: str, weights: Mapping[str, int], settings: HttpCheckSettings = DEFAULT_HTTP_CHECK
) -> tuple[CheckResult, HttpStats]:
    """Synchronous :func:`check_http_async` for callers without an event loop (the CLI).

    Runs on uvloop when it is installed (it is a dependency except on Windows): the burst is
    client-CPU-bound on small machines and uvloop trims the event loop's share of that.
    """
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return _run_terminable(runner, check_http_async(front_url, weights, settings))


def _run_terminable(runner: asyncio.Runner, coroutine: Coroutine[None, None, T]) -> T:
    """``runner.run(coroutine)``, with SIGTERM ending it as Ctrl-C does (KeyboardInterrupt).

    The loop's own SIGTERM handler cancels the task, as the runner does for Ctrl-C: a KeyboardInterrupt
    raised by a plain signal handler could land in a finalizer mid-burst, where Python drops it and the
    burst ran on (half of the tries, measured). Outside the main thread nothing is installed."""
    loop = runner.get_loop()
    tasks: list[asyncio.Task[T]] = []
    terminated: list[bool] = []

    async def main() -> T:
        task = asyncio.current_task()
        if task is not None:
            tasks.append(cast("asyncio.Task[T]", task))
        return await coroutine

    def on_sigterm() -> None:
        terminated.append(True)
        for task in tasks:
            task.cancel()

    previous = signal.getsignal(signal.SIGTERM)
    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        installed = True
    except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no signals here
        installed = False
    try:
        return runner.run(main())
    except asyncio.CancelledError:
        if terminated:
            raise KeyboardInterrupt from None
        raise
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGTERM)
            signal.signal(signal.SIGTERM, previous)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # noqa: PLC0415 - optional accelerator, absent on Windows
    except ImportError:
        return None
    return uvloop.new_event_loop


def wait_until_reachable(
    front_url: str,
    *,
    deadline_s: float,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    initial_backoff_s: float = 1.0,
    max_backoff_s: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PollResult[str | None]:
    """Poll ``front_url`` + ``/color`` until it gives any HTTP answer; the value is the last error.

    A fresh LoadBalancer's DNS name takes minutes to resolve and its targets to register, which is
    an infrastructure delay, not a mesh failure. Any HTTP status counts as reachable: a 502 from
    front is the mesh's problem and is what the burst must count, not something to wait out.
    """
    url = color_url(front_url)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def probe() -> str | None:
        # One plain request with the standard library: a reachability probe needs no event loop.
        connection_type = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_type(parts.hostname or "", parts.port, timeout=timeout_s)
        try:
            connection.request("GET", target, headers={"User-Agent": "crossmesh-verify"})
            # The status line and headers are the answer; the body is not read. A server that sends
            # an endless or a cut-short body has answered, and must not hold the wait past --deadline.
            connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            kind = (
                "timeout"
                if isinstance(exc, TimeoutError)
                else "connect error"
                if isinstance(exc, OSError)
                else "protocol error"
            )
            return f"{kind}: {exc}"
        finally:
            connection.close()
        return None

    return poll_until(
        probe,
        done=lambda error: error is None,
        deadline_s=deadline_s,
        initial_backoff_s=initial_backoff_s,
        max_backoff_s=max_backoff_s,
        clock=clock,
        sleep=sleep,
    )


def run_http_only(
    front_url: str,
    weights: Mapping[str, int],
    settings: HttpCheckSettings = DEFAULT_HTTP_CHECK,
    *,
    reachable_deadline_s: float | None = None,
) -> VerifyReport:
    """Only the HTTP check, against ``front_url`` (``--front-url`` mode for local and smoke runs).

    With ``reachable_deadline_s`` set, first waits up to that long for the URL to answer at all.
    Raises ``ValueError`` for unusable weights (a usage error, not a verification failure).
    It lives here, not beside the full verification, so that mode imports no AWS or Kubernetes client.
    """
    problems = weights_problems(weights)
    if problems:
        raise ValueError("; ".join(problems))
    if reachable_deadline_s is not None:
        reachable = wait_until_reachable(
            front_url, deadline_s=reachable_deadline_s, timeout_s=settings.timeout_s
        )
        if not reachable.done:
            detail = f"front never answered within {reachable_deadline_s:g}s (last: {reachable.value})"
            return VerifyReport(checks=(CheckResult(f"http {color_url(front_url)}", False, detail),))
    result, stats = check_http(front_url, weights, settings)
    return VerifyReport(checks=(result,), http=stats)
