"""What every mesh backend's controller namespace is made of."""

from __future__ import annotations

from typing import Any, Literal

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


def vpc_only_ingress(namespace: str, vpc_cidr: str) -> Manifest:
    """Ingress to a controller's namespace only from inside the VPC.

    The API server calls the controllers' webhooks (App Mesh's injector, Lattice's readiness gate)
    from control-plane interfaces in the VPC; egress (AWS and Kubernetes APIs) stays open.
    """
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "ingress-from-vpc-only", "namespace": namespace},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": vpc_cidr}}]}],
        },
    }
