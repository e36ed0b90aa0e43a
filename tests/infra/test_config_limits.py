"""The composed-name catalogue covers every physical name the program creates, the longest names the
configuration accepts stay inside every limit when the program actually runs, and names that overflow,
break their receiver's syntax or collide are refused naming the keys that feed them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from automation.environment import environment
from automation.recorder import Recording, Registration
from infra.config import StackConfig, Tracing
from infra.config_limits import (
    DNS_SUBDOMAIN,
    HELM_RELEASE,
    KUBERNETES_LABEL_VALUE,
    LABEL_VALUE,
    RFC1035_LABEL,
    ComposedName,
    collisions,
    kubernetes_rule,
)
from infra.config_limits import composed_names as common_names
from infra.config_parse import ConfigError, parse_stack_file
from infra.data import as_list, as_mapping
from infra.mesh import backend_class
from infra.mesh.lattice.names import LATTICE_NAME, LATTICE_SERVICE_NAME, target_group_prefix
from infra.mesh.lattice.objects import SERVICE_NAME_OVERRIDE
from infra.topology import topology_of
from tests.support import PROJECT_DIR, record_document, record_env, stack_document, three_clusters, variant
from workloads.deploy.names import app_names

Change = Callable[[dict[str, Any]], None]
COMMITTED = ["appmesh", "dev", "staging", "prod"]


def composed_names(config: StackConfig) -> list[ComposedName]:
    """What the configuration checks: the AWS names every backend creates, the apps' Kubernetes names
    and the configured backend's."""
    backend = backend_class(config.mesh.backend.value)(config)
    return [*common_names(config), *app_names(config), *backend.composed_names(topology_of(config))]


# Type, input holding the physical name, and which composed names must list it.
NAMED: list[tuple[str, str, str]] = [
    ("aws:iam/role:Role", "name", "IAM role name"),
    ("eks:index:Cluster", "name", "EKS cluster name"),
    ("eks:index:ManagedNodeGroup", "nodeGroupNamePrefix", "node group name prefix"),
    ("aws:ec2/launchTemplate:LaunchTemplate", "name", "launch template name"),
    ("aws:vpclattice/serviceNetwork:ServiceNetwork", "name", "VPC Lattice service network name"),
    ("aws:kms/alias:Alias", "name", "KMS alias"),
    ("aws:ecr/repository:Repository", "name", "ECR repository name"),
    ("aws:cloudwatch/logGroup:LogGroup", "name", "log group name"),
    ("aws:route53/record:Record", "name", "DNS name front calls"),
]


def _recorded(recording: Recording) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for type_, field, what in NAMED:
        for registration in recording.of_type(type_):
            value = registration.inputs.get(field)
            if isinstance(value, str):
                found.setdefault(what, set()).add(value)
    return found


def _listed(config: StackConfig) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for composed in composed_names(config):
        out.setdefault(composed.what, {})[composed.name] = composed.limit
    return out


@pytest.mark.parametrize("env", COMMITTED)
def test_every_recorded_physical_aws_name_is_checked(env: str) -> None:
    config = parse_stack_file(stack_document(env), env)
    listed = _listed(config)
    recorded = _recorded(record_env(env))
    assert recorded["IAM role name"]
    assert recorded["KMS alias"]
    for what, names in recorded.items():
        assert names <= set(listed[what]), f"{what}: {sorted(names - set(listed[what]))} not checked"


# Kubernetes -------------------------------------------------------------------------------------------

KubeObject = tuple[str, str | None, str]
"""(kind, namespace, name)."""


def _kube_objects(recording: Recording) -> Iterator[tuple[KubeObject, Registration]]:
    for registration in recording:
        if not registration.type.startswith("kubernetes:") or registration.type.startswith(
            ("kubernetes:yaml/", "pulumi:providers")
        ):
            continue
        kind = registration.type.rsplit(":", 1)[-1]
        if kind == "Release":
            name, namespace = registration.inputs.get("name"), registration.inputs.get("namespace")
        else:
            metadata: Mapping[str, Any] = registration.inputs.get("metadata") or {}
            name, namespace = metadata.get("name"), metadata.get("namespace")
        assert isinstance(name, str), f"{registration.urn} has no name the program chose"
        yield (kind, namespace if isinstance(namespace, str) else None, name), registration


