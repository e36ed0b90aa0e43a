"""AWS-side checks for the VPC Lattice backend: the service network, its VPC association, and the
Lattice service the controllers made for the name front calls.

Field names follow botocore's ``vpc-lattice`` (2022-11-30) service model. Like the App Mesh checks,
each probe makes one attempt and :func:`polled_check` retries it until the shared deadline: the
controllers create the Lattice service, and associate it, a minute or so after the route appears.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, cast

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from automation.errors import CrossmeshError, Failure
from automation.exit_codes import ExitCode
from automation.shift.observe import LatticeWeights, same_weights, serves
from automation.verify.aws import ACTIVE, describe_aws_error, error_code_and_message
from automation.verify.model import CheckResult
from automation.verify.poll import PollSettings, Probe, polled_check
from infra.naming import role_name_of

if TYPE_CHECKING:
    from automation.verify.clients import AwsClients
    from automation.verify.kube import ReadyPods
    from automation.verify.model import VerifyPlan
    from infra.config import StackConfig


class LatticeClient(Protocol):
    """The VPC Lattice calls verification makes (boto3 ``vpc-lattice`` client or a fake)."""

    def list_service_networks(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def list_service_network_vpc_associations(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def get_service_network_vpc_association(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def list_services(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def list_service_network_service_associations(self, **kwargs: Any) -> Mapping[str, Any]: ...

    # The rule-weight reads of automation/shift/observe.py (LatticeRules).
    def list_listeners(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def list_rules(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def get_rule(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def get_target_group(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def list_tags_for_resource(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def get_auth_policy(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def list_targets(self, **kwargs: Any) -> Mapping[str, Any]: ...


def _all_items(client_call: Any, **kwargs: Any) -> list[Mapping[str, Any]]:
    """Every item of a paginated ``list_*`` call, page after page (``nextToken``)."""
    found: list[Mapping[str, Any]] = []
    token: str | None = None
    while True:
        page = cast("Mapping[str, Any]", client_call(**kwargs, **({"nextToken": token} if token else {})))
        found += cast("list[Mapping[str, Any]]", page.get("items") or [])
        token = page.get("nextToken")
        if not token:
            return found


def _items(client_call: Any, **kwargs: Any) -> list[Mapping[str, Any]] | Probe:
    """Every item of a paginated ``list_*`` call, or the failed probe the error maps to."""
    try:
        return _all_items(client_call, **kwargs)
    except Exception as exc:  # boto3 raises ClientError/BotoCoreError; fakes may raise anything
        return describe_aws_error(exc)


def find_service_network(client: LatticeClient, name: str) -> Mapping[str, Any] | Probe:
    items = _items(client.list_service_networks)
    if isinstance(items, Probe):
        return items
    matches = [i for i in items if i.get("name") == name]
    if not matches:
        return Probe(False, f"service network {name} not found")
    return matches[0]


# GetServiceNetworkVpcAssociation's ``status`` values
# (https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_GetServiceNetworkVpcAssociation.html):
# the failed ones and a deletion never turn ACTIVE again; the rest (CREATE_IN_PROGRESS,
# UPDATE_IN_PROGRESS, or a status added later) may, so they are waited for.
_ASSOCIATION_LOST = frozenset({"CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "DELETE_IN_PROGRESS"})


def _association_verdict(network: str, answer: Mapping[str, Any]) -> Probe:
    """One GetServiceNetworkVpcAssociation answer judged: ACTIVE passes, in progress is retried, a
    failure or a deletion is terminal and names AWS's ``failureCode``/``failureMessage``."""
    vpc = answer.get("vpcId") or answer.get("id")
    status = str(answer.get("status"))
    if status == ACTIVE:
        return Probe(True, f"service network {network} is associated with {vpc} (ACTIVE)")
    why = ": ".join(str(answer[key]) for key in ("failureCode", "failureMessage") if answer.get(key))
    detail = f"service network {network} association with {vpc} is {status}" + (f" ({why})" if why else "")
    return Probe(False, detail, terminal=status in _ASSOCIATION_LOST)


