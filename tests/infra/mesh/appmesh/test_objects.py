"""App Mesh custom resources: exact fields, and valid against the controller's CRDs."""

from __future__ import annotations

from typing import Any

import pytest

from automation.validate import CrdSchemas, validate_objects
from infra.config import RouteConfig, StackConfig
from infra.config_parse import parse_stack_file
from infra.iam import Arns
from infra.mesh.appmesh import objects
from infra.mesh.appmesh.iam import object_arn
from infra.topology import Topology, topology_of
from tests.support import REFERENCE_DIR, stack_document, three_clusters, variant

ARNS = Arns("aws", "us-east-1", "123456789012")


def arn_of(kind: str, name: str) -> str:
    return object_arn(ARNS, "global", kind, name)


def config(env: str = "appmesh", change: Any = None) -> StackConfig:
    return parse_stack_file(variant(env, change) if change else stack_document(env), env)


def all_objects(topology: Topology, route: RouteConfig | None = None) -> dict[str, list[dict[str, Any]]]:
    return {
        cluster: objects.cluster_objects(
            cluster,
            topology,
            arn_of=arn_of,
            mesh_name="global",
            egress_filter="DROP_ALL",
            route=route or RouteConfig(),
        )
        for cluster in topology.clusters
    }


DEV = topology_of(config())


