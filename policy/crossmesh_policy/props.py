"""Reading resource properties defensively.

Properties arrive as plain dicts and lists from the recording, and as read-only Mapping/Sequence
proxies from pulumi-policy (which raise on values unknown during preview). Everything here works on
the abstract types, so the same rule code runs in both places.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

_PLACEHOLDER = re.compile(r"^<[^<>]+>$")


def world_cidrs(values: Iterable[str]) -> list[str]:
    """The blocks among ``values`` that together admit every IPv4 or every IPv6 address.

    Not only ``0.0.0.0/0`` and ``::/0``: ``0.0.0.0/1`` with ``128.0.0.0/1``, or a /0 written with host
    bits, open a listener or an endpoint to the whole internet just the same. Values that are not
    CIDR blocks (placeholders, prefix-list ids) are left out.
    """
    v4: list[tuple[str, ipaddress.IPv4Network]] = []
    v6: list[tuple[str, ipaddress.IPv6Network]] = []
    for value in values:
        try:
            network = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            continue
        if isinstance(network, ipaddress.IPv4Network):
            v4.append((value, network))
        else:
            v6.append((value, network))
    found: list[str] = []
    if list(ipaddress.collapse_addresses(n for _, n in v4)) == [ipaddress.IPv4Network("0.0.0.0/0")]:
        found += [value for value, _ in v4]
    if list(ipaddress.collapse_addresses(n for _, n in v6)) == [ipaddress.IPv6Network("::/0")]:
        found += [value for value, _ in v6]
    return sorted(set(found))


def as_map(value: object) -> Mapping[str, Any] | None:
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else None


def as_seq(value: object) -> Sequence[Any] | None:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return None
    return cast(Sequence[Any], value)


def get(value: object, *path: str | int) -> Any:
    """The value at ``path`` (keys and list indices), or None when any step is missing."""
    current: Any = value
    for step in path:
        if isinstance(step, int):
            items = as_seq(current)
            if items is None or not -len(items) <= step < len(items):
                return None
            current = items[step]
        else:
            mapping = as_map(current)
            if mapping is None or step not in mapping:
                return None
            current = mapping[step]
    return current


def block(value: object) -> Mapping[str, Any] | None:
    """A nested block that pulumi-aws may give as an object or as a one-item list."""
    mapping = as_map(value)
    if mapping is not None:
        return mapping
    items = as_seq(value)
    if items and len(items) == 1:
        return as_map(items[0])
    return None


def strings(value: object) -> list[str]:
    """A string or a list of strings as a list (anything else: empty)."""
    if isinstance(value, str):
        return [value]
    items = as_seq(value)
    return [str(v) for v in items if isinstance(v, str)] if items is not None else []


def maps(value: object) -> list[Mapping[str, Any]]:
    items = as_seq(value)
    if items is None:
        return []
    return [m for m in (as_map(v) for v in items) if m is not None]


def is_true(value: object) -> bool:
    """True for ``True`` and for the string ``"true"`` (some pulumi-aws inputs are stringly typed)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_false(value: object) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def is_placeholder(value: object) -> bool:
    """A value the cloud assigns later, as the offline render writes it (``<name.attribute>``)."""
    return isinstance(value, str) and bool(_PLACEHOLDER.match(value))


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def policy_document(value: object) -> Mapping[str, Any] | None:
    """An IAM policy document given as JSON text or as a mapping; None when it is neither."""
    if isinstance(value, str):
        try:
            parsed: object = json.loads(value)
        except ValueError:
            return None
        return as_map(parsed)
    return as_map(value)


def statements(document: Mapping[str, Any] | None) -> Iterator[Mapping[str, Any]]:
    if document is None:
        return
    body = document.get("Statement")
    single = as_map(body)
    if single is not None:
        yield single
        return
    yield from maps(body)


def principals(statement: Mapping[str, Any], kind: str) -> list[str]:
    """``Principal.<kind>`` of a statement (``Service``, ``AWS``, ``Federated``) as a list."""
    return strings(get(statement, "Principal", kind))


def labels_of(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_map(get(props, "metadata", "labels")) or {}


def annotations_of(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_map(get(props, "metadata", "annotations")) or {}


def kind_of(resource_type: str) -> str:
    """``kubernetes:apps/v1:Deployment`` -> ``Deployment``."""
    return resource_type.rsplit(":", 1)[-1]
