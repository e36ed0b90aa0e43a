"""The App Mesh backend (AWS ended App Mesh on 2026-09-30; kept as the blog's reference topology)."""

from infra.mesh.appmesh.backend import AppMeshBackend

BACKEND = AppMeshBackend

__all__ = ["BACKEND", "AppMeshBackend"]
