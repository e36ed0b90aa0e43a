"""The apps' Kubernetes objects: exact fields, hardened, and valid for the configured Kubernetes."""

from __future__ import annotations

from typing import Any

import pytest

from automation.validate import CrdSchemas, validate_objects
from infra.config_parse import parse_stack_file
from infra.topology import AppKind, topology_of
from tests.support import env_values, stack_document
from workloads.deploy import manifests
from workloads.runtime.common.settings import ServerSettings

TOPOLOGY = topology_of(parse_stack_file(stack_document("dev"), "dev"))
EKS = "eksc2-dev"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/crossmesh-dev/colorapp@sha256:" + "a" * 64
BLUE = TOPOLOGY.colors[0]
FRONT = TOPOLOGY.front


def env_of(objects: list[dict[str, Any]]) -> dict[str, str]:
    return env_values(objects)


def test_topology_of_dev() -> None:
    assert [(a.name, a.app, a.cluster, a.version, a.weight) for a in TOPOLOGY.apps] == [
        ("front", "front", "eksc1", None, None),
        ("colorapp-blue", "colorapp", "eksc2", "blue", 50),
        ("colorapp-red", "colorapp", "eksc2", "red", 50),
    ]
    assert TOPOLOGY.service_address == "colorapp.appmesh-demo.pvt.aws.local:8080"
    assert TOPOLOGY.clusters == ("eksc1", "eksc2")
    assert TOPOLOGY.weights == {"blue": 50, "red": 50}


def test_front_calls_the_stable_name_with_a_timeout_above_the_mesh_deadline() -> None:
    env = env_of(manifests.app_env(FRONT, TOPOLOGY, route_timeout_ms=3000, tracing=False, eks_name=EKS))
    assert env == {
        "PORT": "8080",
        "WORKERS": "2",
        "OTEL_SERVICE_NAME": "front",
        "OTEL_PROPAGATORS": "tracecontext,xray",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.05",
        "COLOR_HOST": "colorapp.appmesh-demo.pvt.aws.local:8080",
        "UPSTREAM_TIMEOUT_MS": "4000",
        "UPSTREAM_PER_TRY_TIMEOUT_MS": "4000",
        "UPSTREAM_MAX_RETRIES": "0",
        # past the load balancer's 5 s idle timeout, which is past the 4 s deadline
        "HEADER_READ_TIMEOUT_MS": "6000",
    }


def test_the_backends_env_wins_over_the_defaults() -> None:
    lattice = {"UPSTREAM_AUTH": "sigv4", "UPSTREAM_MAX_RETRIES": "2", "UPSTREAM_PER_TRY_TIMEOUT_MS": "1000"}
    env = env_of(
        manifests.app_env(
            FRONT, TOPOLOGY, route_timeout_ms=3000, tracing=False, eks_name=EKS, backend_env=lattice
        )
    )
    assert (env["UPSTREAM_AUTH"], env["UPSTREAM_MAX_RETRIES"], env["UPSTREAM_PER_TRY_TIMEOUT_MS"]) == (
        "sigv4",
        "2",
        "1000",
    )
    assert env["UPSTREAM_TIMEOUT_MS"] == "4000"


def test_colorapp_gets_its_color_and_tracing_env_when_on() -> None:
    env = env_of(manifests.app_env(BLUE, TOPOLOGY, route_timeout_ms=3000, tracing=True, eks_name=EKS))
    assert env["COLOR"] == "blue"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.appmesh-demo.svc.cluster.local:4318"
    assert env["OTEL_SERVICE_NAME"] == "colorapp-blue"
    assert "COLOR_HOST" not in env
    off = env_of(manifests.app_env(BLUE, TOPOLOGY, route_timeout_ms=3000, tracing=False, eks_name=EKS))
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in off


