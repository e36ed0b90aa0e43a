"""Names: child resources take their parent's name plus a stable key; physical names carry the stack."""

from __future__ import annotations

import hashlib

PROJECT = "crossmesh"
TYPE_PREFIX = "crossmesh:infra"


def child(parent: str, key: str) -> str:
    """Logical name of a child resource: the component's name and a stable key (AZ, service, color)."""
    return f"{parent}-{key}"


def physical(stack: str, *parts: str, max_length: int = 64) -> str:
    """A physical AWS name, unique per stack: ``crossmesh-<stack>-<parts...>``.

    Names longer than ``max_length`` (64 for IAM roles) are cut and end in a short hash of the full
    name, so they stay unique and stable.
    """
    name = "-".join((PROJECT, stack, *parts))
    if len(name) <= max_length:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: max_length - 9]}-{digest}"
