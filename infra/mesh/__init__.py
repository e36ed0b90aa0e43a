"""Mesh backends. :func:`backend_for` picks the one the configuration names.

Each backend is a folder, ``infra/mesh/<kind>/``, named by its ``MeshBackendKind`` value, whose
package exports ``BACKEND`` (its :class:`MeshBackend` subclass). Adding a backend adds a folder and an
enum value; nothing here lists them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import cast

from infra.config import StackConfig
from infra.config_limits import ComposedName
from infra.config_parse import ConfigError
from infra.mesh.backend import MeshBackend, MeshContext


def backend_class(kind: str) -> type[MeshBackend]:
    """The backend class of ``infra/mesh/<kind>/``."""
    module = importlib.import_module(f"{__name__}.{kind}")
    backend = cast("type[MeshBackend]", module.BACKEND)
    if backend.kind.value != kind:
        raise TypeError(f"infra/mesh/{kind}/ exports a backend of kind {backend.kind.value!r}")
    return backend


def backend_for(
    config: StackConfig, *, source: str = "", app_names: Iterable[ComposedName] = ()
) -> MeshBackend:
    """The configured backend; raises :class:`ConfigError` for settings it cannot honour.

    ``source`` names the stack file in that error; ``app_names`` (the apps' Kubernetes names, from
    ``workloads.deploy.names``, a room above) are checked with the backend's own names."""
    backend = backend_class(config.mesh.backend.value)(config)
    problems = backend.config_problems(app_names)
    if problems:
        raise ConfigError(problems, source)
    return backend


def backend_for_program(config: StackConfig, app_names: Iterable[ComposedName] = ()) -> MeshBackend:
    """:func:`backend_for` inside ``pulumi up``: a setting the backend cannot honour stops the program
    before any registration with the problems listed and no Python traceback (``pulumi.RunError``),
    as :func:`infra.config_parse.from_pulumi` does for the model's own refusals."""
    import pulumi  # noqa: PLC0415 - the CLI checks backends without loading the Pulumi SDK

    try:
        return backend_for(config, source=f"Pulumi.{config.stack}.yaml", app_names=app_names)
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from exc


class BackendUnavailable(Exception):
    """The configured backend cannot be deployed (its AWS service is gone); nothing was registered."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message} {hint}")
        self.message = message
        self.hint = hint


def refuse_undeployable(config: StackConfig) -> None:
    """Raise :class:`BackendUnavailable` when the configured backend cannot be deployed.

    ``python -m automation deploy|preview`` calls this before opening the stack; the program calls
    :func:`refuse_undeployable_unless_offline` before registering its first resource, so a plain
    ``pulumi up``/``preview`` stops there too instead of building a VPC and clusters first.
    """
    refusal = backend_class(config.mesh.backend.value)(config).unavailable()
    if refusal is not None:
        raise BackendUnavailable(*refusal)


def running_offline() -> bool:
    """Whether the program runs against Pulumi's mock monitor (the offline render and the tests)
    rather than a Pulumi engine."""
    from pulumi.runtime.mocks import MockMonitor  # noqa: PLC0415 - only the program asks
    from pulumi.runtime.settings import get_monitor  # noqa: PLC0415

    return isinstance(get_monitor(), MockMonitor)


def refuse_undeployable_unless_offline(config: StackConfig) -> None:
    """The program's guard: an offline render of any backend works; a real run of one that cannot be
    deployed stops before anything is registered."""
    if not running_offline():
        refuse_undeployable(config)


__all__ = [
    "BackendUnavailable",
    "MeshBackend",
    "MeshContext",
    "backend_class",
    "backend_for",
    "backend_for_program",
    "refuse_undeployable",
    "refuse_undeployable_unless_offline",
    "running_offline",
]