def test_traced_pods_say_which_cluster_pod_and_node_served_the_span() -> None:
    env = manifests.app_env(BLUE, TOPOLOGY, route_timeout_ms=3000, tracing=True, eks_name=EKS)
    names = [e["name"] for e in env]
    # Kubernetes expands $(NAME) only from variables listed before the one that uses it.
    assert names.index("K8S_POD_NAME") < names.index("OTEL_RESOURCE_ATTRIBUTES")
    assert names.index("K8S_NODE_NAME") < names.index("OTEL_RESOURCE_ATTRIBUTES")
    values = env_values(env)
    assert (values["K8S_POD_NAME"], values["K8S_NODE_NAME"]) == (
        "<fieldRef:metadata.name>",
        "<fieldRef:spec.nodeName>",
    )
    assert values["OTEL_RESOURCE_ATTRIBUTES"] == (
        "cloud.provider=aws,cloud.platform=aws_eks,k8s.cluster.name=eksc2-dev,k8s.namespace.name=appmesh-demo,"
        "k8s.deployment.name=colorapp-blue,k8s.pod.name=$(K8S_POD_NAME),k8s.node.name=$(K8S_NODE_NAME)"
    )
    untraced = manifests.app_env(BLUE, TOPOLOGY, route_timeout_ms=3000, tracing=False, eks_name=EKS)
    assert {"K8S_POD_NAME", "K8S_NODE_NAME", "OTEL_RESOURCE_ATTRIBUTES"}.isdisjoint(
        e["name"] for e in untraced
    )


def test_pre_stop_drains_the_app_then_waits_for_endpoint_removal() -> None:
    container = deployment()["spec"]["template"]["spec"]["containers"][0]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["python", "-c"]
    script = command[2]
    compile(script, "preStop", "exec")  # valid Python
    assert "urllib.request.Request('http://127.0.0.1:8080/drain', method='POST', headers=headers)" in script
    assert (
        "headers['x-crossmesh-drain-key'] = pathlib.Path('/dev/shm/crossmesh-drain-key-8080').read_text()"
        in script
    )
    assert "urllib.request.urlopen(drain, timeout=2)" in script
    assert script.rstrip().endswith(f"time.sleep({manifests.PRE_STOP_WAIT_SECONDS})")
    spec = deployment()["spec"]["template"]["spec"]
    # The wait plus the app's 25 s drain fit in the grace period.
    assert spec["terminationGracePeriodSeconds"] >= manifests.PRE_STOP_WAIT_SECONDS + 25


def test_the_hook_reads_the_drain_key_where_the_app_writes_it() -> None:
    # deploy/ may not import runtime/, so each names the file and header; this holds them together.
    from workloads.runtime.common import drain

    assert str(drain.SHARED_DIRECTORY / drain.KEY_FILE) == manifests.DRAIN_KEY_FILE
    assert manifests.DRAIN_KEY_HEADER == drain.KEY_HEADER


def deployment(replicas: int = 1) -> dict[str, Any]:
    app = BLUE if replicas == 1 else type(BLUE)(**{**BLUE.__dict__, "replicas": replicas})
    return manifests.deployment(app, TOPOLOGY, image=IMAGE, env=[{"name": "COLOR", "value": "blue"}])


def test_deployment_is_hardened_per_container() -> None:
    pod = deployment()["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    # pod level carries no runAsUser/runAsNonRoot: the injected proxyinit would inherit them
    assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "colorapp-blue"


def test_deployment_probes_resources_image_and_spread() -> None:
    spec = deployment()["spec"]
    container = spec["template"]["spec"]["containers"][0]
    assert container["image"].endswith("@sha256:" + "a" * 64)
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/ping", "port": "http"}
    # Two serving processes: a core and 128 MiB each, and 128 MiB for the supervisor.
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "192Mi"},
        "limits": {"cpu": "2", "memory": "384Mi"},
    }
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    keys = [c["topologyKey"] for c in spec["template"]["spec"]["topologySpreadConstraints"]]
    assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    assert spec["selector"] == {"matchLabels": {"app": "colorapp", "version": "blue"}}
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 45


