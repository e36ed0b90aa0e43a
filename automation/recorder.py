"""The recording engine: run the real Pulumi program in-process against mocks and keep every registration.

One harness serves the tests and the offline render. It replaces the Pulumi engine with a monitor that
records, for every resource the program registers (components included): type, name, parent, provider,
the dependencies the engine would see (explicit ``depends_on`` and those flowing through inputs), and the
inputs exactly as the provider would receive them. Invokes are answered by :mod:`automation.cloud_mocks`.

Each run happens on its own thread with its own event loop: the Pulumi SDK keeps its settings in
context variables and a thread starts with a fresh context, so runs cannot leak into one another.
"""

from __future__ import annotations

import asyncio
import json
import logging
import runpy
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.config import set_all_config
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import Stack, run_pulumi_func

from automation.cloud_mocks import CloudMocks
from automation.pulumi_private import SIG_ARCHIVE as _SIG_ARCHIVE
from automation.pulumi_private import SIG_ASSET as _SIG_ASSET
from automation.pulumi_private import SIG_KEY as _SIG_KEY
from automation.pulumi_private import SIG_OUTPUT as _SIG_OUTPUT
from automation.pulumi_private import SIG_RESOURCE as _SIG_RESOURCE
from automation.pulumi_private import SIG_SECRET as _SIG_SECRET
from automation.pulumi_private import ensure_event_loop as _ensure_event_loop
from automation.pulumi_private import sync_await as _sync_await

STACK_TYPE = "pulumi:pulumi:Stack"
INTERRUPT_GRACE_SECONDS = 10.0
"""After Ctrl-C, how long a recording may take to finish before the caller is told it was interrupted."""
UNKNOWN_MARKER = "<unknown>"


@dataclass(frozen=True)
class Registration:
    """One resource as the engine would see it."""

    urn: str
    type: str
    name: str
    parent: str | None
    provider: str | None
    """URN of the explicit provider, if one was passed (default providers are left as None)."""
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]
    inputs: Mapping[str, Any]
    custom: bool
    remote: bool
    id: str | None = None
    outputs: Mapping[str, Any] = field(default_factory=dict[str, Any])
    secret_paths: tuple[str, ...] = ()
    """Input keys that carried secret values (recorded in the clear: these are mock values)."""
    delete_before_replace: bool = False
    """The ``delete_before_replace`` option: a replacement deletes this resource before creating the
    new one (what a resource that cannot exist twice needs)."""

    @property
    def is_component(self) -> bool:
        return not self.custom and not self.type.startswith("pulumi:providers:")

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "provider": self.provider,
            "dependencies": list(self.dependencies),
            "inputs": self.inputs,
        }


@dataclass
class Recording:
    """Everything a program run registered, in registration order."""

    project: str
    stack: str
    resources: list[Registration] = field(default_factory=list[Registration])
    invokes: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list[tuple[str, Mapping[str, Any]]])
    outputs: dict[str, Any] = field(default_factory=dict[str, Any])
    logs: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    placeholders: dict[str, str] = field(default_factory=dict[str, str])

    # Queries used by tests and the render --------------------------------------------------------

    def __iter__(self) -> Iterator[Registration]:
        return iter(self.resources)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def named(self, type_: str, name: str) -> Registration:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(found) != 1:
            names = sorted(r.name for r in self.of_type(type_))
            raise KeyError(f"expected one {type_} named {name!r}, found {len(found)}; names: {names}")
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def children(self, urn: str) -> list[Registration]:
        return [r for r in self.resources if r.parent == urn]

    def ancestors(self, registration: Registration) -> list[Registration]:
        chain: list[Registration] = []
        parent = registration.parent
        while parent:
            found = self.by_urn(parent)
            chain.append(found)
            parent = found.parent
        return chain

    def depends_on(self, dependent: Registration, dependency: Registration) -> bool:
        """True when ``dependent`` waits for ``dependency``, directly or through other resources.

        Depending on a component means depending on everything inside it, as the engine treats it.
        """
        wanted = {dependency.urn, *(d.urn for d in self.descendants(dependency))}
        seen: set[str] = set()
        stack = list(dependent.dependencies)
        while stack:
            urn = stack.pop()
            if urn in wanted:
                return True
            if urn in seen:
                continue
            seen.add(urn)
            try:
                node = self.by_urn(urn)
            except KeyError:
                continue
            stack.extend(node.dependencies)
            stack.extend(d.urn for d in self.children(urn))
        return False

    def descendants(self, registration: Registration) -> list[Registration]:
        out: list[Registration] = []
        frontier = [registration.urn]
        while frontier:
            urn = frontier.pop()
            for child in self.children(urn):
                out.append(child)
                frontier.append(child.urn)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "placeholders": self.placeholders,
            "resources": [r.to_json() for r in self.resources],
        }


