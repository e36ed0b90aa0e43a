"""Settings a deployed stack cannot change in place, compared with what its state says it was built with.

Pulumi replaces a resource when an input its provider marks force-new changes, and by default it
creates the replacement before it deletes the original. For the settings below the replacement
collides with the original it is meant to replace, so the second ``pulumi up`` would stop half-applied
after other resources had already changed:

- ``crossmesh:network.serviceCidr``: EKS takes the Kubernetes service range at creation only ("You can't
  change this value after the cluster is created", botocore's EKS model,
  KubernetesNetworkConfigRequest.serviceIpv4Cidr; force-new in terraform-provider-aws
  internal/service/eks/cluster.go, ``kubernetes_network_config.service_ipv4_cidr``). The replacement
  cluster keeps its name, ``<cluster>-<stack>``, which must be unique in the account and region while
  the original still exists.

``deploy`` and ``preview`` refuse such a change before Pulumi runs (automation.preflight); the way to
another value is a new stack beside this one (docs/migration.md). The state is read as Pulumi exports it
(``pulumi stack export``: each resource's ``type``, ``urn``, ``inputs`` and ``outputs``, with the
provider's property names).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from infra.config import StackConfig
from infra.config_parse import Problem
from infra.data import as_mapping

EKS_CLUSTER = "aws:eks/cluster:Cluster"
"""The cluster pulumi-eks creates inside ``eks:index:Cluster``."""


def _of_type(state: Sequence[Mapping[str, Any]], type_: str) -> Iterator[Mapping[str, Any]]:
    for resource in state:
        if resource.get("type") == type_:
            yield resource


def _field(resource: Mapping[str, Any], *path: str) -> str | None:
    """A string at ``path`` in the resource's outputs (what AWS reports), else in its inputs."""
    for side in ("outputs", "inputs"):
        value: object = resource.get(side)
        for key in path:
            mapping = as_mapping(value)
            value = mapping.get(key) if mapping is not None else None
        if isinstance(value, str) and value:
            return value
    return None


def deployed_service_cidrs(state: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """EKS cluster name -> the Kubernetes service range it was created with."""
    found: dict[str, str] = {}
    for cluster in _of_type(state, EKS_CLUSTER):
        name = _field(cluster, "name")
        cidr = _field(cluster, "kubernetesNetworkConfig", "serviceIpv4Cidr")
        if name and cidr:
            found[name] = cidr
    return found


def fixed_setting_problems(config: StackConfig, state: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Every fixed setting the configuration changes, as the key, the configured value and the deployed
    one; empty for a stack with no state yet, or one that keeps them."""
    problems: list[Problem] = []
    service_cidrs = deployed_service_cidrs(state)
    configured = config.network.service_cidr
    kept = sorted(
        {
            cidr
            for cluster in config.clusters
            if (cidr := service_cidrs.get(config.eks_name(cluster.name))) is not None
        }
    )
    if kept and kept != [configured]:
        names = ", ".join(
            config.eks_name(c.name) for c in config.clusters if config.eks_name(c.name) in service_cidrs
        )
        problems.append(
            Problem(
                "crossmesh:network.serviceCidr",
                configured,
                f"expected {' or '.join(kept)}, the range the deployed clusters ({names}) were created "
                "with: EKS fixes it at creation, so Pulumi would create a replacement cluster under the "
                "same name, which EKS refuses while the original exists",
            )
        )
    return problems
