"""docs/mesh-backends.md names everything a backend answers, on both halves: a third backend written
from that page must not meet an abstract method or a protocol member it never heard of."""

from __future__ import annotations

import inspect
import re

from automation.verify.backends import BackendChecks
from infra.mesh.backend import MeshBackend
from tests.support import PROJECT_DIR

DOCS = PROJECT_DIR / "docs" / "mesh-backends.md"


def _documented() -> set[str]:
    return set(re.findall(r"`([a-z_]+)(?:\(|`)", DOCS.read_text(encoding="utf-8")))


def test_the_page_names_every_member_of_mesh_backend() -> None:
    members = {
        name
        for name, _ in inspect.getmembers(MeshBackend)
        if not name.startswith("_") and name not in {"kind", "config"}
    } | set(inspect.get_annotations(MeshBackend)) - {"kind"}
    assert {"install", "connect", "max_weighted_targets"} <= members, "the introspection is broken"
    assert sorted(members - _documented()) == []


def test_the_page_names_every_member_of_backend_checks() -> None:
    members = {name for name in vars(BackendChecks) if not name.startswith("_")}
    assert {"aws_checks", "check_available"} <= members, "the introspection is broken"
    assert sorted(members - _documented()) == []