def _listed_kube(config: StackConfig) -> set[KubeObject]:
    out: set[KubeObject] = set()
    for composed in composed_names(config):
        kind = "Release" if composed.what == "Helm release name" else composed.kubernetes_kind
        if kind is not None:
            out.add((kind, composed.namespace, composed.name))
    return out


def _label_values(value: object) -> Iterator[str]:
    """Every label value in a manifest: metadata labels, pod template labels and selectors."""
    mapping = as_mapping(value)
    if mapping is not None:
        for key, inner in mapping.items():
            labels = as_mapping(inner) if key in ("labels", "matchLabels") else None
            if labels is not None:
                yield from (str(v) for v in labels.values())
            else:
                yield from _label_values(inner)
    for inner in as_list(value) or []:
        yield from _label_values(inner)


@pytest.mark.parametrize(("env", "three"), [(env, False) for env in COMMITTED] + [("dev", True)])
def test_the_kubernetes_catalogue_is_exactly_what_the_program_creates(env: str, three: bool) -> None:
    # Both ways: a name created but not listed escapes the limits; a name listed but not created could
    # refuse a configuration for a collision that cannot happen.
    document = variant(env, three_clusters) if three else stack_document(env)
    config = parse_stack_file(document, env)
    recording = record_document(document, env) if three else record_env(env)
    recorded = {obj for obj, _ in _kube_objects(recording)}
    listed = _listed_kube(config)
    assert recorded - listed == set(), "created but not checked"
    assert listed - recorded == set(), "checked but not created"


def _assert_within_kubernetes_rules(recording: Recording) -> int:
    """Every recorded object's name and label values as Kubernetes and Helm accept them; returns how
    many names were checked."""
    checked = 0
    for (kind, _, name), registration in _kube_objects(recording):
        syntax, limit = (DNS_SUBDOMAIN, HELM_RELEASE) if kind == "Release" else kubernetes_rule(kind)
        assert len(name) <= limit, f"{kind} {name!r} is over {limit}"
        assert syntax.accepts(name), f"{kind} {name!r}: expected {syntax.expected}"
        for label in _label_values(registration.inputs):
            assert len(label) <= KUBERNETES_LABEL_VALUE, (kind, name, label)
            assert LABEL_VALUE.accepts(label), (kind, name, label)
        checked += 1
    return checked


@pytest.mark.parametrize("env", COMMITTED)
def test_committed_environments_name_kubernetes_objects_as_kubernetes_accepts(env: str) -> None:
    assert _assert_within_kubernetes_rules(record_env(env)) > 20


# The longest names the configuration accepts -------------------------------------------------------


def _longest(config: dict[str, Any]) -> None:
    """Names as long as the limits let them be, for a stack named ``dev``."""
    clusters = config["crossmesh:clusters"]
    long_cluster = "c" * 31  # crossmesh-dev-<31>-appmesh-controller is 64; <31>-dev- is 36
    clusters[1]["name"] = long_cluster
    colorapp = config["crossmesh:workloads"]["colorapp"]
    colorapp["name"] = "app"
    for version in colorapp["versions"]:
        version["cluster"] = long_cluster
    colorapp["versions"][0]["color"] = "b" * (64 - len(f"crossmesh-dev-{long_cluster}-app-"))


def test_names_at_the_limits_are_accepted_and_stay_inside_them_when_the_program_runs() -> None:
    document = variant("dev", _longest)
    config = parse_stack_file(document, "dev")
    listed = _listed(config)
    recording = record_document(document)
    for what, names in _recorded(recording).items():
        for name in names:
            assert len(name) <= listed[what][name], f"{what} {name!r} over {listed[what][name]}"
    assert max(len(n) for n in listed["IAM role name"]) == 64


def test_one_character_more_is_refused() -> None:
    def longer(config: dict[str, Any]) -> None:
        _longest(config)
        config["crossmesh:workloads"]["colorapp"]["versions"][0]["color"] += "b"

    with pytest.raises(ConfigError, match=r"versions\[0\]\.color: got 'b+'; composes the IAM role name"):
        parse_stack_file(variant("dev", longer), "dev")


