"""The deeper Lattice checks: listener-rule weights (and what each test runs against says its docstring).

moto 5.2.5 creates services, listeners, rules and target groups but answers neither ListRules nor
GetRule, so those two go to a botocore Stubber while everything else is moto's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from automation.shift.observe import SERVICE_NAME_TAG, LatticeWeights
from automation.verify.backends.lattice import (
    lattice_checks,
    probe_auth_policies,
    probe_dns,
    probe_rule_weights,
    probe_targets,
)
from automation.verify.poll import PollSettings

REGION = "us-east-1"
NETWORK = "crossmesh-dev"
HOST = "colorapp.appmesh-demo.pvt.aws.local"


class _Split:
    """moto's client for every call except the ones moto lacks, which the Stubber's client answers."""

    def __init__(self, moto: Any, stubbed: Any, stubbed_calls: set[str]) -> None:
        self._moto = moto
        self._stubbed = stubbed
        self._calls = stubbed_calls
        self.groups: dict[str, str] = {}
        """target group id -> color, as created in moto."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stubbed if name in self._calls else self._moto, name)


@pytest.fixture
def moto_lattice() -> Iterator[Any]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("vpc-lattice", region_name=REGION)  # pyright: ignore[reportUnknownMemberType]


def _stubbed() -> tuple[Any, Stubber]:
    client: Any = boto3.client(  # pyright: ignore[reportUnknownMemberType]
        "vpc-lattice", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def _route(moto: Any, weights: dict[str, int]) -> tuple[Any, Stubber]:
    """Builds the service, listener, target groups (tagged like the controller) and rule in moto, and
    stubs ListRules/GetRule to answer with that rule and these weights."""
    service = moto.create_service(name="colorapp-dev", customDomainName=HOST)
    listener = moto.create_listener(
        serviceIdentifier=service["id"],
        name="colorapp-8080",
        protocol="HTTP",
        port=8080,
        defaultAction={"fixedResponse": {"statusCode": 404}},
    )
    groups: list[dict[str, Any]] = []
    for color, weight in weights.items():
        group = moto.create_target_group(
            name=f"k8s-colorapp-{color}",
            type="IP",
            config={"port": 8080, "protocol": "HTTP", "vpcIdentifier": "vpc-0123456789abcdef0"},
            tags={SERVICE_NAME_TAG: f"colorapp-{color}"},
        )
        groups.append({"targetGroupIdentifier": group["id"], "weight": weight})
    rule = moto.create_rule(
        serviceIdentifier=service["id"],
        listenerIdentifier=listener["id"],
        name="colorapp-route",
        priority=1,
        match={"httpMatch": {"pathMatch": {"match": {"prefix": "/"}}}},
        action={"forward": {"targetGroups": groups}},
    )
    client, stub = _stubbed()
    ids = {"serviceIdentifier": service["id"], "listenerIdentifier": listener["id"]}
    stub.add_response(
        "list_rules",
        {"items": [{"id": "rule-default0000000", "isDefault": True}, {"id": rule["id"], "isDefault": False}]},
        ids,
    )
    stub.add_response(
        "get_rule",
        {"id": rule["id"], "action": {"forward": {"targetGroups": groups}}},
        {**ids, "ruleIdentifier": rule["id"]},
    )
    split = _Split(moto, client, {"list_rules", "get_rule", "list_targets"})
    split.groups = {str(g["targetGroupIdentifier"]): color for g, color in zip(groups, weights, strict=True)}
    return split, stub


def test_rule_weights_equal_to_the_configuration_pass(moto_lattice: Any) -> None:
    """moto (service, listener, CreateRule, target groups, tags) + Stubber (ListRules, GetRule)."""
    client, stub = _route(moto_lattice, {"blue": 50, "red": 50})
    with stub:
        probe = probe_rule_weights(LatticeWeights(client, HOST, "colorapp-"), {"blue": 1, "red": 1})
    assert probe.ok, probe.detail
    assert probe.detail == "listener rule weights blue=50, red=50 match the configuration"
    stub.assert_no_pending_responses()


def test_rule_weights_other_than_configured_fail_with_both(moto_lattice: Any) -> None:
    """moto (service, listener, CreateRule, target groups, tags) + Stubber (ListRules, GetRule)."""
    client, stub = _route(moto_lattice, {"blue": 90, "red": 10})
    with stub:
        probe = probe_rule_weights(LatticeWeights(client, HOST, "colorapp-"), {"blue": 50, "red": 50})
    assert not probe.ok
    assert probe.detail == "listener rule weights are blue=90, red=10, configured blue=50, red=50"


def test_no_service_for_the_host_fails(moto_lattice: Any) -> None:
    """moto only: ListServices answers, with no service for the host."""
    probe = probe_rule_weights(LatticeWeights(moto_lattice, HOST, "colorapp-"), {"blue": 50, "red": 50})
    assert not probe.ok
    assert probe.detail == f"no listener rule of the Lattice service for {HOST} forwards anywhere"


def test_access_denied_on_get_rule_is_not_retried() -> None:
    """Stubber only: ListServices/ListListeners/ListRules answer, GetRule is denied."""
    client, stub = _stubbed()
    stub.add_response("list_services", {"items": [{"id": "svc-0123456789abcdef0", "customDomainName": HOST}]})
    stub.add_response("list_listeners", {"items": [{"id": "listener-0123456789abcdef0"}]})
    stub.add_response("list_rules", {"items": [{"id": "rule-0123456789abcdef0", "isDefault": False}]})
    stub.add_client_error("get_rule", "AccessDeniedException", "not allowed", 403)
    with stub:
        probe = probe_rule_weights(LatticeWeights(client, HOST, "colorapp-"), {"blue": 50, "red": 50})
    assert not probe.ok
    assert probe.terminal
    assert "AccessDeniedException" in probe.detail


def test_the_weights_check_runs_with_the_plan_weights(moto_lattice: Any) -> None:
    """moto (network, service, rule) + Stubber (ListRules, GetRule): the polled check is named and passes."""
    moto_lattice.create_service_network(name=NETWORK)
    client, stub = _route(moto_lattice, {"blue": 75, "red": 25})
    settings = PollSettings.starting_now(0, clock=lambda: 0.0, sleep=lambda _s: None)
    with stub:
        results = lattice_checks(
            client=client,
            network=NETWORK,
            host=HOST,
            settings=settings,
            weights={"blue": 75, "red": 25},
            service="colorapp",
        )
    by_name = {r.name: r for r in results}
    assert by_name[f"lattice rule weights {HOST}"].ok, by_name[f"lattice rule weights {HOST}"].detail


FRONT_ROLE = "crossmesh-dev-c1-front"
FRONT_ARN = f"arn:aws:iam::123456789012:role/{FRONT_ROLE}"


def _policy(*principals: object) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": p, "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}
                for p in principals
            ],
        }
    )