class ProgramError(Exception):
    """The program raised while being recorded; the original exception is the cause."""


def _plain(value: Any, secret_paths: list[str], path: str) -> Any:
    """Turn a wire-format value into plain JSON data. Resource references become ``{"$ref": urn}``."""
    if isinstance(value, dict):
        mapping = cast(dict[str, Any], value)
        sig = mapping.get(_SIG_KEY)
        if sig == _SIG_SECRET:
            secret_paths.append(path)
            return _plain(mapping.get("value"), secret_paths, path)
        if sig == _SIG_RESOURCE:
            return {"$ref": mapping.get("urn")}
        if sig == _SIG_OUTPUT:
            if mapping.get("secret"):
                secret_paths.append(path)
            return _plain(mapping["value"], secret_paths, path) if "value" in mapping else UNKNOWN_MARKER
        if sig in (_SIG_ASSET, _SIG_ARCHIVE):
            return {k: v for k, v in mapping.items() if k != _SIG_KEY}
        return {k: _plain(v, secret_paths, f"{path}.{k}" if path else k) for k, v in mapping.items()}
    if isinstance(value, list):
        items = cast(list[Any], value)
        return [_plain(v, secret_paths, f"{path}[{i}]") for i, v in enumerate(items)]
    if value == rpc.UNKNOWN:
        return UNKNOWN_MARKER
    if isinstance(value, float) and value.is_integer():
        # The wire format carries every number as a double; the program's ints come back as ints.
        return int(value)
    return value


def _struct_to_plain(struct: Any) -> tuple[dict[str, Any], list[str]]:
    secret_paths: list[str] = []
    raw = json_format.MessageToDict(struct, preserving_proto_field_name=True)
    return cast(dict[str, Any], _plain(raw, secret_paths, "")), secret_paths


def _provider_urn(reference: str) -> str | None:
    # A provider reference is "<urn>::<id>"; the URN itself contains "::" separators.
    if not reference:
        return None
    urn, _, _id = reference.rpartition("::")
    return urn or None


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that keeps every registration instead of forgetting the request."""

    def __init__(self, mocks: CloudMocks, recording: Recording) -> None:
        super().__init__(mocks)
        self.cloud = mocks
        self.recording = recording
        self._lock = threading.Lock()
        self._thread_loops: dict[int, asyncio.AbstractEventLoop] = {}

    def _thread_loop(self) -> None:
        """The calling thread's event loop, made if missing (as the SDK's mock monitor does), and kept.

        The engine calls the monitor on its executor's threads, and the SDK gives each of them a loop
        that nothing closes. Left to the garbage collector, they were closed at interpreter exit, in
        whatever order finalization ran; one that found its file descriptors already gone printed an
        "Exception ignored in BaseEventLoop.__del__" traceback after an otherwise clean exit.
        """
        loop = _ensure_event_loop()
        with self._lock:
            self._thread_loops.setdefault(threading.get_ident(), loop)

    def close_thread_loops(self) -> None:
        """Close the loops the engine's threads were given (once those threads have stopped)."""
        with self._lock:
            loops, self._thread_loops = list(self._thread_loops.values()), {}
        for loop in loops:
            if not loop.is_closed() and not loop.is_running():
                loop.close()

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        self._thread_loop()
        inputs, secret_paths = _struct_to_plain(request.object)
        dependencies = tuple(dict.fromkeys(request.dependencies))
        property_dependencies = {k: tuple(v.urns) for k, v in request.propertyDependencies.items()}
        if request.type == STACK_TYPE:
            resource_id, state = None, {}
        else:
            resource_id, state = self.cloud.new_resource(
                pulumi_mocks.MockResourceArgs(
                    typ=request.type,
                    name=request.name,
                    inputs=inputs,
                    provider=request.provider,
                    resource_id=request.importId,
                    custom=request.custom or False,
                )
            )
        registration = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            provider=_provider_urn(request.provider),
            dependencies=dependencies,
            property_dependencies=property_dependencies,
            inputs=inputs,
            custom=bool(request.custom),
            remote=bool(request.remote),
            id=resource_id,
            outputs=state,
            secret_paths=tuple(secret_paths),
            delete_before_replace=bool(request.deleteBeforeReplace),
        )
        with self._lock:
            self.recording.resources.append(registration)
            if request.type != STACK_TYPE:
                self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(
                    urn, resource_id or "", state
                )
        from pulumi.runtime.proto import resource_pb2  # noqa: PLC0415 - generated module, import is slow

        obj = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id or "", object=obj)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self._thread_loop()
        if request.urn.split("::")[-2].endswith(STACK_TYPE):
            outputs, _ = _struct_to_plain(request.outputs)
            with self._lock:
                self.recording.outputs.update(outputs)
        return super().RegisterResourceOutputs(request)

    def ReadResource(self, request: Any) -> Any:
        self._thread_loop()
        return super().ReadResource(request)

    def Invoke(self, request: Any) -> Any:
        self._thread_loop()
        args, _ = _struct_to_plain(request.args)
        with self._lock:
            self.recording.invokes.append((request.tok, args))
        return super().Invoke(request)


