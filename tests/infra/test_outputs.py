"""Component outputs, checked the Pulumi way: @pulumi.runtime.test awaits the returned Output."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from automation.cloud_mocks import CloudMocks
from infra.cloudmap import CloudMapNamespace, CloudMapNamespaceArgs
from infra.irsa import IrsaRole, IrsaRoleArgs
from infra.vpc import SharedVpc, SharedVpcArgs


@pytest.fixture(autouse=True)
def mocks() -> Iterator[None]:
    # Other tests may have closed the main thread's loop (asyncio.run does); Pulumi needs one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(CloudMocks(), project="crossmesh", stack="unit", preview=False)
    yield
    asyncio.set_event_loop(None)
    loop.close()


def _irsa() -> IrsaRole:
    return IrsaRole(
        "app",
        IrsaRoleArgs(
            role_name="crossmesh-unit-app",
            oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/oidc.example/id/X",
            oidc_issuer="https://oidc.example/id/X",
            namespace="apps",
            service_account="app",
            policy={"Version": "2012-10-17", "Statement": []},
        ),
    )


@pulumi.runtime.test
def test_irsa_role_output_is_the_role_arn_and_trust_is_pinned() -> pulumi.Output[Any]:
    role = _irsa()

    def check(values: list[Any]) -> None:
        arn, trust = values
        assert arn == "arn:aws:iam::123456789012:role/crossmesh-unit-app"
        condition = json.loads(trust)["Statement"][0]["Condition"]["StringEquals"]
        assert condition == {
            "oidc.example/id/X:sub": "system:serviceaccount:apps:app",
            "oidc.example/id/X:aud": "sts.amazonaws.com",
        }

    return pulumi.Output.all(role.arn, role.role.assume_role_policy).apply(check)


@pulumi.runtime.test
def test_vpc_subnet_outputs_follow_az_order() -> pulumi.Output[Any]:
    vpc = SharedVpc(
        "net",
        SharedVpcArgs(
            cidr="10.0.0.0/16",
            azs=["eu-west-1b", "eu-west-1a"],
            private_subnet_prefix=19,
            public_subnet_prefix=24,
            cluster_names=["c-unit"],
        ),
    )

    def check(values: list[Any]) -> None:
        private, public = values
        assert private == ["<net-private-eu-west-1b.id>", "<net-private-eu-west-1a.id>"]
        assert public == ["<net-public-eu-west-1b.id>", "<net-public-eu-west-1a.id>"]

    return pulumi.Output.all(vpc.private_subnet_ids, vpc.public_subnet_ids).apply(check)


@pulumi.runtime.test
def test_cloud_map_namespace_outputs() -> pulumi.Output[Any]:
    namespace = CloudMapNamespace("disc", CloudMapNamespaceArgs(name="demo.pvt.aws.local", vpc_id="vpc-1"))

    def check(values: list[Any]) -> None:
        assert values == [
            "<disc-namespace.id>",
            "arn:aws:servicediscovery:us-east-1:123456789012:namespace/<disc-namespace.id>",
            "<disc-namespace.hostedZone>",
        ]

    return pulumi.Output.all(namespace.id, namespace.arn, namespace.hosted_zone_id).apply(check)


def test_a_failing_check_inside_the_output_fails_the_test() -> None:
    # Guards the harness itself: an assertion inside apply must surface, not vanish.
    @pulumi.runtime.test
    def wrong() -> pulumi.Output[None]:
        def check(arn: str) -> None:
            assert arn == "not the arn"

        return _irsa().arn.apply(check)

    with pytest.raises(AssertionError):
        wrong()