def probe_vpc_association(client: LatticeClient, *, network: str, vpc_id: str | None = None) -> Probe:
    """Is the service network associated with the stack's VPC, and is that association ACTIVE?

    ListServiceNetworkVpcAssociations finds the association (of ``vpc_id``, or every one of the network
    when the plan knows no VPC); GetServiceNetworkVpcAssociation reads its ``status`` and, when it
    failed, ``failureCode`` and ``failureMessage``
    (https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_GetServiceNetworkVpcAssociation.html).
    """
    found = find_service_network(client, network)
    if isinstance(found, Probe):
        return found
    where = {"vpcIdentifier": vpc_id} if vpc_id else {}
    items = _items(
        client.list_service_network_vpc_associations, serviceNetworkIdentifier=found["id"], **where
    )
    if isinstance(items, Probe):
        return items
    if vpc_id:
        items = [i for i in items if i.get("vpcId") == vpc_id]
    if not items:
        return Probe(
            False, f"service network {network} has no VPC association" + (f" with {vpc_id}" if vpc_id else "")
        )
    verdicts: list[Probe] = []
    for item in items:
        try:
            answer = client.get_service_network_vpc_association(
                serviceNetworkVpcAssociationIdentifier=item["id"]
            )
        except Exception as exc:  # boto3 raises ClientError/BotoCoreError; Stubbers may raise anything
            return describe_aws_error(exc)
        verdicts.append(_association_verdict(network, answer))
    failed = [v for v in verdicts if not v.ok]
    if failed:
        return Probe(False, "; ".join(v.detail for v in failed), terminal=any(v.terminal for v in failed))
    return Probe(True, "; ".join(v.detail for v in verdicts))


def _no_service(host: str, name: str | None) -> str:
    return f"no Lattice service {f'named {name} ' if name else ''}has the custom domain {host}"


def _our_services(services: list[Mapping[str, Any]], host: str, name: str | None) -> list[Mapping[str, Any]]:
    """The stack's service for ``host`` among ListServices' items: another stack's service may have the
    same custom domain (:func:`automation.shift.observe.serves`)."""
    return [s for s in services if serves(s, host, name)]


def probe_service(client: LatticeClient, *, network: str, host: str, name: str | None = None) -> Probe:
    """Is there an ACTIVE Lattice service whose custom domain is ``host`` (named ``name``, when given),
    in ``network``?"""
    services = _items(client.list_services)
    if isinstance(services, Probe):
        return services
    matches = _our_services(services, host, name)
    if not matches:
        return Probe(False, f"{_no_service(host, name)} (has the route been reconciled?)")
    service = matches[0]
    if service.get("status") != ACTIVE:
        return Probe(False, f"Lattice service {service.get('name')} for {host} is {service.get('status')}")
    found = find_service_network(client, network)
    if isinstance(found, Probe):
        return found
    associations = _items(client.list_service_network_service_associations, serviceIdentifier=service["id"])
    if isinstance(associations, Probe):
        return associations
    joined = [
        a
        for a in associations
        if found["id"] in (a.get("serviceNetworkId"), a.get("serviceNetworkName"))
        or a.get("serviceNetworkName") == network
        if a.get("status") == ACTIVE
    ]
    if not joined:
        return Probe(
            False, f"Lattice service {service.get('name')} is not ACTIVE in service network {network}"
        )
    return Probe(True, f"Lattice service {service.get('name')} serves {host} in {network}")


def _allow_statements(document: str) -> list[Mapping[str, Any]] | str:
    """The Allow statements of an IAM policy document, or why it cannot be read."""
    try:
        parsed: object = json.loads(document)
    except ValueError as exc:
        return f"is not JSON ({exc})"
    if not isinstance(parsed, Mapping):
        return "is not a JSON object"
    raw: object = cast("Mapping[str, Any]", parsed).get("Statement")
    # IAM allows a single statement object in place of the list.
    statements: list[object] = [raw] if isinstance(raw, Mapping) else cast("list[object]", raw)
    if not isinstance(raw, (Mapping, list)):
        return "has no Statement list"
    allowed: list[Mapping[str, Any]] = []
    for statement in statements:
        if not isinstance(statement, Mapping):
            return "has a statement that is not an object"
        entry = cast("Mapping[str, Any]", statement)
        if entry.get("Effect") == "Allow":
            allowed.append(entry)
    return allowed