def _run_and_export(program: Callable[[], object]) -> None:
    """Run the program, then register the root stack's exports as `pulumi up` would at the end."""
    program()
    root = get_root_resource()
    if isinstance(root, Stack):
        root.register_outputs(dict(root.outputs))


class _LogCapture(logging.Handler):
    def __init__(self, recording: Recording) -> None:
        super().__init__(level=logging.DEBUG)
        self.recording = recording

    def emit(self, record: logging.LogRecord) -> None:
        self.recording.logs.append((record.levelname.lower(), record.getMessage()))


def record(
    program: Callable[[], object],
    *,
    project: str,
    stack: str,
    config: Mapping[str, str] | None = None,
    mocks: CloudMocks | None = None,
) -> Recording:
    """Run ``program`` as a Pulumi program of ``project``/``stack`` and return what it registered.

    ``config`` is the flat map Pulumi would pass (``"aws:region": "us-east-1"``, structured values
    JSON-encoded). Exceptions raised by the program propagate unchanged.
    """
    recording = Recording(project=project, stack=stack)
    cloud = mocks or CloudMocks(region=(config or {}).get("aws:region", "us-east-1"))
    recording.placeholders = cloud.placeholders
    failure: list[BaseException] = []

    done = threading.Event()

    def run() -> None:
        monitor = RecordingMonitor(cloud, recording)
        loop = _ensure_event_loop()
        logger = logging.getLogger(f"crossmesh.recorder.{stack}")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        handler = _LogCapture(recording)
        logger.addHandler(handler)
        try:
            set_all_config(dict(config or {}))
            pulumi_mocks.set_mocks(
                cloud, project=project, stack=stack, preview=False, logger=logger, monitor=monitor
            )
            _sync_await(run_pulumi_func(lambda: _run_and_export(program)))
        except BaseException as exc:
            failure.append(exc)
        finally:
            logger.removeHandler(handler)
            # The executor's threads end first (close() alone would not wait for them), then the
            # loops they were given, then this thread's own.
            try:
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                monitor.close_thread_loops()
                loop.close()
                done.set()

    # Waited for through an event, not join(): Ctrl-C during Thread.join() can leave the thread marked
    # as ended while it still runs, and the interpreter then exits under it with its loops open.
    worker = threading.Thread(target=run, name=f"pulumi-record-{stack}", daemon=True)
    try:
        worker.start()
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        # A program cannot be stopped part-way: it gets a moment to finish and close its event loops,
        # so that the interpreter does not close them at exit (a traceback); Ctrl-C again leaves now.
        done.wait(INTERRUPT_GRACE_SECONDS)
        raise
    if failure:
        raise failure[0]
    return recording


def record_project(project_dir: Path, stack: str, config: Mapping[str, str], *, project: str) -> Recording:
    """Run the project's own ``__main__.py``, the way ``pulumi up`` runs it, and record it as a stack of
    ``project`` (its name in ``Pulumi.yaml``: it is part of every URN)."""
    main = project_dir / "__main__.py"

    def program() -> None:
        added = str(project_dir) not in sys.path
        if added:
            sys.path.insert(0, str(project_dir))
        try:
            runpy.run_path(str(main), run_name="__main__")
        finally:
            if added:
                sys.path.remove(str(project_dir))

    return record(program, project=project, stack=stack, config=config)


def dump(recording: Recording) -> str:
    return json.dumps(recording.to_json(), indent=2, sort_keys=False, default=str)