def _longest_kubernetes(backend: str) -> Change:
    """Every configured part of a Kubernetes name as long as the model and the other limits allow."""

    def change(config: dict[str, Any]) -> None:
        workloads = config["crossmesh:workloads"]
        # Kubernetes namespaces: 63. The name front calls: 253 (colorapp.<cloud map namespace>).
        workloads["namespace"] = "n" * 63
        colorapp = workloads["colorapp"]
        colorapp["name"] = "app"
        host = f"{colorapp['name']}."
        config["crossmesh:mesh"]["cloudMapNamespace"] = _exact_dns(253 - len(host))
        # App names are bound by their IAM role (crossmesh-<env>-eksc2-<app>, 64), tighter than 63.
        room = 64 - len(f"crossmesh-{backend}-eksc2-")
        colorapp["versions"][0]["color"] = "b" * (room - len("app-"))
        workloads["front"]["name"] = "f" * (64 - len(f"crossmesh-{backend}-eksc1-"))
        if backend == "appmesh":
            config["crossmesh:mesh"]["name"] = "m" * 63

    return change


def _exact_dns(length: int) -> str:
    labels: list[str] = []
    remaining = length
    while remaining > 63:
        labels.append("d" * 62)
        remaining -= 63
    labels.append("z" * remaining)
    name = ".".join(labels)
    assert len(name) == length, (len(name), length)
    assert len(labels) >= 2
    return name


@pytest.mark.parametrize("env", ["appmesh", "dev"])
def test_kubernetes_names_at_the_limits_are_accepted_and_kubernetes_accepts_them(env: str) -> None:
    document = variant(env, _longest_kubernetes(env))
    config = parse_stack_file(document, env)
    assert len(config.workloads.namespace) == 63
    recording = record_document(document, env)
    assert _assert_within_kubernetes_rules(recording) > 20
    names = {obj[2] for obj, _ in _kube_objects(recording)}
    if env == "appmesh":
        # the VirtualService is named after the host front calls: a DNS subdomain of exactly 253
        assert max(len(n) for n in names) == 253
    else:
        assert config.workloads.namespace in names


def test_a_kubernetes_name_one_character_over_is_refused_naming_its_key() -> None:
    def longer(config: dict[str, Any]) -> None:
        _longest_kubernetes("appmesh")(config)
        config["crossmesh:mesh"]["cloudMapNamespace"] = "y" + config["crossmesh:mesh"]["cloudMapNamespace"]

    with pytest.raises(ConfigError) as caught:
        parse_stack_file(variant("appmesh", longer), "appmesh")
    assert [p.key for p in caught.value.problems] == ["crossmesh:mesh.cloudMapNamespace"]
    assert "(254 characters); the limit is 253" in str(caught.value)


# Syntax: what the receiving service refuses whatever the length ---------------------------------------


def _problems(env: str, change: Change) -> list[str]:
    """What loading the changed environment refuses, as every command loads it: the model, then the
    mesh backend's own checks."""
    with pytest.raises(ConfigError) as caught:
        environment(PROJECT_DIR, env, variant(env, change))
    return [str(p) for p in caught.value.problems]


def _workloads(path: str, value: str) -> Change:
    """Set ``crossmesh:workloads.<path>``, where a number in the path is a list index."""

    def change(config: dict[str, Any]) -> None:
        target: Any = config["crossmesh:workloads"]
        *parents, last = path.split(".")
        for parent in parents:
            target = target[int(parent)] if parent.isdigit() else target[parent]
        target[int(last) if last.isdigit() else last] = value

    return change


@pytest.mark.parametrize(
    ("path", "value", "service"),
    [("front.name", "1front", "1front"), ("colorapp.name", "9colors", "9colors")],
)
@pytest.mark.parametrize("env", ["appmesh", "dev"])
def test_a_service_name_starting_with_a_digit_is_refused(
    env: str, path: str, value: str, service: str
) -> None:
    # A DNS label may start with a digit; a Kubernetes Service name (RFC 1035) may not.
    assert _problems(env, _workloads(path, value)) == [
        f"crossmesh:workloads.{path}: got {value!r}; composes the Kubernetes Service name {service!r}; "
        f"expected {RFC1035_LABEL.expected}"
    ]


