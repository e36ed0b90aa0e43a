"""The deeper Lattice checks: listener-rule weights, targets against Ready pods, auth policies, DNS and
the VPC association (what each test runs against says its docstring).

moto 5.2.5 creates services, listeners, rules, target groups and VPC associations but answers none of
ListRules, GetRule, ListTargets or GetServiceNetworkVpcAssociation, so those go to a botocore Stubber
while everything else is moto's.
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
from automation.verify.kube import ReadyPods, ready_pod_counter
from automation.verify.model import VersionPods
from automation.verify.poll import PollSettings
from tests.automation.verify.backends.lattice_stubs import REGION, Split, stubbed_lattice

NETWORK = "crossmesh-dev"
HOST = "colorapp.appmesh-demo.pvt.aws.local"


@pytest.fixture
def moto_lattice() -> Iterator[Any]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("vpc-lattice", region_name=REGION)  # pyright: ignore[reportUnknownMemberType]


def _route(
    moto: Any,
    weights: dict[str, int],
    *,
    attempts: int = 1,
    also_stubbed: tuple[str, ...] = (),
    auth: str = "NONE",
) -> tuple[_RouteClient, Stubber]:
    """Builds the service (of authType ``auth``), listener, target groups (tagged like the controller)
    and rule in moto, and stubs ListRules/GetRule to answer with that rule and these weights,
    ``attempts`` times."""
    service = moto.create_service(name="colorapp-dev", customDomainName=HOST, authType=auth)
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
    client, stub = stubbed_lattice()
    split = _RouteClient(moto, client, {"list_rules", "get_rule", "list_targets", *also_stubbed})
    split.groups = {str(g["targetGroupIdentifier"]): color for g, color in zip(groups, weights, strict=True)}
    split.ids = {"serviceIdentifier": service["id"], "listenerIdentifier": listener["id"]}
    split.rule = {"id": rule["id"], "action": {"forward": {"targetGroups": groups}}}
    for _ in range(attempts):
        _answer_rule(stub, split)
    return split, stub


class _RouteClient(Split):
    ids: dict[str, str]
    """ListRules' parameters: the service and listener moto made."""
    rule: dict[str, Any]
    """GetRule's answer: the rule moto made, forwarding to its target groups."""


def _answer_rule(stub: Stubber, split: _RouteClient) -> None:
    """Queues one ListRules and one GetRule answer (moto 5.2.5 has neither), as one weights read asks."""
    stub.add_response(
        "list_rules",
        {
            "items": [
                {"id": "rule-default0000000", "isDefault": True},
                {"id": split.rule["id"], "isDefault": False},
            ]
        },
        split.ids,
    )
    stub.add_response("get_rule", split.rule, {**split.ids, "ruleIdentifier": split.rule["id"]})


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
    client, stub = stubbed_lattice()
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


@pytest.mark.parametrize("written_for", ["vpc-0abc", "vpc-0other", None])
def test_auth_policies_must_keep_callers_to_the_stacks_vpc(
    moto_lattice: Any, written_for: str | None
) -> None:
    """moto only: the policies as the program writes them (infra/mesh/lattice/iam.py), for the stack's
    VPC, for another one, and as stacks deployed before the SourceVpc condition have them."""
    from infra.mesh.lattice.iam import invoke_auth_policy

    document = (
        json.dumps(invoke_auth_policy([FRONT_ARN], written_for))
        if written_for
        else _policy({"AWS": [FRONT_ARN]})
    )
    _secured(moto_lattice, network_policy=document, service_policy=document)
    probe = probe_auth_policies(
        moto_lattice, network=NETWORK, host=HOST, invoker_role=FRONT_ROLE, vpc_id="vpc-0abc"
    )
    if written_for == "vpc-0abc":
        assert probe.ok, probe.detail
        assert probe.detail.endswith("from vpc-0abc only")
    else:
        assert not probe.ok
        assert probe.detail.startswith(
            f"auth policy of service network {NETWORK} lets its callers in from any VPC"
        )


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
    client, stub = stubbed_lattice()
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


def _pod(name: str, *, ready: bool = True, terminating: bool = False) -> dict[str, Any]:
    """A colorapp pod as the Kubernetes API returns it (camelCase JSON), Lattice style: no sidecars."""
    return {
        "metadata": {"name": name, **({"deletionTimestamp": "2026-01-01T00:00:00Z"} if terminating else {})},
        "spec": {"containers": [{"name": "colorapp"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "colorapp", "ready": ready}],
        },
    }


