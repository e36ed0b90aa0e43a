"""Mesh backends. :func:`backend_for` picks the one the configuration names."""

from __future__ import annotations

from infra.config import MeshBackendKind
from infra.mesh.appmesh import AppMeshBackend
from infra.mesh.backend import MeshBackend, MeshContext
from infra.mesh.lattice import LatticeBackend

_BACKENDS: dict[MeshBackendKind, type[MeshBackend]] = {
    MeshBackendKind.APPMESH: AppMeshBackend,
    MeshBackendKind.LATTICE: LatticeBackend,
}


def backend_for(context: MeshContext) -> MeshBackend:
    return _BACKENDS[context.config.mesh.backend](context)


__all__ = ["MeshBackend", "MeshContext", "backend_for"]
