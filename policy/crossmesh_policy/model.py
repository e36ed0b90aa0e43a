"""What a guardrail is, what it reads and what it reports.

Nothing here imports Pulumi: the offline render, the unit tests and the CrossGuard pack (see
:mod:`crossmesh_policy.pack`) all run the same rule objects over the same :class:`Resource` view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    """How much a violation weighs: mandatory stops a render (exit 1) and a deploy; advisory warns."""

    MANDATORY = "mandatory"
    ADVISORY = "advisory"


DEFAULT_APP_PORT = 8080


@dataclass(frozen=True)
class Settings:
    """The few facts about an environment that rules need and cannot read from one resource.

    The render fills them from the stack configuration; the policy pack from its policy config
    (``appPort``, ``podSecurityExceptions``), defaulting to the values below.
    """

    app_port: int = DEFAULT_APP_PORT
    """The port the apps serve on: the only port one cluster's nodes may open to another's."""
    pod_security_exceptions: Mapping[str, Mapping[str, str]] = field(
        default_factory=dict[str, Mapping[str, str]]
    )
    """Namespace name -> ``{"level": "privileged"|"baseline", "reason": ...}``: the laxest Pod Security
    level that namespace may enforce, and why. Every other namespace enforces ``restricted``. The mesh
    backend decides them (``MeshBackend.pod_security_exceptions``)."""


@dataclass(frozen=True)
class Resource:
    """One resource as a rule sees it: its Pulumi type token, logical name and camelCase properties.

    For a resource check ``props`` are the inputs (what pulumi-policy passes at preview/up, and what
    the recording holds). Stack checks also get ``property_dependencies`` (property name -> URNs of the
    resources its value came from) to follow references between resources.
    """

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    parent: str | None = None
    provider: str | None = None
    """URN of the explicit provider (for Kubernetes objects: which cluster)."""
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict[str, tuple[str, ...]])

    @property
    def label(self) -> str:
        return f"{self.type} {self.name}"


@dataclass(frozen=True)
class Violation:
    """One broken rule: which resource, which policy, what is wrong, and how to fix it."""

    policy: str
    level: Level
    resource_type: str
    resource_name: str
    message: str
    fix: str
    urn: str = ""

    def __str__(self) -> str:
        return (
            f"{self.resource_type} {self.resource_name}: {self.message} "
            f"[policy {self.policy}, {self.level}] fix: {self.fix}"
        )


ResourceCheck = Callable[[Resource, Settings], Iterable[str]]
"""Yields one message per problem found on one resource."""
StackCheck = Callable[[Sequence[Resource], Settings], Iterable[tuple[Resource, str]]]
"""Yields (resource at fault, message) over the whole resource graph."""


@dataclass(frozen=True)
class Rule:
    """A guardrail: metadata, the resource types it reads, and one check over one resource or the stack."""

    id: str
    """Kebab-case, unique; the name of the CrossGuard policy and the key to relax it."""
    cis: str | None
    """CIS Amazon EKS Benchmark recommendation, where one exists."""
    level: Level
    title: str
    """What must hold, in one line."""
    remediation: str
    """How to fix a violation, in one line."""
    types: frozenset[str]
    """Resource types the rule reads; it is "not applicable" to a stack that has none of them."""
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    type_filter: Callable[[str], bool] | None = None
    """Instead of ``types``, for rules over a family of types (every namespaced Kubernetes object)."""
    settings: frozenset[str] = frozenset()
    """The :class:`Settings` fields the check reads (the pack turns them into policy config)."""

    def __post_init__(self) -> None:
        if (self.resource_check is None) == (self.stack_check is None):
            raise ValueError(f"rule {self.id}: give exactly one of resource_check and stack_check")

    @property
    def is_stack_rule(self) -> bool:
        return self.stack_check is not None

    def applies_to(self, resource_type: str) -> bool:
        if self.type_filter is not None:
            return self.type_filter(resource_type)
        return resource_type in self.types

    def _violation(self, resource: Resource, message: str) -> Violation:
        return Violation(
            policy=self.id,
            level=self.level,
            resource_type=resource.type,
            resource_name=resource.name,
            message=message,
            fix=self.remediation,
            urn=resource.urn,
        )

    def check(self, resource: Resource, settings: Settings | None = None) -> list[Violation]:
        """Violations of a resource rule by one resource (nothing when the rule does not read its type)."""
        if self.resource_check is None:
            raise TypeError(f"rule {self.id} checks the whole stack: use validate_stack")
        if not self.applies_to(resource.type):
            return []
        found = self.resource_check(resource, settings or Settings())
        return [self._violation(resource, message) for message in found]

    def validate(
        self,
        resource_type: str,
        props: Mapping[str, Any],
        name: str,
        urn: str = "",
        settings: Settings | None = None,
    ) -> list[Violation]:
        """The rule's validation over one resource's properties, as CrossGuard calls it."""
        return self.check(Resource(type=resource_type, name=name, props=props, urn=urn), settings)

    def validate_stack(
        self, resources: Sequence[Resource], settings: Settings | None = None
    ) -> list[Violation]:
        """Violations over a whole resource graph (resource rules run on every resource they read)."""
        if self.stack_check is None:
            return [v for r in resources for v in self.check(r, settings)]
        found = self.stack_check(resources, settings or Settings())
        return [self._violation(resource, message) for resource, message in found]