def test_pdb_only_with_more_than_one_replica() -> None:
    assert manifests.pod_disruption_budget(BLUE, TOPOLOGY) is None
    two = type(BLUE)(**{**BLUE.__dict__, "replicas": 2})
    assert manifests.pod_disruption_budget(two, TOPOLOGY) == {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": "colorapp-blue",
            "namespace": "appmesh-demo",
            "labels": manifests.object_labels(two),
        },
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"app": "colorapp", "version": "blue"}},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def test_unready_pods_never_hold_up_a_node_drain() -> None:
    # Under the default IfHealthyBudget, two unready pods of a version (a bad image, a Lattice health
    # check failing the readiness gate) leave currentHealthy below desiredHealthy, and the eviction API
    # then refuses every pod of it: a node group upgrade's drain waits on them until it times out.
    # AlwaysAllow evicts the unready ones; the Ready ones stay under the budget
    # (https://kubernetes.io/blog/2023/01/06/unhealthy-pod-eviction-policy-for-pdbs/).
    for replicas in (2, 3):
        app = type(BLUE)(**{**BLUE.__dict__, "replicas": replicas})
        budget = manifests.pod_disruption_budget(app, TOPOLOGY)
        assert budget is not None
        assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
        assert budget["spec"]["maxUnavailable"] == 1


def test_front_service_is_a_load_balancer_80_to_8080() -> None:
    service = manifests.front_service(TOPOLOGY, source_ranges=["0.0.0.0/0"], tags={"project": "crossmesh"})
    assert service["spec"] == {
        "type": "LoadBalancer",
        "selector": {"app": "front"},
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        "loadBalancerSourceRanges": ["0.0.0.0/0"],
    }
    annotations = service["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-connection-draining-enabled"] == "true"
    # An HTTP proxy, not TCP passed through: slow or silent clients hold the load balancer's
    # connections, not front's few per process; and it closes idle connections before the app does,
    # so it never sends a request on a connection the app is closing.
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-backend-protocol"] == "http"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout"] == "5"
    assert (
        annotations["service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"]
        == "project=crossmesh"
    )


@pytest.mark.parametrize("route_timeout_ms", [100, 3000, 3001, 15_000, 60_000])
def test_the_load_balancer_outwaits_fronts_longest_request_and_closes_idle_connections_first(
    route_timeout_ms: int,
) -> None:
    # Longer than front's longest request (or a slow answer is cut off with a 504), shorter than the
    # app's keep-alive (or the load balancer may send a request on a connection the app is closing).
    service = manifests.front_service(
        TOPOLOGY, source_ranges=["0.0.0.0/0"], tags={}, route_timeout_ms=route_timeout_ms
    )
    idle_ms = 1000 * int(
        service["metadata"]["annotations"][
            "service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout"
        ]
    )
    front = next(a for a in TOPOLOGY.apps if a.kind is AppKind.FRONT)
    env = env_of(
        manifests.app_env(front, TOPOLOGY, route_timeout_ms=route_timeout_ms, tracing=False, eks_name=EKS)
    )
    longest = int(env["UPSTREAM_TIMEOUT_MS"])
    keep_alive = int(env["HEADER_READ_TIMEOUT_MS"])
    assert longest < idle_ms < keep_alive
    # front takes that keep-alive (its settings' bounds)
    bounds = ServerSettings.model_fields["header_read_timeout_ms"].metadata
    assert keep_alive <= next(b.le for b in bounds if hasattr(b, "le"))


def test_colorapp_service_is_cluster_ip_over_all_versions() -> None:
    service = manifests.colorapp_service(TOPOLOGY)
    assert service["spec"] == {
        "type": "ClusterIP",
        "selector": {"app": "colorapp"},
        "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}],
    }


def test_service_account_carries_the_irsa_role_and_no_token() -> None:
    account = manifests.service_account(BLUE, TOPOLOGY, "arn:aws:iam::123456789012:role/r")
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/r"
    }
    assert account["automountServiceAccountToken"] is False
    assert "annotations" not in manifests.service_account(BLUE, TOPOLOGY, None)["metadata"]


