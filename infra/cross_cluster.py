"""CrossClusterAccess: the only doors between clusters, one ingress rule per caller/callee pair.

Which doors a mesh needs is its backend's decision (``MeshBackend.cross_cluster_rules``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.naming import TYPE_PREFIX, child


@dataclass(frozen=True, order=True)
class AccessRule:
    """Nodes of ``source`` may open TCP connections to ``port`` on nodes of ``target``."""

    source: str
    target: str
    port: int
    reason: str = field(compare=False)

    @property
    def key(self) -> str:
        return f"{self.source}-to-{self.target}-{self.port}"


@dataclass(frozen=True)
class CrossClusterAccessArgs:
    rules: Sequence[AccessRule]
    node_security_groups: Mapping[str, pulumi.Input[str]]
    """Node security group of each cluster, by cluster key."""
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


class CrossClusterAccess(pulumi.ComponentResource):
    """Security group ingress rules that reference the source cluster's group, never a CIDR."""

    def __init__(
        self, name: str, args: CrossClusterAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:CrossClusterAccess", name, None, opts)
        for rule in args.rules:
            aws.vpc.SecurityGroupIngressRule(
                child(name, rule.key),
                security_group_id=args.node_security_groups[rule.target],
                referenced_security_group_id=args.node_security_groups[rule.source],
                ip_protocol="tcp",
                from_port=rule.port,
                to_port=rule.port,
                description=f"{rule.source} nodes to {rule.target} nodes: {rule.reason}",
                tags={**args.tags, "Name": child(name, rule.key)},
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"rules": [r.key for r in args.rules]})