def _allowed_principals(statements: list[Mapping[str, Any]]) -> list[str]:
    """The principals the Allow statements name. A statement without ``Principal``, or with ``"*"``,
    lets anyone in: it is reported as ``*``."""
    principals: list[str] = []
    for entry in statements:
        principal: object = entry.get("Principal", "*")
        aws: object = (
            cast("Mapping[str, Any]", principal).get("AWS", "*")
            if isinstance(principal, Mapping)
            else principal
        )
        names = cast("list[object]", aws) if isinstance(aws, list) else [aws]
        principals += [str(name) for name in names]
    return principals


SOURCE_VPC_KEY = "vpc-lattice-svcs:SourceVpc"


def _unlimited_sources(statements: list[Mapping[str, Any]], vpc_id: str) -> int:
    """How many Allow statements do not limit callers to ``vpc_id`` with ``StringEquals
    vpc-lattice-svcs:SourceVpc``, as infra/mesh/lattice/iam.py writes it."""
    unlimited = 0
    for entry in statements:
        condition: object = entry.get("Condition")
        equals: object = (
            cast("Mapping[str, Any]", condition).get("StringEquals")
            if isinstance(condition, Mapping)
            else None
        )
        value: object = (
            cast("Mapping[str, Any]", equals).get(SOURCE_VPC_KEY) if isinstance(equals, Mapping) else None
        )
        values = cast("list[object]", value) if isinstance(value, list) else [value]
        if values != [vpc_id]:
            unlimited += 1
    return unlimited


def probe_auth_policies(
    client: LatticeClient,
    *,
    network: str,
    host: str,
    invoker_role: str,
    vpc_id: str | None = None,
    name: str | None = None,
) -> Probe:
    """Are auth policies attached, Active, on the service network and on the service, and do they allow
    front's role and nobody else (and, given ``vpc_id``, from that VPC only)?

    GetAuthPolicy answers ``policy`` (the JSON document) and ``state``: ``Active`` only while the
    resource's authType is AWS_IAM
    (https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_GetAuthPolicy.html); a principal
    other than a named role, or ``*``, would let other callers in
    (https://docs.aws.amazon.com/vpc-lattice/latest/ug/auth-policies.html).
    """
    found = find_service_network(client, network)
    if isinstance(found, Probe):
        return found
    services = _items(client.list_services)
    if isinstance(services, Probe):
        return services
    matches = _our_services(services, host, name)
    if not matches:
        return Probe(False, f"{_no_service(host, name)} to read its auth policy")
    for label, identifier in (
        (f"service network {network}", str(found["id"])),
        (f"Lattice service {matches[0].get('name')}", str(matches[0]["id"])),
    ):
        try:
            answer = client.get_auth_policy(resourceIdentifier=identifier)
        except Exception as exc:  # boto3 raises ClientError/BotoCoreError; fakes may raise anything
            failed = describe_aws_error(exc)
            return Probe(False, f"auth policy of {label}: {failed.detail}", failed.terminal)
        document = answer.get("policy")
        if not document:
            return Probe(False, f"{label} has no auth policy")
        if answer.get("state") != "Active":
            return Probe(False, f"auth policy of {label} is {answer.get('state')} (authType is not AWS_IAM?)")
        statements = _allow_statements(str(document))
        if isinstance(statements, str):
            return Probe(False, f"auth policy of {label} {statements}", terminal=True)
        principals = _allowed_principals(statements)
        others = sorted({p for p in principals if role_name_of(p) != invoker_role})
        if not principals or others:
            return Probe(
                False,
                f"auth policy of {label} must allow only role {invoker_role}, allows {others or 'nobody'}",
            )
        if vpc_id and _unlimited_sources(statements, vpc_id):
            return Probe(
                False,
                f"auth policy of {label} lets its callers in from any VPC: expected {SOURCE_VPC_KEY} = "
                f"{vpc_id} on every Allow statement (a stack deployed before that condition: deploy again)",
            )
    where = f", from {vpc_id} only" if vpc_id else ""
    return Probe(True, f"auth policies of {network} and {host} allow only role {invoker_role}{where}")


