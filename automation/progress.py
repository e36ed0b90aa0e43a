"""Pulumi engine events -> a live progress display and a complete JSON-lines log of the run.

The Automation API calls ``on_event`` with ``pulumi.automation.EngineEvent`` objects from its own
threads (a gRPC server since CLI 3.206). :class:`ProgressTracker` is the pure part: it folds events
into counts (resources done of total, the operation in progress, failures, error diagnostics), so it
can be tested with events built from the engine's JSON. :class:`OperationProgress` ties a tracker to
a rich progress bar (on a terminal) or to one plain line per changed resource (CI logs), and writes
every event, and every line the CLI prints, to :class:`EventLog`.

Events are read by attribute name (``resource_pre_event.metadata.urn``...), never by importing the
Pulumi SDK here: the fields are documented in ``pulumi/automation/events.py``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, cast

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from automation.errors import Diagnostic, urn_name

# Pulumi marks a secret value in serialized property maps with this signature key.
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"  # noqa: S105 - a marker key, not a secret
REDACTED = "[secret]"

_VERBS = {
    "create": "creating",
    "update": "updating",
    "delete": "deleting",
    "replace": "replacing",
    "create-replacement": "creating replacement",
    "delete-replaced": "deleting replaced",
    "read": "reading",
    "read-replacement": "reading replacement",
    "refresh": "refreshing",
    "import": "importing",
    "import-replacement": "importing replacement",
    "discard": "discarding",
    "discard-replaced": "discarding replaced",
    "remove-pending-replace": "removing pending replace",
    "same": "unchanged",
}
_PAST = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "replace": "replaced",
    "create-replacement": "created replacement",
    "delete-replaced": "deleted replaced",
    "read": "read",
    "refresh": "refreshed",
    "import": "imported",
}


def to_jsonable(value: object) -> Any:
    """An engine event (or any SDK object) as plain JSON, with ``None`` fields dropped and secrets masked."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, Mapping):
        mapping = cast("Mapping[object, object]", value)
        if SECRET_SIGNATURE in mapping:
            return REDACTED
        return {str(k): to_jsonable(v) for k, v in mapping.items() if v is not None}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in cast("list[object]", value)]
    attributes: dict[str, object] | None = getattr(value, "__dict__", None)
    if attributes is not None:
        return {k: to_jsonable(v) for k, v in attributes.items() if v is not None and not k.startswith("_")}
    return str(value)