def test_colorapp_name_is_blamed_for_its_versions_service_names_not_the_color() -> None:
    problems = _problems("dev", _workloads("colorapp.name", "7app"))
    assert [p.split(":")[1] for p in problems] == ["workloads.colorapp.name"]


@pytest.mark.parametrize(
    ("path", "value", "lattice"),
    [
        ("colorapp.name", "color--app", "VPC Lattice service name 'color--app-dev'"),
        ("namespace", "apps--demo", "VPC Lattice target group name 'k8s-apps--demo-colorapp-blue'"),
        (
            "colorapp.versions.0.color",
            "bl--ue",
            "VPC Lattice target group name 'k8s-appmesh-demo-colorapp-bl--ue'",
        ),
    ],
)
def test_a_double_hyphen_is_refused_where_lattice_gets_the_name(path: str, value: str, lattice: str) -> None:
    change = _workloads(path, value)
    problems = _problems("dev", change)
    key = path.replace("versions.0", "versions[0]")
    syntax = LATTICE_SERVICE_NAME if "service name" in lattice else LATTICE_NAME
    assert problems == [
        f"crossmesh:workloads.{key}: got {value!r}; composes the {lattice}; expected {syntax.expected}"
    ]
    # App Mesh creates no Lattice names: the same value is fine there.
    environment(PROJECT_DIR, "appmesh", variant("appmesh", change))


def test_a_double_hyphen_service_network_is_refused() -> None:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:mesh"]["lattice"] = {"serviceNetwork": "my--network"}

    assert _problems("dev", change) == [
        "crossmesh:mesh.lattice.serviceNetwork: got 'my--network'; composes the VPC Lattice service network "
        f"name 'my--network'; expected {LATTICE_NAME.expected}"
    ]


def test_the_lattice_service_name_is_per_stack_and_refused_past_40() -> None:
    # Lattice service names are unique per account: dev and staging in one account must not both
    # claim colorapp-appmesh-demo, the name the controller would derive from route and namespace.
    route = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
    names = {
        env: record_env(env)
        .named(route, "eksc1-httproute-colorapp")
        .inputs["metadata"]["annotations"][SERVICE_NAME_OVERRIDE]
        for env in ("dev", "staging", "prod")
    }
    assert names == {"dev": "colorapp-dev", "staging": "colorapp-staging", "prod": "colorapp-prod"}
    name = "c" * 37  # + "-dev" = 41; its IAM role names (62) still fit
    assert _problems("dev", _workloads("colorapp.name", name)) == [
        f"crossmesh:workloads.colorapp.name: got '{name}'; composes the VPC Lattice service name "
        f"'{name}-dev' (41 characters); the limit is 40: expected a shorter value here or in the names "
        "joined with it (the stack is 'dev')"
    ]


def test_the_controllers_target_group_names_follow_its_truncation() -> None:
    assert target_group_prefix("appmesh-demo", "colorapp-blue") == "k8s-appmesh-demo-colorapp-blue"
    assert len(target_group_prefix("n" * 63, "s" * 63)) == 4 + 55 + 1 + 55


# Collisions -------------------------------------------------------------------------------------------


def _rename_cluster(index: int, new: str) -> Change:
    def change(config: dict[str, Any]) -> None:
        old = config["crossmesh:clusters"][index]["name"]
        config["crossmesh:clusters"][index]["name"] = new
        workloads = config["crossmesh:workloads"]
        if workloads["front"]["cluster"] == old:
            workloads["front"]["cluster"] = new
        for version in workloads["colorapp"]["versions"]:
            if version["cluster"] == old:
                version["cluster"] = new

    return change


def _both(*changes: Change) -> Change:
    def change(config: dict[str, Any]) -> None:
        for each in changes:
            each(config)

    return change