def probe_dns(
    lattice: LatticeClient, route53: Any, *, zone: str, host: str, name: str | None = None
) -> Probe:
    """Does the private hosted zone ``zone`` hold a CNAME ``host`` -> the domain Lattice assigned?

    The assigned name is the service's ``dnsEntry.domainName``
    (https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_ServiceSummary.html); the record
    is read with ListResourceRecordSets, whose names come back fully qualified with a trailing dot
    (https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListResourceRecordSets.html). The
    zone is found by name among private zones (ListHostedZonesByName), as the plan knows no zone id.
    """
    services = _items(lattice.list_services)
    if isinstance(services, Probe):
        return services
    matches = _our_services(services, host, name)
    if not matches:
        return Probe(False, f"{_no_service(host, name)}, so no assigned domain yet")
    assigned = str(cast("Mapping[str, Any]", matches[0].get("dnsEntry") or {}).get("domainName") or "")
    if not assigned:
        return Probe(False, f"Lattice service {matches[0].get('name')} has no assigned domain yet")
    try:
        zones = cast(
            "list[Mapping[str, Any]]",
            route53.list_hosted_zones_by_name(DNSName=zone).get("HostedZones") or [],
        )
        private = [
            z
            for z in zones
            if str(z.get("Name", "")).rstrip(".") == zone
            and cast("Mapping[str, Any]", z.get("Config") or {}).get("PrivateZone")
        ]
        if not private:
            return Probe(False, f"no private hosted zone {zone}")
        seen: list[str] = []
        for hosted in private:
            records: list[Mapping[str, Any]] = (
                route53.list_resource_record_sets(
                    HostedZoneId=hosted["Id"], StartRecordName=host, StartRecordType="CNAME", MaxItems="1"
                ).get("ResourceRecordSets")
                or []
            )
            for record in records:
                if str(record.get("Name", "")).rstrip(".") != host or record.get("Type") != "CNAME":
                    continue
                values = [
                    str(r.get("Value", "")).rstrip(".")
                    for r in cast("list[Mapping[str, Any]]", record.get("ResourceRecords") or [])
                ]
                if values == [assigned.rstrip(".")]:
                    return Probe(True, f"{host} CNAME {assigned} in private zone {zone}")
                seen += values
    except Exception as exc:  # boto3 raises ClientError/BotoCoreError; fakes may raise anything
        return describe_aws_error(exc)
    if seen:
        return Probe(False, f"{host} CNAME points at {seen}, Lattice assigned {assigned}")
    return Probe(False, f"no CNAME {host} in private zone {zone}")