def _secured(
    moto: Any, *, network_policy: str | None, service_policy: str | None, auth: str = "AWS_IAM"
) -> None:
    network = moto.create_service_network(name=NETWORK, authType=auth)
    service = moto.create_service(name="colorapp-dev", customDomainName=HOST, authType=auth)
    if network_policy is not None:
        moto.put_auth_policy(resourceIdentifier=network["id"], policy=network_policy)
    if service_policy is not None:
        moto.put_auth_policy(resourceIdentifier=service["id"], policy=service_policy)


def test_auth_policies_naming_only_front_pass(moto_lattice: Any) -> None:
    """moto only: CreateServiceNetwork/CreateService with AWS_IAM, PutAuthPolicy, GetAuthPolicy."""
    only_front = _policy({"AWS": [FRONT_ARN]})
    _secured(moto_lattice, network_policy=only_front, service_policy=only_front)
    probe = probe_auth_policies(moto_lattice, network=NETWORK, host=HOST, invoker_role=FRONT_ROLE)
    assert probe.ok, probe.detail


@pytest.mark.parametrize(
    ("service_principal", "reported"),
    [
        ("*", "['*']"),
        ({"AWS": "*"}, "['*']"),
        ({"AWS": [FRONT_ARN, "arn:aws:iam::123456789012:role/intruder"]}, "intruder"),
    ],
)
def test_a_service_policy_letting_others_in_fails(
    moto_lattice: Any, service_principal: object, reported: str
) -> None:
    """moto only: the network's policy is right, the service's names someone besides front."""
    _secured(
        moto_lattice, network_policy=_policy({"AWS": FRONT_ARN}), service_policy=_policy(service_principal)
    )
    probe = probe_auth_policies(moto_lattice, network=NETWORK, host=HOST, invoker_role=FRONT_ROLE)
    assert not probe.ok
    assert probe.detail.startswith("auth policy of Lattice service colorapp-dev must allow only role")
    assert reported in probe.detail