COLLISIONS: list[tuple[str, str, Change, str, str]] = [
    # (env, the key refused, change, the other key or owner named, what collides)
    (
        "dev",
        "crossmesh:workloads.colorapp.versions[0].color",
        _workloads("front.name", "colorapp-blue"),
        "crossmesh:workloads.front.name ('colorapp-blue')",
        "Kubernetes Deployment name 'colorapp-blue' in namespace appmesh-demo",
    ),
    (
        "appmesh",
        "crossmesh:workloads.colorapp.name",
        _workloads("front.name", "colorapp"),
        "crossmesh:workloads.front.name ('colorapp')",
        "Kubernetes Service name 'colorapp' in namespace appmesh-demo",
    ),
    (
        "dev",
        "crossmesh:workloads.front.name",
        _workloads("front.name", "nodes"),
        "crossmesh:clusters[0].name ('eksc1') also composes, for the nodes role of cluster eksc1",
        "IAM role name 'crossmesh-dev-eksc1-nodes'",
    ),
    (
        "appmesh",
        "crossmesh:workloads.colorapp.versions[1].color",
        _both(_workloads("colorapp.name", "vpc"), _workloads("colorapp.versions.1.color", "cni")),
        "crossmesh:clusters[1].name ('eksc2') also composes, for the vpc-cni role of cluster eksc2",
        "IAM role name 'crossmesh-appmesh-eksc2-vpc-cni'",
    ),
    (
        "dev",
        "crossmesh:workloads.front.name",
        _both(_rename_cluster(0, "vpc"), _workloads("front.name", "flow-logs")),
        "which the program already uses for the VPC flow logs' role",
        "IAM role name 'crossmesh-dev-vpc-flow-logs'",
    ),
    (
        # with tracing on, a collector named otel-collector runs beside the apps in every mesh cluster
        "staging",
        "crossmesh:workloads.colorapp.versions[0].color",
        _both(_workloads("colorapp.name", "otel"), _workloads("colorapp.versions.0.color", "collector")),
        "crossmesh:clusters[1].name ('eksc2') also composes, for the otel-collector role of cluster eksc2",
        "IAM role name 'crossmesh-staging-eksc2-otel-collector'",
    ),
]


@pytest.mark.parametrize(("env", "key", "change", "other", "what"), COLLISIONS)
def test_names_that_collide_once_composed_are_refused_naming_both_keys(
    env: str, key: str, change: Change, other: str, what: str
) -> None:
    problems = _problems(env, change)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{key}: got "), problems
    assert f"composes the {what}" in problems[0]
    assert other in problems[0]


def test_a_collector_name_is_free_while_tracing_is_off_and_collides_in_kubernetes_once_on() -> None:
    change = _both(_workloads("colorapp.name", "otel"), _workloads("colorapp.versions.0.color", "collector"))
    config = parse_stack_file(variant("dev", change), "dev")
    traced = config.model_copy(update={"mesh": config.mesh.model_copy(update={"tracing": Tracing.XRAY})})
    found = {
        (composed.what, composed.key, other.purpose)
        for composed, other in collisions(list(composed_names(traced)))
    }
    key = "crossmesh:workloads.colorapp.versions[0].color"
    for kind in ("Deployment", "ServiceAccount", "Service"):
        assert (f"Kubernetes {kind} name", key, "the trace collector (mesh.tracing)") in found
    assert ("IAM role name", key, "the otel-collector role of cluster eksc2") in found


# The recorded program itself ----------------------------------------------------------------------------


def _physical(registration: Registration) -> str | None:
    """The physical name an AWS resource asks for, when the program chooses it."""
    for field in ("name", "nodeGroupNamePrefix"):
        value = registration.inputs.get(field)
        if isinstance(value, str):
            return value
    return None


@pytest.mark.parametrize("env", COMMITTED)
def test_no_two_recorded_resources_share_a_name_or_an_urn(env: str) -> None:
    recording = record_env(env)
    urns = Counter(r.urn for r in recording)
    assert [u for u, n in urns.items() if n > 1] == []
    kube = Counter((obj, r.provider) for obj, r in _kube_objects(recording))
    assert [k for k, n in kube.items() if n > 1] == []
    aws = Counter(
        (r.type, name)
        for r in recording
        if r.type.startswith(("aws:", "eks:"))
        and r.custom
        and (name := _physical(r)) is not None
        # names of a parent's own children (inline policies of one role, add-ons of one cluster)
        and r.type not in ("aws:iam/rolePolicy:RolePolicy", "aws:eks/addon:Addon")
    )
    assert [k for k, n in aws.items() if n > 1] == []