def by_kind(items: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in items if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, [(o["kind"], o["metadata"]["name"]) for o in items]
    return found[0]


@pytest.mark.skipif(not REFERENCE_DIR.is_dir(), reason=f"CRD schemas not found at {REFERENCE_DIR}")
@pytest.mark.parametrize("variant_name", ["appmesh", "three-clusters", "tracing-staging"])
def test_every_object_is_valid_against_the_crds(variant_name: str) -> None:
    if variant_name == "appmesh":
        topology = DEV
    elif variant_name == "three-clusters":
        topology = topology_of(config("appmesh", three_clusters))
    else:
        topology = topology_of(config("staging"))
    crds = CrdSchemas.from_dir(REFERENCE_DIR)
    pairs = [(cluster, obj) for cluster, items in all_objects(topology).items() for obj in items]
    problems, notes = validate_objects(pairs, kubernetes_version="1.34", crds=crds)
    assert problems == []
    assert notes == []
    assert {o["kind"] for _, o in pairs} == {"Mesh", "VirtualNode", "VirtualRouter", "VirtualService"}


@pytest.mark.skipif(not REFERENCE_DIR.is_dir(), reason=f"CRD schemas not found at {REFERENCE_DIR}")
def test_crd_validation_would_catch_a_bad_weight() -> None:
    router = objects.virtual_router(DEV, arn_of=arn_of, route=RouteConfig())
    router["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"][0]["weight"] = 150
    problems, _ = validate_objects(
        [("eksc2", router)], kubernetes_version="1.34", crds=CrdSchemas.from_dir(REFERENCE_DIR)
    )
    assert [p.field for p in problems] == ["spec.routes[0].httpRoute.action.weightedTargets[0].weight"]


def test_mesh_selects_labelled_namespaces_and_drops_unknown_egress() -> None:
    assert objects.mesh("global", egress_filter="DROP_ALL") == {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "Mesh",
        "metadata": {"name": "global", "annotations": {"pulumi.com/waitFor": "jsonpath={.status.meshARN}"}},
        "spec": {
            "awsName": "global",
            "namespaceSelector": {"matchLabels": {"mesh": "global"}},
            "egressFilter": {"type": "DROP_ALL"},
        },
    }


def test_each_mesh_cluster_declares_the_mesh() -> None:
    found = all_objects(DEV)
    assert set(found) == {"eksc1", "eksc2"}
    for items in found.values():
        assert by_kind(items, "Mesh", "global")["spec"]["egressFilter"] == {"type": "DROP_ALL"}


def test_colorapp_node_discovers_by_cloud_map_with_its_color() -> None:
    node = by_kind(all_objects(DEV)["eksc2"], "VirtualNode", "colorapp-blue")
    spec = node["spec"]
    assert spec["awsName"] == "colorapp-blue_appmesh-demo"
    assert spec["podSelector"] == {"matchLabels": {"app": "colorapp", "version": "blue"}}
    assert spec["serviceDiscovery"] == {
        "awsCloudMap": {
            "namespaceName": "appmesh-demo.pvt.aws.local",
            "serviceName": "colorapp",
            "attributes": [{"key": "color", "value": "blue"}],
        }
    }
    assert "backends" not in spec
    assert node["metadata"] == {
        "name": "colorapp-blue",
        "namespace": "appmesh-demo",
        "annotations": {"pulumi.com/waitFor": "jsonpath={.status.virtualNodeARN}"},
    }


def test_listener_has_health_check_outlier_detection_pool_and_timeouts() -> None:
    node = by_kind(all_objects(DEV)["eksc2"], "VirtualNode", "colorapp-red")
    assert node["spec"]["listeners"] == [
        {
            "portMapping": {"port": 8080, "protocol": "http"},
            "healthCheck": {
                "protocol": "http",
                "path": "/healthz",
                "port": 8080,
                "healthyThreshold": 2,
                "unhealthyThreshold": 3,
                "intervalMillis": 5000,
                "timeoutMillis": 2000,
            },
            "outlierDetection": {
                "maxServerErrors": 5,
                "interval": {"unit": "s", "value": 10},
                "baseEjectionDuration": {"unit": "s", "value": 30},
                "maxEjectionPercent": 50,
            },
            "connectionPool": {"http": {"maxConnections": 256, "maxPendingRequests": 512}},
            "timeout": {
                "http": {"perRequest": {"unit": "ms", "value": 3000}, "idle": {"unit": "s", "value": 300}}
            },
        }
    ]


def test_front_reaches_the_virtual_service_in_the_other_cluster_by_computed_arn() -> None:
    node = by_kind(all_objects(DEV)["eksc1"], "VirtualNode", "front")
    assert node["spec"]["backends"] == [
        {
            "virtualService": {
                "virtualServiceARN": "arn:aws:appmesh:us-east-1:123456789012:mesh/global/virtualService/colorapp.appmesh-demo.pvt.aws.local"
            }
        }
    ]
    assert node["spec"]["serviceDiscovery"]["awsCloudMap"] == {
        "namespaceName": "appmesh-demo.pvt.aws.local",
        "serviceName": "front",
    }


def test_front_in_the_router_cluster_uses_a_reference() -> None:
    def together(c: dict[str, Any]) -> None:
        c["crossmesh:workloads"]["front"]["cluster"] = "eksc2"

    topology = topology_of(config("appmesh", together))
    node = by_kind(all_objects(topology)["eksc2"], "VirtualNode", "front")
    assert node["spec"]["backends"] == [
        {"virtualService": {"virtualServiceRef": {"name": "colorapp.appmesh-demo.pvt.aws.local"}}}
    ]


def test_router_splits_by_configured_weights_with_retries_and_timeout() -> None:
    router = by_kind(all_objects(DEV)["eksc2"], "VirtualRouter", "colorapp-router")
    assert router["spec"]["awsName"] == "colorapp-router_appmesh-demo"
    assert router["spec"]["listeners"] == [{"portMapping": {"port": 8080, "protocol": "http"}}]
    assert router["spec"]["routes"] == [
        {
            "name": "color-route",
            "httpRoute": {
                "match": {"prefix": "/"},
                "action": {
                    "weightedTargets": [
                        {"weight": 50, "virtualNodeRef": {"name": "colorapp-blue"}},
                        {"weight": 50, "virtualNodeRef": {"name": "colorapp-red"}},
                    ]
                },
                "retryPolicy": {
                    "httpRetryEvents": ["server-error", "gateway-error"],
                    "tcpRetryEvents": ["connection-error"],
                    "maxRetries": 2,
                    "perRetryTimeout": {"unit": "ms", "value": 1000},
                },
                "timeout": {"perRequest": {"unit": "ms", "value": 3000}},
            },
        }
    ]


def test_weights_and_route_policy_follow_config() -> None:
    def change(c: dict[str, Any]) -> None:
        versions = c["crossmesh:workloads"]["colorapp"]["versions"]
        versions[0]["weight"], versions[1]["weight"] = 90, 10
        c["crossmesh:mesh"]["route"] = {"timeoutMs": 5000, "maxRetries": 4, "perRetryTimeoutMs": 800}

    cfg = config("appmesh", change)
    router = objects.virtual_router(topology_of(cfg), arn_of=arn_of, route=cfg.mesh.route)
    http = router["spec"]["routes"][0]["httpRoute"]
    assert [t["weight"] for t in http["action"]["weightedTargets"]] == [90, 10]
    assert http["retryPolicy"]["maxRetries"] == 4
    assert http["retryPolicy"]["perRetryTimeout"] == {"unit": "ms", "value": 800}
    assert http["timeout"] == {"perRequest": {"unit": "ms", "value": 5000}}


def test_three_clusters_target_the_remote_color_by_arn() -> None:
    topology = topology_of(config("appmesh", three_clusters))
    found = all_objects(topology)
    assert set(found) == {"eksc1", "eksc2", "eksc3"}
    router = by_kind(found["eksc2"], "VirtualRouter", "colorapp-router")
    assert router["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"] == [
        {"weight": 50, "virtualNodeRef": {"name": "colorapp-blue"}},
        {
            "weight": 50,
            "virtualNodeARN": "arn:aws:appmesh:us-east-1:123456789012:mesh/global/virtualNode/colorapp-red_appmesh-demo",
        },
    ]
    assert [o["kind"] for o in found["eksc3"]] == ["Mesh", "VirtualNode"]
    assert [o["kind"] for o in found["eksc1"]] == ["Mesh", "VirtualNode"]


def test_virtual_service_is_named_after_the_cloud_map_dns_name() -> None:
    service = by_kind(all_objects(DEV)["eksc2"], "VirtualService", "colorapp.appmesh-demo.pvt.aws.local")
    assert service["spec"] == {
        "awsName": "colorapp.appmesh-demo.pvt.aws.local",
        "provider": {"virtualRouter": {"virtualRouterRef": {"name": "colorapp-router"}}},
    }
    # There is no selector-less placeholder Service anywhere: DNS comes from Cloud Map.
    assert all(o["kind"] != "Service" for items in all_objects(DEV).values() for o in items)


def test_namespace_labels_join_the_mesh_and_enable_injection() -> None:
    labels = objects.namespace_labels("global")
    assert labels["mesh"] == "global"
    assert labels["appmesh.k8s.aws/sidecarInjectorWebhook"] == "enabled"
    # proxyinit needs NET_ADMIN: enforce can be no stricter than privileged, audit/warn stay restricted
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
