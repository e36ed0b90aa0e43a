"""Apply a manifest (a plain dict from a pure builder) as the matching pulumi-kubernetes resource."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

Manifest = Mapping[str, Any]

_TYPED: dict[tuple[str, str], Callable[..., pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
}


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def apply(name: str, manifest: Manifest, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Register ``manifest`` under the logical ``name``; custom resources go through CustomResource.

    The resource's inputs are the manifest's fields, so what the recorder sees is what the API server
    will receive.
    """
    api_version, kind = str(manifest["apiVersion"]), str(manifest["kind"])
    fields = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    typed = _TYPED.get((api_version, kind))
    if typed is not None:
        return typed(name, opts=opts, **{_snake(k): v for k, v in fields.items()})
    return k8s.apiextensions.CustomResource(name, api_version=api_version, kind=kind, opts=opts, **fields)


def output_of(resource: pulumi.Resource, field: str) -> pulumi.Output[Any]:
    """A top-level field of an applied object (``metadata``, ``status``) as the cluster returns it.

    CustomResource has no typed outputs: its fields are set on the instance at registration.
    """
    return pulumi.Output.from_input(vars(resource)[field])


@dataclass(frozen=True)
class ClusterApplier:
    """Applies mesh objects across clusters: each with its own cluster's provider, after what that
    cluster's objects must wait for, named ``<cluster>-<kind>-<name>`` (stable, never an index)."""

    parent: pulumi.Resource
    providers: Mapping[str, k8s.Provider]
    prerequisites: Mapping[str, Sequence[pulumi.Resource]]
    timeout: str = "10m"
    """Controllers reconcile asynchronously; objects that wait for their status get this long."""

    def __call__(
        self, cluster: str, manifest: Manifest, after: Sequence[pulumi.Resource] = ()
    ) -> pulumi.CustomResource:
        key = f"{cluster}-{str(manifest['kind']).lower()}-{manifest['metadata']['name']}"
        return apply(
            key,
            manifest,
            pulumi.ResourceOptions(
                parent=self.parent,
                provider=self.providers[cluster],
                depends_on=[*self.prerequisites.get(cluster, ()), *after],
                custom_timeouts=pulumi.CustomTimeouts(create=self.timeout, update=self.timeout),
            ),
        )