def probe_targets(
    client: LatticeClient, observe: LatticeWeights, wanted: Mapping[str, int], ready_pods: ReadyPods
) -> Probe:
    """Are all targets of the route's target groups HEALTHY, and per version as many as its Ready pods?

    ListTargets reports each target's ``status`` (HEALTHY, UNHEALTHY, INITIAL, DRAINING, UNAVAILABLE,
    UNUSED; https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_ListTargets.html). The
    controller registers each pod of a version's exported Service as one IP target, so once both sides
    settle the HEALTHY targets of a version are its Ready pods: a surplus is a target Lattice still
    sends to with no Ready pod behind it, a shortfall a Ready pod Lattice does not send to. The pods
    are counted by ``ready_pods`` at every attempt, after the targets, so a rollout converges while
    this polls. A version that carries weight needs at least one target, even if it has no pods.
    """
    try:
        observe()
        groups = dict(observe.groups)
        counts: dict[str, int] = {}
        unhealthy: list[str] = []
        for group, color in sorted(groups.items()):
            items = _items(client.list_targets, targetGroupIdentifier=group)
            if isinstance(items, Probe):
                return items
            for target in items:
                if target.get("status") == "HEALTHY":
                    counts[color] = counts.get(color, 0) + 1
                else:
                    unhealthy.append(
                        " ".join(
                            str(part)
                            for part in (
                                color,
                                target.get("id"),
                                target.get("status"),
                                target.get("reasonCode"),
                            )
                            if part
                        )
                    )
    except Exception as exc:  # boto3 raises ClientError/BotoCoreError; Stubbers may raise anything
        return describe_aws_error(exc)
    if unhealthy:
        return Probe(False, f"targets not HEALTHY: {', '.join(unhealthy)}")
    versions = sorted({*groups.values(), *(color for color, weight in wanted.items() if weight > 0)})
    unlike: list[str] = []
    for color in versions:
        ready = ready_pods(color)
        if isinstance(ready, Probe):
            return Probe(False, f"counting Ready pods of {color}: {ready.detail}", ready.terminal)
        healthy = counts.get(color, 0)
        if healthy != ready or (healthy == 0 and wanted.get(color, 0) > 0):
            unlike.append(f"{color} {healthy} HEALTHY target(s) for {ready} Ready pod(s)")
    if unlike:
        return Probe(False, f"targets do not match the Ready pods: {', '.join(unlike)}")
    return Probe(True, f"HEALTHY targets, one per Ready pod: {_shares(counts)}")


def _shares(weights: Mapping[str, int]) -> str:
    return ", ".join(f"{color}={weight}" for color, weight in sorted(weights.items()))


def probe_rule_weights(observe: LatticeWeights, wanted: Mapping[str, int]) -> Probe:
    """Do the listener rule's target-group weights, per version, match the configured weights?

    ``observe`` is the shift command's reader (ListServices, ListListeners, ListRules, GetRule, then the
    controller's ServiceName tag on each target group), so a step and a deploy are judged alike.
    Weights are relative in Lattice (https://docs.aws.amazon.com/vpc-lattice/latest/ug/listeners.html,
    "weighted target groups"), so :func:`same_weights` compares shares.
    """
    try:
        observed = observe()
    except Exception as exc:  # boto3 raises ClientError/BotoCoreError; Stubbers may raise anything
        return describe_aws_error(exc)
    if observed is None:
        return Probe(False, f"no listener rule of the Lattice service for {observe.host} forwards anywhere")
    if not same_weights(observed, wanted):
        return Probe(False, f"listener rule weights are {_shares(observed)}, configured {_shares(wanted)}")
    return Probe(True, f"listener rule weights {_shares(observed)} match the configuration")


def lattice_checks(
    *,
    client: LatticeClient,
    network: str,
    host: str,
    settings: PollSettings,
    vpc_id: str | None = None,
    weights: Mapping[str, int] | None = None,
    service: str = "",
    ready_pods: ReadyPods | None = None,
    invoker_role: str | None = None,
    route53: Any = None,
    zone: str = "",
    lattice_service: str | None = None,
) -> list[CheckResult]:
    """``weights`` (color -> configured weight) and ``service`` (colorapp's Kubernetes service name) add
    the listener-rule check, and with ``ready_pods`` the targets check; ``invoker_role`` (front's role
    name, with IAM auth) the auth-policy check. ``lattice_service`` (the stack's Lattice service name)
    picks the stack's service among those with the custom domain ``host``."""
    name = lattice_service
    checks = [
        polled_check(
            f"lattice service network {network}",
            lambda: probe_vpc_association(client, network=network, vpc_id=vpc_id),
            settings,
        ),
        polled_check(
            f"lattice service {host}",
            lambda: probe_service(client, network=network, host=host, name=name),
            settings,
        ),
    ]
    if weights:
        observe = LatticeWeights(client, host, f"{service}-", name)
        checks.append(
            polled_check(
                f"lattice rule weights {host}", lambda: probe_rule_weights(observe, weights), settings
            )
        )
    if weights and ready_pods is not None:
        targets_reader = LatticeWeights(client, host, f"{service}-", name)
        wanted = weights
        count = ready_pods
        checks.append(
            polled_check(
                f"lattice targets {host}",
                lambda: probe_targets(client, targets_reader, wanted, count),
                settings,
            )
        )
    if route53 is not None and zone:
        checks.append(
            polled_check(
                f"lattice dns {host}",
                lambda: probe_dns(client, route53, zone=zone, host=host, name=name),
                settings,
            )
        )
    if invoker_role:
        role = invoker_role
        checks.append(
            polled_check(
                f"lattice auth policies {network}",
                lambda: probe_auth_policies(
                    client, network=network, host=host, invoker_role=role, vpc_id=vpc_id, name=name
                ),
                settings,
            )
        )
    return checks


