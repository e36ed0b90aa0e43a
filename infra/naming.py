"""Names: child resources take their parent's name plus a stable key; physical names carry the stack."""

from __future__ import annotations

PROJECT = "crossmesh"
TYPE_PREFIX = "crossmesh:infra"


def child(parent: str, key: str) -> str:
    """Logical name of a child resource: the component's name and a stable key (AZ, service, color)."""
    return f"{parent}-{key}"


def compose(stack: str, *parts: str) -> str:
    """``crossmesh-<stack>-<parts...>``, whatever its length (see :func:`physical`)."""
    return "-".join((PROJECT, stack, *parts))


class NameTooLongError(ValueError):
    """A composed physical name is over its service's limit."""


def physical(stack: str, *parts: str, max_length: int = 64) -> str:
    """A physical AWS name, unique per stack: ``crossmesh-<stack>-<parts...>``.

    The configuration refuses names that would overflow their service's limit, naming the key that
    feeds them (``infra/config_limits.py``), so this never shortens a name: a cut name with a hash
    was unique but unreadable, and hid that the configured names were too long.
    """
    name = compose(stack, *parts)
    if len(name) > max_length:
        raise NameTooLongError(f"{name!r} is {len(name)} characters; the limit is {max_length}")
    return name
