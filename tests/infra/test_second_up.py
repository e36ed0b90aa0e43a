"""The second ``pulumi up``: a routine change to a deployed stack touches what it is about, and nothing else.

Two recordings of the real program, before and after a change to the stack file, compared as the engine
compares a program run with the state: a URN only after is a create, a URN only before a delete, and
the same URN with other inputs an update (or a replacement, where the provider calls a changed input
force-new). A change of traffic weights, replicas, tracing, node counts or the route's timeout must
leave the clusters, the VPC, the roles, the keys and every other physically named resource exactly as
they were: same URN, same inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from automation.recorder import Recording
from tests.support import record_document, record_env, variant

Change = Callable[[dict[str, Any]], None]


def _versions(config: dict[str, Any]) -> list[dict[str, Any]]:
    return config["crossmesh:workloads"]["colorapp"]["versions"]


def _weights(config: dict[str, Any]) -> None:
    blue, red = _versions(config)
    blue["weight"], red["weight"] = 80, 20


def _replicas(config: dict[str, Any]) -> None:
    _versions(config)[0]["replicas"] = 3
    config["crossmesh:workloads"]["front"]["replicas"] = 2


def _tracing(config: dict[str, Any]) -> None:
    config["crossmesh:mesh"]["tracing"] = "x-ray"


def _nodes(config: dict[str, Any]) -> None:
    config["crossmesh:clusters"][0]["nodes"]["desired"] = 3


def _timeout(config: dict[str, Any]) -> None:
    config["crossmesh:mesh"].setdefault("route", {})["timeoutMs"] = 5000


@dataclass(frozen=True)
class Diff:
    created: frozenset[str]
    deleted: frozenset[str]
    updated: frozenset[str]
    """``type::name`` of every resource whose inputs changed."""


def _key(urn: str) -> str:
    type_chain, name = urn.split("::")[-2:]
    return f"{type_chain.rsplit('$', 1)[-1]}::{name}"


def diff(before: Recording, after: Recording) -> Diff:
    old = {r.urn: r for r in before}
    new = {r.urn: r for r in after}
    return Diff(
        created=frozenset(_key(u) for u in new.keys() - old.keys()),
        deleted=frozenset(_key(u) for u in old.keys() - new.keys()),
        updated=frozenset(
            _key(u) for u in old.keys() & new.keys() if dict(old[u].inputs) != dict(new[u].inputs)
        ),
    )


FRONT = "kubernetes:apps/v1:Deployment::eksc1-apps-front"
BLUE = "kubernetes:apps/v1:Deployment::eksc2-apps-colorapp-blue"
RED = "kubernetes:apps/v1:Deployment::eksc2-apps-colorapp-red"
FRONT_SERVICE = "kubernetes:core/v1:Service::eksc1-apps-front-service"
PDBS = frozenset(
    {
        "kubernetes:policy/v1:PodDisruptionBudget::eksc1-apps-front-pdb",
        "kubernetes:policy/v1:PodDisruptionBudget::eksc2-apps-colorapp-blue-pdb",
    }
)
APP_ROLE_POLICIES = frozenset(
    {
        "aws:iam/rolePolicy:RolePolicy::eksc1-apps-front-irsa-policy",
        "aws:iam/rolePolicy:RolePolicy::eksc2-apps-colorapp-blue-irsa-policy",
        "aws:iam/rolePolicy:RolePolicy::eksc2-apps-colorapp-red-irsa-policy",
    }
)
CONTROLLER_RELEASES = frozenset(
    {
        "kubernetes:helm.sh/v3:Release::eksc1-mesh-controller-release",
        "kubernetes:helm.sh/v3:Release::eksc2-mesh-controller-release",
    }
)

# (env, change) -> what it creates and what it updates; it deletes nothing. Every update here is in
# place: a Deployment's or a route's spec, a Service's annotations, a node group's scaling, a chart's
# values, an inline policy's document.
ROUTINE: dict[tuple[str, str], tuple[Change, frozenset[str], frozenset[str]]] = {
    ("dev", "traffic weights"): (
        _weights,
        frozenset(),
        frozenset({"kubernetes:gateway.networking.k8s.io/v1:HTTPRoute::eksc1-httproute-colorapp"}),
    ),
    ("appmesh", "traffic weights"): (
        _weights,
        frozenset(),
        frozenset({"kubernetes:appmesh.k8s.aws/v1beta2:VirtualRouter::eksc2-virtualrouter-colorapp-router"}),
    ),
    ("dev", "replica counts"): (_replicas, PDBS, frozenset({FRONT, BLUE})),
    ("appmesh", "replica counts"): (_replicas, PDBS, frozenset({FRONT, BLUE})),
    ("dev", "node counts"): (_nodes, frozenset(), frozenset({"eks:index:ManagedNodeGroup::eksc1-nodes"})),
    ("appmesh", "node counts"): (_nodes, frozenset(), frozenset({"eks:index:ManagedNodeGroup::eksc1-nodes"})),
    ("dev", "route timeout"): (_timeout, frozenset(), frozenset({FRONT, FRONT_SERVICE})),
    ("appmesh", "route timeout"): (
        _timeout,
        frozenset(),
        frozenset(
            {
                FRONT,
                FRONT_SERVICE,
                "kubernetes:appmesh.k8s.aws/v1beta2:VirtualNode::eksc1-virtualnode-front",
                "kubernetes:appmesh.k8s.aws/v1beta2:VirtualNode::eksc2-virtualnode-colorapp-blue",
                "kubernetes:appmesh.k8s.aws/v1beta2:VirtualNode::eksc2-virtualnode-colorapp-red",
                "kubernetes:appmesh.k8s.aws/v1beta2:VirtualRouter::eksc2-virtualrouter-colorapp-router",
            }
        ),
    ),
}


@pytest.mark.parametrize(("env", "change"), list(ROUTINE), ids=[f"{e}: {c}" for e, c in ROUTINE])
def test_a_routine_change_touches_only_what_it_is_about(env: str, change: str) -> None:
    apply, created, updated = ROUTINE[(env, change)]
    found = diff(record_env(env), record_document(variant(env, apply), env))
    assert found.deleted == frozenset()
    assert found.created == created
    assert found.updated == updated


TRACING_UPDATES = {
    "dev": frozenset({FRONT, BLUE, RED}),
    # App Mesh: the Envoy sidecars trace too (the controller's chart values), and the apps' roles may
    # write to X-Ray.
    "appmesh": frozenset({FRONT, BLUE, RED}) | CONTROLLER_RELEASES | APP_ROLE_POLICIES,
}


@pytest.mark.parametrize("env", ["dev", "appmesh"])
def test_tracing_on_and_off_adds_and_removes_the_collectors_only(env: str) -> None:
    off, on = record_env(env), record_document(variant(env, _tracing), env)
    collectors = {
        _key(r.urn)
        for r in on
        if r.type == "crossmesh:infra:TraceCollector"
        or any(a.type == "crossmesh:infra:TraceCollector" for a in on.ancestors(r))
    }
    assert {"crossmesh:infra:TraceCollector::eksc1-trace-collector"} <= collectors
    switched_on, switched_off = diff(off, on), diff(on, off)
    assert switched_on == Diff(frozenset(collectors), frozenset(), TRACING_UPDATES[env])
    assert switched_off == Diff(frozenset(), frozenset(collectors), TRACING_UPDATES[env])
