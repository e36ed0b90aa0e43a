"""Physical names the program composes from the configuration, checked against their services' limits.

Each configured name is valid on its own (a DNS label), but the program joins several of them: the IAM
role of colorapp-blue in cluster eksc2 of stack dev is ``crossmesh-dev-eksc2-colorapp-blue``. This
module lists every such composed name with the limit of the service that will receive it and the
configuration key that feeds it, so a configuration that would overflow one is refused before
anything runs (``tests/infra/test_config_limits.py`` checks that every name of a render is listed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from infra.config import PROJECT, StackConfig
from infra.naming import compose, service_network_name

# Limits, each from its service's API reference:
# IAM CreateRole RoleName, 1-64: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
IAM_ROLE = 64
# EKS CreateCluster name, 1-100: https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html
EKS_CLUSTER = 100
# EKS CreateNodegroup nodegroupName, 1-63; a name prefix gets a 26-character unique suffix from the
# provider (the Terraform plugin SDK's prefixed unique id), so the prefix may use 37.
# https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateNodegroup.html
EKS_NODEGROUP_PREFIX = 63 - 26
# EC2 CreateLaunchTemplate LaunchTemplateName, 3-128:
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html
LAUNCH_TEMPLATE = 128
# VPC Lattice CreateServiceNetwork name, 3-63:
# https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_CreateServiceNetwork.html
LATTICE_SERVICE_NETWORK = 63
# Kubernetes object names used as Service names are RFC 1035 labels, at most 63 characters:
# https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#rfc-1035-label-names
KUBERNETES_LABEL = 63
# A DNS name, at most 253 characters (RFC 1035), e.g. the name front calls.
DNS_NAME = 253

STACK_KEY = "(stack name)"

# Roles each cluster gets, whatever the backend (the controller role of the configured backend is
# the longest, and both backends' suffixes have the same length).
CLUSTER_ROLE_SUFFIXES = ("nodes", "vpc-cni", "appmesh-controller", "lattice-controller")


@dataclass(frozen=True)
class ComposedName:
    name: str
    limit: int
    what: str
    """What receives the name, e.g. "IAM role name"."""
    key: str
    """The configuration key that feeds it, e.g. ``crossmesh:clusters[1].name``."""
    value: str
    """That key's value."""

    @property
    def too_long(self) -> bool:
        return len(self.name) > self.limit

    def message(self, stack: str) -> str:
        return (
            f"composes the {self.what} {self.name!r} ({len(self.name)} characters); the limit is "
            f"{self.limit}: expected a shorter value here or in the names joined with it "
            f"(the stack is {stack!r})"
        )


def composed_names(config: StackConfig) -> Iterator[ComposedName]:
    """Every physical name the program composes from more than one configured part."""
    stack = config.stack
    yield ComposedName(compose(stack, "vpc-flow-logs"), IAM_ROLE, "IAM role name", STACK_KEY, stack)
    cluster_index = {c.name: i for i, c in enumerate(config.clusters)}
    for index, cluster in enumerate(config.clusters):
        key = f"{PROJECT}:clusters[{index}].name"
        for suffix in CLUSTER_ROLE_SUFFIXES:
            yield ComposedName(
                compose(stack, cluster.name, suffix), IAM_ROLE, "IAM role name", key, cluster.name
            )
        eks = config.eks_name(cluster.name)
        yield ComposedName(eks, EKS_CLUSTER, "EKS cluster name", key, cluster.name)
        yield ComposedName(f"{eks}-", EKS_NODEGROUP_PREFIX, "node group name prefix", key, cluster.name)
        template = compose(stack, cluster.name, "nodes")
        yield ComposedName(template, LAUNCH_TEMPLATE, "launch template name", key, cluster.name)
    workloads = config.workloads
    front = workloads.front
    if front.cluster in cluster_index:
        key = f"{PROJECT}:workloads.front.name"
        yield ComposedName(
            compose(stack, front.cluster, front.name), IAM_ROLE, "IAM role name", key, front.name
        )
    colorapp = workloads.colorapp
    for index, version in enumerate(colorapp.versions):
        key = f"{PROJECT}:workloads.colorapp.versions[{index}].color"
        app = f"{colorapp.name}-{version.color}"
        yield ComposedName(
            compose(stack, version.cluster, app), IAM_ROLE, "IAM role name", key, version.color
        )
        yield ComposedName(app, KUBERNETES_LABEL, "Kubernetes Service name", key, version.color)
    network = config.mesh.lattice.service_network
    yield ComposedName(
        network or service_network_name(stack),
        LATTICE_SERVICE_NETWORK,
        "VPC Lattice service network name",
        f"{PROJECT}:mesh.lattice.serviceNetwork" if network else STACK_KEY,
        network or stack,
    )
    host = f"{colorapp.name}.{config.mesh.cloud_map_namespace}"
    yield ComposedName(
        host,
        DNS_NAME,
        "DNS name front calls",
        f"{PROJECT}:mesh.cloudMapNamespace",
        config.mesh.cloud_map_namespace,
    )


def name_problems(config: StackConfig) -> list[tuple[str, str, str]]:
    """(key, value, message) for each key that feeds a name over its limit: the longest such name."""
    worst: dict[str, ComposedName] = {}
    for composed in composed_names(config):
        if not composed.too_long:
            continue
        known = worst.get(composed.key)
        if known is None or len(composed.name) - composed.limit > len(known.name) - known.limit:
            worst[composed.key] = composed
    return [(c.key, c.value, c.message(config.stack)) for c in worst.values()]
