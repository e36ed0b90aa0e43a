"""Cloud Map and App Mesh checks against moto's in-process AWS (mock_aws).

moto does not implement App Mesh virtual services, so the virtual-service check here is expected
to fail with a "not implemented" reason; test_appmesh_virtual_service.py covers its real logic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto import mock_aws

from automation.verify.backends.appmesh import (
    aws_checks,
    probe_client_node,
    probe_cloudmap,
    probe_route,
    route_weights,
)
from automation.verify.clients import AwsClients, make_aws_clients
from automation.verify.poll import PollSettings

REGION = "us-west-2"
MESH = "crossmesh"
NAMESPACE = "appmesh-demo.pvt.aws.local"
SERVICE = "colorapp"
ROUTER = "colorapp-router"
ROUTE = "color-route"
NODES = {"blue": "colorapp-blue", "red": "colorapp-red"}
VIRTUAL_SERVICE = f"colorapp.{NAMESPACE}"


@dataclass
class World:
    clients: AwsClients
    service_id: str


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(var, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        clients = make_aws_clients(REGION)
        # moto does not check that the VPC exists; skipping EC2 keeps each test fast.
        vpc = "vpc-0123456789abcdef0"
        sd = clients.servicediscovery
        sd.create_private_dns_namespace(Name=NAMESPACE, Vpc=vpc)
        namespace_id = next(n["Id"] for n in sd.list_namespaces()["Namespaces"] if n["Name"] == NAMESPACE)
        # Custom health config, as the App Mesh controller creates it, so health can be set per instance.
        service_id = sd.create_service(
            Name=SERVICE,
            NamespaceId=namespace_id,
            DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 300}]},
            HealthCheckCustomConfig={"FailureThreshold": 1},
        )["Service"]["Id"]
        yield World(clients, service_id)


def register(world: World, instance_id: str, color: str, ip: str) -> None:
    """Register a pod the way the App Mesh controller does: IP, port, node attributes, pod labels."""
    world.clients.servicediscovery.register_instance(
        ServiceId=world.service_id,
        InstanceId=instance_id,
        Attributes={
            "AWS_INSTANCE_IPV4": ip,
            "AWS_INSTANCE_PORT": "8080",
            "color": color,
            "app": "colorapp",
            "k8s.io/namespace": "appmesh-demo",
        },
    )


def build_mesh(world: World, *, weights: dict[str, int], nodes: tuple[str, ...] = ("blue", "red")) -> None:
    am = world.clients.appmesh
    am.create_mesh(meshName=MESH)
    for color in nodes:
        am.create_virtual_node(
            meshName=MESH,
            virtualNodeName=NODES[color],
            spec={
                "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}],
                "serviceDiscovery": {
                    "awsCloudMap": {
                        "namespaceName": NAMESPACE,
                        "serviceName": SERVICE,
                        "attributes": [{"key": "color", "value": color}],
                    }
                },
            },
        )
    am.create_virtual_router(
        meshName=MESH,
        virtualRouterName=ROUTER,
        spec={"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]},
    )
    am.create_route(
        meshName=MESH,
        virtualRouterName=ROUTER,
        routeName=ROUTE,
        spec={
            "httpRoute": {
                "match": {"prefix": "/"},
                "action": {
                    "weightedTargets": [{"virtualNode": NODES[c], "weight": w} for c, w in weights.items()]
                },
            }
        },
    )


def run_checks(
    world: World, clock: Any, *, weights: dict[str, int], deadline_s: float = 30
) -> dict[str, Any]:
    settings = PollSettings.starting_now(
        deadline_s, initial_backoff_s=1, max_backoff_s=4, clock=clock, sleep=clock.sleep
    )
    results = aws_checks(
        appmesh=world.clients.appmesh,
        servicediscovery=world.clients.servicediscovery,
        mesh=MESH,
        cloudmap_namespace=NAMESPACE,
        service_name=SERVICE,
        virtual_node_names=NODES,
        weights=weights,
        router=ROUTER,
        route=ROUTE,
        virtual_service=VIRTUAL_SERVICE,
        settings=settings,
    )
    return {r.name: r for r in results}


def test_healthy_deployment_passes_everything_moto_implements(aws: World, fake_clock: Any) -> None:
    build_mesh(aws, weights={"blue": 50, "red": 50})
    register(aws, "blue-1", "blue", "10.0.1.10")
    register(aws, "blue-2", "blue", "10.0.1.11")
    register(aws, "red-1", "red", "10.0.2.10")
    results = run_checks(aws, fake_clock, weights={"blue": 50, "red": 50})
    assert list(results) == [
        "appmesh mesh crossmesh",
        "appmesh virtual node colorapp-blue",
        "appmesh virtual node colorapp-red",
        "appmesh virtual router colorapp-router",
        "appmesh route colorapp-router/color-route",
        f"appmesh virtual service {VIRTUAL_SERVICE}",
        f"cloudmap colorapp.{NAMESPACE}",
    ]
    failing = {name: r.detail for name, r in results.items() if not r.ok}
    # Only the virtual service fails, and only because moto lacks it; reported, not raised, and
    # not waited on: no sleeping happened at all.
    assert list(failing) == [f"appmesh virtual service {VIRTUAL_SERVICE}"]
    assert (
        "DescribeVirtualService is not implemented by this endpoint"
        in failing[f"appmesh virtual service {VIRTUAL_SERVICE}"]
    )
    assert "not retried; 1 attempt(s)" in failing[f"appmesh virtual service {VIRTUAL_SERVICE}"]
    assert fake_clock.sleeps == []
    assert results[f"cloudmap colorapp.{NAMESPACE}"].detail == "HEALTHY instances: blue=2, red=1"
    assert (
        "weights {colorapp-blue: 50, colorapp-red: 50}"
        in results["appmesh route colorapp-router/color-route"].detail
    )


def test_cloudmap_with_only_blue_registered_fails(aws: World, fake_clock: Any) -> None:
    register(aws, "blue-1", "blue", "10.0.1.10")
    settings = PollSettings.starting_now(10, initial_backoff_s=1, clock=fake_clock, sleep=fake_clock.sleep)
    from automation.verify.poll import polled_check

    result = polled_check(
        "cloudmap",
        lambda: probe_cloudmap(
            aws.clients.servicediscovery, namespace=NAMESPACE, service=SERVICE, colors=["blue", "red"]
        ),
        settings,
    )
    assert not result.ok
    assert result.detail.startswith("no HEALTHY red instance; HEALTHY instances: blue=1, red=0")
    assert "deadline passed" in result.detail
    assert sum(fake_clock.sleeps) == 10


def test_cloudmap_unhealthy_instances_fail_and_are_explained(aws: World) -> None:
    register(aws, "blue-1", "blue", "10.0.1.10")
    register(aws, "red-1", "red", "10.0.2.10")
    register(aws, "red-2", "red", "10.0.2.11")
    sd = aws.clients.servicediscovery
    for instance in ("red-1", "red-2"):
        sd.update_instance_custom_health_status(
            ServiceId=aws.service_id, InstanceId=instance, Status="UNHEALTHY"
        )
    probe = probe_cloudmap(sd, namespace=NAMESPACE, service=SERVICE, colors=["blue", "red"])
    assert not probe.ok
    assert "red has 2 registered but not HEALTHY" in probe.detail
    # One healthy red is enough.
    sd.update_instance_custom_health_status(ServiceId=aws.service_id, InstanceId="red-2", Status="HEALTHY")
    assert probe_cloudmap(sd, namespace=NAMESPACE, service=SERVICE, colors=["blue", "red"]).ok


def test_cloudmap_registration_lag_is_waited_out(aws: World, fake_clock: Any) -> None:
    register(aws, "blue-1", "blue", "10.0.1.10")
    build_mesh(aws, weights={"blue": 50, "red": 50})
    original_sleep = fake_clock.sleep

    def sleep_then_register(seconds: float) -> None:
        original_sleep(seconds)
        if len(fake_clock.sleeps) == 2:  # the red pod registers while we wait the second time
            register(aws, "red-1", "red", "10.0.2.10")

    fake_clock.sleep = sleep_then_register
    results = run_checks(aws, fake_clock, weights={"blue": 50, "red": 50})
    cloudmap = results[f"cloudmap colorapp.{NAMESPACE}"]
    assert cloudmap.ok, cloudmap.detail
    assert fake_clock.sleeps == [1, 2]


def test_cloudmap_unknown_namespace_is_a_failed_check(aws: World) -> None:
    probe = probe_cloudmap(
        aws.clients.servicediscovery, namespace="nope.local", service=SERVICE, colors=["blue"]
    )
    assert not probe.ok
    assert "NamespaceNotFound" in probe.detail
    assert not probe.terminal  # it may still be being created


def test_route_weights_that_differ_from_config_fail(aws: World, fake_clock: Any) -> None:
    build_mesh(aws, weights={"blue": 80, "red": 20})
    results = run_checks(aws, fake_clock, weights={"blue": 50, "red": 50}, deadline_s=5)
    route = results["appmesh route colorapp-router/color-route"]
    assert not route.ok
    assert (
        "weights {colorapp-blue: 80, colorapp-red: 20} differ from config {colorapp-blue: 50, colorapp-red: 50}"
        in route.detail
    )
    assert results["appmesh mesh crossmesh"].ok
    # Matching config passes, regardless of target order.
    assert probe_route(
        aws.clients.appmesh,
        mesh=MESH,
        router=ROUTER,
        route=ROUTE,
        expected={"colorapp-red": 20, "colorapp-blue": 80},
    ).ok


def test_missing_virtual_node_fails_after_retrying(aws: World, fake_clock: Any) -> None:
    build_mesh(aws, weights={"blue": 50, "red": 50}, nodes=("blue",))
    results = run_checks(aws, fake_clock, weights={"blue": 50, "red": 50}, deadline_s=10)
    red = results["appmesh virtual node colorapp-red"]
    assert not red.ok
    assert "DescribeVirtualNode failed" in red.detail
    assert "deadline passed" in red.detail
    assert results["appmesh virtual node colorapp-blue"].ok
    assert fake_clock.sleeps  # not-found is retried: the controller may still be creating it


def test_missing_mesh_fails_every_mesh_check(aws: World, fake_clock: Any) -> None:
    results = run_checks(aws, fake_clock, weights={"blue": 50, "red": 50}, deadline_s=3)
    mesh_checks = [r for name, r in results.items() if name.startswith("appmesh")]
    assert mesh_checks
    assert not any(r.ok for r in mesh_checks)
    assert "MeshNotFound" in results["appmesh mesh crossmesh"].detail
    assert sum(fake_clock.sleeps) == 3  # one shared budget, not one per check


def test_route_weights_parsing() -> None:
    route = {
        "spec": {
            "http2Route": {
                "action": {
                    "weightedTargets": [
                        {"virtualNode": "a", "weight": 30, "port": 8080},
                        {"virtualNode": "a", "weight": 20, "port": 9090},
                        {"virtualNode": "b", "weight": 50},
                        {"virtualNode": "c", "weight": 0},
                    ]
                }
            }
        }
    }
    assert route_weights(route) == {"a": 50, "b": 50}
    assert route_weights({"spec": {}}) is None


def test_moto_server_mode_needs_no_host_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """The factory's endpoint_url mode really works against a moto server on an ephemeral port."""
    from moto.server import ThreadedMotoServer

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        clients = make_aws_clients(REGION, endpoint_url=f"http://{host}:{port}")
        assert clients.servicediscovery.meta.config.inject_host_prefix is False
        sd = clients.servicediscovery
        namespace_id = sd.create_http_namespace(Name="server.local")["OperationId"] and next(
            n["Id"] for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "server.local"
        )
        service_id = sd.create_service(Name=SERVICE, NamespaceId=namespace_id)["Service"]["Id"]
        for color in ("blue", "red"):
            sd.register_instance(ServiceId=service_id, InstanceId=f"{color}-1", Attributes={"color": color})
        probe = probe_cloudmap(sd, namespace="server.local", service=SERVICE, colors=["blue", "red"])
        assert probe.ok, probe.detail
    finally:
        server.stop()
    assert make_aws_clients(REGION).servicediscovery.meta.config.inject_host_prefix is True