def test_missing_service_policy_fails(moto_lattice: Any) -> None:
    """moto only: GetAuthPolicy of a service without a policy."""
    _secured(moto_lattice, network_policy=_policy({"AWS": FRONT_ARN}), service_policy=None)
    probe = probe_auth_policies(moto_lattice, network=NETWORK, host=HOST, invoker_role=FRONT_ROLE)
    assert not probe.ok
    assert "Lattice service colorapp-dev" in probe.detail


def test_inactive_policy_on_a_network_without_iam_auth_fails(moto_lattice: Any) -> None:
    """moto only: authType NONE leaves the policy Inactive, as GetAuthPolicy's documentation says."""
    only_front = _policy({"AWS": FRONT_ARN})
    _secured(moto_lattice, network_policy=only_front, service_policy=only_front, auth="NONE")
    probe = probe_auth_policies(moto_lattice, network=NETWORK, host=HOST, invoker_role=FRONT_ROLE)
    assert not probe.ok
    assert probe.detail == f"auth policy of service network {NETWORK} is Inactive (authType is not AWS_IAM?)"


ZONE = "appmesh-demo.pvt.aws.local"
ASSIGNED = "colorapp-dev-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-east-1.on.aws"


def _lattice_with_assigned_domain() -> tuple[Any, Stubber]:
    """Stubber for ListServices: moto 5.2.5 copies the custom domain into dnsEntry, where AWS puts the
    domain it assigned, which is what the CNAME must name."""
    client, stub = _stubbed()
    stub.add_response(
        "list_services",
        {
            "items": [
                {
                    "id": "svc-0123456789abcdef0",
                    "name": "colorapp-dev",
                    "customDomainName": HOST,
                    "dnsEntry": {"domainName": ASSIGNED, "hostedZoneId": "Z0123456789ABCDEFGHIJ"},
                    "status": "ACTIVE",
                }
            ]
        },
    )
    return client, stub


def _zone(*, private: bool = True, target: str | None = ASSIGNED) -> Any:
    route53: Any = boto3.client("route53", region_name=REGION)  # pyright: ignore[reportUnknownMemberType]
    ec2: Any = boto3.client("ec2", region_name=REGION)  # pyright: ignore[reportUnknownMemberType]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    zone = route53.create_hosted_zone(
        Name=ZONE,
        CallerReference="crossmesh-test",
        HostedZoneConfig={"PrivateZone": private},
        **({"VPC": {"VPCRegion": REGION, "VPCId": vpc}} if private else {}),
    )["HostedZone"]["Id"]
    if target is not None:
        route53.change_resource_record_sets(
            HostedZoneId=zone,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": HOST,
                            "Type": "CNAME",
                            "TTL": 60,
                            "ResourceRecords": [{"Value": target}],
                        },
                    }
                ]
            },
        )
    return route53


def test_cname_to_the_assigned_domain_passes(moto_lattice: Any) -> None:
    """moto (Route 53 private zone, ChangeResourceRecordSets, ListResourceRecordSets) + Stubber (ListServices)."""
    route53 = _zone()
    client, stub = _lattice_with_assigned_domain()
    with stub:
        probe = probe_dns(client, route53, zone=ZONE, host=HOST)
    assert probe.ok, probe.detail
    assert probe.detail == f"{HOST} CNAME {ASSIGNED} in private zone {ZONE}"