class _Pods:
    """CoreV1Api.list_namespaced_pod of one cluster: each selector's answers in turn (the last repeats)."""

    def __init__(self, answers: dict[str, list[list[dict[str, Any]]]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str | None]] = []

    def list_namespaced_pod(
        self, namespace: str, *, label_selector: str | None = None, _request_timeout: float | None = None
    ) -> dict[str, Any]:
        self.calls.append((namespace, label_selector))
        queue = self.answers[label_selector or ""]
        return {"items": queue.pop(0) if len(queue) > 1 else queue[0]}


BLUE, RED = "app=colorapp,version=blue", "app=colorapp,version=red"
WHERE = {"blue": VersionPods("eksc2", BLUE), "red": VersionPods("eksc2", RED)}


def _ready(**pods: list[list[dict[str, Any]]]) -> tuple[ReadyPods, _Pods]:
    """The runner's Ready pod counter over a fake eksc2 whose pods per color are ``pods``."""
    lister = _Pods({WHERE[color].selector: answers for color, answers in pods.items()})
    return ready_pod_counter({"eksc2": lister}, WHERE, "appmesh-demo"), lister


def _two(color: str) -> list[list[dict[str, Any]]]:
    return [[_pod(f"colorapp-{color}-1"), _pod(f"colorapp-{color}-2")]]


def test_all_targets_healthy_and_as_many_as_the_ready_pods_pass(moto_lattice: Any) -> None:
    """moto (service, listener, CreateRule, target groups, tags) + Stubber (ListRules, GetRule,
    ListTargets); pods from a fake CoreV1Api through the runner's counter."""
    split, stub = _route(moto_lattice, {"blue": 50, "red": 50})
    _with_targets(stub, split, {"blue": ["HEALTHY", "HEALTHY"], "red": ["HEALTHY", "HEALTHY"]})
    ready, pods = _ready(blue=_two("blue"), red=_two("red"))
    with stub:
        probe = probe_targets(split, LatticeWeights(split, HOST, "colorapp-"), {"blue": 50, "red": 50}, ready)
    assert probe.ok, probe.detail
    assert probe.detail == "HEALTHY targets, one per Ready pod: blue=2, red=2"
    assert pods.calls == [("appmesh-demo", BLUE), ("appmesh-demo", RED)]
    stub.assert_no_pending_responses()


def test_an_unhealthy_target_fails_with_its_reason(moto_lattice: Any) -> None:
    """moto (service, listener, CreateRule, target groups, tags) + Stubber (ListRules, GetRule, ListTargets)."""
    split, stub = _route(moto_lattice, {"blue": 50, "red": 50})
    _with_targets(stub, split, {"blue": ["HEALTHY", "HEALTHY"], "red": ["HEALTHY", "UNHEALTHY"]})
    ready, _ = _ready(blue=_two("blue"), red=_two("red"))
    with stub:
        probe = probe_targets(split, LatticeWeights(split, HOST, "colorapp-"), {"blue": 50, "red": 50}, ready)
    assert not probe.ok
    assert probe.detail == "targets not HEALTHY: red 10.0.1.1 UNHEALTHY HealthCheckFailed"


def test_fewer_healthy_targets_than_ready_pods_fail(moto_lattice: Any) -> None:
    """moto (service, listener, CreateRule, target groups, tags) + Stubber (ListRules, GetRule, ListTargets)."""
    split, stub = _route(moto_lattice, {"blue": 50, "red": 50})
    _with_targets(stub, split, {"blue": ["HEALTHY", "HEALTHY"], "red": ["HEALTHY"]})
    ready, _ = _ready(blue=_two("blue"), red=_two("red"))
    with stub:
        probe = probe_targets(split, LatticeWeights(split, HOST, "colorapp-"), {"blue": 50, "red": 50}, ready)
    assert not probe.ok
    assert probe.detail == "targets do not match the Ready pods: red 1 HEALTHY target(s) for 2 Ready pod(s)"


def test_a_surplus_healthy_target_fails_naming_version_and_counts(moto_lattice: Any) -> None:
    """moto (service, listener, CreateRule, target groups, tags) + Stubber (ListRules, GetRule,
    ListTargets): three HEALTHY blue targets behind two Ready blue pods (a stale registration)."""
    split, stub = _route(moto_lattice, {"blue": 50, "red": 50})
    _with_targets(stub, split, {"blue": ["HEALTHY"] * 3, "red": ["HEALTHY", "HEALTHY"]})
    ready, _ = _ready(blue=_two("blue"), red=_two("red"))
    with stub:
        probe = probe_targets(split, LatticeWeights(split, HOST, "colorapp-"), {"blue": 50, "red": 50}, ready)
    assert not probe.ok
    assert probe.detail == "targets do not match the Ready pods: blue 3 HEALTHY target(s) for 2 Ready pod(s)"


