"""Mesh backends. :func:`backend_for` picks the one the configuration names.

Each backend is a folder, ``infra/mesh/<kind>/``, named by its ``MeshBackendKind`` value, whose
package exports ``BACKEND`` (its :class:`MeshBackend` subclass). Adding a backend adds a folder and an
enum value; nothing here lists them.
"""

from __future__ import annotations

import importlib
from typing import cast

from infra.config import StackConfig
from infra.config_parse import ConfigError
from infra.mesh.backend import MeshBackend, MeshContext


def backend_class(kind: str) -> type[MeshBackend]:
    """The backend class of ``infra/mesh/<kind>/``."""
    module = importlib.import_module(f"{__name__}.{kind}")
    backend = cast("type[MeshBackend]", module.BACKEND)
    if backend.kind.value != kind:
        raise TypeError(f"infra/mesh/{kind}/ exports a backend of kind {backend.kind.value!r}")
    return backend


def backend_for(config: StackConfig, *, source: str = "") -> MeshBackend:
    """The configured backend; raises :class:`ConfigError` for settings it cannot honour.

    ``source`` names the stack file in that error."""
    backend = backend_class(config.mesh.backend.value)(config)
    problems = backend.config_problems()
    if problems:
        raise ConfigError(problems, source)
    return backend


__all__ = ["MeshBackend", "MeshContext", "backend_class", "backend_for"]
