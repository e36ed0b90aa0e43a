"""What every mesh backend's controller is made of: a namespace, a NetworkPolicy, an IRSA role and a
Helm release. Backends differ only in the values they fill in."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from infra import kube, network_policy
from infra.irsa import IrsaRole, IrsaRoleArgs
from infra.naming import child

RELEASE_TIMEOUT_SECONDS = 600

Manifest = dict[str, Any]


def controller_namespace(name: str, *, enforce: Literal["baseline", "restricted"]) -> Manifest:
    """A controller's namespace: Pod Security enforced at ``enforce``, audited and warned at restricted."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "pod-security.kubernetes.io/enforce": enforce,
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        },
    }


def controller_network_policy(namespace: str, vpc_cidr: str) -> Manifest:
    """A controller's pods isolated both ways: ingress only from inside the VPC, egress only to DNS and
    HTTPS.

    The API server calls the controllers' webhooks (App Mesh's injector, Lattice's readiness gate)
    from control-plane interfaces in the VPC. The controllers themselves call the Kubernetes API and
    AWS APIs over HTTPS, at addresses no CIDR list can pin, and resolve names through CoreDNS; nothing
    else (the node's instance metadata, the apps) is theirs to reach.
    """
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "controller-vpc-ingress-https-egress", "namespace": namespace},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": vpc_cidr}}]}],
            "egress": [network_policy.dns_egress(), network_policy.https_egress()],
        },
    }


@dataclass(frozen=True)
class ControllerSpec:
    """What a backend's controller release is made of; the skeleton is the same for every backend."""

    namespace: str
    enforce: Literal["baseline", "restricted"]
    """Pod Security level the controller's namespace enforces (the chart's pods decide)."""
    service_account: str
    role_name: str
    policy: pulumi.Input[Mapping[str, Any]]
    release_name: str
    chart: str
    version: str
    values: Callable[[pulumi.Output[str]], pulumi.Input[Mapping[str, Any]]]
    """Helm values, given the controller role's ARN."""
    repository: str | None = None
    """Helm repository URL; None when ``chart`` is an OCI reference."""
    vpc_cidr: str | None = None
    """When set, the namespace admits ingress only from the VPC (the API server calls the controller's
    webhooks from control-plane network interfaces in the VPC), and lets its pods out only to DNS and
    HTTPS (controller_network_policy)."""
    before_release: Sequence[pulumi.Resource] = ()
    """What else the release waits for (e.g. CRDs the chart does not ship)."""


@dataclass(frozen=True)
class ControllerParts:
    namespace: pulumi.Resource
    role: IrsaRole
    release: k8s.helm.v3.Release


def install_controller(
    parent: pulumi.ComponentResource,
    name: str,
    spec: ControllerSpec,
    *,
    provider: k8s.Provider,
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    tags: Mapping[str, str],
) -> ControllerParts:
    """Namespace, NetworkPolicy, IRSA role and Helm release, as children of ``parent``.

    A function rather than a component of its own, so the resources keep the names (and URNs) they had
    when each backend wrote them out. The release waits for its role, whose ARN resolves only once the
    permissions are attached, so the controller never starts unable to do its job.
    """
    on_cluster = pulumi.ResourceOptions(parent=parent, provider=provider)
    namespace = kube.apply(
        child(name, "namespace"), controller_namespace(spec.namespace, enforce=spec.enforce), on_cluster
    )
    if spec.vpc_cidr:
        kube.apply(
            child(name, "netpol"),
            controller_network_policy(spec.namespace, spec.vpc_cidr),
            pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[namespace]),
        )
    role = IrsaRole(
        child(name, "irsa"),
        IrsaRoleArgs(
            role_name=spec.role_name,
            oidc_provider_arn=oidc_provider_arn,
            oidc_issuer=oidc_issuer,
            namespace=spec.namespace,
            service_account=spec.service_account,
            policy=spec.policy,
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    release = k8s.helm.v3.Release(
        child(name, "release"),
        name=spec.release_name,
        chart=spec.chart,
        version=spec.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=spec.repository) if spec.repository else None,
        namespace=spec.namespace,
        values=spec.values(role.arn),
        # CRDs in the chart's crds/ folder are installed with the release.
        skip_crds=False,
        # A failed install rolls back instead of leaving a half-configured controller.
        atomic=True,
        cleanup_on_fail=True,
        timeout=RELEASE_TIMEOUT_SECONDS,
        max_history=10,
        opts=pulumi.ResourceOptions(
            parent=parent, provider=provider, depends_on=[namespace, *spec.before_release, role]
        ),
    )
    return ControllerParts(namespace=namespace, role=role, release=release)