@pytest.mark.parametrize(
    "blue_pods",
    [
        [_pod("colorapp-blue-1"), _pod("colorapp-blue-2", ready=False)],
        [_pod("colorapp-blue-1"), _pod("colorapp-blue-2", terminating=True)],
    ],
    ids=["not-ready", "terminating"],
)
def test_a_pod_not_ready_or_leaving_is_not_counted(
    moto_lattice: Any, blue_pods: list[dict[str, Any]]
) -> None:
    """moto (service, listener, CreateRule, target groups, tags) + Stubber (ListRules, GetRule,
    ListTargets): two HEALTHY blue targets, but only one blue pod Ready and staying."""
    split, stub = _route(moto_lattice, {"blue": 50, "red": 50})
    _with_targets(stub, split, {"blue": ["HEALTHY", "HEALTHY"], "red": ["HEALTHY", "HEALTHY"]})
    ready, _ = _ready(blue=[blue_pods], red=_two("red"))
    with stub:
        probe = probe_targets(split, LatticeWeights(split, HOST, "colorapp-"), {"blue": 50, "red": 50}, ready)
    assert not probe.ok
    assert probe.detail == "targets do not match the Ready pods: blue 2 HEALTHY target(s) for 1 Ready pod(s)"


def test_a_weighted_version_with_neither_targets_nor_pods_fails(moto_lattice: Any) -> None:
    """moto (service, listener, CreateRule, target groups, tags) + Stubber (ListRules, GetRule,
    ListTargets): red carries half the traffic with nothing behind it; 0 = 0 is no pass."""
    split, stub = _route(moto_lattice, {"blue": 50, "red": 50})
    _with_targets(stub, split, {"blue": ["HEALTHY", "HEALTHY"], "red": []})
    ready, _ = _ready(blue=_two("blue"), red=[[]])
    with stub:
        probe = probe_targets(split, LatticeWeights(split, HOST, "colorapp-"), {"blue": 50, "red": 50}, ready)
    assert not probe.ok
    assert probe.detail == "targets do not match the Ready pods: red 0 HEALTHY target(s) for 0 Ready pod(s)"


def test_pods_that_cannot_be_listed_fail_the_targets_check_without_retry(moto_lattice: Any) -> None:
    """moto (service, listener, CreateRule, target groups, tags) + Stubber (ListRules, GetRule,
    ListTargets); the pod listing is refused with 403."""

    class Forbidden(Exception):
        status = 403
        reason = "Forbidden"

    class Denied:
        def list_namespaced_pod(self, namespace: str, **_: Any) -> Any:
            raise Forbidden()

    split, stub = _route(moto_lattice, {"blue": 50, "red": 50})
    _with_targets(stub, split, {"blue": ["HEALTHY"], "red": ["HEALTHY"]})
    ready = ready_pod_counter({"eksc2": Denied()}, WHERE, "appmesh-demo")
    with stub:
        probe = probe_targets(split, LatticeWeights(split, HOST, "colorapp-"), {"blue": 50, "red": 50}, ready)
    assert not probe.ok
    assert probe.terminal
    assert probe.detail == (
        "counting Ready pods of blue: listing pods app=colorapp,version=blue in appmesh-demo failed: "
        "HTTP 403 Forbidden"
    )


