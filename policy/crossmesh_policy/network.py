"""Network exposure: what the internet may reach, and what one cluster may reach in another."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .eks import ingress_rules
from .graph import Graph
from .model import Level, Resource, Rule, Settings
from .props import as_int, get, maps, strings, world_cidrs
from .types import (
    CLUSTERS,
    INGRESS_RULE,
    K8S_SERVICE,
    SECURITY_GROUP_RULE,
    SECURITY_GROUPS,
)

# The public entry point is front's load balancer listener: plain HTTP or HTTPS, nothing else.
PUBLIC_LISTENER_PORTS = frozenset({80, 443})


def _world_sources(rule: Mapping[str, Any]) -> list[str]:
    sources = [
        *strings(rule.get("cidrIpv4")),
        *strings(rule.get("cidrIpv6")),
        *strings(rule.get("cidrBlocks")),
        *strings(rule.get("ipv6CidrBlocks")),
    ]
    return world_cidrs(sources)


def no_world_ingress(resource: Resource, _settings: Settings) -> Iterator[str]:
    if resource.type == K8S_SERVICE:
        yield from _load_balancer_exposure(resource.props)
        return
    for rule in ingress_rules(resource):
        world = _world_sources(rule)
        if world:
            ports = f"{rule.get('fromPort')}-{rule.get('toPort')}"
            protocol = rule.get("ipProtocol", rule.get("protocol"))
            yield f"security group ingress from {', '.join(world)} (protocol {protocol}, ports {ports})"


def _load_balancer_exposure(props: Mapping[str, Any]) -> Iterator[str]:
    if get(props, "spec", "type") != "LoadBalancer":
        return
    # No source ranges means the cloud provider opens the load balancer to the world.
    ranges = strings(get(props, "spec", "loadBalancerSourceRanges")) or ["0.0.0.0/0"]
    if not world_cidrs(ranges):
        return
    ports = [as_int(p.get("port")) for p in maps(get(props, "spec", "ports"))]
    other = sorted(str(p) for p in ports if p not in PUBLIC_LISTENER_PORTS)
    if other:
        listed = ", ".join(other)
        yield f"a load balancer open to the internet listens on port(s) {listed}; only 80/443 may be public"


NO_WORLD_INGRESS = Rule(
    id="network-no-world-ingress",
    cis=None,
    level=Level.MANDATORY,
    title="Nothing accepts traffic from 0.0.0.0/0 or ::/0 except the public load balancer's HTTP(S) "
    "listener.",
    remediation="reference a security group or a specific CIDR instead of the whole internet; expose apps "
    "only through a LoadBalancer Service on port 80/443",
    types=frozenset({INGRESS_RULE, SECURITY_GROUP_RULE, *SECURITY_GROUPS, K8S_SERVICE}),
    resource_check=no_world_ingress,
)


def _cluster_of(graph: Graph, rule: Resource, prop: str) -> Resource | None:
    found = graph.sources(rule, prop, *CLUSTERS)
    return found[0] if found else None


def cross_cluster_app_port(
    resources: Sequence[Resource], settings: Settings
) -> Iterator[tuple[Resource, str]]:
    graph = Graph(resources)
    for rule in graph.of_type(INGRESS_RULE, SECURITY_GROUP_RULE):
        if rule.type == SECURITY_GROUP_RULE and rule.props.get("type") != "ingress":
            continue
        source_prop = "referencedSecurityGroupId" if rule.type == INGRESS_RULE else "sourceSecurityGroupId"
        target = _cluster_of(graph, rule, "securityGroupId")
        if target is None or not rule.props.get(source_prop):
            # Not a rule between security groups on a cluster's nodes: other rules govern it.
            continue
        source = _cluster_of(graph, rule, source_prop)
        if source is None:
            yield (
                rule,
                f"admits a security group that is not another cluster's nodes into {target.name}'s nodes",
            )
            continue
        if source.urn == target.urn:
            yield rule, f"opens {target.name}'s nodes to themselves; the cluster security group already does"
            continue
        protocol = str(rule.props.get("ipProtocol", rule.props.get("protocol", "")))
        low, high = as_int(rule.props.get("fromPort")), as_int(rule.props.get("toPort"))
        if protocol not in ("tcp", "6") or low != settings.app_port or high != settings.app_port:
            yield (
                rule,
                (
                    f"{source.name} -> {target.name} allows protocol {protocol} ports {low}-{high}; "
                    f"only TCP {settings.app_port} (the app port) may cross"
                ),
            )


CROSS_CLUSTER_APP_PORT = Rule(
    id="network-cross-cluster-app-port",
    cis=None,
    level=Level.MANDATORY,
    title="Between clusters only the app port is open: TCP <app port> from one cluster's node security "
    "group to another's, nothing wider.",
    remediation="derive rules from infra/cross_cluster.py cross_cluster_rules (one rule per caller/callee "
    "pair, TCP on crossmesh:workloads.port)",
    types=frozenset({INGRESS_RULE, SECURITY_GROUP_RULE}),
    stack_check=cross_cluster_app_port,
    settings=frozenset({"app_port"}),
)

RULES = (NO_WORLD_INGRESS, CROSS_CLUSTER_APP_PORT)
