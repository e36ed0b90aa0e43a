"""Following references between resources, for the rules that look at more than one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .model import Resource
from .props import get, strings


class Graph:
    """Resources by URN, with the lookups stack checks need."""

    def __init__(self, resources: Sequence[Resource]) -> None:
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in self.resources if r.urn}

    def of_type(self, *types: str) -> list[Resource]:
        wanted = set(types)
        return [r for r in self.resources if r.type in wanted]

    def sources(self, resource: Resource, prop: str, *types: str) -> list[Resource]:
        """The resources (of ``types``, if given) that ``resource.<prop>``'s value came from."""
        found: list[Resource] = []
        for urn in resource.property_dependencies.get(prop, ()):
            source = self.by_urn.get(urn)
            if source is not None and (not types or source.type in types):
                found.append(source)
        return found

    def by_id(self, value: object, *types: str) -> Resource | None:
        """A resource whose ``id`` output equals ``value`` (stack checks at deploy time see outputs)."""
        if not isinstance(value, str):
            return None
        for resource in self.of_type(*types):
            if resource.props.get("id") == value:
                return resource
        return None

    def referenced(self, resource: Resource, prop: str, *types: str) -> list[Resource]:
        """What ``resource.<prop>`` points at: by property dependency, else by matching ``id`` values."""
        found = self.sources(resource, prop, *types)
        if found:
            return found
        matched = (self.by_id(value, *types) for value in strings(resource.props.get(prop)))
        return [m for m in matched if m is not None]


def role_name(role: Resource) -> str | None:
    name = role.props.get("name")
    return name if isinstance(name, str) else None


def attached_to(graph: Graph, role: Resource, candidates: Iterable[Resource]) -> list[Resource]:
    """Attachments or inline policies whose ``role`` is ``role`` (by name, or by dependency)."""
    name = role_name(role)
    out: list[Resource] = []
    for candidate in candidates:
        value: Any = candidate.props.get("role")
        if (name is not None and value == name) or role in graph.sources(candidate, "role"):
            out.append(candidate)
    return out


def provider_key(resource: Resource) -> str:
    """Which cluster a Kubernetes object goes to: its provider's URN ("" for the default provider)."""
    return resource.provider or ""


def namespace_of(props: Mapping[str, Any]) -> str | None:
    value = get(props, "metadata", "namespace")
    return value if isinstance(value, str) else None