# --- availability (deploy preflight) ------------------------------------------------------------------


def check_lattice(lattice: Any, *, env: str, region: str) -> int:
    """``ListServiceNetworks`` (one page): VPC Lattice answers in this region for these credentials."""
    try:
        answer: dict[str, Any] = lattice.list_service_networks(maxResults=1)
    except ClientError as exc:
        code, message = error_code_and_message(exc)
        reason = (
            f"VPC Lattice ListServiceNetworks failed in {region} ({code}: {message}); "
            "the mesh cannot be built."
        )
        hint = (
            "Grant the deploying role vpc-lattice:ListServiceNetworks (and the rest of what Pulumi creates), "
            f"or check that VPC Lattice is offered in {region}."
        )
        raise CrossmeshError(Failure(ExitCode.MESH_UNAVAILABLE, "mesh_unavailable", reason, hint)) from exc
    except (EndpointConnectionError, BotoCoreError) as exc:
        reason = f"the VPC Lattice endpoint in {region} did not answer ({exc})."
        hint = f"Check network access to vpc-lattice.{region}.amazonaws.com and that the region offers it."
        raise CrossmeshError(Failure(ExitCode.MESH_UNAVAILABLE, "mesh_unavailable", reason, hint)) from exc
    return len(list(answer.get("items") or []))


def lattice_prefix_list_entries(ec2: Any, region: str) -> list[str]:
    """The CIDRs of the region's managed prefix list ``com.amazonaws.<region>.vpc-lattice``: where VPC
    Lattice connects to targets from (https://docs.aws.amazon.com/vpc-lattice/latest/ug/security-groups.html)."""
    name = f"com.amazonaws.{region}.vpc-lattice"
    lists: dict[str, Any] = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [name]}]
    )
    listed: list[dict[str, Any]] = lists.get("PrefixLists") or []
    found = [p for p in listed if p.get("PrefixListName") == name]
    if not found:
        raise LookupError(f"no managed prefix list {name} in {region}")
    entries: dict[str, Any] = ec2.get_managed_prefix_list_entries(PrefixListId=found[0]["PrefixListId"])
    rows: list[dict[str, Any]] = entries.get("Entries") or []
    return sorted(str(row["Cidr"]) for row in rows)


def unadmitted_ranges(entries: list[str], admitted: list[str]) -> list[str]:
    """The prefix-list ranges no admitted block holds (IPv6 entries aside: the VPC is IPv4-only)."""
    import ipaddress  # noqa: PLC0415 - only this check needs it

    blocks = [ipaddress.IPv4Network(a) for a in admitted]
    outside: list[str] = []
    for entry in entries:
        network = ipaddress.ip_network(entry, strict=False)
        if isinstance(network, ipaddress.IPv4Network) and not any(network.subnet_of(b) for b in blocks):
            outside.append(entry)
    return outside


