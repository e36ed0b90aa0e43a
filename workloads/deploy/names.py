"""The apps' Kubernetes names, from the builders that make them, for the configuration's name checks.

:mod:`infra.config_limits` knows every name's rule and checks them, but sits below this room, so the
apps' names are handed to it from here (``backend_for(config, app_names=app_names(config))`` in
``automation/environment.py`` and ``__main__.py``) instead of being imported by it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from infra.config import StackConfig, Tracing
from infra.config_limits import (
    ComposedName,
    Part,
    app_label_values,
    app_parts,
    colorapp_parts,
    config_key,
    kubernetes_name,
    who,
)
from infra.data import as_mapping, mapping_or_empty
from infra.topology import Topology, topology_of
from workloads.deploy import manifests

# The trace collector's names: the same in every cluster and fixed by the program (collector.py, which
# loads the Pulumi SDKs, so its network policies' names are repeated here; the recording test in
# tests/infra/test_config_limits.py keeps them equal).
COLLECTOR_NETWORK_POLICIES = (
    "otlp-to-the-collector",
    f"{manifests.COLLECTOR_NAME}-from-the-namespace",
    f"{manifests.COLLECTOR_NAME}-to-aws-apis",
)
COLLECTOR_PURPOSE = "the trace collector (mesh.tracing)"


def _policy_parts(
    config: StackConfig, topology: Topology, policy: Mapping[str, Any]
) -> tuple[tuple[Part, ...], str]:
    """(parts, purpose) of a network policy: its name is fed by the app it selects, if any."""
    selector = mapping_or_empty(mapping_or_empty(policy.get("spec")).get("podSelector"))
    selected = as_mapping(selector.get("matchLabels")) or {}
    if selected.get("app") == topology.front.name:
        return app_parts(config, topology.front), "front's network policy"
    if selected.get("app") == topology.service:
        return colorapp_parts(config), "colorapp's network policy"
    return (), "the apps' default network policies"


def app_names(config: StackConfig) -> Iterator[ComposedName]:
    """The apps' Kubernetes objects, from the builders that make them, once each whatever the clusters
    they are in: names are compared across clusters, since App Mesh names virtual nodes per mesh and
    Lattice exports and imports Services by name, so two apps of one namespace may not share a name
    even in two clusters."""
    topology = topology_of(config)
    ns = topology.namespace
    yield kubernetes_name(
        manifests.namespace(ns, {}), ((config_key("workloads.namespace"), ns),), "the apps' namespace"
    )
    for app in topology.apps:
        parts = app_parts(config, app)
        pods = f"{who(app)}'s pods"
        deployment = manifests.deployment(app, topology, image="", env=())
        yield kubernetes_name(deployment, parts, pods)
        yield kubernetes_name(manifests.service_account(app, topology, None), parts, pods)
        budget = manifests.pod_disruption_budget(app, topology)
        if budget is not None:
            yield kubernetes_name(budget, parts, pods)
        yield from app_label_values(config, app, manifests.object_labels(app))
    front_service = manifests.front_service(topology, source_ranges=(), tags={})
    yield kubernetes_name(front_service, app_parts(config, topology.front), "front's load balancer")
    yield kubernetes_name(
        manifests.colorapp_service(topology), colorapp_parts(config), "the colorapp Service"
    )
    for cluster in topology.clusters:
        for policy in manifests.network_policies(topology, cluster, mesh_cidrs=()):
            yield kubernetes_name(policy, *_policy_parts(config, topology, policy))
    if config.mesh.tracing is Tracing.XRAY:
        for kind in ("Deployment", "ServiceAccount", "ConfigMap", "Service"):
            collector = {"kind": kind, "metadata": {"name": manifests.COLLECTOR_NAME, "namespace": ns}}
            yield kubernetes_name(collector, (), COLLECTOR_PURPOSE)
        for name in COLLECTOR_NETWORK_POLICIES:
            policy = {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}}
            yield kubernetes_name(policy, (), COLLECTOR_PURPOSE)


__all__ = ["COLLECTOR_NETWORK_POLICIES", "COLLECTOR_PURPOSE", "app_names"]