@pytest.mark.parametrize("version", ["1.32", "1.34", "1.35"])
def test_all_app_objects_validate_strictly(version: str) -> None:
    objects = [
        manifests.namespace("appmesh-demo", {"mesh": "global"}),
        manifests.service_account(FRONT, TOPOLOGY, "arn:aws:iam::123456789012:role/r"),
        manifests.deployment(
            FRONT,
            TOPOLOGY,
            image=IMAGE,
            env=manifests.app_env(FRONT, TOPOLOGY, route_timeout_ms=3000, tracing=True, eks_name=EKS),
        ),
        manifests.front_service(TOPOLOGY, source_ranges=["203.0.113.0/24"], tags={}),
        manifests.colorapp_service(TOPOLOGY),
        manifests.pod_disruption_budget(type(BLUE)(**{**BLUE.__dict__, "replicas": 3}), TOPOLOGY),
    ]
    problems, _ = validate_objects(
        [("eksc1", o) for o in objects if o is not None], kubernetes_version=version, crds=CrdSchemas({}, {})
    )
    assert problems == []


def test_kinds_cover_both_apps() -> None:
    assert {a.kind for a in TOPOLOGY.apps} == {AppKind.FRONT, AppKind.COLORAPP}


def test_network_policies_deny_by_default_and_open_only_the_mesh_port() -> None:
    policies = {
        p["metadata"]["name"]: p["spec"]
        for p in manifests.network_policies(TOPOLOGY, "eksc2", mesh_cidrs=["172.16.0.0/16"])
    }
    assert set(policies) == {"default-deny", "allow-dns", "allow-aws-apis", "colorapp-from-the-mesh"}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert policies["colorapp-from-the-mesh"] == {
        "podSelector": {"matchLabels": {"app": "colorapp"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [{"ipBlock": {"cidr": "172.16.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 8080}]}
        ],
    }
    egress = policies["allow-dns"]["egress"]
    assert egress[0]["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert len(egress) == 1
    # Without a list of callers, every pod may call AWS APIs (App Mesh: every Envoy does).
    assert policies["allow-aws-apis"] == {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{"ports": [{"protocol": "TCP", "port": 443}]}],
    }


@pytest.mark.parametrize(
    ("cluster", "callers", "selector"),
    [
        ("eksc1", ["front"], {"matchExpressions": [{"key": "app", "operator": "In", "values": ["front"]}]}),
        ("eksc2", ["front"], None),  # no caller runs in eksc2: no HTTPS out at all
        ("eksc1", [], None),
    ],
)
def test_https_to_aws_apis_is_open_only_to_the_pods_that_call_them(
    cluster: str, callers: list[str], selector: dict[str, object] | None
) -> None:
    policies = {
        p["metadata"]["name"]: p["spec"]
        for p in manifests.network_policies(
            TOPOLOGY, cluster, mesh_cidrs=["172.16.0.0/16"], aws_callers=callers
        )
    }
    if selector is None:
        assert "allow-aws-apis" not in policies
    else:
        assert policies["allow-aws-apis"]["podSelector"] == selector


def test_front_policy_admits_the_load_balancer_and_reaches_only_the_mesh_port() -> None:
    policies = {
        p["metadata"]["name"]: p["spec"]
        for p in manifests.network_policies(TOPOLOGY, "eksc1", mesh_cidrs=["172.16.0.0/16"])
    }
    assert set(policies) == {"default-deny", "allow-dns", "allow-aws-apis", "front-ingress-and-upstream"}
    front = policies["front-ingress-and-upstream"]
    assert front["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}]
    assert front["egress"] == [
        {"to": [{"ipBlock": {"cidr": "172.16.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 8080}]}
    ]


def test_network_policies_validate() -> None:
    objects = manifests.network_policies(TOPOLOGY, "eksc1", mesh_cidrs=["172.16.0.0/16"])
    problems, _ = validate_objects(
        [("eksc1", o) for o in objects], kubernetes_version="1.34", crds=CrdSchemas({}, {})
    )
    assert problems == []