def check_lattice_prefix_list(ec2: Any, *, region: str) -> None:
    """Exit 6 before anything is made when Lattice in ``region`` connects from a range the pods'
    NetworkPolicies do not admit: the security group (which follows the prefix list) would let it in,
    and the NetworkPolicy would drop it, so health checks would fail and colorapp never be Ready."""
    from infra.mesh.lattice.objects import LATTICE_DATA_PLANE_CIDRS  # noqa: PLC0415 - only this check

    admitted: list[str] = list(LATTICE_DATA_PLANE_CIDRS)
    try:
        entries = lattice_prefix_list_entries(ec2, region)
    except (ClientError, BotoCoreError, LookupError) as exc:
        if isinstance(exc, ClientError):
            code, message = error_code_and_message(exc)
            detail = f"{code}: {message}"
        else:
            detail = str(exc)
        reason = f"the VPC Lattice prefix list of {region} could not be read ({detail})"
        hint = "Grant the deploying role ec2:DescribeManagedPrefixLists and ec2:GetManagedPrefixListEntries."
        raise CrossmeshError(Failure(ExitCode.MESH_UNAVAILABLE, "mesh_unavailable", reason, hint)) from exc
    outside = unadmitted_ranges(entries, admitted)
    if outside:
        reason = (
            f"VPC Lattice in {region} connects to targets from {', '.join(outside)}, outside what the "
            f"pods' NetworkPolicies admit ({', '.join(admitted)}): colorapp's health checks would fail."
        )
        hint = (
            "Add those ranges to LATTICE_DATA_PLANE_CIDRS in infra/mesh/lattice/objects.py (the "
            "NetworkPolicies admit exactly that list) and render again. Nothing was changed."
        )
        raise CrossmeshError(Failure(ExitCode.MESH_UNAVAILABLE, "mesh_unavailable", reason, hint))


class LatticeChecks:
    """The service network and the Lattice service; pods carry no sidecars."""

    sidecars = False

    def plan_problems(self, plan: VerifyPlan) -> list[str]:
        problems = [] if plan.service_network else ["the lattice backend needs service_network"]
        unplaced = sorted(set(plan.weights) - set(plan.version_pods))
        if unplaced:
            # The targets check compares each version's HEALTHY targets with its Ready pods.
            problems.append(f"the lattice backend needs version_pods for versions {unplaced}")
        return problems

    def aws_checks(
        self, plan: VerifyPlan, clients: AwsClients, settings: PollSettings, ready_pods: ReadyPods
    ) -> list[CheckResult]:
        if clients.lattice is None:
            return [CheckResult("lattice", False, "no vpc-lattice client to check the service network with")]
        return lattice_checks(
            client=clients.lattice,
            network=plan.service_network or "",
            host=plan.virtual_service_name,
            settings=settings,
            vpc_id=plan.vpc_id,
            weights=plan.weights,
            service=plan.service_name,
            ready_pods=ready_pods,
            invoker_role=plan.invoker_role,
            route53=clients.route53,
            zone=plan.cloudmap_namespace,
            lattice_service=plan.lattice_service,
        )

    def check_available(self, clients: Any, *, env: str, region: str, today: date | None = None) -> bool:
        if clients.lattice is None:
            return False
        check_lattice(clients.lattice, env=env, region=region)
        return True

    def check_for_deploy(self, clients: Any, *, region: str) -> None:
        if getattr(clients, "ec2", None) is not None:
            check_lattice_prefix_list(clients.ec2, region=region)

    # The listener rule's target-group weights show when Lattice applied a step.
    traffic_shift = True

    # Lattice reaches colorapp through the private zone's CNAME (DNS only): the namespace name may
    # repeat across VPCs.
    discovers_by_namespace_name = False

    def existing_names(self, config: StackConfig, clients: Any) -> list[tuple[str, str, Mapping[str, str]]]:
        """The service network of this stack's name, if it exists (names are unique per account)."""
        if clients.lattice is None:
            return []
        found: list[tuple[str, str, Mapping[str, str]]] = []
        # Every page: a name on a later page is as taken as one on the first.
        for network in _all_items(clients.lattice.list_service_networks):
            if network.get("name") == config.service_network_name:
                tags: Mapping[str, str] = (
                    clients.lattice.list_tags_for_resource(resourceArn=network["arn"]).get("tags") or {}
                )
                found.append(("VPC Lattice service network", str(network["name"]), tags))
        return found


CHECKS = LatticeChecks()