def _front_node(world: World, backends: list[dict[str, Any]]) -> None:
    world.clients.appmesh.create_virtual_node(
        meshName=MESH,
        virtualNodeName="front_appmesh-demo",
        spec={"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}], "backends": backends},
    )


def test_front_node_with_the_virtual_service_as_backend_passes(aws: World, fake_clock: Any) -> None:
    build_mesh(aws, weights={"blue": 50, "red": 50})
    _front_node(aws, [{"virtualService": {"virtualServiceName": VIRTUAL_SERVICE}}])
    probe = probe_client_node(
        aws.clients.appmesh, mesh=MESH, node="front_appmesh-demo", service=VIRTUAL_SERVICE
    )
    assert probe.ok, probe.detail
    assert probe.detail == f"virtual node front_appmesh-demo is ACTIVE with backend {VIRTUAL_SERVICE}"


def test_front_node_without_the_backend_fails(aws: World, fake_clock: Any) -> None:
    build_mesh(aws, weights={"blue": 50, "red": 50})
    _front_node(aws, [{"virtualService": {"virtualServiceName": "other.example.local"}}])
    probe = probe_client_node(
        aws.clients.appmesh, mesh=MESH, node="front_appmesh-demo", service=VIRTUAL_SERVICE
    )
    assert not probe.ok
    assert probe.detail == (
        f"virtual node front_appmesh-demo has backends ['other.example.local'], want {VIRTUAL_SERVICE}"
    )


def test_missing_front_node_fails_in_the_full_run(aws: World, fake_clock: Any) -> None:
    build_mesh(aws, weights={"blue": 50, "red": 50})
    settings = PollSettings.starting_now(
        5, initial_backoff_s=1, max_backoff_s=4, clock=fake_clock, sleep=fake_clock.sleep
    )
    results = aws_checks(
        appmesh=aws.clients.appmesh,
        servicediscovery=aws.clients.servicediscovery,
        mesh=MESH,
        cloudmap_namespace=NAMESPACE,
        service_name=SERVICE,
        virtual_node_names=NODES,
        weights={"blue": 50, "red": 50},
        router=ROUTER,
        route=ROUTE,
        virtual_service=VIRTUAL_SERVICE,
        settings=settings,
        front_node="front_appmesh-demo",
    )
    front = {r.name: r for r in results}["appmesh virtual node front_appmesh-demo"]
    assert not front.ok