class EventLog:
    """One JSON object per line: run records, every engine event and every CLI output line, in order."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[str] | None = path.open("w", encoding="utf-8")

    def record(self, kind: str, **fields: object) -> None:
        line = {"record": kind, "time": datetime.now(UTC).isoformat(timespec="milliseconds")}
        line |= {k: to_jsonable(v) for k, v in fields.items()}
        text = json.dumps(line, default=str) + "\n"
        with self._lock:
            if self._file is not None:
                self._file.write(text)
                # Flushed per line: the log is what is left to read when the process is killed.
                self._file.flush()

    def event(self, event: object) -> None:
        self.record("event", event=event)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _op_name(op: object) -> str:
    return str(op.value) if isinstance(op, Enum) else str(op)


@dataclass(frozen=True)
class ProgressState:
    done: int
    total: int
    failed: int
    current: str


@dataclass
class ProgressTracker:
    """Folds engine events into progress; thread-safe because events arrive on SDK threads."""

    expected_total: int | None = None
    """Resources the operation is expected to touch (e.g. the stack's current count), if known."""
    started: dict[str, tuple[str, str]] = field(default_factory=dict[str, tuple[str, str]])
    """urn -> (op, type) for every step the engine announced."""
    finished: set[str] = field(default_factory=set[str])
    failed: set[str] = field(default_factory=set[str])
    diagnostics: list[Diagnostic] = field(default_factory=list[Diagnostic])
    changes: dict[str, int] = field(default_factory=dict[str, int])
    """The engine's summary: op -> count (set by the summary event at the end)."""
    cancelled: bool = False
    current: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def apply(self, event: object) -> str | None:
        """Take one event; returns a line worth printing on its own (a changed or failed resource)."""
        with self._lock:
            return self._apply(event)

    def _apply(self, event: Any) -> str | None:
        pre = getattr(event, "resource_pre_event", None)
        if pre is not None:
            metadata = pre.metadata
            op = _op_name(metadata.op)
            self.started[metadata.urn] = (op, metadata.type)
            if op != "same" or not self.current:
                self.current = f"{_VERBS.get(op, op)} {metadata.type} {urn_name(metadata.urn)}"
            return None
        outputs = getattr(event, "res_outputs_event", None)
        if outputs is not None:
            metadata = outputs.metadata
            self.finished.add(metadata.urn)
            op = _op_name(metadata.op)
            if op == "same" or outputs.planning:
                return None
            return f"{_PAST.get(op, op)} {metadata.type} {urn_name(metadata.urn)}"
        failed = getattr(event, "res_op_failed_event", None)
        if failed is not None:
            metadata = failed.metadata
            self.finished.add(metadata.urn)
            self.failed.add(metadata.urn)
            return f"FAILED {_op_name(metadata.op)} {metadata.type} {urn_name(metadata.urn)}"
        diagnostic = getattr(event, "diagnostic_event", None)
        if diagnostic is not None:
            severity = str(diagnostic.severity or "")
            if severity in ("error", "warning"):
                self.diagnostics.append(Diagnostic(diagnostic.urn or "", severity, diagnostic.message or ""))
            return None
        summary = getattr(event, "summary_event", None)
        if summary is not None:
            changes = cast("Mapping[object, int]", summary.resource_changes or {})
            self.changes = {_op_name(op): int(n) for op, n in changes.items()}
            return None
        if getattr(event, "cancel_event", None) is not None:
            self.cancelled = True
        return None

    def state(self) -> ProgressState:
        with self._lock:
            seen = len(set(self.started) | self.finished)
            return ProgressState(
                done=len(self.finished),
                total=max(seen, self.expected_total or 0),
                failed=len(self.failed),
                current=self.current,
            )

    def errors(self) -> list[Diagnostic]:
        with self._lock:
            return [d for d in self.diagnostics if d.severity == "error"]


class EventSink(Protocol):
    """What a stack operation reports to (see :class:`automation.stack.StackRunner`)."""

    def on_event(self, event: object) -> None: ...

    def on_output(self, line: str) -> None: ...

    def on_error(self, line: str) -> None: ...


class OperationProgress:
    """A progress display for one Pulumi operation plus its log; use as a context manager."""

    def __init__(
        self,
        title: str,
        *,
        console: Console,
        log: EventLog,
        tracker: ProgressTracker | None = None,
    ) -> None:
        self.title = title
        self.console = console
        self.log = log
        self.tracker = tracker or ProgressTracker()
        self.started = time.monotonic()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> OperationProgress:
        self.log.record("start", operation=self.title)
        if self.console.is_terminal:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.fields[title]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("resources"),
                TimeElapsedColumn(),
                TextColumn("{task.description}", style="dim"),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("starting", total=None, title=self.title)
        else:
            self.console.print(f"{self.title}: started (events -> {self.log.path})", markup=False)
        return self

    def on_event(self, event: object) -> None:
        self.log.event(event)
        line = self.tracker.apply(event)
        state = self.tracker.state()
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task,
                completed=state.done,
                total=state.total or None,
                description=state.current,
            )
            if line is not None and line.startswith("FAILED"):
                self._progress.console.print(Text(line, style="red"))
        elif line is not None:
            elapsed = time.monotonic() - self.started
            text = f"[{state.done}/{state.total}] {elapsed:6.0f}s {line}"
            self.console.print(text, highlight=False, markup=False)

    def on_output(self, line: str) -> None:
        self.log.record("stdout", line=line)

    def on_error(self, line: str) -> None:
        self.log.record("stderr", line=line)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        state = self.tracker.state()
        if self._progress is not None:
            self._progress.stop()
        outcome = "ok" if exc is None else type(exc).__name__
        self.log.record(
            "end",
            operation=self.title,
            outcome=outcome,
            seconds=round(time.monotonic() - self.started, 3),
            done=state.done,
            total=state.total,
            failed=state.failed,
            changes=self.tracker.changes,
            error=None if exc is None else str(exc),
        )
        self.log.close()