def test_the_polled_targets_check_recounts_pods_until_they_match(moto_lattice: Any) -> None:
    """All Lattice checks of a deploy in order. moto: CreateServiceNetwork, the VPC (EC2) and
    CreateServiceNetworkVpcAssociation, ListServiceNetworkVpcAssociations, the service joined to the
    network, listener, CreateRule, target groups and tags. Stubber: GetServiceNetworkVpcAssociation,
    ListRules, GetRule, ListTargets. At the targets check's first attempt one red pod is Ready for two
    HEALTHY red targets (its readiness gate not yet True); at the second both are, and it passes."""
    network = moto_lattice.create_service_network(name=NETWORK)
    vpc = boto3.client("ec2", region_name=REGION).create_vpc(CidrBlock="172.16.0.0/16")["Vpc"]["VpcId"]
    association = moto_lattice.create_service_network_vpc_association(
        serviceNetworkIdentifier=network["id"], vpcIdentifier=vpc
    )
    split, stub = _route(
        moto_lattice,
        {"blue": 50, "red": 50},
        attempts=0,
        also_stubbed=("get_service_network_vpc_association",),
    )
    moto_lattice.create_service_network_service_association(
        serviceNetworkIdentifier=network["id"], serviceIdentifier=split.ids["serviceIdentifier"]
    )
    stub.add_response(
        "get_service_network_vpc_association",
        {"id": association["id"], "status": "ACTIVE", "vpcId": vpc},
        {"serviceNetworkVpcAssociationIdentifier": association["id"]},
    )
    _answer_rule(stub, split)  # the rule weights check
    for _ in range(2):  # the targets check, twice
        _answer_rule(stub, split)
        _with_targets(stub, split, {"blue": ["HEALTHY", "HEALTHY"], "red": ["HEALTHY", "HEALTHY"]})
    one_then_two = [[_pod("colorapp-red-1"), _pod("colorapp-red-2", ready=False)], _two("red")[0]]
    ready, pods = _ready(blue=_two("blue"), red=one_then_two)
    now = [0.0]
    settings = PollSettings.starting_now(
        30, initial_backoff_s=1, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    with stub:
        results = lattice_checks(
            client=split,
            network=NETWORK,
            host=HOST,
            settings=settings,
            vpc_id=vpc,
            weights={"blue": 50, "red": 50},
            service="colorapp",
            ready_pods=ready,
        )
    assert [(r.name, r.ok) for r in results] == [
        (f"lattice service network {NETWORK}", True),
        (f"lattice service {HOST}", True),
        (f"lattice rule weights {HOST}", True),
        (f"lattice targets {HOST}", True),
    ], [r.detail for r in results]
    assert results[3].detail == "HEALTHY targets, one per Ready pod: blue=2, red=2"
    assert pods.calls.count(("appmesh-demo", RED)) == 2
    assert now[0] == 1  # one pause between the two attempts
    stub.assert_no_pending_responses()


def test_another_stacks_service_with_the_same_custom_domain_decides_nothing(moto_lattice: Any) -> None:
    """moto (two networks, two services with one custom domain, auth policies) + Stubber (ListRules,
    GetRule). Custom domain names are unique only per service network
    (https://docs.aws.amazon.com/vpc-lattice/latest/ug/service-custom-domain-name.html) and stacks may
    share a discovery namespace name (automation/preflight.py allows it for Lattice), so another stack
    in the account can have a service for the same host, listed first. The checks must judge this
    stack's service, by its name, and pass on this stack's good setup."""
    from infra.mesh.lattice.iam import invoke_auth_policy

    others = moto_lattice.create_service_network(name="crossmesh-other", authType="AWS_IAM")
    other = moto_lattice.create_service(name="colorapp-other", customDomainName=HOST, authType="AWS_IAM")
    moto_lattice.create_service_network_service_association(
        serviceNetworkIdentifier=others["id"], serviceIdentifier=other["id"]
    )
    intruder = "arn:aws:iam::123456789012:role/crossmesh-other-c1-front"
    moto_lattice.put_auth_policy(
        resourceIdentifier=other["id"], policy=json.dumps(invoke_auth_policy([intruder], "vpc-0other"))
    )
    network = moto_lattice.create_service_network(name=NETWORK, authType="AWS_IAM")
    client, stub = _route(moto_lattice, {"blue": 75, "red": 25}, auth="AWS_IAM")
    ours = client.ids["serviceIdentifier"]
    moto_lattice.create_service_network_service_association(
        serviceNetworkIdentifier=network["id"], serviceIdentifier=ours
    )
    only_front = json.dumps(invoke_auth_policy([FRONT_ARN], "vpc-0abc"))
    for resource in (network["id"], ours):
        moto_lattice.put_auth_policy(resourceIdentifier=resource, policy=only_front)
    assert [s["name"] for s in moto_lattice.list_services()["items"]] == ["colorapp-other", "colorapp-dev"]

    settings = PollSettings.starting_now(0, clock=lambda: 0.0, sleep=lambda _s: None)
    with stub:
        results = lattice_checks(
            client=client,
            network=NETWORK,
            host=HOST,
            settings=settings,
            vpc_id="vpc-0abc",
            weights={"blue": 75, "red": 25},
            service="colorapp",
            invoker_role=FRONT_ROLE,
            lattice_service="colorapp-dev",
        )
    by_name = {r.name: r for r in results}
    for name in (
        f"lattice service {HOST}",
        f"lattice rule weights {HOST}",
        f"lattice auth policies {NETWORK}",
    ):
        assert by_name[name].ok, by_name[name].detail
    assert "colorapp-dev" in by_name[f"lattice service {HOST}"].detail
