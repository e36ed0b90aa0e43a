"""LatticeAuthPolicies: who may call through the service network, and into the colorapp service.

With the service network's authType AWS_IAM, VPC Lattice denies every request that no auth policy
allows, and answers unsigned or unauthorised callers 403 itself
(https://docs.aws.amazon.com/vpc-lattice/latest/ug/auth-policies.html). Two policies name the callers
(front's role) and nothing else: one on the service network (Pulumi owns it), one on the colorapp
Lattice service, which the controller makes from the HTTPRoute and so is reached through an
IAMAuthPolicy targeting that route. Both come after the callers' roles exist, since a policy naming a
role that does not exist yet is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra import kube
from infra.mesh.lattice import iam, objects
from infra.naming import TYPE_PREFIX, child
from infra.topology import Topology


@dataclass(frozen=True)
class LatticeAuthPoliciesArgs:
    topology: Topology
    service_network: pulumi.Input[str]
    """The service network's id (AuthPolicy takes its id or ARN)."""
    callers: Sequence[pulumi.Output[str]]
    """IAM role ARNs allowed to invoke (front's)."""
    source_vpc: pulumi.Input[str]
    """The VPC the callers call from (the shared VPC): the policies allow no other."""
    provider: k8s.Provider
    """Provider of the cluster that holds the HTTPRoute (front's)."""
    after: Sequence[pulumi.Resource]
    """The route and the controller it needs."""


class LatticeAuthPolicies(pulumi.ComponentResource):
    network_policy: aws.vpclattice.AuthPolicy
    service_policy: pulumi.CustomResource

    def __init__(
        self, name: str, args: LatticeAuthPoliciesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:LatticeAuthPolicies", name, None, opts)
        document = pulumi.Output.all(args.source_vpc, *args.callers).apply(
            lambda given: json.dumps(
                iam.invoke_auth_policy([str(a) for a in given[1:]], str(given[0])), sort_keys=True
            )
        )
        self.network_policy = aws.vpclattice.AuthPolicy(
            child(name, "service-network"),
            resource_identifier=args.service_network,
            policy=document,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.service_policy = kube.apply(
            child(name, "service"),
            objects.iam_auth_policy(args.topology, document),
            pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after)),
        )
        self.register_outputs({})


def caller_names(topology: Topology) -> Mapping[str, str]:
    """Which apps call through the mesh: front, by app name -> its role of ``callers``."""
    return {topology.front.name: topology.front.name}
