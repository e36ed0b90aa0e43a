"""NetworkPolicy pieces every namespace the program makes shares (pure dicts, no Pulumi SDK).

The apps' namespace, the trace collector and the mesh controllers' namespaces all deny by default, and
let pods out to the same two places: the cluster's DNS, and HTTPS to AWS and Kubernetes APIs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def tcp(port: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}


def match_labels(labels: Mapping[str, str]) -> dict[str, Any]:
    """A pod selector for ``labels``; every pod of the namespace when there are none."""
    return {"matchLabels": dict(labels)} if labels else {}


def dns_egress() -> dict[str, Any]:
    """An egress rule: name lookups through the cluster's CoreDNS (kube-system's kube-dns pods)."""
    return {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, tcp(53)],
    }


def https_egress() -> dict[str, Any]:
    """An egress rule: HTTPS to any address. AWS APIs sit behind the NAT gateway and the Kubernetes API
    behind the cluster's endpoint, at addresses no CIDR list can pin."""
    return {"ports": [tcp(443)]}