def test_cname_to_another_name_fails(moto_lattice: Any) -> None:
    """moto (Route 53) + Stubber (ListServices): the record points at a stale name."""
    route53 = _zone(target="old.example.internal")
    client, stub = _lattice_with_assigned_domain()
    with stub:
        probe = probe_dns(client, route53, zone=ZONE, host=HOST)
    assert not probe.ok
    assert probe.detail == f"{HOST} CNAME points at ['old.example.internal'], Lattice assigned {ASSIGNED}"


@pytest.mark.parametrize(
    ("private", "target", "detail"),
    [
        (True, None, f"no CNAME {HOST} in private zone {ZONE}"),
        (False, ASSIGNED, f"no private hosted zone {ZONE}"),
    ],
)
def test_missing_record_or_public_zone_fails(
    moto_lattice: Any, private: bool, target: str | None, detail: str
) -> None:
    """moto (Route 53) + Stubber (ListServices): no record, or the record only in a public zone."""
    route53 = _zone(private=private, target=target)
    client, stub = _lattice_with_assigned_domain()
    with stub:
        probe = probe_dns(client, route53, zone=ZONE, host=HOST)
    assert not probe.ok
    assert probe.detail == detail


def _with_targets(stub: Stubber, split: Any, statuses: dict[str, list[str]]) -> None:
    """Queues ListTargets answers (moto 5.2.5 has no ListTargets) in the order the probe asks."""
    for group, color in sorted(split.groups.items()):
        stub.add_response(
            "list_targets",
            {
                "items": [
                    {"id": f"10.0.{n}.1", "port": 8080, "status": status}
                    | ({"reasonCode": "HealthCheckFailed"} if status == "UNHEALTHY" else {})
                    for n, status in enumerate(statuses[color])
                ]
            },
            {"targetGroupIdentifier": group},
        )


def test_all_targets_healthy_and_as_many_as_replicas_pass(moto_lattice: Any) -> None:
    """moto (service, listener, CreateRule, target groups, tags) + Stubber (ListRules, GetRule, ListTargets)."""
    split, stub = _route(moto_lattice, {"blue": 50, "red": 50})
    _with_targets(stub, split, {"blue": ["HEALTHY", "HEALTHY"], "red": ["HEALTHY", "HEALTHY"]})
    with stub:
        probe = probe_targets(
            split, LatticeWeights(split, HOST, "colorapp-"), {"blue": 50, "red": 50}, {"blue": 2, "red": 2}
        )
    assert probe.ok, probe.detail
    assert probe.detail == "HEALTHY targets blue=2, red=2"
    stub.assert_no_pending_responses()


def test_an_unhealthy_target_fails_with_its_reason(moto_lattice: Any) -> None:
    """moto (service, listener, CreateRule, target groups, tags) + Stubber (ListRules, GetRule, ListTargets)."""
    split, stub = _route(moto_lattice, {"blue": 50, "red": 50})
    _with_targets(stub, split, {"blue": ["HEALTHY", "HEALTHY"], "red": ["HEALTHY", "UNHEALTHY"]})
    with stub:
        probe = probe_targets(
            split, LatticeWeights(split, HOST, "colorapp-"), {"blue": 50, "red": 50}, {"blue": 2, "red": 2}
        )
    assert not probe.ok
    assert probe.detail == "targets not HEALTHY: red 10.0.1.1 UNHEALTHY HealthCheckFailed"


def test_fewer_healthy_targets_than_replicas_fail(moto_lattice: Any) -> None:
    """moto (service, listener, CreateRule, target groups, tags) + Stubber (ListRules, GetRule, ListTargets)."""
    split, stub = _route(moto_lattice, {"blue": 50, "red": 50})
    _with_targets(stub, split, {"blue": ["HEALTHY", "HEALTHY"], "red": ["HEALTHY"]})
    with stub:
        probe = probe_targets(
            split, LatticeWeights(split, HOST, "colorapp-"), {"blue": 50, "red": 50}, {"blue": 2, "red": 2}
        )
    assert not probe.ok
    assert probe.detail == "fewer HEALTHY targets than replicas: red 1/2"
