"""CloudMapNamespace: the private DNS namespace pods are registered in, visible to the whole VPC."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.naming import TYPE_PREFIX, child


@dataclass(frozen=True)
class CloudMapNamespaceArgs:
    name: str
    """DNS name of the namespace, e.g. ``appmesh-demo.pvt.aws.local``."""
    vpc_id: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


class CloudMapNamespace(pulumi.ComponentResource):
    """Created on the shared VPC, so a name registered from one cluster resolves in the other.

    The App Mesh controller registers pods here but never creates namespaces: this must exist first.
    """

    name: str
    id: pulumi.Output[str]
    arn: pulumi.Output[str]
    hosted_zone_id: pulumi.Output[str]
    namespace: aws.servicediscovery.PrivateDnsNamespace

    def __init__(
        self, name: str, args: CloudMapNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:CloudMapNamespace", name, None, opts)
        self.name = args.name
        self.namespace = aws.servicediscovery.PrivateDnsNamespace(
            child(name, "namespace"),
            name=args.name,
            vpc=args.vpc_id,
            description="Service discovery for crossmesh workloads across clusters",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.id = self.namespace.id
        self.arn = self.namespace.arn
        self.hosted_zone_id = self.namespace.hosted_zone
        self.register_outputs({"id": self.id, "arn": self.arn, "hostedZoneId": self.hosted_zone_id})
