"""AppNamespace: the apps' namespace in one cluster, labelled as the mesh backend asks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra import kube
from infra.naming import TYPE_PREFIX, child
from workloads.deploy import manifests


@dataclass(frozen=True)
class AppNamespaceArgs:
    name: str
    provider: k8s.Provider
    labels: Mapping[str, str]
    """Mesh membership, sidecar injection and Pod Security labels, from the backend."""
    after: Sequence[pulumi.Resource] = field(default_factory=tuple[pulumi.Resource, ...])
    """The mesh controller: created before the namespace, so on destroy the namespace (and the mesh
    objects in it, whose finalizers the controller must clear) goes before the controller does."""


class AppNamespace(pulumi.ComponentResource):
    namespace: pulumi.CustomResource

    def __init__(self, name: str, args: AppNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:AppNamespace", name, None, opts)
        self.namespace = kube.apply(
            child(name, "namespace"),
            manifests.namespace(args.name, args.labels),
            pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after)),
        )
        self.register_outputs({"name": args.name})
